"""Rule table for graphshape/rules/control_flow.py: If, Loop, Scan."""

from __future__ import annotations

import pytest

from ._rule_rows import check_row

THEN_ELSE = ("<then_branch = g1 () => (float[N, C] t) {{ t = {t} }}, "
             "else_branch = g2 () => (float[N, C] e) {{ e = {e} }}>")

ROWS = [
    ("if_known_condition_takes_branch", 13,
     "(float[N, C] x, float[N, K] z) => (float y) <bool c = {1}> "
     "{ y = If (c) " + THEN_ELSE.format(t="Relu (x)", e="Relu (z)") + " }",
     {"y": ["N", "C"]}, [{"N": 2, "C": 3, "K": 4}]),
    ("if_unknown_condition_same_shapes", 13,
     "(float[N, C] x, bool c) => (float y) "
     "{ y = If (c) " + THEN_ELSE.format(t="Relu (x)", e="Sigmoid (x)") + " }",
     {"y": ["N", "C"]}, [{"N": 2, "C": 3}]),
    ("if_unknown_condition_different_shapes", 13,
     "(float[N, C] x, float[N, K] z, bool c) => (float y) "
     "{ y = If (c) " + THEN_ELSE.format(t="Relu (x)", e="Relu (z)") + " }",
     "unproven: differ in shape", []),
    ("if_branch_condition_applies", 13,
     "(float[N, C] x, float[N, K] z) => (float y) <bool c = {1}> "
     "{ y = If (c) " + THEN_ELSE.format(t="Add (x, z)", e="Relu (z)") + " }",
     {"y": ["N", "max(C, K)"]},
     [{"N": 1, "C": 3, "K": 3}, {"N": 1, "C": 3, "K": 1}, {"N": 1, "C": 3, "K": 2}]),
    ("scan_running_sum", 9,
     ("(float[2] init, float[S, 2] xs) => (float last, float ys) "
     "{ last, ys = Scan <num_scan_inputs = 1, body = b (float[2] st, float[2] xi) => "
     "(float[2] so, float[2] yo) { so = Add (st, xi) yo = Identity (so) }> (init, xs) }"),
     {"last": [2], "ys": ["S", 2]}, [{"S": 3}, {"S": 1}]),
    ("loop_known_trip_count", 13,
     ("(float[N] x) => (float out, float ys) <int64 m = {3}, bool c = {1}> "
     "{ out, ys = Loop (m, c, x) <body = b (int64 i, bool ci, float[N] v) => "
     "(bool co, float[N] vo, float[N] so) { co = Identity (ci) vo = Relu (v) "
     "so = Identity (v) }> }"),
     {"out": ["N"], "ys": [3, "N"]}, [{"N": 4}]),
]


@pytest.mark.parametrize("opset,graph,expect,points",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_control_flow_rule(tmp_path, opset, graph, expect, points):
    check_row(tmp_path, opset, graph, expect, points)
