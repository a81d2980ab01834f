"""Tensor: what a rule knows about a value: its shape, dtype and (for small integer
tensors) its symbolic contents. Inferred: what a rule returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .dims import Dim, prod

# onnx.TensorProto data types used by rules (numbers avoid importing onnx here)
FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL, FLOAT16, DOUBLE = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
UINT32, UINT64, BFLOAT16 = 12, 13, 16
INTEGER_TYPES = {UINT8, INT8, UINT16, INT16, INT32, INT64, UINT32, UINT64, BOOL}

# A tensor's contents are tracked symbolically only when it has at most this many elements
# (shape vectors, scalars, small index lists).
MAX_VALUE_ELEMENTS = 64


@dataclass(frozen=True)
class Tensor:
    """shape None = rank unknown; value = flat row-major contents (ints/exprs/floats) or None."""

    shape: Optional[tuple]
    dtype: int = 0
    value: Optional[tuple] = None

    @property
    def rank(self) -> int:
        if self.shape is None:
            from .errors import Unsupported

            raise Unsupported("rank of an input is unknown")
        return len(self.shape)

    def numel(self) -> Dim:
        return prod(self.shape)

    def with_value(self, value) -> "Tensor":
        return Tensor(self.shape, self.dtype, tuple(value) if value is not None else None)


@dataclass
class Inferred:
    outputs: list
    constraints: list = field(default_factory=list)
    notes: list = field(default_factory=list)
