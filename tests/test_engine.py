"""The walk: typed outcomes, one fresh-symbol sequence per analysis, folded-away nodes."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

import graphshape
from graphshape.loader import graph as model
from graphshape.results import Verdict
from graphshape.shapes import engine

from ._rule_rows import model_from_text


def test_a_node_feeding_only_shape_is_not_claimed(tmp_path):
    # onnxruntime folds Shape(Reshape(x, [3, 4])) to a constant and never runs the Reshape:
    # the model runs at every N although the Reshape needs N == 2
    path = model_from_text(14, "(float[N,6] x) => (int64 y) <int64[2] s={3,4}> "
                               "{ r = Reshape (x, s) y = Shape (r) }", str(tmp_path / "m.onnx"))
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for n in (1, 3):
        assert list(sess.run(None, {"x": np.zeros((n, 6), np.float32)})[0]) == [3, 4]
    a = graphshape.analyze(path)
    assert [a.check({"N": n}) for n in (1, 2, 3)] == [Verdict.UNPROVEN] * 3
    assert "folds" in a.domain.unproven[0].reason


def test_outcomes_are_typed(tmp_path):
    text = ("(float[N,C] x) => (float y, float z) <int64[1] bad = {5}> "
            "{ y = Relu (x) z = Squeeze (y, bad) }")
    g = model.load(model_from_text(13, text))
    w = engine.Walk(g)
    relu, squeeze = g.nodes
    assert isinstance(w.visit("relu", relu, []), engine.Inferred)
    w.step(0, relu)
    out = w.visit("sq", squeeze, [])
    assert isinstance(out, engine.Impossible) and "axis" in str(out.error)
    unknown = model.load(model_from_text(13, "(float[N] x) => (float y) { y = Relu (x) }"))
    unknown.nodes[0].op_type = "NoSuchOp"
    assert isinstance(engine.Walk(unknown).visit("n", unknown.nodes[0], []), engine.Unproven)


def test_fresh_symbols_restart_per_analysis(tmp_path):
    path = model_from_text(13, "(float[N] x) => (int64 y) { y = NonZero (x) }",
                           str(tmp_path / "nz.onnx"))
    first = graphshape.analyze(path).propagation.data_dependent
    second = graphshape.analyze(path).propagation.data_dependent
    assert [str(d.symbol) for d in first] == [str(d.symbol) for d in second] == ["dd1"]
