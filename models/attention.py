"""An opset-23 attention block from torch's dynamo exporter (issue 9): Linear q/k/v
projections, a head split (view + transpose), F.scaled_dot_product_attention (causal), the
heads merged back and an output Linear; input [2, S, 32], S symbolic. At opset 23 the
dynamo exporter writes the ONNX Attention op for scaled_dot_product_attention."""

from __future__ import annotations

import os
import time

from ._export import _write_stats, cached


def _block(hidden=32, heads=4):
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v = (nn.Linear(hidden, hidden) for _ in range(3))
            self.o = nn.Linear(hidden, hidden)

        def forward(self, x):
            b, s, _ = x.shape

            def split(t):
                return t.view(b, s, heads, hidden // heads).transpose(1, 2)

            y = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)),
                                               split(self.v(x)), is_causal=True)
            return self.o(y.transpose(1, 2).reshape(b, s, hidden))

    torch.manual_seed(0)
    return Block().eval()


def build(out_dir: str, name: str = "attention_opset23") -> str:
    path, done = cached(out_dir, name)
    if done:
        return path
    import torch
    from torch.export import Dim

    tmp = path + ".tmp"
    t0 = time.perf_counter()
    with torch.no_grad():
        prog = torch.onnx.export(_block(), (torch.randn(2, 7, 32),), dynamo=True,
                                 opset_version=23, input_names=["x"], output_names=["y"],
                                 dynamic_shapes=({1: Dim("S")},), verbose=False)
    prog.save(tmp, external_data=False)
    _write_stats(tmp, path, time.perf_counter() - t0, "dynamo")
    os.replace(tmp, path)
    return path
