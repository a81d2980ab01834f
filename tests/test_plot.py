"""graphshape plot: the valid region drawn exactly (every integer size in range), verified
sizes marked, SVG without dependencies and PNG through matplotlib."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

import graphshape
from graphshape.cli import main
from graphshape.render import plot as P

from .conftest import ROOT, assert_agrees, text_model


@pytest.fixture(scope="module")
def one_dim(tmp_path_factory):
    """[1,1,S] -> MaxPool 3/3 -> Flatten -> MatMul K = 4: valid iff floor(S/3) == 4 in
    onnxruntime's truncating arithmetic (S in 12..14, and the overhang rule)."""
    p = str(tmp_path_factory.mktemp("m") / "strip.onnx")
    return text_model("""
        <ir_version: 10, opset_import: ["" : 17]>
        agraph (float[1,1,S] X) => (float[1,2] Y)
        <float[4,2] B = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}>
        {
            P = MaxPool <kernel_shape = [3], strides = [3]> (X)
            F = Flatten <axis = 1> (P)
            Y = MatMul (F, B)
        }""", p)


def _cells(r):
    """Every integer size the region colours valid."""
    out = set()
    for x0, x1, y0, y1 in r.rects:
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                out.add((x, y))
    return out


def test_toy_region_is_the_eleven_boxes_exactly(toy_path):
    a = graphshape.analyze(toy_path)
    r = P.region(a)
    assert (r.x_name, r.y_name, r.exact, r.log) == ("W", "H", True, True)
    assert len(r.rects) == 11
    assert (251, 258, 251, 258) in r.rects
    for x0, x1, y0, y1 in r.rects:  # each rect is valid at its corners, invalid just outside
        assert a.domain.contains({"W": x0, "H": y0}) and a.domain.contains({"W": x1, "H": y1})
        assert x0 == 1 or not a.domain.contains({"W": x0 - 1, "H": y0})
        assert not a.domain.contains({"W": x1 + 1, "H": y1})
    rep = assert_agrees(a, [{"H": 251, "W": 258}, {"H": 259, "W": 258}, {"H": 8194, "W": 1}])
    assert [v.observed for v in rep.verdicts] == ["valid", "invalid", "valid"]


def test_unet_lattice_drawn_at_every_integer_size(model_cache):
    from models import registry

    a = graphshape.analyze(registry.build("unet_ts", model_cache))
    r = P.region(a, ranges={"H": 100, "W": 70})
    assert (r.x_name, r.y_name, r.held, r.exact) == ("W", "H", {"N": 1}, True)
    cells = _cells(r)
    for h in range(1, 101):
        for w in range(1, 71):
            assert ((w, h) in cells) == a.domain.contains({"N": 1, "H": h, "W": w})
    assert (64, 16) in cells and (64, 17) not in cells
    assert_agrees(a, [{"N": 1, "H": 16, "W": 64}, {"N": 1, "H": 17, "W": 64}])


def test_strip_of_one_dim_against_onnxruntime(one_dim):
    a = graphshape.analyze(one_dim)
    r = P.region(a, ranges={"S": 40})
    assert r.y_name is None and r.exact
    valid = sorted(x for x, _ in _cells(r))
    assert valid == [s for s in range(1, 41) if a.domain.contains({"S": s})]
    rep = assert_agrees(a, [{"S": s} for s in range(10, 17)])
    assert [v.sizes["S"] for v in rep.verdicts if v.observed == "valid"] == valid


def test_coupled_domain_is_drawn_cell_by_cell(tmp_path):
    """H + W == 20 (a Concat against a fixed table): no box form, each cell one size."""
    p = text_model("""
        <ir_version: 10, opset_import: ["" : 17]>
        agraph (float[1,H] X, float[1,W] Z) => (float[1,20] Y)
        <float[1,20] T = {0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 0.0, 1.0, 2.0, 3.0,
                          4.0, 5.0, 6.0, 7.0, 8.0, 9.0}>
        {
            A = Concat <axis = 1> (X, Z)
            Y = Add (A, T)
        }""", str(tmp_path / "coupled.onnx"))
    a = graphshape.analyze(p)
    r = P.region(a, ranges={"H": 30, "W": 30})
    cells = _cells(r)
    assert r.exact
    assert cells == {(h, w) for h in range(1, 31) for w in range(1, 31)
                     if a.domain.contains({"H": h, "W": w})}
    assert (7, 13) in cells and (7, 14) not in cells
    assert_agrees(a, [{"H": 7, "W": 13}, {"H": 7, "W": 14}])


def test_plot_svg_cli(toy_path, tmp_path):
    out = str(tmp_path / "valid.svg")
    r = CliRunner().invoke(main, ["plot", toy_path, "-o", out])
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"wrote {out}: W x H (W 1..16384, H 1..16384), 11 valid runs, "
                               "exact at every integer size")
    svg = open(out).read()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert len(re.findall(r'fill="#2e9d4f"', svg)) == 11
    assert "W=251..258, H=251..258" in svg


def test_plot_png_cli_with_verified_points(toy_path, tmp_path):
    out = str(tmp_path / "valid.png")
    r = CliRunner().invoke(main, ["plot", toy_path, "-o", out, "--verify", "--random", "0",
                                  "--format", "json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["rects"] == 11 and info["exact"]
    assert info["points"]["disagree"] == 0
    assert info["points"]["valid"] >= 11 and info["points"]["invalid"] >= 11
    data = open(out, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 200_000


def test_committed_pictures_are_small_pngs():
    for name in ("toy.png", "unet.png"):
        p = os.path.join(ROOT, "docs", "img", name)
        data = open(p, "rb").read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 200_000


@pytest.mark.parametrize("args,msg", [
    (["-o", "{tmp}/x.jpg"], "write a .svg or a .png file"),
    (["-o", "{tmp}/x.svg", "--x", "Q"], "unknown dim 'Q'"),
    (["-o", "{tmp}/x.svg", "--x", "H", "--y", "H"], "--x and --y name the same dim"),
    (["-o", "{tmp}/x.svg", "--size", "H=-1"], "sizes start at 0"),
])
def test_plot_usage_errors_are_one_line(toy_path, tmp_path, args, msg):
    r = CliRunner().invoke(main, ["plot", toy_path] + [a.format(tmp=tmp_path) for a in args])
    assert r.exit_code == 2
    assert msg in r.output and "Traceback" not in r.output
    assert not os.path.exists(tmp_path / "x.svg")


def test_plot_static_model_is_a_usage_error(tmp_path):
    p = text_model("""
        <ir_version: 10, opset_import: ["" : 17]>
        agraph (float[1,3] X) => (float[1,3] Y)
        { Y = Relu (X) }""", str(tmp_path / "static.onnx"))
    r = CliRunner().invoke(main, ["plot", p, "-o", str(tmp_path / "x.svg")])
    assert r.exit_code == 2 and "no symbolic dims to plot" in r.output


def test_png_without_matplotlib_gives_the_hint(toy_path, tmp_path):
    """A real process where matplotlib cannot be imported (as without the plot extra)."""
    out = str(tmp_path / "x.png")
    code = ("import sys; sys.modules['matplotlib'] = None; "
            "from graphshape.cli import main; sys.argv = ['graphshape', 'plot', "
            f"{toy_path!r}, '-o', {out!r}]; main()")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    assert p.returncode == 2
    assert p.stderr.strip() == f"graphshape: error: {P.MPL_HINT}"
    assert not os.path.exists(out)


def test_analyze_plot_writes_the_same_svg(toy_path, tmp_path):
    out = str(tmp_path / "a.svg")
    r = CliRunner().invoke(main, ["analyze", toy_path, "--plot", out])
    assert r.exit_code == 0
    assert len(re.findall(r'fill="#2e9d4f"', open(out).read())) == 11
