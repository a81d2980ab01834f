"""Rule table for graphshape/rules/misc.py and the Einsum/Det/QLinearMatMul rules of
graphshape/rules/linalg.py."""

from __future__ import annotations

import pytest

from ._rule_rows import check_row

NC = [{"N": 2, "C": 3}, {"N": 1, "C": 1}]

ROWS = [
    ("trilu", 14, "(float[N, C] x) => (float y) { y = Trilu (x) }", {"y": ["N", "C"]}, NC),
    ("trilu_rank1_fails", 14, "(float[3] x) => (float y) { y = Trilu (x) }",
     "impossible: rank >= 2", [{}]),
    ("cumsum", 14,
     "(float[N, C] x) => (float y) <int64 a = {1}> { y = CumSum (x, a) }",
     {"y": ["N", "C"]}, NC),
    ("isinf", 10, "(float[N, C] x) => (bool y) { y = IsInf (x) }", {"y": ["N", "C"]}, NC),
    ("quantize_per_axis", 13,
     ("(float[N, C] x) => (uint8 y) <float[3] s = {1.0, 1.0, 1.0}, uint8[3] z = {0, 0, 0}> "
     "{ y = QuantizeLinear <axis = 1> (x, s, z) }"),
     {"y": ["N", "C"]}, [{"N": 2, "C": 3}, {"N": 2, "C": 4}]),
    ("dequantize_blocked", 21,
     ("(uint8[N, C] x, float[N, B] s) => (float y) "
     "{ y = DequantizeLinear <axis = 1, block_size = 2> (x, s) }"),
     {"y": ["N", "C"]},
     [{"N": 2, "C": 4, "B": 2}, {"N": 2, "C": 5, "B": 3}, {"N": 2, "C": 5, "B": 2}]),
    ("dynamic_quantize", 11,
     "(float[N, C] x) => (uint8 y, float s, uint8 z) { y, s, z = DynamicQuantizeLinear (x) }",
     {"y": ["N", "C"], "s": [], "z": []}, NC),
    ("eyelike", 9, "(float[N, C] x) => (float y) { y = EyeLike (x) }", {"y": ["N", "C"]}, NC),
    ("random_uniform_like", 1,
     "(float[N, C] x) => (float y) { y = RandomUniformLike (x) }", {"y": ["N", "C"]}, NC),
    ("multinomial", 7,
     "(float[N, C] x) => (int32 y) { y = Multinomial <sample_size = 5> (x) }",
     {"y": ["N", 5]}, NC),
    ("reverse_sequence", 10,
     "(float[T, N] x, int64[M] l) => (float y) { y = ReverseSequence (x, l) }",
     {"y": ["T", "N"]}, [{"T": 3, "N": 2, "M": 2}, {"T": 3, "N": 2, "M": 3}]),
    ("hann_window", 17,
     "(float[N] x) => (float y) <int64 n = {8}> { w = HannWindow (n) y = Mul (x, w) }",
     {"y": [8]}, [{"N": 8}, {"N": 1}, {"N": 3}]),
    ("einsum_batched_matmul", 12,
     ("(float[B, I, J] a, float[B, J, K] b) => (float y) "
     "{ y = Einsum <equation = \"bij,bjk->bik\"> (a, b) }"),
     {"y": ["B", "I", "K"]},
     [{"B": 2, "I": 3, "J": 4, "K": 5}, {"B": 1, "I": 3, "J": 1, "K": 2}]),
    ("einsum_labels_broadcast", 12,
     ("(float[I, J] a, float[M, K] b) => (float y) "
     "{ y = Einsum <equation = \"ij,jk\"> (a, b) }"),
     {"y": ["I", "K"]},
     [{"I": 2, "J": 3, "M": 3, "K": 4}, {"I": 2, "J": 3, "M": 1, "K": 4},
      {"I": 2, "J": 3, "M": 2, "K": 4}]),
    ("einsum_ellipsis_trace", 12,
     "(float[N, C, C] a) => (float y) { y = Einsum <equation = \"...ii->...i\"> (a) }",
     {"y": ["N", "C"]}, NC),
    ("lstm_input_size", 14,
     ("(float[S, N, I] x) => (float y, float yh) <float[1, 8, 3] w = {" + ", ".join(["0.0"] * 24)
      + "}, float[1, 8, 2] r = {" + ", ".join(["0.0"] * 16) + "}> "
      "{ y, yh = LSTM <hidden_size = 2> (x, w, r) }"),
     {"y": ["S", 1, "N", 2], "yh": [1, "N", 2]},
     [{"S": 4, "N": 2, "I": 3}, {"S": 4, "N": 2, "I": 4}, {"S": 1, "N": 1, "I": 1}]),
    ("det_square", 11,
     "(float[N, C, K] x) => (float y) { y = Det (x) }",
     {"y": ["N"]}, [{"N": 2, "C": 3, "K": 3}, {"N": 2, "C": 3, "K": 2}]),
]


@pytest.mark.parametrize("opset,graph,expect,points",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_misc_rule(tmp_path, opset, graph, expect, points):
    check_row(tmp_path, opset, graph, expect, points)
