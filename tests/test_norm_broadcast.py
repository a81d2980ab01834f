"""LayerNormalization and RMSNormalization: onnxruntime 1.31.1 runs any Scale/B that
broadcasts unidirectionally to X's whole shape, whatever the axis (found by a helper:
graphshape required X[axis:] and called 51 of 264 swept sizes invalid that run). Each
model here is checked on onnxruntime at N in 1..3, C in {1, 4}."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import graphshape

from .conftest import assert_agrees

POINTS = [{"N": n, "C": c} for n, c in itertools.product((1, 2, 3), (1, 4))]


def _model(tmp_path, op, scale_shape, axis):
    n = int(np.prod(scale_shape))
    inits = [h.make_tensor("s", T.FLOAT, scale_shape, [1.0] * n)]
    ins = ["x", "s"]
    if op == "LayerNormalization":
        inits.append(h.make_tensor("b", T.FLOAT, scale_shape, [0.0] * n))
        ins.append("b")
    g = h.make_graph([h.make_node(op, ins, ["z"], axis=axis)], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, ["N", 3, "C"])],
                     [h.make_tensor_value_info("z", T.FLOAT, None)], initializer=inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17 if op[0] == "L" else 23)])
    m.ir_version = 10
    path = str(tmp_path / "n.onnx")
    onnx.save(m, path)
    return path


@pytest.mark.parametrize("op", ["LayerNormalization", "RMSNormalization"])
@pytest.mark.parametrize("scale_shape,axis", [
    ([4], -1), ([1, 4], -1), ([3, 1], -1), ([1, 3, 1], -1), ([2, 1, 4], -1),
    ([3, 1, 1], 1), ([2, 3, 4], -2), ([1, 2, 3, 4], -1), ([2, 4], -1),
])
def test_scale_broadcasts_to_the_whole_input(tmp_path, op, scale_shape, axis):
    a = graphshape.analyze(_model(tmp_path, op, scale_shape, axis))
    assert_agrees(a, POINTS)


def _group_norm(tmp_path, opset, shape):
    n = int(np.prod(shape))
    inits = [h.make_tensor(k, T.FLOAT, shape, [1.0] * n) for k in ("s", "b")]
    g = h.make_graph([h.make_node("GroupNormalization", ["x", "s", "b"], ["z"],
                                  num_groups=2)], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, ["N", 4, "C"])],
                     [h.make_tensor_value_info("z", T.FLOAT, None)], initializer=inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 10
    path = str(tmp_path / "g.onnx")
    onnx.save(m, path)
    return path


@pytest.mark.parametrize("opset,shape", [(18, [2]), (21, [4]), (18, [4]), (21, [2])])
def test_group_norm_with_a_vector_of_fixed_length_is_exact(tmp_path, opset, shape):
    assert_agrees(graphshape.analyze(_group_norm(tmp_path, opset, shape)), POINTS)


@pytest.mark.parametrize("opset,shape", [(18, [1]), (21, [1]), (21, [1, 4])])
def test_group_norm_with_another_shape_is_unproven(tmp_path, opset, shape):
    """onnxruntime runs the op's function body, whose Mul/Add broadcast scale and bias:
    [1] runs at every size (measured); graphshape used to call it invalid."""
    import onnxruntime as ort

    from graphshape.domain.sets import UNPROVEN

    path = _group_norm(tmp_path, opset, shape)
    a = graphshape.analyze(path)
    assert all(a.check(p) == UNPROVEN for p in POINTS)
    if shape == [1]:
        s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        for p in POINTS:
            s.run(None, {"x": np.ones((p["N"], 4, p["C"]), np.float32)})
