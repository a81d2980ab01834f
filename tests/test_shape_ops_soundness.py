"""Soundness fixes in graphshape/rules/shape_ops.py, each found against onnxruntime and
checked on it here at every size around the boundary:

* Pad edge/reflect/wrap: onnxruntime's CPU kernel (pad.cc, PadImpl and
  HandleDimValueZero) refuses a non-empty input one of whose axes is cropped to nothing
  ('zero effective input extent'), a reflect pad not below the cropped length ('pre-pad
  (p) exceeds maximum allowed (n - 1)'), an empty input whose empty axis would grow
  ('Cannot use 'edge' mode to pad dimension with a value of 0') and, in wrap mode, any
  empty input ('Unexpected mode of 3');
* Slice before opset 10 reads starts/ends/axes from its attributes;
* Reshape (allowzero=0) with a computed entry that is 0 at some sizes: onnxruntime copies
  the input's dim there (reshape_helper.h) and refuses it past the input's rank;
"""

from __future__ import annotations

import pytest

import graphshape

from ._rule_rows import check_row, model_from_text
from .conftest import assert_agrees

END = 9223372036854775807


def c_only(*sizes, n=1):
    return [{"N": n, "C": c} for c in sizes]


def analyse(tmp_path, opset, graph):
    return graphshape.analyze(model_from_text(opset, graph, str(tmp_path / "m.onnx")))


ROWS = [
    # ---- Pad: an axis cropped to nothing, reflect against the cropped length ----
    ("pad_edge_of_axis_cropped_to_zero", 19,
     "(float[N, C] x) => (float y) <int64[4] p = {0, -3, 0, 0}, int64[4] q = {0, 1, 0, 1}> "
     "{ t = Pad (x, p) y = Pad <mode = \"edge\"> (t, q) }",
     {"y": ["N", "C - 1"]}, c_only(1, 2, 3, 4, 5, 6)),
    ("pad_wrap_of_axis_cropped_to_zero", 19,
     "(float[N, C] x) => (float y) <int64[4] p = {0, -3, 0, 0}, int64[4] q = {0, 2, 0, 0}> "
     "{ t = Pad (x, p) y = Pad <mode = \"wrap\"> (t, q) }",
     {"y": ["N", "C - 1"]}, c_only(1, 2, 3, 4, 5)),
    ("pad_edge_crops_to_nothing_itself", 19,
     "(float[N, C] x) => (float y) <int64[4] q = {1, -2, 0, -1}> "
     "{ y = Pad <mode = \"edge\"> (x, q) }",
     {"y": ["N + 1", "C - 3"]}, c_only(1, 2, 3, 4, 5)),
    ("pad_reflect_against_cropped_length", 19,
     "(float[N, C] x) => (float y) <int64[4] q = {0, 2, 0, -2}> "
     "{ y = Pad <mode = \"reflect\"> (x, q) }",
     {"y": ["N", "C"]}, c_only(1, 2, 3, 4, 5, 6, 7)),
    ("pad_reflect_crop_then_pad_other_side", 13,
     "(float[N, C] x) => (float y) <int64[4] q = {0, -1, 0, 1}> "
     "{ y = Pad <mode = \"reflect\"> (x, q) }",
     {"y": ["N", "C"]}, c_only(1, 2, 3, 4)),
    ("pad2_edge_attribute_empty_axis", 10,
     "(float[N, C] x) => (float y) "
     "{ t = Pad <pads = [0, 0, 0, -3]> (x) y = Pad <mode = \"edge\", pads = [0, 1, 0, 0]> (t) }",
     {"y": ["N", "C - 2"]}, c_only(1, 2, 3, 4, 5)),
    # ---- Slice-1: the attributes ----
    ("slice9_attributes", 9,
     "(float[N, C] x) => (float y) { y = Slice <starts = [1], ends = [-1], axes = [1]> (x) }",
     {"y": ["N", "max(0, C - 2)"]}, c_only(1, 2, 3, 4, 5)),
    ("slice9_no_axes_clamps", 9,
     "(float[N, C] x) => (float y) { y = Slice <starts = [1, -2], ends = [1000, 100]> (x) }",
     {"y": ["min(1000, N) - 1", "max(0, -max(0, C - 2) + min(100, C))"]},
     [{"N": n, "C": c} for n, c in [(1, 1), (2, 1), (3, 2), (2, 5), (4, 3)]]),
    ("slice1_negative_axis", 1,
     "(float[N, C] x) => (float y) { y = Slice <starts = [0], ends = [2], axes = [-1]> (x) }",
     {"y": ["N", "min(2, C)"]}, c_only(1, 2, 3)),
    # ---- Reshape-1..4: the shape attribute ----
    ("reshape4_shape_attribute", 4,
     "(float[N, 6] x) => (float y) { y = Reshape <shape = [0, 2, -1]> (x) }",
     {"y": ["N", 2, 3]}, [{"N": 1}, {"N": 3}]),
]


@pytest.mark.parametrize("opset,graph,expect,points",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_shape_ops_soundness_row(tmp_path, opset, graph, expect, points):
    check_row(tmp_path, opset, graph, expect, points)


def test_pad_edge_of_an_empty_input_that_does_not_grow_runs(tmp_path):
    """An empty input with its empty axis not padded is accepted (HandleDimValueZero only
    refuses growth); Concat then skips the empty part, so only C == 3 runs. With the empty
    axis padded, no size runs."""
    g = ("(float[N, C] x) => (float y) <int64[4] p = {{0, -3, 0, 0}}, int64[4] q = {{{q}}}> "
         "{{ t = Pad (x, p) u = Pad <mode = \"{mode}\"> (t, q) y = Concat <axis = 0> (u, x) }}")
    pts = c_only(1, 2, 3, 4, 5) + c_only(3, 4, n=2)
    for mode in ("edge", "reflect"):
        a = analyse(tmp_path, 19, g.format(q="1, 0, 0, 0", mode=mode))
        assert [c for c in range(1, 9) if a.domain.contains({"N": 1, "C": c})] == [3], mode
        assert_agrees(a, pts)
        a = analyse(tmp_path, 19, g.format(q="1, 0, 0, 1", mode=mode))
        assert not any(a.domain.contains({"N": 1, "C": c}) for c in range(1, 9)), mode
        assert_agrees(a, pts)
    a = analyse(tmp_path, 19, g.format(q="1, 0, 0, 0", mode="wrap"))  # wrap: never empty
    assert not any(a.domain.contains({"N": 1, "C": c}) for c in range(1, 9))
    assert_agrees(a, pts)


def test_reshape_computed_zero_copies_the_input_dim(tmp_path):
    """floor(N/2) is 0 at N == 1, where onnxruntime copies N (= 1): [1, C] holds the C
    elements. Taken literally (graphshape before) N == 1 was refused. Two computed entries:
    onnxruntime's ReshapeFusion leaves this target alone (measured)."""
    a = analyse(tmp_path, 19,
                "(float[N, C] x) => (float y) <int64[1] i0 = {0}, int64[1] i1 = {1}, "
                "int64[1] two = {2}> "
                "{ s = Shape (x) n = Gather (s, i0) h = Div (n, two) c = Gather (s, i1) "
                "t = Concat <axis = 0> (h, c) y = Reshape (x, t) }")
    assert a.domain.exact
    assert [n for n in range(1, 12) if a.domain.contains({"N": n, "C": 3})] == [1]
    assert a.output_shapes_at({"N": 1, "C": 3})["y"] == [1, 3]
    assert_agrees(a, [{"N": n, "C": c} for n in range(1, 6) for c in (1, 3)])


@pytest.mark.parametrize("opset", [14, 19])
def test_reshape_fusion_infers_the_one_computed_entry(tmp_path, opset):
    """One computed entry next to constants: onnxruntime's ReshapeFusion (on by default)
    makes it -1, so its value is never read: [N / 2, 3] runs as [-1, 3], at every N."""
    a = analyse(tmp_path, opset,
                "(float[N, 3] x) => (float y) <int64[1] i0 = {0}, int64[1] two = {2}, "
                "int64[1] three = {3}> "
                "{ s = Shape (x) n = Gather (s, i0) h = Div (n, two) "
                "t = Concat <axis = 0> (h, three) y = Reshape (x, t) }")
    assert a.domain.exact and a.shapes["y"] == ["N", 3]
    assert_agrees(a, [{"N": n} for n in range(1, 7)])


def test_reshape_computed_zero_past_the_input_rank_is_refused(tmp_path):
    """Back from [1, 2, H*(W-2)] to the 4-D shape: at W == 2 the last entry is 0 and the
    input has rank 3, which onnxruntime refuses; graphshape took the 0 literally (valid,
    an empty part the Concat skips)."""
    a = analyse(tmp_path, 19,
                "(float[1, 2, H, W] x) => (float y) <int64[8] p = {0, 0, 0, 0, 0, 0, 0, -2}, "
                "int64[3] f = {0, 0, -1}> "
                "{ t = Pad (x, p) s = Shape (t) u = Reshape (t, f) b = Reshape (u, s) "
                "y = Concat <axis = 3> (b, x) }")
    assert a.domain.exact
    assert not a.domain.contains({"H": 2, "W": 2}) and a.domain.contains({"H": 2, "W": 3})
    assert_agrees(a, [{"H": h, "W": w} for h in (1, 2, 3) for w in range(1, 6)])


def test_reshape_zero_with_minus_one_is_unproven(tmp_path):
    """A computed entry that may be 0 next to a -1 entry (not fused, measured): onnxruntime
    copies there and infers the -1 (N == 1 gives [1, 3]); not modelled, said so."""
    a = analyse(tmp_path, 19,
                "(float[N, 6] x) => (float y) <int64[1] i0 = {0}, int64[1] two = {2}, "
                "int64[1] m1 = {-1}> "
                "{ s = Shape (x) n = Gather (s, i0) h = Div (n, two) "
                "t = Concat <axis = 0> (h, m1) y = Reshape (x, t) }")
    text = "; ".join(u.describe() for u in a.propagation.unproven)
    assert "Reshape" in text, text


_FUSION = {
    # one computed entry beside constants: onnxruntime's ReshapeFusion makes it -1
    "fused_entry": ("(float[N, C] x) => (float y) <int64[1] i0 = {0}, int64[1] c3 = {3}, "
                    "int64[1] two = {2}> { s = Shape (x) n = Gather (s, i0) h = Div (n, two) "
                    "t = Concat <axis = 0> (h, c3) y = Reshape (x, t) }"),
    # computed entries 0 at some sizes, copied from the input, past its rank refused
    "zero_past_rank": ("(float[N, C] x) => (float y) <int64[1] i0 = {0}, int64[1] i1 = {1}, "
                       "int64[1] two = {2}> { s = Shape (x) n = Gather (s, i0) "
                       "h = Div (n, two) c = Gather (s, i1) t = Concat <axis = 0> (c, n, h) "
                       "y = Reshape (x, t) }"),
    "zero_from_sub": ("(float[N, C] x) => (float y) <int64[1] i0 = {0}, int64[1] i1 = {1}, "
                      "int64[1] one = {1}, int64[1] two = {2}> { s = Shape (x) "
                      "n = Gather (s, i0) h = Sub (n, one) c = Gather (s, i1) "
                      "m = Div (c, two) t = Concat <axis = 0> (m, h) y = Reshape (x, t) }"),
}


@pytest.mark.parametrize("name", sorted(_FUSION))
def test_reshape_computed_targets_as_onnxruntime_runs_them(tmp_path, name):
    a = analyse(tmp_path, 19, _FUSION[name])
    assert a.domain.exact
    pts = [{"N": n, "C": c} for n in range(1, 7) for c in range(1, 7)]
    assert any(a.domain.contains(p) for p in pts)
    assert_agrees(a, pts)


def test_reshape_three_computed_entries_split_into_cases(tmp_path):
    a = analyse(tmp_path, 19,
                "(float[N, C, D] x) => (float y) <int64[1] i0 = {0}, int64[1] i1 = {1}, "
                "int64[1] i2 = {2}, int64[1] two = {2}, int64[1] three = {3}> "
                "{ s = Shape (x) n = Gather (s, i0) h = Div (n, two) c = Gather (s, i1) "
                "k = Div (c, three) d = Gather (s, i2) t = Concat <axis = 0> (h, k, d) "
                "y = Reshape (x, t) }")
    assert a.domain.exact
    assert_agrees(a, [{"N": n, "C": c, "D": d} for n in range(1, 6) for c in range(1, 6)
                      for d in (1, 2)])
