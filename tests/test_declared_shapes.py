"""Declared shapes (value_info, graph outputs) as onnxruntime 1.31 uses them: it merges a
value's declared shape into its own inference, so a fixed declared dim where the graph
computes a symbolic one is taken as true, and its constant folding turns a Shape of that
value into the declared numbers; the data itself keeps its real shape. graphshape models
exactly that (the Shape rule reads the declaration): the sizes where the two differ are
decided, not unproven. A symbolic declared dim, another rank, or an unread graph output
change nothing (measured here)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import graphshape

from .conftest import assert_agrees


def _model(path, declared, read_shape: bool, where: str = "value_info"):
    """x [N, 2] -> Relu -> r (declared ``declared``); with ``read_shape``, Reshape(x,
    Shape(r)) -> y."""
    nodes = [helper.make_node("Relu", ["x"], ["r"])]
    out = "r"
    if read_shape:
        nodes += [helper.make_node("Shape", ["r"], ["s"]),
                  helper.make_node("Reshape", ["x", "s"], ["y"])]
        out = "y"
    decl = helper.make_tensor_value_info("r", TensorProto.FLOAT, declared)
    outputs = [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)]
    if where == "output":
        outputs.append(decl)
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", 2])], outputs,
        value_info=[decl] if where == "value_info" else [])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return str(path)


def _runs(path, n) -> bool:
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    s = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    try:
        s.run(None, {"x": np.ones((n, 2), np.float32)})
        return True
    except Exception:  # noqa: BLE001  (onnxruntime's failure is the observation)
        return False


@pytest.mark.parametrize("where", ["value_info", "output"])
def test_a_fixed_declared_dim_read_by_shape_is_folded(tmp_path, where):
    path = _model(tmp_path / "m.onnx", [5, 2], read_shape=True, where=where)
    assert [n for n in range(1, 8) if _runs(path, n)] == [5]  # the declaration wins
    a = graphshape.analyze(path)
    assert a.domain.exact, [u.describe() for u in a.domain.unproven]
    assert str(a.domain) == "N = 5"
    assert_agrees(a, [{"N": n} for n in range(1, 8)])


def test_a_declared_dim_folds_only_the_shape(tmp_path):
    """Declared [5, M] merges with the computed [N, 2] into [5, 2]: Shape(r) is folded,
    the data r keeps its real size (a Concat of it with x gives 2N rows)."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Shape", ["r"], ["s"]),
             helper.make_node("Concat", ["r", "x"], ["c"], axis=0)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", 2])], [helper.make_tensor_value_info(
            "s", TensorProto.INT64, None), helper.make_tensor_value_info(
            "c", TensorProto.FLOAT, None)],
        value_info=[helper.make_tensor_value_info("r", TensorProto.FLOAT, [5, "M"])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = str(tmp_path / "m.onnx")
    onnx.save(m, path)
    a = graphshape.analyze(path)
    assert a.domain.exact
    assert a.propagation.tensors["s"].value == (5, 2)
    assert a.shapes["c"] == ["2*N", 2]
    assert_agrees(a, [{"N": n} for n in range(1, 8)])


@pytest.mark.parametrize("declared,read", [(["M", 2], True), ([5, 2, 1], True),
                                           ([5, 2], False)])
def test_declarations_onnxruntime_does_not_act_on_change_nothing(tmp_path, declared, read):
    path = _model(tmp_path / "m.onnx", declared, read_shape=read,
                  where="value_info" if read else "output")
    a = graphshape.analyze(path)
    assert a.domain.exact and a.domain.contains({"N": 3})
    assert_agrees(a, [{"N": n} for n in range(1, 8)])
