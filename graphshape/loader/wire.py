"""Reading ONNX files: the wire format (without importing onnx), large files read without
their float weights, external data and initializer sizes checked as onnxruntime checks them.

``import onnx`` costs 0.6-1 s, mostly ml_dtypes pulled in by onnx.helper. So this module
never imports the onnx package on the common path: :func:`onnx_pb` executes onnx's generated
protobuf module (``onnx/onnx_ml_pb2.py``) by file path under a private name, without running
``onnx/__init__.py``. Its message classes are the very classes ``onnx`` exposes (protobuf
keeps one class per descriptor), so a ModelProto from here is an ``onnx.ModelProto``.
"""

from __future__ import annotations

import importlib.util
import mmap
import os
import sys

from graphshape.dtypes import DataType
from graphshape.errors import InvalidModelError, ModelLoadError

EXTERNAL = 1  # TensorProto.EXTERNAL
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
    import onnx  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it

    return onnx.onnx_ml_pb2



# -- reading large files without their float weights -------------------------------------------
# A model's float weights (raw_data of float initializers) never decide a shape, and they are
# most of a file's bytes (ResNet-50: 100 MB, VGG-11: 500 MB). For a file over TRIM_MIN_BYTES,
# the top-level ModelProto/GraphProto/TensorProto fields are walked on an mmap of the file and
# the raw_data of float initializers larger than TRIM_MIN_RAW is left out of the bytes handed to
# protobuf, so those pages are never read. Integer initializers (indices, shapes) keep their
# bytes: rules read their bounds. Any surprise in the wire format: the whole file is parsed.
TRIM_MIN_BYTES = 8 << 20
TRIM_MIN_RAW = 4096  # well above the 64 values * 8 bytes whose contents are ever decoded
_FLOAT_DTYPES = frozenset(t for t in DataType if t.is_floating or t.is_complex)


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
_RAW_ITEMSIZE = {t: t.itemsize for t in DataType if t.itemsize}
_PACKED4 = frozenset(t for t in DataType if t.bits == 4)
_TYPED_FIELD = {t: t.field for t in DataType if t.field}


def _data_size_error(name: str, dtype: int, dims, raw_len, count) -> str | None:
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


def check_initializer_data(g) -> None:
    """Initializers, and Constant nodes' value tensors (onnxruntime turns them into
    initializers and checks them alike: measured), of this graph and its subgraphs."""
    for n, t in _graph_tensors(g):
        if n is None:
            name = t.name
        elif n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            name = n.output[0] if n.output else t.name
        else:
            continue
        if t.data_location == EXTERNAL or t.doc_string == _TRIMMED_MARK:
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

def _check_external_data(model, base_dir: str) -> None:
    for t in _all_tensors(model):
        if t.data_location != EXTERNAL:
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


def load_proto(source: str | os.PathLike | object, trim: bool = False) -> tuple:
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
        import onnx  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it

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
