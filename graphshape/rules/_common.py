"""Helpers shared by rule modules: axes, broadcasting, reading constant inputs."""

from __future__ import annotations

from graphshape.arith.dims import (
    Dim,
    at_least,
    dmax,
    dmin,
    is_integer_expr,
    norm,
    structurally_equal,
    sub,
    to_str,
)
from graphshape.arith.prove import nonneg
from graphshape.errors import Unsupported
from graphshape.loader.tensor import Tensor
from graphshape.shapes.constraints import Constraint

# the most elements of a run-time tensor that get symbolic values (read_values)
MAX_READ_VALUES = 8


def read_values(ctx, shape, lo: int | None = None):
    """Symbolic values for the few integers of a tensor computed from data at run time (box
    coordinates gathered, a float box side cast to an integer), or None: each any integer
    (a fresh p - q, p, q >= 0), or lo + p where the graph makes each at least ``lo``.
    Arithmetic on them downstream is then tracked, and a
    condition on them is claimed only where it holds for every value (domain/counts.py;
    else unproven). Two reads are independent even of the same element: less precise,
    never unsound. The proofs take them as integers: the data must keep them finite and
    small (counts.read_requirements, printed with the domain)."""
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    n = 1
    for d in shape:
        n *= d
    if n > MAX_READ_VALUES:
        return None
    what = "integer read from data at run time"
    if lo is not None:
        return tuple(norm(ctx.fresh(what + f" (less {lo})", kind="read") + lo)
                     for _ in range(n))
    return tuple(norm(ctx.fresh(what + " (part >= 0)", kind="read") -
                      ctx.fresh(what + " (part <= 0)", kind="read")) for _ in range(n))


def norm_axis(ctx, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        ctx.fail(f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def ints(t, what: str = "input") -> list:
    """The known integer contents of ``t`` (a Tensor, list or None); Unsupported if unknown."""
    if t is None:
        raise Unsupported(f"{what} is missing")
    if isinstance(t, Tensor):
        if t.value is None:
            raise Unsupported(f"{what} is computed at run time and graphshape cannot track it")
        vals = list(t.value)
    else:
        vals = list(t.reshape(-1)) if hasattr(t, "reshape") else list(t)
    out = []
    for v in vals:
        if isinstance(v, float):
            if v != int(v):
                raise Unsupported(f"{what} holds a non-integer {v}")
            v = int(v)
        v = norm(v)
        if not isinstance(v, int) and not is_integer_expr(v):
            raise Unsupported(f"{what} holds {to_str(v)}, which may not be an integer")
        out.append(v)
    return out


def const_ints(t, what: str = "input") -> list:
    """Like ints() but every entry must be a number (no symbols)."""
    vals = ints(t, what)
    for v in vals:
        if not isinstance(v, int):
            raise Unsupported(f"{what} depends on the input size ({v}); not supported here")
    return vals


def broadcast_dim(ctx, a: Dim, b: Dim, where: str) -> Dim:
    """One axis of multidirectional broadcasting: a == b or a == 1 or b == 1."""
    if isinstance(a, int) and isinstance(b, int):
        if a == b or b == 1:
            return a
        if a == 1:
            return b
        ctx.fail(f"cannot broadcast {where}: sizes {a} and {b}")
    if structurally_equal(a, b):
        return a
    if a == 1:
        return b
    if b == 1:
        return a
    parts = [Constraint.eq(a, b), Constraint.eq(a, 1), Constraint.eq(b, 1)]
    ctx.any_of(parts, f"broadcasting {where} needs equal sizes or a size of 1")
    if isinstance(a, int):
        return a
    if isinstance(b, int):
        return b
    if at_least_one(a) and at_least_one(b):
        # max(a, b), or the one provably never smaller (dynamo's position-table add:
        # [B, S, C] + [1, min(16, S), C] is S, not max(S, min(16, S)), which Reshape's
        # element counts could not divide)
        if nonneg(norm(sub(a, b)), budget=True):
            return a
        if nonneg(norm(sub(b, a)), budget=True):
            return b
        return dmax(a, b)
    # 0 broadcast with 1 is 0: max(a, b) minus 1 exactly when {a, b} == {0, 1}
    hi = dmax(a, b)
    return sub(hi, dmin(hi, dmax(0, sub(1, dmin(a, b)))))


def at_least_one(x) -> bool:
    """Provably >= 1 (so never an empty axis)."""
    return at_least(x, 1)


def _s(x) -> str:
    return to_str(x, pretty=True)


def broadcast_shapes(ctx, shapes, what="inputs") -> tuple:
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = list(padded[0])
    for s in padded[1:]:
        for i in range(rank):
            out[i] = broadcast_dim(ctx, out[i], s[i], f"{what} at axis {i}")
    return tuple(out)


def unidirectional(ctx, target: tuple, shape: tuple, what: str) -> None:
    """``shape`` must broadcast to ``target`` without changing it (Gemm's C, PRelu slope)."""
    if len(shape) > len(target):
        ctx.fail(f"{what} has rank {len(shape)} > {len(target)}")
    off = len(target) - len(shape)
    for i, d in enumerate(shape):
        t = target[off + i]
        if isinstance(d, int) and d == 1:
            continue
        if structurally_equal(d, t):
            continue
        ctx.any_of([Constraint.eq(d, t), Constraint.eq(d, 1)],
                   f"{what} axis {i} must be 1 or equal the output's {_s(t)} (found {_s(d)})")
