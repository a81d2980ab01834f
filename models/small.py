"""Small hand-written corpus models (random weights, fast on onnxruntime).

unet          4 levels of MaxPool 2 / ConvTranspose stride 2 with skip concats, channels
              8-16-32-64-128: the skips meet only when H and W are multiples of 16
fpn           stride-2 3x3 convs to C2..C5, 1x1 laterals, nearest 2x upsampling added to the
              laterals: multiples of 32, plus the small sizes broadcasting lets through
reshape_head  the failure from the field: a conv backbone (stride 16, 252 channels) whose
              map is reshaped with view(2, -1, 91, 168, 96); at 256x256 the map holds 64512
              values and onnxruntime says "shape '[2, -1, 91, 168, 96]' is invalid for input
              of size 64512". Valid only when h*w is a multiple of 11648 (h, w: map sizes)
bert_tiny     token + position embeddings (512 positions), 2 encoder layers, hidden 32,
              input_ids int64 [1, S]: position ids are a slice of a 512-long buffer
"""

from __future__ import annotations

import itertools
import math

from ._export import cached, export


def _unet():
    import torch
    from torch import nn

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(o, o, 3, padding=1), nn.ReLU())

    class UNet(nn.Module):
        def __init__(self, ch=(8, 16, 32, 64, 128)):
            super().__init__()
            self.down = nn.ModuleList()
            c_in = 3
            for c in ch[:-1]:
                self.down.append(block(c_in, c))
                c_in = c
            self.pool = nn.MaxPool2d(2)
            self.bottom = block(ch[-2], ch[-1])
            self.up = nn.ModuleList()
            self.dec = nn.ModuleList()
            for hi, lo in zip(ch[::-1][:-1], ch[::-1][1:]):
                self.up.append(nn.ConvTranspose2d(hi, lo, 2, stride=2))
                self.dec.append(block(2 * lo, lo))
            self.out = nn.Conv2d(ch[0], 2, 1)

        def forward(self, x):
            skips = []
            for d in self.down:
                x = d(x)
                skips.append(x)
                x = self.pool(x)
            x = self.bottom(x)
            for up, dec, s in zip(self.up, self.dec, skips[::-1]):
                x = dec(torch.cat([up(x), s], dim=1))
            return self.out(x)

    return UNet()


def _fpn():
    import torch.nn.functional as F
    from torch import nn

    class FPN(nn.Module):
        def __init__(self, ch=(8, 16, 24, 32, 48), out=16):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, ch[0], 3, stride=2, padding=1), nn.ReLU())
            self.stages = nn.ModuleList(
                nn.Sequential(nn.Conv2d(a, b, 3, stride=2, padding=1), nn.ReLU())
                for a, b in itertools.pairwise(ch))  # C2 (stride 4) .. C5 (stride 32)
            self.lateral = nn.ModuleList(nn.Conv2d(c, out, 1) for c in ch[1:])
            self.smooth = nn.ModuleList(nn.Conv2d(out, out, 3, padding=1) for _ in ch[1:])

        def forward(self, x):
            x = self.stem(x)
            feats = []
            for s in self.stages:
                x = s(x)
                feats.append(x)
            lat = [lat(f) for lat, f in zip(self.lateral, feats)]
            p = lat[-1]
            outs = [p]
            for lf in lat[-2::-1]:
                p = lf + F.interpolate(p, scale_factor=2.0, mode="nearest")
                outs.append(p)
            outs = [sm(o) for sm, o in zip(self.smooth, outs[::-1])]
            return tuple(outs)  # p2, p3, p4, p5

    return FPN()


def _reshape_head():
    from torch import nn

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(
                nn.Conv2d(3, 16, 3, stride=4, padding=1), nn.ReLU(),
                nn.Conv2d(16, 252, 3, stride=4, padding=1))

        def forward(self, x):
            return self.backbone(x).view(2, -1, 91, 168, 96)

    return Head()


def _bert(vocab=1000, hidden=32, heads=2, layers=2, max_pos=512):
    import torch
    from torch import nn

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.proj = nn.Linear(hidden, hidden)
            self.ln1 = nn.LayerNorm(hidden)
            self.ff = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(),
                                    nn.Linear(4 * hidden, hidden))
            self.ln2 = nn.LayerNorm(hidden)

        def forward(self, x):
            b, s, _ = x.shape
            q, k, v = self.qkv(x).split(hidden, dim=-1)
            d = hidden // heads
            q, k, v = (t.reshape(b, s, heads, d).transpose(1, 2) for t in (q, k, v))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
            y = (att @ v).transpose(1, 2).reshape(b, s, hidden)
            x = self.ln1(x + self.proj(y))
            return self.ln2(x + self.ff(x))

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, hidden)
            self.pos = nn.Embedding(max_pos, hidden)
            self.register_buffer("position_ids", torch.arange(max_pos).unsqueeze(0),
                                 persistent=False)
            self.ln = nn.LayerNorm(hidden)
            self.layers = nn.ModuleList(Layer() for _ in range(layers))

        def forward(self, input_ids):
            s = input_ids.shape[1]
            x = self.tok(input_ids) + self.pos(self.position_ids[:, :s])
            x = self.ln(x)
            for layer in self.layers:
                x = layer(x)
            return x

    return Bert()


# name -> (module factory, example input factory, input name, output names, axes)
def _spec(name):
    import torch

    if name == "unet":
        return _unet, lambda n: torch.randn(n, 3, 64, 64), "input", ["mask"], "NHW"
    if name == "fpn":
        return (_fpn, lambda n: torch.randn(n, 3, 128, 128), "input",
                ["p2", "p3", "p4", "p5"], "NHW")
    if name == "reshape_head":
        # the one kind of size the view accepts at export: 1792x1664 -> map 112x104
        return (_reshape_head, lambda n: torch.randn(1, 3, 1792, 1664), "input", ["out"],
                "HW")
    if name == "bert_tiny":
        return (_bert, lambda n: torch.zeros(1, 16, dtype=torch.int64), "input_ids",
                ["hidden"], "S")
    raise KeyError(name)


def build(out_dir: str, name: str, *, dynamo: bool = False) -> str:
    import torch

    path, hit = cached(out_dir, name + ("_dynamo" if dynamo else "_ts"))
    if hit:
        return path
    factory, example, in_name, out_names, axes = _spec(name)
    torch.manual_seed(0)
    module = factory().eval()
    x = example(2 if dynamo else 1)
    if axes == "S":
        ts_axes = {1: "S"}
    else:
        ts_axes = {2: "H", 3: "W"}
        if "N" in axes:
            ts_axes[0] = "N"
    if dynamo:
        from torch.export import Dim

        return export(module, (x,), path, dynamo=True, input_names=[in_name],
                      output_names=out_names,
                      dynamic_shapes=({k: Dim.AUTO for k in ts_axes},))
    out_axes = {o: {0: "N"} for o in out_names} if "N" in axes else {}
    return export(module, (x,), path, dynamo=False, input_names=[in_name],
                  output_names=out_names, dynamic_axes={in_name: ts_axes, **out_axes})
