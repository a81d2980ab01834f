"""A rule that goes on with output shapes it could not prove (NodeContext.assume with
shapes_unsure) must not let a node downstream call a size invalid: the shape it computed
may be wrong exactly there.

The case, found by reading the engine and confirmed on onnxruntime 1.31.1: Concat skips
empty inputs, so Concat(x[1:], y[1:]) on axis 0 takes its other dims from y when x has one
row. graphshape's Concat rule, with every input possibly empty and their other dims not
provably equal, goes on with x's dims (and says so); a MatMul after it then needed C = 3,
and at A=1, C=5, B=2, D=3 the answer was "invalid" although onnxruntime runs it (output
[1, 4]). The MatMul's condition is no longer claimed: that size is unproven, never wrong.
"""

from __future__ import annotations

import itertools

import graphshape
from graphshape.runtime.verify import verify

from ._rule_rows import model_from_text

END = 9223372036854775807

CONCAT_THEN_MATMUL = (
    "(float[A, C] x, float[B, D] y) => (float z) "
    f"<int64[1] one = {{1}}, int64[1] big = {{{END}}}, int64[1] ax = {{0}}, "
    "float[3, 4] w = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0}> "
    "{ x1 = Slice (x, one, big, ax) y1 = Slice (y, one, big, ax) "
    "c = Concat <axis = 0> (x1, y1) z = MatMul (c, w) }")


def test_no_condition_downstream_of_an_unsure_shape_is_claimed(tmp_path):
    a = graphshape.analyze(model_from_text(17, CONCAT_THEN_MATMUL, str(tmp_path / "m.onnx")))
    assert not a.domain.exact
    assert any(u.op == "Concat" for u in a.domain.unproven)
    # onnxruntime runs it (x1 is empty, so the Concat is y1: [1, 3] @ [3, 4])
    assert a.check({"A": 1, "C": 5, "B": 2, "D": 3}) != "invalid"
    pts = [{"A": a_, "C": c, "B": b, "D": d}
           for a_, b in itertools.product((1, 2, 3), repeat=2) for c, d in ((3, 3), (5, 3),
                                                                            (3, 5), (5, 5))]
    rep = verify(a, pts, timeout=60, providers=["CPUExecutionProvider"])
    bad = [(v.sizes, v.predicted, v.observed, v.detail) for v in rep.disagreements]
    assert not bad, bad
    observed = {tuple(v.sizes.values()): v.observed for v in rep.verdicts}
    assert observed[(1, 5, 2, 3)] == "valid"  # the size that was called invalid
    assert observed[(2, 5, 2, 5)] == "invalid"
