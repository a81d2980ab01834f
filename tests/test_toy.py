"""The end-to-end slice: the toy classifier's domain, proved and checked on onnxruntime."""

from __future__ import annotations

import os

import pytest

import graphshape
from graphshape.runtime.verify import plan_points

from .conftest import assert_agrees

# Confirmed on onnxruntime by test_toy_domain_agrees_with_onnxruntime at every edge.
TOY_BOXES = [
    ((1, 10), (8187, 8194)), ((11, 18), (4091, 4098)), ((27, 34), (2043, 2050)),
    ((59, 66), (1019, 1026)), ((123, 130), (507, 514)), ((251, 258), (251, 258)),
    ((507, 514), (123, 130)), ((1019, 1026), (59, 66)), ((2043, 2050), (27, 34)),
    ((4091, 4098), (11, 18)), ((8187, 8194), (1, 10)),
]


@pytest.fixture(scope="module")
def toy(toy_path):
    return graphshape.analyze(toy_path)


def test_toy_symbolic_input(toy):
    assert toy.inputs == {"input": [1, 3, "H", "W"]}
    assert toy.output_shapes == {"logits": [1, 10]}
    assert toy.domain.exact


def test_toy_domain_is_a_union_of_eleven_boxes(toy):
    boxes = toy.domain.boxes()
    got = [((b.factors[0].min(), b.factors[0].max()), (b.factors[1].min(), b.factors[1].max()))
           for b in boxes]
    assert got == TOY_BOXES
    text = str(toy.domain)
    assert "251 <= H <= 258 and 251 <= W <= 258" in text


def test_toy_contains(toy):
    assert toy.domain.contains({"H": 256, "W": 256})
    assert toy.domain.contains({"H": 512, "W": 128})
    assert not toy.domain.contains({"H": 300, "W": 300})
    assert not toy.domain.contains({"H": 259, "W": 256})


def test_toy_explain_names_the_gemm(toy):
    ex = toy.explain({"H": 300, "W": 300})
    assert ex.verdict == "invalid"
    (v,) = ex.violations
    assert v.op == "Gemm" and v.node == "/head/head.0/Gemm"
    assert "46208 != 32768" in v.numbers
    ok = toy.explain({"H": 256, "W": 256})
    assert ok.output_shapes == {"logits": [1, 10]}


def test_toy_shapes_map_every_value(toy):
    shapes = toy.shapes
    assert shapes["/features/features.0/Conv_output_0"] == [
        1, 16, "floor((H - 1)/2) + 1", "floor((W - 1)/2) + 1"]
    assert shapes["logits"] == [1, 10]


def test_toy_domain_agrees_with_onnxruntime(toy):
    """Every edge of every box, plus random members and non-members: total agreement."""
    points = plan_points(toy.domain, n_random=10, seed=3)
    assert len(points) > 100
    rep = assert_agrees(toy, points)
    observed_valid = [v for v in rep.verdicts if v.observed == "valid"]
    assert observed_valid and len(observed_valid) < len(rep.verdicts)


def test_toy_spec_domain_differs_at_tiny_sizes(toy):
    """onnxruntime's truncating pool division admits H, W in {1, 2}; the spec does not."""
    assert toy.spec_domain is not None
    assert toy.domain.contains({"H": 1, "W": 8190})
    assert not toy.spec_domain.contains({"H": 1, "W": 8190})
    assert toy.spec_domain.contains({"H": 3, "W": 8190})
    assert_agrees(toy, [{"H": 1, "W": 8190}, {"H": 2, "W": 8187}])


def test_toy_json_is_versioned(toy):
    j = toy.to_json()
    assert j["schema_version"] == graphshape.SCHEMA_VERSION
    assert j["domain"]["symbols"] == ["H", "W"]
    assert len(j["domain"]["boxes"]) == 11
    assert j["constraints"]


def test_toy_resymbolised_from_fixed_export(toy_path, tmp_path):
    """A zoo-style model with fixed 256x256 input, re-symbolised with dims=."""
    import onnx

    m = onnx.load(toy_path)
    for i, v in ((2, 256), (3, 256)):
        d = m.graph.input[0].type.tensor_type.shape.dim[i]
        d.Clear()
        d.dim_value = v
    p = str(tmp_path / "fixed.onnx")
    onnx.save(m, p)
    fixed = graphshape.analyze(p)
    assert fixed.domain.symbols == []
    a = graphshape.analyze(p, dims={"input:2": "H", "input:3": "W"})
    assert str(a.domain) == str(graphshape.analyze(toy_path).domain)
    b = graphshape.analyze(p, dims=["input:2=H", "input:3=W"])
    assert b.domain.contains({"H": 512, "W": 128})
    # verification runs a re-symbolised temporary copy, removed afterwards
    assert_agrees(b, [{"H": 512, "W": 128}, {"H": 300, "W": 300}, {"H": 256, "W": 256}])
    assert sorted(os.listdir(tmp_path)) == ["fixed.onnx"]
