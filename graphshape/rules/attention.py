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

from ..constraints import Constraint
from ..dims import add, floordiv, mul, structurally_equal, to_str
from ..errors import Unsupported
from ..registry import rule
from ..tensor import Tensor
from ._common import ints

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
