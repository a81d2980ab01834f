"""The integer compiler: a dim becomes a Python function of the sizes, exact integer
arithmetic (floor and ceil divisions are //, never floats).

Dims are evaluated at concrete sizes millions of times (verification plans, the solver's
cross-check), so each expression is compiled once and cached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphshape.arith import lazy
from graphshape.arith.expr import substitute
from graphshape.arith.terms import Dim, lcm_denominator

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")

__all__ = ["compile_dim", "value_at"]

def _py(e) -> str:
    if isinstance(e, int):
        return str(e)
    if e.is_Integer:
        return str(int(e))
    if e.is_Symbol:
        return f"env[{e.name!r}]"
    if e.is_Add:
        return "(" + " + ".join(_py(a) for a in e.args) + ")"
    if e.is_Mul:
        coeff, rest = e.as_coeff_Mul()
        if coeff.is_Integer:
            if coeff == 1:
                return "(" + " * ".join(_py(a) for a in sympy.Mul.make_args(rest)) + ")"
            return f"({int(coeff)} * " + " * ".join(
                _py(a) for a in sympy.Mul.make_args(rest)) + ")"
        raise ValueError(f"rational coefficient outside a floor: {e}")
    if e.is_Pow and e.exp.is_Integer and e.exp >= 0:
        return f"({_py(e.base)} ** {int(e.exp)})"
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        num, den = e.args[0].as_numer_denom()
        if den.free_symbols:  # c // d: a constant over a size (shapes/quotients.py)
            q = f"(({_py(sympy.expand(num))}) // ({_py(sympy.expand(den))}))"
            return q if isinstance(e, sympy.floor) else \
                f"(-((-({_py(sympy.expand(num))})) // ({_py(sympy.expand(den))})))"
        arg = sympy.expand(e.args[0])
        den = lcm_denominator(arg)
        num = sympy.expand(arg * den)
        if den == 1:
            return _py(num)
        if isinstance(e, sympy.floor):
            return f"(({_py(num)}) // {den})"
        return f"(-((-({_py(num)})) // {den}))"
    if isinstance(e, sympy.Mod):
        return f"(({_py(e.args[0])}) % ({_py(e.args[1])}))"
    if isinstance(e, sympy.Min):
        return "min(" + ", ".join(_py(a) for a in e.args) + ")"
    if isinstance(e, sympy.Max):
        return "max(" + ", ".join(_py(a) for a in e.args) + ")"
    raise ValueError(f"cannot compile {e}")


_COMPILED: dict = {}


def compile_dim(x: Dim):
    """A function env -> int (env maps symbol names to ints), exact integer arithmetic."""
    if isinstance(x, int):
        return lambda env, _v=x: _v
    f = _COMPILED.get(x)
    if f is None:
        try:
            f = eval(f"lambda env: {_py(x)}")  # noqa: S307  source built from sympy above
        except ValueError:
            f = None
        if f is None:
            def f(env, _x=x):
                return substitute(_x, env)
        _COMPILED[x] = f
    return f


def value_at(x: Dim, env: dict) -> int | None:
    """The dim's value where the symbols take the ints in ``env`` (names to ints), by its
    compiled function; None where it has none there (a symbol ``env`` does not give, such as
    a data-dependent count, or c // d with d == 0)."""
    if isinstance(x, int):
        return x
    try:
        v = compile_dim(x)(env)
    except (KeyError, ZeroDivisionError, ValueError):
        return None
    return v if isinstance(v, int) else None
