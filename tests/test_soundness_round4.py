"""Soundness fixes, round 4: each case is a real model run on onnxruntime 1.31 (CPU) at every
size around its boundary, and graphshape must agree (or say unproven, never a wrong claim).

1. Sum/Max/Min/Mean at opsets 6-7 (Sum_6, Max_6, Min_6, Mean_6 in element_wise_ops.cc):
   every input must have exactly input 0's shape (no size-1 stretching, no rank padding);
   opsets 1-5 have no CPU kernel at all; opset 8+ broadcasts.
2. Add/Sub/Mul/Div/Pow/PRelu/Equal/Less/Greater/And/Or/Xor before opset 7 (the legacy
   ``broadcast``/``axis`` attributes): onnxruntime has no CPU kernel, the model never loads;
   graphshape says unproven (it used to broadcast and claim every size).
3. If / Loop bodies' declared shapes (see the section's own notes).
"""

from __future__ import annotations

import itertools

import pytest

import graphshape
from graphshape.sets import INVALID, UNPROVEN, VALID
from graphshape.verify import verify

from ._rule_rows import model_from_text
from .conftest import assert_agrees


def _observed(a, points) -> list:
    """onnxruntime's verdicts at ``points``; none may contradict graphshape's prediction
    (a point graphshape calls unproven contradicts nothing)."""
    rep = verify(a, points, timeout=60, providers=["CPUExecutionProvider"])
    assert not rep.disagreements, [(v.sizes, v.predicted, v.observed, v.detail)
                                   for v in rep.disagreements]
    return rep.verdicts


def _analyze(tmp_path, opset, graph):
    return graphshape.analyze(model_from_text(opset, graph, str(tmp_path / "m.onnx")))


def _unproven_text(a) -> str:
    return "; ".join(u.describe() for u in a.propagation.unproven)


def _grid(names, lo=1, hi=3):
    return [dict(zip(names, v)) for v in itertools.product(range(lo, hi + 1), repeat=len(names))]


# ---- 1. Sum / Max / Min / Mean at opsets 6-7: no broadcasting ------------------------------

VARIADIC = ["Sum", "Max", "Min", "Mean"]


@pytest.mark.parametrize("opset", [6, 7])
@pytest.mark.parametrize("op", VARIADIC)
def test_variadic_legacy_needs_equal_dims(tmp_path, op, opset):
    """[N] with [M]: only N = M runs (N = 1 or M = 1 does not stretch)."""
    a = _analyze(tmp_path, opset, f"(float[N] a, float[M] b) => (float y) {{ y = {op} (a, b) }}")
    assert not a.propagation.unproven
    pts = _grid(["N", "M"], 1, 3)
    assert [a.check(p) for p in pts] == [VALID if p["N"] == p["M"] else INVALID for p in pts]
    assert_agrees(a, pts)


@pytest.mark.parametrize("opset", [6, 7])
@pytest.mark.parametrize("op", ["Sum", "Mean"])
def test_variadic_legacy_size_one_axis_does_not_stretch(tmp_path, op, opset):
    """[N, C] with [N, 1] and a third [N, C]: runs only at C = 1."""
    a = _analyze(tmp_path, opset, "(float[N, C] a, float[N, 1] b, float[N, C] c) => (float y) "
                                  f"{{ y = {op} (a, b, c) }}")
    assert not a.propagation.unproven
    pts = _grid(["N", "C"], 1, 3)
    assert [a.check(p) for p in pts] == [VALID if p["C"] == 1 else INVALID for p in pts]
    assert_agrees(a, pts)


@pytest.mark.parametrize("opset", [6, 7])
@pytest.mark.parametrize("op", VARIADIC)
def test_variadic_legacy_rank_difference_never_runs(tmp_path, op, opset):
    """[N] with [1, N] (and [N] with a scalar): no size runs."""
    for i, b in enumerate(("float[1, N] b", "float b")):
        sub = tmp_path / str(i)
        sub.mkdir()
        a = _analyze(sub, opset, f"(float[N] a, {b}) => (float y) {{ y = {op} (a, b) }}")
        assert a.domain.impossible, a.domain
        assert "does not broadcast" in str(a.domain.impossible[0])
        pts = [{"N": n} for n in (1, 2, 3)]
        assert {v.observed for v in _observed(a, pts)} == {INVALID}


@pytest.mark.parametrize("opset", [6, 7, 8])
@pytest.mark.parametrize("op", VARIADIC)
def test_variadic_single_input_and_empty(tmp_path, op, opset):
    """One input, and equal shapes with an empty axis: every size runs (N = 0 included)."""
    a = _analyze(tmp_path, opset, f"(float[N, 2] a, float[N, 2] b) => (float y, float z) "
                                  f"{{ y = {op} (a) z = {op} (a, b) }}")
    assert not a.propagation.unproven
    assert a.shapes["y"] == ["N", 2] and a.shapes["z"] == ["N", 2]
    assert_agrees(a, [{"N": n} for n in (1, 2, 3)])


@pytest.mark.parametrize("op", VARIADIC)
def test_variadic_opset_8_broadcasts(tmp_path, op):
    a = _analyze(tmp_path, 8, f"(float[N] a, float[M] b) => (float y) {{ y = {op} (a, b) }}")
    pts = _grid(["N", "M"], 1, 3)
    assert [a.check(p) for p in pts] == [
        VALID if p["N"] == p["M"] or 1 in (p["N"], p["M"]) else INVALID for p in pts]
    assert_agrees(a, pts)


@pytest.mark.parametrize("opset", [1, 3, 5])
@pytest.mark.parametrize("op", VARIADIC)
def test_variadic_before_opset_6_has_no_kernel(tmp_path, op, opset):
    """onnxruntime: 'Could not find an implementation for Sum(1)': never loads."""
    a = _analyze(tmp_path, opset, f"(float[N] a, float[N] b) => (float y) {{ y = {op} (a, b) }}")
    assert f"no {op} kernel before opset 6" in _unproven_text(a)
    got = _observed(a, [{"N": n} for n in (1, 2)])
    assert {v.observed for v in got} == {INVALID}
    assert {v.predicted for v in got} == {UNPROVEN}


# ---- 2. binary ops before opset 7 (legacy broadcast / axis) ---------------------------------

LEGACY_BINARY = [("Add", "float", ""), ("Sub", "float", ""), ("Mul", "float", ""),
                 ("Div", "float", ""), ("Pow", "float", ""), ("Equal", "int32", ""),
                 ("Less", "float", ""), ("Greater", "float", ""), ("And", "bool", ""),
                 ("Or", "bool", ""), ("Xor", "bool", ""),
                 ("Add", "float", "<broadcast = 1>"), ("Mul", "float", "<broadcast = 1, axis = 0>")]


@pytest.mark.parametrize("opset", [1, 6])
@pytest.mark.parametrize("op,dtype,attrs", LEGACY_BINARY)
def test_binary_before_opset_7_has_no_kernel(tmp_path, op, dtype, attrs, opset):
    """onnxruntime 1.31 registers these ops from opset 7 only: the model never loads,
    whatever the shapes or the legacy attributes; graphshape broadcast them and claimed every
    size valid. Now unproven (the spec's output shape, A's, goes on)."""
    b = "float[N] b" if "axis" not in attrs else "float[2] b"
    b = b.replace("float", dtype)
    out = "bool" if op in ("Equal", "Less", "Greater") else dtype
    a = _analyze(tmp_path, opset, f"({dtype}[2, N] a, {b}) => ({out} y) "
                                  f"{{ y = {op} {attrs} (a, b) }}")
    assert f"no {op} kernel before opset 7" in _unproven_text(a)
    assert a.shapes["y"] == [2, "N"]
    got = _observed(a, [{"N": n} for n in (1, 2)])
    assert {v.observed for v in got} == {INVALID}
    assert {v.predicted for v in got} == {UNPROVEN}


def test_prelu_before_opset_7_has_no_kernel(tmp_path):
    a = _analyze(tmp_path, 6, "(float[N, 3] x, float[3] s) => (float y) { y = PRelu (x, s) }")
    assert "no PRelu kernel before opset 7" in _unproven_text(a)
    got = _observed(a, [{"N": 1}, {"N": 2}])
    assert {v.observed for v in got} == {INVALID}


def test_binary_opset_7_broadcasts(tmp_path):
    a = _analyze(tmp_path, 7, "(float[N] a, float[M] b) => (float y) { y = Add (a, b) }")
    assert not a.propagation.unproven
    assert_agrees(a, _grid(["N", "M"], 1, 3))
