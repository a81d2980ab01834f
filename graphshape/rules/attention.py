"""Attention family (opset 23 and later): Attention, RotaryEmbedding, TensorScatter,
LinearAttention, FlexAttention.

Attention follows onnxruntime 1.31's CPU kernel (core/providers/cpu/llm/attention_helper.h,
checked by experiment): Q, K, V of one rank (3 or 4); batch, kv sequence lengths and
head sizes agree; 4-D head counts come from the shapes (attributes, when given, must match),
3-D ones from q_num_heads/kv_num_heads, which must divide the hidden sizes; q heads a
multiple of kv heads; every size >= 1 (past length >= 0); attn_mask of rank 2..4 whose last
two dims are exactly (q_sequence_length, total_sequence_length) (no broadcasting there), its
head axis 1 or q_num_heads, its batch axis 1 or batch; past_key/past_value both or neither,
shaped (batch, kv_heads, past, head_size / v_head_size), and then present_key/present_value
must be outputs. onnxruntime 1.31 has no kernel for opset 25's left/right_window_size
(it refuses the attributes), nor for LinearAttention (opset 27) or FlexAttention
(ai.onnx.preview): there the spec's shapes are followed.
"""

from __future__ import annotations

from graphshape.arith.dims import (
    add,
    floordiv,
    mul,
    prod,
    structurally_equal,
    sub,
    to_str,
)
from graphshape.errors import Unsupported
from graphshape.loader.tensor import Tensor
from graphshape.rules._common import ints
from graphshape.shapes.constraints import Constraint
from graphshape.shapes.registry import rule

_MODES = (0, 1, 2, 3)


def _output_present(ctx, i: int) -> bool:
    names = getattr(ctx, "output_names", None)
    if names is not None:
        return i < len(names) and bool(names[i])
    return i < ctx.n_outputs


def _heads_divide(ctx, q_heads, kv_heads):
    if isinstance(kv_heads, int) and isinstance(q_heads, int):
        if kv_heads < 1 or q_heads % kv_heads:
            ctx.fail(f"q_num_heads ({q_heads}) must be a multiple of kv_num_heads ({kv_heads})")
    elif isinstance(kv_heads, int):
        ctx.divides(kv_heads, q_heads, f"the number of query heads must be a multiple of the "
                                       f"number of key/value heads ({kv_heads})")
    elif not structurally_equal(q_heads, kv_heads):
        raise Unsupported("the key/value head count is symbolic; q_num_heads % kv_num_heads "
                          "cannot be stated")


def _mask(ctx, m, batch, q_heads, q_seq, total):
    r = len(m.shape)
    if not 2 <= r <= 4:
        ctx.fail(f"attn_mask must be 2-D, 3-D or 4-D, found rank {r}")
    ctx.eq(m.shape[-2], q_seq, "attn_mask's second-to-last dim must equal the query sequence "
                               "length")
    ctx.eq(m.shape[-1], total, "attn_mask's last dim must equal the total sequence length "
                               "(past + key/value sequence)")
    if r >= 3:
        h = m.shape[-3]
        ctx.any_of([Constraint.eq(h, 1), Constraint.eq(h, q_heads)],
                   "attn_mask's head axis must be 1 or the number of query heads")
    if r == 4:
        b = m.shape[0]
        ctx.any_of([Constraint.eq(b, 1), Constraint.eq(b, batch)],
                   "attn_mask's batch axis must be 1 or the batch size")


def _mask_spec(ctx, m, batch, q_heads, q_seq, total):
    """The spec's rule (no onnxruntime kernel): broadcastable to (B, Hq, S, total), the last
    dim possibly shorter (padded with -inf)."""
    r = len(m.shape)
    if not 1 <= r <= 4:
        ctx.fail(f"attn_mask must have rank 1 to 4, found {r}")
    ctx.ge(total, m.shape[-1], "attn_mask's last dim must not exceed the total sequence "
                               "length")
    for d, want, what in zip(reversed(m.shape[:-1]), (q_seq, q_heads, batch),
                             ("query sequence", "head", "batch")):
        ctx.any_of([Constraint.eq(d, 1), Constraint.eq(d, want)],
                   f"attn_mask's {what} axis must be 1 or match")


def _nonpad(ctx, t, batch, total, has_past):
    if len(t.shape) != 1:
        ctx.fail(f"nonpad_kv_seqlen must be 1-D, found rank {len(t.shape)}")
    ctx.eq(t.shape[0], batch, "nonpad_kv_seqlen must have one entry per batch item")
    if has_past:
        ctx.fail("nonpad_kv_seqlen cannot be used together with past_key and past_value")
    if t.value is None:
        ctx.assume("the values of nonpad_kv_seqlen (each must lie in [0, total sequence "
                   "length]) are only known at run time")
        return
    for v in ints(t, "nonpad_kv_seqlen"):
        ctx.ge(v, 0, "nonpad_kv_seqlen values must be >= 0")
        ctx.ge(total, v, "nonpad_kv_seqlen values must not exceed the total sequence length")


@rule("Attention", since=23)
def attention(ctx, Q, K, V, attn_mask=None, past_key=None, past_value=None,
              nonpad_kv_seqlen=None, *, is_causal: int = 0, kv_num_heads: int = 0,
              q_num_heads: int = 0, qk_matmul_output_mode: int = 0, scale: float | None = None,
              softcap: float = 0.0, softmax_precision: int | None = None,
              left_window_size: int = -1, right_window_size: int = -1):
    """softmax(Q K^T * scale + mask) V; Y (B, Hq, S, Dv) or (B, S, Hq*Dv), present_* (B, Hkv,
    P+L, D/Dv), qk (B, Hq, S, P+L) (https://onnx.ai/onnx/operators/onnx__Attention.html)."""
    r = len(Q.shape)
    if r not in (3, 4):
        ctx.fail(f"Q must be 3-D or 4-D, found rank {r}")
    if len(K.shape) != r or len(V.shape) != r:
        ctx.fail(f"Q, K and V must have the same rank, found {r}, {len(K.shape)}, "
                 f"{len(V.shape)}")
    if (past_key is None) != (past_value is None):
        ctx.fail("past_key and past_value must be given together")
    if scale is not None and not scale > 0:
        ctx.fail(f"scale must be > 0 when given, found {scale}")
    if _output_present(ctx, 3) and qk_matmul_output_mode not in _MODES:
        raise Unsupported(f"qk_matmul_output_mode {qk_matmul_output_mode} with a "
                          "qk_matmul_output")
    has_past = past_key is not None
    if has_past and not (_output_present(ctx, 1) and _output_present(ctx, 2)):
        ctx.fail("with past_key/past_value, onnxruntime needs the present_key and "
                 "present_value outputs")
    batch = Q.shape[0]
    ctx.eq(K.shape[0], batch, "K's batch size must equal Q's")
    ctx.eq(V.shape[0], batch, "V's batch size must equal Q's")
    if r == 4:
        kvh = kv_num_heads if kv_num_heads > 0 else K.shape[1]
        qh = q_num_heads if q_num_heads > 0 else Q.shape[1]
        ctx.eq(K.shape[1], kvh, "K's head axis must equal kv_num_heads")
        ctx.eq(V.shape[1], kvh, "V's head axis must equal K's (kv_num_heads)")
        ctx.eq(Q.shape[1], qh, "Q's head axis must equal q_num_heads")
        ctx.eq(K.shape[3], Q.shape[3], "K's head size must equal Q's")
        q_seq, head, kv_seq, v_head = Q.shape[2], Q.shape[3], K.shape[2], V.shape[3]
        ctx.eq(V.shape[2], kv_seq, "V's sequence length must equal K's")
    else:
        if q_num_heads < 1 or kv_num_heads < 1:
            ctx.fail("3-D inputs need q_num_heads and kv_num_heads >= 1 (onnxruntime divides "
                     "by them)")
        qh, kvh = q_num_heads, kv_num_heads
        ctx.divides(qh, Q.shape[2], f"Q's hidden size must be a multiple of q_num_heads ({qh})")
        ctx.divides(kvh, V.shape[2], f"V's hidden size must be a multiple of kv_num_heads "
                                     f"({kvh})")
        q_seq, kv_seq = Q.shape[1], K.shape[1]
        head, v_head = floordiv(Q.shape[2], qh), floordiv(V.shape[2], kvh)
        ctx.eq(K.shape[2], mul(kvh, head), f"K's hidden size must equal kv_num_heads ({kvh}) "
                                           "times Q's head size")
        ctx.eq(V.shape[1], kv_seq, "V's sequence length must equal K's")
    _heads_divide(ctx, qh, kvh)
    past = 0
    if has_past:
        for t, d, what in ((past_key, head, "past_key"), (past_value, v_head, "past_value")):
            if len(t.shape) != 4:
                ctx.fail(f"{what} must be 4-D, found rank {len(t.shape)}")
            ctx.eq(t.shape[0], batch, f"{what}'s batch size must equal Q's")
            ctx.eq(t.shape[1], kvh, f"{what}'s head axis must equal the key/value head count")
            ctx.eq(t.shape[3], d, f"{what}'s last dim must equal the "
                                  f"{'head' if what == 'past_key' else 'value head'} size")
        past = past_key.shape[2]
        ctx.eq(past_value.shape[2], past, "past_value's sequence length must equal past_key's")
    for d, what in ((batch, "the batch size"), (q_seq, "the query sequence length"),
                    (kv_seq, "the key/value sequence length"), (head, "the head size"),
                    (v_head, "the value head size")):
        ctx.ge(d, 1, f"{what} must be >= 1")
    total = add(past, kv_seq)
    if attn_mask is not None:
        windowed = left_window_size != -1 or right_window_size != -1
        (_mask_spec if windowed else _mask)(ctx, attn_mask, batch, qh, q_seq, total)
    if nonpad_kv_seqlen is not None:
        _nonpad(ctx, nonpad_kv_seqlen, batch, total, has_past)
    y = (batch, qh, q_seq, v_head) if r == 4 else (batch, q_seq, mul(qh, v_head))
    outs = [Tensor(y, Q.dtype), Tensor((batch, kvh, total, head), Q.dtype),
            Tensor((batch, kvh, total, v_head), Q.dtype),
            Tensor((batch, qh, q_seq, total), Q.dtype)]
    return outs[:max(1, ctx.n_outputs)]


@rule("RotaryEmbedding", since=23)
def rotary_embedding(ctx, X, cos_cache, sin_cache, position_ids=None, *, interleaved: int = 0,
                     num_heads: int = 0, rotary_embedding_dim: int = 0):
    """Y has X's shape; caches (P, rot // 2) with position_ids (B, S) and S <= P, else
    (B, S, rot // 2); rot = rotary_embedding_dim or the head size (onnxruntime 1.31's
    rotary_embedding_helper.h: C division, no evenness check)
    (https://onnx.ai/onnx/operators/onnx__RotaryEmbedding.html)."""
    r = len(X.shape)
    if r not in (3, 4):
        ctx.fail(f"X must be 3-D or 4-D, found rank {r}")
    batch = X.shape[0]
    if r == 4:
        seq, head = X.shape[2], X.shape[3]
    else:
        if num_heads < 1:
            ctx.fail("a 3-D X needs num_heads >= 1")
        seq = X.shape[1]
        ctx.divides(num_heads, X.shape[2], f"X's hidden size must be a multiple of num_heads "
                                           f"({num_heads})")
        head = floordiv(X.shape[2], num_heads)
    rot = rotary_embedding_dim if rotary_embedding_dim > 0 else head
    if rotary_embedding_dim > 0:
        ctx.ge(head, rot, "rotary_embedding_dim must not exceed the head size")
    half = floordiv(rot, 2)
    want = 2 if position_ids is not None else 3
    for t, what in ((cos_cache, "cos_cache"), (sin_cache, "sin_cache")):
        if len(t.shape) != want:
            ctx.fail(f"{what} must be {want}-D, found rank {len(t.shape)}")
    for i, (a, b) in enumerate(zip(cos_cache.shape, sin_cache.shape)):
        ctx.eq(a, b, f"cos_cache and sin_cache must have the same shape (axis {i})")
    ctx.eq(cos_cache.shape[-1], half, "the caches' last dim must be half the rotary "
                                      "dimension (rounded down)")
    if position_ids is None:
        ctx.eq(cos_cache.shape[0], batch, "the caches' batch size must equal X's")
        ctx.eq(cos_cache.shape[1], seq, "the caches' sequence length must equal X's")
    else:
        if len(position_ids.shape) != 2:
            ctx.fail(f"position_ids must be 2-D, found rank {len(position_ids.shape)}")
        ctx.eq(position_ids.shape[0], batch, "position_ids' batch size must equal X's")
        ctx.eq(position_ids.shape[1], seq, "position_ids' sequence length must equal X's")
        ctx.ge(cos_cache.shape[0], seq, "onnxruntime cannot extend the caches: the sequence "
                                        "must not be longer than the caches")
        _positions_in_range(ctx, position_ids, cos_cache.shape[0])
    return Tensor(X.shape, X.dtype)


def _positions_in_range(ctx, position_ids, n):
    if position_ids.value is None:
        if getattr(position_ids, "origin", None) == "input":
            return  # a graph input's data: the caller's promise (README)
        ctx.assume("position_ids index the caches and their values are only known at run "
                   "time")
        return
    for v in ints(position_ids, "position_ids"):
        ctx.ge(v, 0, "position ids must be >= 0")
        ctx.ge(n, add(v, 1), f"position ids must be < the cache length {to_str(n)}")


def _index_values(ctx, t, lo, hi, what: str) -> None:
    """Every value of index tensor ``t`` in [lo, hi]: exact when the values are known; a
    graph input's data is the caller's promise; otherwise unproven."""
    if t.value is not None:
        for v in ints(t, what):
            ctx.ge(v, lo, f"{what} values must be >= {to_str(lo)}")
            ctx.ge(hi, v, f"{what} values must be <= {to_str(hi)}")
    elif getattr(t, "origin", None) != "input":
        ctx.assume(f"the values of {what} are only known at run time")


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
