"""Rule table for graphshape/rules/conv_pool.py: Conv, ConvTranspose, pooling (and the
MaxUnpool rule of graphshape/rules/resize.py), checked on onnxruntime at every row's points.

Weights are graph inputs of fixed shape (onnxruntime gets random values), so a row needs no
initializer text; the kernel size is the weight's spatial shape."""

from __future__ import annotations

import pytest

from ._rule_rows import check_row

X4 = "float[N, 3, H, W] x, float[4, 3, 3, 3] w"
# ceil mode, k3 s2: ceil((H-3)/2) + 1, less one when the last window starts past the input
CEIL_K3S2 = "1 - floor((3 - H)/2)"  # ceil((H - 3)/2) + 1: the last window always starts inside

ROWS = [
    # ---- Conv ----
    ("conv_same_pads", 11,
     f"({X4}) => (float y) {{ y = Conv <pads = [1, 1, 1, 1]> (x, w) }}",
     {"y": ["N", 4, "H", "W"]},
     [{"N": 1, "H": 1, "W": 1}, {"N": 2, "H": 2, "W": 3}, {"N": 1, "H": 5, "W": 4}]),
    ("conv_stride2_valid_window", 11,
     f"({X4}) => (float y) {{ y = Conv <strides = [2, 2]> (x, w) }}",
     {"y": ["N", 4, "floor((H - 3)/2) + 1", "floor((W - 3)/2) + 1"]},
     [{"N": 1, "H": h, "W": w} for h, w in [(1, 3), (2, 3), (3, 3), (4, 5), (5, 6), (3, 2)]]),
    ("conv_dilation2", 11,
     f"({X4}) => (float y) {{ y = Conv <dilations = [2, 1]> (x, w) }}",
     {"y": ["N", 4, "H - 4", "W - 2"]},
     [{"N": 1, "H": h, "W": 3} for h in (3, 4, 5, 6)]),
    ("conv_pads_stride_dilation", 11,
     f"({X4}) => (float y) {{ y = Conv <pads = [2, 0, 1, 0], strides = [3, 1], "
     f"dilations = [2, 1]> (x, w) }}",
     {"y": ["N", 4, "floor((H - 2)/3) + 1", "W - 2"]},
     [{"N": 1, "H": h, "W": 3} for h in (1, 2, 3, 4, 5, 7, 8)]),
    ("conv_asymmetric_pads_1d", 11,
     "(float[N, 2, H] x, float[3, 2, 4] w) => (float y) "
     "{ y = Conv <pads = [0, 1], strides = [2]> (x, w) }",
     {"y": ["N", 3, "floor((H - 3)/2) + 1"]},
     [{"N": 1, "H": h} for h in (1, 2, 3, 4, 5, 6)]),
    ("conv_3d", 11,
     "(float[N, 2, D, H, W] x, float[4, 2, 2, 3, 3] w) => (float y) "
     "{ y = Conv <strides = [2, 1, 2], pads = [0, 1, 1, 0, 1, 1]> (x, w) }",
     {"y": ["N", 4, "floor(D/2)", "H", "floor((W - 1)/2) + 1"]},
     [{"N": 1, "D": d, "H": h, "W": w} for d, h, w in [(1, 1, 1), (2, 1, 1), (3, 2, 2),
                                                       (4, 3, 5)]]),
    ("conv_groups_channels", 11,
     "(float[N, C, H] x, float[8, 2, 3] w) => (float y) "
     "{ y = Conv <group = 2, pads = [1, 1]> (x, w) }",
     {"y": ["N", 8, "H"]},
     [{"N": 1, "C": c, "H": 3} for c in (1, 2, 3, 4, 5, 8)]),
    ("conv_depthwise", 11,
     "(float[N, 4, H, W] x, float[4, 1, 3, 3] w) => (float y) "
     "{ y = Conv <group = 4> (x, w) }",
     {"y": ["N", 4, "H - 2", "W - 2"]},
     [{"N": 1, "H": 3, "W": 3}, {"N": 2, "H": 2, "W": 5}]),
    ("conv_channel_mismatch_symbolic", 11,
     "(float[N, C, H, W] x, float[4, 3, 3, 3] w) => (float y) "
     "{ y = Conv <pads = [1, 1, 1, 1]> (x, w) }",
     {"y": ["N", 4, "H", "W"]},
     [{"N": 1, "C": c, "H": 2, "W": 2} for c in (1, 2, 3, 4, 6)]),
    ("conv_channel_mismatch_fixed", 11,
     "(float[1, 2, 5, 5] x, float[4, 3, 3, 3] w) => (float y) { y = Conv (x, w) }",
     "impossible: input channels must equal", [{}]),
    ("conv_group_out_channels_not_multiple", 11,
     "(float[1, 4, 5, 5] x, float[3, 2, 3, 3] w) => (float y) { y = Conv <group = 2> (x, w) }",
     "impossible: not a multiple of group", [{}]),
    ("conv_kernel_larger_than_input", 11,
     "(float[1, 3, 2, 5] x, float[4, 3, 3, 3] w) => (float y) { y = Conv (x, w) }",
     "impossible: must cover the dilated kernel", [{}]),
    ("conv_bias", 11,
     f"({X4}, float[4] b) => (float y) {{ y = Conv (x, w, b) }}",
     {"y": ["N", 4, "H - 2", "W - 2"]}, [{"N": 1, "H": 3, "W": 4}, {"N": 1, "H": 2, "W": 4}]),
    ("conv_bias_length_mismatch", 11,
     "(float[1, 3, 5, 5] x, float[4, 3, 3, 3] w, float[5] b) => (float y) "
     "{ y = Conv (x, w, b) }",
     "impossible: bias length must equal output channels", [{}]),
    ("conv_rank2_input", 11,
     "(float[3, 5] x, float[4, 3] w) => (float y) { y = Conv (x, w) }",
     "impossible: rank >= 3", [{}]),
    ("conv_same_upper_stride2", 11,
     f"({X4}) => (float y) {{ y = Conv <auto_pad = \"SAME_UPPER\", strides = [2, 2]> (x, w) }}",
     {"y": ["N", 4, "-floor(-H/2)", "-floor(-W/2)"]},
     [{"N": 1, "H": h, "W": w} for h, w in [(1, 1), (2, 3), (3, 4), (4, 5), (5, 6), (7, 8)]]),
    ("conv_same_lower_stride3_even_kernel", 11,
     "(float[N, 1, H] x, float[2, 1, 4] w) => (float y) "
     "{ y = Conv <auto_pad = \"SAME_LOWER\", strides = [3]> (x, w) }",
     {"y": ["N", 2, "-floor(-H/3)"]},
     [{"N": 1, "H": h} for h in (1, 2, 3, 4, 5, 6, 7)]),
    ("conv_valid_stride2", 11,
     f"({X4}) => (float y) {{ y = Conv <auto_pad = \"VALID\", strides = [2, 2]> (x, w) }}",
     {"y": ["N", 4, "floor((H - 3)/2) + 1", "floor((W - 3)/2) + 1"]},
     [{"N": 1, "H": h, "W": h} for h in (1, 2, 3, 4, 5, 6)]),
    ("conv_same_with_dilation_refused", 11,
     f"({X4}) => (float y) {{ y = Conv <auto_pad = \"SAME_UPPER\", dilations = [2, 2]> "
     f"(x, w) }}",
     "impossible: onnxruntime supports SAME padding only without dilation",
     [{"N": 1, "H": 5, "W": 5}, {"N": 1, "H": 8, "W": 8}]),
    # ---- ConvTranspose ----
    ("convtranspose_stride2", 11,
     "(float[N, 4, H, W] x, float[4, 2, 3, 3] w) => (float y) "
     "{ y = ConvTranspose <strides = [2, 2]> (x, w) }",
     {"y": ["N", 2, "2*H + 1", "2*W + 1"]},
     [{"N": 1, "H": 1, "W": 1}, {"N": 2, "H": 2, "W": 3}]),
    ("convtranspose_pads_output_padding", 11,
     "(float[N, 4, H, W] x, float[4, 2, 3, 3] w) => (float y) "
     "{ y = ConvTranspose <strides = [2, 2], pads = [1, 1, 1, 1], "
     "output_padding = [1, 0]> (x, w) }",
     {"y": ["N", 2, "2*H", "2*W - 1"]},
     [{"N": 1, "H": 1, "W": 1}, {"N": 1, "H": 2, "W": 3}]),
    ("convtranspose_pads_empty_output", 11,
     "(float[N, 2, H] x, float[2, 2, 3] w) => (float y) "
     "{ y = ConvTranspose <pads = [2, 2]> (x, w) }",
     {"y": ["N", 2, "H - 2"]},
     [{"N": 1, "H": h} for h in (1, 2, 3, 4)]),
    ("convtranspose_output_padding_not_below_stride", 11,
     "(float[1, 4, 3, 3] x, float[4, 2, 3, 3] w) => (float y) "
     "{ y = ConvTranspose <strides = [2, 2], output_padding = [2, 0]> (x, w) }",
     "impossible: less than the stride", [{}]),
    ("convtranspose_output_shape", 11,
     "(float[N, 4, H, W] x, float[4, 2, 3, 3] w) => (float y) "
     "{ y = ConvTranspose <strides = [2, 2], output_shape = [10, 9]> (x, w) }",
     {"y": ["N", 2, 10, 9]},
     [{"N": 1, "H": h, "W": w} for h, w in [(3, 4), (4, 3), (4, 4), (5, 5), (6, 8), (9, 9)]]),
    ("convtranspose_same_upper", 11,
     "(float[N, 4, H, W] x, float[4, 2, 3, 3] w) => (float y) "
     "{ y = ConvTranspose <auto_pad = \"SAME_UPPER\", strides = [2, 2]> (x, w) }",
     {"y": ["N", 2, "2*H", "2*W"]},
     [{"N": 1, "H": 1, "W": 2}, {"N": 1, "H": 3, "W": 4}]),
    ("convtranspose_same_lower_kernel_below_stride", 11,
     "(float[N, 1, H] x, float[1, 1, 1] w) => (float y) "
     "{ y = ConvTranspose <auto_pad = \"SAME_LOWER\", strides = [3]> (x, w) }",
     {"y": ["N", 1, "3*H - 2"]},
     [{"N": 1, "H": h} for h in (1, 2, 3)]),
    ("convtranspose_valid", 11,
     "(float[N, 1, H] x, float[1, 1, 2] w) => (float y) "
     "{ y = ConvTranspose <auto_pad = \"VALID\", strides = [2]> (x, w) }",
     {"y": ["N", 1, "2*H"]},
     [{"N": 1, "H": h} for h in (1, 2, 5)]),
    ("convtranspose_groups_channels", 11,
     "(float[N, C, H] x, float[4, 3, 3] w) => (float y) "
     "{ y = ConvTranspose <group = 2> (x, w) }",
     {"y": ["N", 6, "H + 2"]},
     [{"N": 1, "C": c, "H": 2} for c in (2, 3, 4, 8)]),
    # ---- MaxPool / AveragePool / LpPool ----
    ("maxpool_k2s2_truncates", 12,
     "(float[N, C, H] x) => (float y) "
     "{ y = MaxPool <kernel_shape = [2], strides = [2]> (x) }",
     {"y": ["N", "C", "max(0, floor(H/2) - 1) + 1"]},
     [{"N": 1, "C": 2, "H": h} for h in (1, 2, 3, 4, 5)]),
    ("maxpool_k3s2_pad1", 12,
     "(float[N, C, H, W] x) => (float y) "
     "{ y = MaxPool <kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]> (x) }",
     {"y": ["N", "C", "floor((H - 1)/2) + 1", "floor((W - 1)/2) + 1"]},
     [{"N": 1, "C": 1, "H": h, "W": h} for h in (1, 2, 3, 4, 5)]),
    ("maxpool_k3s1_needs_3", 12,
     "(float[N, C, H] x) => (float y) { y = MaxPool <kernel_shape = [3]> (x) }",
     {"y": ["N", "C", "max(0, H - 3) + 1"]},
     [{"N": 1, "C": 1, "H": h} for h in (1, 2, 3, 4)]),
    ("averagepool_k5s3_overhang", 11,
     "(float[N, C, H] x) => (float y) "
     "{ y = AveragePool <kernel_shape = [5], strides = [3]> (x) }",
     {"y": ["N", "C", "max(0, floor((H - 5)/3)) + 1"]},
     [{"N": 1, "C": 1, "H": h} for h in (1, 2, 3, 4, 5, 6, 7, 8)]),
    ("maxpool_kernel_larger_than_input", 12,
     "(float[1, 1, 2, 2] x) => (float y) { y = MaxPool <kernel_shape = [3, 3]> (x) }",
     "impossible: overhang", [{}]),
    ("averagepool_kernel_far_larger_than_input", 11,
     "(float[1, 1, 2, 2] x) => (float y) "
     "{ y = AveragePool <kernel_shape = [5, 5], strides = [2, 2]> (x) }",
     "impossible: overhang", [{}]),
    ("maxpool_ceil_mode", 12,
     "(float[N, C, H] x) => (float y) "
     "{ y = MaxPool <kernel_shape = [3], strides = [2], ceil_mode = 1> (x) }",
     {"y": ["N", "C", CEIL_K3S2]},
     [{"N": 1, "C": 1, "H": h} for h in range(1, 10)]),
    ("averagepool_ceil_mode_last_window_in_pad", 11,
     "(float[N, C, H] x) => (float y) "
     "{ y = AveragePool <kernel_shape = [2], strides = [2], pads = [1, 1], ceil_mode = 1, "
     "count_include_pad = 1> (x) }",
     {"y": ["N", "C", "floor(H/2) + 1"]},
     [{"N": 1, "C": 1, "H": h} for h in range(1, 9)]),
    ("averagepool_asymmetric_pads", 11,
     "(float[N, C, H, W] x) => (float y) "
     "{ y = AveragePool <kernel_shape = [2, 3], strides = [2, 2], pads = [0, 2, 1, 0], "
     "count_include_pad = 1> (x) }",
     {"y": ["N", "C", "floor((H - 1)/2) + 1", "floor((W - 1)/2) + 1"]},
     [{"N": 1, "C": 1, "H": h, "W": w} for h, w in [(1, 1), (2, 2), (3, 3), (4, 6), (5, 7)]]),
    ("maxpool_pad_not_below_kernel", 12,
     "(float[1, 1, 5, 5] x) => (float y) "
     "{ y = MaxPool <kernel_shape = [2, 2], pads = [2, 0, 0, 0]> (x) }",
     "impossible: must be smaller than the kernel", [{}]),
    # MLAS MaxPool refuses the negative SAME padding: H = 3k is invalid
    ("maxpool_same_upper_stride_over_kernel", 12,
     "(float[N, C, H] x) => (float y) "
     "{ y = MaxPool <kernel_shape = [2], strides = [3], auto_pad = \"SAME_UPPER\"> (x) }",
     {"y": ["N", "C", "-floor(-H/3)"]},
     [{"N": 1, "C": 1, "H": h} for h in range(1, 8)]),
    ("lppool_same_lower_stride_over_kernel", 11,
     "(float[N, C, H] x) => (float y) "
     "{ y = LpPool <kernel_shape = [2], strides = [3], auto_pad = \"SAME_LOWER\"> (x) }",
     {"y": ["N", "C", "-floor(-H/3)"]},
     [{"N": 1, "C": 1, "H": h} for h in range(1, 8)]),
    ("averagepool_same_lower_stride2", 11,
     "(float[N, C, H] x) => (float y) "
     "{ y = AveragePool <kernel_shape = [3], strides = [2], auto_pad = \"SAME_LOWER\"> (x) }",
     {"y": ["N", "C", "-floor(-H/2)"]},
     [{"N": 1, "C": 1, "H": h} for h in range(1, 7)]),
    ("maxpool_same_upper_stride2_odd_even", 12,
     "(float[N, C, H, W] x) => (float y) "
     "{ y = MaxPool <kernel_shape = [3, 3], strides = [2, 2], auto_pad = \"SAME_UPPER\"> (x) }",
     {"y": ["N", "C", "-floor(-H/2)", "-floor(-W/2)"]},
     [{"N": 1, "C": 1, "H": h, "W": h + 1} for h in (1, 2, 3, 4, 5)]),
    ("maxpool_valid_indices_dilation", 12,
     "(float[N, C, H] x) => (float y, int64 i) "
     "{ y, i = MaxPool <kernel_shape = [2], dilations = [2], auto_pad = \"VALID\"> (x) }",
     {"y": ["N", "C", "max(0, H - 3) + 1"], "i": ["N", "C", "max(0, H - 3) + 1"]},
     [{"N": 1, "C": 1, "H": h} for h in (1, 2, 3, 4)]),
    ("maxpool_3d", 12,
     "(float[N, C, D, H, W] x) => (float y) "
     "{ y = MaxPool <kernel_shape = [2, 2, 1], strides = [2, 2, 1]> (x) }",
     {"y": ["N", "C", "max(0, floor(D/2) - 1) + 1", "max(0, floor(H/2) - 1) + 1", "W"]},
     [{"N": 1, "C": 1, "D": d, "H": 2, "W": 3} for d in (1, 2, 3)]),
    ("maxpool_empty_channel_axis", 12,
     "(float[1, 0, 3] x) => (float y) { y = MaxPool <kernel_shape = [1]> (x) }",
     "impossible: must not be empty", [{}]),
    ("pool_rank2_input", 12,
     "(float[2, 5] x) => (float y) { y = MaxPool <kernel_shape = [2]> (x) }",
     "impossible: rank >= 3", [{}]),
    ("lppool_k2s2", 11,
     "(float[N, C, H, W] x) => (float y) "
     "{ y = LpPool <kernel_shape = [2, 2], strides = [2, 2], p = 2> (x) }",
     {"y": ["N", "C", "max(0, floor(H/2) - 1) + 1", "max(0, floor(W/2) - 1) + 1"]},
     [{"N": 1, "C": 1, "H": h, "W": 4} for h in (1, 2, 3, 4, 5)]),
    ("lppool18_ceil_mode", 18,
     "(float[N, C, H] x) => (float y) "
     "{ y = LpPool <kernel_shape = [3], strides = [2], ceil_mode = 1> (x) }",
     {"y": ["N", "C", CEIL_K3S2]},
     [{"N": 1, "C": 1, "H": h} for h in range(1, 7)]),
    ("global_average_pool", 11,
     "(float[N, C, H, W] x) => (float y) { y = GlobalAveragePool (x) }",
     {"y": ["N", "C", 1, 1]},
     [{"N": 1, "C": 1, "H": 1, "W": 1}, {"N": 2, "C": 3, "H": 2, "W": 5}]),
    ("global_max_pool_3d", 11,
     "(float[N, C, D, H, W] x) => (float y) { y = GlobalMaxPool (x) }",
     {"y": ["N", "C", 1, 1, 1]},
     [{"N": 1, "C": 2, "D": 1, "H": 2, "W": 3}, {"N": 2, "C": 1, "D": 3, "H": 1, "W": 1}]),
    ("global_pool_empty_spatial", 11,
     "(float[1, 2, 0, 3] x) => (float y) { y = GlobalAveragePool (x) }",
     "impossible: must not be empty", [{}]),
    ("global_lp_pool", 11,
     "(float[N, C, H] x) => (float y) { y = GlobalLpPool (x) }",
     {"y": ["N", "C", 1]}, [{"N": 1, "C": 1, "H": 1}, {"N": 2, "C": 3, "H": 4}]),
    ("maxroipool", 11,
     "(float[N, C, H, W] x) => (float y) <float[2, 5] r = {0, 0, 0, 1, 1, 0, 0, 0, 2, 2}> "
     "{ y = MaxRoiPool <pooled_shape = [2, 3]> (x, r) }",
     {"y": [2, "C", 2, 3]},
     [{"N": 1, "C": 1, "H": 3, "W": 3}, {"N": 2, "C": 3, "H": 1, "W": 2}]),
    ("maxunpool_pads", 11,
     "(float[N, C, H, W] x, int64[N, C, H, W] i) => (float y) "
     "{ y = MaxUnpool <kernel_shape = [3, 2], strides = [2, 2], pads = [1, 0, 1, 1]> (x, i) }",
     {"y": ["N", "C", "2*H - 1", "2*W - 1"]},
     [{"N": 1, "C": 1, "H": h, "W": w} for h, w in [(1, 1), (2, 3), (4, 4)]]),
]


@pytest.mark.parametrize("opset,graph,expect,points",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_conv_pool_rule(tmp_path, opset, graph, expect, points):
    check_row(tmp_path, opset, graph, expect, points)
