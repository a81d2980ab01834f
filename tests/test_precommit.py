"""The pre-commit hook script, run as pre-commit runs it (changed files as arguments) and
as a plain git hook (staged files), on a temporary git repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import graphshape

from .conftest import ROOT, assert_agrees
from .test_testing import _model

PYPROJECT = """[project]
name = "demo"

[tool.graphshape.require]
"models/toy*.onnx" = "H = 256, W = 256"
"models/m*.onnx" = "{m}"
"""


def _run(repo, *files):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "graphshape.precommit", *files], cwd=repo,
                          capture_output=True, text=True, env=env, timeout=300)


def _repo(tmp_path, toy_path, m_contract):
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    shutil.copy(toy_path, repo / "models" / "toy.onnx")
    _model(repo / "models" / "m.onnx")
    (repo / "models" / "other.onnx").write_bytes(b"not a model, and no glob matches it")
    (repo / "pyproject.toml").write_text(PYPROJECT.format(m=m_contract))
    return repo


def test_the_hook_passes_when_every_contract_is_included(tmp_path, toy_path):
    repo = _repo(tmp_path, toy_path, "H in 3..64, W in 8..9")
    r = _run(repo, "models/toy.onnx", "models/m.onnx", "models/other.onnx", "README.md")
    assert r.returncode == 0, r.stderr
    assert "models/m.onnx: require 'H in 3..64, W in 8..9' (from 'models/m*.onnx'): " \
           "included: every required size is valid (124 sizes" in r.stdout
    assert "models/toy.onnx: require 'H = 256, W = 256'" in r.stdout
    assert "other.onnx" not in r.stdout + r.stderr


def test_the_hook_fails_with_the_sizes_the_nodes_and_the_reasons(tmp_path, toy_path):
    repo = _repo(tmp_path, toy_path, "H in 3..64, W in 8..10")
    r = _run(repo, "models/m.onnx", "models/toy.onnx")
    assert r.returncode == 1
    err = r.stderr
    assert "models/m.onnx: require 'H in 3..64, W in 8..10' (from 'models/m*.onnx'): " \
           "not included: 62 of 186 required sizes are invalid" in err
    assert re.search(r"H=3, W=10\n\s+Concat \(node 'cat'\): ", err), err
    assert err.rstrip().endswith("graphshape: 1 model file do not meet their size contract")
    assert_agrees(graphshape.analyze(str(repo / "models" / "m.onnx")),
                  [{"H": 3, "W": 10}, {"H": 3, "W": 9}])


def test_as_a_git_hook_it_checks_the_staged_files(tmp_path, toy_path):
    repo = _repo(tmp_path, toy_path, "W = 10")
    assert _run(repo).returncode == 0  # nothing staged
    subprocess.run(["git", "add", "models/m.onnx"], cwd=repo, check=True)
    r = _run(repo)
    assert r.returncode == 1 and "models/m.onnx" in r.stderr and "toy" not in r.stderr


def test_a_bad_configuration_is_one_line_and_exit_2(tmp_path, toy_path):
    repo = _repo(tmp_path, toy_path, "H in 3..64")
    (repo / "pyproject.toml").write_text("[tool.graphshape]\nallow_unproven = true\n")
    r = _run(repo, "models/m.onnx")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "no [tool.graphshape.require] table" in r.stderr
    (repo / "pyproject.toml").write_text(PYPROJECT.format(m="X in 1..3"))
    r = _run(repo, "models/m.onnx")
    assert r.returncode == 1 and "unknown dim 'X'" in r.stderr and "Traceback" not in r.stderr


def test_the_hook_manifest_runs_the_console_script():
    text = open(os.path.join(ROOT, ".pre-commit-hooks.yaml")).read()
    assert "- id: graphshape-check" in text and "entry: graphshape-precommit" in text
    assert "files: \\.onnx$" in text and "language: python" in text


def _readme_block(lang: str, marker: str) -> str:
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    found = [b for b in re.findall(rf"```{lang}\n(.*?)```", text, re.S) if marker in b]
    assert len(found) == 1, f"README.md has {len(found)} ```{lang} blocks with {marker!r}"
    return found[0]


def test_the_readme_configuration_works_as_shown(tmp_path, toy_path):
    """The README's pre-commit and pyproject.toml blocks, as written, on a temporary repo:
    the toy meets 'H = 256, W = 256'; the same file as a detector fails 'H in 320..640,
    W = H' (onnxruntime agrees at the first failing size), named with its contract."""
    assert "id: graphshape-check" in _readme_block("yaml", ".pre-commit-config.yaml")
    cfg = _readme_block("toml", "[tool.graphshape.require]")
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / "zoo").mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "pyproject.toml").write_text('[project]\nname = "demo"\n\n' + cfg)
    shutil.copy(toy_path, repo / "models" / "toy.onnx")
    r = _run(repo, "models/toy.onnx")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "models/toy.onnx: require 'H = 256, W = 256'" in r.stdout
    shutil.copy(toy_path, repo / "models" / "detector.onnx")
    r = _run(repo, "models/toy.onnx", "models/detector.onnx")
    assert r.returncode == 1, r.stdout + r.stderr
    m = re.search(r"models/detector\.onnx: require 'H in 320\.\.640, W = H' "
                  r"\(from 'models/detector\*\.onnx'\): not included: .*?\n"
                  r"\s+first failing sizes:\n\s+H=(\d+), W=(\d+)\n\s+Gemm \(node ", r.stderr)
    assert m, r.stderr
    h = int(m.group(1))
    assert_agrees(graphshape.analyze(str(repo / "models" / "detector.onnx")),
                  [{"H": h, "W": h}, {"H": 256, "W": 256}])
