"""Loading: the ModelProto (external data checked, not read), opsets, topological order, and
``--dim input:axis=NAME`` re-symbolisation of fixed axes.

The CLI's start-up matters (a pre-commit hook runs ``graphshape check`` on every commit), and
``import onnx`` costs 0.6-1 s, mostly ml_dtypes pulled in by onnx.helper. So this module
never imports the onnx package on the common path: :func:`onnx_pb` executes onnx's generated
protobuf module (``onnx/onnx_ml_pb2.py``) by file path under a private name, without running
``onnx/__init__.py``. Its message classes are the very classes ``onnx`` exposes (protobuf
keeps one class per descriptor), so a ModelProto from here is an ``onnx.ModelProto``.
Tensor contents are decoded with ``struct`` (initializer values) or numpy (attribute tensors,
imported only when a node has one); anything exotic (text formats, bfloat16, float8, int4,
strings, segments) falls back to the real onnx package.
"""

from __future__ import annotations

import importlib.util
import os
import re
import struct
import sys
from dataclasses import dataclass, field
from typing import Optional, Union

from .dims import symbol
from .errors import InvalidModelError, ModelLoadError, Unsupported, UsageError
from .tensor import MAX_VALUE_ELEMENTS, Tensor

__all__ = ["Graph", "load", "load_proto", "parse_dim_specs", "topo_sort", "input_shape",
           "tensor_from_initializer", "tensor_values", "tensor_to_array", "attribute_values",
           "onnx_pb"]

_DIM_SPEC = re.compile(r"^(?P<input>[^=]+):(?P<axis>-?\d+)=(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")

# files onnx.load reads as text (onnx/serialization.py): left to onnx itself
_TEXT_EXTENSIONS = frozenset({".txtpb", ".textproto", ".prototxt", ".pbtxt", ".json",
                              ".onnxjson", ".onnxtxt", ".onnxtext"})

_PB = None


def onnx_pb():
    """onnx's generated protobuf module (ModelProto, TensorProto, AttributeProto, ...).

    The real ``onnx.onnx_ml_pb2`` when onnx is already imported; otherwise the same file
    executed under a private module name, which costs the protobuf runtime only (~0.05 s)
    instead of all of onnx."""
    global _PB
    if _PB is not None:
        return _PB
    mod = sys.modules.get("onnx.onnx_ml_pb2")
    if mod is None:
        mod = _load_private_pb()
    _PB = mod
    return mod


def _load_private_pb():
    try:
        spec = importlib.util.find_spec("onnx")  # locates the package; does not execute it
        locations = list(spec.submodule_search_locations or []) if spec else []
        for loc in locations:
            path = os.path.join(loc, "onnx_ml_pb2.py")
            if not os.path.isfile(path):
                continue
            name = "_graphshape_onnx_ml_pb2"
            pspec = importlib.util.spec_from_file_location(name, path)
            mod = importlib.util.module_from_spec(pspec)
            pspec.loader.exec_module(mod)
            sys.modules[name] = mod
            return mod
    except Exception:  # noqa: BLE001  an unusual onnx install: use the package itself
        pass
    import onnx

    return onnx.onnx_ml_pb2


@dataclass
class Graph:
    model: object  # onnx.ModelProto
    opsets: dict
    inputs: dict  # name -> Tensor (symbolic shape)
    initializers: dict  # name -> Tensor
    nodes: list  # topologically ordered NodeProto
    outputs: list  # output names
    symbols: list  # input symbols in first-seen order
    path: Optional[str] = None
    declared_dims: dict = field(default_factory=dict)  # input -> declared (pre-override) shape
    # value name -> its shape declared in value_info or as a graph output (an int per fixed
    # dim, None otherwise), for values with at least one fixed dim
    declared_shapes: dict = field(default_factory=dict)
    declared_types: dict = field(default_factory=dict)  # name -> declared element type
    # opsets newer than onnxruntime loads make nodes unproven (off for the onnx backend
    # tests, whose reference outputs are the arbiter there)
    runtime_opsets: bool = True


# -- reading large files without their float weights -------------------------------------------
# A model's float weights (raw_data of float initializers) never decide a shape, and they are
# most of a file's bytes (ResNet-50: 100 MB, VGG-11: 500 MB). For a file over TRIM_MIN_BYTES,
# the top-level ModelProto/GraphProto/TensorProto fields are walked on an mmap of the file and
# the raw_data of float initializers larger than TRIM_MIN_RAW is left out of the bytes handed to
# protobuf, so those pages are never read. Integer initializers (indices, shapes) keep their
# bytes: rules read their bounds. Any surprise in the wire format: the whole file is parsed.
TRIM_MIN_BYTES = 8 << 20
TRIM_MIN_RAW = 4096  # well above the 64 values * 8 bytes whose contents are ever decoded
_FLOAT_DTYPES = {1, 10, 11, 14, 15, 16, 17, 18, 19, 20, 23}  # float*, complex*, bfloat16, fp8/4


def _varint(buf, pos: int, end: int) -> tuple:
    shift = result = 0
    while True:
        if pos >= end or shift > 63:
            raise ValueError("bad varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _enc_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(buf, pos: int, end: int):
    """(field number, wire type, start of field, start of payload, end of field)."""
    while pos < end:
        start = pos
        tag, pos = _varint(buf, pos, end)
        num, wt = tag >> 3, tag & 7
        if wt == 0:
            _, pos2 = _varint(buf, pos, end)
            yield num, wt, start, pos, pos2
            pos = pos2
        elif wt == 2:
            n, p = _varint(buf, pos, end)
            if p + n > end:
                raise ValueError("field past its message")
            yield num, wt, start, p, p + n
            pos = p + n
        elif wt in (1, 5):
            pos2 = pos + (8 if wt == 1 else 4)
            if pos2 > end:
                raise ValueError("field past its message")
            yield num, wt, start, pos, pos2
            pos = pos2
        else:
            raise ValueError("group wire type")


def _trim_tensor(buf, s: int, e: int):
    """The TensorProto's bytes without a large float raw_data, or None to keep it whole. The
    raw_data left out is checked against the shape here (see _data_size_error)."""
    dtype, raw, dims, name = None, None, [], b""
    for num, wt, start, p, end in _fields(buf, s, e):
        if num == 2 and wt == 0:
            dtype = _varint(buf, p, end)[0]
        elif num == 9 and wt == 2 and end - p >= TRIM_MIN_RAW:
            raw = (start, end, end - p)
        elif num == 1 and wt == 0:
            dims.append(_varint(buf, p, end)[0])
        elif num == 1 and wt == 2:  # packed dims
            q = p
            while q < end:
                d, q = _varint(buf, q, end)
                dims.append(d)
        elif num == 8 and wt == 2:
            name = bytes(buf[p:end])
    if raw is None or dtype not in _FLOAT_DTYPES:
        return None
    why = _data_size_error(name.decode("utf-8", "replace"), dtype, dims, raw[2], 0)
    if why:
        raise InvalidModelError(why)
    return [buf[s:raw[0]], buf[raw[1]:e], _TRIMMED_FIELD]


# a trimmed tensor's doc_string (TensorProto field 12), so that its missing data is not read
# as a tensor without values
_TRIMMED_MARK = "\x00graphshape: raw_data left out"
_TRIMMED_FIELD = b"\x62" + _enc_varint(len(_TRIMMED_MARK)) + _TRIMMED_MARK.encode()

# bytes per element of raw_data (packed 4-bit types: two per byte); the typed field that
# holds the values otherwise (onnx.proto); types not listed are not checked
_RAW_ITEMSIZE = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8,
                 14: 8, 15: 16, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1}
_PACKED4 = {21, 22, 23}
_TYPED_FIELD = {1: "float_data", 2: "int32_data", 3: "int32_data", 4: "int32_data",
                5: "int32_data", 6: "int32_data", 9: "int32_data", 10: "int32_data",
                16: "int32_data", 7: "int64_data", 11: "double_data", 12: "uint64_data",
                13: "uint64_data", 8: "string_data"}


def _data_size_error(name: str, dtype: int, dims, raw_len, count) -> Optional[str]:
    """What onnxruntime says of an embedded initializer whose data does not fit its shape
    (ValidateEmbeddedTensorProtoDataSizeAndShape, measured on 1.31.1: raw_data of another
    size, or as many typed values as elements when there is no raw_data); None if it fits.
    ``raw_len`` is None without raw_data; ``count`` the typed values then."""
    n = 1
    for d in dims:
        n *= int(d)
    if raw_len is not None:
        if dtype in _PACKED4:
            need = (n + 1) // 2
        elif dtype in _RAW_ITEMSIZE:
            need = n * _RAW_ITEMSIZE[dtype]
        else:
            return None
        if raw_len != need:
            return (f"initializer '{name}': raw_data is {raw_len} bytes where its shape "
                    f"{list(dims)} needs {need}: onnxruntime refuses the model")
        return None
    if dtype in _TYPED_FIELD and count != n:
        return (f"initializer '{name}': {count} values where its shape {list(dims)} needs {n}: "
                "onnxruntime refuses the model")
    return None


def _check_initializer_data(g) -> None:
    """Initializers, and Constant nodes' value tensors (onnxruntime turns them into
    initializers and checks them alike: measured), of this graph and its subgraphs."""
    for n, t in _graph_tensors(g):
        if n is None:
            name = t.name
        elif n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            name = n.output[0] if n.output else t.name
        else:
            continue
        if t.data_location == _EXTERNAL or t.doc_string == _TRIMMED_MARK:
            continue
        if t.HasField("raw_data"):
            why = _data_size_error(name, t.data_type, t.dims, len(t.raw_data), 0)
        else:
            field = _TYPED_FIELD.get(t.data_type)
            why = field and _data_size_error(name, t.data_type, t.dims, None,
                                             len(getattr(t, field)))
        if why:
            raise InvalidModelError(why)


def _trim_graph(buf, s: int, e: int):
    parts, dropped, last = [], 0, s
    for num, wt, start, p, end in _fields(buf, s, e):
        if num == 5 and wt == 2:  # GraphProto.initializer
            kept = _trim_tensor(buf, p, end)
            if kept is not None:
                body = b"".join(kept)
                parts += [buf[last:start], b"\x2a", _enc_varint(len(body)), body]
                last = end
                dropped += (end - p) - len(body)
    parts.append(buf[last:e])
    return parts, dropped


def _read_trimmed(path: str):
    """The ModelProto of a large binary file without its float weights' bytes; None when
    there is nothing to leave out or the wire format is not the plain one expected."""
    import mmap

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        try:
            parts, dropped, last = [], 0, 0
            size = len(mm)
            for num, wt, start, p, end in _fields(mm, 0, size):
                if num == 7 and wt == 2:  # ModelProto.graph
                    gparts, d = _trim_graph(mm, p, end)
                    if d:
                        body = b"".join(gparts)
                        parts += [mm[last:start], b"\x3a", _enc_varint(len(body)), body]
                        last = end
                        dropped += d
            if not dropped:
                return None
            parts.append(mm[last:size])
            data = b"".join(parts)
        except ValueError:
            return None
    model = onnx_pb().ModelProto()
    model.ParseFromString(data)
    return model

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


# -- tensor contents without onnx.numpy_helper ------------------------------------------------
# TensorProto.DataType -> (struct code, typed field) for the types decoded here; others
# (STRING, COMPLEX*, BFLOAT16, FLOAT8*, INT4/UINT4, FLOAT4) are left to onnx.numpy_helper.
_EXTERNAL = 1  # TensorProto.EXTERNAL
_STRUCT = {1: ("f", "float_data"), 2: ("B", "int32_data"), 3: ("b", "int32_data"),
           4: ("H", "int32_data"), 5: ("h", "int32_data"), 6: ("i", "int32_data"),
           7: ("q", "int64_data"), 9: ("?", "int32_data"), 10: ("e", "int32_data"),
           11: ("d", "double_data"), 12: ("I", "uint64_data"), 13: ("Q", "uint64_data")}
_FLOAT_TYPES = {1, 10, 11}
# the C casts numpy's astype applies to the int32/uint64 storage of narrower integer types
_WRAP = {2: (8, False), 3: (8, True), 4: (16, False), 5: (16, True), 12: (32, False)}


def _numel(t) -> int:
    n = 1
    for d in t.dims:
        n *= int(d)
    return n


def _external_bytes(t, base_dir: str) -> bytes:
    info = {e.key: e.value for e in t.external_data}
    with open(os.path.join(base_dir, info["location"]), "rb") as f:
        f.seek(int(info.get("offset", 0) or 0))
        length = info.get("length")
        return f.read(int(length)) if length else f.read()


def _wrap(v: int, bits: int, signed: bool) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if signed and v >> (bits - 1) else v


def tensor_values(t, base_dir: Optional[str] = None) -> Optional[tuple]:
    """A TensorProto's contents, flat, as Python ints (integer and bool types) or floats
    (float16/32/64); None for any other type, segmented or malformed data, or external data
    without a folder to read it from. Uses ``struct`` only."""
    code = _STRUCT.get(t.data_type)
    if code is None or t.HasField("segment"):
        return None
    fmt, typed = code
    n = _numel(t)
    if t.data_location == _EXTERNAL:
        if base_dir is None:
            return None
        try:
            raw = _external_bytes(t, base_dir)
        except (OSError, KeyError, ValueError):
            return None
    else:
        raw = t.raw_data if t.HasField("raw_data") else None
    if raw is not None:
        if len(raw) != n * struct.calcsize(fmt):
            return None
        vals = struct.unpack(f"<{n}{fmt}", raw)
    else:
        vals = tuple(getattr(t, typed))
        if len(vals) != n:
            return None
        dt = t.data_type
        if dt == 10:
            vals = struct.unpack(f"<{n}e", struct.pack(f"<{n}H", *(v & 0xFFFF for v in vals)))
        elif dt in _WRAP:
            bits, signed = _WRAP[dt]
            vals = tuple(_wrap(v, bits, signed) for v in vals)
    if t.data_type in _FLOAT_TYPES:
        return tuple(float(v) for v in vals)
    return tuple(int(v) for v in vals)


_NP_NAMES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
             7: "int64", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64"}
_NP_STORAGE = {"float_data": "float32", "int32_data": "int32", "int64_data": "int64",
               "double_data": "float64", "uint64_data": "uint64"}


def tensor_to_array(t, base_dir: Optional[str] = None):
    """numpy_helper.to_array without importing onnx for the common types: raw_data (little
    endian) or the typed field, reshaped to dims; external data read from ``base_dir``.
    Exotic types and layouts go to onnx.numpy_helper itself."""
    import numpy as np

    name = _NP_NAMES.get(t.data_type)
    external = t.data_location == _EXTERNAL
    if name is None or t.HasField("segment") or (external and base_dir is None):
        from onnx import numpy_helper

        return numpy_helper.to_array(t) if base_dir is None else \
            numpy_helper.to_array(t, base_dir)
    shape = tuple(int(d) for d in t.dims)
    dtype = np.dtype(name)
    if external or t.HasField("raw_data"):
        raw = _external_bytes(t, base_dir) if external else t.raw_data
        arr = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype)
    else:
        typed = _STRUCT[t.data_type][1]
        data = np.asarray(getattr(t, typed), dtype=_NP_STORAGE[typed])
        if t.data_type == 10:
            arr = data.astype(np.uint16).view(np.float16)
        else:
            arr = data.astype(dtype)
    return arr.reshape(shape)


def attribute_values(node, base_dir: Optional[str] = None) -> dict:
    """A node's attributes by name, as graphshape.engine.attribute_values gives them
    (onnx.helper.get_attribute_value, tensors as numpy arrays, strings decoded) but without
    importing onnx. Names starting with '__' are left out: onnxruntime ignores them (onnx's
    internal symbols; measured on 1.31.1)."""
    out = {}
    for a in node.attribute:
        if a.name.startswith("__"):
            continue
        if a.ref_attr_name:
            raise Unsupported(f"attribute '{a.name}' refers to a function attribute")
        ty = a.type
        if ty == 2:
            v = a.i
        elif ty == 7:
            v = list(a.ints)
        elif ty == 1:
            v = a.f
        elif ty == 6:
            v = list(a.floats)
        elif ty == 3:
            v = a.s.decode("utf-8", "replace")
        elif ty == 8:
            v = [x.decode("utf-8", "replace") for x in a.strings]
        elif ty == 4:
            v = tensor_to_array(a.t, base_dir)
        elif ty == 5:
            v = a.g
        elif ty in _ATTR_FIELDS:
            f, many = _ATTR_FIELDS[ty]
            v = list(getattr(a, f)) if many else getattr(a, f)
        elif ty == 0:
            v = None
        else:
            raise ValueError(f"Unsupported ONNX attribute type {ty} ('{a.name}')")
        out[a.name] = v
    return out


_ATTR_FIELDS = {9: ("tensors", True), 10: ("graphs", True), 11: ("sparse_tensor", False),
                12: ("sparse_tensors", True), 13: ("tp", False), 14: ("type_protos", True)}


def _check_external_data(model, base_dir: str) -> None:
    for t in _all_tensors(model):
        if t.data_location != _EXTERNAL:
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


def _graph_tensors(g):
    """(node or None, tensor) for every initializer (None) and tensor attribute of ``g``
    and its subgraphs."""
    for t in g.initializer:
        yield None, t
    for n in g.node:
        for a in n.attribute:
            if a.type == 4:  # AttributeProto.TENSOR
                yield n, a.t
            for sg in ([a.g] if a.type == 5 else list(a.graphs)):  # GRAPH / GRAPHS
                yield from _graph_tensors(sg)


def _all_tensors(model):
    return (t for _, t in _graph_tensors(model.graph))


def load_proto(source: Union[str, os.PathLike, object], trim: bool = False) -> tuple:
    """(ModelProto, path or None). Raises ModelLoadError with one line for any bad file.
    ``trim``: float initializers over TRIM_MIN_RAW bytes lose their raw_data (shapes only)."""
    if not isinstance(source, (str, bytes, os.PathLike)) and hasattr(source, "graph"):
        return source, None  # an in-memory onnx.ModelProto
    path = os.fspath(source)
    if not os.path.exists(path):
        raise ModelLoadError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ModelLoadError(f"{path}: is a directory, not an ONNX file")
    if os.path.getsize(path) == 0:
        raise ModelLoadError(f"{path}: empty file")
    try:
        model = _read_model(path, trim)
    except InvalidModelError as e:  # read, and found wrong (an initializer's data size)
        raise InvalidModelError(f"{path}: {e}") from None
    except Exception as e:  # protobuf DecodeError, RuntimeWarning variants, OSError
        raise ModelLoadError(
            f"{path}: not a readable ONNX model (truncated or corrupt protobuf: "
            f"{type(e).__name__})") from None
    if not model.HasField("graph") or (len(model.graph.node) == 0 and
                                        len(model.graph.output) == 0):
        raise ModelLoadError(f"{path}: protobuf parsed but holds no ONNX graph")
    _check_external_data(model, os.path.dirname(os.path.abspath(path)))
    return model, path


def _read_model(path: str, trim: bool = False):
    """onnx.load(path, load_external_data=False) for binary protobuf files, without onnx;
    with ``trim``, large float initializers come without their bytes (_read_trimmed)."""
    if os.path.splitext(path)[1].lower() in _TEXT_EXTENSIONS:
        import onnx

        return onnx.load(path, load_external_data=False)
    if trim and os.path.getsize(path) >= TRIM_MIN_BYTES:
        model = _read_trimmed(path)
        if model is not None:
            return model
    with open(path, "rb") as f:
        data = f.read()
    model = onnx_pb().ModelProto()
    decoded = model.ParseFromString(data)
    if decoded is not None and decoded != len(data):  # as onnx.serialization checks
        raise ValueError(f"protobuf decoding consumed {decoded} of {len(data)} bytes")
    return model


def tensor_from_initializer(t, base_dir: Optional[str]) -> Tensor:
    shape = tuple(int(d) for d in t.dims)
    n = _numel(t)
    value = _small_value(t, base_dir) if n <= MAX_VALUE_ELEMENTS else None
    return Tensor(shape, t.data_type, value)


def _small_value(t, base_dir: Optional[str]):
    """The contents of a small initializer (ints or floats), None when not decodable."""
    try:
        return tensor_values(t, base_dir)
    except Exception:  # noqa: BLE001  undecodable contents are simply unknown
        return None


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
        graphs = [a.g] if a.type == 5 else list(a.graphs)  # GRAPH / GRAPHS
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
        raise Unsupported(f"input '{vi.name}' is not a tensor: graphshape analyses tensor "
                          "inputs only (sequences, maps and optionals are not modelled)")
    if not tt.HasField("shape"):  # onnxruntime runs it at any rank: nothing to reason from
        raise Unsupported(f"input '{vi.name}' has no declared rank (onnxruntime takes any): "
                          "graphshape needs each input's rank")
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
        elif d.HasField("dim_value") and d.dim_value >= 0:
            shape.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            shape.append(symbol(_sanitize(d.dim_param)))
        else:  # no size, or a negative one (some converters write -1): onnxruntime takes
            # it as unknown and runs every size (measured on 1.31.1)
            shape.append(symbol(_sanitize(f"{vi.name}_{axis}")))
    declared[vi.name] = decl
    return tuple(shape)


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
        from onnx import inliner

        return inliner.inline_local_functions(model)
    except Exception:  # noqa: BLE001  (left as it is: its nodes are then unproven)
        return model


def load(source, dims=None) -> Graph:
    """The graph to analyse. Its ``model`` is read with trim=True: the raw_data of large float
    initializers is left out (shapes never depend on it); do not save it as the model."""
    model, path = load_proto(source, trim=True)
    if model.functions:
        model = _inline_functions(model)
    overrides = parse_dim_specs(dims)
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
    _check_initializer_data(g)
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
                 declared, declared_shapes(g), declared_types(g))
