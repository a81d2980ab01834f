"""The rule contract's window on the graph: a read-only view of the graph being walked.

A rule sees the graph only through ``ctx.graph`` (a :class:`GraphView`): the nodes by name,
who produces and how often something reads a value, the initializers, and the tensors the
walk has inferred so far. Nothing here changes the walk; indexes are built on first use and
live as long as the walk does (no module-level caches keyed by ``id(graph)``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType

from graphshape.loader.contents import tensor_to_array
from graphshape.loader.tensor import Bounds, Tensor

__all__ = ["GraphView"]


class GraphView:
    """What a rule may read of the graph being walked (a model.Graph, a subgraph's too)."""

    __slots__ = ("_graph", "_tensors", "_index", "_init_ids", "_init_bounds", "_conditions",
                 "parent", "cache")

    def __init__(self, graph, tensors: dict, conditions: list | None = None,
                 parent: GraphView | None = None):
        self._graph = graph
        self._tensors = tensors
        self._index = None  # (node by name, producer by value, reads by value)
        self._init_ids: dict | None = None  # id(initializer Tensor) -> name
        self._init_bounds: dict = {}  # initializer name -> Bounds or None
        self._conditions = conditions if conditions is not None else []
        self.parent = parent  # the enclosing graph's view (a subgraph's If/Loop/Scan node)
        self.cache: dict = {}  # memo of queries on the view (shapes/known.py), per walk

    # ---- conditions ----------------------------------------------------------------------
    @property
    def conditions(self) -> tuple:
        """The conditions the walk of this graph has imposed so far (nodes already visited,
        in order; the enclosing graph's are ``parent.conditions``), read only. Each holds
        at every valid size: a rule may decide a case under them (shapes/known.py)."""
        return tuple(self._conditions)

    def condition_count(self) -> int:
        return len(self._conditions) + (self.parent.condition_count() if self.parent else 0)

    # ---- values ------------------------------------------------------------------------
    @property
    def known(self) -> Mapping[str, Tensor]:
        """Every value inferred so far (inputs, initializers, outer scope), read only."""
        return MappingProxyType(self._tensors)

    def tensor(self, name: str) -> Tensor | None:
        return self._tensors.get(name)

    @property
    def outputs(self) -> list:
        return list(self._graph.outputs)

    def declared_shape(self, name: str) -> tuple | None:
        """The shape the model declares for value ``name`` (value_info, a graph output; an
        int per fixed dim, None otherwise), looked up in the enclosing graphs too; None when
        it declares no fixed dim."""
        decl = getattr(self._graph, "declared_shapes", {}).get(name)
        if decl is None and self.parent is not None and name not in self._tensors_local():
            return self.parent.declared_shape(name)
        return decl

    def _tensors_local(self) -> set:
        """Values this graph itself defines (its inputs, initializers and node outputs)."""
        g = self._graph
        out = set(g.inputs) | set(g.initializers)
        for n in g.nodes:
            out.update(o for o in n.output if o)
        return out

    def defines(self, value: str) -> bool:
        """Whether this graph itself defines ``value`` (else it comes from an enclosing
        graph, see ``parent``)."""
        if "defines" not in self.cache:
            self.cache["defines"] = frozenset(self._tensors_local())
        return value in self.cache["defines"]

    def is_initializer(self, name: str) -> bool:
        return name in self._graph.initializers

    def is_graph_input_data(self, t: Tensor) -> bool:
        """t is the very Tensor the loader made for one of the model's own inputs (a
        Loop/If body's inputs are not graph inputs)."""
        try:
            top = {vi.name for vi in self._graph.model.graph.input}
        except AttributeError:
            return False
        return any(t is v and name in top for name, v in self._graph.inputs.items())

    # ---- nodes -------------------------------------------------------------------------
    def _nodes(self):
        if self._index is None:
            by_name, producer, uses = {}, {}, {}
            for i, n in enumerate(self._graph.nodes):
                by_name.setdefault(n.name or f"{n.op_type}_{i}", n)
                for o in n.output:
                    producer[o] = n
                _count_uses(n, uses)
            self._index = (by_name, producer, uses)
        return self._index

    def node(self, name: str):
        """The NodeProto of this name (the engine's name for an unnamed node), or None."""
        return self._nodes()[0].get(name)

    def producer(self, value: str):
        """The NodeProto that writes ``value``, or None (an input, an initializer)."""
        return self._nodes()[1].get(value)

    def uses(self, value: str) -> int:
        """How many times nodes read ``value``, subgraph reads of the enclosing scope
        included."""
        return self._nodes()[2].get(value, 0)

    # ---- initializer contents ----------------------------------------------------------
    def initializer_bounds(self, t: Tensor) -> Bounds | None:
        """Tight bounds of an integer initializer's elements, read from the model, or None
        when t is not an initializer of this graph or its data cannot be read."""
        if self._init_ids is None:
            self._init_ids = {id(v): n for n, v in self._graph.initializers.items()}
        name = self._init_ids.get(id(t))
        if name is None or self._graph.initializers.get(name) is not t:
            return None
        if name not in self._init_bounds:
            self._init_bounds[name] = self._read_bounds(name)
        return self._init_bounds[name]

    def _read_bounds(self, name: str) -> Bounds | None:
        g = self._graph
        try:
            proto = next(p for p in g.model.graph.initializer if p.name == name)
            base = os.path.dirname(os.path.abspath(g.path)) if getattr(g, "path", None) \
                else None
            arr = tensor_to_array(proto, base)
            if arr.dtype.kind in "iub" and arr.size:
                return Bounds(int(arr.min()), int(arr.max()), True)
        except Exception:  # noqa: BLE001  unreadable: no bounds, the caller stays unproven
            return None
        return None


def _count_uses(node, uses: dict) -> None:
    """Every read of a value, subgraph reads of the enclosing scope included."""
    for i in node.input:
        if i:
            uses[i] = uses.get(i, 0) + 1
    for a in node.attribute:
        graphs = ([a.g] if a.HasField("g") else []) + list(a.graphs)
        for sg in graphs:
            for n in sg.node:
                _count_uses(n, uses)
