"""Float32 values computed from the sizes, exactly as onnxruntime computes them.

A model that resizes its input inside (torchvision's GeneralizedRCNNTransform) computes a
scale in float32 from the sizes (``min(800 / min(H, W), 1333 / max(H, W))``), multiplies a
size by it and rounds (Floor, Cast to int64). float32 rounding can move such a floor, so
the value is not a quasi-affine expression of the sizes: it is kept as the program that
computes it (an ``F32`` tree) and evaluated at a given size with numpy float32 operations,
each of which rounds as onnxruntime's CPU kernels do (measured on 1.31.1: Add, Sub, Mul, Div
and Reciprocal are correctly rounded, Min/Max exact, Cast int64 -> float rounds to nearest,
Cast float -> int64 truncates, Floor/Ceil exact).

An integer made from such a value (Floor, Ceil, Cast to an integer type) is a *derived*
size: a fresh symbol (``Derived``) that the rest of the graph uses like any dim, and whose
value at a size is the program's result. ``domain/float_eval.py`` turns conditions on
derived sizes into a closed form with a boundary decided point by point.

Leaves are integer dims (``int`` / sympy expressions of the sizes and of earlier derived
sizes: their float32 is the rounded integer, as Cast int64 -> float gives) and float32
constants; a sympy expression with a power-of-two denominator (an exact float division by
32 that graphshape already carries as H/32) is allowed too: dividing by a power of two
commutes with float32 rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphshape.arith import lazy
from graphshape.arith.compile import compile_dim
from graphshape.arith.expr import to_str
from graphshape.arith.prove import at_least, nonneg
from graphshape.arith.terms import is_expr, is_integer_expr

if TYPE_CHECKING:
    import numpy as np
    import sympy
else:
    np = lazy.module("numpy")
    sympy = lazy.module("sympy")

__all__ = ["F32", "Derived", "is_f32", "leaf", "combine", "unary", "sign", "evaluate",
           "rounded", "text", "ROUNDINGS"]

ROUNDINGS = ("floor", "ceil", "trunc")
_BINARY = ("add", "sub", "mul", "div", "min", "max")
_UNARY = ("neg", "recip", "sqrt")


class F32:
    """One float32 value of the program (immutable, structurally hashable)."""

    __slots__ = ("op", "args", "_hash")

    def __init__(self, op: str, args: tuple):
        self.op = op
        self.args = args
        self._hash = hash((op, args))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return isinstance(other, F32) and self._hash == other._hash and \
            self.op == other.op and self.args == other.args

    def __repr__(self) -> str:
        return f"F32({text(self)})"

    def symbols(self) -> set:
        out: set = set()
        for a in self.args:
            if isinstance(a, F32):
                out |= a.symbols()
            elif is_expr(a):
                out |= set(a.free_symbols)
        return out


def is_f32(v) -> bool:
    return isinstance(v, F32)


def _pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def leaf(v) -> F32:
    """The float32 value of an exact value ``v`` (an int, a float32 constant, an integer
    dim, or an F32); ValueError for anything whose float32 rounding graphshape cannot
    reproduce (a rational with a denominator other than a power of two)."""
    if isinstance(v, F32):
        return v
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, float):
        return F32("const", (float(np.float32(v)),))
    if isinstance(v, int):
        return F32("int", (v,))
    if is_expr(v):
        if v.is_Integer:
            return F32("int", (int(v),))
        if is_integer_expr(v):
            return F32("int", (v,))
        num, den = sympy.fraction(sympy.together(v))
        if den.is_Integer and _pow2(int(den)) and is_integer_expr(sympy.expand(num)):
            return F32("div", (F32("int", (sympy.expand(num),)),
                               F32("const", (float(int(den)),))))
    raise ValueError(f"no float32 value for {v!r}")


def combine(op: str, a, b) -> F32:
    """float32 ``a op b`` (op: add, sub, mul, div, min, max)."""
    if op not in _BINARY:
        raise ValueError(op)
    x, y = leaf(a), leaf(b)
    if op in ("add", "mul", "min", "max") and repr_key(y) < repr_key(x):
        x, y = y, x  # commutative: one form
    return F32(op, (x, y))


def unary(op: str, a) -> F32:
    if op not in _UNARY:
        raise ValueError(op)
    return F32(op, (leaf(a),))


def repr_key(x: F32) -> str:
    return text(x)


# ---- sign (for the rounding of a derived size: only non-negative values become sizes) ----
def sign(x: F32) -> str:
    """'pos' (> 0 at every size), 'nonneg' (>= 0) or '?'; structural, never a guess."""
    if x.op == "const":
        v = x.args[0]
        return "pos" if v > 0 else "nonneg" if v == 0 else "?"
    if x.op == "int":
        d = x.args[0]
        if isinstance(d, int):
            return "pos" if d > 0 else "nonneg" if d == 0 else "?"
        if at_least(d, 1, budget=True):
            return "pos"
        return "nonneg" if nonneg(d, budget=True) else "?"
    s = [sign(a) for a in x.args]
    if x.op in ("mul", "add"):
        if "?" in s:
            return "?"
        if x.op == "add":
            return "pos" if "pos" in s else "nonneg"
        return "pos" if all(t == "pos" for t in s) else "nonneg"
    if x.op == "div":
        if s[1] != "pos" or s[0] == "?":
            return "?"
        return s[0]
    if x.op in ("recip", "sqrt"):
        return s[0] if x.op == "sqrt" else ("pos" if s[0] == "pos" else "?")
    if x.op == "min":
        if "?" in s:
            return "?"
        return "pos" if all(t == "pos" for t in s) else "nonneg"
    if x.op == "max":
        return "pos" if "pos" in s else "nonneg" if "nonneg" in s else "?"
    return "?"


# ---- evaluation --------------------------------------------------------------------------
def evaluate(x: F32, env: dict) -> np.float32:
    """The program's float32 result at ``env`` (symbol name -> int), as onnxruntime
    computes it."""
    with np.errstate(all="ignore"):
        return _eval(x, env)


def _eval(x: F32, env: dict) -> np.float32:
    op, a = x.op, x.args
    if op == "const":
        return np.float32(a[0])
    if op == "int":
        return np.float32(compile_dim(a[0])(env))
    if op in _BINARY:
        u, v = _eval(a[0], env), _eval(a[1], env)
        if op == "add":
            return np.float32(u + v)
        if op == "sub":
            return np.float32(u - v)
        if op == "mul":
            return np.float32(u * v)
        if op == "div":
            return np.float32(u / v)
        # onnxruntime's Min/Max propagate NaN as Eigen does; sizes never make a NaN here
        return np.float32(min(u, v) if op == "min" else max(u, v))
    u = _eval(a[0], env)
    if op == "neg":
        return np.float32(-u)
    if op == "recip":
        return np.float32(np.float32(1) / u)
    if op == "sqrt":
        return np.float32(np.sqrt(u))
    raise ValueError(op)


def rounded(rounding: str, v: np.float32) -> int | None:
    """floor/ceil/trunc of a float32 (None when it is not finite)."""
    f = float(v)
    if not math.isfinite(f):
        return None
    if rounding == "floor":
        return math.floor(f)
    if rounding == "ceil":
        return math.ceil(f)
    return int(f)  # trunc toward zero: static_cast<int64_t>


# ---- words -------------------------------------------------------------------------------
def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def text(x: F32) -> str:
    """The program as a formula (float32 operations read as the real ones)."""
    op, a = x.op, x.args
    if op == "const":
        return _num(a[0])
    if op == "int":
        return to_str(a[0])
    if op in ("min", "max"):
        return f"{op}({text(a[0])}, {text(a[1])})"
    if op == "recip":
        return f"1/{_paren(a[0])}"
    if op == "neg":
        return f"-{_paren(a[0])}"
    if op == "sqrt":
        return f"sqrt({text(a[0])})"
    sym = {"add": " + ", "sub": " - ", "mul": "*", "div": "/"}[op]
    left = text(a[0]) if op in ("add", "sub") else _paren(a[0])
    right = text(a[1]) if op == "add" else _paren(a[1])
    if op == "mul" and a[0].op == "recip":  # (1/m)*800 reads as 800/m
        return f"{_paren(a[1])}/{_paren(a[0].args[0])}"
    if op == "mul" and a[1].op == "recip":
        return f"{_paren(a[0])}/{_paren(a[1].args[0])}"
    return left + sym + right


def _paren(x: F32) -> str:
    t = text(x)
    if x.op in ("const", "int", "min", "max", "sqrt") and not (
            x.op == "int" and not isinstance(x.args[0], int) and
            is_expr(x.args[0]) and (x.args[0].is_Add or x.args[0].is_Mul)):
        return t
    return f"({t})"


@dataclass(frozen=True)
class Derived:
    """An integer the graph computes from a float32 value of the sizes: ``rounding`` (floor,
    ceil or trunc) of ``program``. ``symbol`` stands for it in every shape downstream."""

    symbol: sympy.Symbol
    rounding: str
    program: F32
    node: str
    op: str
    depends: tuple = field(default=())  # earlier derived symbols its program reads

    def value(self, env: dict) -> int | None:
        """Its value at ``env`` (the sizes and every earlier derived value), or None when
        the float is not finite."""
        return rounded(self.rounding, evaluate(self.program, env))

    def formula(self) -> str:
        return f"{self.rounding}({text(self.program)})"
