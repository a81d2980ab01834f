"""What changed between two runs: models added, removed and moved, and for each model in
both, the sizes it lost and gained (set differences of the stored domains, in closed
form, with the nodes that reject the lost sizes), whether it became unproven, stopped
loading, or started failing verification.

Two domains are compared over the models' input axes, not their symbols: a symbol names
an axis (H is input:2), and a model pinned to 256 on that axis is the set where the axis
is 256. So a model replaced by a pinned variant loses every other size, and the reason
given is the pin. Each stored isl set (over v0, v1, ... in its symbols' order) is mapped
into that common space with an isl map, and the differences are exact.
"""

from __future__ import annotations

import re

import islpy as isl

from graphshape.domain.periodic import decompose_boxes, lcm
from graphshape.fleet.records import Change, ModelRow, Run, RunDiff

__all__ = ["compare", "closed_form", "MAX_BOXES", "MAX_REASONS"]

MAX_BOXES = 8  # past this a difference reads better as "... except ..."
MAX_REASONS = 3
MAX_DISAGREEMENTS = 3


def compare(a: Run, rows_a: list, b: Run, rows_b: list) -> RunDiff:
    """Run ``a`` (before) against run ``b`` (after)."""
    before = {r.path: r for r in rows_a}
    after = {r.path: r for r in rows_b}
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    moved = []
    by_hash: dict = {}
    for p in added:
        by_hash.setdefault(after[p].content_hash, []).append(p)
    for p in list(removed):
        twins = by_hash.get(before[p].content_hash)
        if twins:
            new = twins.pop(0)
            moved.append((p, new))
            removed.remove(p)
            added.remove(new)
    changed, unchanged = [], 0
    for path in sorted(set(before) & set(after)):
        change = model_change(before[path], after[path])
        if change is None:
            unchanged += 1
        else:
            changed.append(change)
    return RunDiff(a, b, added, removed, moved, changed, unchanged)


def _same(x: ModelRow, y: ModelRow) -> bool:
    return (x.content_hash == y.content_hash and x.status == y.status and x.error == y.error
            and x.domain == y.domain and x.domain_set == y.domain_set and x.exact == y.exact
            and x.inputs == y.inputs and bool(x.disagreements) == bool(y.disagreements)
            and _verdict(x) == _verdict(y))


def _verdict(r: ModelRow) -> str | None:
    return None if r.contract is None else r.contract.get("verdict")


def model_change(x: ModelRow, y: ModelRow) -> Change | None:
    """The change of one model from row ``x`` to row ``y`` (None when nothing changed)."""
    if _same(x, y):
        return None
    fields: dict = {"notes": []}
    if x.status == "ok" and y.status == "error":
        fields["stopped_loading"] = y.error
    elif x.status == "error" and y.status == "ok":
        fields["loads_again"] = True
    elif x.status != y.status:
        fields["status_changed"] = f"{x.status} -> {y.status}" + (
            f" ({y.error})" if y.error else "")
    if x.status == "ok" and y.status == "ok":
        fields.update(_domains(x, y))
        if x.exact and not y.exact:
            fields["newly_unproven"] = list(y.unproven) or ["(no reason stored)"]
        elif y.exact and not x.exact:
            fields["no_longer_unproven"] = True
        if x.not_in_closed_form != y.not_in_closed_form and (x.not_in_closed_form
                                                             or y.not_in_closed_form):
            fields["notes"].append("the conditions checked point by point changed: "
                                   + "; ".join(y.not_in_closed_form or ["none now"]))
    if y.disagreements and not x.disagreements:
        fields["newly_failing_verification"] = _disagreements(y)
    if _verdict(x) != _verdict(y) and (_verdict(x) or _verdict(y)):
        fields["contract"] = f"{_verdict(x) or 'none'} -> {_verdict(y) or 'none'}"
    return Change(path=y.path, content_changed=x.content_hash != y.content_hash,
                  before_status=x.status, after_status=y.status, before_domain=x.domain,
                  after_domain=y.domain, **fields)


def _disagreements(r: ModelRow) -> list:
    bad = r.disagreements
    out = []
    for v in bad[:MAX_DISAGREEMENTS]:
        sizes = ", ".join(f"{k}={n}" for k, n in v["sizes"].items()) or "(static)"
        out.append(f"{sizes}: predicted {v['predicted']}, onnxruntime {v['observed']}"
                   + (f" ({v['detail']})" if v.get("detail") else ""))
    if len(bad) > MAX_DISAGREEMENTS:
        out.append(f"... {len(bad) - MAX_DISAGREEMENTS} more")
    return out


# ---- domains over input axes -----------------------------------------------------------
def _domains(x: ModelRow, y: ModelRow) -> dict:
    out: dict = {}
    if x.inputs != y.inputs:
        out["inputs_changed"] = "; ".join(
            f"{n} {_dims(x.inputs.get(n))} -> {_dims(y.inputs.get(n))}"
            for n in sorted(set(x.inputs) | set(y.inputs))
            if x.inputs.get(n) != y.inputs.get(n))
    space = _axis_space(x, y)
    if space is None:
        out["notes"] = ["the inputs differ in names or ranks: sizes not compared"]
        return out
    names, map_x, map_y = space
    if not names:
        return out  # no symbolic axis on either side: nothing to compare but statuses
    a = _set(x).apply(map_x).coalesce()
    b = _set(y).apply(map_y).coalesce()
    period = lcm([x.period or 1, y.period or 1])
    lost = a.subtract(b).coalesce()
    gained = b.subtract(a).coalesce()
    if not lost.is_empty():
        out["lost"] = _difference_text(lost, a, b, names, period, "before")
        out["lost_because"] = _blame(lost, y, map_y, x)
    if not gained.is_empty():
        out["gained"] = _difference_text(gained, b, a, names, period, "now")
    return out


def _dims(dims) -> str:
    return "absent" if dims is None else "[" + ", ".join(str(d) for d in dims) + "]"


def _set(r: ModelRow):
    if r.domain_set:
        return isl.Set(r.domain_set)
    n = len(r.symbols)
    names = ", ".join(f"v{i}" for i in range(n))
    return isl.Set(f"{{ [{names}] : 1 = 0 }}")  # no set stored: no size is known valid


def _axis_space(x: ModelRow, y: ModelRow):
    """(axis names, map from x's symbols, map from y's symbols) over the input axes that
    are symbolic on either side; None when the inputs differ in names or ranks, or an input
    dim is an expression rather than a symbol or a number."""
    if set(x.inputs) != set(y.inputs):
        return None
    axes = []
    for name in sorted(x.inputs):
        dx, dy = x.inputs[name], y.inputs[name]
        if len(dx) != len(dy):
            return None
        for i, (p, q) in enumerate(zip(dx, dy)):
            if isinstance(p, str) or isinstance(q, str):
                axes.append((name, i, p, q))
    names: list = []
    for name, i, p, q in axes:
        label = p if isinstance(p, str) else q
        if label in names or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(label)):
            label = f"{name}:{i}"
        names.append(label)
    maps = []
    for row, side in ((x, 2), (y, 3)):
        syms = {s: f"v{j}" for j, s in enumerate(row.symbols)}
        eqs = []
        for k, ax in enumerate(axes):
            d = ax[side]
            if isinstance(d, int):
                eqs.append(f"a{k} = {d}")
            elif d in syms:
                eqs.append(f"a{k} = {syms[d]}")
            else:
                return None
        src = ", ".join(syms.values())
        dst = ", ".join(f"a{k}" for k in range(len(axes)))
        maps.append(isl.Map(f"{{ [{src}] -> [{dst}] : {' and '.join(eqs) or '1 = 1'} }}"))
    return names, maps[0], maps[1]


def _difference_text(diff, mine, other, names: list, period: int, when: str) -> str:
    """``diff`` = ``mine`` minus ``other`` in words; when that is no short union of boxes
    and ``other`` lies inside ``mine`` (a pin), as "every size valid <when> except ..."."""
    text = closed_form(diff, names, period)
    if text is not None:
        return text
    if other.is_subset(mine) and not other.is_empty():
        rest = closed_form(other, names, period) or _readable(other, names)
        return f"every size valid {when} except {rest}"
    return _readable(diff, names)


def _readable(s, names: list) -> str:
    """isl's text of a set over the axis space, with a0, a1, ... named."""
    text = str(s)
    for k in reversed(range(len(names))):
        text = re.sub(rf"\ba{k}\b", names[k], text)
    return text


def closed_form(s, names: list, period: int = 1) -> str | None:
    """A set over ``names`` as a union of boxes in words ("3 <= H <= 4 and any W >= 3"),
    or None when it is not a union of at most MAX_BOXES boxes."""
    if s.is_empty():
        return "no size"
    boxes = decompose_boxes(s, len(names), period)
    if boxes is None or len(boxes) > MAX_BOXES:
        return None
    texts = [" and ".join(_words(p) for p in b.describe(names, sep="; ").split("; "))
             for b in boxes]
    if len(texts) == 1:
        return texts[0]
    return " or ".join(f"({t})" for t in texts)


def _words(part: str) -> str:
    """'W >= 1' reads as 'any W', 'H = 256' stays, 'H >= 32' as 'H >= 32'."""
    m = re.fullmatch(r"(\S+) >= 1", part)
    return f"any {m[1]}" if m else part


def _blame(lost, y: ModelRow, map_y, x: ModelRow) -> list:
    """The conditions of the new domain that reject some of the lost sizes, in words;
    or the pin, when the lost sizes are lost because an axis became a number."""
    out: list = []
    for c in y.conditions:
        try:
            cs = isl.Set(c["set"]).apply(map_y)
        except isl.Error:
            continue
        if not lost.is_subset(cs) and c["where"] not in out:
            out.append(c["where"])
    pins = [f"input '{n}' is now fixed at {_dims(y.inputs[n])} (was {_dims(x.inputs[n])})"
            for n in sorted(y.inputs)
            if any(isinstance(p, str) and isinstance(q, int)
                   for p, q in zip(x.inputs.get(n, []), y.inputs[n]))]
    out = pins + out
    if len(out) > MAX_REASONS:
        out = out[:MAX_REASONS] + [f"... {len(out) - MAX_REASONS} more"]
    return out
