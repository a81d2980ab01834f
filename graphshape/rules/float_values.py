"""float32 values computed from the sizes (graphshape.arith.float32) as the elementwise
rules carry them: a float32 operation whose result is not exact (a Reciprocal of a size,
a size times 0.5333, a division by a size) becomes an F32 program instead of no value, and
rounding it to an integer (Floor, Ceil, Cast to an integer type) gives a derived size
(ctx.derived), a symbol the rest of the graph uses like any dim.

Only float32 tensors carry F32 programs (float16/double round differently: no value).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphshape.arith import float32 as f32
from graphshape.arith import lazy
from graphshape.arith.terms import is_expr
from graphshape.errors import Unsupported
from graphshape.loader.tensor import FLOAT

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")

__all__ = ["OPS", "arith", "unary_value", "round_value", "cast_value", "is_symbolic"]

OPS = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Min": "min", "Max": "max"}


def is_symbolic(v) -> bool:
    return f32.is_f32(v) or (is_expr(v) and not v.is_Number)


def arith(op: str, a, b):
    """float32 ``a op b`` as a program (one operand symbolic or a program)."""
    if op not in OPS:
        raise Unsupported(f"no float32 value rule for {op} of a value computed from sizes")
    try:
        return f32.combine(OPS[op], a, b)
    except ValueError as e:
        raise Unsupported(str(e)) from None


def unary_value(op: str, v, dtype):
    """Reciprocal / Neg / Sqrt of a float32 value computed from sizes, or None when the
    op or the value is not one carried as a program."""
    if f32.is_f32(v) and (dtype != FLOAT or op not in ("Reciprocal", "Neg", "Sqrt")):
        raise Unsupported(f"no float32 value rule for {op} of a value computed from sizes")
    if dtype != FLOAT or not is_symbolic(v) or op not in ("Reciprocal", "Neg", "Sqrt"):
        return None
    if op == "Neg" and not f32.is_f32(v):
        return None  # exact: the elementwise rule negates the expression
    try:
        return f32.unary({"Reciprocal": "recip", "Neg": "neg", "Sqrt": "sqrt"}[op], v)
    except ValueError as e:
        raise Unsupported(str(e)) from None


def round_value(ctx, rounding: str, v):
    """floor / ceil / trunc of a program: a derived size (a fresh symbol standing for the
    rounded float32 result, evaluated exactly per size). Only non-negative programs become
    sizes (a derived size is >= 0; a negative one is never a dim)."""
    s = f32.sign(v)
    if s == "?":
        raise Unsupported(f"the sign of the float32 value {f32.text(v)} is not decided")
    if rounding == "trunc":
        rounding = "floor"  # equal for a non-negative float
    return ctx.derived(rounding, v)


def cast_value(ctx, v, dtype, int_types):
    """Cast of a program: float32 keeps it, an integer type truncates it to a derived
    size, any other type has no value (Unsupported)."""
    if dtype == FLOAT:
        return v
    if dtype in int_types:
        return round_value(ctx, "trunc", v)
    raise Unsupported("a float32 value computed from sizes cast to another float type")
