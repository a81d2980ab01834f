"""Signal ops: DFT, STFT, MelWeightMatrix (onnxruntime 1.31's CPU kernels)."""

from __future__ import annotations

from graphshape.arith.dims import add, floordiv, mul, sub
from graphshape.errors import Unsupported
from graphshape.loader.tensor import Tensor
from graphshape.rules._common import ints
from graphshape.shapes.constraints import Constraint
from graphshape.shapes.registry import rule


# ---- signal -----------------------------------------------------------------------------
def _scalar_int(t, what):
    v = ints(t, what)
    if len(v) != 1:
        raise Unsupported(f"{what} must hold one value")
    return v[0]


@rule("DFT", since=17, until=19)
def dft17(ctx, input, dft_length=None, *, axis: int = 1, inverse: int = 0, onesided: int = 0):
    """DFT with the axis as an attribute (opsets 17-19); see dft()."""
    return _dft(ctx, input, dft_length, axis, inverse, onesided)


@rule("DFT", since=20)
def dft(ctx, input, dft_length=None, axis=None, *, inverse: int = 0, onesided: int = 0):
    """Last dim 2 (complex); the signal axis becomes n = dft_length (onesided: n/2 + 1);
    inverse onesided takes n/2 + 1 bins to n real values, n = 2 (bins - 1) by default
    (https://onnx.ai/onnx/operators/onnx__DFT.html)."""
    a = -2 if axis is None else _scalar_int(axis, "axis")
    return _dft(ctx, input, dft_length, a, inverse, onesided)


def _dft(ctx, input, dft_length, a, inverse, onesided):
    r = len(input.shape)
    if r < 2:
        ctx.fail("input must have rank >= 2")
    ctx.any_of([Constraint.eq(input.shape[-1], 1), Constraint.eq(input.shape[-1], 2)],
               "the last dim must be 1 (real) or 2 (complex)")
    if not -r <= a < r:
        ctx.fail(f"axis {a} out of range for rank {r}")
    a = a % r
    if a == r - 1:
        ctx.fail("the signal axis cannot be the last (complex) axis")
    size = input.shape[a]
    out = list(input.shape)
    if onesided and inverse:
        ctx.eq(input.shape[-1], 2, "the inverse one-sided transform needs complex input "
                                   "(last dim 2)")
        n = mul(2, sub(size, 1)) if dft_length is None else _scalar_int(dft_length,
                                                                        "dft_length")
        ctx.ge(n, 1, "the inverse transform's length must be >= 1")
        out[a], out[-1] = n, 1
        return Tensor(tuple(out), input.dtype)
    n = size if dft_length is None else _scalar_int(dft_length, "dft_length")
    ctx.ge(n, 1, "dft_length must be >= 1")
    out[a] = add(floordiv(n, 2), 1) if onesided else n
    out[-1] = 2
    return Tensor(tuple(out), input.dtype)


@rule("STFT", since=17)
def stft(ctx, signal, frame_step, window=None, frame_length=None, *, onesided: int = 1):
    """(B, frames, bins, 2), frames = floor((L - W) / step) + 1, bins = W or W/2 + 1
    (https://onnx.ai/onnx/operators/onnx__STFT.html)."""
    if len(signal.shape) != 3:
        ctx.fail("signal must be 3-D (batch, length, 1 or 2)")
    step = _scalar_int(frame_step, "frame_step")
    ctx.ge(step, 1, "frame_step must be >= 1")
    if window is not None:
        if len(window.shape) != 1:
            ctx.fail("window must be 1-D")
        w = window.shape[0]
        if frame_length is not None:
            ctx.eq(_scalar_int(frame_length, "frame_length"), w,
                   "frame_length must equal the window length")
    elif frame_length is not None:
        w = _scalar_int(frame_length, "frame_length")
    else:
        ctx.fail("STFT needs a window or a frame_length")
    ctx.ge(signal.shape[1], w, "the signal must be at least one frame long")
    frames = add(floordiv(sub(signal.shape[1], w), step), 1)
    bins = add(floordiv(w, 2), 1) if onesided else w
    return Tensor((signal.shape[0], frames, bins, 2), signal.dtype)


@rule("MelWeightMatrix", since=17)
def mel_weight_matrix(ctx, num_mel_bins, dft_length, sample_rate, lower_edge_hertz,
                      upper_edge_hertz, *, output_datatype: int = 1):
    """(floor(dft_length / 2) + 1, num_mel_bins)
    (https://onnx.ai/onnx/operators/onnx__MelWeightMatrix.html)."""
    n = _scalar_int(dft_length, "dft_length")
    m = _scalar_int(num_mel_bins, "num_mel_bins")
    return Tensor((add(floordiv(n, 2), 1), m), output_datatype)
