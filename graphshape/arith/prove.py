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

import sympy

from graphshape import stats
from graphshape.arith.isl import IslPrinter, NonPresburger, isl_names, size_set
from graphshape.arith.terms import Dim, norm

__all__ = ["nonneg", "nonpos", "at_least", "can_prove", "structural_nonneg",
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
    syms = sorted(e.free_symbols, key=lambda x: x.name)
    names = isl_names(syms)
    try:
        text = IslPrinter(names).expr(e)
    except NonPresburger:
        return False
    neg = "<" if rel == ">=" else ">"
    try:
        return size_set(syms, f"{text} {neg} 0").is_empty()
    except Exception:  # noqa: BLE001  an isl failure means "not proved", never "proved"
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


def _expanded(e):
    """e with products of sums multiplied out, when that changes it (else None): a product
    of two symbols is not Presburger, but S*(B - 1) + S - B*S cancels to 0 once expanded
    (index bounds of transformers' mask.flatten()[b*S + s]). Expansion is an identity, so
    a proof about the expanded form is a proof about e. floor/min/max terms are atoms
    (DETR's token count (floor((H - 1)/32) + 1)*(floor((W - 1)/32) + 1) cancels the same
    way). Only for small expressions: expansion can grow without bound."""
    if isinstance(e, int) or sympy.count_ops(e) > 200 or not any(
            a.is_Mul and any(b.is_Add for b in a.args) for a in sympy.preorder_traversal(e)):
        return None
    x = norm(sympy.expand(e))
    return None if x == e else x


def nonneg(e: Dim, budget: bool = False) -> bool:
    """e >= 0 at every size. With ``budget``, isl is asked only for small expressions."""
    e = norm(e)
    if structural_nonneg(e):
        return True
    if isinstance(e, int):
        return False
    if e.is_Mul and _product_sign(e, budget) == 1:
        return True
    if budget and not _small(e):
        return False
    if _isl_proves(e, ">="):
        return True
    x = _expanded(e)
    return x is not None and (structural_nonneg(x) or (not isinstance(x, int)
                                                  and _isl_proves(x, ">=")))


def nonpos(e: Dim, budget: bool = False) -> bool:
    """e <= 0 at every size."""
    e = norm(e)
    if structural_nonpos(e):
        return True
    if isinstance(e, int):
        return False
    if e.is_Mul and _product_sign(e, budget) == -1:
        return True
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
    return nonneg(norm(e - k), budget)


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
