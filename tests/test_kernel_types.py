"""Element types onnxruntime 1.31's CPU provider has no kernel for (graphshape/data/
ort_cpu_kernels.json, measured by tools/ort_kernel_table.py; docs/kernels.md).

onnxruntime refuses such a model when it loads it, at every size; graphshape claimed it valid.
Now the node is unproven with the type named, and its shapes still go on downstream. Every row
builds a real model (shapes, attributes), asks graphshape, and asks onnxruntime whether it
loads: the two must agree, and where a kernel exists the answer stays proved and exact."""

from __future__ import annotations

import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import graphshape
from graphshape.domain.sets import INVALID, UNPROVEN
from graphshape.shapes import ort_compat

from ._rule_rows import model_from_text
from .conftest import assert_agrees

_WORD = {T.FLOAT: "float32", T.DOUBLE: "float64", T.FLOAT16: "float16",
         T.BFLOAT16: "bfloat16", T.INT8: "int8", T.INT32: "int32", T.INT64: "int64",
         T.UINT8: "uint8"}
WORDS = {T.FLOAT: "float", T.DOUBLE: "double", T.FLOAT16: "float16", T.BFLOAT16: "bfloat16",
         T.INT8: "int8", T.INT32: "int32", T.INT64: "int64", T.UINT8: "uint8"}


def _loads(model: onnx.ModelProto) -> bool:
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    try:
        ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        return True
    except Exception as e:  # noqa: BLE001
        msg = str(e)
        assert "Could not find an implementation" in msg or "Type Error" in msg, msg
        return False


def _gaps(a) -> list:
    return [u.describe() for u in a.propagation.unproven if "CPU provider has no" in u.reason]


# (op, opset, graph text with {t} for the element type)
CASES = [
    ("Conv", 13, "({t}[1, 2, H, 5] x, {t}[3, 2, 3, 3] w) => ({t} y) "
                 "{{ y = Conv <kernel_shape = [3, 3]> (x, w) }}"),
    ("ConvTranspose", 11, "({t}[1, 2, H, 4] x, {t}[2, 3, 2, 2] w) => ({t} y) "
                          "{{ y = ConvTranspose <strides = [2, 2]> (x, w) }}"),
    ("MaxPool", 12, "({t}[1, 2, H, 6] x) => ({t} y) "
                    "{{ y = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (x) }}"),
    ("MaxPool", 10, "({t}[1, 2, H, 6] x) => ({t} y) "
                    "{{ y = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (x) }}"),
    ("AveragePool", 19, "({t}[1, 2, H, 6] x) => ({t} y) "
                        "{{ y = AveragePool <kernel_shape = [3, 3]> (x) }}"),
    ("GlobalAveragePool", 13, "({t}[1, 2, H, 6] x) => ({t} y) {{ y = GlobalAveragePool (x) }}"),
    ("Relu", 13, "({t}[N, 4] x) => ({t} y) {{ y = Relu (x) }}"),
    ("Relu", 14, "({t}[N, 4] x) => ({t} y) {{ y = Relu (x) }}"),
    ("Softmax", 13, "({t}[N, 4] x) => ({t} y) {{ y = Softmax (x) }}"),
    ("Gemm", 13, "({t}[N, 4] a, {t}[4, 3] b) => ({t} y) {{ y = Gemm (a, b) }}"),
    ("MatMul", 13, "({t}[N, 4] a, {t}[4, 3] b) => ({t} y) {{ y = MatMul (a, b) }}"),
    ("MatMul", 8, "({t}[N, 4] a, {t}[4, 3] b) => ({t} y) {{ y = MatMul (a, b) }}"),
    ("BatchNormalization", 15,
     "({t}[N, 2, 3] x, {t}[2] s, {t}[2] b, {t}[2] m, {t}[2] v) => ({t} y) "
     "{{ y = BatchNormalization (x, s, b, m, v) }}"),
    ("Add", 13, "({t}[N, 4] a, {t}[1, 4] b) => ({t} y) {{ y = Add (a, b) }}"),
    ("Add", 14, "({t}[N, 4] a, {t}[1, 4] b) => ({t} y) {{ y = Add (a, b) }}"),
    ("Transpose", 13, "({t}[N, 4] x) => ({t} y) {{ y = Transpose <perm = [1, 0]> (x) }}"),
    ("Concat", 13, "({t}[N, 4] a, {t}[2, 4] b) => ({t} y) {{ y = Concat <axis = 0> (a, b) }}"),
]
TYPES = [T.FLOAT, T.DOUBLE, T.FLOAT16, T.INT8, T.INT32, T.INT64, T.UINT8, T.BFLOAT16]


def _points(graph):
    sym = "H" if "H," in graph else "N"
    return [{sym: v} for v in (1, 2, 3, 4, 7)]


def _analysis(opset, graph, dtype):
    m = model_from_text(opset, graph.format(t=WORDS[dtype]))
    return m, graphshape.analyze(m)


def _shape(a):
    return [str(d) for d in a.propagation.tensors["y"].shape]


@pytest.mark.parametrize("op,opset,graph", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_unproven_exactly_where_onnxruntime_cannot_load(op, opset, graph):
    """For each element type: graphshape names a missing kernel iff onnxruntime refuses the
    model; where it loads, the node is proved, with float32's shapes (checked on onnxruntime
    in float32 by test_float32_rows_are_exact)."""
    _, ref = _analysis(opset, graph, T.FLOAT)
    wrong = []
    for dtype in TYPES:
        m, a = _analysis(opset, graph, dtype)
        gaps = _gaps(a)
        if _loads(m) == bool(gaps):
            wrong.append((WORDS[dtype], "loads" if not gaps else "refused", gaps))
            continue
        if gaps:
            assert len(gaps) == 1 and f"no {op}-{opset} kernel for {_WORD[dtype]}" in gaps[0]
        else:
            assert not a.propagation.unproven, a.propagation.unproven
        assert _shape(a) == _shape(ref)  # the spec's shapes go on downstream either way
    assert not wrong, wrong


@pytest.mark.parametrize("op,opset,graph", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_float32_rows_are_exact(tmp_path, op, opset, graph):
    path = str(tmp_path / "m.onnx")
    model_from_text(opset, graph.format(t="float"), path)
    a = graphshape.analyze(path)
    assert not a.propagation.unproven
    assert_agrees(a, _points(graph))


@pytest.mark.parametrize("op,opset,dtype", [
    ("Conv", 13, T.DOUBLE), ("GlobalAveragePool", 13, T.DOUBLE), ("MaxPool", 10, T.INT8),
    ("Softmax", 13, T.INT32), ("Relu", 13, T.INT32), ("Gemm", 13, T.INT64),
])
def test_refused_at_every_size(tmp_path, op, opset, dtype):
    """onnxruntime refuses it at every size (the verifier sees 'invalid'), graphshape says
    unproven: no size is claimed valid."""
    graph = next(c[2] for c in CASES if c[:2] == (op, opset))
    path = str(tmp_path / "m.onnx")
    model_from_text(opset, graph.format(t=WORDS[dtype]), path)
    a = graphshape.analyze(path)
    assert _gaps(a), a.propagation.unproven
    from graphshape.runtime.verify import verify

    rep = verify(a, _points(graph), timeout=60, providers=["CPUExecutionProvider"])
    assert {v.observed for v in rep.verdicts} == {INVALID}
    assert {v.predicted for v in rep.verdicts} <= {UNPROVEN, INVALID}


def test_float16_rides_on_the_float_kernel(tmp_path):
    """No float16 Conv kernel is registered, but onnxruntime casts around the float one: the
    model loads and runs, and graphshape still proves it."""
    path = str(tmp_path / "m.onnx")
    model_from_text(13, CASES[0][2].format(t="float16"), path)
    a = graphshape.analyze(path)
    assert not a.propagation.unproven
    assert_agrees(a, [{"H": v} for v in (2, 3, 4, 9)])


def test_downstream_of_a_missing_kernel_keeps_its_conditions():
    """Relu-13 on int32 has no kernel; the Concat after it still imposes its condition."""
    m = model_from_text(13, "(int32[N, 4] x, int32[N, 3] z) => (int32 y) "
                            "{ r = Relu (x) y = Concat <axis = 1> (r, z) }")
    assert not _loads(m)
    a = graphshape.analyze(m)
    assert len(_gaps(a)) == 1 and "Relu-13" in _gaps(a)[0]
    assert [str(d) for d in a.propagation.tensors["y"].shape] == ["N", "7"]


def test_multi_node_float_model_is_untouched(tmp_path):
    path = str(tmp_path / "m.onnx")
    model_from_text(13, "(float[1, 2, H, 9] x, float[4, 2, 3, 3] w) => (float y) "
                        "{ c = Conv <kernel_shape = [3, 3]> (x, w) r = Relu (c) "
                        "y = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (r) }", path)
    a = graphshape.analyze(path)
    assert not a.propagation.unproven
    assert_agrees(a, [{"H": v} for v in (1, 2, 3, 4, 5, 8)])


def test_inside_a_subgraph():
    """A double GlobalAveragePool in an If branch: onnxruntime refuses the whole model."""
    then = h.make_graph([h.make_node("GlobalAveragePool", ["x"], ["t"])], "then", [],
                        [h.make_tensor_value_info("t", T.DOUBLE, None)])
    other = h.make_graph([h.make_node("Identity", ["x"], ["e"])], "else", [],
                         [h.make_tensor_value_info("e", T.DOUBLE, None)])
    g = h.make_graph([h.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)],
                     "g", [h.make_tensor_value_info("c", T.BOOL, []),
                           h.make_tensor_value_info("x", T.DOUBLE, ["N", 4, 5])],
                     [h.make_tensor_value_info("y", T.DOUBLE, None)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 12)], ir_version=10)
    assert not _loads(m)
    a = graphshape.analyze(m)
    assert any("GlobalAveragePool-12" in g for g in _gaps(a)), a.propagation.unproven


@pytest.mark.parametrize("x,y,refused", [
    ("int8", "float", True),    # measured context: int8 base, float exponent
    ("int8", "int8", True),     # measured context: both the base's type
    ("int32", "int32", False),
    ("float", "int64", False),
    ("int8", "int64", None),    # outside both measured contexts: not judged
])
def test_pow_is_judged_only_in_a_measured_context(x, y, refused):
    """Pow-15 was measured with a float exponent and with the base's own type; a node whose
    exponent has another type is not judged (its kernel lookup may differ), so no reason is
    invented; where it is judged, onnxruntime agrees."""
    m = model_from_text(15, f"({x}[N] a, {y}[N] b) => ({x} z) {{ z = Pow (a, b) }}")
    gaps = _gaps(graphshape.analyze(m))
    if refused is None:
        assert not gaps
    else:
        assert bool(gaps) == refused == (not _loads(m)), gaps


def test_custom_domains_are_not_judged():
    from graphshape.loader.tensor import Tensor

    x = Tensor((1, 2), T.DOUBLE)
    assert ort_compat.missing_kernel("", "Conv", 13, [x]) is not None
    assert ort_compat.missing_kernel("com.microsoft", "Conv", 13, [x]) is None
    assert ort_compat.missing_kernel("", "Conv", 13, [Tensor((1, 2), 0)]) is None  # unknown


def test_table_is_for_this_onnxruntime():
    import json
    from pathlib import Path

    raw = json.loads((Path(ort_compat.__file__).resolve().parents[1] / "data" / "ort_cpu_kernels.json")
                     .read_text())
    assert raw["onnxruntime"] == ort.__version__, "re-run tools/ort_kernel_table.py"
