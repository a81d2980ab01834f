"""Transformer-style corpus models whose size limits come from shape arithmetic
(issue 9). Plain torch modules, random weights, nothing downloaded.

gpt2_tiny     a GPT-2-style causal LM: token embedding, a 40-row learned position table
              indexed by arange(S) (Range(0, S) then Gather), a causal mask built from S
              (arange comparisons), 2 pre-LN blocks, tied LM head; input_ids int64 [1, S].
              Valid exactly for 1 <= S <= 40: position 40 has no row.
window_attn   a Swin-like window-attention block: a stride-4 patch embedding, the map padded
              to a multiple of the window w = 4 with pad = (w - h % w) % w computed from the
              shape and fed to F.pad, windows partitioned with view/permute, attention inside
              each window, windows merged back and the padding cut off; input [1, 3, H, W].
tf_same_pad   TensorFlow-style "same" padding computed from x.shape (k = 3, s = 2) and fed to
              F.pad, then a stride-2 Conv: the TorchScript exporter writes float Mul/Add/Sub
              of Shape values, a Clip at 0, Div by 2, Cast to int64 and F.pad's
              ConstantOfShape / Concat / Reshape [-1, 2] / Slice step -1 / Transpose.
"""

from __future__ import annotations

import math

from ._export import cached, export


def _gpt2(vocab=100, hidden=32, heads=2, layers=2, n_pos=40):
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(hidden)
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.proj = nn.Linear(hidden, hidden)
            self.ln2 = nn.LayerNorm(hidden)
            self.mlp = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(),
                                     nn.Linear(4 * hidden, hidden))

        def forward(self, x, mask):
            b, s, _ = x.shape
            d = hidden // heads
            q, k, v = self.qkv(self.ln1(x)).split(hidden, dim=-1)
            q, k, v = (t.reshape(b, s, heads, d).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-1, -2)) / math.sqrt(d)
            att = att.masked_fill(mask, float("-inf")).softmax(dim=-1)
            y = (att @ v).transpose(1, 2).reshape(b, s, hidden)
            x = x + self.proj(y)
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, hidden)
            self.wpe = nn.Embedding(n_pos, hidden)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.ln_f = nn.LayerNorm(hidden)

        def forward(self, input_ids):
            s = input_ids.shape[1]
            pos = torch.arange(s, dtype=torch.long)
            mask = pos.unsqueeze(0) > pos.unsqueeze(1)  # True above the diagonal: masked
            x = self.wte(input_ids) + self.wpe(pos).unsqueeze(0)
            for blk in self.blocks:
                x = blk(x, mask)
            return self.ln_f(x) @ self.wte.weight.t()

    return GPT()


def _window_attn(dim=16, w=4, heads=2):
    import torch.nn.functional as F
    from torch import nn

    class WindowBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Conv2d(3, dim, 4, stride=4)
            self.norm = nn.LayerNorm(dim)
            self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
            self.head = nn.Linear(dim, 10)

        def forward(self, x):
            x = self.embed(x).permute(0, 2, 3, 1)  # [B, h, w, C]
            b, h, ww, c = x.shape
            pad_b = (w - h % w) % w
            pad_r = (w - ww % w) % w
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
            hp, wp = h + pad_b, ww + pad_r
            win = x.view(b, hp // w, w, wp // w, w, c).permute(0, 1, 3, 2, 4, 5)
            win = win.reshape(-1, w * w, c)
            y = self.norm(win)
            y = win + self.attn(y, y, y, need_weights=False)[0]
            y = y.view(b, hp // w, wp // w, w, w, c).permute(0, 1, 3, 2, 4, 5)
            y = y.reshape(b, hp, wp, c)[:, :h, :ww, :]
            return self.head(y.mean(dim=(1, 2)))

    return WindowBlock()


def _tf_same_pad(k=3, s=2):
    import torch
    import torch.nn.functional as F
    from torch import nn

    class SamePad(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, k, stride=s)

        def forward(self, x):
            ih, iw = x.shape[-2:]
            # TF "same": total pad = max((ceil(i / s) - 1) * s + k - i, 0), half before
            out_h = torch.ceil(torch.tensor(ih, dtype=torch.float32) / s)
            out_w = torch.ceil(torch.tensor(iw, dtype=torch.float32) / s)
            ph = torch.clamp((out_h - 1) * s + k - ih, min=0)
            pw = torch.clamp((out_w - 1) * s + k - iw, min=0)
            top, left = (ph / 2).floor().long(), (pw / 2).floor().long()
            bottom, right = ph.long() - top, pw.long() - left
            x = F.pad(x, [left, right, top, bottom])
            return self.conv(x)

    return SamePad()


# name -> (factory, example input, input name, output names, dynamic axes of the input)
def _spec(name):
    import torch

    if name == "gpt2_tiny":
        return (_gpt2, lambda: torch.zeros(1, 8, dtype=torch.int64), "input_ids", ["logits"],
                {1: "S"})
    if name == "window_attn":
        return (_window_attn, lambda: torch.randn(1, 3, 40, 56), "input", ["logits"],
                {2: "H", 3: "W"})
    if name == "tf_same_pad":
        return (_tf_same_pad, lambda: torch.randn(1, 3, 17, 20), "input", ["out"],
                {2: "H", 3: "W"})
    raise KeyError(name)


def build(out_dir: str, name: str, *, dynamo: bool = False) -> str:
    import torch

    path, hit = cached(out_dir, name + ("_dynamo" if dynamo else "_ts"))
    if hit:
        return path
    factory, example, in_name, out_names, axes = _spec(name)
    torch.manual_seed(0)
    module = factory().eval()
    x = example()
    if dynamo:
        from torch.export import Dim

        return export(module, (x,), path, dynamo=True, input_names=[in_name],
                      output_names=out_names, dynamic_shapes=({k: Dim.AUTO for k in axes},))
    return export(module, (x,), path, dynamo=False, input_names=[in_name],
                  output_names=out_names, dynamic_axes={in_name: axes})
