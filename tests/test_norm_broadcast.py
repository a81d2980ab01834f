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
