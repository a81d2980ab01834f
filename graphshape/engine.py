"""The walk: one pass over the nodes in topological order, one rule call per node.

A rule is a pure function ``fn(ctx, *inputs, **attributes) -> Tensor | list[Tensor]``;
``ctx`` (a NodeContext) only collects what this node imposes. The engine wraps every
failure with the node's name and op; a rule that cannot decide makes its outputs unknown
and the result 'unproven because node X (op Y)'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import onnx
from onnx import helper, numpy_helper

from . import registry
from .constraints import Constraint, Origin
from .dims import Dim, free_symbols, nonneg_symbol
from .errors import GraphShapeError, ShapeError, Unsupported
from .tensor import Tensor


@dataclass(frozen=True)
class Unproven:
    node: str
    op: str
    reason: str
    affected: int = 0

    def describe(self) -> str:
        return f"node '{self.node}' ({self.op}): {self.reason}"


@dataclass(frozen=True)
class DataDependent:
    symbol: object
    node: str
    op: str
    what: str


class NodeContext:
    """What a rule may use: the node's identity, constraint builders, fresh symbols."""

    __slots__ = ("name", "op", "opset", "domain", "n_outputs", "constraints", "spec_notes",
                 "fresh_symbols", "notes", "subgraph_runner", "assumptions")

    def __init__(self, name, op, opset, domain="", n_outputs=1, subgraph_runner=None):
        self.name, self.op, self.opset, self.domain = name, op, opset, domain
        self.n_outputs = n_outputs
        self.constraints: list = []
        self.spec_notes: list = []
        self.fresh_symbols: list = []
        self.notes: list = []
        self.assumptions: list = []
        self.subgraph_runner = subgraph_runner

    def origin(self, reason: str) -> Origin:
        return Origin(self.name, self.op, reason)

    def assume(self, reason: str) -> None:
        """The rule produced outputs (often with fresh symbols) without proving them: the
        analysis goes on downstream, and the answer is 'unproven because' this node."""
        self.assumptions.append(reason)

    def _add(self, c: Constraint) -> None:
        if c.kind == "EQ" and c.lhs == c.rhs:
            return  # a tautology (e.g. Reshape [1,64,h,w] -> [1,64,h*w])
        t = c.constant_truth()
        if t is True:
            return
        if t is False:
            raise ShapeError(c.origin.reason + f" (found {c})", self.name, self.op)
        self.constraints.append(c)

    def eq(self, a: Dim, b: Dim, reason: str) -> None:
        self._add(Constraint.eq(a, b, self.origin(reason)))

    def ge(self, a: Dim, b: Dim, reason: str) -> None:
        self._add(Constraint.ge(a, b, self.origin(reason)))

    def divides(self, m: int, a: Dim, reason: str) -> None:
        if m == 1:
            return
        self._add(Constraint.divides(m, a, self.origin(reason)))

    def any_of(self, parts, reason: str) -> None:
        kept = []
        for p in parts:
            t = p.constant_truth()
            if t is True:
                return
            if t is False:
                continue
            kept.append(p)
        if not kept:
            raise ShapeError(reason, self.name, self.op)
        if len(kept) == 1:
            self._add(Constraint(kept[0].kind, kept[0].lhs, kept[0].rhs, kept[0].parts,
                                 self.origin(reason)))
        else:
            self._add(Constraint.any_of(kept, self.origin(reason)))

    def spec_note(self, c: Constraint) -> None:
        """A condition the ONNX spec imposes but onnxruntime does not (reported, not enforced)."""
        if c.constant_truth() is None or c.constant_truth() is False:
            self.spec_notes.append(c)

    def fresh(self, what: str, nonneg: bool = True):
        """A fresh symbol for a data-dependent dim (NonZero count, TopK k from data...)."""
        s = nonneg_symbol(f"dd{_fresh_counter()}")
        self.fresh_symbols.append(DataDependent(s, self.name, self.op, what))
        return s

    def fail(self, message: str):
        raise ShapeError(message, self.name, self.op)


_COUNTER = [0]


def _fresh_counter() -> int:
    _COUNTER[0] += 1
    return _COUNTER[0]


@dataclass
class Propagation:
    tensors: dict
    constraints: list
    spec_notes: list
    unproven: list
    data_dependent: list
    impossible: list = field(default_factory=list)  # ShapeErrors: the model never runs
    node_count: int = 0


def attribute_values(node) -> dict:
    out = {}
    for a in node.attribute:
        if a.ref_attr_name:
            raise Unsupported(f"attribute '{a.name}' refers to a function attribute")
        if a.type == onnx.AttributeProto.TENSOR:
            arr = numpy_helper.to_array(a.t)
            out[a.name] = arr
        elif a.type == onnx.AttributeProto.GRAPH:
            out[a.name] = a.g
        else:
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            elif isinstance(v, list) and v and isinstance(v[0], bytes):
                v = [x.decode("utf-8", "replace") for x in v]
            out[a.name] = v
    return out




def call_rule(entry, ctx: NodeContext, inputs: list, attrs: dict):
    for k in attrs:
        if k not in entry.params and not entry.var_keyword:
            raise Unsupported(f"attribute '{k}' is not handled by graphshape's {ctx.op} rule")
    # trailing missing optional inputs are simply not passed
    while inputs and inputs[-1] is None:
        inputs = inputs[:-1]
    n = len(inputs)
    if n < entry.min_inputs or (entry.max_inputs is not None and n > entry.max_inputs):
        raise ShapeError(f"unexpected number of inputs ({n})", ctx.name, ctx.op)
    return entry.fn(ctx, *inputs, **attrs)


def propagate(graph, outer: Optional[dict] = None) -> Propagation:
    """Walk ``graph`` (a model.Graph) and collect shapes, values and constraints."""
    registry._load_all()
    tensors: dict = dict(outer or {})
    tensors.update(graph.initializers)
    tensors.update(graph.inputs)
    unknown_root: dict = {}  # value name -> root Unproven
    dead: set = set()  # values downstream of a node that can never run
    result = Propagation(tensors, [], [], [], [])
    opsets = graph.opsets
    for idx, node in enumerate(graph.nodes):
        name = node.name or f"{node.op_type}_{idx}"
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        opset = opsets.get(domain, 1)
        ctx = NodeContext(name, node.op_type, opset, domain, len(node.output),
                          subgraph_runner=lambda g, env: _run_subgraph(graph, g, env, tensors))
        ins = []
        roots = []
        for i in node.input:
            if not i:
                ins.append(None)
                continue
            t = tensors.get(i)
            if i in unknown_root:
                roots.append(unknown_root[i])
            ins.append(t)
        if any(i in dead for i in node.input if i):
            # the model already cannot run (result.impossible says why): nothing to prove
            dead.update(o for o in node.output if o)
            for o in node.output:
                if o:
                    tensors[o] = Tensor(None)
            continue
        entry = registry.lookup(domain, node.op_type, opset)
        outs = None
        root = None
        try:
            if entry is None:
                where = f"domain '{domain}' " if domain else ""
                raise Unsupported(f"graphshape has no rule for {where}op {node.op_type} "
                                  f"(opset {opset})")
            if roots and any(t is None or t.shape is None for t in ins if t is not None):
                raise Unsupported("depends on an unknown shape")
            attrs = attribute_values(node)
            outs = call_rule(entry, ctx, ins, attrs)
            if isinstance(outs, Tensor):
                outs = [outs]
            outs = list(outs)
        except ShapeError as e:
            if roots:
                root = roots[0]
            else:
                if e.node is None:
                    e = ShapeError(e.detail, name, node.op_type)
                result.impossible.append(e)
                outs = None
                dead.update(o for o in node.output if o)
        except Unsupported as e:
            root = roots[0] if roots else Unproven(name, node.op_type, str(e))
        except GraphShapeError:
            raise
        except Exception as e:  # a bug in a rule must make the answer unproven, never wrong
            root = roots[0] if roots else Unproven(
                name, node.op_type, f"internal error in its rule ({type(e).__name__}: {e})")
        if outs is None:
            if root is not None and root not in result.unproven and not roots:
                result.unproven.append(root)
            for o in node.output:
                if o:
                    tensors[o] = Tensor(None)
                    if root is not None:
                        unknown_root[o] = root
            continue
        if roots and root is None:
            # inputs were partly unknown but the rule coped (e.g. Shape of unknown rank never
            # reaches here); keep the root so the unknown still counts
            pass
        for reason in ctx.assumptions:
            result.unproven.append(Unproven(name, node.op_type, reason))
        result.constraints.extend(ctx.constraints)
        result.spec_notes.extend(ctx.spec_notes)
        result.data_dependent.extend(ctx.fresh_symbols)
        for o, t in zip(node.output, outs):
            if o:
                tensors[o] = t
        for o in list(node.output)[len(outs):]:
            if o:
                tensors[o] = Tensor(None)
                unknown_root[o] = Unproven(name, node.op_type, "optional output not inferred")
    result.node_count = len(graph.nodes)
    return result


def _run_subgraph(parent, g, env: dict, outer_tensors: dict):
    """Propagate a subgraph (If/Loop/Scan body) with the enclosing scope visible."""
    from .model import Graph, tensor_from_initializer, topo_sort

    inits = {t.name: tensor_from_initializer(t, None) for t in g.initializer}
    inputs = dict(env)
    available = set(outer_tensors) | set(inits) | set(inputs)
    nodes = topo_sort(list(g.node), available, graph_name=f"subgraph '{g.name}'")
    sub = Graph(parent.model, parent.opsets, inputs, inits, nodes, [o.name for o in g.output],
                [])
    return propagate(sub, outer=outer_tensors)


def symbols_of(constraint) -> set:
    return constraint.symbols()


def dims_symbols(shape) -> set:
    out = set()
    for d in shape or ():
        out |= free_symbols(d)
    return out
