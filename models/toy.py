"""The first model users bring us: a classifier head that only fits one size.

Conv(3,16,3,s2,p1) -> ReLU -> MaxPool(2,2) -> Conv(16,32,3,s2,p1) -> flatten ->
Linear(32*32*32,128) -> Linear(128,10), built for 256x256 inputs, batch fixed at 1,
H and W symbolic. Flatten couples H and W: the head needs h*w == 1024.
"""

from __future__ import annotations

import os


def build_module():
    import torch
    from torch import nn

    torch.manual_seed(0)

    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 16, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2, 2),
                nn.Conv2d(16, 32, 3, stride=2, padding=1),
            )
            self.head = nn.Sequential(nn.Linear(32 * 32 * 32, 128), nn.Linear(128, 10))

        def forward(self, x):
            return self.head(torch.flatten(self.features(x), 1))

    return Toy().eval()


def build(out_dir: str, dynamo: bool = False) -> str:
    """Export the toy to ``out_dir``/toy[_dynamo].onnx and return the path."""
    import torch

    path = os.path.join(out_dir, "toy_dynamo.onnx" if dynamo else "toy.onnx")
    if os.path.exists(path):
        return path
    os.makedirs(out_dir, exist_ok=True)
    model = build_module()
    x = torch.randn(1, 3, 256, 256)
    tmp = path + ".tmp"
    if dynamo:
        from torch.export import Dim

        torch.onnx.export(model, (x,), tmp, dynamo=True, input_names=["input"],
                          output_names=["logits"],
                          dynamic_shapes={"x": {2: Dim.AUTO, 3: Dim.AUTO}})
    else:
        torch.onnx.export(model, (x,), tmp, dynamo=False, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {2: "H", 3: "W"}},
                          opset_version=17)
    os.replace(tmp, path)
    return path
