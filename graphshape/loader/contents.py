"""Tensor contents without onnx.numpy_helper: initializer values with ``struct``, arrays with
numpy (imported only when a node has an attribute tensor), node attributes, and the
initializer Tensors rules start from; anything exotic (text formats, bfloat16, float8,
int4, strings, segments) falls back to the real onnx package."""

from __future__ import annotations

import os
import struct

from graphshape.dtypes import DataType
from graphshape.errors import Unsupported
from graphshape.loader.tensor import MAX_VALUE_ELEMENTS, Bounds, Tensor
from graphshape.loader.wire import EXTERNAL

# -- tensor contents without onnx.numpy_helper ------------------------------------------------
# TensorProto.DataType -> (struct code, typed field) for the types decoded here; others
# (STRING, COMPLEX*, BFLOAT16, FLOAT8*, INT4/UINT4, FLOAT4) are left to onnx.numpy_helper.
_STRUCT = {t: (t.struct, t.field) for t in DataType if t.struct}
_FLOAT_TYPES = frozenset(t for t in _STRUCT if t.is_floating)
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


def tensor_values(t, base_dir: str | None = None) -> tuple | None:
    """A TensorProto's contents, flat, as Python ints (integer and bool types) or floats
    (float16/32/64); None for any other type, segmented or malformed data, or external data
    without a folder to read it from. Uses ``struct`` only."""
    code = _STRUCT.get(t.data_type)
    if code is None or t.HasField("segment"):
        return None
    fmt, typed = code
    n = _numel(t)
    if t.data_location == EXTERNAL:
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


_NP_NAMES = {t: t.numpy for t in _STRUCT}
_NP_STORAGE = {"float_data": "float32", "int32_data": "int32", "int64_data": "int64",
               "double_data": "float64", "uint64_data": "uint64"}


def tensor_to_array(t, base_dir: str | None = None):
    """numpy_helper.to_array without importing onnx for the common types: raw_data (little
    endian) or the typed field, reshaped to dims; external data read from ``base_dir``.
    Exotic types and layouts go to onnx.numpy_helper itself."""
    import numpy as np  # noqa: PLC0415  numpy: only where tensor data is read

    name = _NP_NAMES.get(t.data_type)
    external = t.data_location == EXTERNAL
    if name is None or t.HasField("segment") or (external and base_dir is None):
        from onnx import numpy_helper  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it

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


def tensor_from_attribute(t, base_dir: str | None = None) -> Tensor | None:
    """A Constant node's tensor attribute as the Tensor its rule makes of the array (the
    contents when small, an integer tensor's extremes when longer), read with ``struct``:
    no numpy for the common types (a scripted export has a Constant per shape literal);
    None for a type or layout ``struct`` does not read (numpy then does)."""
    vals = tensor_values(t, base_dir)
    if vals is None:
        return None
    shape = tuple(int(d) for d in t.dims)
    if len(vals) <= MAX_VALUE_ELEMENTS:
        return Tensor(shape, t.data_type, vals)
    if vals and all(isinstance(v, int) for v in vals):  # too long to hold: its extremes
        return Tensor(shape, t.data_type, None, Bounds(min(vals), max(vals), True))
    return Tensor(shape, t.data_type, None)


def attribute_values(node, base_dir: str | None = None) -> dict:
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
            v = None
            if node.op_type in ("Constant", "ConstantOfShape") and a.name == "value" and \
                    not node.domain:
                v = tensor_from_attribute(a.t, base_dir)  # their rules take either
            if v is None:
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


def tensor_from_initializer(t, base_dir: str | None) -> Tensor:
    shape = tuple(int(d) for d in t.dims)
    n = _numel(t)
    value = _small_value(t, base_dir) if n <= MAX_VALUE_ELEMENTS else None
    return Tensor(shape, t.data_type, value)


def _small_value(t, base_dir: str | None):
    """The contents of a small initializer (ints or floats), None when not decodable."""
    try:
        return tensor_values(t, base_dir)
    except Exception:  # noqa: BLE001  undecodable contents are simply unknown
        return None
