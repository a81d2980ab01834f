"""Name -> builder for every example model; builders cache their ONNX files."""

from __future__ import annotations

import os

from . import toy

DEFAULT_CACHE = os.environ.get(
    "GRAPHSHAPE_MODEL_CACHE",
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache",
                 "models"))

# name -> (builder(out_dir) -> path, one-line description)
BUILDERS = {
    "toy": (lambda out: toy.build(out), "Conv/Pool features + flatten + Linear head (256x256)"),
    "toy_dynamo": (lambda out: toy.build(out, dynamo=True), "the toy via the dynamo exporter"),
}


def build(name: str, out_dir: str = DEFAULT_CACHE) -> str:
    fn, _ = BUILDERS[name]
    return fn(out_dir)
