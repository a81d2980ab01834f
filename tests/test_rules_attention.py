"""Rule table for graphshape/rules/attention.py (Attention, RotaryEmbedding, ...), each row
checked on onnxruntime 1.31 at edges, and the opset-23 attention block exported by torch's
dynamo exporter (its Attention node proved for every sequence length)."""

from __future__ import annotations

import onnx
import pytest

import graphshape
from models import registry

from ._rule_rows import check_row
from .conftest import assert_agrees

ROWS = [
    ("attention_4d", 23,
     ("(float[B, 3, S, 8] q, float[B, 3, L, 8] k, float[B, 3, L, 8] v) => (float y) "
      "{ y = Attention (q, k, v) }"),
     {"y": ["B", 3, "S", 8]},
     [{"B": 1, "S": 1, "L": 1}, {"B": 2, "S": 5, "L": 3}]),
    ("attention_4d_kv_lengths_equal", 23,
     ("(float[1, 2, S, 8] q, float[1, 2, L, 8] k, float[1, 2, M, 4] v) => (float y) "
      "{ y = Attention <is_causal = 1> (q, k, v) }"),
     {"y": [1, 2, "S", 4]},
     [{"S": 3, "L": 2, "M": 2}, {"S": 3, "L": 2, "M": 3}, {"S": 1, "L": 4, "M": 1}]),
    ("attention_4d_head_size_equal", 23,
     ("(float[1, 2, 4, D] q, float[1, 2, 5, E] k, float[1, 2, 5, 3] v) => (float y) "
      "{ y = Attention (q, k, v) }"),
     {"y": [1, 2, 4, 3]}, [{"D": 4, "E": 4}, {"D": 4, "E": 5}, {"D": 1, "E": 1}]),
    ("attention_4d_gqa_heads_divisible", 23,
     ("(float[1, H, 3, 8] q, float[1, 2, 5, 8] k, float[1, 2, 5, 8] v) => (float y) "
      "{ y = Attention (q, k, v) }"),
     {"y": [1, "H", 3, 8]}, [{"H": 2}, {"H": 4}, {"H": 3}, {"H": 1}, {"H": 6}]),
    ("attention_4d_attr_heads_must_match", 23,
     ("(float[1, H, 3, 8] q, float[1, 2, 5, 8] k, float[1, 2, 5, 8] v) => (float y) "
      "{ y = Attention <q_num_heads = 4, kv_num_heads = 2> (q, k, v) }"),
     {"y": [1, 4, 3, 8]}, [{"H": 4}, {"H": 2}]),
    ("attention_3d_hidden_sizes", 23,
     ("(float[B, S, E] q, float[B, L, 24] k, float[B, L, F] v) => (float y) "
      "{ y = Attention <q_num_heads = 3, kv_num_heads = 3> (q, k, v) }"),
     {"y": ["B", "S", "3*floor(F/3)"]},
     [{"B": 1, "S": 2, "L": 3, "E": 24, "F": 6}, {"B": 1, "S": 2, "L": 3, "E": 21, "F": 6},
      {"B": 1, "S": 2, "L": 3, "E": 27, "F": 6}, {"B": 1, "S": 2, "L": 3, "E": 24, "F": 7},
      {"B": 2, "S": 1, "L": 1, "E": 24, "F": 3}]),
    ("attention_3d_gqa", 23,
     ("(float[1, S, 48] q, float[1, L, 24] k, float[1, L, 12] v) => (float y, float pk, "
      "float pv, float qk) { y, pk, pv, qk = Attention <q_num_heads = 6, kv_num_heads = 3, "
      "qk_matmul_output_mode = 1> (q, k, v) }"),
     {"y": [1, "S", 24], "pk": [1, 3, "L", 8], "pv": [1, 3, "L", 4], "qk": [1, 6, "S", "L"]},
     [{"S": 1, "L": 1}, {"S": 4, "L": 2}]),
    ("attention_3d_needs_head_counts", 23,
     ("(float[1, 4, 24] q, float[1, 6, 24] k, float[1, 6, 24] v) => (float y) "
      "{ y = Attention <q_num_heads = 3> (q, k, v) }"),
     "impossible: need q_num_heads and kv_num_heads", [{}]),
    ("attention_past_and_mask", 23,
     ("(float[1, 2, S, 8] q, float[1, 2, L, 8] k, float[1, 2, L, 8] v, float[S2, T] m, "
      "float[1, 2, P, 8] pk, float[1, 2, P, 8] pv) => (float y, float k2, float v2) "
      "{ y, k2, v2 = Attention (q, k, v, m, pk, pv) }"),
     {"y": [1, 2, "S", 8], "k2": [1, 2, "L + P", 8], "v2": [1, 2, "L + P", 8]},
     [{"S": 2, "L": 3, "S2": 2, "T": 5, "P": 2}, {"S": 2, "L": 3, "S2": 2, "T": 3, "P": 2},
      {"S": 2, "L": 3, "S2": 1, "T": 5, "P": 2}, {"S": 1, "L": 1, "S2": 1, "T": 2, "P": 1},
      {"S": 2, "L": 3, "S2": 2, "T": 6, "P": 2}]),
    ("attention_past_lengths_equal", 23,
     ("(float[1, 2, 3, 8] q, float[1, 2, 3, 8] k, float[1, 2, 3, 8] v, "
      "float[1, 2, P, 8] pk, float[1, 2, R, 8] pv) => (float y, float k2, float v2) "
      "{ y, k2, v2 = Attention (q, k, v, , pk, pv) }"),
     {"y": [1, 2, 3, 8], "k2": [1, 2, "P + 3", 8], "v2": [1, 2, "P + 3", 8]},
     [{"P": 2, "R": 2}, {"P": 2, "R": 3}]),
    ("attention_past_needs_present", 23,
     ("(float[1, 2, 3, 8] q, float[1, 2, 3, 8] k, float[1, 2, 3, 8] v, "
      "float[1, 2, 4, 8] pk, float[1, 2, 4, 8] pv) => (float y) "
      "{ y = Attention (q, k, v, , pk, pv) }"),
     "impossible: needs the present_key and present_value outputs", [{}]),
    ("attention_mask_heads_and_batch", 23,
     ("(float[B, 3, 4, 8] q, float[B, 3, 6, 8] k, float[B, 3, 6, 8] v, bool[C, H, 4, 6] m) "
      "=> (float y) { y = Attention (q, k, v, m) }"),
     {"y": ["B", 3, 4, 8]},
     [{"B": 2, "C": 1, "H": 1}, {"B": 2, "C": 2, "H": 3}, {"B": 2, "C": 3, "H": 3},
      {"B": 2, "C": 2, "H": 2}, {"B": 1, "C": 1, "H": 3}]),
    ("attention_mask_rank5_fails", 23,
     ("(float[1, 3, 4, 8] q, float[1, 3, 6, 8] k, float[1, 3, 6, 8] v, "
      "float[1, 1, 1, 4, 6] m) => (float y) { y = Attention (q, k, v, m) }"),
     "impossible: attn_mask must be 2-D, 3-D or 4-D", [{}]),
    ("attention_nonpad_values", 24,
     ("(float[2, 3, 4, 8] q, float[2, 3, L, 8] k, float[2, 3, L, 8] v) => (float y) "
      "<int64[2] n = {3, 6}> { y = Attention (q, k, v, , , , n) }"),
     {"y": [2, 3, 4, 8]}, [{"L": 5}, {"L": 6}, {"L": 9}]),
    ("attention_3d_past", 23,
     ("(float[1, S, 24] q, float[1, L, 24] k, float[1, L, 24] v, float[1, 3, P, 8] pk, "
      "float[1, 3, R, 8] pv) => (float y, float k2, float v2) "
      "{ y, k2, v2 = Attention <q_num_heads = 3, kv_num_heads = 3> (q, k, v, , pk, pv) }"),
     {"y": [1, "S", 24], "k2": [1, 3, "L + P", 8], "v2": [1, 3, "L + P", 8]},
     [{"S": 2, "L": 3, "P": 4, "R": 4}, {"S": 2, "L": 3, "P": 4, "R": 5},
      {"S": 1, "L": 1, "P": 1, "R": 1}]),
    ("attention_nonpad_with_past_fails", 24,
     ("(float[1, 2, 3, 8] q, float[1, 2, 3, 8] k, float[1, 2, 3, 8] v, "
      "float[1, 2, 4, 8] pk, float[1, 2, 4, 8] pv) => (float y, float k2, float v2) "
      "<int64[1] n = {3}> { y, k2, v2 = Attention (q, k, v, , pk, pv, n) }"),
     "impossible: cannot be used together with past_key", [{}]),
    ("rotary_4d_positions", 23,
     ("(float[B, 2, S, 8] x, float[P, 4] c, float[P, 4] s) => (float y) "
      "<int64[1, 3] pos = {0, 1, 5}> { y = RotaryEmbedding (x, c, s, pos) }"),
     {"y": ["B", 2, "S", 8]},
     [{"B": 1, "S": 3, "P": 6}, {"B": 1, "S": 3, "P": 5}, {"B": 1, "S": 2, "P": 6},
      {"B": 1, "S": 3, "P": 7}]),
    ("rotary_3d_no_positions", 23,
     ("(float[B, S, 16] x, float[B, S, 2] c, float[B, S, 2] s) => (float y) "
      "{ y = RotaryEmbedding <num_heads = 2, rotary_embedding_dim = 4> (x, c, s) }"),
     {"y": ["B", "S", 16]}, [{"B": 1, "S": 1}, {"B": 2, "S": 3}]),
    ("rotary_odd_head_size_rounds_down", 23,
     ("(float[1, 2, 3, D] x, float[1, 3, 3] c, float[1, 3, 3] s) => (float y) "
      "{ y = RotaryEmbedding (x, c, s) }"),
     {"y": [1, 2, 3, "D"]}, [{"D": 6}, {"D": 7}, {"D": 8}, {"D": 5}]),
    ("rotary_sequence_within_cache", 23,
     ("(float[1, 2, S, 8] x, float[P, 4] c, float[P, 4] s, int64[1, S] pos) => (float y) "
      "{ y = RotaryEmbedding (x, c, s, pos) }"),
     {"y": [1, 2, "S", 8]}, [{"S": 3, "P": 3}, {"S": 3, "P": 4}, {"S": 4, "P": 3}]),
    ("rotary_3d_hidden_divisible", 23,
     ("(float[1, 3, E] x, float[1, 3, 2] c, float[1, 3, 2] s) => (float y) "
      "{ y = RotaryEmbedding <num_heads = 2> (x, c, s) }"),
     {"y": [1, 3, "E"]}, [{"E": 8}, {"E": 7}, {"E": 6}]),
]


@pytest.mark.parametrize("opset,graph,expect,points",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_attention_rule(tmp_path, opset, graph, expect, points):
    check_row(tmp_path, opset, graph, expect, points)


def test_dynamo_opset23_attention_block(model_cache):
    """torch's dynamo exporter at opset 23 writes one Attention node for
    scaled_dot_product_attention; graphshape proves every sequence length, and
    onnxruntime agrees at the edges (S = 1, 2, a prime, a large S)."""
    path = registry.build("attention_opset23", model_cache)
    m = onnx.load(path)
    assert max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) == 23
    assert [n.op_type for n in m.graph.node].count("Attention") == 1
    a = graphshape.analyze(path)
    assert not a.propagation.unproven, [u.describe() for u in a.propagation.unproven]
    assert a.domain.contains({"S": 1}) and a.domain.contains({"S": 1000})
    assert a.shapes["y"] == [2, "S", 32]
    assert_agrees(a, [{"S": 1}, {"S": 2}, {"S": 7}, {"S": 97}, {"S": 513}])
