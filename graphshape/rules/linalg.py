"""Gemm, MatMul, QLinearMatMul, Det and Einsum: inner dims agree; batch dims broadcast."""

from __future__ import annotations

from graphshape.arith.dims import structurally_equal, to_str
from graphshape.errors import Unsupported
from graphshape.loader.tensor import INT32, Tensor
from graphshape.rules._common import broadcast_dim, broadcast_shapes, unidirectional
from graphshape.shapes.registry import rule


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
    dtype = INT32 if ctx.op == "MatMulInteger" else A.dtype
    return Tensor(tuple(out), dtype)


@rule("QLinearMatMul")
def qlinear_matmul(ctx, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale,
                   y_zero_point):
    """MatMul of the quantized operands; the output takes y_zero_point's type."""
    out = matmul(ctx, a, b)
    return Tensor(out.shape, y_zero_point.dtype)


@rule("Det")
def det(ctx, X):
    """X[..., M, M] -> X[...]; the two innermost dims must be equal."""
    if len(X.shape) < 2:
        ctx.fail(f"X must have rank >= 2, found {len(X.shape)}")
    ctx.eq(X.shape[-1], X.shape[-2], "Det needs square matrices")
    return Tensor(tuple(X.shape[:-2]), X.dtype)


def _parse_einsum(ctx, equation: str, n: int):
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs, out = eq, None
    terms = lhs.split(",")
    if len(terms) != n:
        ctx.fail(f"equation '{equation}' has {len(terms)} operands, found {n} inputs")
    for t in terms + ([out] if out is not None else []):
        body = t.replace("...", "")
        if t.count("...") > 1 or not all(c.isalpha() for c in body):
            raise Unsupported(f"cannot parse einsum term '{t}'")
    return terms, out


@rule("Einsum")
def einsum(ctx, *Inputs, equation: str):
    """Output dims by label; equal labels broadcast (a == b or one is 1), like onnxruntime."""
    terms, out = _parse_einsum(ctx, equation, len(Inputs))
    dims: dict = {}
    ell = None
    counts: dict = {}
    for t, x in zip(terms, Inputs):
        letters = t.replace("...", "")
        shape = list(x.shape)
        if "..." in t:
            k = len(shape) - len(letters)
            if k < 0:
                ctx.fail(f"operand '{t}' has rank {len(shape)}, too small")
            i = t.index("...")
            e, shape = shape[i:i + k], shape[:i] + shape[i + k:]
            if ell is None:
                ell = e
            elif len(ell) != len(e):
                raise Unsupported("ellipses of different ranks")
            else:
                ell = [broadcast_dim(ctx, a, b, "einsum ellipsis") for a, b in zip(ell, e)]
        elif len(shape) != len(letters):
            ctx.fail(f"operand '{t}' has {len(letters)} labels for rank {len(shape)}")
        seen: dict = {}
        for c, d in zip(letters, shape):
            counts[c] = counts.get(c, 0) + 1
            if c in seen:
                a = seen[c]
                if isinstance(a, int) and isinstance(d, int):
                    if a != d:
                        ctx.fail(f"label '{c}' repeats in '{t}' with sizes {a} and {d}")
                elif not structurally_equal(a, d):
                    # a diagonal: onnxruntime (einsum_auxiliary_ops.cc Diagonal) needs the
                    # two dims equal, a size 1 is not stretched ('ii' on [3, 1] fails)
                    ctx.eq(a, d, f"label '{c}' repeats in '{t}': its dims {to_str(a)} and "
                                 f"{to_str(d)} must be equal (a diagonal)")
                continue
            seen[c] = d
            dims[c] = broadcast_dim(ctx, dims[c], d, f"einsum label '{c}'") if c in dims else d
    if out is None:
        once = sorted(c for c, k in counts.items() if k == 1)
        if any(c.isupper() for c in once) and any(c.islower() for c in once):
            raise Unsupported("implicit einsum output with mixed-case labels")
        out = ("..." if ell is not None else "") + "".join(once)
    shape = []
    i = 0
    while i < len(out):
        if out.startswith("...", i):
            shape.extend(ell or [])
            i += 3
            continue
        c = out[i]
        if c not in dims:
            ctx.fail(f"output label '{c}' appears in no input")
        shape.append(dims[c])
        i += 1
    return Tensor(tuple(shape), Inputs[0].dtype)
