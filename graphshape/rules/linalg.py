"""Gemm and MatMul: inner dims must agree; batch dims broadcast."""

from __future__ import annotations

from ..dims import to_str
from ..registry import rule
from ..tensor import Tensor
from ._common import broadcast_shapes, unidirectional


@rule("Gemm")
def gemm(ctx, A, B, C=None, *, alpha: float = 1.0, beta: float = 1.0, transA: int = 0,
         transB: int = 0, broadcast: int = 0):
    """Y[M, N] = A'[M, K] @ B'[K, N] + C (onnx__Gemm); K must agree."""
    if len(A.shape) != 2 or len(B.shape) != 2:
        ctx.fail(f"A and B must be 2-D, found ranks {len(A.shape)} and {len(B.shape)}")
    m, ka = (A.shape[1], A.shape[0]) if transA else A.shape
    kb, n = (B.shape[1], B.shape[0]) if transB else B.shape
    ctx.eq(ka, kb, f"A's inner dim K (the features reaching this layer) must equal B's "
                   f"K = {to_str(kb)}")
    if C is not None and C.shape is not None:
        unidirectional(ctx, (m, n), C.shape, "C")
    return Tensor((m, n), A.dtype)


@rule("MatMul", "MatMulInteger")
def matmul(ctx, A, B, a_zero_point=None, b_zero_point=None):
    """numpy.matmul semantics: 1-D operands promoted, batch dims broadcast, K must agree."""
    a, b = list(A.shape), list(B.shape)
    if not a or not b:
        ctx.fail("MatMul operands must have rank >= 1")
    a1 = len(a) == 1
    b1 = len(b) == 1
    if a1:
        a = [1] + a
    if b1:
        b = b + [1]
    ctx.eq(a[-1], b[-2], f"A's last dim must equal B's second-to-last dim ({to_str(b[-2])})")
    batch = broadcast_shapes(ctx, [tuple(a[:-2]), tuple(b[:-2])], "batch dims") \
        if (len(a) > 2 or len(b) > 2) else ()
    out = list(batch) + [a[-2], b[-1]]
    if a1:
        out.pop(-2)
    if b1:
        out.pop(-1)
    dtype = 6 if ctx.op == "MatMulInteger" else A.dtype
    return Tensor(tuple(out), dtype)
