"""A product compared with a product, factor by factor.

MobileViT's unfold/fold (2x2 patches after padding the map to even sides) checks
``C*h*w == 4*C*ceil(h/2)*ceil(w/2)``: two products of per-axis factors, which isl cannot
state. When the factors pair up, u_i <= m_i*v_i for each i (proved) with every factor
>= 0, the products are equal exactly when

    u_i == m_i*v_i for every i,  or  some u_i == 0 and some v_j == 0

(if every u_i >= 1, a strict u_i < m_i*v_i makes the right side strictly larger). Here:
h == 2*ceil(h/2) and w == 2*ceil(w/2), both sides even.
"""

from __future__ import annotations

import itertools

import sympy

from graphshape.arith.prove import nonneg
from graphshape.arith.terms import norm
from graphshape.shapes.constraints import EQ, Constraint

__all__ = ["pair_products"]

MAX_FACTORS = 4


def _factors(term):
    """(coefficient, [factors >= 0]) of a product term, signs moved to the coefficient;
    None when a factor's sign is not proved."""
    c, rest = term.as_coeff_Mul()
    if not c.is_Integer:
        return None
    c = int(c)
    out = []
    for f in sympy.Mul.make_args(rest):
        if f.is_Pow and f.exp.is_Integer and f.exp > 0:
            fs = [f.base] * int(f.exp)
        else:
            fs = [f]
        for g in fs:
            g = norm(g)
            if isinstance(g, int):
                c *= g
            elif nonneg(g, budget=True):
                out.append(g)
            elif nonneg(norm(-g), budget=True):
                out.append(norm(-g))
                c = -c
            else:
                return None
    return c, out


def _at_least_one(f) -> bool:
    return nonneg(norm(f - 1), budget=True)


def _divisor_splits(k: int, n: int):
    """Ordered n-tuples of positive ints whose product is k."""
    if n == 1:
        yield (k,)
        return
    for d in range(1, k + 1):
        if k % d == 0:
            for rest in _divisor_splits(k // d, n - 1):
                yield (d,) + rest


def pair_products(c: Constraint) -> Constraint | None:
    """An equivalent condition without the product of sizes (module docstring), or None."""
    if c.kind != EQ:
        return None
    lhs, rhs = sympy.sympify(c.lhs), sympy.sympify(c.rhs)
    if not lhs.free_symbols or not rhs.free_symbols or lhs.is_Add or rhs.is_Add:
        return None
    lhs, rhs = sympy.factor_terms(lhs), sympy.factor_terms(rhs)
    a, b = _factors(lhs), _factors(rhs)
    if a is None or b is None:
        return None
    (ca, us), (cb, vs) = a, b  # ca*U == cb*V
    for f in list(us):  # a factor on both sides (the batch N >= 1) cancels
        if f in vs and _at_least_one(f):
            us.remove(f)
            vs.remove(f)
    if ca == 0 or cb == 0 or len(us) != len(vs) or not 2 <= len(us) <= MAX_FACTORS:
        return None
    if ca < 0:
        ca, cb = -ca, -cb
    if cb <= 0 or cb % ca:
        return None
    k = cb // ca  # U == k*V
    for perm in itertools.permutations(vs):
        for ms in _divisor_splits(k, len(us)):
            if all(nonneg(norm(m * v - u), budget=True) for u, m, v in zip(us, ms, perm)):
                same = [Constraint.eq(u, norm(m * v)) for u, m, v in zip(us, ms, perm)]
                both = Constraint.all_of([Constraint.any_of([Constraint.eq(u, 0) for u in us]),
                                          Constraint.any_of([Constraint.eq(v, 0)
                                                             for v in perm])])
                main = same[0] if len(same) == 1 else Constraint.all_of(same)
                return Constraint.any_of([main, both], origin=c.origin)
    return None
