"""Rule table for graphshape/rules/reduce_norm.py: reductions, softmax, normalisation."""

from __future__ import annotations

import pytest

from ._rule_rows import check_row

P = [{"N": 1, "C": 3, "H": 5}, {"N": 2, "C": 4, "H": 1}]

ROWS = [
    # ---- softmax family ----
    ("softmax_default", 13, "(float[N, C, H] x) => (float y) { y = Softmax (x) }",
     {"y": ["N", "C", "H"]}, P),
    ("logsoftmax_axis1_opset11", 11,
     "(float[N, C, H] x) => (float y) { y = LogSoftmax <axis = 1> (x) }",
     {"y": ["N", "C", "H"]}, P),
    ("hardmax_axis_out_of_range", 13,
     "(float[2, 3] x) => (float y) { y = Hardmax <axis = 2> (x) }",
     "impossible: axis 2 is out of range", [{}]),
    # ---- reductions ----
    ("reducemean_axes_input_keepdims", 18,
     ("(float[N, C, H] x) => (float y) <int64[2] ax = {1, -1}> "
     "{ y = ReduceMean <keepdims = 1> (x, ax) }"),
     {"y": ["N", 1, 1]}, P),
    ("reducesum13_no_keepdims", 13,
     ("(float[N, C, H] x) => (float y) <int64[1] ax = {0}> "
     "{ y = ReduceSum <keepdims = 0> (x, ax) }"),
     {"y": ["C", "H"]}, P),
    ("reducemax_attr_opset13", 13,
     "(float[N, C, H] x) => (float y) { y = ReduceMax <axes = [2], keepdims = 0> (x) }",
     {"y": ["N", "C"]}, P),
    ("reducel2_all", 18, "(float[N, C, H] x) => (float y) { y = ReduceL2 <keepdims = 0> (x) }",
     {"y": []}, P),
    ("reducesum_noop_empty_axes", 18,
     ("(float[N, C, H] x) => (float y) <int64[0] ax = {}> "
     "{ y = ReduceSum <noop_with_empty_axes = 1> (x, ax) }"),
     {"y": ["N", "C", "H"]}, P),
    ("reduceprod_shape_value", 18,
     ("(float[N, C, H] x) => (float y) <int64[1] ax = {0}> "
     "{ s = Shape (x) p = ReduceProd <keepdims = 1> (s, ax) y = Reshape (x, p) }"),
     {"y": ["C*H*N"]}, P),
    ("reducesum_axis_out_of_range", 18,
     "(float[2, 3] x) => (float y) <int64[1] ax = {2}> { y = ReduceSum (x, ax) }",
     "impossible: axis 2 is out of range", [{}]),
    ("argmax_keepdims", 13,
     "(float[N, C, H] x) => (int64 y) { y = ArgMax <axis = 1> (x) }",
     {"y": ["N", 1, "H"]}, P),
    ("argmin_drop", 13,
     "(float[N, C, H] x) => (int64 y) { y = ArgMin <axis = -1, keepdims = 0> (x) }",
     {"y": ["N", "C"]}, P),
    # ---- normalisation ----
    ("batchnorm_channels", 15,
     ("(float[N, 3, H, W] x) => (float y) <float[3] s = {1,1,1}, float[3] b = {0,0,0}, "
     "float[3] m = {0,0,0}, float[3] v = {1,1,1}> { y = BatchNormalization (x, s, b, m, v) }"),
     {"y": ["N", 3, "H", "W"]}, [{"N": 1, "H": 2, "W": 3}]),
    ("batchnorm_symbolic_C_must_match", 15,
     ("(float[N, C, H] x) => (float y) <float[3] s = {1,1,1}, float[3] b = {0,0,0}, "
     "float[3] m = {0,0,0}, float[3] v = {1,1,1}> { y = BatchNormalization (x, s, b, m, v) }"),
     {"y": ["N", "C", "H"]}, [{"N": 1, "C": 3, "H": 2}, {"N": 1, "C": 4, "H": 2}]),
    ("instancenorm_rank3", 15,
     ("(float[N, C, H] x) => (float y) <float[2] s = {1,1}, float[2] b = {0,0}> "
     "{ y = InstanceNormalization (x, s, b) }"),
     {"y": ["N", "C", "H"]}, [{"N": 1, "C": 2, "H": 3}, {"N": 1, "C": 3, "H": 3}]),
    ("instancenorm_rank2_fails", 15,
     ("(float[4, 2] x) => (float y) <float[2] s = {1,1}, float[2] b = {0,0}> "
     "{ y = InstanceNormalization (x, s, b) }"),
     "impossible: rank >= 3", [{}]),
    ("layernorm_stats", 17,
     ("(float[N, H, C] x) => (float y, float mean, float istd) <float[4] s = {1,1,1,1}> "
     "{ y, mean, istd = LayerNormalization <axis = -1> (x, s) }"),
     {"y": ["N", "H", "C"], "mean": ["N", "H", 1], "istd": ["N", "H", 1]},
     [{"N": 1, "H": 2, "C": 4}, {"N": 1, "H": 2, "C": 3}, {"N": 2, "H": 2, "C": 1}]),
    ("rmsnorm", 23,
     "(float[N, C] x) => (float y) <float[1] s = {1}> { y = RMSNormalization (x, s) }",
     {"y": ["N", "C"]}, [{"N": 2, "C": 5}]),
    ("groupnorm21_divisible", 21,
     ("(float[N, C, H] x) => (float y) <float[4] s = {1,1,1,1}, float[4] b = {0,0,0,0}> "
     "{ y = GroupNormalization <num_groups = 2> (x, s, b) }"),
     {"y": ["N", "C", "H"]},
     [{"N": 1, "C": 4, "H": 3}, {"N": 1, "C": 2, "H": 3}, {"N": 1, "C": 6, "H": 3}]),
    ("groupnorm18_scale_per_group", 18,
     ("(float[N, C, H] x) => (float y) <float[2] s = {1,1}, float[2] b = {0,0}> "
     "{ y = GroupNormalization <num_groups = 2> (x, s, b) }"),
     {"y": ["N", "C", "H"]},
     [{"N": 1, "C": 4, "H": 3}, {"N": 1, "C": 5, "H": 3}, {"N": 1, "C": 6, "H": 1}]),
    ("lrn_rank4", 13,
     "(float[N, C, H, W] x) => (float y) { y = LRN <size = 3> (x) }",
     {"y": ["N", "C", "H", "W"]}, [{"N": 1, "C": 2, "H": 3, "W": 4}]),
    ("lrn_rank3_fails", 13, "(float[1, 2, 3] x) => (float y) { y = LRN <size = 3> (x) }",
     "impossible: needs a 4-D input", [{}]),
    ("lpnorm_mvn", 13,
     ("(float[N, C, H] x) => (float y) { t = LpNormalization <axis = 1> (x) "
     "y = MeanVarianceNormalization (t) }"),
     {"y": ["N", "C", "H"]}, P),
]


@pytest.mark.parametrize("opset,graph,expect,points",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_reduce_norm_rule(tmp_path, opset, graph, expect, points):
    check_row(tmp_path, opset, graph, expect, points)
