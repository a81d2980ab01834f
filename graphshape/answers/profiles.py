"""TensorRT optimization profiles from the domain: min/opt/max for every dynamic input.

Inside the range asked for (``--range``, else the domain's own bounds, unbounded symbols
capped at DEFAULT_MAX, batch-like ones at BATCH_MAX), the valid sizes are split into
product boxes (exactly, with isl): one profile per box, so min, opt and max are valid and
the box between them holds only... valid sizes where the box is a plain interval on every
axis. Where an axis is a lattice (H = 16k), every profile corner is valid but sizes between
the lattice points are not: the profile says so and gives the lattice. Where the symbols
are coupled in a way no box states, the profile is the largest box around ``opt`` (or the
smallest valid size) that the domain contains, grown axis by axis with exact inclusion
checks.

Formats: trtexec (--minShapes/--optShapes/--maxShapes, --profile=i before each extra
profile), Polygraphy (--trt-min-shapes/--trt-opt-shapes/--trt-max-shapes, repeated per
profile), onnxruntime's TensorRT provider options (trt_profile_min_shapes, ...; several
profiles repeat an input's name) and JSON keyed by symbol.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

from graphshape.answers.contract import STATIC_HINT, explain_json, parse
from graphshape.arith import isl as Q
from graphshape.errors import UsageError
from graphshape.runtime.verify import verify

DEFAULT_MAX = 1024  # upper end for a symbol the domain leaves unbounded
BATCH_MAX = 32  # ... for one that only sizes axis 0 of the inputs (a batch)
MAX_PROFILES = 16
SPLIT_RUNS = 4  # an axis made of at most this many runs becomes one profile per run
FORMATS = ("text", "trtexec", "polygraphy", "ort-trt", "json")


@dataclass
class Profile:
    min: dict
    opt: dict
    max: dict
    lattice: dict  # sym -> {"from", "to", "step"} or {"runs": [...]} where not an interval
    shapes: dict  # input -> {"min": [...], "opt": [...], "max": [...]}
    valid: int | None  # valid sizes inside the box
    box: int  # sizes inside the box
    note: str = ""
    factors: list = field(default_factory=list, repr=False)  # per symbol, its 1-D isl set

    def to_json(self) -> dict:
        return {"min": self.min, "opt": self.opt, "max": self.max,
                "lattice": self.lattice or None, "shapes": self.shapes,
                "valid_sizes": self.valid, "box_sizes": self.box,
                **({"note": self.note} if self.note else {})}


@dataclass
class ProfilesResult:
    model: str
    names: list
    range: dict  # sym -> [lo, hi]
    profiles: list = field(default_factory=list)
    dropped: int = 0  # boxes beyond the profile limit (the smallest ones)
    exact: bool = True
    unproven: list = field(default_factory=list)
    reason: str = ""  # when there is no profile: why
    verification: object = None

    def to_json(self) -> dict:
        out = {"model": self.model, "symbols": self.names, "range": self.range,
               "exact": self.exact, "profiles": [p.to_json() for p in self.profiles],
               "dropped_boxes": self.dropped}
        if self.unproven:
            out["unproven"] = self.unproven
        if self.reason:
            out["reason"] = self.reason
        if self.verification is not None:
            out["verification"] = self.verification.to_json()
        return out


def _batch_like(analysis, name: str) -> bool:
    seen = False
    for t in analysis.graph.inputs.values():
        for axis, d in enumerate(t.shape or ()):
            if not isinstance(d, int) and getattr(d, "name", None) == name:
                if axis != 0:
                    return False
                seen = True
    return seen


def parse_range(spec: str | None, names: list) -> dict:
    """'H in 256..1024, W = 640' -> {sym: (lo, hi)}; pins and ranges only (a box)."""
    if not spec:
        return {}
    out = {}
    for c in parse(spec, names):
        if c.kind == "same":
            raise UsageError(f"--range '{c}': a range is a box; use 'SYM in A..B' or "
                             "'SYM = INT' per symbol")
        if c.step > 1:
            raise UsageError(f"--range '{c}': steps belong to the domain, not the range")
        if c.sym in out:
            raise UsageError(f"--range names {c.sym} twice")
        out[c.sym] = (c.lo, c.hi)
    return out


def default_range(analysis, given: dict, cap: bool = True) -> dict:
    d = analysis.domain
    out = {}
    for i, n in enumerate(d.names):
        if n in given:
            out[n] = given[n]
            continue
        proj = Q.coord(d.isl_set, i)
        lo, hi = Q.vmin(proj), Q.vmax(proj)
        lo = 1 if lo is None else lo  # 0 for a size that may be empty (a KV cache)
        if hi is None and cap:
            hi = max(lo, BATCH_MAX if _batch_like(analysis, n) else DEFAULT_MAX)
        out[n] = (lo, hi)
    return out


def _box_set(n: int, rng: dict, names: list):
    conds = []
    for i, nm in enumerate(names):
        lo, hi = rng[nm]
        conds.append(f"v{i} >= {lo}")
        if hi is not None:
            conds.append(f"v{i} <= {hi}")
    return Q.where(n, " and ".join(conds) or "1 = 1")


def _interval_box(n, lo: list, hi: list):
    return Q.where(n, " and ".join(f"{a} <= v{i}" + ("" if b is None else f" <= {b}")
                                   for i, (a, b) in enumerate(zip(lo, hi))))


def _grow(V, seed: tuple, rng: list):
    """The box around ``seed`` grown axis by axis (binary search on each end) while every
    size in it stays in V."""
    n = len(seed)
    lo, hi = list(seed), list(seed)
    for i in range(n):
        for side in (1, -1):
            # furthest end e along axis i with the box still inside V
            limit = rng[i][1] if side > 0 else rng[i][0]
            if limit is None:
                limit = seed[i] + DEFAULT_MAX
            good, bad = (hi[i] if side > 0 else lo[i]), None
            step = 1
            while True:
                e = good + side * step
                if (side > 0 and e > limit) or (side < 0 and e < limit):
                    e = limit
                trial_lo, trial_hi = list(lo), list(hi)
                (trial_hi if side > 0 else trial_lo)[i] = e
                if e != good and _interval_box(n, trial_lo, trial_hi).is_subset(V):
                    good = e
                    if e == limit:
                        break
                    step *= 2
                else:
                    bad = e
                    break
            while bad is not None and abs(bad - good) > 1:
                mid = (good + bad) // 2
                trial_lo, trial_hi = list(lo), list(hi)
                (trial_hi if side > 0 else trial_lo)[i] = mid
                if _interval_box(n, trial_lo, trial_hi).is_subset(V):
                    good = mid
                else:
                    bad = mid
            if side > 0:
                hi[i] = good
            else:
                lo[i] = good
    return [Q.where(1, f"{a} <= v0 <= {b}") for a, b in zip(lo, hi)]


def _axis(f):
    """(pieces, lattice) for one box factor: pieces are 1-D sets to split on (one per run
    when an axis has a few runs), lattice the description when an axis is not an
    interval."""
    lat = Q.lattice(f)
    if lat is not None and lat["step"] == 1:
        return [f], None
    if lat is not None:
        return [f], {"from": lat["from"], "to": lat["to"], "step": lat["step"]}
    rs = Q.runs(f, limit=64)
    if rs is not None and len(rs) <= SPLIT_RUNS:
        return [Q.where(1, f"{a} <= v0 <= {b}") for a, b in rs], None
    desc = {"runs": [list(r) for r in (rs or [])[:8]],
            "runs_total": None if rs is None else len(rs)}
    return [f], desc


def _nearest_member(f, target: int) -> int:
    a, b = Q.next_at_or_below(f, target), Q.next_at_or_above(f, target)
    if a is None:
        return b
    if b is None:
        return a
    return a if target - a <= b - target else b


def profiles(analysis, range_spec: str | None = None, opt: dict | None = None,
             max_profiles: int = MAX_PROFILES, cap: bool = True) -> ProfilesResult:
    d = analysis.domain
    names = list(d.names)
    n = len(names)
    if n == 0:
        raise UsageError("the model has no symbolic dims: one static shape, no profile needed"
            + STATIC_HINT)
    opt = dict(opt or {})
    for k in opt:
        if k not in names:
            raise UsageError(f"unknown dim '{k}' in --opt; the model's symbolic dims are "
                             f"{', '.join(names)}")
    rng = default_range(analysis, parse_range(range_spec, names), cap=cap)
    res = ProfilesResult(analysis.graph.path, names, {k: list(v) for k, v in rng.items()},
                         exact=bool(d.exact))
    if not d.exact:
        first = Q.lexmin(d.isl_set)
        if first is not None:
            res.unproven = explain_json(analysis, dict(zip(names, first)))["unproven"]
    impossible = bool(getattr(d, "impossible", None))
    V = Q.where(n, "1 = 0") if impossible else d.isl_set.intersect(_box_set(n, rng, names))
    if V.is_empty():
        res.reason = "no valid size inside the range"
        return res
    bxs = Q.boxes(V)
    coupled = bxs is None
    inexact = d.point_checked() if hasattr(d, "point_checked") else \
        list(getattr(getattr(d, "solved", None), "inexact", None) or [])
    if inexact:
        res.unproven.append("conditions outside the closed form, checked point by point: "
                            + "; ".join(str(c.constraint) for c in inexact))
    opt = _full_opt(analysis, V, names, opt)
    if coupled:
        bxs = [_coupled_box(V, names, rng, opt)]
        coupling = " ".join(str(d).split())
    for fs, lat in _pieces(bxs, names):
        note = ""
        if coupled:
            note = (f"the domain couples the symbols ({coupling}), which no min/max box "
                    "states: this profile is a box grown axis by axis inside the domain; "
                    "other valid sizes lie outside it")
        p = _profile(analysis, res, V, names, fs, lat, opt, note, inexact)
        if p is not None:
            res.profiles.append(p)
    res.profiles.sort(key=lambda p: -(p.valid or 0))
    if len(res.profiles) > max_profiles:
        res.dropped = len(res.profiles) - max_profiles
        res.profiles = res.profiles[:max_profiles]
    res.profiles.sort(key=lambda p: [p.min[k] for k in names])
    if opt:  # the profile holding --opt first: TensorRT's profile 0 is the default one
        res.profiles.sort(key=lambda p: p.opt != {k: opt[k] for k in names})
    return res


def _full_opt(analysis, V, names: list, opt: dict) -> dict:
    """--opt with the symbols it leaves out filled from a valid size that agrees with it;
    OptInvalid when it is not a valid size inside the range."""
    if opt and len(opt) < len(names):
        S = V
        for k, v in opt.items():
            S = Q.fix(S, names.index(k), v)
        full = Q.lexmin(S)
        if full is not None:
            opt = dict(zip(names, full))
    if opt:
        full_opt = {nm: opt.get(nm) for nm in names}
        if any(v is None for v in full_opt.values()) or \
                not Q.point_set([full_opt[nm] for nm in names]).is_subset(V):
            probe = {nm: (v or 1) for nm, v in full_opt.items()}
            ex = explain_json(analysis, probe)
            why = "; ".join(f"{v['op']} (node '{v['node']}'): {v['reason']}"
                            for v in ex["violations"][:2]) or "outside the range"
            raise OptInvalid(f"--opt {', '.join(f'{k}={v}' for k, v in opt.items())} is not "
                             f"a valid size inside the range: {why}")
    return opt


def _coupled_box(V, names: list, rng: dict, opt: dict) -> list:
    """No box states the domain: the largest box grown from opt, else from the smallest,
    the largest and the middle valid sizes of the range."""
    if opt:
        seeds = [tuple(opt[nm] for nm in names)]
    else:
        mid = Q.where(len(names), " and ".join(
            f"{Q.var(i)} >= {(rng[nm][0] + (rng[nm][1] or rng[nm][0])) // 2}"
            for i, nm in enumerate(names)))
        seeds = [p for p in (Q.lexmin(V), Q.lexmax(V), Q.lexmin(V.intersect(mid)))
                 if p is not None]
    grown = [_grow(V, sd, [rng[nm] for nm in names]) for sd in dict.fromkeys(seeds)]
    return max(grown, key=lambda fs: Q.count(Q.product(fs)) or 0)


def _pieces(bxs: list, names: list) -> list:
    """Each box with its axes made of a few runs split apart, and its lattices."""
    pieces = []
    for fs in bxs:
        parts: list = [[]]
        lat = {}
        for nm, f in zip(names, fs):
            ps, desc = _axis(f)
            if desc is not None:
                lat[nm] = desc
            parts = [p + [q] for p in parts for q in ps]
        pieces += [(p, lat) for p in parts]
    return pieces


def _profile(analysis, res, V, names: list, fs: list, lat: dict, opt: dict, note: str,
             inexact: list):
    """The profile of one box (min, opt, max, counts), or None when a corner fails a
    condition outside the closed form (said in res.unproven)."""
    d = analysis.domain
    lo = {nm: Q.vmin(f) for nm, f in zip(names, fs)}
    hi = {nm: Q.vmax(f) for nm, f in zip(names, fs)}
    box = Q.product(fs)
    inside = opt and Q.point_set([opt[k] for k in names]).is_subset(box)
    if inside:
        o = {k: opt[k] for k in names}
    else:  # the member nearest the middle (the smallest where there is no upper end)
        o = {nm: lo[nm] if hi[nm] is None else _nearest_member(f, (lo[nm] + hi[nm]) // 2)
             for nm, f in zip(names, fs)}
    ibox = _interval_box(len(names), [lo[k] for k in names], [hi[k] for k in names])
    valid = Q.count(V.intersect(ibox))
    total = Q.count(ibox)
    if inexact:
        # conditions outside the closed form: the box counts only when every size in
        # it is checked (few enough), and its corners and opt must pass them
        pts = corners_of(lo, o, hi, names)
        if not all(d.contains(q) for q in pts):
            res.unproven.append(f"a box from {lo} to {hi} left out: a corner fails a "
                                "condition outside the closed form")
            return None
        bad = _failing_points(d, box, names, total)
        if bad is None:
            res.exact = False
            note = (note + "; " if note else "") + (
                "not every size in the box is checked against the conditions outside "
                "the closed form (too many)")
        elif bad:
            valid -= bad
    return Profile(lo, o, hi, lat, _shapes(analysis, lo, o, hi), valid, total, note, list(fs))


POINT_LIMIT = 20_000


def corners_of(lo, o, hi, names) -> list:
    pts = [dict(zip(names, c)) for c in itertools.product(*[(lo[k], hi[k]) for k in names])
           if None not in c]
    return pts + [dict(o)]


def _failing_points(d, box, names, total) -> int | None:
    """How many sizes of a box fail the conditions outside the closed form (None: too many
    to check one by one)."""
    checked = d.checked_points() if hasattr(d, "checked_points") else None
    if checked is not None:  # only the float32 band needs a look (float_eval)
        box = box.intersect(checked)
        total = Q.count(box)
    if total is None or total > POINT_LIMIT:
        return None
    pts = []
    box.foreach_point(lambda p: pts.append(dict(zip(names, Q.coords(p, len(names))))))
    return sum(1 for q in pts if not d.contains(q))


class OptInvalid(UsageError):
    """--opt names a size that is not valid: exit 1 with the node that rejects it."""

    exit_code = 1


def _shapes(analysis, lo, o, hi) -> dict:
    out = {}
    at = {k: analysis.input_shapes_at(v) if None not in v.values() else None
          for k, v in (("min", lo), ("opt", o), ("max", hi))}
    for name, t in analysis.graph.inputs.items():
        if all(isinstance(x, int) for x in (t.shape or ())):
            continue  # a static input needs no profile entry
        out[name] = {k: None if at[k] is None else [int(x) for x in at[k][name]] for k in at}
    return out


# ---- output formats ------------------------------------------------------------------------
def _dims(shape, sep="x") -> str:
    return sep.join(str(x) for x in shape)


def _q(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'" if any(c in s for c in " :,'\"[]$") else s


def trtexec(res: ProfilesResult) -> str:
    parts = [f"trtexec --onnx={_q(res.model or 'model.onnx')}"]
    for i, p in enumerate(res.profiles):
        if len(res.profiles) > 1:
            parts.append(f"--profile={i}")
        for kind, flag in (("min", "--minShapes"), ("opt", "--optShapes"),
                           ("max", "--maxShapes")):
            spec = ",".join(f"{_trt_name(nm)}:{_dims(s[kind])}" for nm, s in p.shapes.items())
            parts.append(f"{flag}={_q(spec)}" if any(c in spec for c in " '\"$") else
                         f"{flag}={spec}")
    return " \\\n  ".join(parts)


def _trt_name(name: str) -> str:
    # trtexec splits specs on ':' and ','; names holding them are single-quoted
    return f"'{name}'" if any(c in name for c in ":,") else name


def polygraphy(res: ProfilesResult) -> str:
    parts = [f"polygraphy run {_q(res.model or 'model.onnx')} --trt"]
    for p in res.profiles:
        for kind, flag in (("min", "--trt-min-shapes"), ("opt", "--trt-opt-shapes"),
                           ("max", "--trt-max-shapes")):
            specs = " ".join(_q(f"{nm}:[{_dims(s[kind], ',')}]") for nm, s in p.shapes.items())
            parts.append(f"{flag} {specs}")
    return " \\\n  ".join(parts)


def ort_trt_options(res: ProfilesResult) -> dict:
    out = {}
    for kind in ("min", "opt", "max"):
        out[f"trt_profile_{kind}_shapes"] = ",".join(
            f"{nm}:{_dims(s[kind])}" for p in res.profiles for nm, s in p.shapes.items())
    return out


def ort_trt(res: ProfilesResult) -> str:
    opts = ort_trt_options(res)
    body = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in opts.items())
    return ("# onnxruntime TensorRT execution provider options"
            + (f" ({len(res.profiles)} profiles: each input's name repeats once per profile)"
               if len(res.profiles) > 1 else "") + "\n"
            "providers = [(\"TensorrtExecutionProvider\", {\n" + body + ",\n}), "
            "\"CUDAExecutionProvider\", \"CPUExecutionProvider\"]")


def text(res: ProfilesResult) -> str:
    rng = ", ".join(f"{k} in {lo}..{'' if hi is None else hi}" for k, (lo, hi) in
                    res.range.items())
    lines = [f"range: {rng}"]
    if not res.profiles:
        lines.append(f"no profile: {res.reason}")
        return "\n".join(lines)
    for i, p in enumerate(res.profiles):
        lines.append(f"profile {i}: " + "; ".join(
            f"{k} min {p.min[k]} opt {p.opt[k]} max {p.max[k]}" for k in res.names))
        cover = f"{p.valid:,} of {p.box:,}" if p.valid is not None else "?"
        lines.append(f"  valid sizes in the box: {cover}")
        for k, lat in (p.lattice or {}).items():
            if "step" in lat:
                off = lat["from"] % lat["step"]
                form = f"{lat['step']}k" + (f" + {off}" if off else "")
                lines.append(f"  {k} is a lattice: {k} = {form} ({lat['from']}, "
                             f"{lat['from'] + lat['step']}, ... {lat['to']}); sizes between "
                             "its points fail at run time")
            else:
                shown = ", ".join(f"{a}..{b}" for a, b in lat["runs"])
                more = "" if lat["runs_total"] and lat["runs_total"] <= len(lat["runs"]) \
                    else ", ..."
                lines.append(f"  {k} is valid only in runs: {shown}{more}; sizes between "
                             "them fail at run time")
        if p.note:
            lines.append(f"  note: {p.note}")
    if res.dropped:
        lines.append(f"({res.dropped} smaller boxes left out; --max-profiles raises the limit)")
    if not res.exact:
        lines.append("unproven: " + "; ".join(res.unproven[:3]))
    lines.append("")
    lines.append(trtexec(res))
    return "\n".join(lines)


def render(res: ProfilesResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(res.to_json(), indent=2)
    if not res.profiles and fmt != "text":
        return f"# no profile: {res.reason}"
    return {"text": text, "trtexec": trtexec, "polygraphy": polygraphy,
            "ort-trt": ort_trt}[fmt](res)


def corners(res: ProfilesResult) -> list:
    """Every corner of every profile plus its opt (what --verify runs)."""

    pts, seen = [], set()
    for p in res.profiles:
        for combo in itertools.product(*[(p.min[k], p.max[k]) for k in res.names]):
            pt = dict(zip(res.names, combo))
            key = tuple(combo)
            if key not in seen:
                seen.add(key)
                pts.append(pt)
        key = tuple(p.opt[k] for k in res.names)
        if key not in seen:
            seen.add(key)
            pts.append(dict(p.opt))
    return pts


def verify_profiles(analysis, res: ProfilesResult, **kw):
    rep = verify(analysis, corners(res), **kw)
    res.verification = rep
    return rep
