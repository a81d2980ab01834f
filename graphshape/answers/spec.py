"""Specs for the tools around a model, from its proved domain.

  torch   torch.export ``dynamic_shapes``: one Dim per symbol with min/max, a derived dim
          ``16*_H`` (+ offset) where the domain is a lattice; positional (one dict per
          input, in the model's input order), ready for torch.export.export or
          torch.onnx.export(dynamo=True). Where the domain is a union of boxes or a
          non-progression, the spec states the one box (and sub-lattice) holding the export
          size: every size it admits is valid, and it says what it leaves out.
  static  the valid fixed size nearest the export size (graphshape.fit's best suggestion),
          with onnxruntime's make_dynamic_shape_fixed command line per input
  json    every condition with its provenance (node, op, reason), the closed form, and the
          box the torch spec uses
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

from graphshape.answers.contract import STATIC_HINT, explain_json
from graphshape.answers.fit import fit
from graphshape.answers.profiles import profiles
from graphshape.arith import isl as Q
from graphshape.errors import UsageError

TARGETS = ("torch", "static", "json")
MAX_STEP = 256  # steps tried when a symbol's valid sizes are not one progression
UNBOUNDED_STEP = 64  # ... when looking for an unbounded one anywhere (p residues each)


@dataclass
class DimSpec:
    name: str
    lo: int
    hi: int | None  # None: no upper end
    step: int = 1  # > 1: derived dim  step*_name + offset
    offset: int = 0

    def root_range(self) -> tuple:
        if self.step == 1:
            return self.lo, self.hi
        k_lo = (self.lo - self.offset) // self.step
        k_hi = None if self.hi is None else (self.hi - self.offset) // self.step
        return k_lo, k_hi

    def to_json(self) -> dict:
        return {"min": self.lo, "max": self.hi, "step": self.step, "offset": self.offset}


@dataclass
class TorchSpec:
    dims: dict  # sym -> DimSpec
    inputs: list  # [(input name, {axis: sym})]
    notes: list = field(default_factory=list)
    exact: bool = True  # the spec admits every valid size (False: a sound sub-box)
    proven: bool = True  # every size the spec admits is proved valid

    def code(self) -> str:
        lines = ["from torch.export import Dim", ""]
        for n, d in self.dims.items():
            lo, hi = d.root_range()
            rng = f"min={lo}" + ("" if hi is None else f", max={hi}")
            if d.step == 1:
                lines.append(f"{n} = Dim({n!r}, {rng})")
            else:
                root = f"_{n}"
                expr = f"{d.step} * {root}" + (f" + {d.offset}" if d.offset else "")
                lines.append(f"{root} = Dim({root!r}, {rng})")
                seq = ", ".join(str(d.offset + d.step * k) for k in range(lo, lo + 3))
                lines.append(f"{n} = {expr}  # {n} in {seq}, ..."
                             + ("" if d.hi is None else f" {d.hi}"))
        lines.append("")
        entries = []
        for name, axes in self.inputs:
            body = ", ".join(f"{a}: {s}" for a, s in axes.items())
            entries.append(f"    {{{body}}},  # {name}")
        lines.append("# positional: one entry per model input, in order; torch.export "
                     "specialises an axis whose example size is 0 or 1, so export with "
                     "examples of size >= 2 on the dynamic axes")
        lines.append("dynamic_shapes = (\n" + "\n".join(entries) + "\n)")
        for note in self.notes:
            lines.append(f"# note: {note}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"dims": {n: d.to_json() for n, d in self.dims.items()},
                "dynamic_shapes": {name: {str(a): s for a, s in axes.items()}
                                   for name, axes in self.inputs},
                "exact": self.exact, "proven": self.proven, "notes": self.notes}


def _progression(f, anchor: int, must_hold: bool = True):
    """An arithmetic progression inside the 1-D set f: f itself when it is one; else the
    longest one through ``anchor`` (an unbounded one wins, then the smallest step); without
    ``must_hold``, an unbounded one anywhere in f is preferred (the smallest step, a
    multiple of it where there is one). (lo, hi or None, step)."""
    lat = Q.lattice(f)
    if lat is not None:
        return lat["from"], lat["to"], lat["step"]
    least = 0 if Q.vmin(f) == 0 else 1  # a size that may be empty (torch: Dim(min=0))
    if not must_hold and Q.vmax(f) is None:
        for p in range(1, UNBOUNDED_STEP + 1):
            found = []
            for r in range(p):
                cls = Q.where(1, f"v0 >= {least} and (v0 - {r}) mod {p} = 0")
                out = cls.subtract(f)
                if Q.vmax(out) is None and not out.is_empty():
                    continue  # infinitely many of the class are missing
                start = Q.vmin(Q.at_least(cls, 0, (Q.vmax(out) or 0) + 1))
                found.append((r != 0, start))
            if found:
                _, start = min(found)
                return start, None, p
    best = None
    for p in range(1, MAX_STEP + 1):
        r = anchor % p
        cls = Q.where(1, f"v0 >= {least} and (v0 - {r}) mod {p} = 0")
        outside = cls.subtract(f)
        below = Q.vmax(Q.at_most(outside, 0, anchor - 1))
        above = Q.vmin(Q.at_least(outside, 0, anchor + 1))
        lo = below + p if below is not None else (r if r > 0 else p)
        hi = None if above is None else above - p
        size = float("inf") if hi is None else (hi - lo) // p + 1
        if best is None or size > best[0]:
            best = (size, lo, hi, p)
        if hi is None:
            break
    return best[1], best[2], best[3]


def torch_spec(analysis, sizes: dict | None = None) -> TorchSpec:
    d = analysis.domain
    names = list(d.names)
    if not names:
        raise UsageError("the model has no symbolic dims: nothing is dynamic"
            + STATIC_HINT)
    anchor_note = None
    if sizes:
        fr = fit(analysis, sizes, "any")
        if not fr.suggestions:
            raise NoValidSize("no valid size near " + ", ".join(
                f"{k}={v}" for k, v in sizes.items()))
        if fr.suggestions[0].policy != "as-is":
            best = fr.suggestions[0]
            anchor_note = (f"{', '.join(f'{k}={v}' for k, v in sizes.items())} is not valid "
                           f"({best.reason}); the spec is built around the nearest valid "
                           f"size, {', '.join(f'{k}={v}' for k, v in best.sizes.items())} "
                           f"({best.policy})")
            sizes = best.sizes
    res = profiles(analysis, None, opt=sizes or None, max_profiles=64, cap=False)
    if not res.profiles:
        raise NoValidSize(f"no valid size: {res.reason}")
    prof = res.profiles[0]  # the one holding --size when given (profiles() orders it first)
    notes = [anchor_note] if anchor_note else []
    exact = len(res.profiles) == 1 and not res.dropped and not prof.note
    if len(res.profiles) > 1:
        notes.append(f"the domain is a union of {len(res.profiles)} boxes; torch.export "
                     "takes one range per dim, so this spec states the box holding "
                     + ("the requested size" if sizes else "the smallest sizes")
                     + ": run `graphshape profiles` for all of them")
    if prof.note:
        notes.append(prof.note)
    anchor = prof.opt
    dims = {}
    # one progression inside each factor of the profile's box: their product lies inside
    # the box, and the box inside the domain (profiles() builds it so)
    for i, n in enumerate(names):
        f = prof.factors[i]
        lo, hi, step = _progression(f, anchor[n], must_hold=bool(sizes))
        if not Q.where(1, f"{lo} <= v0" + (f" <= {hi}" if hi is not None else "")
                       + f" and (v0 - {lo}) mod {step} = 0").is_subset(f):
            raise RuntimeError("internal: progression not inside the domain")
        full = Q.lattice(f)
        if full is None or (full["from"], full["to"], full["step"]) != (lo, hi, step):
            exact = False
            notes.append(f"{n}: the valid sizes are not one progression; the spec keeps "
                         f"{n} = {step}k" + (f" + {lo % step}" if lo % step else "")
                         + f" from {lo}" + ("" if hi is None else f" to {hi}")
                         + f", which holds {anchor[n]}")
        dims[n] = DimSpec(n, lo, hi, step, lo % step if step > 1 else 0)
    # the spec's sizes must all be valid: its product inside the profile's box (cheap; the
    # box is a product of the same factors)
    box = Q.product([Q.where(1, f"{x.lo} <= v0" + (f" <= {x.hi}" if x.hi is not None else "")
                             + (f" and (v0 - {x.lo}) mod {x.step} = 0" if x.step > 1 else ""))
                     for x in dims.values()])
    if not box.is_subset(Q.product(prof.factors)):
        raise RuntimeError("internal: the torch spec admits an invalid size")
    inexact = d.point_checked() if hasattr(d, "point_checked") else \
        list(getattr(getattr(d, "solved", None), "inexact", None) or [])
    if inexact:
        notes.append("unproven: conditions outside the closed form are not checked for every "
                     "size the spec admits: " + "; ".join(str(c.constraint) for c in inexact))
    inputs = []
    for name, t in analysis.graph.inputs.items():
        axes = {a: x.name for a, x in enumerate(t.shape or ())
                if not isinstance(x, int) and getattr(x, "name", None) in dims}
        inputs.append((name, axes))
    if not d.exact:
        notes.append("unproven: " + "; ".join(res.unproven[:2]))
    return TorchSpec(dims, inputs, notes, exact and d.exact and not inexact,
                     bool(d.exact) and not inexact)


class NoValidSize(UsageError):
    exit_code = 1


@dataclass
class StaticSpec:
    sizes: dict
    request: dict | None
    policy: str
    verdict: str
    shapes: dict  # input -> fixed shape
    commands: list
    reason: str = ""

    def to_json(self) -> dict:
        return {"sizes": self.sizes, "request": self.request, "policy": self.policy,
                "verdict": self.verdict, "input_shapes": self.shapes,
                "commands": self.commands, "reason": self.reason}

    def text(self) -> str:
        fixed = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        lines = [f"fixed size: {fixed} ({self.verdict}; {self.policy})"]
        if self.reason:
            lines.append(f"  because {self.reason}")
        for name, shp in self.shapes.items():
            lines.append(f"  input {name}: {shp}")
        lines.append("")
        lines += self.commands
        return "\n".join(lines)


def static_spec(analysis, sizes: dict | None, model_path: str,
                out_path: str | None = None) -> StaticSpec:
    d = analysis.domain
    names = list(d.names)
    if not names:
        raise UsageError("the model has no symbolic dims: it is static already"
            + STATIC_HINT)
    if sizes:
        res = fit(analysis, sizes, "any")
        if not res.suggestions:
            raise NoValidSize("no valid fixed size for "
                              + ", ".join(f"{k}={v}" for k, v in sizes.items()) + ": "
                              + "; ".join(i["reason"] for i in res.impossible))
        best = res.suggestions[0]
        chosen, policy = best.sizes, best.policy
        why = best.reason if policy != "as-is" else ""
    else:
        first = Q.lexmin(d.isl_set) if not getattr(d, "impossible", None) else None
        if first is None:
            raise NoValidSize("no size is valid for this model")
        chosen, why = dict(zip(names, first)), ""
        policy = "smallest valid (give --size for the export size)"
    verdict = explain_json(analysis, chosen)["verdict"]
    shapes = {}
    for name, shp in analysis.input_shapes_at(chosen).items():
        t = analysis.graph.inputs[name]
        if any(not isinstance(x, int) for x in (t.shape or ())):
            shapes[name] = [int(x) for x in shp]
    out = out_path or _fixed_name(model_path)
    cmds, src = [], model_path
    for name, shp in shapes.items():
        cmds.append(" ".join(["python -m onnxruntime.tools.make_dynamic_shape_fixed",
                              "--input_name", shlex.quote(name), "--input_shape",
                              ",".join(map(str, shp)), shlex.quote(src), shlex.quote(out)]))
        src = out
    return StaticSpec(chosen, dict(sizes) if sizes else None, policy, verdict, shapes,
                      cmds, why)


def _fixed_name(path: str) -> str:
    return path[:-5] + ".fixed.onnx" if path.endswith(".onnx") else path + ".fixed.onnx"


def json_spec(analysis) -> dict:
    d = analysis.domain
    try:
        ts = torch_spec(analysis).to_json() if d.names else None
    except UsageError:
        ts = None
    return {"symbols": list(d.names), "closed_form": str(d), "exact": bool(d.exact),
            "constraints": analysis.constraints_table(), "torch": ts}


def render_json(obj) -> str:
    return json.dumps(obj, indent=2, default=str)
