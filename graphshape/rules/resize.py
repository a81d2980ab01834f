"""Resizing and spatial rearrangement: Resize, Upsample, DepthToSpace, SpaceToDepth,
GridSample, AffineGrid, Col2Im, MaxUnpool.

onnxruntime (upsamplebase.h) computes a scaled size as
``static_cast<int64_t>(float scale * float(in))``: float32 arithmetic, truncated. So
0.7 * 10 gives 7 (the float32 product rounds up to 7.0), not floor(6.99999988) = 6. For a
symbolic size a dyadic scale p / 2^k is exact (floor(p*H / 2^k)); any other scale makes the
output size a derived size (graphshape.arith.float32): the float32 product itself,
truncated, decided size by size where real arithmetic cannot tell (domain/float_eval.py).
With ``sizes`` the output is exactly ``sizes`` (keep_aspect_ratio_policy 'stretch'; the
other policies do not follow the spec in onnxruntime and are unproven).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from graphshape.arith import float32 as f32
from graphshape.arith import lazy
from graphshape.arith.dims import (
    add,
    floordiv,
    mul,
    prod,
    structurally_equal,
    sub,
    to_str,
)
from graphshape.errors import Unsupported
from graphshape.loader.tensor import Tensor
from graphshape.rules import float_values
from graphshape.rules._common import at_least_one, const_ints, ints, norm_axis
from graphshape.rules._ranges import check_indices
from graphshape.shapes.constraints import Constraint
from graphshape.shapes.registry import rule

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy.module("numpy")


def _float_values(t, what):
    if t.value is None:
        raise Unsupported(f"{what} are computed at run time")
    return [float(v) for v in t.value]


def scaled_dim(d, s: float):
    """int(float32(s) * float32(d)), exactly as onnxruntime computes it."""
    s32 = np.float32(s)
    if isinstance(d, int):
        return int(np.float32(s32) * np.float32(d))
    if s32 == 1:
        return d
    fr = Fraction(float(s32))
    q = fr.denominator
    if q & (q - 1) or fr.numerator >= 2 ** 10:
        raise Unsupported(f"scale {float(s32)} is not dyadic; float32 rounding of "
                          f"{float(s32)}*{to_str(d)} cannot be written in closed form")
    return floordiv(mul(d, fr.numerator), q)


def _is_one(scale_or_pair):
    """Whether an axis' scale is 1 (a float, or (size, in) when sizes are given)."""
    if isinstance(scale_or_pair, tuple):
        a, b = scale_or_pair
        if structurally_equal(a, b):
            return True
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        raise Unsupported("cannot tell whether a computed size equals the input size")
    return np.float32(scale_or_pair) == 1


def _check_mode(ctx, mode, rank, scales, antialias):
    """onnxruntime's ScalesValidation for 'linear' and 'cubic' modes."""
    op = ctx.op
    if mode == "linear":
        if rank in (2, 3):
            return
        if rank == 4:
            if _is_one(scales[0]) and (_is_one(scales[1]) or _is_one(scales[3])):
                return
        elif rank == 5 and _is_one(scales[0]) and _is_one(scales[1]):
            return
        ctx.fail(f"'linear' mode in onnxruntime's {op} supports 2-D, 3-D, 4-D inputs with "
                 "outer scales 1 (or outermost and innermost 1), 5-D with outer scales 1")
    if mode == "cubic":
        if rank == 2:
            return
        if rank == 4 and _is_one(scales[0]) and _is_one(scales[1]):
            return
        if rank not in (2, 4):
            ctx.fail(f"'cubic' mode in onnxruntime's {op} supports 2-D and 4-D inputs only")
        raise Unsupported("cubic resize of a 4-D input with non-unit outer scales")


def _resize_out(ctx, X, scales, sizes, axes, mode, antialias, policy):
    r = len(X.shape)
    ax = list(range(r)) if axes is None else [norm_axis(ctx, a, r) for a in axes]
    out = list(X.shape)
    per_axis = [1.0] * r
    if sizes is not None:
        if policy != "stretch":
            raise Unsupported(f"keep_aspect_ratio_policy '{policy}' (onnxruntime differs "
                              "from the spec)")
        if len(sizes) != len(ax):
            ctx.fail(f"sizes has {len(sizes)} entries for {len(ax)} axes")
        for a, s in zip(ax, sizes):
            if at_least_one(X.shape[a]):
                ctx.ge(s, 1, f"target size of axis {a} must be positive (scale > 0)")
            else:
                # upsamplebase.h: a size of 0 is a scale of 0 ("Scale value should be
                # greater than 0") unless the axis is empty too, which resizes to 0; an
                # empty axis cannot grow ("Input dim is zero but required output dim is
                # non-zero"). Measured on every mode: 0 -> 0 runs, 5 -> 0 and 0 -> 3 fail.
                ctx.any_of([Constraint.all_of([Constraint.ge(s, 1),
                                               Constraint.ge(X.shape[a], 1)]),
                            Constraint.all_of([Constraint.eq(s, 0),
                                               Constraint.eq(X.shape[a], 0)])],
                           f"axis {a}: onnxruntime resizes a non-empty axis only to a "
                           "positive size, and an empty one only to 0")
            out[a] = s
            per_axis[a] = (s, X.shape[a])
    else:
        if len(scales) != len(ax):
            ctx.fail(f"scales has {len(scales)} entries, expected {len(ax)}")
        for a, s in zip(ax, scales):
            if not s > 0:
                ctx.fail(f"scale {s} of axis {a} must be greater than 0")
            if ctx.op == "Upsample" and s < 1:
                ctx.fail(f"Upsample scale {s} must be >= 1")
            try:
                out[a] = scaled_dim(X.shape[a], s)
            except Unsupported:
                # float32 rounding of s*size, a derived size decided size by size
                # (graphshape.arith.float32): int(float32(s) * float32(size)), truncated
                out[a] = float_values.round_value(
                    ctx, "trunc", f32.combine("mul", float(np.float32(s)), X.shape[a]))
            per_axis[a] = s
    _check_mode(ctx, mode, r, per_axis, antialias)
    return Tensor(tuple(out), X.dtype)


@rule("Resize", since=11)
def resize(ctx, X, roi=None, scales=None, sizes=None, *, antialias: int = 0, axes=None,
           coordinate_transformation_mode: str = "half_pixel", cubic_coeff_a: float = -0.75,
           exclude_outside: int = 0, extrapolation_value: float = 0.0,
           keep_aspect_ratio_policy: str = "stretch", mode: str = "nearest",
           nearest_mode: str = "round_prefer_floor"):
    """out[i] = sizes[i], or int(float32(scales[i]) * in[i]) (onnxruntime's truncation)."""
    has_scales = scales is not None and scales.shape is not None and prod(scales.shape) != 0
    has_sizes = sizes is not None and sizes.shape is not None and prod(sizes.shape) != 0
    if has_scales and has_sizes:
        ctx.fail("either sizes or scales must be given, not both")
    if not has_scales and not has_sizes:
        ctx.fail("one of scales or sizes is required")
    try:
        sz = ints(sizes, "sizes") if has_sizes else None
        sc = _float_values(scales, "scales") if has_scales else None
    except Unsupported as e:
        # sizes computed at run time (e.g. Faster R-CNN's transform): go on with fresh
        # symbols so the rest of the graph is still analysed, and say so
        ctx.assume(f"{e}; its output sizes are treated as run-time values")
        r = len(X.shape)
        return Tensor(tuple(ctx.fresh(f"axis {i} of the resized output") for i in range(r)),
                      X.dtype)
    return _resize_out(ctx, X, sc, sz, axes, mode, antialias, keep_aspect_ratio_policy)


@rule("Resize", since=10, until=10)
def resize10(ctx, X, scales, *, mode: str = "nearest"):
    """out[i] = int(float32(scales[i]) * in[i])."""
    return _resize_out(ctx, X, _float_values(scales, "scales"), None, None, mode, 0, "stretch")


@rule("Upsample", since=7, until=9)
def upsample(ctx, X, scales=None, *, mode: str = "nearest", **attrs):
    """out[i] = int(float32(scales[i]) * in[i]); scales >= 1 (attribute at opset 7)."""
    sc = [float(v) for v in attrs["scales"]] if "scales" in attrs and scales is None else \
        _float_values(scales, "scales") if scales is not None else None
    if set(attrs) - {"scales"} or sc is None:
        raise Unsupported("Upsample without scales")
    return _resize_out(ctx, X, sc, None, None, mode, 0, "stretch")


@rule("DepthToSpace")
def depth_to_space(ctx, input, *, blocksize: int, mode: str = "DCR"):
    """[N, C/b^2, H*b, W*b]; C % b^2 == 0; 4-D only."""
    if len(input.shape) != 4:
        ctx.fail(f"input must be 4-D, found rank {len(input.shape)}")
    n, c, h, w = input.shape
    b = blocksize
    ctx.divides(b * b, c, f"the channel count must be a multiple of blocksize^2 = {b * b}")
    return Tensor((n, floordiv(c, b * b), mul(h, b), mul(w, b)), input.dtype)


@rule("SpaceToDepth")
def space_to_depth(ctx, input, *, blocksize: int, mode: str = "DCR"):
    """[N, C*b^2, H/b, W/b]; H and W multiples of b; 4-D only."""
    if len(input.shape) != 4:
        ctx.fail(f"input must be 4-D, found rank {len(input.shape)}")
    n, c, h, w = input.shape
    b = blocksize
    ctx.divides(b, h, f"the height must be a multiple of blocksize {b}")
    ctx.divides(b, w, f"the width must be a multiple of blocksize {b}")
    return Tensor((n, mul(c, b * b), floordiv(h, b), floordiv(w, b)), input.dtype)


@rule("GridSample")
def grid_sample(ctx, X, grid, *, align_corners: int = 0, mode: str = "linear",
                padding_mode: str = "zeros"):
    """Y = [N, C] + grid.shape[1:-1]; grid batch == N; grid's last dim == rank - 2."""
    r = len(X.shape)
    if r not in (4, 5) or (ctx.opset < 20 and r != 4):
        ctx.fail(f"onnxruntime's GridSample needs a 4-D (or, opset 20+, 5-D) input, found {r}")
    if len(grid.shape) != r:
        ctx.fail(f"grid must have rank {r}, found {len(grid.shape)}")
    ctx.eq(grid.shape[0], X.shape[0], "grid batch must equal the input batch")
    ctx.eq(grid.shape[-1], r - 2, f"grid's last dim must be {r - 2}")
    return Tensor((X.shape[0], X.shape[1]) + tuple(grid.shape[1:-1]), X.dtype)


@rule("AffineGrid")
def affine_grid(ctx, theta, size, *, align_corners: int = 0):
    """grid = [N, H, W, 2] or [N, D, H, W, 3] from size = [N, C, (D,) H, W]."""
    sz = ints(size, "size")
    if len(sz) not in (4, 5):
        ctx.fail(f"size must have 4 or 5 entries, found {len(sz)}")
    nsp = len(sz) - 2
    ctx.eq(theta.shape[0], sz[0], "theta's batch must equal size[0]")
    return Tensor((sz[0],) + tuple(sz[2:]) + (nsp,), theta.dtype)


@rule("Col2Im")
def col2im(ctx, input, image_shape, block_shape, *, dilations=None, pads=None,
           strides=None):
    """[N, C/prod(block)] + image_shape; L == prod over axes of sliding block counts."""
    img = ints(image_shape, "image_shape")
    blk = const_ints(block_shape, "block_shape")
    n = len(img)
    if len(blk) != n or len(input.shape) != 3:
        ctx.fail("image_shape and block_shape must match; input must be 3-D")
    d = list(dilations) if dilations else [1] * n
    p = list(pads) if pads else [0] * (2 * n)
    s = list(strides) if strides else [1] * n
    kb = prod(blk)
    ctx.divides(kb, input.shape[1], f"input dim 1 must be a multiple of prod(block_shape) "
                                    f"= {kb}")
    blocks = 1
    for i in range(n):
        num = sub(add(img[i], p[i] + p[i + n]), d[i] * (blk[i] - 1) + 1)
        ctx.ge(num, 0, f"image axis {i}: the block must fit inside the padded image")
        blocks = mul(blocks, add(floordiv(num, s[i]), 1))
    ctx.eq(input.shape[2], blocks, "input dim 2 must equal the number of sliding blocks")
    return Tensor((input.shape[0], floordiv(input.shape[1], kb)) + tuple(img), input.dtype)


@rule("MaxUnpool")
def max_unpool(ctx, X, I, output_shape=None, *, kernel_shape, pads=None, strides=None):
    """out[i] = (in[i]-1)*s + k - pads; with output_shape the output is output_shape, which
    onnxruntime (cpu/nn/Unpool.cc) checks only as a whole: same batch and channels, element
    count at least the inferred one's (not per axis), and every index below the element
    count (https://onnx.ai/onnx/operators/onnx__MaxUnpool.html)."""
    r = len(X.shape)
    nsp = r - 2
    if nsp < 1 or nsp > 3:
        ctx.fail(f"X must have rank 3 to 5 (1 to 3 pooled axes), found {r}")
    k = list(kernel_shape)
    s = list(strides) if strides else [1] * nsp
    p = list(pads) if pads else [0] * (2 * nsp)
    if len(k) != nsp or len(s) != nsp or len(p) != 2 * nsp:
        ctx.fail(f"attribute lengths do not match {nsp} pooled axes (kernel {k}, strides {s}, "
                 f"pads {p})")
    for i in range(nsp):
        if k[i] < 1 or not (p[i] < k[i] and p[i + nsp] < k[i]):
            ctx.fail(f"kernel {k[i]} must be >= 1 and the pads {p[i]}/{p[i + nsp]} smaller "
                     "than it")
    if len(I.shape) != r:
        ctx.fail("the index tensor must have the input's shape")
    for i in range(r):
        ctx.eq(I.shape[i], X.shape[i], f"index tensor axis {i} must match the input")
    out = list(X.shape[:2])
    for i in range(nsp):
        d = sub(add(mul(sub(X.shape[i + 2], 1), s[i]), k[i]), p[i] + p[i + nsp])
        ctx.ge(d, 1, f"the inferred output axis {i + 2}, ({to_str(X.shape[i + 2])} - 1)*{s[i]}"
                     f" + {k[i]} - {p[i] + p[i + nsp]}, must be positive (onnxruntime)")
        out.append(d)
    if output_shape is not None:
        os_ = ints(output_shape, "output_shape")
        if len(os_) != r:
            ctx.fail(f"output_shape has {len(os_)} entries for rank {r}")
        for i in range(2):
            ctx.eq(os_[i], X.shape[i], f"output_shape axis {i} must equal the input's "
                                       "(onnxruntime: batch and channels must match)")
        for i in range(2, r):
            ctx.ge(os_[i], 0, f"output_shape axis {i} must not be negative")
        # Unpool.cc: given_shape.Size() >= shape.Size(), element counts only: [1, 1, 2, 8]
        # is accepted where [1, 1, 4, 4] is inferred. With the batch and channel dims equal,
        # the inferred count is os[0]*os[1]*prod(inferred spatial)
        ctx.ge(prod(os_), prod(list(os_[:2]) + out[2:]),
               f"output_shape {[to_str(v) for v in os_]} must hold at least as many elements "
               f"as the inferred shape {[to_str(v) for v in out]}")
        out = list(os_)
    # every index is checked against the output's element count ('Index value out of
    # bounds'); indices that are a graph input's data are the caller's promise
    n_out = prod(out)
    check_indices(ctx, I, n_out, f"the {to_str(n_out)} elements of the output",
                  negative=False)
    return Tensor(tuple(out), X.dtype)
