"""Rule table for graphshape/rules/elementwise.py: broadcasting (size 1, equal sizes, a
mismatch becomes a condition), unary ops, and integer/float shape arithmetic carried through
Tensor.value (Shape -> arithmetic -> Reshape/ConstantOfShape), each row checked on
onnxruntime at its points."""

from __future__ import annotations

import pytest

from ._rule_rows import check_row


def nc(*pairs):
    return [{"N": n, "C": c} for n, c in pairs]


def hs(*sizes):
    return [{"N": 1, "C": 2, "H": h} for h in sizes]


NC = nc((1, 1), (2, 3), (3, 1))
X3 = "float[N, C, H] x"
# Shape(x) split into 1-element int64 tensors n, c, h (for arithmetic on single dims)
DIMS = ("s = Shape (x) n = Slice (s, i0, i1) c = Slice (s, i1, i2) h = Slice (s, i2, i3) ")
IDX = "int64[1] i0 = {0}, int64[1] i1 = {1}, int64[1] i2 = {2}, int64[1] i3 = {3}"

ROWS = [
    # ---- broadcasting ----
    ("add_broadcast_ones", 14,
     "(float[N, 1, W] x, float[1, C, 1] z) => (float y) { y = Add (x, z) }",
     {"y": ["N", "C", "W"]},
     [{"N": 1, "C": 1, "W": 1}, {"N": 2, "C": 3, "W": 4}]),
    ("add_equal_shapes", 14,
     "(float[N, C] x, float[N, C] z) => (float y) { y = Add (x, z) }",
     {"y": ["N", "C"]}, NC),
    ("add_rank_extension", 14,
     f"({X3}, float[H] z) => (float y) {{ y = Sub (x, z) }}",
     {"y": ["N", "C", "H"]}, [{"N": 2, "C": 3, "H": 4}, {"N": 1, "C": 1, "H": 1}]),
    ("mul_mismatch_becomes_condition", 14,
     "(float[N, C] x, float[N, D] z) => (float y) { y = Mul (x, z) }",
     {"y": ["N", "max(C, D)"]},
     [{"N": 2, "C": c, "D": d} for c, d in [(3, 3), (1, 3), (3, 1), (2, 3), (1, 1), (4, 2)]]),
    ("mul_mismatch_batch", 14,
     "(float[N, C] x, float[M, C] z) => (float y) { y = Mul (x, z) }",
     {"y": ["max(M, N)", "C"]},
     [{"N": n, "M": m, "C": 2} for n, m in [(1, 1), (1, 4), (4, 1), (2, 3), (3, 3)]]),
    ("div_against_constant_vector", 14,
     "(float[N, C] x) => (float y) <float[3] k = {1.0, 2.0, 3.0}> { y = Div (x, k) }",
     {"y": ["N", 3]}, nc((2, 1), (2, 2), (2, 3), (1, 4))),
    ("add_fixed_mismatch", 14,
     "(float[2, 3] x, float[4] z) => (float y) { y = Add (x, z) }",
     "impossible: broadcast", [{}]),
    ("zero_broadcasts_against_one", 14,
     "(float[N, 0] x, float[N, 1] z) => (int64 y) { a = Add (x, z) y = Shape (a) }",
     {"y": [2]}, [{"N": 1}, {"N": 2}]),
    ("zero_against_two_fails", 14,
     "(float[2, 0] x, float[2, 2] z) => (int64 y) { a = Add (x, z) y = Shape (a) }",
     "impossible: broadcast", [{}]),
    ("equal_compare_bool", 11,
     "(float[N, C] x, float[1, C] z) => (bool y) { y = Equal (x, z) }",
     {"y": ["N", "C"]}, NC),
    ("and_or_broadcast", 7,
     "(bool[N, 1] a, bool[C] b) => (bool y) { t = And (a, b) y = Or (t, a) }",
     {"y": ["N", "C"]}, NC),
    ("pow_broadcast_exponent", 15,
     "(float[N, C] x, float[C] p) => (float y) { y = Pow (x, p) }",
     {"y": ["N", "C"]}, NC),
    ("bitshift_uint", 11,
     "(uint32[N, C] x, uint32[1] k) => (uint32 y) "
     "{ y = BitShift <direction = \"LEFT\"> (x, k) }",
     {"y": ["N", "C"]}, NC),
    ("prelu_slope_per_channel", 16,
     f"({X3}, float[C, 1] a) => (float y) {{ y = PRelu (x, a) }}",
     {"y": ["N", "C", "H"]}, [{"N": 2, "C": 3, "H": 4}, {"N": 1, "C": 1, "H": 2}]),
    ("prelu_slope_broadcasts_input", 16,
     f"({X3}, float[1, 1, 4] a) => (float y) {{ y = PRelu (x, a) }}",
     {"y": ["N", "C", 4]}, [{"N": 1, "C": 2, "H": h} for h in (1, 2, 3, 4)]),
    ("where_three_way", 16,
     "(bool[N, 1] c, float[1, C] a, float[N, C] b) => (float y) { y = Where (c, a, b) }",
     {"y": ["N", "C"]}, NC),
    ("where_condition_mismatch", 16,
     "(bool[N] c, float[C] a, float[1] b) => (float y) { y = Where (c, a, b) }",
     {"y": ["max(C, N)"]}, nc((1, 3), (3, 1), (3, 3), (2, 3))),
    # ---- variadic ----
    ("sum_variadic", 13,
     "(float[N, 1] a, float[1, C] b, float[N, C] d) => (float y) { y = Sum (a, b, d) }",
     {"y": ["N", "C"]}, NC),
    ("mean_variadic_condition", 13,
     "(float[N] a, float[C] b, float[3] d) => (float y) { y = Mean (a, b, d) }",
     {"y": [3]}, nc((1, 1), (3, 1), (1, 3), (3, 3), (2, 3), (3, 2))),
    ("max_min_variadic", 13,
     "(float[N, C] a, float[C] b) => (float y, float z) { y = Max (a, b) z = Min (b) }",
     {"y": ["N", "C"], "z": ["C"]}, NC),
    ("sum_single_input", 13,
     "(float[N, C] a) => (float y) { y = Sum (a) }", {"y": ["N", "C"]}, NC),
    # ---- unary ----
    ("unary_chain", 13,
     "(float[N, C] x) => (float y) { a = Relu (x) b = Sigmoid (a) d = Erf (b) y = Softsign (d) }",
     {"y": ["N", "C"]}, NC),
    ("unary_attrs_clip_inputs", 14,
     "(float[N, C] x) => (float y) <float lo = {0.0}, float hi = {1.0}> "
     "{ a = Clip (x, lo, hi) b = LeakyRelu <alpha = 0.1> (a) y = HardSwish (b) }",
     {"y": ["N", "C"]}, NC),
    ("dropout_mask", 13,
     "(float[N, C] x) => (float y, bool m) { y, m = Dropout (x) }",
     {"y": ["N", "C"], "m": ["N", "C"]}, NC),
    ("isnan_not", 13,
     "(float[N, C] x) => (bool y) { a = IsNaN (x) y = Not (a) }", {"y": ["N", "C"]}, NC),
    # ---- arithmetic on shape values ----
    ("shape_mul_feeds_reshape", 14,
     f"({X3}) => (float y) <{IDX}> {{ {DIMS} ch = Mul (c, h) t = Concat <axis = 0> (n, ch) "
     "y = Reshape (x, t) }",
     {"y": ["N", "C*H"]}, hs(1, 3)),
    ("shape_int_div_needs_even", 14,
     f"({X3}) => (float y) <{IDX}, int64[1] two = {{2}}> {{ {DIMS} hh = Div (h, two) "
     "t = Concat <axis = 0> (n, c, two, hh) y = Reshape (x, t) }",
     {"y": ["N", "C", 2, "floor(H/2)"]}, hs(1, 2, 3, 4, 5, 6)),
    ("shape_int_div_truncates", 14,
     f"({X3}) => (float y) <{IDX}, int64[1] two = {{2}}, int64[1] five = {{5}}, "
     "int64[1] one = {1}> "
     f"{{ {DIMS} d = Sub (h, five) q = Div (d, two) u = Add (q, one) y = ConstantOfShape (u) }}",
     {"y": ["-max(0, floor((5 - H)/2)) + max(0, floor((H - 5)/2)) + 1"]},
     hs(1, 2, 3, 4, 5, 6, 7, 8)),
    ("shape_sub_empty_output", 14,
     f"({X3}) => (float y) <int64[1] one = {{1}}> "
     "{ s = Shape (x) d = Sub (s, one) y = ConstantOfShape (d) }",
     {"y": ["N - 1", "C - 1", "H - 1"]},
     [{"N": 2, "C": 2, "H": 3}, {"N": 1, "C": 2, "H": 3}, {"N": 2, "C": 2, "H": 1}]),
    ("shape_float_ceil_cast", 14,
     f"({X3}) => (float y) <float two = {{2.0}}> "
     "{ s = Shape (x) f = Cast <to = 1> (s) g = Div (f, two) k = Ceil (g) "
     "i = Cast <to = 7> (k) y = ConstantOfShape (i) }",
     {"y": ["-floor(-N/2)", "-floor(-C/2)", "-floor(-H/2)"]},
     [{"N": 1, "C": 2, "H": 3}, {"N": 4, "C": 5, "H": 6}]),
    ("shape_float_div_floor", 14,
     f"({X3}) => (float y) <float three = {{3.0}}> "
     "{ s = Shape (x) f = Cast <to = 1> (s) g = Div (f, three) k = Floor (g) "
     "i = Cast <to = 7> (k) y = ConstantOfShape (i) }",
     {"y": ["floor(N/3)", "floor(C/3)", "floor(H/3)"]},
     [{"N": 3, "C": 4, "H": 5}, {"N": 6, "C": 7, "H": 8}, {"N": 2, "C": 3, "H": 3}]),
    ("shape_float_cast_truncates", 14,
     f"({X3}) => (float y) <float third = {{0.3333}}> "
     "{ s = Shape (x) f = Cast <to = 1> (s) g = Mul (f, third) i = Cast <to = 7> (g) "
     "y = ConstantOfShape (i) }",
     # float32 0.3333 * 3 is 0.9999: a derived size (float_eval), >= 1 from N = 4 on
     {"y": ["fl1", "fl2", "fl3"]},
     [{"N": 3, "C": 4, "H": 4}, {"N": 4, "C": 4, "H": 4}, {"N": 7, "C": 10, "H": 13}]),
    ("shape_max_min_values", 14,
     f"({X3}) => (float y, float z) <int64[3] two = {{2, 2, 2}}, int64[3] four = {{4, 4, 4}}> "
     "{ s = Shape (x) a = Max (s, two) b = Min (s, four) "
     "y = ConstantOfShape (a) z = ConstantOfShape (b) }",
     {"y": ["max(2, N)", "max(2, C)", "max(2, H)"], "z": ["min(4, N)", "min(4, C)", "min(4, H)"]},
     [{"N": 1, "C": 3, "H": 5}, {"N": 2, "C": 4, "H": 6}]),
    ("shape_sum_values", 14,
     f"({X3}) => (float y) {{ s = Shape (x) f = Cast <to = 1> (s) a = Sum (f, f, f) "
     "i = Cast <to = 7> (a) y = ConstantOfShape (i) }",
     {"y": ["3*N", "3*C", "3*H"]}, [{"N": 1, "C": 2, "H": 1}]),
    ("shape_where_constant_condition", 16,
     f"({X3}) => (float y) <bool[3] k = {{1, 0, 1}}, int64[3] f = {{5, 5, 5}}> "
     "{ s = Shape (x) a = Where (k, s, f) y = ConstantOfShape (a) }",
     {"y": ["N", 5, "H"]}, [{"N": 1, "C": 2, "H": 3}]),
    ("shape_where_selects_constant", 16,
     "(float[N, C] x) => (float y) <bool[2] k = {1, 0}, int64[2] f = {3, 3}> "
     "{ s = Shape (x) a = Where (k, f, s) y = ConstantOfShape (a) }",
     {"y": [3, "C"]}, NC),
    ("shape_float_mul_integral", 14,
     "(float[N, C] x) => (float y) <float two = {2.0}> "
     "{ s = Shape (x) f = Cast <to = 1> (s) g = Mul (f, two) i = Cast <to = 7> (g) "
     "y = ConstantOfShape (i) }",
     {"y": ["2*N", "2*C"]}, NC),
    ("shape_mod_fixed_dims", 13,
     "(float[7, 5] x) => (float y) <int64[2] k = {4, 3}> "
     "{ s = Shape (x) a = Mod (s, k) y = ConstantOfShape (a) }",
     {"y": [3, 2]}, [{}]),
    ("shape_mod_symbolic", 13,
     "(float[N, C] x) => (float y) <int64[2] k = {4, 3}> "
     "{ s = Shape (x) a = Mod (s, k) y = ConstantOfShape (a) }",
     {"y": ["N - 4*floor(N/4)", "C - 3*floor(C/3)"]},
     nc((1, 1), (4, 2), (5, 3), (6, 5), (8, 6), (7, 7))),
    ("shape_clip_values", 13,
     "(float[N, C] x) => (float y) <int64 lo = {1}, int64 hi = {4}> "
     "{ s = Shape (x) a = Clip (s, lo, hi) y = ConstantOfShape (a) }",
     {"y": ["min(4, N)", "min(4, C)"]}, nc((1, 3), (4, 5), (6, 2))),
    ("shape_int_div_by_zero", 14,
     "(float[N, C] x) => (float y) <int64[2] z = {1, 0}> "
     "{ s = Shape (x) a = Div (s, z) y = ConstantOfShape (a) }",
     "impossible: integer Div by zero", [{"N": 1, "C": 1}, {"N": 2, "C": 3}]),
    ("shape_neg_abs_identity", 14,
     "(float[N, C] x) => (float y) "
     "{ s = Shape (x) a = Neg (s) b = Abs (a) d = Identity (b) y = ConstantOfShape (d) }",
     {"y": ["N", "C"]}, NC),
    ("shape_castlike", 15,
     "(float[N, C] x, int32[1] like) => (float y) "
     "{ s = Shape (x) a = CastLike (s, like) b = Cast <to = 7> (a) y = ConstantOfShape (b) }",
     {"y": ["N", "C"]}, NC),
]


@pytest.mark.parametrize("opset,graph,expect,points",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_elementwise_rule(tmp_path, opset, graph, expect, points):
    check_row(tmp_path, opset, graph, expect, points)
