"""Rule table for graphshape/rules/shape_ops.py (and the DepthToSpace/SpaceToDepth rules of
graphshape/rules/resize.py, the GatherND rule of graphshape/rules/data_dependent.py):
reshaping, slicing, concatenation and shape arithmetic carried through Tensor.value, each
row checked on onnxruntime at its points."""

from __future__ import annotations

import pytest

from ._rule_rows import check_row

END = 9223372036854775807  # INT64_MAX: "to the end"


def nc(*pairs):
    return [{"N": n, "C": c} for n, c in pairs]


def c_only(*sizes, n=2):
    return [{"N": n, "C": c} for c in sizes]


NCHW = [{"N": 1, "C": 1, "H": 1, "W": 1}, {"N": 2, "C": 3, "H": 4, "W": 5}]
XNC = "(float[N, C] x) => (float y)"

ROWS = [
    # ---- Reshape ----
    ("reshape_copy_zero_and_infer", 14,
     "(float[N, C, H, W] x) => (float y) <int64[2] s = {0, -1}> { y = Reshape (x, s) }",
     {"y": ["N", "C*H*W"]}, NCHW),
    ("reshape_infer_needs_divisibility", 14,
     f"{XNC} <int64[2] s = {{-1, 4}}> {{ y = Reshape (x, s) }}",
     {"y": ["floor(C*N/4)", 4]},
     nc((1, 4), (2, 2), (1, 8), (1, 3), (3, 3), (1, 1), (2, 6))),
    ("reshape_fixed_target_count", 14,
     "(float[N, 6] x) => (float y) <int64[2] s = {3, 4}> { y = Reshape (x, s) }",
     {"y": [3, 4]}, [{"N": n} for n in (1, 2, 3)]),
    # an empty input: allowzero keeps the 0 literal (then Concat skips the empty part);
    # without it the 0 copies the input's dim 2 and 0 elements cannot fill [2, 3]
    ("reshape_allowzero_literal_zero", 14,
     "(float[N, 3] x, float[2, 0] e) => (float y) <int64[2] s = {0, 3}> "
     "{ r = Reshape <allowzero = 1> (e, s) y = Concat <axis = 0> (r, x) }",
     {"y": ["N", 3]}, [{"N": 1}, {"N": 2}]),
    ("reshape_zero_copies_without_allowzero", 14,
     "(float[N, 3] x, float[2, 0] e) => (float y) <int64[2] s = {0, 3}> "
     "{ r = Reshape (e, s) y = Concat <axis = 0> (r, x) }",
     "impossible: needs the element count", [{"N": 1}]),
    ("reshape_allowzero_copies_nothing", 14,
     "(float[N, C] x) => (float y) <int64[2] s = {-1, 0}> "
     "{ y = Reshape <allowzero = 0> (x, s) }",
     {"y": ["N", "C"]}, nc((1, 1), (2, 3))),
    ("reshape_two_minus_ones", 14,
     "(float[2, 3] x) => (float y) <int64[2] s = {-1, -1}> { y = Reshape (x, s) }",
     "impossible: at most one shape entry may be -1", [{}]),
    ("reshape_zero_beyond_rank", 14,
     "(float[6] x) => (float y) <int64[2] s = {6, 0}> { y = Reshape (x, s) }",
     "impossible: is 0 (copy) but the input has rank 1", [{}]),
    ("reshape_from_shape_arithmetic", 14,
     "(float[N, C, H, W] x) => (float y) <int64[1] i0 = {0}, int64[1] m1 = {-1}> "
     "{ s = Shape (x) n = Gather (s, i0) t = Concat <axis = 0> (n, m1) y = Reshape (x, t) }",
     {"y": ["N", "C*H*W"]}, NCHW),
    # ---- Flatten ----
    ("flatten_axis2", 13,
     "(float[N, C, H, W] x) => (float y) { y = Flatten <axis = 2> (x) }",
     {"y": ["C*N", "H*W"]}, NCHW),
    ("flatten_axis0_and_negative", 13,
     "(float[N, C, H] x) => (float y, float z) "
     "{ y = Flatten <axis = 0> (x) z = Flatten <axis = -1> (x) }",
     {"y": [1, "C*H*N"], "z": ["C*N", "H"]}, [{"N": 1, "C": 2, "H": 3}]),
    ("flatten_axis_out_of_range", 13,
     "(float[2, 3] x) => (float y) { y = Flatten <axis = 3> (x) }",
     "impossible: out of range", [{}]),
    # ---- Squeeze / Unsqueeze ----
    ("squeeze11_axes_attribute", 11,
     "(float[N, C, H] x) => (float y) { y = Squeeze <axes = [1]> (x) }",
     {"y": ["N", "H"]}, [{"N": 2, "C": c, "H": 3} for c in (1, 2, 3)]),
    ("squeeze13_axes_input", 13,
     "(float[N, C, H] x) => (float y) <int64[2] a = {-1, 0}> { y = Squeeze (x, a) }",
     {"y": ["C"]},
     [{"N": 1, "C": 3, "H": 1}, {"N": 2, "C": 3, "H": 1}, {"N": 1, "C": 1, "H": 2}]),
    ("squeeze_no_axes_symbolic", 13,
     "(float[N, 1, C] x) => (float y) { y = Squeeze (x) }",
     "unproven: Squeeze without axes", []),
    ("squeeze_no_axes_fixed", 13,
     "(float[1, 3, 1, 2] x) => (float y) { y = Squeeze (x) }",
     {"y": [3, 2]}, [{}]),
    ("unsqueeze11_axes_attribute", 11,
     "(float[N, C] x) => (float y) { y = Unsqueeze <axes = [0, -1]> (x) }",
     {"y": [1, "N", "C", 1]}, nc((1, 1), (2, 3))),
    ("unsqueeze13_axes_input", 13,
     "(float[N, C] x) => (float y) <int64[2] a = {3, 1}> { y = Unsqueeze (x, a) }",
     {"y": ["N", 1, "C", 1]}, nc((1, 1), (2, 3))),
    ("unsqueeze_repeated_axes", 13,
     "(float[2, 3] x) => (float y) <int64[2] a = {1, 1}> { y = Unsqueeze (x, a) }",
     "impossible: repeated axes", [{}]),
    # ---- Concat ----
    ("concat_sums_axis", 13,
     "(float[N, C] x, float[N, D] z) => (float y) { y = Concat <axis = 1> (x, z) }",
     {"y": ["N", "C + D"]}, [{"N": 2, "C": 1, "D": 3}]),
    ("concat_other_dims_must_match", 13,
     "(float[N, C] x, float[M, C] z) => (float y) { y = Concat <axis = -1> (x, z) }",
     {"y": ["N", "2*C"]},
     [{"N": 2, "M": 2, "C": 3}, {"N": 1, "M": 2, "C": 3}, {"N": 3, "M": 1, "C": 1}]),
    ("concat_skips_empty_input", 13,
     "(float[N, 3] x, float[2, 0] e) => (float y) { y = Concat <axis = 1> (x, e) }",
     {"y": ["N", 3]}, [{"N": 1}, {"N": 2}, {"N": 3}]),
    ("concat_empty_first_input", 13,
     "(float[0, 5] e, float[N, C] x) => (float y) { y = Concat <axis = 0> (e, x) }",
     {"y": ["N", "C"]}, nc((1, 5), (2, 5), (2, 4), (1, 1))),
    ("concat_rank_mismatch", 13,
     "(float[2, 3] x, float[2, 3, 1] z) => (float y) { y = Concat <axis = 0> (x, z) }",
     "impossible: has rank 3, input 0 has rank 2", [{}]),
    # ---- Split ----
    ("split13_sizes_input", 13,
     "(float[N, C] x) => (float y, float z) <int64[2] s = {2, 3}> "
     "{ y, z = Split <axis = 1> (x, s) }",
     {"y": ["N", 2], "z": ["N", 3]}, c_only(4, 5, 6)),
    ("split11_sizes_attribute", 11,
     "(float[N, C] x) => (float y, float z) { y, z = Split <axis = 0, split = [1, 2]> (x) }",
     {"y": [1, "C"], "z": [2, "C"]}, nc((2, 3), (3, 3), (4, 1))),
    ("split13_equal_parts", 13,
     "(float[N, C] x) => (float y, float z) { y, z = Split <axis = 1> (x) }",
     {"y": ["N", "floor(C/2)"], "z": ["N", "floor(C/2)"]}, c_only(1, 2, 3, 4, 5)),
    ("split18_num_outputs", 18,
     "(float[N, C] x) => (float a, float b, float c) "
     "{ a, b, c = Split <axis = 1, num_outputs = 3> (x) }",
     {"a": ["N", "-floor(-C/3)"], "b": ["N", "-floor(-C/3)"],
      "c": ["N", "C + 2*floor(-C/3)"]},
     c_only(1, 2, 3, 4, 5, 6, 7, 8)),
    # ---- Slice ----
    ("slice_inner", 13,
     f"{XNC} <int64[1] s = {{1}}, int64[1] e = {{-1}}, int64[1] a = {{1}}> "
     f"{{ y = Slice (x, s, e, a) }}",
     {"y": ["N", "max(0, C - 2)"]}, c_only(1, 2, 3, 4)),
    ("slice_clamps_ends", 13,
     f"{XNC} <int64[1] s = {{2}}, int64[1] e = {{100}}, int64[1] a = {{-1}}> "
     f"{{ y = Slice (x, s, e, a) }}",
     {"y": ["N", "-min(2, C) + min(100, C)"]}, c_only(1, 2, 3, 5, 100, 150, n=1)),
    ("slice_reverse", 13,
     f"{XNC} <int64[1] s = {{-1}}, int64[1] e = {{-{END}}}, int64[1] a = {{1}}, "
     f"int64[1] k = {{-1}}> {{ y = Slice (x, s, e, a, k) }}",
     {"y": ["N", "C"]}, c_only(1, 2, 5)),
    ("slice_negative_step2", 13,
     f"{XNC} <int64[1] s = {{-1}}, int64[1] e = {{0}}, int64[1] a = {{1}}, "
     f"int64[1] k = {{-2}}> {{ y = Slice (x, s, e, a, k) }}",
     {"y": ["N", "-floor((1 - C)/2)"]}, c_only(1, 2, 3, 4, 5)),
    ("slice_two_axes_step", 13,
     f"(float[N, C, H] x) => (float y) <int64[2] s = {{0, 1}}, int64[2] e = {{{END}, 3}}, "
     f"int64[2] a = {{2, 0}}, int64[2] k = {{2, 1}}> {{ y = Slice (x, s, e, a, k) }}",
     {"y": ["min(3, N) - 1", "C", "-floor(-H/2)"]},
     [{"N": n, "C": 2, "H": h} for n, h in [(1, 3), (2, 1), (3, 4), (5, 5)]]),
    ("slice10_no_axes_input", 10,
     f"{XNC} <int64[2] s = {{1, 0}}, int64[2] e = {{3, -1}}> {{ y = Slice (x, s, e) }}",
     {"y": ["min(3, N) - 1", "C - 1"]}, nc((1, 2), (2, 1), (2, 2), (4, 3))),
    ("slice_of_shape_feeds_reshape", 13,
     "(float[N, C, H, W] x) => (float y) <int64[1] s = {2}, int64[1] e = {4}, "
     "int64[1] m1 = {-1}> "
     "{ t = Shape (x) hw = Slice (t, s, e) u = Concat <axis = 0> (m1, hw) y = Reshape (x, u) }",
     {"y": ["C*N", "H", "W"]}, NCHW),
    ("slice_step_zero", 13,
     "(float[4] x) => (float y) <int64[1] s = {0}, int64[1] e = {4}, int64[1] a = {0}, "
     "int64[1] k = {0}> { y = Slice (x, s, e, a, k) }",
     "impossible: slice step cannot be 0", [{}]),
    # ---- Transpose / Expand / Tile ----
    ("transpose_perm_and_default", 13,
     "(float[N, C, H] x) => (float y, float z) "
     "{ y = Transpose <perm = [2, 0, 1]> (x) z = Transpose (x) }",
     {"y": ["H", "N", "C"], "z": ["H", "C", "N"]}, [{"N": 1, "C": 2, "H": 3}]),
    ("transpose_bad_perm", 13,
     "(float[2, 3] x) => (float y) { y = Transpose <perm = [0, 0]> (x) }",
     "impossible: is not a permutation", [{}]),
    ("expand_bidirectional", 13,
     "(float[N, 1] x) => (float y) <int64[3] s = {2, 1, 4}> { y = Expand (x, s) }",
     {"y": [2, "N", 4]}, [{"N": 1}, {"N": 3}]),
    ("expand_broadcast_condition", 13,
     f"{XNC} <int64[2] s = {{1, 4}}> {{ y = Expand (x, s) }}",
     {"y": ["N", 4]}, c_only(1, 2, 3, 4, 5)),
    ("tile", 13,
     f"{XNC} <int64[2] r = {{2, 3}}> {{ y = Tile (x, r) }}",
     {"y": ["2*N", "3*C"]}, nc((1, 1), (2, 3))),
    ("tile_repeats_from_shape", 13,
     "(float[N, C] x, float[2, K] z) => (float y) { r = Shape (z) y = Tile (x, r) }",
     {"y": ["2*N", "C*K"]}, [{"N": 1, "C": 2, "K": 3}]),
    ("tile_wrong_repeats_length", 13,
     "(float[2, 3] x) => (float y) <int64[1] r = {2}> { y = Tile (x, r) }",
     "impossible: repeats has 1 entries for rank 2", [{}]),
    # ---- Shape / Size / Gather ----
    ("shape15_start_end", 15,
     "(float[N, C, H, W] x) => (float y) <int64[1] m1 = {-1}> "
     "{ hw = Shape <start = -2> (x) c = Shape <start = 1, end = 2> (x) "
     "u = Concat <axis = 0> (c, m1, hw) y = Reshape (x, u) }",
     {"y": ["C", "N", "H", "W"]}, NCHW),
    ("size_feeds_reshape", 13,
     "(float[N, C, H] x) => (float y) <int64[1] a = {0}> "
     "{ n = Size (x) v = Unsqueeze (n, a) y = Reshape (x, v) }",
     {"y": ["C*H*N"]}, [{"N": 2, "C": 3, "H": 1}]),
    ("gather_index_bounds", 13,
     f"{XNC} <int64[2] i = {{3, -1}}> {{ y = Gather <axis = 1> (x, i) }}",
     {"y": ["N", 2]}, c_only(1, 3, 4, 5)),
    ("gather_negative_index_bound", 13,
     f"{XNC} <int64 i = {{-3}}> {{ y = Gather <axis = 1> (x, i) }}",
     {"y": ["N"]}, c_only(1, 2, 3, 4)),
    ("gather_shape_value_scalar", 13,
     "(float[N, C, H] x) => (float y) <int64 i = {2}, int64[1] a = {0}, "
     "int64[1] m1 = {-1}> "
     "{ s = Shape (x) h = Gather (s, i) hv = Unsqueeze (h, a) u = Concat <axis = 0> (m1, hv) "
     "y = Reshape (x, u) }",
     {"y": ["C*N", "H"]}, [{"N": 2, "C": 3, "H": 4}, {"N": 1, "C": 1, "H": 1}]),
    ("gathernd_on_shape", 13,
     "(float[N, C] x) => (int64 y) <int64[1, 1] i = {1}> { s = Shape (x) y = GatherND (s, i) }",
     {"y": [1]}, nc((1, 1), (2, 3))),
    # ---- Pad ----
    ("pad_constant", 13,
     f"{XNC} <int64[4] p = {{0, 1, 2, 3}}> {{ y = Pad (x, p) }}",
     {"y": ["N + 2", "C + 4"]}, nc((1, 1), (2, 3))),
    ("pad_negative_crops", 13,
     f"{XNC} <int64[4] p = {{0, -1, 0, -1}}> {{ y = Pad (x, p) }}",
     {"y": ["N", "C - 2"]}, c_only(1, 2, 3, 4)),
    ("pad_reflect_needs_longer_axis", 13,
     f"{XNC} <int64[4] p = {{0, 2, 0, 1}}> {{ y = Pad <mode = \"reflect\"> (x, p) }}",
     {"y": ["N", "C + 3"]}, c_only(1, 2, 3, 4)),
    ("pad18_axes_input", 18,
     f"{XNC} <int64[2] p = {{1, 2}}, float v = {{0.5}}, int64[1] a = {{-1}}> "
     f"{{ y = Pad (x, p, v, a) }}",
     {"y": ["N", "C + 3"]}, nc((1, 1), (2, 3))),
    ("pad2_attribute", 2,
     f"{XNC} {{ y = Pad <pads = [1, 0, 1, 0]> (x) }}",
     {"y": ["N + 2", "C"]}, nc((1, 1), (2, 3))),
    ("pad_wrong_length", 13,
     "(float[2, 3] x) => (float y) <int64[2] p = {1, 1}> { y = Pad (x, p) }",
     "impossible: pads has 2 entries for 2 axes", [{}]),
    # ---- Range / ConstantOfShape ----
    ("range_from_dim", 13,
     "(float[N, C] x) => (int64 y, int64 z) <int64 z0 = {0}, int64 one = {1}, "
     "int64 i1 = {1}, int64 m2 = {-2}> "
     "{ s = Shape (x) c = Gather (s, i1) y = Range (z0, c, one) z = Range (c, one, m2) }",
     {"y": ["C"], "z": ["-floor((1 - C)/2)"]}, c_only(1, 2, 3, 4, 5)),
    ("constant_of_shape", 13,
     "(float[N, C] x) => (int64 y) { s = Shape (x) "
     "y = ConstantOfShape <value = int64[1] {7}> (s) }",
     {"y": ["N", "C"]}, nc((1, 1), (2, 3))),
    # ---- DepthToSpace / SpaceToDepth ----
    ("depth_to_space_crd", 13,
     "(float[N, C, H, W] x) => (float y) { y = DepthToSpace <blocksize = 2, mode = \"CRD\"> (x) }",
     {"y": ["N", "floor(C/4)", "2*H", "2*W"]},
     [{"N": 1, "C": c, "H": 2, "W": 1} for c in (1, 2, 4, 6, 8)]),
    ("space_to_depth_b3", 13,
     "(float[N, C, H, W] x) => (float y) { y = SpaceToDepth <blocksize = 3> (x) }",
     {"y": ["N", "9*C", "floor(H/3)", "floor(W/3)"]},
     [{"N": 1, "C": 1, "H": h, "W": w} for h, w in [(3, 3), (6, 3), (1, 3), (3, 4), (2, 2)]]),
]


@pytest.mark.parametrize("opset,graph,expect,points",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_shape_ops_rule(tmp_path, opset, graph, expect, points):
    check_row(tmp_path, opset, graph, expect, points)
