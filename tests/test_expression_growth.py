"""Expressions stay small through long chains of strided layers, and the closed form is
found without enumerating a period (issue 24), guarded by counting, never wall time.

A chain of N layers of one kind (Conv k3 s2 p1, k3 s2 p0, SAME_UPPER s2, MaxPool k3 s2
ceil_mode, AveragePool k2 s2 ceil with pads alternating with Conv k3) is built at N = 10, 40
and 160. The largest output-dim expression must have the same number of nodes at every N
(canonical forms: floor(floor(x/a)/b) is floor(x/(a*b)), padded stride chains collapse),
the domain must be stated exactly (at N = 40 its threshold is about 2**40: a period or a
lower part that was enumerated point by point would never finish), and the rule calls and
isl sets must grow at most linearly. The smallest chain of each kind (N = 3) is checked
against onnxruntime at the domain's edges.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from onnx import TensorProto, helper, save

from graphshape import stats
from tests.conftest import assert_agrees, graphshape

KINDS = ["conv_s2_p1", "conv_s2_p0", "conv_same_upper", "maxpool_ceil", "avgpool_ceil_mixed"]


def _layer(kind: str, i: int, x: str, o: str, inits: list):
    def conv(**attrs):
        w = f"w{i}"
        inits.append(helper.make_tensor(w, TensorProto.FLOAT, [1, 1, 3, 3],
                                        np.ones(9, np.float32)))
        return helper.make_node("Conv", [x, w], [o], kernel_shape=[3, 3], **attrs)

    if kind == "conv_s2_p1":
        return conv(strides=[2, 2], pads=[1, 1, 1, 1])
    if kind == "conv_s2_p0":
        return conv(strides=[2, 2])
    if kind == "conv_same_upper":
        return conv(strides=[2, 2], auto_pad="SAME_UPPER")
    if kind == "maxpool_ceil":
        return helper.make_node("MaxPool", [x], [o], kernel_shape=[3, 3], strides=[2, 2],
                                ceil_mode=1)
    if i % 2:  # avgpool_ceil_mixed
        return helper.make_node("AveragePool", [x], [o], kernel_shape=[2, 2], strides=[2, 2],
                                pads=[0, 0, 1, 1], ceil_mode=1)
    return conv()


def chain(tmp_path, kind: str, n: int) -> tuple:
    nodes, inits, x = [], [], "x"
    for i in range(n):
        nodes.append(_layer(kind, i, x, f"c{i}", inits))
        x = f"c{i}"
    g = helper.make_graph(nodes, "chain",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                         [1, 1, "H", "W"])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = str(tmp_path / f"{kind}_{n}.onnx")
    save(m, path)
    return path, x


def _nodes(d) -> int:
    return sum(1 for _ in sympy.preorder_traversal(sympy.sympify(d)))


@pytest.mark.parametrize("kind", KINDS)
def test_expressions_and_work_stay_bounded(tmp_path, kind):
    sizes, work = {}, {}
    for n in (10, 40, 160):
        path, out = chain(tmp_path, kind, n)
        before = stats.snapshot()
        a = graphshape.analyze(path)
        done = stats.since(before)
        assert a.domain.exact, (kind, n, a.domain)
        text = str(a.domain)
        assert len(text.splitlines()) <= 2, (kind, n, text)
        sizes[n] = _nodes(a.propagation.tensors[out].shape[2])
        work[n] = done
    assert sizes[10] == sizes[40] == sizes[160] <= 12, (kind, sizes)
    assert work[160].get("rule_calls", 0) == 160, (kind, work[160])
    for key in ("isl_sets", "exprs"):
        # at most linear in the layers (16 times the layers, 10% slack), plus a fixed allowance
        assert work[160].get(key, 0) <= 1.1 * 16 * work[10].get(key, 0) + 64, (kind, key, work)


@pytest.mark.parametrize("kind", KINDS)
def test_short_chain_agrees_with_onnxruntime(tmp_path, kind):
    path, _ = chain(tmp_path, kind, 3)
    a = graphshape.analyze(path)
    assert a.domain.exact
    points = a.domain.edges()
    points += [{"H": h, "W": w} for h in range(1, 40, 3) for w in (1, 17, 33)]
    assert_agrees(a, points)
