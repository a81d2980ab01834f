"""One-symbol sets as (finite part, period, residues), and boxes: products of them.

One-symbol sets are described by (lower part, period, residues): a quasi-affine set in one variable is eventually periodic
with a period dividing the lcm of the moduli it mentions, and the threshold past which
it is periodic is computed with isl (the set of x where x and x+p disagree is finite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import islpy as isl
import sympy

from graphshape.arith.isl import (
    at_or_above_1d,
    coords,
    interval_1d,
    project_1d,
    residues_1d,
    shift_1d,
)

__all__ = ["Periodic1D", "Box", "periodic_1d", "decompose_boxes", "lcm", "runs",
           "points_in", "product_set"]

ENUM_LIMIT = 200_000


def _lo(s) -> int:
    """The smallest coordinate of a non-empty one-coordinate set."""
    return coords(s.lexmin().sample_point(), 1)[0]


def _hi(s) -> int:
    return coords(s.lexmax().sample_point(), 1)[0]


def lcm(xs) -> int:
    out = 1
    for x in xs:
        out = out * x // math.gcd(out, x)
    return out


@dataclass
class Periodic1D:
    """A set of positive ints: ``finite`` points below ``start``, then from ``start`` on the
    x with x mod period in ``residues`` (residues empty: nothing from ``start`` on)."""

    finite: list
    start: int
    period: int
    residues: list
    bounded: bool
    least: int = 1  # the universe's least value (0 for a size that may be empty)

    def contains(self, x: int) -> bool:
        if x < self.start:
            return x in self._finite_set
        return (x % self.period) in self._res_set if self.residues else False

    def __post_init__(self):
        self._finite_set = set(self.finite)
        self._res_set = set(self.residues)

    def min(self):
        if self.finite:
            return self.finite[0]
        if self.residues:
            return min(self.start + ((r - self.start) % self.period) for r in self.residues)
        return None

    def max(self):
        if self.residues:
            return None
        return self.finite[-1] if self.finite else None

    def is_empty(self) -> bool:
        return not self.finite and not self.residues

    def describe(self, name: str) -> str:
        parts = [_intervals_text(name, self.finite)] if self.finite else []
        if self.residues:
            parts.append(_periodic_text(name, self.start, self.period, self.residues))
        if not parts:
            return f"no {name}"
        return " or ".join(parts)

    def edges(self) -> list:
        """Where membership changes, each side: the ends of every run of the finite part
        and their outer neighbours; from ``start`` on, the same for every run of
        consecutive members within one period (residues 17..32 of 32 are one run, not 16
        points), and each run's start one period later (the period itself checked)."""
        pts = set()
        for lo, hi in runs(self.finite):
            pts |= {lo - 1, lo, hi, hi + 1}
        if self.residues:
            first = self.start
            xs = sorted(first + ((r - first) % self.period) for r in self.residues)
            for lo, hi in runs(xs):
                pts |= {lo - 1, lo, hi, hi + 1, lo + self.period}
            pts.add(first - 1)
            pts.add(first)
        return sorted(p for p in pts if p >= self.least)


def runs(xs):
    """Sorted ints as maximal runs of consecutive values: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    out = []
    for x in xs:
        if out and x == out[-1][1] + 1:
            out[-1][1] = x
        else:
            out.append([x, x])
    return [tuple(r) for r in out]


def _intervals_text(name, xs) -> str:
    out = []
    rs = runs(xs)
    # arithmetic progressions of single points read better as "H = 32k"
    if len(rs) >= 4 and all(a == b for a, b in rs):
        d = rs[1][0] - rs[0][0]
        if all(rs[i + 1][0] - rs[i][0] == d for i in range(len(rs) - 1)):
            a = rs[0][0]
            return f"{name} = {d}k + {a % d}, {a} <= {name} <= {rs[-1][0]}" if a % d else \
                f"{name} = {d}k, {a} <= {name} <= {rs[-1][0]}"
    for lo, hi in rs:
        out.append(f"{name} = {lo}" if lo == hi else f"{lo} <= {name} <= {hi}")
    return " or ".join(out)


def _periodic_text(name, start, period, residues) -> str:
    if period == 1 or len(residues) == period:
        return f"{name} >= {start}"
    if len(residues) == 1:
        r = residues[0]
        k0 = -(-(start - r) // period)
        mult = f"{period}k" + (f" + {r}" if r else "")
        return f"{name} = {mult}, k >= {k0}"
    return f"{name} mod {period} in {{{', '.join(map(str, residues))}}}, {name} >= {start}"


def periodic_1d(s, period_hint: int) -> Periodic1D:
    """Describe a 1-D isl set (params none) exactly as a Periodic1D."""
    s = s.coalesce()
    if s.is_empty():
        return Periodic1D([], 1, 1, [], True)
    # sizes are >= 1, or >= 0 where they may be empty (a KV cache's past length)
    least = min(1, _lo(s))
    if s.is_bounded():
        lo = _lo(s)
        hi = _hi(s)
        if hi - lo > ENUM_LIMIT:
            raise ValueError("bounded set too wide to enumerate")
        pts = points_in(s, lo, hi)
        return Periodic1D(pts, hi + 1, 1, [], True, least)
    # the period divides the lcm of the set's own division denominators (nested floors of
    # the conditions compose into these after isl simplifies them) and the hint
    p = lcm([max(1, period_hint)] + _div_denominators(s))
    shifted = shift_1d(s, p)
    # D: points where x in S and x+p not in S, or vice versa
    diff = s.subtract(shifted).union(shifted.subtract(s)).coalesce()
    if diff.is_empty():
        threshold = 1
    else:
        if not diff.is_bounded():
            raise ValueError(f"period {p} is not a period of the set")
        threshold = _hi(diff) + 1
    threshold = max(threshold, 1)
    # the minimal period: the periods (from the threshold on) are closed under difference,
    # so the smallest divides p and every other; divide p by one prime at a time while the
    # quotient is still a period (a test per prime factor, not one per divisor), decided
    # with set operations (p is 2**40 after 40 stride-2 layers: nothing here may enumerate
    # p points or p divisors)
    tail = s.intersect(at_or_above_1d(threshold))
    q = p
    for f in sorted(sympy.factorint(p)):
        while q % f == 0 and shift_1d(s, q // f).intersect(
                at_or_above_1d(threshold)).is_equal(tail):
            q //= f
    if q > ENUM_LIMIT:
        raise ValueError(f"period {q} too long to list its residues")
    res = sorted({x % q for x in points_in(s, threshold, threshold + q - 1)})
    # walk the start back while the periodic rule still holds: the largest disagreement
    # below the threshold between S and the periodic set ends it
    periodic = residues_1d(q, res, least)
    below = interval_1d(least, threshold - 1)
    disagree = s.subtract(periodic).union(periodic.subtract(s)).intersect(below).coalesce()
    start = least if disagree.is_empty() else _hi(disagree) + 1
    if start > least:
        finite_set = s.intersect(interval_1d(least, start - 1))
        n = finite_set.count_val().to_python()
        if n > ENUM_LIMIT:
            raise ValueError("too many sizes below the periodic part to list")
        finite = points_in(s, least, start - 1)
    else:
        finite = []
    if res:  # start at the first member of the periodic part: reads "H >= 224", not ">= 10"
        start = min(start + ((r - start) % q) for r in res)
    return Periodic1D(finite, start, q, res, False, least)


def _div_denominators(s) -> list:
    out = []
    for bs in s.get_basic_sets():
        ls = bs.get_local_space()
        for i in range(ls.dim(isl.dim_type.div)):
            try:
                out.append(abs(int(ls.get_div(i).get_denominator_val().to_python())))
            except (isl.Error, ValueError, TypeError):
                pass
    return [d for d in out if d > 0]



def points_in(s, lo, hi) -> list:
    if hi < lo:
        return []
    part = s.intersect(interval_1d(lo, hi))
    out = []
    part.foreach_point(lambda pt: out.append(coords(pt, 1)[0]))
    return sorted(out)


class Box:
    """A product of per-symbol Periodic1D sets (one piece of a union of boxes)."""

    def __init__(self, factors: list):
        self.factors = factors

    def describe(self, names, sep: str = " and ") -> str:
        parts = []
        for f, n in zip(self.factors, names):
            t = f.describe(n)
            parts.append(f"({t})" if " or " in t else t)
        return sep.join(parts)


def product_set(factors_isl):
    out = factors_isl[0]
    for f in factors_isl[1:]:
        out = out.flat_product(f)
    return out


def _boxes_of(s, n, period_hint, dedupe=False) -> list | None:
    boxes: list = []
    seen: list = []
    for bs in s.get_basic_sets():
        b = isl.Set.from_basic_set(bs).coalesce()
        if b.is_empty():
            continue
        ps = [project_1d(b, i, n) for i in range(n)]
        if not product_set(ps).is_equal(b):
            return None
        if dedupe:
            if any(b.is_subset(o) for o in seen):
                continue
            seen.append(b)
        boxes.append(Box([periodic_1d(p, period_hint) for p in ps]))
        if len(boxes) > 64:
            return None
    return boxes


def decompose_boxes(s, n, period_hint, raw=None) -> list | None:
    """Split an n-dim set into a union of product boxes, or None if some piece is not."""
    if s.is_empty():
        return []
    if s.n_basic_set() > 64:
        return None  # too many pieces to read as boxes; the conditions read better
    projs = [project_1d(s, i, n) for i in range(n)]
    if product_set(projs).is_equal(s):
        return [Box([periodic_1d(p, period_hint) for p in projs])]
    boxes = _boxes_of(s, n, period_hint)
    if boxes is None and raw is not None and raw.n_basic_set() <= 64:
        # coalescing can merge product pieces into non-product ones: the disjuncts as
        # written (one per factorisation case) often are products
        boxes = _boxes_of(raw, n, period_hint, dedupe=True)
    if boxes is None:
        return None
    boxes.sort(key=lambda bx: tuple((f.min() or 0) for f in bx.factors))
    return boxes
