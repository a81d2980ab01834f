"""The export hook: export with symbolic dims, analyse, compare with torch.export, detect
pinned dims, and fail the pipeline on a required size outside the domain. Every claim is
checked on onnxruntime (and, for torch.export's side, on the exported program)."""

from __future__ import annotations

import os

import onnx
import pytest
import torch  # the torch extra is part of `make test`
from torch import nn

from graphshape.errors import UsageError
from graphshape.export import (
    ExportError,
    InvalidSizes,
    PinnedDimError,
    check_required,
    export,
    export_model,
)
from models import toy

from .conftest import assert_agrees


def _toy(tmp_path, **kw):
    kw.setdefault("dynamo", False)
    return export(toy.build_module(), (torch.randn(1, 3, 256, 256),), str(tmp_path / "toy.onnx"),
                  dims={"x": {2: "H", 3: "W"}}, **kw)


def _input_dims(path):
    m = onnx.load(str(path), load_external_data=False)
    return [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]


def test_export_is_the_same_function():
    assert export is export_model


def test_required_sizes_inside_the_domain_pass(tmp_path):
    a = _toy(tmp_path, require=["H=256,W=256", {"H": 512, "W": 128}])
    assert _input_dims(tmp_path / "toy.onnx") == [1, 3, "H", "W"]
    assert a.graph.path == str(tmp_path / "toy.onnx")
    assert a.domain.contains({"H": 256, "W": 256})
    # torch.export's guards (h*w == 1024 after the features, and its 0/1 specialisation
    # guards) compared with the file's domain: the same set on the compared box
    assert a.export_report.torch is not None and a.export_report.torch.same, \
        str(a.export_report)
    assert_agrees(a, [{"H": 256, "W": 256}, {"H": 512, "W": 128}, {"H": 300, "W": 300}])
    ep = torch.export.export(toy.build_module(), (torch.randn(1, 3, 256, 256),),
                             dynamic_shapes={"x": {2: torch.export.Dim.AUTO,
                                                   3: torch.export.Dim.AUTO}}, strict=False)
    ep.module()(torch.randn(1, 3, 512, 128))
    with pytest.raises(Exception, match="Guard failed"):
        ep.module()(torch.randn(1, 3, 300, 300))


def test_a_required_size_outside_raises_invalid_sizes_and_keeps_the_file(tmp_path):
    with pytest.raises(InvalidSizes) as e:
        _toy(tmp_path, require=["H=256,W=256", "H=300,W=300"], compare_torch=False)
    msg = str(e.value)
    assert "1 required size not valid: H=300, W=300 is invalid: " in msg
    assert "Gemm (node '/head/head.0/Gemm')" in msg and "\n" not in msg
    f = e.value.failures[0]
    assert e.value.exit_code == 1 and f.verdict == "invalid" and f.sizes == {"H": 300, "W": 300}
    assert f.reasons[0][:2] == ("Gemm", "/head/head.0/Gemm")
    assert os.listdir(tmp_path) == ["toy.onnx"]  # written, no temporary left
    assert_agrees(e.value.analysis, [{"H": 300, "W": 300}, {"H": 256, "W": 256}])


def test_keep_on_failure_false_leaves_nothing(tmp_path):
    with pytest.raises(InvalidSizes):
        _toy(tmp_path, require="H=300,W=300", keep_on_failure=False, compare_torch=False)
    assert os.listdir(tmp_path) == []


def test_check_required_names_every_failing_size(tmp_path):
    a = _toy(tmp_path, compare_torch=False)
    with pytest.raises(InvalidSizes) as e:
        check_required(a, ["H=300,W=300", "H=256,W=256", "H=100,W=100"])
    assert [f.sizes for f in e.value.failures] == [{"H": 300, "W": 300}, {"H": 100, "W": 100}]
    assert str(e.value).startswith("2 required sizes not valid")
    with pytest.raises(UsageError):
        check_required(a, "H=abc")


class _AdaptiveHead(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c = nn.Conv2d(3, 4, 3, padding=1)
        self.p = nn.AdaptiveAvgPool2d(2)
        self.l = nn.Linear(16, 2)

    def forward(self, x):
        return self.l(torch.flatten(self.p(self.c(x)), 1))


def _auto(m, x):
    return torch.export.export(m, (x,), dynamic_shapes={
        "x": {2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO}}, strict=False).module()


def test_pytorch_accepts_sizes_the_onnx_file_rejects(tmp_path):
    """dynamo lowers the adaptive pool to a fixed AveragePool (kernel 4 at the 8x8 example):
    PyTorch accepts H=W=2, the file does not. Both sides are run: onnxruntime for the file,
    the exported program for torch.export."""
    m = _AdaptiveHead().eval()
    a = export(m, (torch.randn(1, 3, 8, 8),), str(tmp_path / "ad.onnx"),
               dims={"x": {2: "H", 3: "W"}}, dynamo=True)
    cmp = a.export_report.torch
    assert cmp is not None and cmp.torch_only is not None and cmp.onnx_only is None
    (_, why), = [e for e in cmp.torch_only.examples if e[0] == {"H": 1, "W": 1}]
    assert "Gemm" in why
    assert "PyTorch (torch.export) accepts but the ONNX file rejects" in str(a.export_report)
    assert_agrees(a, [{"H": 1, "W": 1}, {"H": 2, "W": 2}, {"H": 8, "W": 8}, {"H": 12, "W": 8}])
    _auto(m, torch.randn(1, 3, 8, 8))(torch.randn(1, 3, 1, 1))
    _auto(m, torch.randn(1, 3, 8, 8))(torch.randn(1, 3, 12, 8))


class _TwoStrides(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.l = nn.Linear(4, 2)

    def forward(self, x):
        return self.l(self.c2(self.c(x)).mean((2, 3)))


def test_the_onnx_file_accepts_sizes_torch_export_rejects(tmp_path):
    """torch.export specialises size-1 intermediate maps away: its guards refuse H <= 4 and
    W <= 4, which the file (any size) accepts."""
    m = _TwoStrides().eval()
    x = torch.randn(1, 3, 16, 16)
    a = export(m, (x,), str(tmp_path / "m.onnx"), dims={"x": {2: "H", 3: "W"}}, dynamo=True)
    cmp = a.export_report.torch
    assert cmp.torch_only is None and cmp.onnx_only is not None
    assert "H <= 4" in cmp.onnx_only.text
    assert all("torch.export guard fails" in why for _, why in cmp.onnx_only.examples)
    assert "the ONNX file accepts but PyTorch (torch.export) rejects" in str(a.export_report)
    assert_agrees(a, [{"H": 1, "W": 1}, {"H": 4, "W": 16}, {"H": 5, "W": 5}])
    prog = _auto(m, x)
    prog(torch.randn(1, 3, 5, 5))
    for hw in [(1, 1), (4, 16), (16, 3)]:
        with pytest.raises(Exception, match="Guard failed"):
            prog(torch.randn(1, 3, *hw))


def test_a_named_dim_specialised_by_torch_export_is_pinned(tmp_path):
    """torch.export with Dim("H") silently specialises a ViT to 224x224."""
    from torch.export import Dim

    from models.vision import _module

    with pytest.raises(PinnedDimError) as e:
        export(_module("vit_tiny"), (torch.randn(1, 3, 224, 224),), str(tmp_path / "vit.onnx"),
               dims={"x": {2: Dim("H", min=16, max=4096), 3: Dim("W", min=16, max=4096)}},
               dynamo=True, compare_torch=False)
    msg = str(e.value)
    assert "H (input 'x' axis 2) is pinned to 224" in msg and "W (input 'x' axis 3)" in msg
    assert "Dim.AUTO" in msg and "dynamo=False" in msg
    assert [(p.symbol, p.value) for p in e.value.pinned] == [("H", 224), ("W", 224)]
    assert os.path.exists(tmp_path / "vit.onnx")  # keep_on_failure defaults to True


def test_the_onnx_file_accepts_sizes_the_vit_refuses(tmp_path):
    """torchvision's ViT checks H == W == 224 in Python (torch._assert); the TorchScript
    export drops the check, and the file accepts every size with 196 patches (448x112, ...).
    torch.export specialises to 224, so the hook reports the sizes only the file accepts."""
    from models.vision import _module

    vit = _module("vit_tiny")
    a = export(vit, (torch.randn(1, 3, 224, 224),), str(tmp_path / "v.onnx"),
               dims={"x": {2: "H", 3: "W"}}, dynamo=False)
    cmp = a.export_report.torch
    assert cmp.torch_only is None and cmp.onnx_only is not None
    assert "torch.export guard fails: H == 224" in str(a.export_report) or \
        "torch.export range: H = 224" in str(a.export_report)
    assert not a.export_report.pinned  # H and W are not single-valued in the file
    assert a.domain.contains({"H": 448, "W": 112})
    assert_agrees(a, [{"H": 224, "W": 224}, {"H": 448, "W": 112}, {"H": 240, "W": 224}])
    with pytest.raises(Exception):  # noqa: B017  torch raises several error types here
        vit(torch.randn(1, 3, 448, 112))


class _Cat(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1, 2, 8))

    def forward(self, x):
        return torch.cat([x, self.p], dim=1)


def test_a_size_the_model_itself_fixes_is_reported_not_raised(tmp_path):
    """The Concat with an 8-wide parameter fixes S to 8 in PyTorch too (torch.export
    specialises it): the model, not the exporter, is the cause, so the hook reports it."""
    a = export(_Cat(), (torch.randn(1, 3, 8),), str(tmp_path / "c.onnx"),
               dims={"x": {2: "S"}}, dynamo=False)
    (pin,) = a.export_report.pinned
    assert (pin.symbol, pin.value, pin.exporter_fault) == ("S", 8, False)
    assert pin.node and "Concat" in pin.text()
    assert "the model itself accepts only this size" in pin.text()
    assert "pinned: S (input 'x' axis 2) is pinned to 8 by node" in str(a.export_report)
    assert_agrees(a, [{"S": 8}, {"S": 7}, {"S": 9}])


def test_verify_runs_onnxruntime_at_the_edges(tmp_path):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.MaxPool2d(2)).eval()
    a = export(m, (torch.randn(1, 3, 16, 16),), str(tmp_path / "v.onnx"),
               dims={"input": {2: "H", 3: "W"}}, dynamo=False, verify=True,
               compare_torch=False)
    rep = a.export_report.verification
    assert rep.ok and len(rep.compared) >= 10
    assert "verified: " in str(a.export_report)


def test_bad_dims_are_one_line_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="dims names input 'y'; the inputs are x"):
        export(_AdaptiveHead(), (torch.randn(1, 3, 8, 8),), str(tmp_path / "m.onnx"),
               dims={"y": {2: "H"}})
    with pytest.raises(UsageError, match="no axis 7"):
        export(_AdaptiveHead(), (torch.randn(1, 3, 8, 8),), str(tmp_path / "m.onnx"),
               dims={"x": {7: "H"}})
    assert os.listdir(tmp_path) == []


def test_an_exporter_failure_is_one_line(tmp_path):
    """The TorchScript exporter cannot export an adaptive pool at a symbolic size."""
    with pytest.raises(ExportError) as e:
        export(_AdaptiveHead().eval(), (torch.randn(1, 3, 8, 8),), str(tmp_path / "m.onnx"),
               dims={"x": {2: "H", 3: "W"}}, dynamo=False)
    assert str(e.value).startswith("torch.onnx.export failed:") and "\n" not in str(e.value)
    assert os.listdir(tmp_path) == []
