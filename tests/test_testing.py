"""graphshape.testing (assert_accepts / assert_rejects) and its pytest plugin, run through
pytest's own pytester on a tiny test file. Every claim is checked on onnxruntime."""

from __future__ import annotations

import importlib.metadata

import onnx
import pytest

import graphshape
from graphshape.testing import ShapeAssertionError, assert_accepts, assert_rejects

from .conftest import assert_agrees

pytest_plugins = ["pytester"]

# Conv 3x3 (no padding) then MaxPool 2x2 stride 2: H, W >= 3 (onnxruntime's pooling
# truncates, so a 1x1 map pools to 1x1), and a Concat with a 4-wide constant along H
# that needs the pooled width to be 3: floor((W - 2)/2) + ... see the domain below
MODEL = """<ir_version: 10, opset_import: ["" : 17]>
g (float[1,1,H,W] x) => (float[1,1,?,?] y) <float[1,1,3,3] w = {1,1,1,1,1,1,1,1,1},
                                           float[1,1,2,3] k = {0,0,0,0,0,0}> {
  c = Conv <pads = [0,0,0,0]> (x, w)
  p = MaxPool <kernel_shape = [2,2], strides = [2,2]> (c)
  y = Concat <axis = 2> (p, k)
}"""


def _model(path):
    m = onnx.parser.parse_model(MODEL)
    for node, name in zip(m.graph.node, ["conv", "pool", "cat"]):
        node.name = name
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return str(path)


@pytest.fixture
def model(tmp_path):
    return _model(tmp_path / "m.onnx")


def test_the_domain_is_what_onnxruntime_says(model):
    a = graphshape.analyze(model)
    assert str(a.domain).splitlines()[0].strip() == "any H >= 3; 8 <= W <= 9"
    assert_agrees(a, [{"H": 3, "W": 8}, {"H": 2, "W": 8}, {"H": 50, "W": 9},
                      {"H": 5, "W": 10}, {"H": 5, "W": 7}])


def test_accepts_on_a_path_a_modelproto_and_an_analysis(model):
    a = assert_accepts(model, {"H": 5, "W": 8})
    assert_accepts(onnx.load(model), "H in 3..500, W in 8..9")
    assert_accepts(a, ["H = 3, W = 9", {"H": 300, "W": 8}])
    assert_rejects(model, "H in 1..2")
    assert_rejects(a, [{"H": 5, "W": 10}, "W in 1..7"])


def test_a_failed_accepts_says_which_size_which_node_and_why(model):
    with pytest.raises(ShapeAssertionError) as e:
        assert_accepts(model, "H in 3..100, W in 8..10")
    msg = str(e.value)
    assert msg.splitlines()[0] == "m.onnx does not accept H in 3..100, W in 8..10"
    assert "'H in 3..100, W in 8..10': 98 of 294 required sizes are invalid; first: " \
           "H=3, W=10" in msg
    assert "Concat (node 'cat')" in msg
    assert "valid sizes: any H >= 3; 8 <= W <= 9" in msg
    assert isinstance(e.value, AssertionError)
    with pytest.raises(ShapeAssertionError, match=r"H=2, W=8 is invalid\n.*Conv \(node 'conv'\)"):
        assert_accepts(model, {"H": 2, "W": 8})


def test_a_failed_rejects_names_the_valid_sizes(model):
    with pytest.raises(ShapeAssertionError) as e:
        assert_rejects(model, "H in 1..4, W = 8")
    lines = str(e.value).splitlines()
    assert lines[0] == "m.onnx does not reject H in 1..4, W = 8"
    assert lines[1].startswith("  H=3, W=8 is valid (proved) -> y: [1, 1, 3, 3]")
    assert lines[2].startswith("  H=4, W=8 is valid (proved)")


TEST_FILE = """
from graphshape.testing import assert_accepts, assert_rejects

MODEL = {model!r}


def test_serving_sizes():
    assert_accepts(MODEL, "H in 3..64, W = 8")


def test_too_wide():
    assert_accepts(MODEL, {{"H": 16, "W": 12}})


def test_small_is_rejected():
    assert_rejects(MODEL, "H = 4, W = 8")
"""


def _plugin_args():
    """-p graphshape.pytest_plugin unless the entry point already loads it."""
    eps = importlib.metadata.entry_points(group="pytest11")
    if any(ep.value == "graphshape.pytest_plugin" for ep in eps):
        return []
    return ["-p", "graphshape.pytest_plugin"]


def test_the_plugin_rewrites_failures(pytester, tmp_path):
    model = _model(tmp_path / "m.onnx")
    pytester.makepyfile(test_model=TEST_FILE.format(model=model))
    res = pytester.runpytest(*_plugin_args(), "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1, failed=2)
    out = res.stdout.str()
    res.stdout.fnmatch_lines([
        "test_model.py:11: graphshape: m.onnx does not accept H=16, W=12",
        "  H=16, W=12 is invalid",
        "    Concat (node 'cat'): *",
        "  valid sizes: any H >= 3; 8 <= W <= 9",
    ])
    res.stdout.fnmatch_lines([
        "test_model.py:15: graphshape: m.onnx does not reject H = 4, W = 8",
        "  H=4, W=8 is valid (proved) -> y: [1, 1, 3, 3]",
    ])
    # the message replaces the traceback: nothing from graphshape's own frames
    assert "graphshape/testing.py" not in out and "raise ShapeAssertionError" not in out


def test_the_full_traceback_on_request(pytester, tmp_path):
    model = _model(tmp_path / "m.onnx")
    pytester.makepyfile(test_model=TEST_FILE.format(model=model))
    res = pytester.runpytest(*_plugin_args(), "-p", "no:cacheprovider", "--graphshape-tb",
                             "-k", "too_wide")
    res.assert_outcomes(failed=1, deselected=2)
    assert "raise ShapeAssertionError" in res.stdout.str()
