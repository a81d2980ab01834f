"""Rule table for graphshape/rules/linalg.py without Einsum/Det/QLinearMatMul (those are in
tests/test_rules_misc.py): MatMul (1-D operands, batch broadcasting, inner-dim conditions),
MatMulInteger and Gemm (transA/transB, bias broadcasting), each row checked on onnxruntime
at its points."""

from __future__ import annotations

import pytest

from ._rule_rows import check_row


def mkn(*triples):
    return [{"M": m, "K": k, "N": n} for m, k, n in triples]


MKN = mkn((1, 1, 1), (2, 3, 4), (3, 1, 2))
GEMM = "(float[M, K] a, float[K, N] b"

ROWS = [
    # ---- MatMul ----
    ("matmul_2d", 13,
     "(float[M, K] a, float[K, N] b) => (float y) { y = MatMul (a, b) }",
     {"y": ["M", "N"]}, MKN),
    ("matmul_inner_mismatch_condition", 13,
     "(float[M, K] a, float[J, N] b) => (float y) { y = MatMul (a, b) }",
     {"y": ["M", "N"]},
     [{"M": 2, "K": k, "J": j, "N": 3} for k, j in [(3, 3), (1, 3), (3, 1), (1, 1), (2, 4)]]),
    ("matmul_inner_against_weight", 13,
     "(float[N, K] x, float[8, 4] w) => (float y) { y = MatMul (x, w) }",
     {"y": ["N", 4]}, [{"N": 2, "K": k} for k in (1, 7, 8, 9)]),
    ("matmul_1d_left", 13,
     "(float[K] a, float[K, N] b) => (float y) { y = MatMul (a, b) }",
     {"y": ["N"]}, [{"K": 1, "N": 1}, {"K": 3, "N": 2}]),
    ("matmul_1d_right", 13,
     "(float[M, K] a, float[K] b) => (float y) { y = MatMul (a, b) }",
     {"y": ["M"]}, [{"M": 1, "K": 1}, {"M": 2, "K": 3}]),
    ("matmul_1d_both_scalar_out", 13,
     "(float[K] a, float[J] b) => (float y) { y = MatMul (a, b) }",
     {"y": []}, [{"K": 3, "J": 3}, {"K": 1, "J": 1}, {"K": 2, "J": 3}, {"K": 1, "J": 2}]),
    ("matmul_1d_left_batched", 13,
     "(float[K] a, float[B, K, N] b) => (float y) { y = MatMul (a, b) }",
     {"y": ["B", "N"]}, [{"B": 2, "K": 3, "N": 4}, {"B": 1, "K": 1, "N": 1}]),
    ("matmul_batched_3d_2d", 13,
     "(float[B, M, K] a, float[K, N] b) => (float y) { y = MatMul (a, b) }",
     {"y": ["B", "M", "N"]}, [{"B": 2, "M": 3, "K": 4, "N": 5}, {"B": 1, "M": 1, "K": 1, "N": 1}]),
    ("matmul_batch_broadcast_ones", 13,
     "(float[B, 1, M, K] a, float[C, K, N] b) => (float y) { y = MatMul (a, b) }",
     {"y": ["B", "C", "M", "N"]},
     [{"B": 2, "C": 3, "M": 1, "K": 2, "N": 1}, {"B": 1, "C": 1, "M": 2, "K": 1, "N": 3}]),
    ("matmul_batch_mismatch_condition", 13,
     "(float[B, M, K] a, float[D, K, N] b) => (float y) { y = MatMul (a, b) }",
     {"y": ["max(B, D)", "M", "N"]},
     [{"B": b, "D": d, "M": 2, "K": 3, "N": 2} for b, d in [(2, 2), (1, 3), (3, 1), (2, 3)]]),
    ("matmul_fixed_inner_mismatch", 13,
     "(float[2, 3] a, float[4, 5] b) => (float y) { y = MatMul (a, b) }",
     "impossible: A's last dim must equal B's second-to-last dim", [{}]),
    ("matmul_fixed_batch_mismatch", 13,
     "(float[2, 2, 3] a, float[3, 3, 5] b) => (float y) { y = MatMul (a, b) }",
     "impossible: broadcast", [{}]),
    ("matmul_scalar_operand", 13,
     "(float a, float[3] b) => (float y) { y = MatMul (a, b) }",
     "impossible: rank >= 1", [{}]),
    ("matmul_chain_features", 13,
     "(float[N, F] x, float[16, 8] w1, float[8, 2] w2) => (float y) "
     "{ h = MatMul (x, w1) y = MatMul (h, w2) }",
     {"y": ["N", 2]}, [{"N": 1, "F": 16}, {"N": 3, "F": 16}, {"N": 1, "F": 8}]),
    # ---- MatMulInteger ----
    ("matmulinteger", 10,
     "(uint8[M, K] a, uint8[K, N] b) => (int32 y) { y = MatMulInteger (a, b) }",
     {"y": ["M", "N"]}, MKN),
    ("matmulinteger_zero_points_batched", 10,
     "(uint8[B, M, K] a, uint8[K, N] b, uint8 za, uint8 zb) => (int32 y) "
     "{ y = MatMulInteger (a, b, za, zb) }",
     {"y": ["B", "M", "N"]}, [{"B": 2, "M": 3, "K": 4, "N": 5}, {"B": 1, "M": 1, "K": 1, "N": 1}]),
    ("matmulinteger_inner_mismatch", 10,
     "(uint8[M, K] a, uint8[J, N] b) => (int32 y) { y = MatMulInteger (a, b) }",
     {"y": ["M", "N"]},
     [{"M": 2, "K": k, "J": j, "N": 2} for k, j in [(3, 3), (2, 3), (1, 2)]]),
    # ---- Gemm ----
    ("gemm_no_bias", 13,
     f"{GEMM}) => (float y) {{ y = Gemm (a, b) }}",
     {"y": ["M", "N"]}, MKN),
    ("gemm_transA", 13,
     "(float[K, M] a, float[K, N] b) => (float y) { y = Gemm <transA = 1> (a, b) }",
     {"y": ["M", "N"]}, MKN),
    ("gemm_transB", 13,
     "(float[M, K] a, float[N, K] b) => (float y) { y = Gemm <transB = 1> (a, b) }",
     {"y": ["M", "N"]}, MKN),
    ("gemm_transA_transB", 13,
     "(float[K, M] a, float[N, K] b) => (float y) "
     "{ y = Gemm <transA = 1, transB = 1, alpha = 2.0> (a, b) }",
     {"y": ["M", "N"]}, MKN),
    ("gemm_inner_mismatch_condition", 13,
     "(float[M, K] a, float[J, N] b) => (float y) { y = Gemm (a, b) }",
     {"y": ["M", "N"]},
     [{"M": 2, "K": k, "J": j, "N": 3} for k, j in [(3, 3), (1, 3), (3, 1), (2, 4)]]),
    ("gemm_transB_against_weight", 13,
     "(float[N, F] x, float[10, 64] w, float[10] c) => (float y) "
     "{ y = Gemm <transB = 1> (x, w, c) }",
     {"y": ["N", 10]}, [{"N": 1, "F": 64}, {"N": 4, "F": 64}, {"N": 1, "F": 63}]),
    ("gemm_bias_row_vector", 13,
     f"{GEMM}, float[N] c) => (float y) {{ y = Gemm (a, b, c) }}",
     {"y": ["M", "N"]}, MKN),
    ("gemm_bias_scalar", 13,
     f"{GEMM}, float c) => (float y) {{ y = Gemm (a, b, c) }}",
     {"y": ["M", "N"]}, MKN),
    ("gemm_bias_column", 13,
     f"{GEMM}, float[M, 1] c) => (float y) {{ y = Gemm (a, b, c) }}",
     {"y": ["M", "N"]}, MKN),
    ("gemm_bias_full", 13,
     f"{GEMM}, float[M, N] c) => (float y) {{ y = Gemm (a, b, c) }}",
     {"y": ["M", "N"]}, MKN),
    ("gemm_bias_symbolic_condition", 13,
     f"{GEMM}, float[P] c) => (float y) {{ y = Gemm (a, b, c) }}",
     {"y": ["M", "N"]},
     [{"M": 2, "K": 3, "N": n, "P": p} for n, p in [(4, 4), (4, 1), (1, 1), (4, 3), (1, 2)]]),
    ("gemm_bias_batch_condition", 13,
     f"{GEMM}, float[Q, 1] c) => (float y) {{ y = Gemm (a, b, c) }}",
     {"y": ["M", "N"]},
     [{"M": m, "K": 2, "N": 3, "Q": q} for m, q in [(3, 3), (3, 1), (1, 1), (3, 2), (1, 2)]]),
    ("gemm_bias_fixed_mismatch", 13,
     "(float[2, 3] a, float[3, 4] b, float[3] c) => (float y) { y = Gemm (a, b, c) }",
     "impossible: C axis 0 must be 1 or equal the output's 4", [{}]),
    ("gemm_bias_rank3", 13,
     "(float[2, 3] a, float[3, 4] b, float[1, 2, 4] c) => (float y) { y = Gemm (a, b, c) }",
     "impossible: C has rank 3 > 2", [{}]),
    ("gemm_rank3_operand", 13,
     "(float[1, 2, 3] a, float[3, 4] b) => (float y) { y = Gemm (a, b) }",
     "impossible: A and B must be 2-D", [{}]),
    ("gemm_fixed_inner_mismatch", 13,
     "(float[2, 3] a, float[4, 5] b) => (float y) { y = Gemm (a, b) }",
     "impossible: must equal B's K", [{}]),
    ("gemm11_optional_bias_absent", 11,
     f"{GEMM}) => (float y) {{ y = Gemm <beta = 0.5> (a, b) }}",
     {"y": ["M", "N"]}, MKN),
    ("gemm9_bias_required", 9,
     f"{GEMM}, float[1, N] c) => (float y) {{ y = Gemm (a, b, c) }}",
     {"y": ["M", "N"]}, MKN),
    ("flatten_gemm_head", 13,
     "(float[N, C, H, W] x, float[10, 12] w, float[10] c) => (float y) "
     "{ f = Flatten (x) y = Gemm <transB = 1> (f, w, c) }",
     {"y": ["N", 10]},
     [{"N": 1, "C": 3, "H": 2, "W": 2}, {"N": 2, "C": 1, "H": 3, "W": 4},
      {"N": 1, "C": 1, "H": 1, "W": 12}, {"N": 1, "C": 2, "H": 2, "W": 2}]),
]


@pytest.mark.parametrize("opset,graph,expect,points",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_linalg_rule(tmp_path, opset, graph, expect, points):
    check_row(tmp_path, opset, graph, expect, points)
