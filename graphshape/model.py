"""Loading: onnx.load (external data checked, not read), opsets, topological order, and
``--dim input:axis=NAME`` re-symbolisation of fixed axes."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np
import onnx
from onnx import numpy_helper

from .dims import symbol
from .errors import InvalidModelError, ModelLoadError, UsageError
from .tensor import MAX_VALUE_ELEMENTS, Tensor

_DIM_SPEC = re.compile(r"^(?P<input>[^=]+):(?P<axis>-?\d+)=(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")


@dataclass
class Graph:
    model: onnx.ModelProto
    opsets: dict
    inputs: dict  # name -> Tensor (symbolic shape)
    initializers: dict  # name -> Tensor
    nodes: list  # topologically ordered NodeProto
    outputs: list  # output names
    symbols: list  # input symbols in first-seen order
    path: Optional[str] = None
    declared_dims: dict = field(default_factory=dict)  # input -> declared (pre-override) shape


def parse_dim_specs(dims) -> dict:
    """{"input:2": "H"} or ["input:2=H"] -> {("input", 2): "H"}."""
    out = {}
    if not dims:
        return out
    items = dims.items() if isinstance(dims, dict) else [(d, None) for d in dims]
    for k, v in items:
        text = f"{k}={v}" if v is not None else str(k)
        m = _DIM_SPEC.match(text.strip())
        if not m:
            raise UsageError(
                f"bad dim spec '{text}': expected INPUT:AXIS=NAME, e.g. input:2=H")
        out[(m["input"], int(m["axis"]))] = m["name"]
    return out


def _check_external_data(model: onnx.ModelProto, base_dir: str) -> None:
    for t in _all_tensors(model):
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location")
        if not loc:
            raise ModelLoadError(f"initializer '{t.name}' has external data without a location")
        full = os.path.normpath(os.path.join(base_dir, loc))
        if os.path.isabs(loc) or not full.startswith(os.path.normpath(base_dir)):
            raise ModelLoadError(
                f"initializer '{t.name}': external data location '{loc}' is outside the "
                "model's folder")
        if not os.path.isfile(full):
            raise ModelLoadError(
                f"initializer '{t.name}': external data file '{loc}' not found next to the model")
        need = int(info.get("offset", 0)) + int(info.get("length", 0))
        if need > os.path.getsize(full):
            raise ModelLoadError(
                f"initializer '{t.name}': external data file '{loc}' is shorter than declared "
                f"({os.path.getsize(full)} < {need} bytes)")


def _all_tensors(model):
    def walk(g):
        yield from g.initializer
        for n in g.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.TENSOR:
                    yield a.t
                for sg in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                    yield from walk(sg)

    yield from walk(model.graph)


def load_proto(source: Union[str, os.PathLike, onnx.ModelProto]) -> tuple:
    """(ModelProto, path or None). Raises ModelLoadError with one line for any bad file."""
    if isinstance(source, onnx.ModelProto):
        return source, None
    path = os.fspath(source)
    if not os.path.exists(path):
        raise ModelLoadError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ModelLoadError(f"{path}: is a directory, not an ONNX file")
    if os.path.getsize(path) == 0:
        raise ModelLoadError(f"{path}: empty file")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as e:  # protobuf DecodeError, RuntimeWarning variants, OSError
        raise ModelLoadError(
            f"{path}: not a readable ONNX model (truncated or corrupt protobuf: "
            f"{type(e).__name__})") from None
    if not model.HasField("graph") or (len(model.graph.node) == 0 and
                                        len(model.graph.output) == 0):
        raise ModelLoadError(f"{path}: protobuf parsed but holds no ONNX graph")
    _check_external_data(model, os.path.dirname(os.path.abspath(path)))
    return model, path


def tensor_from_initializer(t: onnx.TensorProto, base_dir: Optional[str]) -> Tensor:
    shape = tuple(int(d) for d in t.dims)
    n = int(np.prod(shape)) if shape else 1
    value = _small_value(t, base_dir) if n <= MAX_VALUE_ELEMENTS else None
    return Tensor(shape, t.data_type, value)


def _small_value(t: onnx.TensorProto, base_dir: Optional[str]):
    try:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            if base_dir is None:
                return None
            t2 = onnx.TensorProto()
            t2.CopyFrom(t)
            onnx.external_data_helper.load_external_data_for_tensor(t2, base_dir)
            t = t2
        arr = numpy_helper.to_array(t)
    except Exception:
        return None
    if arr.dtype.kind in "iub":
        return tuple(int(x) for x in arr.reshape(-1))
    if arr.dtype.kind == "f":
        return tuple(float(x) for x in arr.reshape(-1))
    return None


def topo_sort(nodes, available: set, graph_name: str = "main graph") -> list:
    """Kahn's algorithm keeping the file order among ready nodes; rejects cycles and
    inputs nobody produces."""
    produced_by = {}
    for i, n in enumerate(nodes):
        for o in n.output:
            if o:
                produced_by[o] = i
    deps = []
    for i, n in enumerate(nodes):
        d = set()
        for name in list(n.input) + sorted(_implicit_inputs(n)):
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
    import heapq

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


def _implicit_inputs(node) -> set:
    """Names a node's subgraphs read from the enclosing scope."""
    out = set()
    for a in node.attribute:
        graphs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
        for g in graphs:
            local = {i.name for i in g.input} | {t.name for t in g.initializer}
            for n in g.node:
                local |= set(n.output)
            for n in g.node:
                for name in list(n.input) + list(_implicit_inputs(n)):
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


def input_shape(vi, overrides: dict, declared: dict) -> tuple:
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type"):
        raise InvalidModelError(f"input '{vi.name}' is not a tensor (sequences/maps unsupported)")
    if not tt.HasField("shape"):
        raise InvalidModelError(f"input '{vi.name}' has no declared rank")
    shape = []
    decl = []
    rank = len(tt.shape.dim)
    for axis, d in enumerate(tt.shape.dim):
        if d.HasField("dim_value"):
            decl.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            decl.append(d.dim_param)
        else:
            decl.append(None)
        name = overrides.get((vi.name, axis)) or overrides.get((vi.name, axis - rank))
        if name:
            shape.append(symbol(name))
        elif d.HasField("dim_value"):
            if d.dim_value < 0:
                raise InvalidModelError(f"input '{vi.name}' axis {axis} has size {d.dim_value}")
            shape.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            shape.append(symbol(_sanitize(d.dim_param)))
        else:
            shape.append(symbol(_sanitize(f"{vi.name}_{axis}")))
    declared[vi.name] = decl
    return tuple(shape)


def load(source, dims=None) -> Graph:
    model, path = load_proto(source)
    overrides = parse_dim_specs(dims)
    opsets = {}
    for imp in model.opset_import:
        opsets["" if imp.domain == "ai.onnx" else imp.domain] = int(imp.version)
    if "" not in opsets:
        opsets[""] = 1 if model.opset_import else 21
    g = model.graph
    base_dir = os.path.dirname(os.path.abspath(path)) if path else None
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
    for vi in g.input:
        if vi.name in inits:
            continue  # an initializer with a default value: a constant, not a user input
        shape = input_shape(vi, overrides, declared)
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
                 declared)
