"""The nearest valid size: what to feed a model when the size you have is not valid.

Policies (sizes given for some symbols; the others are free and take their smallest value
that keeps the suggestion valid):
  pad     the valid size at or above the request on every axis with the fewest elements
          (a letterbox: the pad per side, centred or bottom-right), overhead = extra %
  crop    the valid size at or below the request on every axis with the most elements,
          overhead = elements lost %; where the request exceeds an upper bound, also
          windows of that size with a stride that cover the request (sliding windows)
  resize  scale the last two requested axes (one, when only one is requested) to a valid
          size: aspect ratio kept within 1% when any valid size allows it, nearest in area
  any     all of the above, ranked by overhead
Every search is exact over the isl set of the domain (lexmin/lexmax with bounds, never an
enumeration of the sizes), and every suggestion is checked with Domain.check before it is
offered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from graphshape.answers.contract import STATIC_HINT, explain_json
from graphshape.arith import isl as Q
from graphshape.arith.terms import lower_bound
from graphshape.errors import UsageError
from graphshape.results import Verdict

POLICIES = ("pad", "crop", "resize", "any")
PLACEMENTS = ("center", "bottom-right")
ASPECT_TOL = 0.01  # relative aspect change accepted before area decides (resize)
MAX_STEPS = 4000  # isl queries one search may spend before it settles for the best found


@dataclass
class Suggestion:
    policy: str  # as-is / pad / crop / window / resize
    sizes: dict  # every symbol
    overhead: float  # percent (see module doc)
    reason: str
    node: str | None = None
    verdict: str = "valid"
    pad: dict | None = None  # sym -> {"before", "after"}
    crop: dict | None = None  # sym -> {"before", "after"} (removed)
    windows: dict | None = None  # sym -> {"count", "size", "stride", "last_start"}
    resize: dict | None = None  # {"scale": {sym: factor}, "aspect_change": percent}
    optimal: bool = True  # False: the search stopped at MAX_STEPS (best found so far)

    def to_json(self) -> dict:
        out = {"policy": self.policy, "sizes": self.sizes, "overhead": self.overhead,
               "reason": self.reason, "node": self.node, "verdict": self.verdict}
        for k in ("pad", "crop", "windows", "resize"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        if not self.optimal:
            out["optimal"] = False
        return out


@dataclass
class FitResult:
    request: dict
    verdict: str  # the request's own verdict
    violations: list  # why the request is invalid
    suggestions: list = field(default_factory=list)
    impossible: list = field(default_factory=list)  # {"policy", "reason"}
    policy: str = "any"

    @property
    def ok(self) -> bool:
        return bool(self.suggestions)

    @property
    def proven(self) -> bool:
        return all(s.verdict == Verdict.VALID for s in self.suggestions)

    def to_json(self) -> dict:
        return {"request": self.request, "verdict": self.verdict,
                "violations": self.violations, "policy": self.policy,
                "suggestions": [s.to_json() for s in self.suggestions],
                "impossible": self.impossible}

    def text(self) -> str:
        req = _fmt(self.request)
        lines = [f"request {req}: {self.verdict}" + (
            ", forced to change by:" if self.violations else "")]
        for v in self.violations[:3]:
            lines.append(f"  {v['op']} (node '{v['node']}'): {v['reason']}")
        if len(self.violations) > 3:
            lines.append(f"  ... and {len(self.violations) - 3} more conditions")
        for i, s in enumerate(self.suggestions, 1):
            lines.append(f"{i}. {_describe(s, self.request)}")
        for imp in self.impossible:
            lines.append(f"no {imp['policy']}: {imp['reason']}")
        if not self.suggestions:
            lines.append("no valid size for this request under policy " + self.policy)
        return "\n".join(lines)


def _fmt(sizes: dict) -> str:
    return "x".join(str(v) for v in sizes.values()) + " (" + ", ".join(
        f"{k}={v}" for k, v in sizes.items()) + ")"


def _pct(x: float) -> str:
    return f"{x:.2f}%"


def _describe(s: Suggestion, req: dict) -> str:
    got = {k: s.sizes[k] for k in req}
    extra = {k: v for k, v in s.sizes.items() if k not in req}
    tail = (" [" + ", ".join(f"{k}={v}" for k, v in extra.items()) + "]") if extra else ""
    if s.policy == "as-is":
        return f"as is: {_fmt(got)} is {s.verdict}{tail}" + (
            f"\n     {s.reason}" if s.verdict != Verdict.VALID else "")
    head = {"pad": "pad to", "crop": "crop to", "resize": "resize to",
            "window": "windows of"}[s.policy]
    text = f"{head} {_fmt(got)}{tail}"
    if s.pad:
        text += ": " + ", ".join(f"{k} +{p['before'] + p['after']} ({p['before']} before, "
                                 f"{p['after']} after)" for k, p in s.pad.items()
                                 if p["before"] + p["after"])
        text += f"; {_pct(s.overhead)} more elements"
    elif s.crop:
        text += ": " + ", ".join(f"{k} -{p['before'] + p['after']} ({p['before']} before, "
                                 f"{p['after']} after)" for k, p in s.crop.items()
                                 if p["before"] + p["after"])
        text += f"; {_pct(s.overhead)} of the elements dropped"
    elif s.windows:
        text += ": " + ", ".join(
            f"{k}: {w['count']} windows, stride {w['stride']} (last at {w['last_start']})"
            for k, w in s.windows.items() if w["count"] > 1)
        text += f"; {_pct(s.overhead)} more elements computed"
    elif s.resize:
        text += ": scale " + ", ".join(f"{k} x{f:.4f}" for k, f in s.resize["scale"].items())
        text += (f"; aspect ratio changes {_pct(s.resize['aspect_change'])}, "
                 f"area {s.overhead:+.2f}%")
    if s.verdict != Verdict.VALID:
        text += f" ({s.verdict})"
    if not s.optimal:
        text += " (best found within the search limit)"
    return text  # the reason is the request's (printed once, above the suggestions)


# ---- the searches -------------------------------------------------------------------------
class _Budget:
    def __init__(self, n=MAX_STEPS):
        self.left = n
        self.hit = False

    def spend(self) -> bool:
        self.left -= 1
        if self.left < 0:
            self.hit = True
        return self.left >= 0


def _extreme_product(S, k: int, r: list, minimize: bool, accept, budget):
    """The point of S (k coordinates) with the smallest (largest) product of coordinates,
    given every coordinate j of S is >= r[j] (<= r[j]). Coordinates are fixed one at a time
    in increasing (decreasing) order; a branch stops once even its bound cannot beat the
    best: exact unless the budget runs out. ``accept`` rejects points outside the parts of
    the domain not in closed form."""
    best = [None, None]

    def better(p):
        return best[1] is None or (p < best[1] if minimize else p > best[1])

    def rec(S, i, prefix, pp):
        proj = Q.coord(S, i)
        rest = math.prod(r[i + 1:])
        v = Q.vmin(proj) if minimize else Q.vmax(proj)
        while v is not None and budget.spend():
            bound = pp * v * rest
            if best[1] is not None and not (bound < best[1] if minimize else bound > best[1]):
                return
            sub = Q.fix(S, i, v)
            if i == k - 1:
                pt = prefix + (v,)
                if better(pp * v) and accept(pt):
                    best[0], best[1] = pt, pp * v
                    return
                if best[0] is not None and best[0] == pt:
                    return
            else:
                rec(sub, i + 1, prefix + (v,), pp * v)
            v = Q.vmin(Q.at_least(proj, 0, v + 1)) if minimize else \
                Q.vmax(Q.at_most(proj, 0, v - 1))

    rec(S, 0, (), 1)
    return best[0]


def _place(diff: int, placement: str) -> dict:
    if placement == "center":
        return {"before": diff // 2, "after": diff - diff // 2}
    return {"before": 0, "after": diff}


class _Fitter:
    def __init__(self, analysis, request: dict, placement: str):
        d = analysis.domain
        self.a, self.d = analysis, d
        self.names = list(d.names)
        if not self.names:
            raise UsageError("the model has no symbolic dims: every run uses one fixed size"
            + STATIC_HINT)
        if not request:
            raise UsageError("fit needs at least one --size NAME=INT")
        for k, v in request.items():
            if k not in self.names:
                raise UsageError(f"unknown dim '{k}'; the model's symbolic dims are "
                                 f"{', '.join(self.names)}")
            least = lower_bound(d.symbols[self.names.index(k)])  # 0: a size that may be empty
            if isinstance(v, bool) or not isinstance(v, int) or v < least:
                raise UsageError(f"size {k}={v!r} must be an integer >= {least}")
        if placement not in PLACEMENTS:
            raise UsageError(f"unknown placement '{placement}' (one of {', '.join(PLACEMENTS)})")
        self.placement = placement
        self.req_names = [n for n in self.names if n in request]  # domain order
        self.request = {n: request[n] for n in self.req_names}
        self.r = [self.request[n] for n in self.req_names]
        self.idx = [self.names.index(n) for n in self.req_names]
        self.k = len(self.idx)
        impossible = bool(getattr(d, "impossible", None))
        self.P = d.isl_set if not impossible else Q.where(len(self.names), "1 = 0")
        self.P = Q.keep(self.P, self.idx)  # requested coordinates only
        self.inexact = bool(getattr(getattr(d, "solved", None), "inexact", None)) or \
            getattr(getattr(d, "solved", None), "floats", None) is not None

    # a requested point -> a full point (free symbols at their smallest fitting value)
    def complete(self, pt: tuple) -> dict | None:
        S = self.d.isl_set
        for i, v in zip(self.idx, pt):
            S = Q.fix(S, i, v)
        full = Q.lexmin(S)
        if full is None:
            return None
        return dict(zip(self.names, full))

    def accept(self, pt: tuple) -> bool:
        if not self.inexact:
            return True
        full = self.complete(pt)
        return full is not None and self.d.contains(full)

    def verdict(self, sizes: dict) -> str:
        return str(self.d.check(sizes))

    # ---- policies ---------------------------------------------------------------------
    def pad(self):
        S = self.P
        for j, v in enumerate(self.r):
            S = Q.at_least(S, j, v)
        if S.is_empty():
            return None, "no valid size is at or above the request on every axis"
        b = _Budget()
        pt = _extreme_product(S, self.k, self.r, True, self.accept, b)
        if pt is None:
            return None, "no valid size at or above the request passes every condition"
        full = self.complete(pt)
        pads = {n: _place(v - r, self.placement) for n, v, r in zip(self.req_names, pt, self.r)}
        over = 100.0 * (math.prod(pt) / max(1, math.prod(self.r)) - 1)
        return Suggestion("pad", full, round(over, 4), "", pad=pads,
                          verdict=self.verdict(full), optimal=not b.hit), None

    def crop(self):
        S = self.P
        for j, v in enumerate(self.r):
            S = Q.at_most(S, j, v)
        if S.is_empty():
            return None, "no valid size is at or below the request on every axis"
        b = _Budget()
        pt = _extreme_product(S, self.k, self.r, False, self.accept, b)
        if pt is None:
            return None, "no valid size at or below the request passes every condition"
        full = self.complete(pt)
        crops = {n: _place(r - v, self.placement) for n, v, r in zip(self.req_names, pt, self.r)}
        lost = 100.0 * (1 - math.prod(pt) / max(1, math.prod(self.r)))
        return Suggestion("crop", full, round(lost, 4), "", crop=crops,
                          verdict=self.verdict(full), optimal=not b.hit), None

    def windows(self, crop: Suggestion):
        """Windows of the crop size, sliding with a stride, that cover the request."""
        ws, computed = {}, 1
        for n, r in zip(self.req_names, self.r):
            c = crop.sizes[n]
            cnt = 1 if c >= r else -(-(r - c) // c) + 1
            stride = 0 if cnt == 1 else -(-(r - c) // (cnt - 1))
            ws[n] = {"count": cnt, "size": c, "stride": stride, "last_start": r - c}
            computed *= cnt * c
        if all(w["count"] == 1 for w in ws.values()):
            return None
        over = 100.0 * (computed / max(1, math.prod(self.r)) - 1)
        return Suggestion("window", dict(crop.sizes), round(over, 4), "", windows=ws,
                          verdict=crop.verdict, optimal=crop.optimal)

    def resize(self):
        held = self.req_names[:-2]
        moving = self.req_names[-2:]
        if any(self.request[n] == 0 for n in moving):
            return None, "an empty axis cannot be resized"
        S = self.P
        for j, n in enumerate(self.req_names):
            if n in held:
                S = Q.fix(S, j, self.request[n])
        if S.is_empty():
            return None, (f"no valid size keeps {', '.join(held)} as requested"
                          if held else "no valid size")
        S = Q.keep(S, [self.req_names.index(n) for n in moving])
        r = [self.request[n] for n in moving]
        b = _Budget()
        best = _resize_search(S, r, self.accept_moving(held, moving), b)
        if best is None:
            return None, "no valid size"
        pt_moving, aspect = best
        pt = tuple(self.request[n] if n in held else pt_moving[moving.index(n)]
                   for n in self.req_names)
        full = self.complete(pt)
        area = 100.0 * (math.prod(pt_moving) / max(1, math.prod(r)) - 1)
        scale = {n: round(v / rr, 6) for n, v, rr in zip(moving, pt_moving, r)}
        return Suggestion("resize", full, round(area, 4), "",
                          resize={"scale": scale, "aspect_change": round(100 * aspect, 4)},
                          verdict=self.verdict(full), optimal=not b.hit), None

    def accept_moving(self, held, moving):
        def acc(ptm):
            pt = tuple(self.request[n] if n in held else ptm[moving.index(n)]
                       for n in self.req_names)
            return self.accept(pt)
        return acc


def _resize_search(S, r: list, accept, budget):
    """(point, aspect change) minimising the area change among points whose aspect ratio
    is within ASPECT_TOL of the request's, else the smallest aspect change."""
    if len(r) == 1:
        cands = [Q.next_at_or_below(S, r[0]), Q.next_at_or_above(S, r[0])]
        cands = [(c,) for c in cands if c is not None and accept((c,))]
        if not cands:
            return None
        return min(cands, key=lambda c: _log_ratio(c[0], r[0])), 0.0
    ra, rb = r
    proj = Q.coord(S, 0)
    best = [None, None]  # (point, aspect), key

    def key(a, b):
        asp = math.exp(_log_ratio(a * rb, b * ra)) - 1  # >= 0, symmetric in stretch
        area = _log_ratio(a * b, ra * rb)
        return (0, area, asp) if asp <= ASPECT_TOL else (1, asp, area), asp

    def try_a(a):
        fib = Q.coord(Q.fix(S, 0, a), 1)
        t = a * rb / ra
        for b in (Q.next_at_or_below(fib, math.floor(t)), Q.next_at_or_above(fib, math.ceil(t))):
            if b is None or not accept((a, b)):
                continue
            k, asp = key(a, b)
            if best[1] is None or k < best[1]:
                best[0], best[1] = ((a, b), asp), k

    up = Q.next_at_or_above(proj, ra)
    down = Q.next_at_or_below(proj, ra - 1)
    tried = 0
    while (up is not None or down is not None) and budget.spend():
        # take the side nearer to the request (in ratio)
        if down is None or (up is not None and _log_ratio(up, ra) <= _log_ratio(ra, down)):
            a, up = up, Q.next_at_or_above(proj, up + 1)
        else:
            a, down = down, Q.next_at_or_below(proj, down - 1)
        d = _log_ratio(a, ra)
        if best[1] is not None and best[1][0] == 0 and 2 * d - 2 * ASPECT_TOL > best[1][1]:
            break  # every further a changes the area more than the best already does
        try_a(a)
        tried += 1
        if best[1] is not None and best[1][0] == 1 and tried > 600:
            break  # no aspect-keeping size nearby: settle for the least distortion seen
    return best[0]


def fit(analysis, sizes: dict, policy: str = "any", placement: str = "center") -> FitResult:
    """Suggestions for feeding ``sizes`` to the model, best first (see module doc)."""
    if policy not in POLICIES:
        raise UsageError(f"unknown policy '{policy}' (one of {', '.join(POLICIES)})")
    f = _Fitter(analysis, dict(sizes), placement)
    req = f.request
    # the request as given (free symbols at their smallest fitting value)
    full_req = f.complete(tuple(f.r))
    probe = full_req or {**{n: 1 for n in f.names}, **req}
    ex = explain_json(analysis, probe)
    res = FitResult(req, ex["verdict"], ex.get("violations", []), policy=policy)
    why = "; ".join(f"{v['op']} (node '{v['node']}'): {v['reason']}"
                    for v in res.violations[:1])
    node = res.violations[0]["node"] if res.violations else None
    if ex["verdict"] != Verdict.INVALID and full_req is not None:
        res.suggestions.append(Suggestion(
            "as-is", full_req, 0.0, "valid as given" if ex["verdict"] == Verdict.VALID else
            "passes every proven condition; " + "; ".join(ex.get("unproven", [])[:2]),
            verdict=ex["verdict"]))
        return res
    wanted = ("pad", "crop", "resize") if policy == "any" else (policy,)
    for pol in wanted:
        s, err = getattr(f, pol)()
        if s is None:
            res.impossible.append({"policy": pol, "reason": err + (f": {why}" if why else "")})
            continue
        s.reason, s.node = why, node
        res.suggestions.append(s)
        if pol == "crop" and policy in ("any", "crop"):
            pad_possible = policy == "any" and any(x.policy == "pad" for x in res.suggestions)
            w = None if pad_possible else f.windows(s)
            if w is not None:
                w.reason, w.node = why, node
                res.suggestions.append(w)
    order = {"pad": 0, "resize": 1, "crop": 2, "window": 3}
    res.suggestions.sort(key=lambda s: (_cost(s), order[s.policy]))
    return res


def _cost(s: Suggestion) -> float:
    if s.policy == "resize":
        return abs(s.overhead) + s.resize["aspect_change"]
    return abs(s.overhead)


def _log_ratio(a: float, b: float) -> float:
    return abs(math.log(a / b))
