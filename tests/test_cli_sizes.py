"""Sizes as a new user types them: a symbol the domain does not constrain may be left out
(check, explain, fit, the API), sizes print as ``H=1, W=8187``, and an invalid size's
explanation ends with the nearest valid sizes and the command that gives more."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import graphshape
from graphshape.cli import main

from .conftest import text_model

# any N; H >= 3; W >= 3 (a 3x3 window without padding)
POOL = """<ir_version: 8, opset_import: ["" : 17]>
g (float[N,3,H,W] x) => (float[N,3,a,b] y) {
    y = MaxPool <kernel_shape = [3, 3]> (x)
}"""


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    return text_model(POOL, str(tmp_path_factory.mktemp("m") / "pool.onnx"))


def _run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r.exit_code, r.output


def test_the_api_takes_a_size_without_the_unconstrained_symbol(pool):
    a = graphshape.analyze(pool)
    assert str(a.domain).startswith("any N; ")
    assert a.domain.unconstrained == ["N"]
    assert a.domain.contains({"H": 5, "W": 5})
    ex = a.explain({"H": 5, "W": 4})
    assert ex.verdict.value == "valid" and ex.assumed == {"N": 1}
    assert ex.output_shapes == {"y": [1, 3, 3, 2]}
    assert ex.to_json()["assumed"] == {"N": 1}
    assert a.explain({"N": 2, "H": 5, "W": 5}).assumed == {}
    assert a.fit({"H": 2, "W": 5}).suggestions[0].sizes == {"N": 1, "H": 3, "W": 5}


def test_check_says_which_symbols_were_assumed(pool):
    code, out = _run("check", pool, "--size", "H=5", "--size", "W=5")
    assert code == 0
    assert out.splitlines() == [
        "valid: H=5, W=5 -> y: [1, 3, 3, 3]",
        "  (N=1 assumed: the domain does not constrain N, so the verdict holds for every "
        "value)"]
    code, out = _run("check", pool, "--size", "W=5")
    assert code == 2
    assert "no size given for H (N, which the domain does not constrain, may be left out)" \
        in out


def test_explain_prints_sizes_and_ends_with_the_nearest_valid_ones(pool, toy_path):
    code, out = _run("explain", toy_path)
    assert code == 0
    assert "smallest valid: H=1, W=8187\n" in out
    assert "smallest invalid per dim: H=11, W=1 (each with the other dims at the smallest " \
        "valid size)" in out
    code, out = _run("explain", pool, "--size", "H=2", "--size", "W=5")
    assert code == 1
    lines = out.rstrip().splitlines()
    assert lines[0] == "invalid: H=2, W=5"
    assert "nearest valid sizes:" in lines
    tail = lines[lines.index("nearest valid sizes:") + 1:]
    assert tail[0].startswith("  1. pad to 3x5 (H=3, W=5) [N=1]: H +1")
    assert tail[-1] == ("more (policies, letterbox, JSON): graphshape fit " + pool
                        + " --size H=2 --size W=5")
