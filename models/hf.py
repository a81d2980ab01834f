"""Hugging Face transformers models built from a config (random weights: nothing is
downloaded), exported with the TorchScript exporter (dynamo=False), batch B and sequence
length S (or H, W) symbolic.

bert_hf   BertModel, 2 layers, hidden 32, max_position_embeddings 64:
          input_ids, attention_mask [B, S] -> last_hidden_state: S <= 64
gpt2_hf   GPT2LMHeadModel, 2 layers, n_embd 32, n_positions 64, with its causal mask and
          the attention mask: input_ids, attention_mask [B, S] -> logits: S <= 64
vit_hf    ViTModel, image 32, patch 8 (16 patches + CLS = 17 positions):
          pixel_values [B, 3, H, W]: the position table needs (H//8)*(W//8) == 16

Eager attention (attn_implementation="eager") keeps the graphs free of fused kernels.
"""

from __future__ import annotations

from ._export import cached, export

NAMES = ("bert_hf", "gpt2_hf", "vit_hf")
MAX_POSITIONS = 64


def _wrapped(name: str):
    import torch
    import transformers as tr
    from torch import nn

    torch.manual_seed(0)
    if name == "bert_hf":
        cfg = tr.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=64,
                            max_position_embeddings=MAX_POSITIONS, type_vocab_size=2,
                            attn_implementation="eager")
        inner = tr.BertModel(cfg)
    elif name == "gpt2_hf":
        cfg = tr.GPT2Config(vocab_size=100, n_positions=MAX_POSITIONS, n_embd=32, n_layer=2,
                            n_head=2, use_cache=False, bos_token_id=0, eos_token_id=0,
                            attn_implementation="eager")
        inner = tr.GPT2LMHeadModel(cfg)
    elif name == "vit_hf":
        cfg = tr.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=64,
                           attn_implementation="eager")
        inner = tr.ViTModel(cfg, add_pooling_layer=False)
    else:
        raise KeyError(name)
    inner.eval()

    class Text(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = inner

        def forward(self, input_ids, attention_mask):
            out = self.m(input_ids=input_ids, attention_mask=attention_mask,
                         return_dict=True)
            return out.logits if name == "gpt2_hf" else out.last_hidden_state

    class Image(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = inner

        def forward(self, pixel_values):
            return self.m(pixel_values=pixel_values, return_dict=True).last_hidden_state

    return (Image() if name == "vit_hf" else Text()).eval()


def example(name: str):
    import torch

    if name == "vit_hf":
        return (torch.randn(2, 3, 32, 32),)
    g = torch.Generator().manual_seed(0)
    return (torch.randint(0, 100, (2, 16), generator=g), torch.ones(2, 16, dtype=torch.int64))


def build(out_dir: str, name: str) -> str:
    path, done = cached(out_dir, name)
    if done:
        return path
    m = _wrapped(name)
    if name == "vit_hf":
        names, axes = ["pixel_values"], {"pixel_values": {0: "B", 2: "H", 3: "W"}}
        outs = ["last_hidden_state"]
    else:
        names = ["input_ids", "attention_mask"]
        axes = {n: {0: "B", 1: "S"} for n in names}
        outs = ["logits" if name == "gpt2_hf" else "last_hidden_state"]
    return export(m, example(name), path, dynamo=False, input_names=names, output_names=outs,
                  dynamic_axes=axes, opset=17)


def build_llama_decoder(out_dir: str, layers: int = 32) -> str:
    """A Llama-style decoder (LlamaForCausalLM from a config: hidden 64, 4 heads, 2 KV
    heads, 256 positions, no cache, eager attention; random weights) with ``layers`` layers,
    exported by the dynamo exporter with B and S symbolic. Not a corpus model (its export
    takes about 50 s): the bench's large-graph row (issue 24), built on demand."""
    import torch
    import transformers as tr
    from torch import nn

    path, hit = cached(out_dir, f"llama{layers}_dynamo")
    if hit:
        return path
    torch.manual_seed(0)
    cfg = tr.LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=layers, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=256, use_cache=False,
                         attn_implementation="eager")
    inner = tr.LlamaForCausalLM(cfg).eval()

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = inner

        def forward(self, input_ids):
            return self.m(input_ids=input_ids, return_dict=True).logits

    ids = torch.randint(0, 128, (2, 16))
    dims = ({0: torch.export.Dim("B", min=1, max=64), 1: torch.export.Dim("S", min=2,
                                                                           max=256)},)
    return export(Decoder().eval(), (ids,), path, dynamo=True, input_names=["input_ids"],
                  output_names=["logits"], dynamic_shapes=dims)
