"""The Graph: opsets, inputs with symbolic dims (fixed axes re-symbolised on request),
initializers as known values, nodes in topological order, declared shapes and types. The
bytes come from wire.py, tensor contents from contents.py."""

from __future__ import annotations

import heapq
import os
import re
from dataclasses import dataclass, field

from graphshape.arith.dims import size_symbol
from graphshape.errors import InvalidModelError, Unsupported, UsageError
from graphshape.loader.contents import tensor_from_initializer
from graphshape.loader.tensor import Tensor
from graphshape.loader.wire import check_initializer_data, load_proto

__all__ = ["Graph", "load", "parse_dim_specs", "dim_bounds", "inferred_empty", "topo_sort", "input_shape", "implicit_inputs",
           "declared_shapes", "declared_types", "input_shape_dims", "model_input_names"]

_DIM_SPEC = re.compile(r"^(?P<input>[^=]+):(?P<axis>-?\d+)=(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                       r"(?:\s*>=\s*(?P<least>[01]))?$")

# files onnx.load reads as text (onnx/serialization.py): left to onnx itself
@dataclass
class Graph:
    model: object  # onnx.ModelProto
    opsets: dict
    inputs: dict  # name -> Tensor (symbolic shape)
    initializers: dict  # name -> Tensor
    nodes: list  # topologically ordered NodeProto
    outputs: list  # output names
    symbols: list  # input symbols in first-seen order
    path: str | None = None
    declared_dims: dict = field(default_factory=dict)  # input -> declared (pre-override) shape
    # value name -> its shape declared in value_info or as a graph output (an int per fixed
    # dim, None otherwise), for values with at least one fixed dim
    declared_shapes: dict = field(default_factory=dict)
    declared_types: dict = field(default_factory=dict)  # name -> declared element type
    # opsets newer than onnxruntime loads make nodes unproven (off for the onnx backend
    # tests, whose reference outputs are the arbiter there)
    runtime_opsets: bool = True
    # load(..., sizes=): name -> the int its axes were given instead of a symbol, and the
    # inputs with such an axis
    at_sizes: dict = field(default_factory=dict)
    sized_inputs: frozenset = frozenset()


def parse_dim_specs(dims) -> dict:
    """{"input:2": "H"} or ["input:2=H"] -> {("input", 2): "H"}. A name may carry its least
    value, ``P>=0`` (the size may be 0: a KV cache's past length) or ``P>=1``:
    dim_bounds() reads it."""
    return {k: v[0] for k, v in _parse_dims(dims).items()}


def dim_bounds(dims) -> dict:
    """The least value each --dim spec declares for its name: {"P": 0} for ``past:2=P>=0``
    (names without one are left out)."""
    out: dict = {}
    for name, least in _parse_dims(dims).values():
        if least is None:
            continue
        if out.get(name, least) != least:
            raise UsageError(f"dim '{name}' is declared both >= 0 and >= 1")
        out[name] = least
    return out


def _parse_dims(dims) -> dict:
    out = {}
    if not dims:
        return out
    items = dims.items() if isinstance(dims, dict) else [(d, None) for d in dims]
    for k, v in items:
        text = f"{k}={v}" if v is not None else str(k)
        m = _DIM_SPEC.match(text.strip())
        if not m:
            raise UsageError(
                f"bad dim spec '{text}': expected INPUT:AXIS=NAME (NAME>=0 for a size that "
                "may be 0), e.g. input:2=H")
        least = None if m["least"] is None else int(m["least"])
        out[(m["input"], int(m["axis"]))] = (m["name"], least)
    return out


def input_shape_dims(spec: str, input_names: list) -> list:
    """onnxsim-style ``1,3,H,W`` (the first input) or ``name:1,3,H,W`` -> --dim specs for the
    axes given a name (numbers keep the model's own sizes)."""
    name, _, dims = spec.rpartition(":")
    if not name:
        if not input_names:
            raise UsageError("--input-shape: the model has no inputs")
        name = input_names[0]
    out = []
    for axis, d in enumerate(x.strip() for x in dims.split(",")):
        if not d:
            raise UsageError(f"bad --input-shape '{spec}': empty dim")
        if d.lstrip("-").isdigit():
            continue
        base, _, least = d.replace(" ", "").partition(">=")  # P>=0: a size that may be 0
        if not (base[0].isalpha() or base[0] == "_") or not base.replace("_", "").isalnum() \
                or least not in ("", "0", "1"):
            raise UsageError(f"bad --input-shape '{spec}': '{d}' is neither a number nor a name"
                             " (NAME or NAME>=0)")
        out.append(f"{name}:{axis}={base}" + (f">={least}" if least else ""))
    return out


def model_input_names(model) -> list:
    """The model's inputs a caller feeds (initializers with a default value left out)."""
    inits = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def topo_sort(nodes, available: set, graph_name: str = "main graph") -> list:
    """Kahn's algorithm keeping the file order among ready nodes; rejects cycles and
    inputs nobody produces."""
    produced_by = {}
    for i, n in enumerate(nodes):
        for o in n.output:
            if not o:
                continue
            if o in produced_by or (graph_name == "main graph" and o in available):
                raise InvalidModelError(
                    f"{n.op_type} (node '{n.name or i}'): value '{o}' of the {graph_name} is "
                    "defined twice (onnxruntime refuses the model: 'Duplicate definition')")
            produced_by[o] = i
    deps = []
    for i, n in enumerate(nodes):
        d = set()
        for name in list(n.input) + sorted(implicit_inputs(n)):
            if not name or name in available:
                continue
            if name not in produced_by:
                raise InvalidModelError(
                    f"{n.op_type} (node '{n.name or i}'): input '{name}' is produced by no node, "
                    f"initializer or graph input of the {graph_name}")
            d.add(produced_by[name])
        d.discard(i) if i not in d else None
        deps.append(d)
    users: dict = {i: [] for i in range(len(nodes))}
    indeg = [len(d) for d in deps]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)

    ready = [i for i, k in enumerate(indeg) if k == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i])
        for u in users[i]:
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        stuck = [nodes[i] for i, k in enumerate(indeg) if k > 0]
        n = stuck[0]
        raise InvalidModelError(
            f"graph has a cycle through {len(stuck)} nodes, e.g. {n.op_type} (node '{n.name}')")
    return order


def implicit_inputs(node) -> set:
    """Names a node's subgraphs read from the enclosing scope."""
    out = set()
    for a in node.attribute:
        graphs = [a.g] if a.type == 5 else list(a.graphs)  # GRAPH / GRAPHS
        for g in graphs:
            local = {i.name for i in g.input} | {t.name for t in g.initializer}
            for n in g.node:
                local |= set(n.output)
            for n in g.node:
                for name in list(n.input) + list(implicit_inputs(n)):
                    if name and name not in local:
                        out.add(name)
            for o in g.output:
                if o.name not in local:
                    out.add(o.name)
    return out


def _sanitize(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not s or s[0].isdigit():
        s = "d_" + s
    return s


def input_shape(vi, overrides: dict, declared: dict, empty: frozenset = frozenset(),
                sizes: dict | None = None, used: dict | None = None) -> tuple:
    """The input's shape: fixed dims as ints, named axes as symbols, or as the int ``sizes``
    gives for the name (recorded in ``used``; never for a size that may be 0)."""
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type"):
        raise Unsupported(f"input '{vi.name}' is not a tensor: graphshape analyses tensor "
                          "inputs only (sequences, maps and optionals are not modelled)")
    if not tt.HasField("shape"):  # onnxruntime runs it at any rank: nothing to reason from
        raise Unsupported(f"input '{vi.name}' has no declared rank (onnxruntime takes any): "
                          "graphshape needs each input's rank")
    shape = []
    decl = []
    for axis, d in enumerate(tt.shape.dim):
        if d.HasField("dim_value"):
            decl.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            decl.append(d.dim_param)
        else:
            decl.append(None)
        name = _axis_name(vi, axis, overrides)
        if name is None:
            shape.append(int(d.dim_value))
        elif sizes is not None and name in sizes and name not in empty:
            shape.append(sizes[name])
            if used is not None:
                used[name] = sizes[name]
        else:
            shape.append(size_symbol(name, name in empty))
    declared[vi.name] = decl
    return tuple(shape)


def _axis_name(vi, axis: int, overrides: dict) -> str | None:
    """The symbol name of an input axis (None: a fixed size the model keeps)."""
    d = vi.type.tensor_type.shape.dim[axis]
    rank = len(vi.type.tensor_type.shape.dim)
    name = overrides.get((vi.name, axis)) or overrides.get((vi.name, axis - rank))
    if name:
        return name
    if d.HasField("dim_value") and d.dim_value >= 0:
        return None
    if d.HasField("dim_param") and d.dim_param:
        return _sanitize(d.dim_param)
    # no size, or a negative one (some converters write -1): onnxruntime takes it as
    # unknown and runs every size (measured on 1.31.1)
    return _sanitize(f"{vi.name}_{axis}")


_SHAPE_READERS = {"Shape", "Size"}


def inferred_empty(g, overrides: dict, inits: dict) -> set:
    """Input size names the model makes plain may be 0: every input axis named so is
    read only by Concat along that axis next to a computed (non-input) operand, or by
    Shape/Size: a KV cache's past length, concatenated with the new tokens' keys and
    values (P = 0 at the first step; onnxruntime's Concat skips an empty input)."""
    inputs = {vi.name: vi for vi in g.input if vi.name not in inits and
              vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape")}
    consumers: dict = {}
    for n in g.node:
        for i in n.input:
            if i:
                consumers.setdefault(i, []).append(n)
    where: dict = {}  # name -> [(input, axis)]
    for vi in inputs.values():
        for axis in range(len(vi.type.tensor_type.shape.dim)):
            name = _axis_name(vi, axis, overrides)
            if name is not None:
                where.setdefault(name, []).append((vi.name, axis))
    out = set()
    for name, places in where.items():
        concatenated = False
        plain = True
        for inp, axis in places:
            rank = len(inputs[inp].type.tensor_type.shape.dim)
            users = consumers.get(inp, [])
            if not users:
                plain = False
            for n in users:
                if n.op_type in _SHAPE_READERS and n.domain in ("", "ai.onnx"):
                    continue
                ax = next((a.i for a in n.attribute if a.name == "axis"), None)
                if n.op_type == "Concat" and n.domain in ("", "ai.onnx") and ax is not None \
                        and ax % rank == axis and \
                        any(x and x != inp and x not in inputs for x in n.input):
                    concatenated = True
                    continue
                plain = False
        if plain and concatenated:
            out.add(name)
    return out


def declared_shapes(g) -> dict:
    """Fixed dims a graph declares for its values (value_info, outputs): name -> (int or
    None per axis), only for values with at least one fixed dim."""
    out = {}
    for vi in list(g.value_info) + list(g.output):
        if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
            continue
        dims = tuple(int(d.dim_value) if d.HasField("dim_value") else None
                     for d in vi.type.tensor_type.shape.dim)
        if any(d is not None for d in dims):
            out[vi.name] = dims
    return out


def declared_types(g) -> dict:
    """Element types a graph declares for its values (value_info, outputs): name -> type,
    tensors with a set element type only."""
    return {vi.name: int(vi.type.tensor_type.elem_type)
            for vi in list(g.value_info) + list(g.output)
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type}


def _inline_functions(model):
    """The model with its local functions (FunctionProto) inlined, as onnxruntime inlines
    them when it loads the model (onnx.inliner; a function it cannot inline stays a node of
    its own domain, which graphshape reports as an op without a rule)."""
    try:
        from onnx import inliner  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it

        return inliner.inline_local_functions(model)
    except Exception:  # noqa: BLE001  (left as it is: its nodes are then unproven)
        return model


def load(source, dims=None, sizes: dict | None = None) -> Graph:
    """The graph to analyse. Its ``model`` is read with trim=True: the raw_data of large float
    initializers is left out (shapes never depend on it); do not save it as the model.
    ``sizes`` (name -> int) puts those named axes at a concrete size instead of a symbol
    (a size that may be 0 stays a symbol): the graph of one check at concrete sizes
    (answers/at_sizes.py); ``at_sizes`` says which names it took."""
    model, path = load_proto(source, trim=True)
    if model.functions:
        model = _inline_functions(model)
    overrides = parse_dim_specs(dims)
    least = dim_bounds(dims)
    opsets = {}
    for imp in model.opset_import:
        opsets["" if imp.domain == "ai.onnx" else imp.domain] = int(imp.version)
    if not model.opset_import:
        raise InvalidModelError("the model imports no opset (opset_import is empty): "
                                "onnxruntime refuses it ('Missing opset in the model')")
    if "" not in opsets:
        opsets[""] = 1
    g = model.graph
    base_dir = os.path.dirname(os.path.abspath(path)) if path else None
    check_initializer_data(g)
    inits = {t.name: tensor_from_initializer(t, base_dir) for t in g.initializer}
    for t in g.sparse_initializer:
        inits[t.values.name] = Tensor(tuple(int(d) for d in t.dims), t.values.data_type)
    inputs = {}
    declared: dict = {}
    input_names = {vi.name for vi in g.input}
    for (iname, _axis) in overrides:
        if iname not in input_names:
            raise UsageError(
                f"--dim names input '{iname}', but the model's inputs are: "
                + ", ".join(sorted(n for n in input_names if n not in inits)))
    used: dict = {}
    sized: set = set()
    empty = frozenset({n for n, k in least.items() if k == 0} |
                      {n for n in inferred_empty(g, overrides, inits) if least.get(n) != 1})
    for vi in g.input:
        if vi.name in inits:
            continue  # an initializer with a default value: a constant, not a user input
        shape = input_shape(vi, overrides, declared, empty, sizes, used)
        if any(_axis_name(vi, axis, overrides) in used for axis in range(len(shape))):
            sized.add(vi.name)
        for (iname, axis), _ in overrides.items():
            if iname == vi.name and not -len(shape) <= axis < len(shape):
                raise UsageError(f"--dim {iname}:{axis}: input '{iname}' has rank {len(shape)}")
        inputs[vi.name] = Tensor(shape, vi.type.tensor_type.elem_type)
    syms = []
    for t in inputs.values():
        for d in t.shape:
            if not isinstance(d, int) and d not in syms:
                syms.append(d)
    available = set(inputs) | set(inits)
    nodes = topo_sort(list(g.node), available)
    produced = set(available)
    for n in nodes:
        produced |= set(n.output)
    for o in g.output:
        if o.name not in produced:
            raise InvalidModelError(f"graph output '{o.name}' is produced by no node")
    return Graph(model, opsets, inputs, inits, nodes, [o.name for o in g.output], syms, path,
                 declared, declared_shapes(g), declared_types(g), at_sizes=used,
                 sized_inputs=frozenset(sized))
