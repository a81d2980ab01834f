"""Elementwise ops: unary activations (shape preserved) and broadcasting binaries, with
symbolic values carried through integer shape arithmetic."""

from __future__ import annotations

import math

import sympy

from ..dims import add, ceil_expr, dmax, dmin, floor_expr, mul, norm, sub, trunc_expr, truncdiv_dim
from ..errors import Unsupported
from ..registry import rule
from ..tensor import BOOL, FLOAT, MAX_VALUE_ELEMENTS, Tensor
from ._common import broadcast_shapes

UNARY = [
    "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal", "Erf",
    "Softplus", "Softsign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh",
    "Asinh", "Acosh", "Atanh", "Sign", "Round", "IsNaN", "Not", "BitwiseNot", "Mish",
]


@rule(*UNARY)
def unary(ctx, X):
    """Y has X's shape (spec: elementwise)."""
    value = None
    if X.value is not None and ctx.op == "Neg":
        value = tuple(norm(-v) if not isinstance(v, float) else -v for v in X.value)
    if X.value is not None and ctx.op == "Abs" and all(isinstance(v, int) for v in X.value):
        value = tuple(abs(v) for v in X.value)
    if X.value is not None and ctx.op == "Not" and all(isinstance(v, int) for v in X.value):
        value = tuple(int(not v) for v in X.value)
    dtype = BOOL if ctx.op in ("IsNaN", "Not") else X.dtype
    return Tensor(X.shape, dtype, value)


@rule("Floor", "Ceil")
def floor_ceil(ctx, X):
    """Y has X's shape; exact (possibly rational) contents are rounded."""
    value = None
    if X.value is not None:
        vals = []
        for v in X.value:
            if isinstance(v, float):
                vals.append(float(math.floor(v) if ctx.op == "Floor" else math.ceil(v)))
            elif isinstance(v, int):
                vals.append(v)
            else:
                vals.append(floor_expr(v) if ctx.op == "Floor" else ceil_expr(v))
        value = tuple(vals)
    return Tensor(X.shape, X.dtype, value)


@rule("LeakyRelu", "Elu", "Selu", "HardSigmoid", "ThresholdedRelu", "Celu", "Gelu",
      "HardSwish", "Shrink", "Clip", "Dropout", "Identity")
def unary_attrs(ctx, X, *rest, **attrs):
    """Y has X's shape; extra inputs (Clip min/max, Dropout ratio) are scalars."""
    if ctx.op == "Dropout" and ctx.n_outputs > 1:
        return [Tensor(X.shape, X.dtype), Tensor(X.shape, BOOL)]
    return Tensor(X.shape, X.dtype, X.value if ctx.op in ("Identity", "Dropout") else None)


def _arith(op: str, a, b, floating: bool = False):
    # an integral float meeting a symbolic value (Div by 32.0) is that integer
    if isinstance(a, float) and a.is_integer() and not isinstance(b, (int, float)):
        a = int(a)
    if isinstance(b, float) and b.is_integer() and not isinstance(a, (int, float)):
        b = int(b)
    if isinstance(a, float) or isinstance(b, float):
        if not all(isinstance(v, (int, float)) for v in (a, b)):
            raise Unsupported("mixed float and symbolic values")
        a, b = float(a), float(b)
        if op == "Div" and not b:
            raise Unsupported("float division by zero")
        funcs = {"Add": lambda: a + b, "Sub": lambda: a - b, "Mul": lambda: a * b,
                 "Div": lambda: a / b, "Max": lambda: max(a, b), "Min": lambda: min(a, b)}
        if op not in funcs:
            raise Unsupported(f"no float value rule for {op}")
        return funcs[op]()
    if op == "Add":
        return add(a, b)
    if op == "Sub":
        return sub(a, b)
    if op == "Mul":
        return mul(a, b)
    if op == "Div":
        if not isinstance(b, int) or b == 0:
            raise Unsupported("division by a symbolic value or zero")
        if floating:  # exact rational; Floor/Ceil/Cast decide how it becomes an integer
            if isinstance(a, int):
                return a // b if a % b == 0 else a / b
            q = sympy.sympify(a) / b
            return int(q) if q.is_Integer else q
        return truncdiv_dim(a, b)  # onnxruntime's integer Div truncates toward zero
    if op == "Mod":
        if isinstance(a, int) and isinstance(b, int) and b:
            return a % b
        raise Unsupported("symbolic Mod")
    if op == "Max":
        return dmax(a, b)
    if op == "Min":
        return dmin(a, b)
    if op == "Equal":
        if isinstance(a, int) and isinstance(b, int):
            return int(a == b)
        raise Unsupported("symbolic comparison")
    if op in ("Less", "Greater", "LessOrEqual", "GreaterOrEqual"):
        if isinstance(a, int) and isinstance(b, int):
            return int({"Less": a < b, "Greater": a > b, "LessOrEqual": a <= b,
                        "GreaterOrEqual": a >= b}[op])
        raise Unsupported("symbolic comparison")
    if op in ("And", "Or", "Xor"):
        if isinstance(a, int) and isinstance(b, int):
            return int({"And": a and b, "Or": a or b, "Xor": bool(a) != bool(b)}[op])
        raise Unsupported("symbolic logic")
    if op == "Pow":
        if isinstance(a, int) and isinstance(b, int) and b >= 0:
            return a ** b
        raise Unsupported("symbolic Pow")
    raise Unsupported(f"no value rule for {op}")


FLOAT_TYPES = {1, 10, 11, 16}


def broadcast_values(op: str, shape, tensors, floating: bool = False) -> tuple | None:
    """Elementwise value of a broadcasting op when every input's contents are known."""
    if any(t.value is None for t in tensors):
        return None
    n = 1
    for d in shape:
        if not isinstance(d, int):
            return None
        n *= d
    if n > MAX_VALUE_ELEMENTS:
        return None
    rank = len(shape)
    out = []
    for flat in range(n):
        idx = []
        r = flat
        for d in reversed(shape):
            idx.append(r % d)
            r //= d
        idx = idx[::-1]
        vals = []
        for t in tensors:
            ts = (1,) * (rank - len(t.shape)) + tuple(t.shape)
            off = 0
            for i, d in enumerate(ts):
                off = off * d + (idx[i] if d != 1 else 0)
            vals.append(t.value[off])
        try:
            v = vals[0]
            for w in vals[1:]:
                v = _arith(op, v, w, floating)
        except Unsupported:
            return None
        out.append(v)
    return tuple(out)


BINARY = ["Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "Greater",
          "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "BitShift", "BitwiseAnd",
          "BitwiseOr", "BitwiseXor", "PRelu"]
COMPARE = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"}


@rule(*BINARY)
def binary(ctx, A, B, **_attrs):
    """C = A (op) B with multidirectional broadcasting (opset >= 7)."""
    if ctx.op == "PRelu" and ctx.opset < 7:
        return Tensor(A.shape, A.dtype)
    shape = broadcast_shapes(ctx, [A.shape, B.shape])
    dtype = BOOL if ctx.op in COMPARE else A.dtype
    value = None if ctx.op == "PRelu" else broadcast_values(
        ctx.op, shape, [A, B], A.dtype in FLOAT_TYPES)
    return Tensor(shape, dtype, value)


@rule("Sum", "Mean", "Max", "Min")
def variadic(ctx, *data_0):
    """Broadcast all inputs together (spec: multidirectional broadcasting)."""
    if not data_0:
        ctx.fail("needs at least one input")
    shape = broadcast_shapes(ctx, [t.shape for t in data_0])
    op = {"Sum": "Add", "Max": "Max", "Min": "Min"}.get(ctx.op)
    value = broadcast_values(op, shape, list(data_0)) if op else None
    return Tensor(shape, data_0[0].dtype, value)


@rule("Where")
def where(ctx, condition, X, Y):
    """Broadcast condition, X, Y together; values when the condition is known."""
    shape = broadcast_shapes(ctx, [condition.shape, X.shape, Y.shape])
    value = None
    if condition.value is not None and X.value is not None and Y.value is not None:
        c = broadcast_values("Max", shape, [condition])
        xs = broadcast_values("Max", shape, [X])
        ys = broadcast_values("Max", shape, [Y])
        if c is not None and xs is not None and ys is not None and all(
                isinstance(v, int) for v in c):
            value = tuple(x if cv else y for cv, x, y in zip(c, xs, ys))
    return Tensor(shape, X.dtype, value)


@rule("Cast", "CastLike")
def cast(ctx, input, target_type=None, *, to: int = FLOAT, saturate: int = 1, round_mode=None):
    """Same shape; integer contents survive casts between integer/float types."""
    dtype = target_type.dtype if ctx.op == "CastLike" else to
    value = input.value
    if value is not None:
        if dtype in FLOAT_TYPES:  # to float: exact values stay exact
            value = tuple(value)
        elif dtype == BOOL:
            value = tuple(int(bool(v)) if isinstance(v, (int, float)) else None for v in value)
            value = None if None in value else value
        elif dtype in (2, 3, 4, 5, 6, 7, 12, 13):  # integers: truncation toward zero
            if any(isinstance(v, float) and not math.isfinite(v) for v in value):
                value = None
            else:
                value = tuple(int(v) if isinstance(v, float) else trunc_expr(v) for v in value)
        else:  # float8/float4/string...: contents not tracked
            value = None
    return Tensor(input.shape, dtype, value)
