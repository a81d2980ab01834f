"""Rules for onnxruntime's contrib ops (com.microsoft): each case is a tiny hand-built graph
whose expectation is checked against onnxruntime 1.31.1 (CPU) at every size around its
boundaries, plus an end-to-end check on a corpus model saved after onnxruntime's own
optimiser at level 'extended' (what deployers ship): same domain as the original model.
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

import graphshape
from graphshape.domain.sets import INVALID, UNPROVEN, VALID

from .conftest import assert_agrees

F, I32 = TP.FLOAT, TP.INT32


def _model(tmp_path, op, inputs, outputs=("Y",), consts=None, pre=(), graph_inputs=(),
           **attrs):
    """One com.microsoft node; inputs: (name, dtype, dims) graph inputs, None for a missing
    optional input, or a name found in ``consts`` (initializers)."""
    consts = consts or {}
    names, vis = [], []
    for x in inputs:
        if x is None:
            names.append("")
        elif isinstance(x, str):
            names.append(x)
        else:
            names.append(x[0])
            vis.append(helper.make_tensor_value_info(x[0], x[1], list(x[2])))
    node = helper.make_node(op, names, list(outputs), domain="com.microsoft", **attrs)
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()]
    outs = [onnx.ValueInfoProto(name=o) for o in outputs if o]
    vis += [helper.make_tensor_value_info(n, t, list(d)) for n, t, d in graph_inputs]
    g = helper.make_graph([*pre, node], "g", vis, outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 10
    path = str(tmp_path / "m.onnx")
    onnx.save(m, path)
    return graphshape.analyze(path)


def _grid(**ranges):
    keys = list(ranges)
    return [dict(zip(keys, v)) for v in itertools.product(*(ranges[k] for k in keys))]


def _expect(a, points, pred):
    """graphshape's verdict is pred(point) at every point, and onnxruntime agrees."""
    assert not a.propagation.unproven, [u.describe() for u in a.propagation.unproven]
    got = [a.check(p) for p in points]
    want = [VALID if pred(**p) else INVALID for p in points]
    assert got == want, [(p, g, w) for p, g, w in zip(points, got, want) if g != w]
    assert_agrees(a, points)


def _rand(*shape):
    return np.random.default_rng(0).random(shape).astype(np.float32)


# ---- SkipLayerNormalization ------------------------------------------------------------------
def test_skip_layer_norm_3d_skip_batch_is_free(tmp_path):
    """3-D input: skip needs input's last two dims; its batch may differ (read modulo)."""
    a = _model(tmp_path, "SkipLayerNormalization",
               [("x", F, ["B", "S", 4]), ("s", F, ["B2", "S2", 4]), "g", "b"],
               outputs=("Y", "mean", "inv", "sum"), consts={"g": _rand(4), "b": _rand(4)})
    _expect(a, _grid(B=[1, 2], S=[1, 2, 3], B2=[1, 3], S2=[1, 2, 3]),
            lambda B, S, B2, S2: S == S2)


def test_skip_layer_norm_2d_and_2d_skip(tmp_path):
    """2-D input: skip must have its shape exactly (no broadcasting of a size-1 row)."""
    a = _model(tmp_path, "SkipLayerNormalization",
               [("x", F, ["N", 4]), ("s", F, ["M", 4]), "g"], consts={"g": _rand(4)})
    _expect(a, _grid(N=[1, 2, 3], M=[1, 2, 3]), lambda N, M: N == M)
    a = _model(tmp_path, "SkipSimplifiedLayerNormalization",
               [("x", F, ["B", "S", 4]), ("s", F, ["S2", 4]), "g"], consts={"g": _rand(4)})
    _expect(a, _grid(B=[1, 2], S=[1, 2, 3], S2=[1, 2, 3]), lambda B, S, S2: S == S2)


def test_skip_layer_norm_hidden_size(tmp_path):
    """gamma/bias have the hidden size; a symbolic hidden size must equal it."""
    a = _model(tmp_path, "SkipLayerNormalization",
               [("x", F, ["B", 2, "H"]), ("s", F, ["B", 2, "H"]), "g", None, ("bias", F, ["K"])],
               consts={"g": _rand(4)})
    _expect(a, _grid(B=[1], H=[3, 4, 5], K=[3, 4, 5]), lambda B, H, K: H == 4 and K == 4)


def test_skip_layer_norm_rank_4_impossible(tmp_path):
    a = _model(tmp_path, "SkipLayerNormalization",
               [("x", F, [1, "B", 2, 4]), ("s", F, [1, "B", 2, 4]), "g"], consts={"g": _rand(4)})
    assert a.domain.impossible
    assert_agrees(a, [{"B": 1}, {"B": 2}])


def test_simplified_layer_norm_scale_broadcasts_to_x(tmp_path):
    """onnxruntime's SimplifiedLayerNormalization (ONNX domain): scale [A, 1, C] broadcasts to
    X [N, 3, C] as a whole, not only to X[axis:]."""
    a = _model(tmp_path, "SimplifiedLayerNormalization",
               [("x", F, ["N", 3, "C"]), ("s", F, ["A", 1, "D"])], outputs=("Y", "inv"))
    m = onnx.load(str(tmp_path / "m.onnx"))
    m.graph.node[0].domain = ""
    onnx.save(m, str(tmp_path / "m.onnx"))
    a = graphshape.analyze(str(tmp_path / "m.onnx"))
    _expect(a, _grid(N=[1, 2], C=[2, 3], A=[1, 2], D=[1, 2, 3]),
            lambda N, C, A, D: A in (1, N) and D in (1, C))


# ---- EmbedLayerNormalization -----------------------------------------------------------------
_TABLES = {"we": _rand(10, 4), "pe": _rand(8, 4), "se": _rand(2, 4), "g": _rand(4), "b": _rand(4)}


def test_embed_layer_norm_position_table_limit(tmp_path):
    """Without position_ids, token s reads row s of the 8-row position table: S <= 8 exactly;
    segment ids and the mask need input_ids' shape."""
    a = _model(tmp_path, "EmbedLayerNormalization",
               [("ids", I32, ["B", "S"]), ("seg", I32, ["B", "S2"]), "we", "pe", "se", "g",
                "b", ("mask", I32, ["B", "S"])],
               outputs=("Y", "mask_index", "sum"), consts=_TABLES, epsilon=1e-5)
    _expect(a, _grid(B=[1, 2], S=[1, 7, 8, 9, 10], S2=[8, 9]), lambda B, S, S2: S == S2 <= 8)
    assert "position" in " ".join(c.origin.reason for c in a.propagation.constraints
                                  if c.origin is not None)


def test_embed_layer_norm_position_ids(tmp_path):
    """position_ids [1 or B, S] index the table instead (zeros here: any S runs)."""
    a = _model(tmp_path, "EmbedLayerNormalization",
               [("ids", I32, ["B", "S"]), None, "we", "pe", None, "g", "b", None,
                ("pos", I32, ["P", "S"])],
               outputs=("Y", "mask_index"), consts=_TABLES)
    _expect(a, _grid(B=[2, 3], S=[8, 9, 12], P=[1, 2, 3]), lambda B, S, P: P in (1, B))


def test_embed_layer_norm_without_mask_index_output(tmp_path):
    """The default mask_index_type needs the mask_index output (load-time inference)."""
    a = _model(tmp_path, "EmbedLayerNormalization",
               [("ids", I32, ["B", "S"]), None, "we", "pe", None, "g", "b"], consts=_TABLES)
    assert a.domain.impossible
    a = _model(tmp_path, "EmbedLayerNormalization",
               [("ids", I32, ["B", "S"]), None, "we", "pe", None, "g", "b"], consts=_TABLES,
               mask_index_type=0)
    _expect(a, _grid(B=[1], S=[8, 9]), lambda B, S: S <= 8)


# ---- Attention -------------------------------------------------------------------------------
_QKV = {"w": _rand(4, 12), "bias": _rand(12)}


def test_attention_2d_mask(tmp_path):
    """mask_index [B, S] (key padding), [B, 1] or [1, 1] (dummy); [1, S] is refused."""
    a = _model(tmp_path, "Attention", [("x", F, ["B", "S", 4]), "w", "bias",
                                       ("m", I32, ["M0", "M1"])],
               outputs=("Y", "present"), consts=_QKV, num_heads=2)
    _expect(a, _grid(B=[1, 2], S=[1, 2, 3], M0=[1, 2], M1=[1, 2, 3]),
            lambda B, S, M0, M1: (M0 == B and M1 in (S, 1)) or (M0 == 1 and M1 == 1))


def test_attention_3d_mask_and_hidden(tmp_path):
    """mask_index [B, S, S]; input's hidden size must be the weights' rows."""
    a = _model(tmp_path, "Attention", [("x", F, [2, "S", "D"]), "w", "bias",
                                       ("m", I32, [2, "S", "T"])], consts=_QKV, num_heads=2)
    _expect(a, _grid(S=[1, 2, 3], D=[3, 4], T=[1, 2, 3]), lambda S, D, T: T == S and D == 4)


def test_attention_after_embed_layer_norm(tmp_path):
    """The transformers optimizer's BERT pattern: EmbedLayerNormalization's mask_index (a
    count of ones, >= 0) is Attention's 1-D mask: S <= 8 from the position table."""
    emb = helper.make_node("EmbedLayerNormalization",
                           ["ids", "", "we", "pe", "", "g", "b", "mask"], ["e", "mi"],
                           domain="com.microsoft")
    a = _model(tmp_path, "Attention", ["e", "w", "bias", "mi"], consts={**_TABLES, **_QKV},
               pre=[emb], graph_inputs=[("ids", I32, ["B", "S"]), ("mask", I32, ["B", "S"])],
               num_heads=2)
    _expect(a, _grid(B=[1, 2], S=[1, 8, 9]), lambda B, S: S <= 8)


def test_attention_past_and_total_length(tmp_path):
    """past [2, B, heads, P, head]: the mask's key axis is the total length S + P, present
    grows to it; past's batch must be input's."""
    a = _model(tmp_path, "Attention", [("x", F, ["B", "S", 4]), "w", "bias",
                                       ("m", I32, ["B", "M1"]), ("past", F, [2, "B2", 2, "P", 2])],
               outputs=("Y", "present"), consts=_QKV, num_heads=2, unidirectional=1)
    _expect(a, _grid(B=[1, 2], B2=[1, 2], S=[1, 2], P=[1, 2], M1=[1, 2, 3, 4]),
            lambda B, B2, S, P, M1: B2 == B and M1 in (S + P, 1))


def test_attention_bias_broadcast(tmp_path):
    """attention_bias [1 or B, 1 or heads, S, S]."""
    a = _model(tmp_path, "Attention", [("x", F, [2, "S", 4]), "w", "bias", None, None,
                                       ("ab", F, ["A0", "A1", "S", "A3"])],
               consts=_QKV, num_heads=2)
    _expect(a, _grid(S=[2, 3], A0=[1, 2, 3], A1=[1, 2, 3], A3=[2, 3]),
            lambda S, A0, A1, A3: A0 in (1, 2) and A1 in (1, 2) and A3 == S)


def test_attention_unsupported_and_refused(tmp_path):
    """A 4-D mask is refused by the CPU kernel; no bias crashes it; q hidden not divisible
    by num_heads is refused; past without a named present output is refused; past with a
    shared past/present buffer is left unproven."""
    a = _model(tmp_path, "Attention", [("x", F, ["B", 3, 4]), "w", "bias",
                                       ("m", I32, ["B", 1, 3, 3])], consts=_QKV, num_heads=2)
    assert a.domain.impossible
    assert_agrees(a, [{"B": 1}])
    a = _model(tmp_path, "Attention", [("x", F, ["B", 3, 4]), "w"], consts=_QKV, num_heads=2)
    assert a.domain.impossible
    assert_agrees(a, [{"B": 1}])  # a segfault in onnxruntime's worker counts as invalid
    a = _model(tmp_path, "Attention", [("x", F, ["B", 3, 4]), "w", "bias"],
               consts={"w": _rand(4, 9), "bias": _rand(9)}, num_heads=2)
    assert a.domain.impossible
    a = _model(tmp_path, "Attention", [("x", F, ["B", 3, 4]), "w", "bias", None,
                                       ("past", F, [2, "B", 2, 5, 2])], consts=_QKV,
               outputs=("Y", ""), num_heads=2)
    assert a.domain.impossible
    assert_agrees(a, [{"B": 1}])
    a = _model(tmp_path, "Attention", [("x", F, ["B", 3, 4]), "w", "bias", None,
                                       ("past", F, [2, "B", 2, 5, 2])], consts=_QKV,
               outputs=("Y", "present"), num_heads=2, past_present_share_buffer=1)
    assert a.check({"B": 1}) == UNPROVEN


# ---- FusedMatMul / FusedGemm / FusedConv -----------------------------------------------------
def test_fused_matmul_broadcast_and_transposes(tmp_path):
    a = _model(tmp_path, "FusedMatMul", [("a", F, ["B", 2, "K"]), ("b", F, ["B2", 3, 4])],
               transA=0)
    _expect(a, _grid(B=[1, 2, 3], K=[2, 3], B2=[1, 2, 3]),
            lambda B, K, B2: K == 3 and (B == B2 or 1 in (B, B2)))
    a = _model(tmp_path, "FusedMatMul", [("a", F, ["K", 2]), ("b", F, [4, "K2"])],
               transA=1, transB=1, alpha=0.5)
    _expect(a, _grid(K=[2, 3], K2=[2, 3]), lambda K, K2: K == K2)
    # transBatchA: A [M, B, K] is read as [B, M, K]
    a = _model(tmp_path, "FusedMatMul", [("a", F, [2, "B", 3]), ("b", F, ["B2", 3, 4])],
               transBatchA=1)
    _expect(a, _grid(B=[1, 2, 3], B2=[1, 2, 3]), lambda B, B2: B == B2 or 1 in (B, B2))


def test_fused_gemm_activation(tmp_path):
    a = _model(tmp_path, "FusedGemm", [("a", F, ["M", "K"]), "b", ("c", F, ["N"])],
               consts={"b": _rand(3, 4)}, activation="LeakyRelu", activation_alpha=0.1)
    _expect(a, _grid(M=[1, 2], K=[2, 3], N=[1, 4, 5]), lambda M, K, N: K == 3 and N in (1, 4))
    a = _model(tmp_path, "FusedGemm", [("a", F, ["M", 3]), "b"], consts={"b": _rand(3, 4)},
               activation="Elu")
    assert a.check({"M": 1}) == UNPROVEN  # onnxruntime refuses Elu at load; not claimed


def test_fused_conv_sum_input(tmp_path):
    """Conv's output sizes; Z must have exactly the output's shape."""
    a = _model(tmp_path, "FusedConv", [("x", F, [1, 2, "H", "W"]), "w", "bias",
                                       ("z", F, [1, 3, "Hz", 1])],
               consts={"w": _rand(3, 2, 3, 3), "bias": _rand(3)}, activation="Relu")
    _expect(a, _grid(H=[2, 3, 4, 5], W=[3], Hz=[1, 2, 3]), lambda H, W, Hz: H >= 3 and Hz == H - 2)
    a = _model(tmp_path, "FusedConv", [("x", F, [1, 2, "H", 4]), "w"],
               consts={"w": _rand(3, 2, 3, 3)}, activation="Clip", activation_params=[0.0, 6.0])
    _expect(a, _grid(H=[1, 2, 3, 4]), lambda H: H >= 3)


# ---- BiasGelu / FastGelu / Gelu, element types -----------------------------------------------
def test_bias_gelu_and_fast_gelu(tmp_path):
    a = _model(tmp_path, "BiasGelu", [("a", F, ["N", "C"]), ("b", F, ["D"])])
    _expect(a, _grid(N=[1, 2], C=[1, 2, 3], D=[1, 2, 3]), lambda N, C, D: C == D)
    a = _model(tmp_path, "FastGelu", [("a", F, ["N", "C"]), ("b", F, ["D"])])
    _expect(a, _grid(N=[1], C=[1, 2, 3], D=[1, 2, 3]), lambda N, C, D: C == D)
    a = _model(tmp_path, "Gelu", [("a", F, ["N", "C"])])
    _expect(a, _grid(N=[1, 2], C=[1, 2]), lambda N, C: True)


def test_element_types(tmp_path):
    """float64: FusedMatMul has a kernel, BiasGelu has none (onnxruntime refuses the model):
    graphshape proves the first and leaves the second unproven, with the type named."""
    D = TP.DOUBLE
    a = _model(tmp_path, "FusedMatMul", [("a", D, ["N", 3]), ("b", D, [3, 2])])
    _expect(a, _grid(N=[1, 2]), lambda N: True)
    a = _model(tmp_path, "BiasGelu", [("a", D, ["N", 3]), ("b", D, [3])])
    assert a.check({"N": 1}) == UNPROVEN
    assert "float64" in a.propagation.unproven[0].describe()
    # int64 token ids: the schema's int32 is refused at load, whatever the sizes
    a = _model(tmp_path, "EmbedLayerNormalization",
               [("ids", TP.INT64, ["B", "S"]), None, "we", "pe", None, "g", "b"],
               outputs=("Y", "mask_index"), consts=_TABLES)
    assert a.domain.impossible
    assert_agrees(a, [{"B": 1, "S": 2}])


# ---- end to end: a model saved after onnxruntime's optimiser ---------------------------------
@pytest.mark.parametrize("name", ["bert_tiny_ts", "unet_ts"])
def test_extended_optimised_model_keeps_its_domain(tmp_path, model_cache, name):
    """SessionOptions.optimized_model_filepath at ORT_ENABLE_EXTENDED writes FusedMatMul,
    BiasGelu (BERT) or FusedConv (U-Net) nodes: the saved copy's domain is the original's,
    and onnxruntime agrees at its edges."""
    import onnxruntime as ort

    from models import registry

    src = registry.build(name, model_cache)
    dst = str(tmp_path / f"{name}.ext.onnx")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.optimized_model_filepath = dst
    ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    ops = {n.op_type for n in onnx.load(dst, load_external_data=False).graph.node
           if n.domain == "com.microsoft"}
    assert ops, "the optimiser wrote no contrib op"
    before, after = graphshape.analyze(src), graphshape.analyze(dst)
    assert not after.propagation.unproven, [u.describe() for u in after.propagation.unproven]
    assert str(after.domain) == str(before.domain)
    assert_agrees(after, None)
