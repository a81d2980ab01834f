"""The vocabulary of the arithmetic core: dims, symbols, structural facts.

A dim is a Python ``int`` or a sympy expression; a dim that is a number is always a plain
int (never a sympy Integer), so constant shapes never touch sympy. Input sizes are
positive integer symbols; data-dependent counts (NonZero, TopK with computed k) are
non-negative ones.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeAlias

from graphshape.arith import lazy

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")

__all__ = ["Dim", "MAX_SIZE", "symbol", "nonneg_symbol", "size_symbol", "may_be_empty",
           "is_data_dependent", "lower_bound", "norm", "is_const", "is_expr",
           "free_symbols", "is_integer_expr", "lcm_denominator"]

# a string, so that defining it does not import sympy (arith/lazy.py)
Dim: TypeAlias = "int | sympy.Expr"

_SYMBOLS: dict[str, sympy.Symbol] = {}


def symbol(name: str) -> sympy.Symbol:
    """The interned positive-integer symbol called ``name`` (an input size)."""
    s = _SYMBOLS.get(name)
    if s is None:
        s = sympy.Symbol(name, integer=True, positive=True)
        _SYMBOLS[name] = s
    return s


def nonneg_symbol(name: str) -> sympy.Symbol:
    """A symbol that may be zero (data-dependent counts: NonZero, TopK with computed k)."""
    key = "\0" + name
    s = _SYMBOLS.get(key)
    if s is None:
        s = sympy.Symbol(name, integer=True, nonnegative=True)
        _SYMBOLS[key] = s
    return s


# input sizes declared (or inferred) to may be 0: a KV cache's past length P at the first
# step. Same sympy symbol as a non-negative one of that name; not data-dependent.
_MAY_BE_EMPTY: set = set()


def size_symbol(name: str, may_be_empty: bool = False) -> sympy.Symbol:
    """The input size called ``name``: >= 1, or >= 0 when ``may_be_empty``."""
    if not may_be_empty:
        return symbol(name)
    _MAY_BE_EMPTY.add(name)
    return nonneg_symbol(name)


def may_be_empty(s) -> bool:
    """Whether ``s`` is an input size that may be 0 (declared or inferred so)."""
    return s.name in _MAY_BE_EMPTY and bool(s.is_nonnegative) and not s.is_positive


def is_data_dependent(s) -> bool:
    """Whether the symbol ``s`` is a data-dependent count (may be 0) rather than a size."""
    return bool(s.is_nonnegative) and not s.is_positive and s.name not in _MAY_BE_EMPTY


def lower_bound(s) -> int:
    """The smallest value a symbol takes: 0 for data-dependent counts and sizes that may
    be empty, 1 for sizes."""
    return 0 if s.is_nonnegative and not s.is_positive else 1


def norm(x) -> Dim:
    """Canonical form: sympy numbers become ints; expressions stay expressions."""
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, int):
        return x
    if is_expr(x):
        if x.is_Integer:
            return int(x)
        if x.is_Number:
            raise ValueError(f"non-integer dim {x}")
        return x
    if hasattr(x, "__index__"):
        return int(x)
    raise TypeError(f"not a dim: {x!r}")


def is_expr(x) -> bool:
    """Whether ``x`` is a sympy object (``isinstance(x, sympy.Basic)``), answered without
    importing sympy while nothing has (a walk at concrete sizes: arith/lazy.py)."""
    return lazy.loaded("sympy") and isinstance(x, sympy.Basic)


def is_const(x) -> bool:
    return isinstance(x, int)


def free_symbols(x) -> set:
    return set() if isinstance(x, int) else set(x.free_symbols)


def is_integer_expr(e) -> bool:
    """Structural proof that e takes integer values (sympy's assumption system is far too
    slow on large shape expressions)."""
    if isinstance(e, int):
        return True
    if e.is_Integer:
        return True
    if e.is_Symbol:
        return bool(e.is_integer)
    if e.is_Add or e.is_Mul:
        return all(is_integer_expr(a) for a in e.args)
    if e.is_Pow:
        return is_integer_expr(e.base) and e.exp.is_Integer and e.exp >= 0
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        return True
    if isinstance(e, (sympy.Max, sympy.Min, sympy.Mod)):
        return all(is_integer_expr(a) for a in e.args)
    return False


def lcm_denominator(e) -> int:
    """The lcm of the denominators of e's rational coefficients (e an affine sum)."""
    den = 1
    for term in sympy.Add.make_args(sympy.expand(e)):
        c, _ = term.as_coeff_Mul()
        if c.is_Rational:
            den = den * int(c.q) // math.gcd(den, int(c.q))
    return den


# The largest size a tensor axis can have in onnxruntime (int32 indexing in many kernels).
MAX_SIZE = 2 ** 31 - 1
