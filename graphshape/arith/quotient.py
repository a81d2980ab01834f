"""Exact integer ratios of dims: ``a == k * b`` for an integer k, decided by expanding both
(a Reshape's element count 4*A over an axis A that is a sum of products: sympy distributes
the 4 over the sum, so no common factor cancels as a multiset)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphshape.arith import lazy

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")

__all__ = ["integer_ratio", "MAX_RATIO_OPS"]

# past this size (sympy operations in a and b together) expansion may grow without bound
MAX_RATIO_OPS = 4000


def integer_ratio(a, b) -> int | None:
    """k when a == k*b identically (k a non-zero integer), else None (not proved)."""
    if isinstance(a, int) or isinstance(b, int):
        return None
    if sympy.count_ops(a) + sympy.count_ops(b) > MAX_RATIO_OPS:
        return None
    ta = sympy.Add.make_args(sympy.expand(a))
    tb = sympy.Add.make_args(sympy.expand(b))
    if len(ta) != len(tb):
        return None
    coeff_a: dict = {}
    for t in ta:
        c, r = t.as_coeff_Mul()
        coeff_a[r] = coeff_a.get(r, 0) + c
    c0, r0 = tb[0].as_coeff_Mul()
    if r0 not in coeff_a or c0 == 0:
        return None
    k = coeff_a[r0] / c0
    if not k.is_Integer or k == 0:
        return None
    for t in tb:
        c, r = t.as_coeff_Mul()
        if coeff_a.get(r) != k * c:
            return None
    return int(k)
