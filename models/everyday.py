"""Everyday model classes that used to end in "unproven" (issue 21): a windowed vision
transformer, TensorFlow-ported padding, a speech front-end, T5's relative positions and a
decoder with an empty KV cache. Random weights, configs only: nothing is downloaded.

swin_timm_dynamo      timm SwinTransformer (patch 4, window 7, 4 stages of 1 block, dims
                      16..128), dynamo exporter with Dim.AUTO on H, W: timm's padded windows
                      and patch merging are computed from the shape, but the window-attention
                      Reshapes are baked at 224x224 (the "224 only" case users hit).
tf_efficientnet_timm_ts
                      timm tf_efficientnet_lite0-style net (Conv2dSame: TF 'same' padding
                      computed from x.shape and applied with F.pad), legacy TorchScript exporter,
                      N, H, W symbolic.
mobilevit_timm_ts     timm mobilevit_xxs (unfold/fold of 2x2 patches with an interpolation to
                      a multiple of the patch size), legacy exporter: the tracer bakes the
                      interpolation's branch at 224, so only sizes near 224 run.
mobilevit_timm_dynamo the same via dynamo (Dim.AUTO on H, W, example 256): the unfold/fold
                      checks C*h*w == 4*C*ceil(h/2)*ceil(w/2) at each MobileViT block.
t5_encoder_hf         transformers T5EncoderModel (2 layers, d_model 32, 32 relative-position
                      buckets, max distance 128), legacy exporter, input_ids [B, S].
wav2vec2_hf           transformers Wav2Vec2Model (conv feature extractor k10 s5 + k3 s2,
                      positional conv embedding with an even kernel: SamePad drops the last
                      frame), legacy exporter, input_values [1, T].
w2v_frontend_ts       a wav2vec2-style conv front-end (k10 s5, k3 s2, GELU) whose last conv (k5,
                      no padding) is cut by [..., :-1] and flattened with reshape(-1, L): the
                      legacy exporter writes Reshape(x, Concat([-1], Shape(x)[2])), an entry
                      that is 0 where the cut empties the map; input [1, 1, T].
kv_decoder_ts         a GPT-style decoder step with a KV cache: input_ids [1, S], past keys and
                      values [1, 2, P, 16] per layer (P = 0 at the first call), positions
                      arange(P, P + S) into a 64-row table; legacy exporter.
"""

from __future__ import annotations

import math

from ._export import cached, export

NAMES = ("swin_timm_dynamo", "tf_efficientnet_timm_ts", "mobilevit_timm_ts",
         "mobilevit_timm_dynamo", "t5_encoder_hf",
         "wav2vec2_hf", "w2v_frontend_ts", "kv_decoder_ts")
KV_POSITIONS = 64
KV_LAYERS = 2


def _swin():
    from timm.models.swin_transformer import SwinTransformer

    return SwinTransformer(img_size=224, patch_size=4, window_size=7, embed_dim=16,
                           depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2), num_classes=10)


def _tf_efficientnet():
    import timm

    return timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=10)


def _mobilevit():
    import timm

    return timm.create_model("mobilevit_xxs", pretrained=False, num_classes=10)


def _t5():
    import torch
    import transformers as tr
    from torch import nn

    cfg = tr.T5Config(vocab_size=100, d_model=32, d_kv=16, d_ff=64, num_layers=2, num_heads=2,
                      relative_attention_num_buckets=32, relative_attention_max_distance=128,
                      attn_implementation="eager")
    inner = tr.T5EncoderModel(cfg).eval()

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = inner

        def forward(self, input_ids):
            return self.m(input_ids=input_ids, return_dict=True).last_hidden_state

    _ = torch
    return Encoder()


def _wav2vec2():
    import transformers as tr
    from torch import nn

    cfg = tr.Wav2Vec2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=64, conv_dim=(16, 16), conv_stride=(5, 2),
                            conv_kernel=(10, 3), num_conv_pos_embeddings=16,
                            num_conv_pos_embedding_groups=2, feat_extract_norm="group",
                            do_stable_layer_norm=False, attn_implementation="eager")
    inner = tr.Wav2Vec2Model(cfg).eval()

    class Speech(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = inner

        def forward(self, input_values):
            return self.m(input_values=input_values, return_dict=True).last_hidden_state

    return Speech()


def _w2v_frontend():
    from torch import nn

    class FrontEnd(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv1d(1, 8, 10, stride=5)
            self.c2 = nn.Conv1d(8, 8, 3, stride=2)
            self.c3 = nn.Conv1d(8, 4, 5)
            self.act = nn.GELU()

        def forward(self, x):
            h = self.act(self.c2(self.act(self.c1(x))))
            p = self.c3(h)[:, :, :-1]
            return p.reshape(-1, p.shape[2])

    return FrontEnd()


def _kv_decoder(vocab=100, hidden=32, heads=2, layers=KV_LAYERS, n_pos=KV_POSITIONS):
    import torch
    from torch import nn

    d = hidden // heads

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln = nn.LayerNorm(hidden)
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.proj = nn.Linear(hidden, hidden)

        def forward(self, x, past_k, past_v):
            b, s, _ = x.shape
            q, k, v = self.qkv(self.ln(x)).split(hidden, dim=-1)
            q, k, v = (t.reshape(b, s, heads, d).transpose(1, 2) for t in (q, k, v))
            k = torch.cat([past_k, k], dim=2)  # [B, heads, P + S, d]
            v = torch.cat([past_v, v], dim=2)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(d)
            p = past_k.shape[2]
            qpos = torch.arange(s).unsqueeze(1) + p
            kpos = torch.arange(k.shape[2]).unsqueeze(0)
            att = att.masked_fill(kpos > qpos, float("-inf")).softmax(dim=-1)
            y = (att @ v).transpose(1, 2).reshape(b, s, hidden)
            return x + self.proj(y), k, v

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, hidden)
            self.wpe = nn.Embedding(n_pos, hidden)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))

        def forward(self, input_ids, *past):
            s = input_ids.shape[1]
            p = past[0].shape[2]
            pos = torch.arange(p, p + s, dtype=torch.long)
            x = self.wte(input_ids) + self.wpe(pos).unsqueeze(0)
            present = []
            for i, blk in enumerate(self.blocks):
                x, k, v = blk(x, past[2 * i], past[2 * i + 1])
                present += [k, v]
            return (x @ self.wte.weight.t(), *present)

    return Decoder()


def _past_names():
    return [f"past_{kind}_{i}" for i in range(KV_LAYERS) for kind in ("key", "value")]


def build(out_dir: str, name: str) -> str:
    import torch

    path, hit = cached(out_dir, name)
    if hit:
        return path
    torch.manual_seed(0)
    if name == "swin_timm_dynamo":
        from torch.export import Dim

        m = _swin().eval()
        return export(m, (torch.randn(1, 3, 224, 224),), path, dynamo=True,
                      input_names=["input"], output_names=["logits"],
                      dynamic_shapes=({2: Dim.AUTO, 3: Dim.AUTO},))
    if name == "mobilevit_timm_dynamo":
        from torch.export import Dim

        return export(_mobilevit().eval(), (torch.randn(1, 3, 256, 256),), path, dynamo=True,
                      input_names=["input"], output_names=["logits"],
                      dynamic_shapes=({2: Dim.AUTO, 3: Dim.AUTO},))
    if name in ("tf_efficientnet_timm_ts", "mobilevit_timm_ts"):
        m = (_tf_efficientnet() if name.startswith("tf_") else _mobilevit()).eval()
        return export(m, (torch.randn(1, 3, 224, 224),), path, dynamo=False,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N", 2: "H", 3: "W"}}, opset=17)
    if name == "t5_encoder_hf":
        ids = torch.randint(0, 100, (1, 16), generator=torch.Generator().manual_seed(0))
        return export(_t5().eval(), (ids,), path, dynamo=False, input_names=["input_ids"],
                      output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "B", 1: "S"}}, opset=17)
    if name == "wav2vec2_hf":
        return export(_wav2vec2().eval(), (torch.randn(1, 4000),), path, dynamo=False,
                      input_names=["input_values"], output_names=["last_hidden_state"],
                      dynamic_axes={"input_values": {1: "T"}}, opset=17)
    if name == "w2v_frontend_ts":
        return export(_w2v_frontend().eval(), (torch.randn(1, 1, 4000),), path, dynamo=False,
                      input_names=["input_values"], output_names=["features"],
                      dynamic_axes={"input_values": {2: "T"}}, opset=17)
    if name == "kv_decoder_ts":
        m = _kv_decoder().eval()
        ids = torch.zeros(1, 4, dtype=torch.int64)
        past = tuple(torch.randn(1, 2, 3, 16) for _ in range(2 * KV_LAYERS))
        names = ["input_ids", *_past_names()]
        axes = {"input_ids": {1: "S"}, **{n: {2: "P"} for n in _past_names()}}
        outs = ["logits"] + [n.replace("past", "present") for n in _past_names()]
        return export(m, (ids, *past), path, dynamo=False, input_names=names,
                      output_names=outs, dynamic_axes=axes, opset=17)
    raise KeyError(name)
