"""Tensor: what a rule knows about a value: its shape, dtype, (for small integer tensors)
its symbolic contents, and (for tensors too long to hold) bounds on its elements."""

from __future__ import annotations

from dataclasses import dataclass

from graphshape.arith.dims import Dim, prod
from graphshape.dtypes import DataType
from graphshape.errors import Unsupported

# the element types rules name most (members of the one table, graphshape.dtypes)
FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL, FLOAT16, DOUBLE = (
    DataType.FLOAT, DataType.UINT8, DataType.INT8, DataType.UINT16, DataType.INT16,
    DataType.INT32, DataType.INT64, DataType.STRING, DataType.BOOL, DataType.FLOAT16,
    DataType.DOUBLE)
UINT32, UINT64, BFLOAT16 = DataType.UINT32, DataType.UINT64, DataType.BFLOAT16
# integer types of a byte or more, and bool: the contents rules read as integers
INTEGER_TYPES = frozenset(t for t in DataType if t.is_integer and t.bits >= 8) | {BOOL}

# A tensor's contents are tracked symbolically only when it has at most this many elements
# (shape vectors, scalars, small index lists).
MAX_VALUE_ELEMENTS = 64

# Tensor.origin: the contents are a graph input's data (or a reshaping / subset of it).
# graphshape assumes such data is in range where it is used as indices (token ids < the
# vocabulary): sizes are what it proves, data is the caller's promise.
INPUT = "input"


@dataclass(frozen=True)
class Bounds:
    """Every element lies in [lo, hi] (lo, hi: dims). ``tight``: when the tensor is not
    empty, some element equals lo and some element equals hi, so a condition on the
    bounds (hi <= dim - 1) is exact, not merely sufficient."""

    lo: Dim
    hi: Dim
    tight: bool = False


@dataclass(frozen=True)
class Tensor:
    """shape None = rank unknown; value = flat row-major contents (ints/exprs/floats) or None;
    bounds = element bounds when value is None (Range(0, S): 0..S - 1); origin = INPUT when
    the contents come straight from a graph input's data."""

    shape: tuple | None
    dtype: int = 0
    value: tuple | None = None
    bounds: Bounds | None = None
    origin: str = ""

    @property
    def rank(self) -> int:
        if self.shape is None:
            raise Unsupported("rank of an input is unknown")
        return len(self.shape)

    def numel(self) -> Dim:
        return prod(self.shape)

    def with_value(self, value) -> Tensor:
        return Tensor(self.shape, self.dtype, tuple(value) if value is not None else None,
                      self.bounds, self.origin)

