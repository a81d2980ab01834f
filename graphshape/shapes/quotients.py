"""Integer division of a constant by a size: ``c // d`` for a constant c >= 0 and a
size-valued d >= 1 (Swin via dynamo: a channel count baked at export, 6272, divided by the
window count computed from the input: 6272 // (49 * nW)).

The value is kept as ``floor(c/d)``, which isl cannot read. A condition on it is linear in
it (a Reshape's element count: 49*nW*q == 6272*nW), and then one of
    q == k   <->  k*d <= c < (k + 1)*d
    q >= k   <->  k <= 0, or k*d <= c
    q <= k   <->  k >= 0 and (k + 1)*d > c
which isl reads (d is a size, or a product of sizes the solver splits into cases). The
rewrite holds wherever d >= 1: the rule that made the quotient proved d >= 1 under the
conditions already known, which stay in the domain, so it is exact on the domain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphshape.arith import lazy
from graphshape.arith.dims import norm, rebuilt
from graphshape.arith.prove import nonneg
from graphshape.shapes.constraints import AND, EQ, GE, OR, Constraint

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")

__all__ = ["quotient", "is_quotient", "linearize"]

# the largest dividend kept as a quotient (beyond it, the case splits grow too large)
MAX_DIVIDEND = 1 << 24


def quotient(c: int, d) -> sympy.Expr:
    """floor(c / d) for a constant c >= 0 and a symbolic d >= 1 (the caller proved it)."""
    return sympy.floor(sympy.Integer(c) / d, evaluate=False)


def is_quotient(e) -> bool:
    if not isinstance(e, sympy.floor):
        return False
    num, den = e.args[0].as_numer_denom()
    return bool(num.is_Integer and den.free_symbols)


def _quotients(e) -> list:
    if isinstance(e, int):
        return []
    return [a for a in sympy.preorder_traversal(e) if is_quotient(a)]


def linearize(c: Constraint) -> Constraint | None:
    """``c`` with each condition linear in one quotient floor(c/d) rewritten without it
    (see the module docstring); None when there is nothing to rewrite or it is not linear."""
    if c.kind in (OR, AND):
        parts = [linearize(p) for p in c.parts]
        if all(p is None for p in parts):
            return None
        new = [q if q is not None else p for p, q in zip(c.parts, parts)]
        return Constraint(c.kind, parts=tuple(new), origin=c.origin)
    if c.kind not in (EQ, GE):
        return None
    diff = sympy.sympify(rebuilt(sympy.sympify(c.lhs) - sympy.sympify(c.rhs), expand=True))
    qs = list(dict.fromkeys(_quotients(diff)))
    if len(qs) != 1:
        return None
    q = qs[0]
    a = diff.coeff(q)
    b = sympy.sympify(rebuilt(diff - a * q, expand=True))
    if a == 0 or b.has(q) or a.has(q):
        return None
    # a*q + b == 0 (or >= 0) with a, b sharing a factor g >= 0 (the window count)
    g = sympy.gcd(a, b) if b != 0 else a
    g = sympy.factor_terms(g)
    gc, gr = g.as_coeff_Mul()
    if gc < 0:
        g = -g
    a0, b0 = sympy.cancel(a / g), sympy.cancel(b / g)
    if not (a0.is_Integer and b0.is_Integer) or a0 == 0:
        return None
    if not g.free_symbols:
        scale = int(g)
        if scale <= 0:
            return None
        g_zero = None
    else:
        if not nonneg(norm(g)):
            return None
        g_zero = Constraint.eq(norm(g), 0)
    num, den = q.args[0].as_numer_denom()
    cnum, d = int(num), norm(den)
    if cnum < 0 or cnum > MAX_DIVIDEND:
        return None
    a0, b0 = int(a0), int(b0)
    if c.kind == EQ:
        if b0 % a0:
            core = Constraint.eq(1, 0)
        else:
            k = -b0 // a0
            core = _equals(cnum, d, k)
    else:  # a0*q + b0 >= 0
        if a0 > 0:
            k = -(b0 // a0)  # q >= ceil(-b0/a0)
            core = _at_least(cnum, d, k)
        else:
            k = b0 // (-a0)  # q <= floor(b0/(-a0))
            core = _at_most(cnum, d, k)
    if core is None:
        return None
    out = core if g_zero is None else Constraint.any_of([g_zero, core])
    return Constraint(out.kind, out.lhs, out.rhs, out.parts, c.origin)


def _equals(c: int, d, k: int):
    if k < 0:
        return Constraint.eq(1, 0)
    parts = [Constraint.ge(c, norm(k * d)), Constraint.ge(norm((k + 1) * d), c + 1)]
    return Constraint.all_of(parts)


def _at_least(c: int, d, k: int):
    if k <= 0:
        return Constraint.eq(0, 0)
    return Constraint.ge(c, norm(k * d))


def _at_most(c: int, d, k: int):
    if k < 0:
        return Constraint.eq(1, 0)
    return Constraint.ge(norm((k + 1) * d), c + 1)
