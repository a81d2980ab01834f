"""Exact shape arithmetic through the integer ops exporters put on shape values (issue 9).

Each row computes a value from S = x.shape[0] and turns it into a size with
ConstantOfShape (or feeds a shape vector to it), so the value is visible as an output
shape; every row is checked on onnxruntime at S = 1..12 (negative operands included: the
sign rules of Mod and Div are onnxruntime's, measured)."""

from __future__ import annotations

import pytest

from ._rule_rows import check_row

HEAD = """(float[S] x) => (float y)
<int64 zero = {0}, int64 one = {1}, int64 two = {2}, int64 three = {3}, int64 four = {4},
 int64 ten = {10}, int64 m3 = {-3}, float f2 = {2.0}, int64[1] ax0 = {0}>
{
  shp = Shape(x)
  s = Gather<axis=0>(shp, zero)
"""


def scalar_row(body: str) -> str:
    """``body`` computes the int64 scalar ``v``; y = ConstantOfShape([v])."""
    return HEAD + body + """
  v1 = Unsqueeze(v, ax0)
  y = ConstantOfShape(v1)
}"""


def vector_row(body: str) -> str:
    """``body`` computes the int64 vector ``vec``; y = ConstantOfShape(vec)."""
    return HEAD + body + """
  y = ConstantOfShape(vec)
}"""


SIZES = [{"S": s} for s in range(1, 13)]

SCALARS = [
    # Mod, fmod = 0 (sign of the divisor, Python's %): (S - 10) mod 4, negative dividends
    ("mod_py_neg_dividend", "d = Sub(s, ten)\n  v = Mod<fmod=0>(d, four)",
     "S - 4*floor((S - 10)/4) - 10"),
    # S mod -3 is in -2..0 (Python sign): + 3
    ("mod_py_neg_divisor", "d = Mod<fmod=0>(s, m3)\n  v = Add(d, three)", "S + 3*floor(-S/3) + 3"),
    # fmod = 1 (sign of the dividend, C's fmod): -S fmod 4 = -(S mod 4); + 4
    ("fmod_neg_dividend", "n = Neg(s)\n  d = Mod<fmod=1>(n, four)\n  v = Add(d, four)",
     "-S + 4*floor(S/4) + 4"),
    ("fmod_pos_dividend", "v = Mod<fmod=1>(s, m3)", "S - 3*floor(S/3)"),
    # integer Div truncates toward zero: (3 - S) / 2 + 10
    ("div_trunc", "d = Sub(three, s)\n  q = Div(d, two)\n  v = Add(q, ten)",
     "max(0, floor((3 - S)/2)) - max(0, floor((S - 3)/2)) + 10"),
    # int -> float -> int: Cast(S / 2.0) truncates; Ceil rounds up
    ("cast_float_div", "f = Cast<to=1>(s)\n  h = Div(f, f2)\n  v = Cast<to=7>(h)", "floor(S/2)"),
    ("ceil_float_div", "f = Cast<to=1>(s)\n  h = Div(f, f2)\n  c = Ceil(h)\n  v = Cast<to=7>(c)",
     "-floor(-S/2)"),
    # Clip at 0 of S - 10; Max/Min; Abs/Neg of a decided sign; Sign
    ("clip", "d = Sub(s, ten)\n  v = Clip(d, zero)", "max(0, S - 10)"),
    ("max_min", "a = Max(s, four)\n  v = Min(a, ten)", "min(10, max(4, S))"),
    ("abs_neg", "n = Neg(s)\n  v = Abs(n)", "S"),
    ("sign", "v = Sign(s)", 1),
    # comparisons decided for every size select a branch of Where
    ("where_decided", "c = Less(s, zero)\n  v = Where(c, ten, s)", "S"),
    ("where_greater", "c = Greater(s, zero)\n  nc = Not(c)\n  v = Where(nc, ten, s)", "S"),
    ("equal_and_or", "e = Equal(s, s)\n  l = Less(s, zero)\n  o = Or(l, e)\n  a = And(o, e)\n"
                     "  v = Where(a, s, ten)", "S"),
    ("cast_bool", "b = Cast<to=9>(s)\n  v = Where(b, three, ten)", 3),
]


@pytest.mark.parametrize("name, body, size", SCALARS, ids=[r[0] for r in SCALARS])
def test_scalar_arithmetic_is_exact(tmp_path, name, body, size):
    a = check_row(tmp_path, 18, scalar_row(body), {"y": [size]}, SIZES)
    assert a.domain.exact, [u.describe() for u in a.propagation.unproven]


UNDECIDED = [
    # fmod of a dividend whose sign depends on S: no exact value, never a guess
    ("fmod_undecided_sign", "d = Sub(s, ten)\n  v = Mod<fmod=1>(d, four)"),
    # S < 5 holds for some sizes only
    ("compare_undecided", "c = Less(s, four)\n  v = Where(c, ten, s)"),
    ("abs_undecided", "d = Sub(s, ten)\n  v = Abs(d)"),
]


@pytest.mark.parametrize("name, body", UNDECIDED, ids=[r[0] for r in UNDECIDED])
def test_undecided_values_are_unproven(tmp_path, name, body):
    check_row(tmp_path, 18, scalar_row(body), "unproven: computed at run time", None)


VECTORS = [
    # Expand of a shape vector: [S] -> [S, S]
    ("expand", "s1 = Unsqueeze(s, ax0)\n  t = Unsqueeze(two, ax0)\n  vec = Expand(s1, t)"),
    # Tile: [S, 2] -> [S, 2, S, 2]
    ("tile", "s1 = Unsqueeze(s, ax0)\n  t = Unsqueeze(two, ax0)\n  p = Concat<axis=0>(s1, t)\n"
             "  vec = Tile(p, t)"),
    # Slice with step -1 reverses: [S, 2, 3] -> [3, 2, S]
    ("slice_reverse", "s1 = Unsqueeze(s, ax0)\n  t = Unsqueeze(two, ax0)\n"
                      "  r = Unsqueeze(three, ax0)\n  p = Concat<axis=0>(s1, t, r)\n"
                      "  st = Constant<value_ints=[-1]>()\n"
                      "  en = Constant<value_ints=[-9223372036854775807]>()\n"
                      "  vec = Slice(p, st, en, ax0, st)"),
    # Reshape [4] -> [2, 2], Transpose, Reshape [-1]: [S, 2, 3, 1] -> [S, 3, 2, 1]
    ("reshape_transpose", "s1 = Unsqueeze(s, ax0)\n  t = Unsqueeze(two, ax0)\n"
                          "  r = Unsqueeze(three, ax0)\n  o = Unsqueeze(one, ax0)\n"
                          "  p = Concat<axis=0>(s1, t, r, o)\n"
                          "  sh = Constant<value_ints=[2, 2]>()\n  m = Reshape(p, sh)\n"
                          "  mt = Transpose<perm=[1, 0]>(m)\n  fl = Constant<value_ints=[-1]>()\n"
                          "  vec = Reshape(mt, fl)"),
    # Gather with a negative index, GatherElements, ScatterND and ScatterElements
    ("gather_negative", "p = Concat<axis=0>(shp, shp)\n  i = Constant<value_ints=[-1, 0]>()\n"
                        "  vec = Gather(p, i)"),
    ("gather_elements", "p = Concat<axis=0>(shp, shp)\n  i = Constant<value_ints=[1, 0, 0]>()\n"
                        "  vec = GatherElements<axis=0>(p, i)"),
    ("scatter_nd", "p = Concat<axis=0>(shp, shp)\n  i = Constant<value=int64[1, 1] {1}>()\n"
                   "  u = Constant<value_ints=[3]>()\n  vec = ScatterND(p, i, u)"),
    ("scatter_elements", "p = Concat<axis=0>(shp, shp)\n  i = Constant<value_ints=[-2]>()\n"
                         "  u = Constant<value_ints=[2]>()\n"
                         "  vec = ScatterElements<axis=0>(p, i, u)"),
    # Squeeze / Unsqueeze / Range of known length
    ("squeeze_range", "s2 = Unsqueeze(s, ax0)\n  s3 = Squeeze(s2, ax0)\n"
                      "  r = Range(s3, ten, four)\n  l = Constant<value_ints=[3]>()\n"
                      "  vec = Concat<axis=0>(shp, l)"),
]


@pytest.mark.parametrize("name, body", VECTORS, ids=[r[0] for r in VECTORS])
def test_shape_vector_ops_are_exact(tmp_path, name, body):
    a = check_row(tmp_path, 18, vector_row(body), {}, SIZES)
    assert a.domain.exact, [u.describe() for u in a.propagation.unproven]
    assert a.shapes["y"] is not None


def test_negative_computed_size_is_a_condition(tmp_path):
    # ConstantOfShape([S - 4]) fails for S < 4 ('Tensor shape.Size() must be >= 0'); at
    # S = 4 the output is empty, which graphshape counts as not valid
    a = check_row(tmp_path, 18, scalar_row("v = Sub(s, four)"), {"y": ["S - 4"]}, SIZES)
    assert [p["S"] for p in SIZES if a.domain.contains(p)] == list(range(5, 13))


def test_integer_division_by_a_computed_zero(tmp_path):
    # 10 / (S - 3) fails at S = 3 only ('Integer division by zero')
    graph = HEAD.replace("(float y)", "(float y, int64 q)") + """
  d = Sub(s, three)
  q = Div(ten, d)
  v1 = Unsqueeze(s, ax0)
  y = ConstantOfShape(v1)
}"""
    a = check_row(tmp_path, 18, graph, {}, SIZES)
    assert a.domain.exact
    assert [p["S"] for p in SIZES if not a.domain.contains(p)] == [3]


SLICES = [
    # start S - 6 on a 10-long axis: negative (counted from the end) for S < 6
    ("start_sign_changes", "b = Sub(s, Constant<value_int=6>())", "0"),
    # start -S: always from the end
    ("start_negative", "b = Neg(s)", "0"),
    # end S - 6 with step -1 from the last element
    ("end_sign_changes_step_back", "b = Sub(s, Constant<value_int=6>())", "-1"),
]


@pytest.mark.parametrize("name, bound, mode", SLICES, ids=[r[0] for r in SLICES])
def test_slice_bounds_counted_from_the_end(tmp_path, name, bound, mode):
    # a 10-long constant vector sliced with a computed bound; the result's length is a size
    six = "  six = Constant<value_int=6>()\n"
    bound = bound.replace("Constant<value_int=6>()", "six")
    if mode == "0":
        sl = "  st = Unsqueeze(b, ax0)\n  en = Constant<value_ints=[100]>()\n" \
             "  p = Slice(ten_vec, st, en)\n"
    else:
        sl = "  st = Constant<value_ints=[-1]>()\n  en = Unsqueeze(b, ax0)\n" \
             "  stp = Constant<value_ints=[-1]>()\n  p = Slice(ten_vec, st, en, ax0, stp)\n"
    body = six + "  ten_vec = Constant<value_ints=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]>()\n" + \
        f"  {bound}\n" + sl + "  ps = Shape(p)\n  vec = Concat<axis=0>(ps, shp)"
    a = check_row(tmp_path, 18, vector_row(body), {}, SIZES)
    assert a.domain.exact, [u.describe() for u in a.propagation.unproven]


def test_topk_with_a_computed_k(tmp_path):
    # k = S - 4 over 10 values: k >= 0 ('value of k must not be negative') and k <= 10;
    # k = 0 leaves an empty output, which graphshape does not count as valid
    graph = HEAD.replace("(float y)", "(float y, int64 i)") + """
  kk = Sub(s, four)
  k1 = Unsqueeze(kk, ax0)
  vals = Constant<value_floats=[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]>()
  y, i = TopK(vals, k1)
}"""
    pts = [{"S": n} for n in list(range(1, 13)) + [14, 15, 20]]
    a = check_row(tmp_path, 18, graph, {"y": ["S - 4"]}, pts)
    assert [p["S"] for p in pts if a.domain.contains(p)] == list(range(5, 13)) + [14]
