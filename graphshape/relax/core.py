"""What every rewrite shares: the Rewrite and Left records, and the Context that answers
"what is this value's shape, and what is it at the export size?" from the analysis."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import onnx_ir as ir

from graphshape.arith.dims import free_symbols, substitute, to_str
from graphshape.relax.build import Builder


@dataclass
class Rewrite:
    kind: str
    node: str
    op: str
    before: str
    after: str
    why: str
    apply: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("kind", "node", "op", "before", "after", "why")}


@dataclass
class Left:
    """A size pin found but not removed, with the reason."""

    node: str
    op: str
    what: str
    why: str

    def to_json(self) -> dict:
        return dict(self.__dict__)


class Context:
    def __init__(self, model: ir.Model, analysis, env: dict):
        self.model = model
        self.graph = model.graph
        self.analysis = analysis
        self.env = dict(env)
        self.opset = model.opset_imports.get("", model.opset_imports.get("ai.onnx", 1))
        self.builder = Builder(self.graph)
        self.left: list = []

    # ---- shapes ------------------------------------------------------------------------
    def shape(self, v: ir.Value | None):
        if v is None:
            return None
        t = self.analysis.propagation.tensors.get(v.name)
        return None if t is None or t.shape is None else tuple(t.shape)

    def at(self, d):
        r = substitute(d, self.env)
        return int(r) if isinstance(r, int) or getattr(r, "is_Integer", False) else None

    def varies(self, d) -> bool:
        if isinstance(d, int):
            return False
        names = {s.name for s in free_symbols(d)}
        return bool(names) and names <= set(self.env)

    def export_shape(self, v):
        s = self.shape(v)
        if s is None:
            return None
        out = [self.at(d) for d in s]
        return None if any(x is None for x in out) else out


def fmt_list(xs) -> str:
    return "[" + ", ".join(str(int(x)) if not isinstance(x, str) else x for x in xs) + "]"


def sym_shape(shape) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else to_str(d) for d in shape) + "]"
