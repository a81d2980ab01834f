"""Reductions, arg-reductions, softmax family and normalisation layers.

Conditions follow onnxruntime 1.31 (CPU), checked by experiment: BatchNormalization and
InstanceNormalization need per-channel inputs of length C; InstanceNormalization needs
rank >= 3, LRN rank 4 exactly; GroupNormalization needs C % num_groups == 0 with scale of
length num_groups (opset 18) or C (opset 21); LayerNormalization's scale/bias must
broadcast to X.shape[axis:]. Reducing an empty axis is allowed except by ArgMax/ArgMin.
"""

from __future__ import annotations

from graphshape.arith.dims import dmax, dmin, prod, structurally_equal, sub, to_str
from graphshape.errors import Unsupported
from graphshape.loader.tensor import FLOAT, INT64, Bounds, Tensor
from graphshape.rules._common import const_ints, unidirectional
from graphshape.shapes.constraints import Constraint
from graphshape.shapes.known import at_least_given
from graphshape.shapes.registry import rule


def _axis(ctx, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        ctx.fail(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def _rank_at_least(ctx, X, n: int, what: str = "X"):
    if len(X.shape) < n:
        ctx.fail(f"{what} must have rank >= {n}, found {len(X.shape)}")


def _channel_vec(ctx, t, c, what: str):
    if t is None or t.shape is None:
        return
    if len(t.shape) != 1:
        ctx.fail(f"{what} must be 1-D, found rank {len(t.shape)}")
    ctx.eq(t.shape[0], c, f"{what} length must equal the channel count {to_str(c)}")


# ---- softmax family -----------------------------------------------------------------------
@rule("Softmax", "LogSoftmax", "Hardmax")
def softmax(ctx, input, *, axis: int | None = None):
    """Y has X's shape; axis in [-r, r-1] (default 1 before opset 13, -1 after)."""
    r = len(input.shape)
    if r < 1:
        ctx.fail("input rank must be >= 1")
    if axis is None:
        axis = 1 if ctx.opset < 13 else -1
    if ctx.opset < 13 and axis == 1 and r == 1:
        raise Unsupported("default axis 1 on a 1-D input (pre-opset-13 coercion)")
    _axis(ctx, axis, r)
    return Tensor(input.shape, input.dtype)


# ---- reductions ---------------------------------------------------------------------------
REDUCE = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
          "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]


def _reduce_value(op, data, axes, keepdims):
    """Contents of a reduced 1-D shape vector (ReduceProd of Shape...)."""
    if data.value is None or len(data.shape) != 1 or axes != [0]:
        return None
    vals = list(data.value)
    if not vals or any(isinstance(v, float) for v in vals):
        return None
    if op == "ReduceProd":
        v = prod(vals)
    elif op == "ReduceSum":
        v = vals[0]
        for w in vals[1:]:
            v = v + w
        v = prod([v])
    elif op == "ReduceMax":
        v = dmax(*vals)
    elif op == "ReduceMin":
        v = dmin(*vals)
    else:
        return None
    return (v,)


def reduced_shape(ctx, shape, axes, keepdims: int, noop: int):
    r = len(shape)
    if not axes:
        if noop:
            return tuple(shape), []
        axes = list(range(r))
    ax = sorted({_axis(ctx, a, r) for a in axes})
    if keepdims:
        out = tuple(1 if i in ax else d for i, d in enumerate(shape))
    else:
        out = tuple(d for i, d in enumerate(shape) if i not in ax)
    return out, ax


@rule(*REDUCE)
def reduce(ctx, data, axes=None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
           **legacy):
    """Reduced axes become 1 (keepdims) or vanish; no axes = all (or none with noop)."""
    # an ``axes`` attribute binds to the ``axes`` parameter by name: a list, not a Tensor
    axes_attr = None if axes is None or isinstance(axes, Tensor) else list(axes)
    if legacy:
        raise Unsupported(f"unexpected attributes {sorted(legacy)}")
    if ctx.opset >= (13 if ctx.op == "ReduceSum" else 18):
        if axes_attr is not None:
            raise Unsupported("an axes attribute where the opset takes an axes input")
        ax = const_ints(axes, "axes") if axes is not None else []
        noop = noop_with_empty_axes
    else:
        if isinstance(axes, Tensor):
            raise Unsupported("an axes input where the opset takes an axes attribute")
        ax = axes_attr or []
        noop = 0
    out, done = reduced_shape(ctx, data.shape, ax, keepdims, noop)
    value = _reduce_value(ctx.op, data, done, keepdims) if len(out) <= 1 else None
    return Tensor(out, data.dtype, value)


@rule("ArgMax", "ArgMin")
def argmax(ctx, data, *, axis: int = 0, keepdims: int = 1, select_last_index: int = 0):
    """The axis becomes 1 (keepdims) or vanishes; int64; the axis must not be empty."""
    r = len(data.shape)
    a = _axis(ctx, axis, r)
    ctx.ge(data.shape[a], 1, f"{ctx.op} over axis {a} needs a non-empty axis")
    out, _ = reduced_shape(ctx, data.shape, [a], keepdims, 0)
    # positions along the (non-empty) axis, not necessarily all attained: a GatherElements
    # or Gather on the same axis (torch.gather(x, 2, x.argmax(2, keepdim=True))) is proved
    return Tensor(out, INT64, bounds=Bounds(0, sub(data.shape[a], 1)))


# ---- normalisation ------------------------------------------------------------------------
@rule("BatchNormalization")
def batch_norm(ctx, X, scale, B, input_mean, input_var, *, epsilon: float = 1e-5,
               momentum: float = 0.9, training_mode: int = 0, spatial: int = 1,
               is_test: int = 0, consumed_inputs=None):
    """Y has X's shape; scale, B, mean, var have length C = X.shape[1]."""
    _rank_at_least(ctx, X, 2)
    if spatial != 1:
        raise Unsupported("BatchNormalization with spatial=0")
    c = X.shape[1]
    for t, what in ((scale, "scale"), (B, "B"), (input_mean, "mean"), (input_var, "var")):
        _channel_vec(ctx, t, c, what)
    outs = [Tensor(X.shape, X.dtype)]
    for _ in range(1, ctx.n_outputs):
        outs.append(Tensor((c,), X.dtype))
    return outs


@rule("InstanceNormalization")
def instance_norm(ctx, input, scale, B, *, epsilon: float = 1e-5):
    """Y has X's shape; rank >= 3; scale and B have length C."""
    _rank_at_least(ctx, input, 3, "input")
    _channel_vec(ctx, scale, input.shape[1], "scale")
    _channel_vec(ctx, B, input.shape[1], "B")
    return Tensor(input.shape, input.dtype)


def _normalized_not_empty(ctx, X, a: int) -> None:
    """onnxruntime: 'Size of X.shape[axis:] must be at least 1' (measured on 1.31.1 with an
    empty last axis: a KV cache of length 0 normalised over it)."""
    n = prod(X.shape[a:])
    if not at_least_given(ctx.graph, n, 1):
        ctx.ge(n, 1, f"X.shape[{a}:] ({to_str(n)} elements) must not be empty")


@rule("LayerNormalization")
def layer_norm(ctx, X, Scale, B=None, *, axis: int = -1, epsilon: float = 1e-5,
               stash_type: int = 1):
    """Y: X's shape; Mean, InvStdDev: X.shape[:axis] + 1s. Scale/B need only broadcast
    (unidirectionally) to X's whole shape, whatever the axis: onnxruntime 1.31.1 runs X
    [N, 3, C] at axis -1 with Scale [1, C], [3, 1], [1, 3, 1], or [2, 1, C] at N = 2
    (measured; graphshape required X[axis:] and called those sizes invalid)."""
    r = len(X.shape)
    a = _axis(ctx, axis, r)
    _normalized_not_empty(ctx, X, a)
    unidirectional(ctx, tuple(X.shape), Scale.shape, "Scale")
    if B is not None:
        unidirectional(ctx, tuple(X.shape), B.shape, "B")
    stat = tuple(X.shape[:a]) + (1,) * (r - a)
    return [Tensor(X.shape, X.dtype), Tensor(stat, FLOAT), Tensor(stat, FLOAT)][:max(1, ctx.n_outputs)]


@rule("RMSNormalization")
def rms_norm(ctx, X, scale, *, axis: int = -1, epsilon: float = 1e-5, stash_type: int = 1):
    """Y has X's shape; scale broadcasts (unidirectionally) to X's whole shape, as for
    LayerNormalization (measured on onnxruntime 1.31.1)."""
    _axis(ctx, axis, len(X.shape))
    unidirectional(ctx, tuple(X.shape), scale.shape, "scale")
    return Tensor(X.shape, X.dtype)


@rule("GroupNormalization")
def group_norm(ctx, X, scale, bias, *, num_groups: int, epsilon: float = 1e-5,
               stash_type: int = 1):
    """Y has X's shape; C % num_groups == 0; scale/bias of length G (opset 18) or C (21)."""
    _rank_at_least(ctx, X, 2)
    if num_groups < 1:
        ctx.fail(f"num_groups must be >= 1, found {num_groups}")
    c = X.shape[1]
    ctx.divides(num_groups, c, f"the channel count must be a multiple of num_groups "
                               f"({num_groups})")
    n = num_groups if ctx.opset < 21 else c
    for t, what in ((scale, "scale"), (bias, "bias")):
        # onnxruntime has no GroupNormalization kernel: it runs the op's function body,
        # whose Mul/Add broadcast scale and bias (measured on 1.31.1: scale [1], or [1, C]
        # at opset 21, run). A vector of the spec's length is what the body expects; a
        # vector of another fixed length >= 2 fails (it cannot stretch, and with two or
        # more groups the channels are not 1: measured); other shapes are unproven.
        if t is None or t.shape is None or \
                (len(t.shape) == 1 and structurally_equal(t.shape[0], n)):
            continue
        if len(t.shape) == 1 and isinstance(t.shape[0], int) and t.shape[0] >= 2 and \
                num_groups >= 2:
            _channel_vec(ctx, t, n, what)
        else:
            ctx.assume(f"{what} of shape [{', '.join(to_str(d) for d in t.shape)}] where "
                       f"the spec wants [{to_str(n)}]: onnxruntime runs GroupNormalization "
                       "through its function body, which broadcasts it (not modelled)",
                       shapes_unsure=True)
    return Tensor(X.shape, X.dtype)


@rule("LRN")
def lrn(ctx, X, *, size: int, alpha: float = 1e-4, beta: float = 0.75, bias: float = 1.0):
    """Y has X's shape; onnxruntime's CPU kernel needs rank 4."""
    if len(X.shape) != 4:
        ctx.fail(f"onnxruntime's LRN needs a 4-D input, found rank {len(X.shape)}")
    return Tensor(X.shape, X.dtype)


@rule("LpNormalization")
def lp_norm(ctx, input, *, axis: int = -1, p: int = 2):
    """Y has X's shape."""
    _axis(ctx, axis, len(input.shape))
    return Tensor(input.shape, input.dtype)


@rule("MeanVarianceNormalization")
def mvn(ctx, X, *, axes=(0, 2, 3)):
    """Y has X's shape (onnxruntime ignores axes beyond the rank)."""
    return Tensor(X.shape, X.dtype)


_ = Constraint
