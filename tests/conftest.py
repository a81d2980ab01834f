"""Shared fixtures: the model cache, one-node models from ONNX text, onnxruntime checks."""

from __future__ import annotations

import os
import sys

import onnx
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import graphshape  # noqa: E402
import graphshape.rules  # noqa: E402, F401  (tests that walk graphs without analyze())
from graphshape.runtime.verify import verify  # noqa: E402
from models import registry  # noqa: E402


@pytest.fixture(scope="session")
def model_cache():
    return registry.DEFAULT_CACHE


@pytest.fixture(scope="session")
def toy_path(model_cache):
    return registry.build("toy", model_cache)


def text_model(text: str, path: str) -> str:
    """Parse ONNX text syntax, check it, save it (ir_version <= 13 for onnxruntime)."""
    m = onnx.parser.parse_model(text)
    if m.ir_version > 10:
        m.ir_version = 10
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return path


def assert_agrees(analysis, points):
    """Run onnxruntime at ``points`` and require total agreement with the prediction."""
    rep = verify(analysis, points, timeout=60, providers=["CPUExecutionProvider"])
    bad = [(v.sizes, v.predicted, v.observed, v.detail) for v in rep.disagreements]
    assert not bad, f"graphshape and onnxruntime disagree: {bad[:5]}"
    compared = rep.compared
    assert compared, "no point was compared"
    return rep


def processes_with(text: str) -> list:
    """The pids of the processes whose command line holds ``text`` (a model's path)."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        out.append(int(pid))
            except OSError:
                pass
    return out


__all__ = ["text_model", "assert_agrees", "graphshape", "processes_with"]
