"""The per-layer table (graphshape.layers, `graphshape explain`): every layer's numbers at a
size are the shapes onnxruntime computes there; the failing node is the one named."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
from click.testing import CliRunner

import graphshape
from graphshape.answers.layers import collapse, layers, table_lines
from graphshape.cli import main


def _runtime_shapes(path, feeds):
    """Every intermediate value's shape as onnxruntime computes it (all values as outputs)."""
    m = onnx.load(path)
    have = {o.name for o in m.graph.output}
    for n in m.graph.node:
        for o in n.output:
            if o and o not in have:
                m.graph.output.append(onnx.ValueInfoProto(name=o))
                have.add(o)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, (list(v.shape) for v in sess.run(names, feeds))))


def test_layer_numbers_match_onnxruntime(toy_path):
    a = graphshape.analyze(toy_path)
    sizes = {"H": 258, "W": 251}  # valid (a corner of the 256x256 box), odd on both axes
    assert a.check(sizes) == "valid"
    x = np.random.default_rng(0).standard_normal((1, 3, 258, 251)).astype(np.float32)
    got = _runtime_shapes(toy_path, {a.graph.model.graph.input[0].name: x})
    rows = layers(a, sizes)
    checked = 0
    for node, row in zip(a.graph.nodes, rows):
        out = node.output[0]
        if out in got and row.numbers is not None:
            assert row.numbers == got[out], (row.node, row.numbers, got[out])
            checked += 1
    assert checked == len(rows)
    # effective stride and receptive field of the feature extractor (3x3 s2, pool 3 s2, 3x3 s2)
    conv2 = next(r for r in rows if r.node == "/features/features.3/Conv")
    assert conv2.stride == [8, 8] and conv2.field == [13, 13]


def test_first_failing_node_is_marked(toy_path):
    a = graphshape.analyze(toy_path)
    rows = collapse(layers(a, {"H": 300, "W": 300}))
    failing = [r.node for r in rows if r.failing]
    assert failing == ["/head/head.0/Gemm"]
    assert any(r.role == "pins" and r.node == "/head/head.0/Gemm" for r in rows)
    text = table_lines(rows, {"H": 300, "W": 300})
    marked = [ln for ln in text if ln.startswith(">>")]
    assert len(marked) == 1 and "/head/head.0/Gemm" in marked[0] and "[1, 32, 38, 38]" not in marked[0]
    assert any("[1, 32, 38, 38]" in ln for ln in text)  # the last map at 300x300 is 38x38


def test_explain_cli_table_and_json(toy_path):
    r = CliRunner().invoke(main, ["explain", toy_path, "--size", "H=300", "--size", "W=300"])
    assert r.exit_code == 1, r.output
    assert ">>  5  /head/head.0/Gemm" in r.output and "stride" in r.output
    r = CliRunner().invoke(main, ["explain", toy_path, "--size", "H=256", "--size", "W=256",
                                  "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["verdict"] == "valid" and data["layers"][-1]["numbers"] == [1, 10]
    assert not any(row["failing"] for row in data["layers"])
