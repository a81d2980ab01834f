"""Rule table for graphshape/rules/data_dependent.py (fresh symbols print as ddN, so rows
with data-dependent outputs check the known dims only)."""

from __future__ import annotations

import pytest

import graphshape

from ._rule_rows import check_row, model_from_text

NC = [{"N": 2, "C": 5}, {"N": 1, "C": 1}]

ROWS = [
    ("topk_known_k", 11,
     ("(float[N, C] x) => (float v, int64 i) <int64[1] k = {3}> "
     "{ v, i = TopK <axis = 1> (x, k) }"),
     {"v": ["N", 3], "i": ["N", 3]}, NC + [{"N": 1, "C": 3}]),
    ("topk_k_from_shape", 11,
     ("(float[N, C] x) => (float v, int64 i) <int64[1] z = {0}, int64[1] o = {1}> "
     "{ s = Shape (x) k = Slice (s, z, o) v, i = TopK <axis = 1> (x, k) }"),
     {"v": ["N", "N"], "i": ["N", "N"]}, NC + [{"N": 3, "C": 3}]),
    ("onehot_depth", 11,
     ("(int64[N] x) => (float y) <int64[1] d = {4}, float[2] v = {0.0, 1.0}> "
     "{ y = OneHot <axis = -1> (x, d, v) }"),
     {"y": ["N", 4]}, [{"N": 3}]),
    ("compress_known_condition", 11,
     ("(float[N, C] x) => (float y) <bool[3] c = {1, 0, 1}> "
     "{ y = Compress <axis = 1> (x, c) }"),
     {"y": ["N", "min(1, max(0, C - 2)) + 1"]},
     [{"N": 2, "C": 3}, {"N": 2, "C": 1}, {"N": 1, "C": 2}, {"N": 1, "C": 7}]),
    ("gather_elements", 13,
     "(float[N, C] x, int64[N, K] i) => (float y) { y = GatherElements <axis = 1> (x, i) }",
     {"y": ["N", "K"]}, [{"N": 2, "C": 3, "K": 5}]),
    ("gather_elements_index_rows_bounded", 13,
     "(float[N, C] x, int64[M, C] i) => (float y) { y = GatherElements <axis = 1> (x, i) }",
     {"y": ["M", "C"]}, [{"N": 2, "C": 3, "M": 2}, {"N": 2, "C": 3, "M": 3}]),
    ("scatter_elements", 13,
     ("(float[N, C] x, int64[M, K] i, float[M, K] u) => (float y) "
     "{ y = ScatterElements <axis = 0> (x, i, u) }"),
     {"y": ["N", "C"]},
     [{"N": 2, "C": 3, "M": 1, "K": 3}, {"N": 2, "C": 3, "M": 1, "K": 4}]),
    ("gather_nd", 13,
     "(float[N, C, H] x, int64[K, 2] i) => (float y) { y = GatherND (x, i) }",
     {"y": ["K", "H"]}, [{"N": 2, "C": 3, "H": 4, "K": 5}]),
    ("scatter_nd_updates_shape", 13,
     "(float[N, C] x, int64[K, 1] i, float[K, D] u) => (float y) { y = ScatterND (x, i, u) }",
     {"y": ["N", "C"]},
     [{"N": 2, "C": 3, "K": 1, "D": 3}, {"N": 2, "C": 3, "K": 1, "D": 2}]),
    ("roi_align", 16,
     ("(float[1, C, H, W] x, float[R, 4] r, int64[R] b) => (float y) "
     "{ y = RoiAlign <output_height = 2, output_width = 3> (x, r, b) }"),
     {"y": ["R", "C", 2, 3]}, [{"C": 2, "H": 5, "W": 6, "R": 3}]),
    ("gather_nd_index_too_long", 13,
     "(float[2, 3] x, int64[4, 3] i) => (float y) { y = GatherND (x, i) }",
     "impossible: exceeds the rank", [{}]),
    ("topk_k_too_large", 11,
     ("(float[2, 3] x) => (float v, int64 i) <int64[1] k = {4}> "
     "{ v, i = TopK <axis = 1> (x, k) }"),
     "impossible: must not exceed", [{}]),
]


@pytest.mark.parametrize("opset,graph,expect,points",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_data_dependent_rule(tmp_path, opset, graph, expect, points):
    check_row(tmp_path, opset, graph, expect, points)


@pytest.mark.parametrize("opset,graph,output,known", [
    (13, "(float[N, C] x) => (int64 y) { y = NonZero (x) }", "y", [2, None]),
    # no max_output_boxes_per_class: 0 boxes per class (measured: an empty [0, 3])
    (11, ("(float[1, N, 4] b, float[1, 2, N] s) => (int64 y) "
         "{ y = NonMaxSuppression (b, s) }"), "y", [0, 3]),
    (11, ("(float[1, N, 4] b, float[1, 2, N] s) => (int64 y) <int64[1] m = {5}> "
         "{ y = NonMaxSuppression (b, s, m) }"), "y", [None, 3]),
    (11, "(float[N] x) => (float y) { y = Unique (x) }", "y", [None]),
])
def test_fresh_symbols(tmp_path, opset, graph, output, known):
    """Data-dependent dims become fresh symbols, reported as such, never proved."""
    a = graphshape.analyze(model_from_text(opset, graph, str(tmp_path / "m.onnx")))
    got = a.shapes[output]
    assert len(got) == len(known)
    for g, k in zip(got, known):
        assert g == k if k is not None else "dd" in str(g)
    assert a.propagation.data_dependent
