"""torchvision classifiers and detectors, random weights (weights=None), symbolic sizes.

resnet50            as shipped: AdaptiveAvgPool2d(1) before fc, so any large-enough size runs
resnet50_avgpool7   the old ResNet head: nn.AvgPool2d(7) (stride 7) + flatten + fc(2048):
                    the fc pins the final map to a 1x1 pool output, i.e. a range of sizes
mobilenet_v3_small  adaptive pool head (hard-swish, squeeze-excitation)
vgg11               AdaptiveAvgPool2d(7) + flatten + classifier; the dynamo exporter lowers the
                    adaptive pool to a fixed AveragePool traced at 224 (a pinned range)
vit_b_16, vit_tiny  patch 16 and a fixed 197-token position embedding
fasterrcnn          fasterrcnn_resnet50_fpn, eval mode, list-of-images input [3, H, W]

TorchScript exports name the axes N, H, W; dynamo exports use Dim.AUTO (batch example 2,
so the batch is not specialised to 1) unless the builder says otherwise.
"""

from __future__ import annotations

from ._export import cached, export


def _module(name: str):
    import torch
    import torchvision
    from torch import nn

    torch.manual_seed(0)
    if name == "resnet50":
        m = torchvision.models.resnet50(weights=None)
    elif name == "resnet50_avgpool7":
        m = torchvision.models.resnet50(weights=None)
        m.avgpool = nn.AvgPool2d(7)  # the pre-2017 head: kernel 7, stride 7, no padding
    elif name == "mobilenet_v3_small":
        m = torchvision.models.mobilenet_v3_small(weights=None)
    elif name == "vgg11":
        m = torchvision.models.vgg11(weights=None)
    elif name == "vit_b_16":
        m = torchvision.models.vit_b_16(weights=None)
    elif name == "vit_tiny":
        m = torchvision.models.VisionTransformer(image_size=224, patch_size=16, num_layers=2,
                                                 num_heads=2, hidden_dim=64, mlp_dim=128)
    else:
        raise KeyError(name)
    return m.eval()


def build_classifier(out_dir: str, name: str, *, dynamo: bool = False, batch: bool = True,
                     named_dims: bool = False, fixed_hw: bool = False) -> str:
    """Export a classifier with input 'input' [N, 3, H, W] (N fixed to 1 when not batch).

    ``named_dims`` (dynamo only): Dim("H"), Dim("W") instead of Dim.AUTO; torch.export
    then specialises where the model asserts a size (ViT) and the export keeps 224.
    ``fixed_hw`` (TorchScript only): H, W fixed at 224, as zoo models ship (the TorchScript
    exporter cannot export AdaptiveAvgPool2d(7) with symbolic H, W: "input size not
    accessible"); analyse it with dims={"input:2": "H", "input:3": "W"}."""
    import torch

    suffix = ("_dynamo_named" if named_dims else "_dynamo") if dynamo else "_ts"
    path, hit = cached(out_dir, name + suffix)
    if hit:
        return path
    module = _module(name)
    n = 2 if (dynamo and batch) else 1
    x = torch.randn(n, 3, 224, 224)
    if dynamo:
        from torch.export import Dim

        if named_dims:
            spec = {2: Dim("H", min=16, max=4096), 3: Dim("W", min=16, max=4096)}
        else:
            spec = {2: Dim.AUTO, 3: Dim.AUTO}
        if batch:
            spec[0] = Dim.AUTO
        return export(module, (x,), path, dynamo=True, input_names=["input"],
                      output_names=["logits"], dynamic_shapes=(spec,))
    axes = {} if fixed_hw else {2: "H", 3: "W"}
    if batch:
        axes[0] = "N"
    return export(module, (x,), path, dynamo=False, input_names=["input"],
                  output_names=["logits"], dynamic_axes={"input": axes, "logits": {0: "N"}}
                  if batch else {"input": axes})


def build_fasterrcnn(out_dir: str) -> str:
    """fasterrcnn_resnet50_fpn (weights=None, weights_backbone=None), eval, TorchScript
    exporter, one image [3, H, W] as torchvision's ONNX export tests do. The model resizes
    the image inside (GeneralizedRCNNTransform: min side 800, max side 1333)."""
    import torch
    import torchvision

    path, hit = cached(out_dir, "fasterrcnn_ts")
    if hit:
        return path
    torch.manual_seed(0)
    m = torchvision.models.detection.fasterrcnn_resnet50_fpn(
        weights=None, weights_backbone=None).eval()
    x = torch.rand(3, 320, 480)
    return export(m, ([x],), path, dynamo=False, input_names=["image"],
                  output_names=["boxes", "labels", "scores"],
                  dynamic_axes={"image": {1: "H", 2: "W"}, "boxes": {0: "D"},
                                "labels": {0: "D"}, "scores": {0: "D"}}, opset=17)
