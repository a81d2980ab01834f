"""Two defences against shape expressions that grow without bound (torchvision's swin_t
exported with TorchScript: its padded-window sizes nested a max/min per block, and the
analysis ran for more than 15 minutes):

* of two provably ordered arguments of a min/max only the winner is kept
  (min(h, 7*ceil(h/7)) == h), so the nesting does not start;
* one node's rule may run GRAPHSHAPE_NODE_SECONDS (10 s) at most; past it the node is
  unproven, said so, and the analysis goes on (the caller's SIGALRM handler and timer are
  put back)."""

from __future__ import annotations

import signal

import onnx
import sympy
from onnx import TensorProto as T
from onnx import helper as h

import graphshape
from graphshape.arith.expr import ceil_expr, dmax, dmin
from graphshape.domain.sets import UNPROVEN
from graphshape.shapes import engine

from .conftest import assert_agrees


def test_of_two_ordered_arguments_the_winner_is_kept():
    x = sympy.Symbol("H", integer=True, positive=True)
    padded = -7 * sympy.floor(-x / 7)  # 7*ceil(H/7) >= H
    assert dmin(x, padded) == x and dmin(padded, x) == x
    assert dmax(x, padded) == padded
    assert dmin(sympy.floor(x / 2), ceil_expr(x / 2)) == sympy.floor(x / 2)
    # not ordered at every size: both stay
    assert isinstance(dmin(x, 10 - x), sympy.Min)


def _window_model(path):
    """x [1, 1, H, 8] padded on H to a multiple of 7 (the pad computed from the shape, as
    Swin does), three times, then a Reshape into windows of 7 rows."""
    nodes, cur = [], "x"
    seven = h.make_tensor("seven", T.INT64, [1], [7])
    two = h.make_tensor("two", T.INT64, [1], [2])
    zero6 = h.make_tensor("zero6", T.INT64, [6], [0] * 6)
    zero1 = h.make_tensor("zero1", T.INT64, [1], [0])
    for i in range(3):
        nodes += [
            h.make_node("Shape", [cur], [f"s{i}"]),
            h.make_node("Gather", [f"s{i}", "two"], [f"h{i}"], axis=0),
            h.make_node("Mod", [f"h{i}", "seven"], [f"m{i}"]),
            h.make_node("Sub", ["seven", f"m{i}"], [f"r{i}"]),
            h.make_node("Mod", [f"r{i}", "seven"], [f"p{i}"]),
            h.make_node("Concat", ["zero6", f"p{i}", "zero1"], [f"pads{i}"], axis=0),
            h.make_node("Pad", [cur, f"pads{i}"], [f"y{i}"]),
        ]
        cur = f"y{i}"
    shape = h.make_tensor("shape", T.INT64, [3], [-1, 7, 8])
    nodes.append(h.make_node("Reshape", [cur, "shape"], ["z"]))
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 1, "H", 8])],
                     [h.make_tensor_value_info("z", T.FLOAT, None)],
                     initializer=[seven, two, zero6, zero1, shape])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


def test_a_padded_window_stays_small_and_exact(tmp_path):
    a = graphshape.analyze(_window_model(str(tmp_path / "w.onnx")))
    assert not a.propagation.unproven
    assert str(a.shapes["y2"][2]) == "-7*floor(-H/7)", a.shapes["y2"]
    assert_agrees(a, [{"H": v} for v in range(1, 16)])


def test_a_rule_past_its_budget_is_unproven_and_the_timer_is_restored(tmp_path, monkeypatch):
    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        monkeypatch.setattr(engine, "NODE_SECONDS", 1e-6)
        a = graphshape.analyze(_window_model(str(tmp_path / "w.onnx")))
        assert signal.getsignal(signal.SIGALRM) is not engine._on_alarm
        assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
    finally:
        signal.signal(signal.SIGALRM, old)
    reasons = [u.reason for u in a.propagation.unproven]
    assert any("ran past graphshape's 1e-06 s budget for one node" in r for r in reasons), \
        reasons
    assert a.check({"H": 7}) == UNPROVEN
    assert not fired  # no alarm leaked to the caller's handler
