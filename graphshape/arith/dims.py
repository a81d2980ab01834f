"""Symbolic dims, as the rules use them: the construction vocabulary of the arithmetic
core (graphshape.arith), re-exported under one short name.

A dim is a Python ``int`` or a canonical sympy expression; plain ints stay ints.
"""

from __future__ import annotations

from graphshape.arith.compile import compile_dim, value_at
from graphshape.arith.expr import (
    add,
    ceil_expr,
    ceildiv,
    dmax,
    dmin,
    factored,
    floor_expr,
    floordiv,
    mod,
    mul,
    prod,
    rebuilt,
    structurally_equal,
    sub,
    substitute,
    to_str,
    trunc_expr,
    truncdiv,
    truncdiv_dim,
)
from graphshape.arith.prove import Rel, at_least, can_prove, nonneg, nonpos
from graphshape.arith.terms import (
    Dim,
    free_symbols,
    is_const,
    is_data_dependent,
    is_integer_expr,
    lcm_denominator,
    lower_bound,
    may_be_empty,
    nonneg_symbol,
    norm,
    size_symbol,
    symbol,
)

__all__ = ["Dim", "symbol", "nonneg_symbol", "size_symbol", "may_be_empty", "lower_bound",
           "is_data_dependent", "norm", "is_const",
           "free_symbols", "is_integer_expr", "lcm_denominator", "floordiv", "ceildiv",
           "truncdiv", "truncdiv_dim", "floor_expr", "ceil_expr", "trunc_expr", "mod", "dmin",
           "dmax", "add", "sub", "mul", "prod", "rebuilt", "factored", "substitute", "to_str",
           "structurally_equal", "compile_dim", "value_at", "nonneg", "nonpos", "at_least",
           "can_prove", "provably", "Rel"]


def provably(e, rel: Rel) -> bool:
    """Whether ``e rel`` (Rel.NONNEG or Rel.NONPOS) holds for every size (symbols >= 1,
    data-dependent ones >= 0); False when it cannot be proved."""
    return can_prove(e, rel)
