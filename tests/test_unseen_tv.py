"""Found on models the corpus had never seen (torchvision squeezenet1_0, googlenet,
inception_v3, shufflenet_v2 via dynamo, swin_t; hand-built op mixes): each case is a tiny
graph run on onnxruntime 1.31 (CPU) at every size around its boundary, and graphshape
must agree (or say unproven, never a wrong claim).

1. Concat whose inputs may all be empty (SqueezeNet's Fire, Inception's blocks: every
   branch is a Conv/Pool output that is empty at small sizes) but share their off-axis
   dims: the output is proved (it was 'unproven: every input may be empty').
2. Ceil-mode pools whose last window always starts inside the input (pt + s <= window):
   the output is ceil((H + pads - k)/s) + 1, without a max/min per pool (GoogLeNet's four
   ceil-mode pools nested them until analyze took 8 s), and max(B - 1, B) is B, so an
   Inception pool branch (k3 s1 p1 ceil) equals its conv branches.
3. max(0, 1 - H) is 0, min(k, e) is e when e <= k (dynamo's shufflenet_v2 left tautologies
   out of the closed form).
4. ArgMax/ArgMin outputs are positions on their axis: a GatherElements on that same axis
   (torch.gather(x, 2, x.argmax(2, keepdim=True))) is proved.
5. Einsum with a repeated label ('ii->i'): onnxruntime needs the two dims equal (a size 1
   is not stretched); graphshape said unproven.
6. Slice with a constant non-negative start or end on a symbolic axis, negative step:
   clamped without asking sympy (Swin's shapes took minutes there).
"""

from __future__ import annotations

import pytest
import sympy

import graphshape
from graphshape.arith.dims import dmax, dmin
from graphshape.domain.sets import INVALID, UNPROVEN, VALID

from ._rule_rows import model_from_text
from .conftest import assert_agrees


def _analyze(tmp_path, opset, graph):
    return graphshape.analyze(model_from_text(opset, graph, str(tmp_path / "m.onnx")))


def _unproven_text(a) -> str:
    return "; ".join(u.describe() for u in a.propagation.unproven)


def _w(name, *shape):
    n = 1
    for d in shape:
        n *= d
    vals = ", ".join(["0.5"] * n)
    return f"{name} = Constant <value = float[{', '.join(map(str, shape))}] {{{vals}}}> ()"


# ---- 1. Concat of branches that may all be empty -------------------------------------------

FIRE = ("(float[1, 2, H, W] x) => (float y) { "
        "p = MaxPool <kernel_shape = [3, 3], strides = [2, 2], ceil_mode = 1> (x) "
        + _w("w1", 2, 2, 1, 1) + " " + _w("w3", 2, 2, 3, 3) + " "
        "a = Conv (p, w1) b = Conv <pads = [1, 1, 1, 1]> (p, w3) "
        "y = Concat <axis = 1> (a, b) }")

INCEPTION = ("(float[1, 2, H] x) => (float y) { "
             "p = MaxPool <kernel_shape = [3], strides = [2], ceil_mode = 1> (x) "
             + _w("w1", 2, 2, 1) + " " + _w("w3", 2, 2, 3) + " "
             "a = Conv (p, w1) b = Conv <pads = [1, 1]> (p, w3) "
             "c = MaxPool <kernel_shape = [3], strides = [1], pads = [1, 1], ceil_mode = 1> (p) "
             "y = Concat <axis = 1> (a, b, c) }")


def test_fire_concat_is_proved(tmp_path):
    a = _analyze(tmp_path, 13, FIRE)
    assert not a.propagation.unproven, _unproven_text(a)
    pts = [{"H": h, "W": w} for h in range(1, 7) for w in (1, 2, 3, 5)]
    # onnxruntime truncates the pool's division: a 2-wide input still gives one window
    assert [a.check(p) for p in pts] == [VALID if p["H"] >= 2 and p["W"] >= 2 else INVALID
                                         for p in pts]
    assert_agrees(a, pts)


def test_inception_pool_branch_matches_conv_branches(tmp_path):
    a = _analyze(tmp_path, 13, INCEPTION)
    assert not a.propagation.unproven, _unproven_text(a)
    y = a.shapes["y"]
    assert y[:2] == [1, 6] and y[2] == a.shapes["a"][2]
    pts = [{"H": h} for h in range(1, 12)]
    assert [a.check(p) for p in pts] == [VALID if p["H"] >= 2 else INVALID for p in pts]
    assert_agrees(a, pts)


def test_concat_of_maybe_empty_inputs_with_different_dims_stays_unproven(tmp_path):
    """The first non-empty input decides the output's dims: still unproven."""
    a = _analyze(tmp_path, 13, "(float[1, 1, H] x) => (float y) { "
                               + _w("w", 1, 1, 3) + " " + _w("v", 1, 1, 2) + " "
                               "p = Conv (x, w) q = Conv <strides = [2]> (x, v) "
                               "y = Concat <axis = 1> (p, q) }")
    assert "every input may be empty" in _unproven_text(a)
    pts = [{"H": h} for h in range(1, 8)]
    assert [a.check(p) for p in pts] == [UNPROVEN if 3 <= p["H"] <= 4 else INVALID for p in pts]
    assert_agrees(a, pts)


# ---- 2. ceil-mode pools ------------------------------------------------------------------

@pytest.mark.parametrize("attrs, expect", [
    ("kernel_shape = [3], strides = [2], ceil_mode = 1", "1 - floor((3 - H)/2)"),
    ("kernel_shape = [3], strides = [1], pads = [1, 1], ceil_mode = 1", "H"),
    ("kernel_shape = [3], strides = [3], pads = [0, 1], ceil_mode = 1", None),  # pt + s > k
    ("kernel_shape = [2], strides = [2], pads = [1, 1], ceil_mode = 1", None),
])
def test_ceil_mode_pool_output(tmp_path, attrs, expect):
    a = _analyze(tmp_path, 13, f"(float[1, 1, H] x) => (float y) {{ y = MaxPool <{attrs}> (x) }}")
    assert not a.propagation.unproven
    if expect is not None:
        assert a.shapes["y"][2] == expect
    assert_agrees(a, [{"H": h} for h in range(1, 14)])


# ---- 3. min/max against a constant -------------------------------------------------------

def test_minmax_constant_dominates():
    h = sympy.Symbol("H", integer=True, positive=True)
    assert dmax(0, 1 - h) == 0
    assert dmin(1, 1 - h) == 1 - h
    b = dmax(sympy.floor(h / 2), 1)
    assert dmax(b - 1, b) == b and dmin(b, b + 1) == b


# ---- 4. ArgMax positions ---------------------------------------------------------------

@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
def test_argmax_then_gather_elements_on_the_same_axis(tmp_path, op):
    a = _analyze(tmp_path, 13, "(float[1, H, W] x) => (float y) { "
                               f"i = {op} <axis = 1, keepdims = 1> (x) "
                               "y = GatherElements <axis = 1> (x, i) }")
    assert not a.propagation.unproven, _unproven_text(a)
    pts = [{"H": h, "W": w} for h in range(1, 4) for w in range(1, 4)]
    assert all(a.check(p) is VALID for p in pts)
    assert_agrees(a, pts)


def test_argmax_then_gather_on_another_axis_stays_unproven(tmp_path):
    """Positions 0..H-1 used on an axis of W entries: not proved, never claimed."""
    a = _analyze(tmp_path, 13, "(float[1, H, W] x) => (float y) { "
                               "i = ArgMax <axis = 1, keepdims = 1> (x) "
                               "t = Transpose <perm = [0, 2, 1]> (i) "
                               "y = GatherElements <axis = 2> (x, t) }")
    assert a.propagation.unproven
    pts = [{"H": h, "W": w} for h in range(1, 4) for w in range(1, 4)]
    assert all(a.check(p) in (UNPROVEN, INVALID) for p in pts)
    assert_agrees(a, pts)


# ---- 5. Einsum diagonal -----------------------------------------------------------------

def test_einsum_repeated_label_needs_equal_dims(tmp_path):
    a = _analyze(tmp_path, 12,
                 '(float[H, W] x) => (float y) { y = Einsum <equation = "ii->i"> (x) }')
    assert not a.propagation.unproven, _unproven_text(a)
    pts = [{"H": h, "W": w} for h in range(1, 5) for w in range(1, 5)]
    assert [a.check(p) for p in pts] == [VALID if p["H"] == p["W"] else INVALID for p in pts]
    assert_agrees(a, pts)


# ---- 6. Slice clamps ---------------------------------------------------------------------

@pytest.mark.parametrize("starts, ends, steps", [
    (2, -1000, -1), (0, -1000, -1), (5, 1, -2), (3, 5, 1), (2, 1000, 2),
])
def test_slice_constant_bounds_on_a_symbolic_axis(tmp_path, starts, ends, steps):
    a = _analyze(tmp_path, 13, "(float[H] x) => (float y) { "
                               f"s = Constant <value = int64[1] {{{starts}}}> () "
                               f"e = Constant <value = int64[1] {{{ends}}}> () "
                               "ax = Constant <value = int64[1] {0}> () "
                               f"st = Constant <value = int64[1] {{{steps}}}> () "
                               "y = Slice (x, s, e, ax, st) }")
    assert not a.propagation.unproven
    pts = [{"H": h} for h in range(1, 9)]
    for p in pts:
        n = p["H"]
        got = len(range(n)[slice(starts, ends, steps)])
        assert a.check(p) is (VALID if got else INVALID)
    assert_agrees(a, pts)
