"""Shared runner for the rule tables (tests/test_rules_*.py).

A row is (opset, graph text, expect, points):
- graph text: ONNX text syntax after the model header, e.g.
  ``(float[N, H] x) => (float y) <int64[1] k = {2}> { y = ... }``
  (the outputs' declared shapes are cleared, so ``float y`` is enough);
- expect: {output: [dims]} with symbolic dims as graphshape prints them, or the string
  "impossible: <words>" / "unproven: <words>";
- points: sizes at which onnxruntime must agree with the prediction (valid or invalid).

The model is built in memory; it is written to disk once, and only when onnxruntime has to
run it (onnxruntime's worker loads a file).
"""

from __future__ import annotations

import onnx

import graphshape
from graphshape.errors import VerificationError

from .conftest import assert_agrees


def model_from_text(opset: int, graph: str, path: str | None = None):
    """The one ONNX-text helper: parse ``graph`` under an IR 10 header for ``opset``, check
    it, clear the outputs' declared shapes. Returns the ModelProto, or, given ``path``,
    saves it there and returns the path."""
    text = f'<ir_version: 10, opset_import: ["" : {opset}]>\nagraph {graph}'
    m = onnx.parser.parse_model(text)
    try:
        onnx.checker.check_model(m)
    except onnx.checker.ValidationError as e:
        if "deprecated" not in str(e):  # onnxruntime still runs deprecated op versions
            raise
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    if path is None:
        return m
    onnx.save(m, path)
    return path


def check_row(tmp_path, opset, graph, expect, points):
    m = model_from_text(opset, graph)
    runs = bool(points) or (isinstance(expect, str) and expect.startswith("impossible"))
    source = m
    if runs:
        source = str(tmp_path / "row.onnx")
        onnx.save(m, source)
    a = graphshape.analyze(source)
    if isinstance(expect, str):
        kind, _, words = expect.partition(": ")
        if kind == "impossible":
            assert a.domain.impossible, f"expected a ShapeError, got domain {a.domain}"
            assert words in str(a.domain.impossible[0]), str(a.domain.impossible[0])
            try:
                assert_agrees(a, points or [{}])
            except VerificationError as e:  # onnxruntime refused the model outright
                assert "cannot load" in str(e), str(e)
            return a
        else:
            assert kind == "unproven", expect
            text = "; ".join(u.describe() for u in a.propagation.unproven)
            assert a.propagation.unproven and words in text, text or "nothing unproven"
            return a
    else:
        shapes = a.shapes
        got = {k: shapes.get(k) for k in expect}
        assert got == expect
    if points:
        assert_agrees(a, points)
    return a
