"""Shape-preserving and generator ops that need more than the elementwise rule:
Trilu, CumSum/CumProd, IsInf, (de)quantisation, QLinearConv/ConvInteger, EyeLike, random
generators, Multinomial, ReverseSequence, window functions, CenterCropPad."""

from __future__ import annotations

from graphshape.arith.dims import ceildiv, to_str
from graphshape.errors import Unsupported
from graphshape.loader.tensor import BOOL, FLOAT, INT32, INT64, UINT8, Tensor
from graphshape.rules._common import const_ints, ints
from graphshape.rules.conv_pool import conv
from graphshape.shapes.registry import rule


def _axis(ctx, axis, rank):
    if not -rank <= axis < rank:
        ctx.fail(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


@rule("Trilu")
def trilu(ctx, input, k=None, *, upper: int = 1):
    """Y has X's shape; rank >= 2."""
    if len(input.shape) < 2:
        ctx.fail(f"input must have rank >= 2, found {len(input.shape)}")
    return Tensor(input.shape, input.dtype)


@rule("CumSum", "CumProd")
def cumsum(ctx, x, axis, *, exclusive: int = 0, reverse: int = 0):
    """Y has x's shape; axis (a scalar input) within the rank."""
    a = const_ints(axis, "axis")
    if len(a) != 1:
        ctx.fail("axis must hold one value")
    _axis(ctx, a[0], len(x.shape))
    return Tensor(x.shape, x.dtype)


@rule("IsInf")
def isinf(ctx, X, *, detect_negative: int = 1, detect_positive: int = 1):
    """Y (bool) has X's shape."""
    return Tensor(X.shape, BOOL)


def _quant_params(ctx, x, scale, zero_point, axis, block_size):
    if block_size:
        _blocked(ctx, x, scale, zero_point, axis, block_size)
        return
    for t, what in ((scale, "scale"), (zero_point, "zero point")):
        if t is None:
            continue
        if len(t.shape) == 0 or tuple(t.shape) == (1,):
            continue  # per-tensor
        if len(t.shape) != 1:
            raise Unsupported(f"{what} of rank {len(t.shape)}")
        a = _axis(ctx, axis, len(x.shape))
        ctx.eq(t.shape[0], x.shape[a], f"per-axis {what} length must equal axis {a} of x "
                                       f"({to_str(x.shape[a])})")


def _blocked(ctx, x, scale, zero_point, axis, block_size):
    """Blocked scales: x's shape with ceil(x.shape[axis] / block_size) on the axis."""
    r = len(x.shape)
    a = _axis(ctx, axis, r)
    for t, what in ((scale, "scale"), (zero_point, "zero point")):
        if t is None:
            continue
        if len(t.shape) != r:
            ctx.fail(f"blocked {what} must have rank {r}, found {len(t.shape)}")
        for i in range(r):
            want = ceildiv(x.shape[i], block_size) if i == a else x.shape[i]
            ctx.eq(t.shape[i], want, f"blocked {what} dim {i} must be {to_str(want)}")


@rule("QuantizeLinear")
def quantize_linear(ctx, x, y_scale, y_zero_point=None, *, axis: int = 1,
                    block_size: int = 0, output_dtype: int = 0, precision: int = 0,
                    saturate: int = 1):
    """y has x's shape; a 1-D scale is per-axis with length x.shape[axis]."""
    _quant_params(ctx, x, y_scale, y_zero_point, axis, block_size)
    dtype = output_dtype or (y_zero_point.dtype if y_zero_point is not None else UINT8)
    return Tensor(x.shape, dtype)


@rule("DequantizeLinear")
def dequantize_linear(ctx, x, x_scale, x_zero_point=None, *, axis: int = 1,
                      block_size: int = 0, output_dtype: int = 0):
    """y has x's shape; a 1-D scale is per-axis with length x.shape[axis]."""
    _quant_params(ctx, x, x_scale, x_zero_point, axis, block_size)
    return Tensor(x.shape, output_dtype or x_scale.dtype or FLOAT)


@rule("DynamicQuantizeLinear")
def dynamic_quantize_linear(ctx, x):
    """y: x's shape (uint8); y_scale, y_zero_point: scalars."""
    return [Tensor(x.shape, UINT8), Tensor((), FLOAT), Tensor((), UINT8)]


@rule("QLinearConv")
def qlinear_conv(ctx, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
                 y_zero_point, B=None, *, auto_pad: str = "NOTSET", dilations=None,
                 group: int = 1, kernel_shape=None, pads=None, strides=None):
    """Conv's output shape (conv_pool.conv) with y_zero_point's type."""
    out = conv(ctx, x, w, B, auto_pad=auto_pad, dilations=dilations, group=group,
               kernel_shape=kernel_shape, pads=pads, strides=strides)
    return Tensor(out.shape, y_zero_point.dtype)


@rule("ConvInteger")
def conv_integer(ctx, x, w, x_zero_point=None, w_zero_point=None, *,
                 auto_pad: str = "NOTSET", dilations=None, group: int = 1, kernel_shape=None,
                 pads=None, strides=None):
    """Conv's output shape (conv_pool.conv), int32."""
    out = conv(ctx, x, w, None, auto_pad=auto_pad, dilations=dilations, group=group,
               kernel_shape=kernel_shape, pads=pads, strides=strides)
    return Tensor(out.shape, INT32)


@rule("EyeLike")
def eye_like(ctx, input, *, dtype=None, k: int = 0):
    """Y has the input's 2-D shape."""
    if len(input.shape) != 2:
        ctx.fail(f"input must be 2-D, found rank {len(input.shape)}")
    return Tensor(input.shape, dtype if dtype is not None else input.dtype)


@rule("RandomNormal", "RandomUniform")
def random(ctx, *, shape, dtype: int = FLOAT, mean: float = 0.0, scale: float = 1.0,
           high: float = 1.0, low: float = 0.0, seed=None):
    """Y has the ``shape`` attribute."""
    return Tensor(tuple(int(d) for d in shape), dtype)


@rule("RandomNormalLike", "RandomUniformLike", "Bernoulli")
def random_like(ctx, input, *, dtype=None, mean: float = 0.0, scale: float = 1.0,
                high: float = 1.0, low: float = 0.0, seed=None):
    """Y has the input's shape."""
    return Tensor(input.shape, dtype if dtype is not None else input.dtype)


@rule("Multinomial")
def multinomial(ctx, input, *, dtype: int = INT32, sample_size: int = 1, seed=None):
    """[batch, sample_size] from input [batch, classes]."""
    if len(input.shape) != 2:
        ctx.fail(f"input must be 2-D, found rank {len(input.shape)}")
    return Tensor((input.shape[0], sample_size), dtype)


@rule("ReverseSequence")
def reverse_sequence(ctx, input, sequence_lens, *, batch_axis: int = 1, time_axis: int = 0):
    """Y has the input's shape; sequence_lens has one entry per batch."""
    if len(input.shape) < 2:
        ctx.fail("input must have rank >= 2")
    ctx.eq(sequence_lens.shape[0], input.shape[_axis(ctx, batch_axis, len(input.shape))],
           "sequence_lens must have one entry per batch element")
    return Tensor(input.shape, input.dtype)


@rule("HannWindow", "HammingWindow", "BlackmanWindow")
def window(ctx, size, *, output_datatype: int = FLOAT, periodic: int = 1):
    """[size]."""
    n = ints(size, "size")
    if len(n) != 1:
        ctx.fail("size must hold one value")
    ctx.ge(n[0], 0, "size must be non-negative")
    return Tensor((n[0],), output_datatype)


@rule("CenterCropPad")
def center_crop_pad(ctx, input_data, shape, *, axes=None):
    """The given axes take the sizes in ``shape``; the others are unchanged."""
    sz = ints(shape, "shape")
    r = len(input_data.shape)
    ax = [_axis(ctx, a, r) for a in axes] if axes is not None else list(range(r))
    if len(sz) != len(ax):
        ctx.fail(f"shape has {len(sz)} entries for {len(ax)} axes")
    out = list(input_data.shape)
    for a, s in zip(ax, sz):
        out[a] = s
    return Tensor(tuple(out), input_data.dtype)


_ = INT64


@rule("RNN", "GRU", "LSTM")
def recurrent(ctx, X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None,
              P=None, *, activation_alpha=None, activation_beta=None, activations=None,
              clip=None, direction: str = "forward", hidden_size=None, input_forget: int = 0,
              layout: int = 0, linear_before_reset: int = 0):
    """Y [seq, dirs, batch, hidden], Y_h/Y_c [dirs, batch, hidden] (layout 1: batch first);
    W is [dirs, gates*hidden, input_size] with input_size = X's last dim."""
    if len(X.shape) != 3 or len(W.shape) != 3 or len(R.shape) != 3:
        ctx.fail("X, W and R must be 3-D")
    if hidden_size is None:
        raise Unsupported("hidden_size attribute missing")
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[ctx.op]
    dirs = 2 if direction == "bidirectional" else 1
    seq, batch = (X.shape[1], X.shape[0]) if layout else (X.shape[0], X.shape[1])
    ctx.eq(W.shape[0], dirs, f"W's first dim must be the number of directions ({dirs})")
    ctx.eq(W.shape[1], gates * hidden_size, f"W's second dim must be {gates * hidden_size}")
    ctx.eq(W.shape[2], X.shape[2], "W's input size must equal X's last dim")
    if layout:
        y = (batch, seq, dirs, hidden_size)
        h = (batch, dirs, hidden_size)
    else:
        y = (seq, dirs, batch, hidden_size)
        h = (dirs, batch, hidden_size)
    return [Tensor(y, X.dtype), Tensor(h, X.dtype), Tensor(h, X.dtype)][:max(1, ctx.n_outputs)]
