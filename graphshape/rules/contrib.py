"""onnxruntime's contrib ops (domain com.microsoft), as its optimiser writes them into saved
models (SessionOptions.optimized_model_filepath at level 'extended': FusedConv, FusedGemm,
FusedMatMul, BiasGelu, FastGelu, Gelu, SkipLayerNormalization) and as
onnxruntime.transformers.optimizer fuses BERT/GPT-2/ViT (EmbedLayerNormalization,
Attention, SkipLayerNormalization, BiasGelu, FastGelu, Gelu).

Each rule imposes the checks onnxruntime 1.31.1's CPU kernels make, measured one node at a
time on the installed onnxruntime (tests/test_rules_contrib.py re-measures every case):
- FusedMatMul: MatMul's numpy rules after transBatchA/B (rank >= 3, equal ranks: the first
  dim moves behind the batch dims) and transA/B (the last two dims swap); a 1-D A with
  transA reads outside the shape in MatMulComputeHelper: unproven.
- FusedGemm / FusedConv: Gemm / Conv exactly, plus the activation the kernel can build
  (FusedGemm: Relu, Tanh, Sigmoid, LeakyRelu, Softplus, Softsign; FusedConv: none, Relu,
  Tanh, Sigmoid, LeakyRelu with 1 activation_params, Clip and HardSigmoid with 2; others
  are refused at load or unmeasured: unproven). FusedConv's Z must have Y's shape exactly.
- BiasGelu / FastGelu: bias 1-D of the input's last dim.
- SkipLayerNormalization (and the simplified one): input 2-D or 3-D, hidden size >= 1;
  2-D: skip has input's shape; 3-D: skip 2-D or 3-D with input's last two dims, any batch
  (the kernel reads skip modulo its size, and divides by zero on an empty skip);
  gamma/beta/bias 1-D of the hidden size.
- SimplifiedLayerNormalization (onnxruntime's op in the ONNX domain): scale broadcasts to
  X's whole shape whatever the axis, X[axis:] not empty.
- EmbedLayerNormalization: the tables' dims must be known at load and agree; ids [B, S]
  (segment ids, mask of that shape); positions s (or position_ids) index the position
  table: S <= its rows, exactly; word/segment ids index their tables (a graph input's ids
  are the caller's promise, as for Gather); mask_index [B] is an output unless
  mask_index_type = 0.
- Attention: input [B, S, D], weights [D, 3D'], bias [3D'] (required: the kernel crashes
  without it), the q/k/v hidden sizes divisible by num_heads; past [2, B, heads, P, head]
  (then the present output is required, k == v, no attention_bias); T = S + P; mask_index
  [B] or [2B], [B, T] / [B, 1] / [1, 1], [B, S, T]; 4-D masks are refused by the CPU
  kernel; attention_bias [1 or B, 1 or heads, S, T]. Rotary, past_sequence_length and
  shared past/present buffers are left unproven.
Element types: the CPU provider registers float kernels (float16 runs through inserted
Casts, measured); a type not measured to run is unproven.
"""

from __future__ import annotations

from graphshape.arith.dims import add, mul, structurally_equal, to_str
from graphshape.errors import Unsupported
from graphshape.loader.tensor import DOUBLE, FLOAT, FLOAT16, INT32, Bounds, Tensor
from graphshape.rules._common import unidirectional
from graphshape.rules._ranges import bounds_of, check_indices, is_input_data
from graphshape.rules.conv_pool import conv
from graphshape.rules.linalg import gemm, matmul
from graphshape.shapes.constraints import Constraint as C
from graphshape.shapes.registry import rule

MS = "com.microsoft"
_F = frozenset({FLOAT, FLOAT16})
_FD = frozenset({FLOAT, FLOAT16, DOUBLE})
_WORDS: dict[int, str] = {FLOAT: "float32", FLOAT16: "float16", DOUBLE: "float64", INT32: "int32"}


def _types(ctx, allowed, *named) -> None:
    """Element types the CPU provider was measured to run (others: unproven, or refused at
    load by the schema)."""
    for t, what in named:
        if t is None or not isinstance(t.dtype, int):
            continue
        if t.dtype not in allowed:
            have = _WORDS.get(t.dtype, f"element type {t.dtype}")
            ctx.assume(f"{what} is {have}; onnxruntime 1.31.1's CPU provider was only "
                       f"measured to run {ctx.op} on "
                       f"{', '.join(sorted(_WORDS[a] for a in allowed))}")
            return


def _known(t) -> bool:
    return isinstance(t.dtype, int) and t.dtype > 0


def _rank(ctx, t, ranks, what: str) -> int:
    r = len(t.shape)
    if r not in ranks:
        want = " or ".join(str(x) for x in ranks)
        ctx.fail(f"{what} must be {want}-D, found rank {r}")
    return r


def _vec(ctx, t, n, what: str) -> None:
    """A 1-D tensor of length n."""
    if t is None:
        return
    _rank(ctx, t, (1,), what)
    ctx.eq(t.shape[0], n, f"{what} must have length {to_str(n)} (the input's last dim)")


# ---- elementwise activations ---------------------------------------------------------------
@rule("Gelu", domain=MS)
def gelu(ctx, X):
    """Y = X * Phi(X), X's shape."""
    _types(ctx, _F, (X, "X"))
    return Tensor(X.shape, X.dtype)


@rule("QuickGelu", domain=MS)
def quick_gelu(ctx, X, *, alpha: float = 1.702):
    """Y = X * sigmoid(alpha X), X's shape."""
    _types(ctx, _FD, (X, "X"))
    return Tensor(X.shape, X.dtype)


def _gelu_with_bias(ctx, allowed, X, x_name: str, bias, bias_name: str) -> Tensor:
    """X's shape; the bias (when given) is 1-D of X's last dim."""
    _types(ctx, allowed, (X, x_name))
    if len(X.shape) < 1:
        ctx.fail(f"{x_name} must have rank >= 1")
    _vec(ctx, bias, X.shape[-1], bias_name)
    return Tensor(X.shape, X.dtype)


@rule("BiasGelu", domain=MS)
def bias_gelu(ctx, A, B):
    """Gelu(A + B): B is 1-D of A's last dim (bias_gelu_helper.cc)."""
    return _gelu_with_bias(ctx, _F, A, "A", B, "B")


@rule("FastGelu", domain=MS)
def fast_gelu(ctx, X, bias=None):
    """Tanh-approximated Gelu(X + bias): bias, when given, is 1-D of X's last dim."""
    return _gelu_with_bias(ctx, _FD, X, "X", bias, "bias")


# ---- fused linear algebra ------------------------------------------------------------------
@rule("FusedMatMul", domain=MS)
def fused_matmul(ctx, A, B, *, alpha: float = 1.0, transA: int = 0, transB: int = 0,
                 transBatchA: int = 0, transBatchB: int = 0):
    """alpha * MatMul(A', B'): transBatch moves dim 0 behind the batch dims, trans swaps the
    last two (core/providers/cpu/math/matmul_helper.h)."""
    _types(ctx, _FD, (A, "A"))
    a, b = list(A.shape), list(B.shape)
    if not a or not b:
        ctx.fail("FusedMatMul operands must have rank >= 1")
    if transBatchA or transBatchB:
        if len(a) <= 2 or len(a) != len(b):
            ctx.fail("with transBatchA/transBatchB both inputs must have one rank, >= 3 "
                     f"(found {len(a)} and {len(b)})")
        if transBatchA:
            a = a[1:-1] + [a[0], a[-1]]
        if transBatchB:
            b = b[1:-1] + [b[0], b[-1]]
    if transA:
        if len(a) == 1:
            raise Unsupported("transA on a 1-D A: onnxruntime reads outside its shape")
        a[-2], a[-1] = a[-1], a[-2]
    if transB and len(b) >= 2:
        b[-2], b[-1] = b[-1], b[-2]
    out = matmul(ctx, Tensor(tuple(a), A.dtype), Tensor(tuple(b), B.dtype))
    return Tensor(out.shape, A.dtype)


_GEMM_ACTS = {"Relu", "Tanh", "Sigmoid", "LeakyRelu", "Softplus", "Softsign"}


@rule("FusedGemm", domain=MS)
def fused_gemm(ctx, A, B, C=None, *, alpha: float = 1.0, beta: float = 1.0, transA: int = 0,
               transB: int = 0, activation: str | None = None,
               activation_alpha: float | None = None, activation_beta: float | None = None,
               activation_gamma: float | None = None):
    """activation(Gemm(A, B, C)) (contrib_ops/cpu/fused_gemm.cc)."""
    _types(ctx, _F, (A, "A"))
    if activation not in _GEMM_ACTS:
        raise Unsupported(f"activation {activation!r}: onnxruntime 1.31.1's FusedGemm was "
                          f"measured to build only {', '.join(sorted(_GEMM_ACTS))}")
    return gemm(ctx, A, B, C, alpha=alpha, beta=beta, transA=transA, transB=transB)


# activation -> the number of activation_params MLAS's fused activation takes (None: any)
_CONV_ACTS = {None: None, "Relu": None, "Tanh": 0, "Sigmoid": 0, "LeakyRelu": 1, "Clip": 2,
              "HardSigmoid": 2}


@rule("FusedConv", domain=MS)
def fused_conv(ctx, X, W, B=None, Z=None, *, activation: str | None = None,
               activation_params=None, auto_pad: str = "NOTSET", dilations=None,
               group: int = 1, kernel_shape=None, pads=None, strides=None):
    """activation(Conv(X, W, B) + Z): Conv's shape rule; Z, when given, has Y's shape
    exactly (conv.cc: 'output and sum shape must match')."""
    _types(ctx, _F, (X, "X"))
    n_params = len(activation_params or ())
    if activation not in _CONV_ACTS or (
            _CONV_ACTS[activation] is not None and n_params != _CONV_ACTS[activation]):
        raise Unsupported(f"activation {activation!r} with {n_params} activation_params: "
                          "onnxruntime builds the fused activation only for "
                          "Relu/Tanh/Sigmoid, LeakyRelu (1 param), Clip/HardSigmoid (2)")
    y = conv(ctx, X, W, B, auto_pad=auto_pad, dilations=dilations, group=group,
             kernel_shape=kernel_shape, pads=pads, strides=strides)
    if Z is not None:
        if len(Z.shape) != len(y.shape):
            ctx.fail(f"Z must have the output's rank {len(y.shape)}, found {len(Z.shape)}")
        for i, (z, d) in enumerate(zip(Z.shape, y.shape)):
            ctx.eq(z, d, f"Z's dim {i} must equal the output's {to_str(d)} (no broadcasting)")
    return Tensor(y.shape, X.dtype)


# ---- layer normalisation -------------------------------------------------------------------
def _skip_ln(ctx, input, skip, gamma, beta, bias):
    _types(ctx, _F, (input, "input"))
    r = _rank(ctx, input, (2, 3), "input")
    rs = _rank(ctx, skip, (2, 3), "skip")
    hidden = input.shape[-1]
    if r == 2:
        if rs != 2:
            ctx.fail("a 2-D input needs a skip of its shape")
        for i in range(2):
            ctx.eq(skip.shape[i], input.shape[i], f"skip's dim {i} must equal input's")
    else:
        for i in (-2, -1):
            ctx.eq(skip.shape[i], input.shape[i],
                   f"skip's last two dims must equal input's (dim {i})")
        if rs == 3:
            # the kernel reads skip modulo its size: any batch, but an empty skip divides
            # by zero (SIGFPE, measured) unless there is nothing to normalise
            b, s = input.shape[0], input.shape[1]
            ctx.any_of([C.ge(skip.shape[0], 1), C.eq(b, 0), C.eq(s, 0)],
                       "skip's batch may differ from input's, but it must not be empty")
    ctx.ge(hidden, 1, "the hidden size (input's last dim) must be >= 1")
    _vec(ctx, gamma, hidden, "gamma")
    _vec(ctx, beta, hidden, "beta")
    _vec(ctx, bias, hidden, "bias")
    stat = tuple(input.shape[:-1]) + (1,)
    outs = [Tensor(input.shape, input.dtype), Tensor(stat, FLOAT), Tensor(stat, FLOAT),
            Tensor(input.shape, input.dtype)]
    return outs[:max(1, ctx.n_outputs)]


@rule("SkipLayerNormalization", domain=MS)
def skip_layer_norm(ctx, input, skip, gamma, beta=None, bias=None, *, epsilon: float = 1e-12):
    """LayerNorm(input + skip + bias) (contrib_ops/cpu/skip_layer_norm_helper.h); outputs
    output, mean, inv_std_var ([..., 1]) and input_skip_bias_sum."""
    return _skip_ln(ctx, input, skip, gamma, beta, bias)


@rule("SkipSimplifiedLayerNormalization", domain=MS)
def skip_simplified_layer_norm(ctx, input, skip, gamma, bias=None, *, epsilon: float = 1e-12):
    """RMSNorm(input + skip + bias): SkipLayerNormalization's checks, no beta."""
    return _skip_ln(ctx, input, skip, gamma, None, bias)


@rule("SimplifiedLayerNormalization")
def simplified_layer_norm(ctx, X, scale, *, axis: int = -1, epsilon: float = 1e-5,
                          stash_type: int = 1):
    """RMSNorm over X[axis:]: onnxruntime's own op in the ONNX domain (the transformers
    optimizer writes it); scale broadcasts unidirectionally to X's whole shape, whatever the
    axis, and X[axis:] must not be empty (layer_norm_helper.h, measured)."""
    _types(ctx, _FD, (X, "X"))
    r = len(X.shape)
    if not -r <= axis < r:
        ctx.fail(f"axis {axis} is out of range for rank {r}")
    a = axis % r
    unidirectional(ctx, tuple(X.shape), scale.shape, "scale")
    for i in range(a, r):
        ctx.ge(X.shape[i], 1, f"X's dim {i} (normalised) must be >= 1")
    stat = tuple(X.shape[:a]) + (1,) * (r - a)
    return [Tensor(X.shape, X.dtype), Tensor(stat, FLOAT)][:max(1, ctx.n_outputs)]


# ---- EmbedLayerNormalization ---------------------------------------------------------------
def _table(ctx, t, what: str, hidden=None):
    """A 2-D embedding table whose dims onnxruntime's load-time inference must know."""
    if t is None:
        return None
    _rank(ctx, t, (2,), what)
    if not all(isinstance(d, int) for d in t.shape):
        raise Unsupported(f"{what}'s dims are computed ({', '.join(map(to_str, t.shape))}); "
                          "onnxruntime refuses the model unless they are known at load")
    if hidden is not None and t.shape[1] != hidden:
        ctx.fail(f"{what}'s dim 1 ({t.shape[1]}) must equal word_embedding's hidden size "
                 f"({hidden})")
    return t.shape[0]


def _same_shape(ctx, t, ref, what: str) -> None:
    if t is None:
        return
    if len(t.shape) != len(ref.shape):
        ctx.fail(f"{what} must have input_ids' shape, found rank {len(t.shape)}")
    for i, (a, b) in enumerate(zip(t.shape, ref.shape)):
        ctx.eq(a, b, f"{what}'s dim {i} must equal input_ids' {to_str(b)}")


@rule("EmbedLayerNormalization", domain=MS)
def embed_layer_norm(ctx, input_ids, segment_ids=None, word_embedding=None,
                     position_embedding=None, segment_embedding=None, gamma=None, beta=None,
                     mask=None, position_ids=None, *, epsilon: float = 1e-12,
                     mask_index_type: int = 1):
    """LayerNorm(word[ids] + position[s or position_ids] + segment[segment_ids]); output
    [B, S, hidden], mask_index [B] (ones per row of mask), embedding_sum [B, S, hidden]
    (contrib_ops/cpu/bert/embed_layer_norm_helper.cc, bert_defs.cc)."""
    if word_embedding is None or position_embedding is None or gamma is None or beta is None:
        ctx.fail("word_embedding, position_embedding, gamma and beta are required")
    _types(ctx, {FLOAT}, (word_embedding, "word_embedding"))
    for t, what in ((input_ids, "input_ids"), (segment_ids, "segment_ids"), (mask, "mask"),
                    (position_ids, "position_ids")):
        if t is not None and _known(t) and t.dtype != INT32:
            ctx.fail(f"{what} must be int32 (the schema's T1): onnxruntime refuses the model")
    if mask_index_type != 0 and ctx.n_outputs < 2:
        ctx.fail("with mask_index_type != 0 onnxruntime's shape inference needs the mask_index "
                 "output")
    if segment_ids is not None and segment_embedding is None:
        ctx.fail("segment_ids without segment_embedding: onnxruntime refuses the model")
    _rank(ctx, input_ids, (2,), "input_ids")
    vocab = _table(ctx, word_embedding, "word_embedding")
    hidden = word_embedding.shape[1]
    n_pos = _table(ctx, position_embedding, "position_embedding", hidden)
    n_seg = _table(ctx, segment_embedding, "segment_embedding", hidden)
    for t, what in ((gamma, "gamma"), (beta, "beta")):
        if len(t.shape) != 1 or t.shape[0] != hidden:
            ctx.fail(f"{what} must be 1-D of the hidden size {hidden}, found "
                     f"[{', '.join(map(to_str, t.shape))}]")
    b, s = input_ids.shape
    _same_shape(ctx, segment_ids, input_ids, "segment_ids")
    _same_shape(ctx, mask, input_ids, "mask")
    check_indices(ctx, input_ids, vocab, f"the {vocab} rows of word_embedding", negative=False)
    if segment_ids is not None:
        check_indices(ctx, segment_ids, n_seg, f"the {n_seg} rows of segment_embedding",
                      negative=False)
    if position_ids is None:
        # position s of every row indexes the position table (checked per token: no token,
        # no check)
        ctx.any_of([C.ge(n_pos, s), C.eq(b, 0)],
                   f"the sequence length must not exceed the {n_pos} rows of the position "
                   "table")
    else:
        if len(position_ids.shape) != 2:
            raise Unsupported(f"position_ids of rank {len(position_ids.shape)} (onnxruntime "
                              "reads its dims 0 and 1 unchecked)")
        ctx.eq(position_ids.shape[1], s, "position_ids must have input_ids' sequence length")
        p0 = position_ids.shape[0]
        if not structurally_equal(p0, b):
            ctx.any_of([C.eq(p0, 1), C.eq(p0, b)], "position_ids' dim 0 must be 1 or the batch")
        check_indices(ctx, position_ids, n_pos, f"the {n_pos} rows of position_embedding",
                      negative=False)
    hi = s if mask is not None else 0
    outs = [Tensor((b, s, hidden), word_embedding.dtype),
            Tensor((b,), INT32, bounds=Bounds(0, hi)),
            Tensor((b, s, hidden), word_embedding.dtype)]
    return outs[:max(1, ctx.n_outputs)]


# ---- Attention -----------------------------------------------------------------------------
def _mask_values_ok(ctx, m) -> None:
    """1-D masks hold key lengths; onnxruntime refuses negative ones."""
    if m.value is not None:
        if all(isinstance(v, int) and v >= 0 for v in m.value):
            return
    else:
        bd = bounds_of(ctx, m)
        if bd is not None and isinstance(bd.lo, int) and bd.lo >= 0:
            return
        if is_input_data(ctx, m):
            return  # a graph input's data: the caller's promise
    ctx.assume("mask_index holds key lengths, which must be >= 0, and graphshape cannot bound "
               "them")


def _attention_mask(ctx, m, b, s, t) -> None:
    if _known(m) and m.dtype != INT32:
        ctx.fail("mask_index must be int32 (the schema's M): onnxruntime refuses the model")
    r = len(m.shape)
    if r == 1:
        n = m.shape[0]
        if not (structurally_equal(n, b) or structurally_equal(n, mul(2, b))):
            raise Unsupported(f"a 1-D mask_index of length {to_str(n)}: onnxruntime takes "
                              "lengths B, 2B or 3B + 2, with different meanings")
        _mask_values_ok(ctx, m)
    elif r == 2:
        m0, m1 = m.shape
        ctx.any_of([C.all_of([C.eq(m0, b), C.eq(m1, t)]), C.all_of([C.eq(m0, b), C.eq(m1, 1)]),
                    C.all_of([C.eq(m0, 1), C.eq(m1, 1)])],
                   "a 2-D mask_index must be [batch, total sequence], [batch, 1] or [1, 1]")
    elif r == 3:
        for i, (d, want) in enumerate(zip(m.shape, (b, s, t))):
            ctx.eq(d, want, f"a 3-D mask_index must be [batch, sequence, total sequence] "
                            f"(dim {i})")
    elif r == 4:
        ctx.fail("onnxruntime's CPU Attention kernel does not support 4-D masks")
    else:
        ctx.fail(f"mask_index must have rank 1 to 4, found {r}")


@rule("Attention", domain=MS)
def attention(ctx, input, weights, bias=None, mask_index=None, past=None,
              attention_bias=None, past_sequence_length=None, *, num_heads: int,
              qkv_hidden_sizes=None, unidirectional: int = 0, scale: float = 0.0,
              mask_filter_value: float = -10000.0, do_rotary: int = 0,
              rotary_embedding_dim: int = 0, past_present_share_buffer: int = 0):
    """Multi-head self-attention of input [B, S, D] with packed weights [D, q + k + v]:
    output [B, S, v], present [2, B, heads, P + S, k / heads]
    (contrib_ops/cpu/bert/attention_base.cc CheckInputs)."""
    _types(ctx, _F, (input, "input"))
    if past_sequence_length is not None or (past is not None and past_present_share_buffer):
        raise Unsupported("Attention with past_sequence_length / a shared past-present buffer "
                          "is not modelled")
    if do_rotary:
        raise Unsupported("Attention with do_rotary is not modelled")
    if past is not None and attention_bias is not None:
        ctx.fail("onnxruntime's Attention cannot take both past and attention_bias")
    if num_heads < 1:
        raise Unsupported(f"num_heads {num_heads}")
    if bias is None:
        ctx.fail("onnxruntime's CPU Attention kernel needs the bias input (it crashes "
                 "without it)")
    _rank(ctx, input, (3,), "input")
    _rank(ctx, weights, (2,), "weights")
    _rank(ctx, bias, (1,), "bias")
    b, s, d_in = input.shape
    ctx.eq(weights.shape[0], d_in, "weights' dim 0 must equal input's hidden size")
    n = bias.shape[0]
    ctx.eq(weights.shape[1], n, "weights' dim 1 must equal bias' length")
    if not isinstance(n, int):
        raise Unsupported(f"bias' length {to_str(n)} is computed")
    if qkv_hidden_sizes:
        if len(qkv_hidden_sizes) != 3:
            ctx.fail("qkv_hidden_sizes must have 3 elements")
        q, k, v = (int(x) for x in qkv_hidden_sizes)
    else:
        q = k = v = n // 3
    for x in (q, k, v):
        if x % num_heads:
            ctx.fail(f"hidden size {x} is not divisible by num_heads ({num_heads})")
    if q != k:
        ctx.fail(f"q and k hidden sizes must be equal, found {q} and {k}")
    if q + k + v != n:
        ctx.fail(f"bias' length {n} must be the sum of the q/k/v hidden sizes {q + k + v}")
    head = k // num_heads
    total = s
    if past is not None:
        if k != v:
            ctx.fail(f"with past the k and v hidden sizes must be equal, found {k} and {v}")
        _rank(ctx, past, (5,), "past")
        for i, (d, want, what) in enumerate(zip(
                past.shape, (2, b, num_heads, None, head),
                ("2", "the batch", "num_heads", None, "the head size"))):
            if want is not None:
                ctx.eq(d, want, f"past's dim {i} must be {what} ({to_str(want)})")
        total = add(s, past.shape[3])
        names = _output_names(ctx)
        if names is None:
            raise Unsupported("cannot see whether the present output is named (onnxruntime "
                              "needs it with past)")
        if len(names) < 2 or not names[1]:
            ctx.fail("with past onnxruntime needs the present output")
    if mask_index is not None:
        _attention_mask(ctx, mask_index, b, s, total)
    if attention_bias is not None:
        _rank(ctx, attention_bias, (4,), "attention_bias")
        a0, a1, a2, a3 = attention_bias.shape
        for d, want, what in ((a0, b, "the batch"), (a1, num_heads, "num_heads")):
            if not structurally_equal(d, want):
                ctx.any_of([C.eq(d, want), C.eq(d, 1)], f"attention_bias' {what} axis must be "
                                                        f"1 or {to_str(want)}")
        ctx.eq(a2, s, "attention_bias' dim 2 must be the sequence length")
        ctx.eq(a3, total, "attention_bias' dim 3 must be the total sequence length")
    outs = [Tensor((b, s, v), input.dtype)]
    if ctx.n_outputs > 1:
        if k != v:
            raise Unsupported("present with k and v hidden sizes that differ")
        outs.append(Tensor((2, b, num_heads, total, head), input.dtype))
    return outs


def _output_names(ctx):
    """The node's output names, read from the walked graph (None when it cannot be seen)."""
    node = None if ctx.graph is None else ctx.graph.node(ctx.name)
    return None if node is None else list(node.output)
