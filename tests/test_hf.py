"""transformers models built from a config (random weights, no downloads), TorchScript
export with B and S (or H, W) symbolic: the position tables' limits are proved and every
edge is run on onnxruntime."""

from __future__ import annotations

import pytest
import torch
import transformers  # noqa: F401  the hf extra is part of `make test`

from graphshape import analyze
from graphshape.runtime.verify import verify
from models import hf, registry

from .conftest import assert_agrees


@pytest.fixture(scope="module")
def built(model_cache):
    return {n: analyze(registry.build(n, model_cache)) for n in hf.NAMES}


def _observed(a, points):
    rep = verify(a, points, timeout=120, providers=["CPUExecutionProvider"])
    return {tuple(v.sizes.values()): (v.predicted, v.observed) for v in rep.verdicts}


@pytest.mark.parametrize("name, table", [("bert_hf", "/m/embeddings/"),
                                         ("gpt2_hf", "/m/transformer/wpe/Gather")])
def test_text_models_accept_at_most_the_position_table(built, name, table):
    a = built[name]
    assert str(a.domain).splitlines()[0].strip() == "any B; 1 <= S <= 64"
    ex = a.explain({"B": 2, "S": 65}).to_json()
    assert ex["verdict"] == "invalid"
    assert any(v["node"].startswith(table) for v in ex["violations"]), ex["violations"]
    # inside the table the answer is proved: the attention mask's plumbing (transformers
    # 5's mask.flatten()[b*S + s]) has index bounds 0..B*S - 1 (a Mul by the symbol S,
    # proved in range once multiplied out; tests/test_unseen_hf.py)
    assert a.domain.exact, [u.describe() for u in a.propagation.unproven]
    assert a.explain({"B": 2, "S": 64}).to_json()["verdict"] == "valid"
    obs = _observed(a, [{"B": 1, "S": 1}, {"B": 2, "S": 64}, {"B": 3, "S": 63},
                        {"B": 1, "S": 65}, {"B": 2, "S": 100}])
    assert obs == {(1, 1): ("valid", "valid"), (2, 64): ("valid", "valid"),
                   (3, 63): ("valid", "valid"), (1, 65): ("invalid", "invalid"),
                   (2, 100): ("invalid", "invalid")}


def test_gpt2_limit_is_n_positions_in_pytorch_too(built):
    """The truth the file's limit stands for: PyTorch's GPT-2 fails past n_positions."""
    m = hf._wrapped("gpt2_hf")
    ids = torch.zeros(1, hf.MAX_POSITIONS, dtype=torch.int64)
    m(ids, torch.ones_like(ids))
    ids = torch.zeros(1, hf.MAX_POSITIONS + 1, dtype=torch.int64)
    with pytest.raises(IndexError):
        m(ids, torch.ones_like(ids))


def test_vit_needs_sixteen_patches(built):
    """17 position embeddings (16 patches + CLS): (H//8)*(W//8) == 16, proved exactly. HF's
    ViT refuses anything but 32x32 in Python; the exported file accepts every size with 16
    patches (16x64 runs on onnxruntime, PyTorch raises)."""
    a = built["vit_hf"]
    assert a.domain.exact
    assert str(a.domain).splitlines()[2].strip() == "(any B and 32 <= H <= 39 and 32 <= W <= 39) or"
    assert_agrees(a, [{"B": 1, "H": 32, "W": 32}, {"B": 2, "H": 39, "W": 39},
                      {"B": 1, "H": 40, "W": 32}, {"B": 1, "H": 31, "W": 39},
                      {"B": 1, "H": 16, "W": 64}, {"B": 3, "H": 8, "W": 128},
                      {"B": 1, "H": 7, "W": 128}, {"B": 1, "H": 64, "W": 64}])
    with pytest.raises(ValueError):
        hf._wrapped("vit_hf")(torch.randn(1, 3, 16, 64))
