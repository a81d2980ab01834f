"""Growth stays linear to 10,000 nodes (issue 8), guarded by counting work, never wall time.

Conv(3x3, pad 1)/Relu chains of 1k, 2k, 4k and 8k nodes are built here (onnx.helper,
ir_version 10) and each is analysed in its own fresh process (so expression caches warmed by
a smaller chain cannot flatter a larger one). The work counted: the propagation's node
count, the constraints collected, and every counter of ``Analysis.stats`` (rule calls,
expressions built, isl calls, ...). Each must grow at most linearly with the node count.
The smallest chain's answer is checked against onnxruntime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from onnx import TensorProto, helper, save

from tests.conftest import assert_agrees, graphshape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [1000, 2000, 4000, 8000]
SLACK = 1.10  # 10% over exact proportionality
CONST = 16  # plus a fixed allowance (per-model set-up work: solver, domain, ...)

_COUNT = r"""
import json, sys
import graphshape
a = graphshape.analyze(sys.argv[1])
out = {"node_count": a.propagation.node_count,
       "constraints": len(a.propagation.constraints),
       "unproven": len(a.propagation.unproven),
       "exact": a.domain.exact}
st = getattr(a, "stats", None)
if isinstance(st, dict):
    out.update({"stats." + k: v for k, v in st.items()})
print("COUNTS " + json.dumps(out))
"""


def conv_relu_chain(n_nodes: int, path: str) -> str:
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 4, 3, 3], [0.01] * 144)
    b = helper.make_tensor("b", TensorProto.FLOAT, [4], [0.0] * 4)
    nodes, cur = [], "x"
    for i in range(n_nodes // 2):
        nodes.append(helper.make_node("Conv", [cur, "w", "b"], [f"c{i}"], name=f"conv{i}",
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}"))
        cur = f"r{i}"
    g = helper.make_graph(
        nodes, "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, "H", "W"])],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, None)], [w, b])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 10
    save(m, path)
    return path


def counts(path: str) -> dict:
    p = subprocess.run([sys.executable, "-c", _COUNT, path], capture_output=True, text=True,
                       cwd=ROOT, timeout=240)
    assert p.returncode == 0, p.stderr[-2000:]
    line = [x for x in p.stdout.splitlines() if x.startswith("COUNTS ")][-1]
    return json.loads(line[len("COUNTS "):])


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    d = tmp_path_factory.mktemp("chains")
    paths = {n: conv_relu_chain(n, str(d / f"chain_{n}.onnx")) for n in SIZES}
    return paths, {n: counts(p) for n, p in paths.items()}


def test_chain_answer_agrees_with_onnxruntime(chains):
    paths, _ = chains
    a = graphshape.analyze(paths[SIZES[0]])
    assert a.domain.exact
    assert a.domain.contains({"H": 1, "W": 1}) and a.domain.contains({"H": 7, "W": 3})
    out = a.output_shapes_at({"H": 7, "W": 3})
    assert list(out.values()) == [[1, 4, 7, 3]]
    assert_agrees(a, [{"H": 1, "W": 1}, {"H": 7, "W": 3}, {"H": 2, "W": 5}])


def test_every_node_is_walked_once(chains):
    _, c = chains
    for n in SIZES:
        assert c[n]["node_count"] == n
        assert c[n]["unproven"] == 0 and c[n]["exact"]
        if "stats.rule_calls" in c[n]:
            assert c[n]["stats.rule_calls"] == n, c[n]


def test_work_grows_at_most_linearly(chains):
    _, c = chains
    keys = set().union(*(c[n] for n in SIZES)) - {"node_count", "unproven", "exact"}
    assert "constraints" in keys
    too_fast = []
    for k in sorted(keys):
        vals = [c[n].get(k, 0) for n in SIZES]
        if not all(isinstance(v, (int, float)) for v in vals):
            continue
        base = vals[0]
        for n, v in zip(SIZES, vals):
            bound = base * (n / SIZES[0]) * SLACK + CONST
            if v > bound:
                too_fast.append(f"{k}: {v} at {n} nodes > {bound:.0f} (linear from "
                                f"{base} at {SIZES[0]})")
        for (n1, v1), (n2, v2) in zip(zip(SIZES, vals), zip(SIZES[1:], vals[1:])):
            if v2 > v1 * (n2 / n1) * SLACK + CONST:
                too_fast.append(f"{k}: {v1} at {n1} nodes -> {v2} at {n2}")
    assert not too_fast, "work grows faster than the graph:\n" + "\n".join(too_fast) + \
        "\nall counts: " + json.dumps(c)
