"""Newer and rarer ops: Swish, SwiGLU, BitCast, TensorScatter, CausalConvWithState,
LinearAttention, FlexAttention, DFT, STFT, MelWeightMatrix, the loss ops, DeformConv, the
String ops, TfIdfVectorizer, ImageDecoder.

Conditions follow onnxruntime 1.31's CPU kernels where it has one (TensorScatter:
core/providers/cpu/llm/tensorscatter.cc; DeformConv: deform_conv_attributes.h; the loss
ops, DFT, STFT, TfIdfVectorizer, the String ops). onnxruntime 1.31 has no kernel for
SwiGLU (opset 28), LinearAttention and CausalConvWithState (opset 27) nor FlexAttention
(ai.onnx.preview): their rules follow the spec.
"""

from __future__ import annotations

from ..constraints import Constraint
from ..dims import add, ceildiv, dmax, floordiv, mul, prod, sub, to_str
from ..errors import Unsupported
from ..registry import rule
from ..tensor import BOOL, INT64, STRING, Tensor
from ._common import broadcast_shapes, const_ints, ints, norm_axis

_BITS = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64,
         14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8,
         25: 2, 26: 2}


def _index_values(ctx, t, lo, hi, what: str) -> None:
    """Every value of index tensor ``t`` in [lo, hi]: exact when the values are known; a
    graph input's data is the caller's promise; otherwise unproven."""
    if t.value is not None:
        for v in ints(t, what):
            ctx.ge(v, lo, f"{what} values must be >= {to_str(lo)}")
            ctx.ge(hi, v, f"{what} values must be <= {to_str(hi)}")
    elif getattr(t, "origin", None) != "input":
        ctx.assume(f"the values of {what} are only known at run time")


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
    a, b = _BITS.get(input.dtype), _BITS.get(to)
    if input.dtype == STRING or to == STRING:
        ctx.fail("BitCast does not take strings")
    if a is not None and b is not None and a != b:
        ctx.fail(f"BitCast needs types of one bit width, found {a} and {b} bits")
    return Tensor(input.shape, to)


# ---- KV cache, recurrent attention ----------------------------------------------------
@rule("TensorScatter", since=24)
def tensor_scatter(ctx, past_cache, update, write_indices=None, *, axis: int = -2,
                   mode: str = "linear"):
    """present_cache has past_cache's shape; update matches it except along axis, where it
    is no longer (https://onnx.ai/onnx/operators/onnx__TensorScatter.html)."""
    if mode not in ("linear", "circular"):
        ctx.fail(f"mode must be 'linear' or 'circular', found '{mode}'")
    r = len(past_cache.shape)
    if r < 2:
        ctx.fail(f"past_cache must have rank >= 2, found {r}")
    if len(update.shape) != r:
        ctx.fail(f"update must have past_cache's rank {r}, found {len(update.shape)}")
    a = axis + r if axis < 0 else axis
    if not 0 < a < r:
        ctx.fail(f"axis {axis} must name a dim in [1, rank - 1]")
    m, s = past_cache.shape[a], update.shape[a]
    ctx.ge(m, s, "the update's sequence length must not exceed the cache's")
    for d in range(r):
        if d != a:
            ctx.eq(update.shape[d], past_cache.shape[d], f"update and past_cache must agree "
                                                        f"on axis {d}")
    if write_indices is not None:
        if len(write_indices.shape) != 1:
            ctx.fail("write_indices must be 1-D")
        ctx.eq(write_indices.shape[0], past_cache.shape[0], "write_indices must have one "
                                                            "entry per batch item")
        prefix = prod(list(past_cache.shape[:a]))
        if isinstance(prefix, int) and prefix == 0:
            pass  # nothing is written, nothing is checked
        elif mode == "linear":
            _index_values(ctx, write_indices, 0, sub(m, s), "write_indices")
        else:
            if isinstance(m, int) and m == 0:
                raise Unsupported("circular mode on an empty cache (the kernel divides by 0)")
            if write_indices.value is not None:
                for v in ints(write_indices, "write_indices"):
                    ctx.ge(v, 0, "write_indices values must be >= 0")
            elif getattr(write_indices, "origin", None) != "input":
                ctx.assume("the values of write_indices are only known at run time")
    return Tensor(past_cache.shape, past_cache.dtype)


@rule("CausalConvWithState", since=27)
def causal_conv_with_state(ctx, input, weight, bias=None, past_state=None, *,
                           activation: str = "none"):
    """Depthwise causal conv: output (B, C, T), present_state (B, C, k - 1) (spec;
    onnxruntime 1.31 has no kernel)
    (https://onnx.ai/onnx/operators/onnx__CausalConvWithState.html)."""
    if len(input.shape) != 3 or len(weight.shape) != 3:
        ctx.fail("input and weight must be 3-D")
    b, c, _ = input.shape
    ctx.eq(weight.shape[0], c, "weight's first dim must equal the channel count")
    ctx.eq(weight.shape[1], 1, "weight's middle dim must be 1 (depthwise)")
    k = weight.shape[2]
    ctx.ge(k, 1, "the kernel size must be >= 1")
    if bias is not None:
        if len(bias.shape) != 1:
            ctx.fail("bias must be 1-D")
        ctx.eq(bias.shape[0], c, "bias length must equal the channel count")
    state = (b, c, sub(k, 1))
    if past_state is not None:
        if len(past_state.shape) != 3:
            ctx.fail("past_state must be 3-D")
        for i, (x, y) in enumerate(zip(past_state.shape, state)):
            ctx.eq(x, y, f"past_state axis {i} must be (batch, channels, k - 1)[{i}]")
    return [Tensor(input.shape, input.dtype), Tensor(state, input.dtype)][:ctx.n_outputs]


@rule("LinearAttention", since=27)
def linear_attention(ctx, query, key, value, past_state=None, decay=None, beta=None, *,
                     kv_num_heads: int, q_num_heads: int, chunk_size: int = 64,
                     scale: float = 0.0, update_rule: str = "gated_delta"):
    """output (B, T, Hq * dv), present_state (B, Hkv, dk, dv) (spec; onnxruntime 1.31 has no
    kernel) (https://onnx.ai/onnx/operators/onnx__LinearAttention.html)."""
    for t, what in ((query, "query"), (key, "key"), (value, "value")):
        if len(t.shape) != 3:
            ctx.fail(f"{what} must be 3-D, found rank {len(t.shape)}")
    if q_num_heads < 1 or kv_num_heads < 1 or q_num_heads % kv_num_heads:
        ctx.fail("q_num_heads must be a positive multiple of kv_num_heads >= 1")
    b, t = query.shape[0], query.shape[1]
    for x, what in ((key, "key"), (value, "value")):
        ctx.eq(x.shape[0], b, f"{what}'s batch size must equal query's")
        ctx.eq(x.shape[1], t, f"{what}'s sequence length must equal query's")
    ctx.divides(q_num_heads, query.shape[2], "query's hidden size must be a multiple of "
                                             "q_num_heads")
    ctx.divides(kv_num_heads, value.shape[2], "value's hidden size must be a multiple of "
                                              "kv_num_heads")
    dk = floordiv(query.shape[2], q_num_heads)
    dv = floordiv(value.shape[2], kv_num_heads)
    ctx.eq(key.shape[2], mul(kv_num_heads, dk), "key's hidden size must be kv_num_heads "
                                                "times the key head size")
    state = (b, kv_num_heads, dk, dv)
    if past_state is not None:
        if len(past_state.shape) != 4:
            ctx.fail("past_state must be 4-D")
        for i, (x, y) in enumerate(zip(past_state.shape, state)):
            ctx.eq(x, y, f"past_state axis {i} must match (B, Hkv, dk, dv)")
    return [Tensor((b, t, mul(q_num_heads, dv)), query.dtype),
            Tensor(state, query.dtype)][:ctx.n_outputs]


@rule("FlexAttention", since=1, domain="ai.onnx.preview")
def flex_attention(ctx, Q, K, V, *, prob_mod=None, score_mod=None, scale: float | None = None,
                   softmax_precision: int | None = None):
    """Y (B, Hq, L, Ev) from rank-4 Q, K, V (spec; onnxruntime 1.31 has no kernel)
    (https://onnx.ai/onnx/operators/onnx_aionnxpreview_FlexAttention.html)."""
    for t, what in ((Q, "Q"), (K, "K"), (V, "V")):
        if len(t.shape) != 4:
            ctx.fail(f"{what} must be 4-D, found rank {len(t.shape)}")
    b, hq, lq, e = Q.shape
    for t, what in ((K, "K"), (V, "V")):
        ctx.eq(t.shape[0], b, f"{what}'s batch size must equal Q's")
    ctx.eq(K.shape[3], e, "K's head size must equal Q's")
    ctx.eq(V.shape[1], K.shape[1], "V's head count must equal K's")
    ctx.eq(V.shape[2], K.shape[2], "V's sequence length must equal K's")
    hkv = K.shape[1]
    if isinstance(hkv, int):
        ctx.divides(hkv, hq, "the query head count must be a multiple of the key/value one")
    elif str(hkv) != str(hq):
        raise Unsupported("symbolic key/value head count")
    if prob_mod is not None or score_mod is not None:
        if ctx.subgraph_runner is None:
            raise Unsupported("no subgraph runner for score_mod/prob_mod")
        scores = Tensor((b, hq, lq, K.shape[2]), 1 if softmax_precision is None
                        else softmax_precision)
        for g in (score_mod, prob_mod):
            if g is None:
                continue
            prop = ctx.subgraph_runner(g, {g.input[0].name: scores})
            if prop.impossible:
                ctx.fail(f"subgraph '{g.name}' can never run: {prop.impossible[0]}")
            if prop.unproven:
                raise Unsupported(f"subgraph '{g.name}': {prop.unproven[0].describe()}")
            ctx.constraints.extend(prop.constraints)
    return Tensor((b, hq, lq, V.shape[3]), Q.dtype)


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


# ---- losses -----------------------------------------------------------------------------
# onnxruntime 1.31 runs both through their function bodies (GatherElements of the scores by
# the labels, Gather of the weights): label axes may be shorter than the scores' (the
# output then takes the labels' shape), labels lie in [-C, C - 1] and, with weights, in
# [-len(weights), len(weights) - 1] (ignore_index aside); measured.
def _loss(ctx, scores, labels, weights, reduction, ignore_index, what):
    if reduction not in ("none", "sum", "mean"):
        ctx.fail(f"reduction must be none, sum or mean, found '{reduction}'")
    r = len(scores.shape)
    if r < 2:
        ctx.fail(f"{what} must have rank >= 2 (N, C, ...)")
    if len(labels.shape) != r - 1:
        ctx.fail(f"the labels must have rank {r - 1}, found {len(labels.shape)}")
    c = scores.shape[1]
    ctx.ge(c, 1, "the class count must be >= 1")
    ctx.ge(scores.shape[0], labels.shape[0], "the labels' batch size must not exceed the "
                                             "scores'")
    for i, (a, b) in enumerate(zip(labels.shape[1:], scores.shape[2:])):
        ctx.ge(b, a, f"labels axis {i + 1} must not exceed the scores' axis {i + 2}")
    if weights is not None and len(weights.shape) != 1:
        ctx.fail("weights must be 1-D")
    if labels.value is not None:
        for v in ints(labels, "labels"):
            if ignore_index is not None and v == ignore_index:
                continue
            for n, whose in ((c, "the class count"),) + (
                    ((weights.shape[0], "the weights' length"),) if weights is not None
                    else ()):
                ctx.ge(add(v, n), 0, f"labels must be >= -{whose}")
                ctx.ge(sub(n, 1), v, f"labels must be < {whose}")
    elif getattr(labels, "origin", None) != "input":
        ctx.assume("the labels index the classes and are only known at run time")
    return (labels.shape if reduction == "none" else ())


@rule("SoftmaxCrossEntropyLoss", since=12)
def softmax_ce_loss(ctx, scores, labels, weights=None, *, ignore_index: int | None = None,
                    reduction: str = "mean"):
    """output (N, d1, ...) (the labels' shape) or a scalar; log_prob has scores' shape
    (https://onnx.ai/onnx/operators/onnx__SoftmaxCrossEntropyLoss.html)."""
    out = _loss(ctx, scores, labels, weights, reduction, ignore_index, "scores")
    return [Tensor(tuple(out), scores.dtype), Tensor(scores.shape, scores.dtype)][
        :ctx.n_outputs]


@rule("NegativeLogLikelihoodLoss", since=12)
def nll_loss(ctx, input, target, weight=None, *, ignore_index: int | None = None,
             reduction: str = "mean"):
    """loss (N, d1, ...) (the target's shape) or a scalar
    (https://onnx.ai/onnx/operators/onnx__NegativeLogLikelihoodLoss.html)."""
    return Tensor(tuple(_loss(ctx, input, target, weight, reduction, ignore_index, "input")),
                  input.dtype)


# ---- DeformConv -------------------------------------------------------------------------
@rule("DeformConv", since=19)
def deform_conv(ctx, X, W, offset, B=None, mask=None, *, dilations=None, group: int = 1,
                kernel_shape=None, offset_group: int = 1, pads=None, strides=None):
    """Y (N, oC, oH, oW) with Conv's output sizes; offset (N, 2*G*kH*kW, oH, oW), mask
    (N, G*kH*kW, oH, oW) (https://onnx.ai/onnx/operators/onnx__DeformConv.html)."""
    if len(X.shape) != 4:
        ctx.fail("onnxruntime's DeformConv needs a 4-D X (N, C, H, W)")
    if len(W.shape) != 4 or len(offset.shape) != 4:
        ctx.fail("W and offset must be 4-D")
    k = list(kernel_shape) if kernel_shape else list(W.shape[2:])
    if any(not isinstance(v, int) for v in k):
        raise Unsupported("the kernel size is not a constant")
    s = list(strides) if strides else [1, 1]
    d = list(dilations) if dilations else [1, 1]
    p = list(pads) if pads else [0, 0, 0, 0]
    if len(k) != 2 or len(s) != 2 or len(d) != 2 or len(p) != 4:
        ctx.fail("kernel_shape, strides, dilations (2 values) and pads (4) do not fit 2-D")
    if min(k) < 1 or min(s) < 1 or min(d) < 1 or min(p) < 0 or group < 1 or offset_group < 1:
        ctx.fail("kernel, strides, dilations, group and offset_group must be positive, pads "
                 ">= 0")
    for a, b in zip(k, W.shape[2:]):
        ctx.eq(b, a, "kernel_shape must match the weight's spatial dims")
    n, c = X.shape[0], X.shape[1]
    m = W.shape[0]
    ctx.ge(c, 1, "input channels must be >= 1")
    ctx.ge(m, 1, "output channels must be >= 1")
    ctx.eq(c, mul(W.shape[1], group), f"input channels must equal weight channels x group "
                                      f"({group})")
    ctx.divides(group, m, f"output channels must be a multiple of group ({group})")
    ctx.divides(offset_group, c, f"input channels must be a multiple of offset_group "
                                 f"({offset_group})")
    out = []
    for i in range(2):
        dk = d[i] * (k[i] - 1) + 1
        num = sub(add(X.shape[2 + i], p[i] + p[i + 2]), dk)
        ctx.ge(num, 0, f"spatial axis {i + 2}: the input plus padding must cover the dilated "
                       f"kernel {dk}")
        out.append(add(floordiv(num, s[i]), 1))
    kk = k[0] * k[1]
    for t, ch, what in ((offset, 2 * offset_group * kk, "offset"),
                        (mask, offset_group * kk, "mask")):
        if t is None:
            continue
        if len(t.shape) != 4:
            ctx.fail(f"{what} must be 4-D")
        ctx.eq(t.shape[0], n, f"{what}'s batch size must equal X's")
        ctx.eq(t.shape[1], ch, f"{what} must have {ch} channels (offset_group x kernel "
                               f"positions{' x 2' if what == 'offset' else ''})")
        ctx.eq(t.shape[2], out[0], f"{what}'s height must equal the output height")
        ctx.eq(t.shape[3], out[1], f"{what}'s width must equal the output width")
    if B is not None:
        if len(B.shape) != 1:
            ctx.fail("B must be 1-D")
        ctx.eq(B.shape[0], m, "B must have one entry per output channel")
    return Tensor((n, m, out[0], out[1]), X.dtype)


# ---- strings, text ----------------------------------------------------------------------
@rule("StringConcat", since=20)
def string_concat(ctx, X, Y):
    """Z = X + Y elementwise with broadcasting
    (https://onnx.ai/onnx/operators/onnx__StringConcat.html)."""
    return Tensor(broadcast_shapes(ctx, [X.shape, Y.shape]), STRING)


@rule("RegexFullMatch", since=20)
def regex_full_match(ctx, X, *, pattern: str | None = None):
    """Y: bool, X's shape (https://onnx.ai/onnx/operators/onnx__RegexFullMatch.html)."""
    return Tensor(X.shape, BOOL)


@rule("StringSplit", since=20)
def string_split(ctx, X, *, delimiter: str | None = None, maxsplit: int | None = None):
    """Y: X's shape + (the most pieces, known only at run time); Z: X's shape, int64
    (https://onnx.ai/onnx/operators/onnx__StringSplit.html)."""
    pieces = ctx.fresh("StringSplit piece count")
    return [Tensor(tuple(X.shape) + (pieces,), STRING), Tensor(X.shape, INT64)][
        :ctx.n_outputs]


@rule("StringNormalizer", since=10)
def string_normalizer(ctx, X, *, case_change_action: str = "NONE", is_case_sensitive: int = 0,
                      locale: str | None = None, stopwords=None):
    """[C] or [1, C] in; as many strings out as survive the stop words (at least 1)
    (https://onnx.ai/onnx/operators/onnx__StringNormalizer.html)."""
    r = len(X.shape)
    if r not in (1, 2) or (r == 2 and X.shape[0] != 1):
        if r == 2 and not isinstance(X.shape[0], int):
            ctx.eq(X.shape[0], 1, "a 2-D input must be [1, C]")
        else:
            ctx.fail("the input must be [C] or [1, C]")
    c = X.shape[-1]
    if not stopwords:
        out = c
    elif X.value is not None:
        raise Unsupported("stop words over known strings")
    else:
        out = ctx.fresh("StringNormalizer output length")
    return Tensor(((out,) if r == 1 else (1, out)), STRING)


@rule("TfIdfVectorizer", since=9)
def tfidf(ctx, X, *, max_gram_length: int, max_skip_count: int, min_gram_length: int,
          mode: str, ngram_counts, ngram_indexes, pool_int64s=None, pool_strings=None,
          weights=None):
    """[C] -> [max(ngram_indexes) + 1], [N, C] -> [N, max + 1]
    (https://onnx.ai/onnx/operators/onnx__TfIdfVectorizer.html)."""
    width = max(ngram_indexes) + 1 if len(ngram_indexes) else 0
    if len(X.shape) == 1:
        return Tensor((width,), 1)
    if len(X.shape) == 2:
        return Tensor((X.shape[0], width), 1)
    ctx.fail(f"X must be 1-D or 2-D, found rank {len(X.shape)}")


@rule("ImageDecoder", since=20)
def image_decoder(ctx, encoded_stream, *, pixel_format: str = "RGB"):
    """(H, W, C) of the decoded image, known only at run time
    (https://onnx.ai/onnx/operators/onnx__ImageDecoder.html)."""
    channels = 1 if pixel_format == "Grayscale" else 3
    return Tensor((ctx.fresh("decoded image height"), ctx.fresh("decoded image width"),
                   channels), 2)


_ = (ceildiv, dmax, const_ints, norm_axis)
