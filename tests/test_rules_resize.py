"""Rule table for graphshape/rules/resize.py: Resize, Upsample, depth/space, sampling."""

from __future__ import annotations

import pytest

from ._rule_rows import check_row

HW = [{"H": 1, "W": 2}, {"H": 5, "W": 7}, {"H": 8, "W": 3}]
SCALES = "float[4] sc = {1.0, 1.0, %s, %s}"

ROWS = [
    ("resize_nearest_x2", 13,
     "(float[1, 3, H, W] x) => (float y) <" + SCALES % ("2.0", "2.0") + "> "
     "{ y = Resize <mode = \"nearest\"> (x, , sc) }",
     {"y": [1, 3, "2*H", "2*W"]}, HW),
    ("resize_half_floors", 13,
     "(float[1, 3, H, W] x) => (float y) <" + SCALES % ("0.5", "1.5") + "> "
     "{ y = Resize (x, , sc) }",
     {"y": [1, 3, "floor(H/2)", "floor(3*W/2)"]}, HW + [{"H": 3, "W": 1}]),
    ("resize_non_dyadic_symbolic", 13,
     "(float[1, 3, H, W] x) => (float y) <" + SCALES % ("0.7", "0.7") + "> "
     "{ y = Resize (x, , sc) }",
     # int(float32(0.7) * float32(H)): a derived size decided in float32 (H >= 2: 0.7 -> 0)
     {"y": [1, 3, "fl1", "fl2"]},
     [{"H": 1, "W": 3}, {"H": 2, "W": 3}, {"H": 10, "W": 7}, {"H": 13, "W": 1},
      {"H": 1000, "W": 999}]),
    ("resize_non_dyadic_concrete", 13,
     "(float[1, 1, 10, 7] x) => (float y) <" + SCALES % ("0.7", "0.7") + "> "
     "{ y = Resize (x, , sc) }",
     {"y": [1, 1, 7, 4]}, [{}]),
    ("resize_sizes_from_shape_fpn", 13,
     ("(float[1, 4, H, W] x, float[1, 4, P, Q] skip) => (float y) "
     "<int64[1] s = {0}, int64[1] e = {2}, int64[1] e2 = {4}> "
     "{ a = Shape (x) b = Shape (skip) n = Slice (a, s, e) hw = Slice (b, e, e2) "
     "sz = Concat <axis = 0> (n, hw) r = Resize <mode = \"linear\"> (x, , , sz) "
     "y = Add (r, skip) }"),
     {"y": [1, 4, "P", "Q"]},
     [{"H": 3, "W": 4, "P": 6, "Q": 8}, {"H": 5, "W": 5, "P": 2, "Q": 9}]),
    ("resize18_axes", 18,
     ("(float[1, 3, H, W] x) => (float y) <float[2] sc = {2.0, 4.0}> "
     "{ y = Resize <axes = [2, 3]> (x, , sc) }"),
     {"y": [1, 3, "2*H", "4*W"]}, HW),
    ("resize_linear_batch_scale_fails", 13,
     ("(float[2, 3, 4, 4] x) => (float y) <float[4] sc = {2.0, 1.0, 2.0, 2.0}> "
     "{ y = Resize <mode = \"linear\"> (x, , sc) }"),
     "impossible: 'linear' mode", [{}]),
    ("resize_both_scales_and_sizes", 13,
     ("(float[1, 1, 4, 4] x) => (float y) <float[4] sc = {1.0, 1.0, 2.0, 2.0}, "
     "int64[4] sz = {1, 1, 8, 8}> { y = Resize (x, , sc, sz) }"),
     "impossible: not both", [{}]),
    ("upsample9_floor", 9,
     "(float[1, 1, H, W] x) => (float y) <" + SCALES % ("1.5", "2.5") + "> "
     "{ y = Upsample (x, sc) }",
     {"y": [1, 1, "floor(3*H/2)", "floor(5*W/2)"]}, HW),
    ("depth_to_space", 13,
     "(float[N, C, H, W] x) => (float y) { y = DepthToSpace <blocksize = 2> (x) }",
     {"y": ["N", "floor(C/4)", "2*H", "2*W"]},
     [{"N": 1, "C": 8, "H": 2, "W": 3}, {"N": 1, "C": 6, "H": 2, "W": 3}]),
    ("space_to_depth_divisible", 13,
     "(float[N, 3, H, W] x) => (float y) { y = SpaceToDepth <blocksize = 2> (x) }",
     {"y": ["N", 12, "floor(H/2)", "floor(W/2)"]},
     [{"N": 1, "H": 4, "W": 6}, {"N": 1, "H": 5, "W": 6}, {"N": 1, "H": 4, "W": 1}]),
    ("grid_sample", 16,
     "(float[N, 3, H, W] x, float[N, P, Q, 2] g) => (float y) { y = GridSample (x, g) }",
     {"y": ["N", 3, "P", "Q"]}, [{"N": 2, "H": 3, "W": 4, "P": 5, "Q": 1}]),
    ("max_unpool", 11,
     ("(float[1, 1, H, W] x, int64[1, 1, H, W] i) => (float y) "
     "{ y = MaxUnpool <kernel_shape = [2, 2], strides = [2, 2]> (x, i) }"),
     {"y": [1, 1, "2*H", "2*W"]}, HW),
    ("col2im", 18,
     ("(float[1, 5, L] x) => (float y) <int64[2] img = {5, 5}, int64[2] blk = {1, 5}> "
     "{ y = Col2Im (x, img, blk) }"),
     {"y": [1, 1, 5, 5]}, [{"L": 5}, {"L": 25}]),
    ("affine_grid", 20,
     ("(float[N, 2, 3] theta) => (float y) <int64[4] sz = {2, 3, 5, 6}> "
     "{ y = AffineGrid (theta, sz) }"),
     {"y": [2, 5, 6, 2]}, [{"N": 2}, {"N": 1}]),
]


@pytest.mark.parametrize("opset,graph,expect,points",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_resize_rule(tmp_path, opset, graph, expect, points):
    check_row(tmp_path, opset, graph, expect, points)
