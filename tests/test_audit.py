"""audit over many models: files and directories, -j processes, --input-shape, a model that
fails to load is a row; the zoo's SqueezeNet re-symbolised is checked on onnxruntime."""

from __future__ import annotations

import json
import os
import shutil

import onnx
import pytest
from click.testing import CliRunner

import graphshape
from graphshape.cli import main
from graphshape.fleet.run import input_shape_dims

from .conftest import assert_agrees

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


@pytest.fixture()
def tree(tmp_path, toy_path):
    (tmp_path / "sub").mkdir()
    shutil.copy(toy_path, tmp_path / "toy.onnx")
    shutil.copy(os.path.join(LIGHT, "light_squeezenet.onnx"), tmp_path / "sub" / "sq.onnx")
    (tmp_path / "sub" / "bad.onnx").write_bytes(b"\x08\x07garbage")
    (tmp_path / "sub" / "notes.txt").write_text("not a model")
    return tmp_path


def test_directory_audit_in_parallel(tree):
    r = CliRunner().invoke(main, ["audit", str(tree), "-j", "2", "-q",
                                  "--input-shape", "data_0:1,3,H,W", "--format", "json"])
    assert r.exit_code == 3, r.output  # one model cannot be read: the audit is incomplete
    rows = {os.path.basename(m["path"]): m for m in json.loads(r.output)["models"]}
    assert set(rows) == {"toy.onnx", "sq.onnx", "bad.onnx"}
    assert rows["bad.onnx"]["error"] and "bad.onnx" in rows["bad.onnx"]["error"]
    assert rows["sq.onnx"]["domain"] == "any H >= 23; any W >= 23"
    assert rows["toy.onnx"]["exact"] and "251 <= H <= 258" in rows["toy.onnx"]["domain"]


def test_squeezenet_domain_agrees_with_onnxruntime():
    path = os.path.join(LIGHT, "light_squeezenet.onnx")
    a = graphshape.analyze(path, dims=input_shape_dims("1,3,H,W", ["data_0"]))
    assert str(a.domain) == "any H >= 23; any W >= 23"
    assert_agrees(a, [{"H": 22, "W": 224}, {"H": 23, "W": 23}, {"H": 23, "W": 22},
                      {"H": 40, "W": 31}])


@pytest.mark.parametrize("spec,names,expect", [
    ("1,3,H,W", ["x"], ["x:2=H", "x:3=W"]),
    ("img:N,3,H,W", ["x", "img"], ["img:0=N", "img:2=H", "img:3=W"]),
])
def test_input_shape_specs(spec, names, expect):
    assert input_shape_dims(spec, names) == expect


def test_bad_input_shape_is_a_usage_error(tree):
    r = CliRunner().invoke(main, ["audit", str(tree / "toy.onnx"), "--input-shape", "1,3,H-1,W"])
    assert r.exit_code == 2 and "bad --input-shape" in r.output


def test_markdown_audit_one_row_per_model(tree):
    r = CliRunner().invoke(main, ["audit", str(tree), "-q", "--format", "markdown"])
    body = [ln for ln in r.output.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    assert len(body) == 3 and any("error:" in ln for ln in body)
