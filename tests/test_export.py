"""The export pipeline hook: export with symbolic dims, analyse, fail on a required size."""

from __future__ import annotations

import os

import pytest

import torch  # the torch extra is part of `make test`

from graphshape.export import ExportError, RequiredSizeError, export_and_check  # noqa: E402
from models import toy  # noqa: E402

from .conftest import assert_agrees  # noqa: E402


def _export(tmp_path, **kw):
    model = toy.build_module()
    x = torch.randn(1, 3, 256, 256)
    return export_and_check(model, (x,), str(tmp_path / "toy.onnx"), input_names=["input"],
                            output_names=["logits"],
                            dynamic_axes={"input": {2: "H", 3: "W"}}, **kw)


def test_required_sizes_inside_the_domain_pass(tmp_path):
    a = _export(tmp_path, require=[{"H": 256, "W": 256}, "H=512,W=128"])
    assert os.path.exists(tmp_path / "toy.onnx")
    assert a.domain.contains({"H": 256, "W": 256})
    assert_agrees(a, [{"H": 256, "W": 256}, {"H": 512, "W": 128}, {"H": 300, "W": 300}])


def test_a_required_size_outside_fails_the_pipeline(tmp_path):
    with pytest.raises(RequiredSizeError) as e:
        _export(tmp_path, require=["H=300,W=300"])
    assert "Gemm (node '/head/head.0/Gemm')" in str(e.value)
    assert e.value.exit_code == 1 and e.value.failures[0][1] == "invalid"
    # nothing is left behind: no model file, no temporary file
    assert os.listdir(tmp_path) == []


def test_a_dim_fixed_by_the_exporter_is_reported(tmp_path):
    """torch.export with named Dim("H") silently specialises a ViT to 224x224: the hook says
    so instead of shipping a model that only accepts one size."""
    from torch.export import Dim

    from models.vision import _module

    vit = _module("vit_tiny")
    x = torch.randn(1, 3, 224, 224)
    with pytest.raises(ExportError) as e:
        export_and_check(vit, (x,), str(tmp_path / "vit.onnx"), input_names=["input"],
                         dynamo=True, dynamic_shapes=({2: Dim("H", min=16, max=4096),
                                                       3: Dim("W", min=16, max=4096)},))
    msg = str(e.value)
    assert "fixed input 'input' axes [2, 3] to [224, 224]" in msg and "declared dynamic" in msg
    assert not (tmp_path / "vit.onnx").exists()
