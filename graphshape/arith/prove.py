"""Proofs about dims: structural reasoning first, isl second.

"Is e >= 0 for every size?" is asked in exactly one way, ``nonneg(e)``; ``at_least(e, k)``
and ``can_prove(e, rel)`` are built on it. Structural rules see through floor, ceiling,
min and max (sympy's assumptions do not, and are slow); isl decides quasi-affine
expressions exactly when they are small enough (ISL_PROOF_* budgets). "Not proved" is
always a safe answer: callers treat it as "may fail".
"""

from __future__ import annotations

import enum
import functools
import math
from fractions import Fraction
from typing import TYPE_CHECKING

from graphshape import stats
from graphshape.arith import lazy
from graphshape.arith.isl import (
    PROOF_OPERATIONS,
    IslPrinter,
    NonPresburger,
    isl_names,
    operations,
    size_set,
)
from graphshape.arith.terms import Dim, lcm_denominator, norm

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")

__all__ = ["bounds", "nonneg", "nonpos", "at_least", "can_prove", "structural_nonneg",
           "structural_nonpos", "ISL_PROOF_MAX_SYMBOLS", "ISL_PROOF_MAX_OPS"]

# isl decides sign questions exactly, but its cost grows quickly with the number of
# symbols and the size of the expression: beyond these, only structural proofs are tried.
ISL_PROOF_MAX_SYMBOLS = 3
ISL_PROOF_MAX_OPS = 40


def structural_nonneg(e) -> bool:
    """Structural proof that e >= 0 (sympy does not see through floor/ceiling/max)."""
    if isinstance(e, int):
        return e >= 0
    if e.is_Number:
        return e >= 0
    if e.is_Symbol:
        return bool(e.is_nonnegative)
    if e.is_Add:
        return all(structural_nonneg(a) for a in e.args)
    if e.is_Mul:
        c, r = e.as_coeff_Mul()
        if c < 0:
            return structural_nonpos(r)
        return all(structural_nonneg(a) for a in sympy.Mul.make_args(r))
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        return structural_nonneg(e.args[0])
    if isinstance(e, sympy.Max):
        return any(structural_nonneg(a) for a in e.args)
    if isinstance(e, sympy.Min):
        return all(structural_nonneg(a) for a in e.args)
    return False


def structural_nonpos(e) -> bool:
    """Structural proof that e <= 0 (the sign dual of structural_nonneg; neither can be
    written as the other of -e, which would recurse forever on floor terms)."""
    if isinstance(e, int):
        return e <= 0
    if e.is_Number:
        return e <= 0
    if e.is_Symbol:
        return bool(e.is_nonpositive)
    if e.is_Add:
        return all(structural_nonpos(a) for a in e.args)
    if e.is_Mul:
        c, r = e.as_coeff_Mul()
        if c < 0:
            return structural_nonneg(r)
        return not r.is_Mul and structural_nonpos(r)
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        return structural_nonpos(e.args[0])
    if isinstance(e, sympy.Max):
        return all(structural_nonpos(a) for a in e.args)
    if isinstance(e, sympy.Min):
        return any(structural_nonpos(a) for a in e.args)
    return False


@functools.lru_cache(maxsize=4096)
def _isl_proves(e, rel: str) -> bool:
    """Whether ``e rel 0`` holds at every size, exactly with isl; False if undecidable."""
    stats.COUNTERS["isl_proofs"] += 1
    den = lcm_denominator(e)
    if den > 1:  # float values of sizes (H/2 - 1/2): the sign of den*e, which isl can read
        e = norm(sympy.expand(e * den))
        if isinstance(e, int):
            return e >= 0 if rel == ">=" else e <= 0
    syms = sorted(e.free_symbols, key=lambda x: x.name)
    names = isl_names(syms)
    try:
        text = IslPrinter(names).expr(e)
    except NonPresburger:
        return False
    neg = "<" if rel == ">=" else ">"
    try:
        with operations(PROOF_OPERATIONS):
            return size_set(syms, f"{text} {neg} 0").is_empty()
    except Exception:  # noqa: BLE001  an isl failure (its operation limit included) means
        return False  # "not proved", never "proved"


_INF = float("inf")


def _imul(a, b):
    """Interval product (bounds are Fractions or +-inf; 0 * inf is 0: a factor that is 0
    makes the product 0 whatever the other)."""
    out = []
    for x in a:
        for y in b:
            out.append(0 if x == 0 or y == 0 else x * y)
    return min(out), max(out)


@functools.lru_cache(maxsize=65536)
def bounds(e) -> tuple:
    """(lo, hi): interval bounds of e over every size (symbols >= 1, counts >= 0), by
    interval arithmetic on its structure (Fractions, or -inf/inf when unbounded). Sound,
    not tight: x - x gets [-inf, inf]."""
    if isinstance(e, int):
        return Fraction(e), Fraction(e)
    if e.is_Number:
        if e.is_Rational:
            return Fraction(int(e.p), int(e.q)), Fraction(int(e.p), int(e.q))
        return -_INF, _INF
    if e.is_Symbol:
        if e.is_positive:
            return Fraction(1), _INF
        if e.is_nonnegative:
            return Fraction(0), _INF
        return -_INF, _INF
    if e.is_Add:
        lo, hi = Fraction(0), Fraction(0)
        for a in e.args:
            x, y = bounds(a)
            lo, hi = lo + x, hi + y
        return lo, hi
    if e.is_Mul:
        acc = (Fraction(1), Fraction(1))
        for a in e.args:
            acc = _imul(acc, bounds(a))
        return acc
    if e.is_Pow and e.exp.is_Integer and int(e.exp) > 0:
        lo, hi = bounds(e.base)
        n = int(e.exp)
        if lo >= 0:
            return lo ** n, hi ** n
        return (Fraction(0) if n % 2 == 0 else -_INF), _INF
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        lo, hi = bounds(e.args[0])
        rnd = math.floor if isinstance(e, sympy.floor) else math.ceil
        return (lo if lo == -_INF else Fraction(rnd(lo))), (hi if hi == _INF else
                                                          Fraction(rnd(hi)))
    if isinstance(e, (sympy.Min, sympy.Max)):
        bs = [bounds(a) for a in e.args]
        pick = min if isinstance(e, sympy.Min) else max
        return pick(b[0] for b in bs), pick(b[1] for b in bs)
    if isinstance(e, sympy.Mod) and e.args[1].is_Integer and int(e.args[1]) > 0:
        return Fraction(0), Fraction(int(e.args[1]) - 1)
    return -_INF, _INF


def _at(e, point: dict):
    """e's exact value with every symbol at point[s] (ints in point): an int, or a Fraction
    where a rational coefficient leaves one (ints are most of it, and much faster)."""
    if isinstance(e, int):
        return e
    if e.is_Number:
        if e.is_Integer:
            return int(e)
        if not e.is_Rational:
            raise ValueError(e)
        return Fraction(int(e.p), int(e.q))
    if e.is_Symbol:
        return point[e]
    if e.is_Add:
        return sum(_at(a, point) for a in e.args)
    if e.is_Mul:
        out = 1
        for a in e.args:
            out *= _at(a, point)
        return out
    if e.is_Pow and e.exp.is_Integer:
        return Fraction(_at(e.base, point)) ** int(e.exp)  # exact where it is negative
    if isinstance(e, sympy.floor):
        return math.floor(_at(e.args[0], point))
    if isinstance(e, sympy.ceiling):
        return math.ceil(_at(e.args[0], point))
    if isinstance(e, sympy.Min):
        return min(_at(a, point) for a in e.args)
    if isinstance(e, sympy.Max):
        return max(_at(a, point) for a in e.args)
    if isinstance(e, sympy.Mod):
        return _at(e.args[0], point) % _at(e.args[1], point)
    raise ValueError(e)


# sizes (>= 1) and counts (>= 0) at which a sign claim is first tested: one value that
# contradicts it ends the question before isl is asked (twelve detections counts summed
# and compared with 0: 0 at all-zero counts, 1 at one)
_PROBES = ((1, 0), (1, 1), (2, 2), (5, 0), (7, 7), (33, 1), (100, 100), (1000, 3),
           (1000, 1000), (10 ** 6, 10 ** 6), (1, 10 ** 6))


@functools.lru_cache(maxsize=16384)
def _refuted(e, sign: int) -> bool:
    """A size (and counts) where sign*e < 0: e >= 0 (sign 1) or e <= 0 (-1) is false."""
    syms = e.free_symbols
    for size, count in _PROBES:
        point = {s: (size if s.is_positive else count if s.is_nonnegative else size)
                 for s in syms}
        try:
            if sign * _at(e, point) < 0:
                return True
        except (ValueError, ZeroDivisionError, TypeError):
            return False
    return False


def _small(e) -> bool:
    return (len(e.free_symbols) <= ISL_PROOF_MAX_SYMBOLS
            and sympy.count_ops(e) <= ISL_PROOF_MAX_OPS)


def _product_sign(e, budget: bool):
    """1 when the product e is >= 0 at every size, -1 when <= 0, None when not proved.
    Each factor's sign is proved on its own:
    a product of two sizes is not Presburger, but (floor((H - 1)/32) + 1)*(floor((W - 1)
    /32) + 1), DETR's token count, is a product of factors isl proves >= 0 one by one."""
    c, r = e.as_coeff_Mul()
    sign = 1 if c > 0 else -1 if c < 0 else None
    if sign is None:
        return None
    for f in sympy.Mul.make_args(r):
        if f.is_Pow and f.exp.is_Integer and f.exp > 0 and f.exp % 2 == 0:
            continue  # an even power is >= 0
        if nonneg(f, budget):
            continue
        if nonpos(f, budget):
            sign = -sign
            continue
        return None
    return sign


def _expanded(e, limit: int = 200):
    """e with products of sums multiplied out, when that changes it (else None): a product
    of two symbols is not Presburger, but S*(B - 1) + S - B*S cancels to 0 once expanded
    (index bounds of transformers' mask.flatten()[b*S + s]). Expansion is an identity, so
    a proof about the expanded form is a proof about e. floor/min/max terms are atoms
    (DETR's token count (floor((H - 1)/32) + 1)*(floor((W - 1)/32) + 1) cancels the same
    way). Only for small expressions: expansion can grow without bound."""
    if isinstance(e, int):
        return None
    return _expanded_expr(e, limit)


@functools.lru_cache(maxsize=4096)
def _expanded_expr(e, limit: int):
    # the search for a product of a sum first: it is what most expressions lack, and it
    # costs less than counting the operations
    if not any(a.is_Mul and any(b.is_Add for b in a.args)
               for a in sympy.preorder_traversal(e)) or sympy.count_ops(e) > limit:
        return None
    x = norm(sympy.expand(e))
    return None if x == e else x


MINMAX_SPLIT_DEPTH = 3  # nested min/max terms nonneg() splits into cases
EXPAND_OPS = 1500  # the size below which a case of such a split is multiplied out


def _split_minmax(e, sign: int, budget: bool, depth: int) -> bool:
    """sign*e >= 0 by cases on one min/max term of the sum e: a + min(b, c) >= 0 when
    a + b >= 0 and a + c >= 0; a + max(b, c) >= 0 when either is (TopK's indices below
    an anchor count: T - 1 - max(A0 - 1, A0 + A1 - 1, ...) >= 0, term by term)."""
    if depth <= 0 or not e.is_Add:
        return False
    for t in e.args:
        c, r = t.as_coeff_Mul()
        if not isinstance(r, (sympy.Min, sympy.Max)) or not c.is_Integer or c == 0:
            continue
        rest = e - t
        # sign*(rest + c*m(args)) >= 0; with k = sign*c, k*min is min(k*) for k > 0
        k = sign * int(c)
        is_min = isinstance(r, sympy.Min) == (k > 0)  # k*Min(...) is a min when k > 0
        parts = [norm(rest + int(c) * a) for a in r.args]
        if is_min:
            return all(_decide(p, sign, budget, depth - 1) for p in parts)
        return any(_decide(p, sign, budget, depth - 1) for p in parts)
    return False


def _decide(e, sign: int, budget: bool, depth: int) -> bool:
    if isinstance(e, int):
        return sign * e >= 0
    if sign > 0:
        if structural_nonneg(e) or bounds(e)[0] >= 0:
            return True
    elif structural_nonpos(e) or bounds(e)[1] <= 0:
        return True
    if _split_minmax(e, sign, budget, depth):
        return True
    x = _expanded(e, EXPAND_OPS)
    if x is None:
        return False
    if isinstance(x, int):
        return sign * x >= 0
    return structural_nonneg(x) or bounds(x)[0] >= 0 if sign > 0 else \
        structural_nonpos(x) or bounds(x)[1] <= 0


def _remembered(fn):
    """The prover's answers by (expression, budget): a rule asks the same question of every
    use of a dim (a detector's 90 per-class branches, each clamp of a box), and the answer
    is a function of the question alone (bounded: least recently used answers go first)."""
    cached = functools.lru_cache(maxsize=1 << 16)(fn)

    @functools.wraps(fn)
    def prover(e: Dim, budget: bool = False) -> bool:
        return cached(norm(e), budget)
    return prover


@_remembered
def nonneg(e: Dim, budget: bool = False) -> bool:
    """e >= 0 at every size. With ``budget``, isl is asked only for small expressions."""
    e = norm(e)
    if structural_nonneg(e):
        return True
    if isinstance(e, int):
        return False
    if bounds(e)[0] >= 0:
        return True
    if e.is_Mul and _product_sign(e, budget) == 1:
        return True
    if _split_minmax(e, 1, budget, MINMAX_SPLIT_DEPTH):
        return True
    if _refuted(e, 1):
        return False
    if budget and not _small(e):
        x = _expanded(e)  # T - (A0 + A1) with T = A0 + ... + A4 written another way
        return x is not None and (structural_nonneg(x) or bounds(x)[0] >= 0)
    if budget and not _small(e):
        return False
    if _isl_proves(e, ">="):
        return True
    x = _expanded(e)
    return x is not None and (structural_nonneg(x) or (not isinstance(x, int)
                                                  and _isl_proves(x, ">=")))


@_remembered
def nonpos(e: Dim, budget: bool = False) -> bool:
    """e <= 0 at every size."""
    e = norm(e)
    if structural_nonpos(e):
        return True
    if isinstance(e, int):
        return False
    if bounds(e)[1] <= 0:
        return True
    if e.is_Mul and _product_sign(e, budget) == -1:
        return True
    if _split_minmax(e, -1, budget, MINMAX_SPLIT_DEPTH):
        return True
    if _refuted(e, -1):
        return False
    if budget and not _small(e):
        x = _expanded(e)
        return x is not None and (structural_nonpos(x) or bounds(x)[1] <= 0)
    if budget and not _small(e):
        return False
    if _isl_proves(e, "<="):
        return True
    x = _expanded(e)
    return x is not None and (structural_nonpos(x) or (not isinstance(x, int)
                                                  and _isl_proves(x, "<=")))


def at_least(e: Dim, k: int, budget: bool = False) -> bool:
    """e >= k at every size."""
    if isinstance(e, int):
        return e >= k
    if e.is_Symbol and k <= 1 and e.is_positive:
        return True
    if k <= 0 and structural_nonneg(e):
        return True
    if e.is_Mul and _product_at_least(e, k, budget):
        return True
    return nonneg(norm(e - k), budget)


def _product_at_least(e, k: int, budget: bool) -> bool:
    """c*f1*...*fn >= k when c >= k > 0 and every factor is >= 1: a product of sizes that
    are each at least 1 is at least 1 (dynamo's flattened map h*w, a product isl cannot
    state)."""
    c, r = e.as_coeff_Mul()
    if not c.is_Integer:
        return False
    c = int(c)
    for f in sympy.Mul.make_args(r):
        base, n = (f.base, int(f.exp)) if f.is_Pow and f.exp.is_Integer and f.exp > 0 \
            else (f, 1)
        if at_least(base, 1, budget):
            continue
        if nonpos(norm(base + 1), budget):  # <= -1: ceil(x/7) built as -floor(-x/7)
            c = c * (-1) ** n
            continue
        return False
    return c >= max(k, 1)


class Rel(str, enum.Enum):
    """How an expression compares with 0 (what ``can_prove`` is asked)."""

    NONNEG = ">= 0"
    NONPOS = "<= 0"
    ZERO = "== 0"


def can_prove(e: Dim, rel: Rel) -> bool:
    """Whether ``e rel 0`` holds at every size."""
    rel = Rel(rel)
    if rel is Rel.NONNEG:
        return nonneg(e)
    if rel is Rel.NONPOS:
        return nonpos(e)
    return nonneg(e) and nonpos(e)
