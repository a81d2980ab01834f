"""Elementwise ops: unary activations (shape preserved) and broadcasting binaries, with
symbolic values carried through integer shape arithmetic, and element bounds (Tensor.bounds)
carried through monotone maps of tensors too long to hold.

Value semantics follow onnxruntime (measured): integer Div truncates toward zero; Mod with
fmod=0 takes the sign of the divisor (Python's %), with fmod=1 the sign of the dividend (C's
fmod); integer Div and Mod by zero fail; Clip is min(max(x, lo), hi) even when lo > hi.
A comparison of symbolic values is a value only when it is decided for every size.
"""

from __future__ import annotations

import math

from graphshape.arith.dims import (
    add,
    ceil_expr,
    dmax,
    floor_expr,
    is_integer_expr,
    norm,
    provably,
    sub,
    trunc_expr,
)
from graphshape.arith.float32 import is_f32
from graphshape.arith.prove import Rel
from graphshape.arith.terms import is_expr
from graphshape.dtypes import DataType
from graphshape.errors import Unsupported
from graphshape.loader.tensor import (
    BOOL,
    FLOAT,
    MAX_VALUE_ELEMENTS,
    STRING,
    Bounds,
    Tensor,
)
from graphshape.rules import float_values
from graphshape.rules._common import broadcast_shapes, read_values
from graphshape.rules._conditional import where_bounds
from graphshape.rules._ranges import (
    binary_bounds,
    bounds_of,
    float_floor,
    is_input_data,
    monotone,
    origin_of,
    same_elements,
    uniform_value,
    union,
)
from graphshape.rules.values import arith, is_num, sign_of, truth_value
from graphshape.shapes.constraints import Constraint
from graphshape.shapes.known import at_least_given, nonneg_given
from graphshape.shapes.quotients import quotient
from graphshape.shapes.registry import rule

UNARY = [
    "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal", "Erf",
    "Softplus", "Softsign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh",
    "Asinh", "Acosh", "Atanh", "Sign", "Round", "IsNaN", "Not", "BitwiseNot", "Mish",
]

# floats of 16 bits or more: the ones onnxruntime does arithmetic in
FLOAT_TYPES = frozenset(t for t in DataType if t.is_floating and t.bits >= 16)


def _unary_value(op: str, v):
    if op == "Neg":
        return -v if isinstance(v, float) else norm(-v)
    if op in ("Abs", "Sign", "Relu"):
        s = sign_of(v)
        if s is None:
            raise Unsupported(f"the sign of {v} is not decided")
        if op == "Sign":
            return float(s) if isinstance(v, float) else s
        if op == "Relu":
            return v if s >= 0 else (0.0 if isinstance(v, float) else 0)
        return v if s >= 0 else (-v if isinstance(v, float) else norm(-v))
    if op == "Not":
        s = sign_of(v)
        if s is None:
            raise Unsupported("undecided truth value")
        return int(s == 0)
    raise Unsupported(f"no value rule for {op}")


@rule(*UNARY)
def unary(ctx, X):
    """Y has X's shape (spec: elementwise)."""
    value = None
    if X.value is not None and ctx.op in ("Neg", "Abs", "Sign", "Relu", "Not", "Reciprocal",
                                          "Sqrt"):
        try:  # float32 programs of sizes (Reciprocal of min(H, W)): rules/float_values.py
            value = tuple(float_values.unary_value(ctx.op, v, X.dtype) or
                          _unary_value(ctx.op, v) for v in X.value)
        except Unsupported:
            value = None
    dtype = BOOL if ctx.op in ("IsNaN", "Not") else X.dtype
    b = bounds_of(ctx, X) if X.value is None else None
    bounds = None
    if b is not None:
        if ctx.op == "Neg":
            bounds = monotone(b, lambda v: norm(-v), increasing=False)
        elif ctx.op == "Relu":
            bounds = monotone(b, lambda v: dmax(v, 0))
        elif ctx.op == "Abs":
            if provably(b.lo, Rel.NONNEG):
                bounds = b
            elif provably(b.hi, Rel.NONPOS):
                bounds = monotone(b, lambda v: norm(-v), increasing=False)
            else:
                bounds = Bounds(0, dmax(norm(-b.lo), b.hi))
    return Tensor(X.shape, dtype, value, bounds)


def _round(op: str, v):
    if isinstance(v, float):
        return float(math.floor(v) if op == "Floor" else math.ceil(v))
    if isinstance(v, int):
        return v
    return floor_expr(v) if op == "Floor" else ceil_expr(v)


@rule("Floor", "Ceil")
def floor_ceil(ctx, X):
    """Y has X's shape; exact (possibly rational) contents are rounded."""
    value = None
    if X.value is not None:
        value = tuple(float_values.round_value(ctx, ctx.op.lower(), v) if is_f32(v)
                      else _round(ctx.op, v) for v in X.value)
    bounds = monotone(bounds_of(ctx, X), lambda v: _round(ctx.op, v))
    return Tensor(X.shape, X.dtype, value, bounds)


def _clip_limits(ctx, rest, attrs):
    """(lo, hi) of a Clip as exact values (None: no limit); Unsupported if unknown."""
    if ctx.opset < 11:
        return attrs.get("min"), attrs.get("max")
    lims = []
    for i in range(2):
        t = rest[i] if i < len(rest) else None
        if t is None:
            lims.append(None)
            continue
        if t.value is None or len(t.value) != 1:
            raise Unsupported("Clip limits computed at run time")
        lims.append(t.value[0])
    return lims[0], lims[1]


def _clip(v, lo, hi):
    if lo is not None:
        v = arith("Max", v, lo)
    if hi is not None:
        v = arith("Min", v, hi)
    return v


@rule("LeakyRelu", "Elu", "Selu", "HardSigmoid", "ThresholdedRelu", "Celu", "Gelu",
      "HardSwish", "Shrink", "Clip", "Dropout", "Identity")
def unary_attrs(ctx, X, *rest, **attrs):
    """Y has X's shape; extra inputs (Clip min/max, Dropout ratio) are scalars."""
    if ctx.op == "Dropout" and ctx.n_outputs > 1:
        return [Tensor(X.shape, X.dtype, X.value, **same_elements(ctx, X)),
                Tensor(X.shape, BOOL)]
    if ctx.op in ("Identity", "Dropout"):
        return Tensor(X.shape, X.dtype, X.value, **same_elements(ctx, X))
    if ctx.op == "Clip":
        try:
            lo, hi = _clip_limits(ctx, rest, attrs)
        except Unsupported:
            return Tensor(X.shape, X.dtype)
        value = None
        if X.value is not None:
            try:
                value = tuple(_clip(v, lo, hi) for v in X.value)
            except Unsupported:
                value = None
        bounds = monotone(bounds_of(ctx, X), lambda v: _clip(v, lo, hi)) \
            if X.value is None else None
        return Tensor(X.shape, X.dtype, value, bounds)
    return Tensor(X.shape, X.dtype)


def broadcast_values(op: str, shape, tensors, floating: bool = False,
                     fmod: int = 0, f32: bool = False) -> tuple | None:
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
                v = arith(op, v, w, floating, fmod, f32)
        except (Unsupported, ArithmeticError, ValueError):
            return None
        out.append(v)
    return tuple(out)


BINARY = ["Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "Greater",
          "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "BitShift", "BitwiseAnd",
          "BitwiseOr", "BitwiseXor", "PRelu"]
COMPARE = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"}


def _check_divisor(ctx, B) -> None:
    """Integer Div and Mod fail on a zero divisor (onnxruntime: 'Integer division by zero')."""
    if B.value is not None:
        for v in set(B.value):
            if is_num(v):
                if v == 0:
                    ctx.fail(f"integer {ctx.op} by zero")
                continue
            if at_least_given(ctx.graph, v, 1) or nonneg_given(ctx.graph, norm(-v - 1)):
                continue  # never 0 where the known conditions hold (Swin's window count)
            ctx.any_of([Constraint.ge(v, 1), Constraint.ge(-1, v)],
                       f"integer {ctx.op}: the divisor must not be 0")
        return
    b = bounds_of(ctx, B)
    if b is not None and (provably(sub(b.lo, 1), Rel.NONNEG) or provably(add(b.hi, 1), Rel.NONPOS)):
        return
    if is_input_data(ctx, B):
        return  # data: the caller's promise, as for indices
    ctx.assume(f"integer {ctx.op} by a divisor computed at run time, which may be 0")


@rule(*BINARY)
def binary(ctx, A, B, *, fmod: int = 0, direction=None, **_attrs):
    """C = A (op) B with multidirectional broadcasting (opset >= 7)."""
    if ctx.opset < 7:
        # onnxruntime 1.31's CPU provider registers none of these ops before opset 7
        # (measured for Add/Sub/Mul/Div/Pow/PRelu/Equal/Less/Greater/And/Or/Xor at opsets
        # 1-6: 'Could not find an implementation', with or without the legacy broadcast and
        # axis attributes): the model never loads. Unproven; the spec's output (A's shape:
        # legacy broadcasting stretches B onto A) goes on downstream
        ctx.assume(f"onnxruntime's CPU provider has no {ctx.op} kernel before opset 7 (it "
                   "refuses the model when loading it)")
        return Tensor(A.shape, BOOL if ctx.op in COMPARE else A.dtype)
    shape = broadcast_shapes(ctx, [A.shape, B.shape])
    dtype = BOOL if ctx.op in COMPARE else A.dtype
    floating = A.dtype in FLOAT_TYPES
    if ctx.op in ("Div", "Mod") and not floating and A.dtype != DataType.UNDEFINED:
        _check_divisor(ctx, B)
    if ctx.op in ("PRelu", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor"):
        return Tensor(shape, dtype)
    value = broadcast_values(ctx.op, shape, [A, B], floating, fmod, A.dtype == FLOAT)
    if value is None and ctx.op == "Div" and not floating:
        value = _constant_over_size(ctx, A, B)
    bounds = Bounds(0, 1) if value is None and ctx.op in COMPARE else None
    if value is None and ctx.op in ("Add", "Sub", "Mul", "Div", "Min", "Max", "Mod"):
        op = "FMod" if ctx.op == "Mod" and fmod else ctx.op
        bounds = binary_bounds(op, A, B, bounds_of(ctx, A), bounds_of(ctx, B), floating)
    return Tensor(shape, dtype, value, bounds)


def _constant_over_size(ctx, A, B):
    """Integer c // d for a constant c >= 0 and a size-valued d >= 1 under the known
    conditions (Swin via dynamo: 6272 // (49 * nW), a size baked at export over the
    window count): floor(c/d), a quotient the solver rewrites linearly (shapes/quotients.py).
    onnxruntime truncates toward zero, which is the floor here."""
    if A.value is None or B.value is None or len(A.value) != 1 or len(B.value) != 1:
        return None
    c, d = A.value[0], B.value[0]
    if not isinstance(c, int) or isinstance(c, bool) or c < 0 or isinstance(d, (int, float)):
        return None
    if not is_expr(d) or not is_integer_expr(d) or \
            not at_least_given(ctx.graph, d, 1):
        return None
    return (quotient(c, d),)


def _variadic_shape(ctx, data_0) -> tuple:
    """The output shape as onnxruntime 1.31's CPU kernels compute it (measured, opsets 1-8):
    opsets 1-5 have no kernel (the model never loads: unproven, the spec's shapes go on);
    Sum_6/Max_6/Min_6/Mean_6 (opsets 6-7) require every input to have exactly the first
    one's shape ('All inputs must have the same shape', element_wise_ops.cc: no size-1
    stretching, no rank padding); opset 8+ broadcasts multidirectionally."""
    if ctx.opset < 6:
        ctx.assume(f"onnxruntime's CPU provider has no {ctx.op} kernel before opset 6 (it "
                   "refuses the model when loading it)")
    if ctx.opset >= 8:
        return broadcast_shapes(ctx, [t.shape for t in data_0])
    first = tuple(data_0[0].shape)
    for k, t in enumerate(data_0[1:], 1):
        if len(t.shape) != len(first):
            ctx.fail(f"input {k} has rank {len(t.shape)} and input 0 rank {len(first)}; "
                     f"{ctx.op}-{ctx.opset} does not broadcast (all inputs must have the "
                     "same shape)")
        for axis, (a, b) in enumerate(zip(first, t.shape)):
            ctx.eq(b, a, f"{ctx.op}-{ctx.opset} does not broadcast: input {k} axis {axis} "
                         "must equal input 0's (all inputs must have the same shape)")
    return first


@rule("Sum", "Mean", "Max", "Min")
def variadic(ctx, *data_0):
    """Broadcast all inputs together (spec: multidirectional broadcasting)."""
    if not data_0:
        ctx.fail("needs at least one input")
    # an element type the CPU provider has no kernel for (Sum: float/double/float16; Mean:
    # float/float16; Max/Min: float/float16 from 6, double from 8, most integers from 12) is
    # the engine's check (ort_compat.missing_kernel, the measured table): unproven, shapes go on
    shape = _variadic_shape(ctx, data_0)
    op = {"Sum": "Add", "Max": "Max", "Min": "Min"}.get(ctx.op)
    value = broadcast_values(op, shape, list(data_0), f32=data_0[0].dtype == FLOAT) \
        if op else None
    bounds = None
    if value is None and op and len(data_0) == 2:
        a, b = data_0
        bounds = binary_bounds(op, a, b, bounds_of(ctx, a), bounds_of(ctx, b), False)
    elif value is None and len(data_0) == 1:
        bounds = bounds_of(ctx, data_0[0])
    return Tensor(shape, data_0[0].dtype, value, bounds)


@rule("Where")
def where(ctx, condition, X, Y):
    """Broadcast condition, X, Y together; values when the condition is known."""
    shape = broadcast_shapes(ctx, [condition.shape, X.shape, Y.shape])
    value = None
    c = broadcast_values("Identity", shape, [condition])
    if c is not None and X.value is not None and Y.value is not None:
        xs = broadcast_values("Identity", shape, [X])
        ys = broadcast_values("Identity", shape, [Y])
        if xs is not None and ys is not None:
            try:
                value = tuple(x if truth_value(cv) else y for cv, x, y in zip(c, xs, ys))
            except Unsupported:
                value = None
    bounds = None
    if value is None:
        cv = uniform_value(condition)
        truth = None
        if cv is not None:
            try:
                truth = truth_value(cv)
            except Unsupported:
                truth = None
        if truth is not None:  # every element picks the same side: its elements
            bounds = bounds_of(ctx, X if truth else Y)
        else:
            bounds = union([bounds_of(ctx, X), bounds_of(ctx, Y)])
            if bounds is None:  # each branch where it is taken (T5's buckets)
                bounds = where_bounds(ctx)
    return Tensor(shape, X.dtype, value, bounds)


INT_TYPES = frozenset(t for t in DataType if t.is_integer and t.bits >= 8)


def _cast_value(v, dtype):
    if dtype in FLOAT_TYPES:  # to float: exact values stay exact
        return v
    if dtype == BOOL:
        return truth_value(v)
    if dtype in INT_TYPES:  # integers: truncation toward zero
        if isinstance(v, float):
            if not math.isfinite(v):
                raise Unsupported("a non-finite float cast to an integer")
            return int(v)
        return trunc_expr(v)
    raise Unsupported("contents not tracked for this type")


@rule("Cast", "CastLike")
def cast(ctx, input, target_type=None, *, to: int = FLOAT, saturate: int = 1, round_mode=None):
    """Same shape; integer contents survive casts between integer/float types."""
    dtype = target_type.dtype if ctx.op == "CastLike" else to
    value = input.value
    if value is not None:
        try:
            value = tuple(float_values.cast_value(ctx, v, dtype, INT_TYPES) if is_f32(v)
                          else _cast_value(v, dtype) for v in value)
        except Unsupported:
            value = None
    bounds = None
    if input.value is None and dtype != BOOL and (dtype in FLOAT_TYPES or dtype in INT_TYPES):
        bounds = monotone(bounds_of(ctx, input), lambda v: _cast_value(v, dtype))
    if value is None and input.value is None and dtype in INT_TYPES and \
            input.dtype in FLOAT_TYPES and bounds is None:
        # a float read from data, made an integer (a box side, at least 1 where the graph
        # clamps it): symbolic integers (bounded elements keep their bounds instead, which
        # index checks prove with)
        lo = float_floor(ctx)
        value = read_values(ctx, input.shape,
                            None if lo is None or not math.isfinite(lo) else math.floor(lo))
    origin = origin_of(ctx, input) if dtype in INT_TYPES or dtype in FLOAT_TYPES else ""
    return Tensor(input.shape, dtype, value, bounds, origin)


# ---- activations ----------------------------------------------------------------------
@rule("Swish", since=24)
def swish(ctx, X, *, alpha: float = 1.0):
    """Y = X * Sigmoid(alpha * X), X's shape (https://onnx.ai/onnx/operators/onnx__Swish.html)."""
    return Tensor(X.shape, X.dtype)


@rule("SwiGLU", since=28)
def swiglu(ctx, A, B, *, alpha: float = 1.0):
    """Y = Swish(A) * B; A and B of identical shapes, no broadcasting (spec; onnxruntime 1.31
    has no kernel) (https://onnx.ai/onnx/operators/onnx__SwiGLU.html)."""
    if len(A.shape) != len(B.shape):
        ctx.fail(f"A and B must have the same rank, found {len(A.shape)} and {len(B.shape)}")
    for i, (a, b) in enumerate(zip(A.shape, B.shape)):
        ctx.eq(a, b, f"A and B must have identical shapes (axis {i})")
    return Tensor(A.shape, A.dtype)


@rule("BitCast", since=26)
def bitcast(ctx, input, *, to: int):
    """Same bits, type ``to`` of the same width, same shape
    (https://onnx.ai/onnx/operators/onnx__BitCast.html)."""
    a, b = _bits(input.dtype), _bits(to)
    if input.dtype == STRING or to == STRING:
        ctx.fail("BitCast does not take strings")
    if a is not None and b is not None and a != b:
        ctx.fail(f"BitCast needs types of one bit width, found {a} and {b} bits")
    return Tensor(input.shape, to)


def _bits(code: int):
    t = DataType.of(code)
    return t.bits if t is not None and t.bits else None
