"""Small graph-building vocabulary over onnx-ir for the relax rewrites.

New constants are Constant nodes (not initializers): IR version 3 files require every
initializer to be a graph input too, and a Constant node is valid in every IR and opset.
Nodes are collected per rewrite and inserted in front of the node they feed; the graph is
sorted once at the end.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
from onnx_ir import convenience


class Builder:
    """Fresh-named nodes and values, queued in front of ``anchor`` by flush()."""

    def __init__(self, graph: ir.Graph):
        self.graph = graph
        self.used = set()
        for node in graph.all_nodes():
            if node.name:
                self.used.add(node.name)
            for v in node.outputs:
                if v.name:
                    self.used.add(v.name)
        for v in list(graph.inputs) + list(graph.initializers.values()):
            if v.name:
                self.used.add(v.name)
        self.pending: list = []
        self._shape_of: dict = {}

    def fresh(self, hint: str) -> str:
        base = f"relax/{hint}"
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name

    def op(self, op_type: str, inputs, hint: str, **attrs) -> ir.Value:
        attributes = [_attr(k, v) for k, v in attrs.items()]
        node = ir.Node("", op_type, list(inputs), attributes=attributes,
                       name=self.fresh(f"{hint}/{op_type}"), num_outputs=1)
        node.outputs[0].name = self.fresh(f"{hint}/{op_type}_out")
        self.pending.append(node)
        return node.outputs[0]

    def const(self, array, hint: str) -> ir.Value:
        arr = np.asarray(array)
        name = self.fresh(f"{hint}/const")
        return self.op("Constant", [], hint, value=ir.tensor(arr, name=name))

    def shape_of(self, value: ir.Value, hint: str) -> ir.Value:
        """One Shape node per source value."""
        key = id(value)
        if key not in self._shape_of:
            self._shape_of[key] = self.op("Shape", [value], hint)
        return self._shape_of[key]

    def dim(self, value: ir.Value, axis: int, hint: str, scalar: bool = False) -> ir.Value:
        """Shape(value)[axis] as a 1-D [1] tensor (or a 0-d scalar), int64, via Gather."""
        idx = self.const(np.array(axis, dtype=np.int64) if scalar
                         else np.array([axis], dtype=np.int64), hint)
        return self.op("Gather", [self.shape_of(value, hint), idx], hint, axis=0)

    def flush(self, anchor: ir.Node) -> list:
        nodes, self.pending = self.pending, []
        if nodes:
            self.graph.insert_before(anchor, nodes)
        self._shape_of = {}
        return nodes


def _attr(name: str, v):
    if isinstance(v, ir.TensorProtocol):
        return ir.AttrTensor(name, v)
    if isinstance(v, bool):
        return ir.AttrInt64(name, int(v))
    if isinstance(v, int):
        return ir.AttrInt64(name, v)
    if isinstance(v, float):
        return ir.AttrFloat32(name, v)
    if isinstance(v, str):
        return ir.AttrString(name, v)
    if isinstance(v, (list, tuple)) and all(isinstance(x, int) for x in v):
        return ir.AttrInt64s(name, list(v))
    if isinstance(v, (list, tuple)):
        return ir.AttrFloat32s(name, [float(x) for x in v])
    raise TypeError(f"unsupported attribute {name}={v!r}")


def const_array(value: ir.Value | None):
    """The numpy value of an initializer or Constant output, else None."""
    if value is None:
        return None
    t = convenience.get_const_tensor(value)
    if t is None:
        return None
    try:
        return t.numpy()
    except Exception:  # noqa: BLE001  external data that cannot be read: not a constant to us
        return None


def attr(node: ir.Node, name: str, default=None):
    a = node.attributes.get(name)
    if a is None:
        return default
    return a.value


def node_label(node: ir.Node) -> str:
    return node.name or f"{node.op_type}_{node.graph.index(node) if node.graph else '?'}"
