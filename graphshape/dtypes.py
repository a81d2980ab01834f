"""One table of element types (onnx's TensorProto.DataType), as onnx-ir's ``DataType``: every
fact graphshape needs of a type (names, bits, numpy type, float/int/signed, how TensorProto
stores it) lives here, and no module keeps its own copy. The values are onnx's codes, so a
``DataType`` compares equal to the bare int a protobuf holds."""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = ["DataType", "words"]


class _Facts(NamedTuple):
    short: str  # our name in messages (float32, int64, bfloat16...)
    onnx: str  # the schema's name: tensor(<onnx>)
    bits: int  # bits per element (0: variable, strings)
    kind: str  # "float", "int", "uint", "bool", "complex", "string"
    numpy: str | None  # numpy's name for it, where numpy has the type
    field: str | None  # TensorProto's typed field holding values without raw_data
    struct: str | None  # struct code of one element in that field's decoding


_FACTS = {
    0: _Facts("undefined", "undefined", 0, "", None, None, None),
    1: _Facts("float32", "float", 32, "float", "float32", "float_data", "f"),
    2: _Facts("uint8", "uint8", 8, "uint", "uint8", "int32_data", "B"),
    3: _Facts("int8", "int8", 8, "int", "int8", "int32_data", "b"),
    4: _Facts("uint16", "uint16", 16, "uint", "uint16", "int32_data", "H"),
    5: _Facts("int16", "int16", 16, "int", "int16", "int32_data", "h"),
    6: _Facts("int32", "int32", 32, "int", "int32", "int32_data", "i"),
    7: _Facts("int64", "int64", 64, "int", "int64", "int64_data", "q"),
    8: _Facts("string", "string", 0, "string", None, "string_data", None),
    9: _Facts("bool", "bool", 8, "bool", "bool", "int32_data", "?"),
    10: _Facts("float16", "float16", 16, "float", "float16", "int32_data", "e"),
    11: _Facts("float64", "double", 64, "float", "float64", "double_data", "d"),
    12: _Facts("uint32", "uint32", 32, "uint", "uint32", "uint64_data", "I"),
    13: _Facts("uint64", "uint64", 64, "uint", "uint64", "uint64_data", "Q"),
    14: _Facts("complex64", "complex64", 64, "complex", "complex64", None, None),
    15: _Facts("complex128", "complex128", 128, "complex", "complex128", None, None),
    16: _Facts("bfloat16", "bfloat16", 16, "float", None, "int32_data", None),
    17: _Facts("float8e4m3fn", "float8e4m3fn", 8, "float", None, None, None),
    18: _Facts("float8e4m3fnuz", "float8e4m3fnuz", 8, "float", None, None, None),
    19: _Facts("float8e5m2", "float8e5m2", 8, "float", None, None, None),
    20: _Facts("float8e5m2fnuz", "float8e5m2fnuz", 8, "float", None, None, None),
    21: _Facts("uint4", "uint4", 4, "uint", None, None, None),
    22: _Facts("int4", "int4", 4, "int", None, None, None),
    23: _Facts("float4e2m1", "float4e2m1", 4, "float", None, None, None),
    24: _Facts("float8e8m0", "float8e8m0", 8, "float", None, None, None),
    25: _Facts("uint2", "uint2", 2, "uint", None, None, None),
    26: _Facts("int2", "int2", 2, "int", None, None, None),
    27: _Facts("float6e2m3", "float6e2m3", 6, "float", None, None, None),
    28: _Facts("float6e3m2", "float6e3m2", 6, "float", None, None, None),
}


class DataType(enum.IntEnum):
    UNDEFINED = 0
    FLOAT = 1
    UINT8 = 2
    INT8 = 3
    UINT16 = 4
    INT16 = 5
    INT32 = 6
    INT64 = 7
    STRING = 8
    BOOL = 9
    FLOAT16 = 10
    DOUBLE = 11
    UINT32 = 12
    UINT64 = 13
    COMPLEX64 = 14
    COMPLEX128 = 15
    BFLOAT16 = 16
    FLOAT8E4M3FN = 17
    FLOAT8E4M3FNUZ = 18
    FLOAT8E5M2 = 19
    FLOAT8E5M2FNUZ = 20
    UINT4 = 21
    INT4 = 22
    FLOAT4E2M1 = 23
    FLOAT8E8M0 = 24
    UINT2 = 25
    INT2 = 26
    FLOAT6E2M3 = 27
    FLOAT6E3M2 = 28

    @classmethod
    def of(cls, code: int) -> DataType | None:
        """The member for a protobuf's code, or None for a code onnx does not define."""
        try:
            return cls(code)
        except ValueError:
            return None

    @property
    def facts(self) -> _Facts:
        return _FACTS[int(self)]

    @property
    def short(self) -> str:
        return self.facts.short

    @property
    def onnx_name(self) -> str:
        return self.facts.onnx

    @property
    def bits(self) -> int:
        return self.facts.bits

    @property
    def itemsize(self) -> int | None:
        """Bytes per element of raw_data; None for strings and sub-byte (packed) types."""
        b = self.facts.bits
        return b // 8 if b >= 8 and b % 8 == 0 else None

    @property
    def numpy(self) -> str | None:
        return self.facts.numpy

    @property
    def field(self) -> str | None:
        return self.facts.field

    @property
    def struct(self) -> str | None:
        return self.facts.struct

    @property
    def is_floating(self) -> bool:
        return self.facts.kind == "float"

    @property
    def is_integer(self) -> bool:
        """Signed or unsigned integers (bool is not one)."""
        return self.facts.kind in ("int", "uint")

    @property
    def is_signed(self) -> bool:
        return self.facts.kind in ("int", "float", "complex")

    @property
    def is_complex(self) -> bool:
        return self.facts.kind == "complex"


def words(code: int) -> str:
    """A code in words (``float32``), or ``element type N`` for one onnx does not define."""
    t = DataType.of(code)
    return t.short if t is not None else f"element type {code}"
