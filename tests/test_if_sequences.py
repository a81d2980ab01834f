"""If whose branches hand back a sequence or an optional (issue 21's last open case, the
backend tests test_if_seq and test_if_opt): with the condition known only at run time the
branches must give as many elements of the same shapes, and the If is then exact; branches
that differ stay unproven. Checked on onnxruntime with either condition."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import onnx.parser
import onnxruntime as ort

import graphshape

from .conftest import assert_agrees


def _model(tmp_path, then_body: str, else_body: str, out_type: str, tail: str) -> str:
    text = f"""
    <ir_version: 8, opset_import: ["" : 17]>
    g (float[N, C] x, bool c) => (float y) {{
      s = If (c) <then_branch = t () => ({out_type} a) {{ {then_body} }},
                  else_branch = e () => ({out_type} b) {{ {else_body} }}>
      {tail}
    }}"""
    m = onnx.parser.parse_model(text)
    onnx.checker.check_model(m)
    path = str(tmp_path / "m.onnx")
    onnx.save(m, path)
    return path


def _runs_with_both_conditions(path, sizes) -> list:
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    shapes = []
    for c in (True, False):
        x = np.ones((sizes["N"], sizes["C"]), np.float32)
        shapes.append(sess.run(None, {"x": x, "c": np.array(c)})[0].shape)
    return shapes


def test_if_with_sequence_outputs_of_the_same_shapes_is_exact(tmp_path):
    path = _model(tmp_path, "a = SequenceConstruct (x, x)",
                  "xr = Relu (x) b = SequenceConstruct (xr, x)", "seq(float[N, C])",
                  "y = ConcatFromSequence <axis = 1> (s)")
    a = graphshape.analyze(path)
    assert a.domain.exact and str(a.domain) == "any N; any C"
    assert a.output_shapes == {"y": ["N", "2*C"]}
    pts = [{"N": n, "C": c} for n, c in itertools.product((1, 2, 5), (1, 3))]
    assert_agrees(a, pts)
    for p in pts:  # the verification feeds one condition; both give the predicted shape
        assert _runs_with_both_conditions(path, p) == [(p["N"], 2 * p["C"])] * 2


def test_if_with_sequences_of_different_lengths_is_unproven(tmp_path):
    path = _model(tmp_path, "a = SequenceConstruct (x, x)", "b = SequenceConstruct (x)",
                  "seq(float[N, C])", "y = ConcatFromSequence <axis = 1> (s)")
    a = graphshape.analyze(path)
    assert not a.domain.exact
    assert any(u.op == "If" for u in a.domain.unproven)
    assert _runs_with_both_conditions(path, {"N": 2, "C": 3}) == [(2, 6), (2, 3)]


def test_if_with_optional_outputs_holding_the_same_shape_is_exact(tmp_path):
    path = _model(tmp_path, "a = Optional (x)", "xr = Relu (x) b = Optional (xr)",
                  "optional(float[N, C])", "y = OptionalGetElement (s)")
    a = graphshape.analyze(path)
    assert a.domain.exact and a.output_shapes == {"y": ["N", "C"]}
    assert_agrees(a, [{"N": n, "C": c} for n, c in ((1, 1), (3, 2), (4, 7))])
