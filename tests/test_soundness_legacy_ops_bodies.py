"""Soundness: legacy broadcasting opsets and If/Loop body declarations. Each case is a real
model run on onnxruntime 1.31 (CPU) at every size around its boundary, and graphshape must agree (or say unproven, never a wrong claim).

1. Sum/Max/Min/Mean at opsets 6-7 (Sum_6, Max_6, Min_6, Mean_6 in element_wise_ops.cc):
   every input must have exactly input 0's shape (no size-1 stretching, no rank padding);
   opsets 1-5 have no CPU kernel at all; opset 8+ broadcasts.
2. Add/Sub/Mul/Div/Pow/PRelu/Equal/Less/Greater/And/Or/Xor before opset 7 (the legacy
   ``broadcast``/``axis`` attributes): onnxruntime has no CPU kernel, the model never loads;
   graphshape says unproven (it used to broadcast and claim every size).
3. If / Loop bodies' declared shapes: If preallocates from a fully fixed declared branch
   shape (a condition), Loop's body output declarations allocate nothing, a carried body
   input's fixed declared dim is unproven (see the section's notes).
"""

from __future__ import annotations

import itertools

import onnx
import pytest

import graphshape
from graphshape.domain.sets import INVALID, UNPROVEN, VALID
from graphshape.runtime.verify import verify

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


# ---- 3. If / Loop bodies' declared shapes ---------------------------------------------------
# Measured on onnxruntime 1.31.1 (if.cc IfImpl::AllocateOutputTensors, loop.cc LoopImpl):
# - If: a branch output whose shape, after onnxruntime's inference merged the declared shape
#   into the inferred one, is fully fixed preallocates the If output, and the branch must
#   compute exactly that; a symbolic dim left, no declared shape, or another declared rank:
#   allocated as computed. The If node's own value_info allocates nothing.
# - An If with a condition onnxruntime folds (an initializer) is inlined by the default
#   optimisations: its declared shapes then allocate nothing (at ORT_DISABLE_ALL they do).
# - Loop: body output declared shapes allocate nothing; a carried body input's declared fixed
#   dim is believed by the optimiser (Shape folded to it); the iteration-number input needs a
#   shape; a carried value that changes shape breaks the scan outputs' concatenation.

def _if(decl_t, decl_e, x="float[N] x", body_t="t = Relu (x)", body_e="e = Relu (x)",
        cond="bool c", init="", vi=""):
    return (f"({x}, {cond}) => (float y) {init}{vi} {{ y = If (c) <then_branch = g1 () => "
            f"({decl_t} t) {{ {body_t} }}, else_branch = g2 () => ({decl_e} e) {{ {body_e} }}> }}")


N4 = [{"N": n} for n in (1, 2, 3, 4)]


def test_if_branches_declaring_a_fixed_shape_need_that_size(tmp_path):
    """Both branches declare [2] and compute [N]: onnxruntime preallocates [2], only N = 2
    runs (graphshape claimed every N)."""
    a = _analyze(tmp_path, 13, _if("float[2]", "float[2]"))
    assert not a.propagation.unproven
    assert [a.check(p) for p in N4] == [VALID if p["N"] == 2 else INVALID for p in N4]
    assert_agrees(a, N4)


def test_if_branches_declaring_different_fixed_shapes_are_unproven(tmp_path):
    """then [2], else [3]: which size runs depends on the condition's data."""
    a = _analyze(tmp_path, 13, _if("float[2]", "float[3]"))
    assert "declare different fixed output dims" in _unproven_text(a)
    _observed(a, N4)


@pytest.mark.parametrize("decl", ["float[2, M]", "float[A, B]", "float[N, 1]", "float",
                                  "float[2, 1, 1]"])
def test_if_declared_shape_with_a_symbolic_dim_or_another_rank_allocates_nothing(tmp_path,
                                                                                decl):
    """A dim left symbolic after the merge, or a declared rank other than the computed one
    (onnxruntime keeps its inferred shape): every size runs, proved."""
    a = _analyze(tmp_path, 13, _if(decl, decl, x="float[N, K] x"))
    assert not a.propagation.unproven, _unproven_text(a)
    pts = _grid(["N", "K"], 1, 3)
    assert all(a.check(p) == VALID for p in pts)
    assert_agrees(a, pts)


def test_if_partly_fixed_declaration_is_unproven(tmp_path):
    """x [N, 2], declared [2, M]: onnxruntime infers axis 1 = 2 and the merged [2, 2] is
    preallocated (only N = 2 runs); graphshape does not model onnxruntime's inference, so
    unproven, never 'valid'."""
    a = _analyze(tmp_path, 13, _if("float[2, M]", "float[2, M]", x="float[N, 2] x"))
    assert "depends on its own inference" in _unproven_text(a)
    got = _observed(a, N4)
    assert [v.observed for v in got] == [VALID if p["N"] == 2 else INVALID for p in N4]


def test_if_declared_dim_conflicting_with_a_computed_number(tmp_path):
    """x [N, 2], declared [M, 3]: the conflict makes onnxruntime keep its inferred [N, 2],
    symbolic, so nothing is preallocated and every size runs: proved. Declared [2, 3] for a
    computed [2, K] (no conflict: K is symbolic) is preallocated: only K = 3 runs."""
    a = _analyze(tmp_path, 13, _if("float[M, 3]", "float[M, 3]", x="float[N, 2] x"))
    assert not a.propagation.unproven, _unproven_text(a)
    assert all(a.check(p) == VALID for p in N4)
    assert_agrees(a, N4)
    a = _analyze(tmp_path, 13, _if("float[2, 3]", "float[2, 3]", x="float[2, N] x"))
    assert not a.propagation.unproven, _unproven_text(a)
    assert [a.check(p) for p in N4] == [VALID if p["N"] == 3 else INVALID for p in N4]
    assert_agrees(a, N4)


def test_if_known_condition_with_fixed_declaration_is_unproven(tmp_path):
    """An initializer condition: the default optimisations inline the branch and [2, 2]
    allocates nothing (every N runs; at ORT_DISABLE_ALL only N = 2 would). Unproven."""
    a = _analyze(tmp_path, 13, _if("float[2, 2]", "float[2, 2]", x="float[N, 2] x",
                                   cond="float[1] unused", init="<bool c = {1}>"))
    assert "inlining the branch" in _unproven_text(a)
    got = _observed(a, N4)
    assert {v.observed for v in got} == {VALID}


def test_if_known_condition_symbolic_declaration_still_proved(tmp_path):
    a = _analyze(tmp_path, 13, _if("float[N, 2]", "float[3]", x="float[N, 2] x",
                                   cond="float[1] unused", init="<bool c = {1}>"))
    assert not a.propagation.unproven
    assert_agrees(a, N4)


def test_if_without_declared_branch_shapes_and_if_value_info(tmp_path):
    """Branch outputs without a shape (allocated as computed) and a graph-level value_info
    claiming the If output is [5, 2] (it allocates nothing): every size runs, proved."""
    m = model_from_text(13, _if("float[A, B]", "float[A, B]", x="float[N, 2] x",
                                vi="<float[5, 2] y>"))
    for g in m.graph.node[0].attribute:
        g.g.output[0].type.tensor_type.ClearField("shape")
    assert m.graph.value_info[0].name == "y"
    onnx.save(m, str(tmp_path / "m.onnx"))
    a = graphshape.analyze(str(tmp_path / "m.onnx"))
    assert not a.propagation.unproven
    assert all(a.check(p) == VALID for p in N4)
    assert_agrees(a, N4)


def _loop(vin="float[N] v", vo="float[N] vo", so="float[N] so",
          body="vo = Relu (v) so = Identity (v)", it="int64 i"):
    return ("(float[N] x) => (float out, float ys) <int64 m = {3}, bool c = {1}> { out, ys = "
            f"Loop (m, c, x) <body = b ({it}, bool ci, {vin}) => (bool co, {vo}, {so}) "
            f"{{ co = Identity (ci) {body} }}> }}")


@pytest.mark.parametrize("vo,so", [("float[2] vo", "float[N] so"),
                                   ("float[N] vo", "float[2] so"),
                                   ("float[2, 1] vo", "float so")])
def test_loop_body_output_declarations_allocate_nothing(tmp_path, vo, so):
    """Carried and scan outputs declared [2] (or another rank) for a computed [N]: every N
    runs (the Loop copies and concatenates the computed values), proved."""
    a = _analyze(tmp_path, 13, _loop(vo=vo, so=so))
    assert not a.propagation.unproven, _unproven_text(a)
    assert a.shapes["ys"] == [3, "N"]
    assert all(a.check(p) == VALID for p in N4)
    assert_agrees(a, N4)


@pytest.mark.parametrize("body,ort_fails", [
    ("vo = Relu (v) so = Identity (v)", False),
    ("s = Shape (v) vo = Reshape (v, s) so = Identity (v)", True)])
def test_loop_body_input_declaring_a_fixed_dim_is_unproven(tmp_path, body, ort_fails):
    """A carried body input declared [2], fed [N]: onnxruntime's optimiser folds Shape(v) to
    [2] (then only N = 2 runs); graphshape claimed every N, now unproven."""
    a = _analyze(tmp_path, 13, _loop(vin="float[2] v", body=body))
    assert "declares axis 0 as 2" in _unproven_text(a)
    got = _observed(a, N4)
    assert [v.observed for v in got] == [
        VALID if p["N"] == 2 or not ort_fails else INVALID for p in N4]


def test_loop_iteration_input_without_shape_never_runs(tmp_path):
    m = model_from_text(13, _loop())
    m.graph.node[0].attribute[0].g.input[0].type.tensor_type.ClearField("shape")
    onnx.save(m, str(tmp_path / "m.onnx"))
    a = graphshape.analyze(str(tmp_path / "m.onnx"))
    assert a.domain.impossible and "has no shape" in str(a.domain.impossible[0])
    assert {v.observed for v in _observed(a, N4)} == {INVALID}


def test_loop_carried_value_growing_is_unproven(tmp_path):
    """onnxruntime lets a carried value change shape, but the scan output of it fails to
    concatenate ('Inconsistent shape in loop output'); graphshape: unproven."""
    a = _analyze(tmp_path, 13, _loop(vin="float[K] v", vo="float[K2] vo", so="float[K] so",
                                     body="vo = Concat <axis = 0> (v, v) so = Identity (v)"))
    assert "changes shape" in _unproven_text(a)
    assert {v.observed for v in _observed(a, N4)} == {INVALID}


@pytest.mark.parametrize("so,proved", [("float[N] so", False), ("float[2] so", False),
                                       ("float[3] so", True)])
def test_loop_zero_trips_scan_output_from_declared_shape(tmp_path, so, proved):
    """M = 0: onnxruntime makes the scan output [0] + the declared shape with symbolic dims
    as 0 ([0, 0] for a declared [N], [0, 2] for a declared [2] whatever N is); graphshape's
    [0, N] only holds for a declared shape equal to the computed one."""
    text = _loop(vin="float[3] v", so=so, vo="float[3] vo").replace("{3}", "{0}").replace(
        "float[N] x", "float[3] x")
    a = _analyze(tmp_path, 13, text)
    if proved:
        assert not a.propagation.unproven, _unproven_text(a)
        assert a.shapes["ys"] == [0, 3]
    else:
        assert "runs no iteration" in _unproven_text(a)
