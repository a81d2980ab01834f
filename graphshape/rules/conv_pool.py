"""Conv, ConvTranspose and pooling: output sizes exactly as onnxruntime computes them.

onnxruntime (core/providers/cpu/nn/conv_attributes.h, pool_attributes.h) is the arbiter:
- Conv: out = (in + pads - dk) / s + 1 in float, truncated, and out <= 0 is an error, so
  out = floor((in + pads - dk)/s) + 1 with in + pads - dk >= 0.
- Pool (floor mode): num = in + pads - dk; out = num / s + 1 with C truncation, so a
  window wider than its input by < s still yields 1 (spec: floor, i.e. 0). Valid iff
  num >= -(s-1); out = max(floor(num/s), 0) + 1.
- Pool (ceil mode): c = ceil(num/s), out = c + 1, minus 1 when the last window starts at
  or after in + pad_head: out = max(min(c, floor((in + pad_head - 1)/s)), c - 1) + 1.
- auto_pad SAME_*: pad_needed = (ceil(in/s) - 1)*s + k - in (undilated kernel). Conv
  refuses any dilation != 1 on such an axis ("Dilation not supported for AutoPadType::
  SAME_UPPER or AutoPadType::SAME_LOWER"), at every size. A pool on the MLAS path
  (float/float16 only; MaxPool with all dilations 1, no Indices output, storage_order 0;
  AveragePool up to opset 18, not 19+; never LpPool) refuses a negative pad_needed
  ("padding values must be non-negative"), which happens when s > k at sizes where the
  last window would end past the input (k 2, s 3: every H = 0 mod 3). A 2-D float one
  with channels a multiple of 8 may instead be rewritten to NchwcMaxPool/
  NchwcAveragePool (block size 8 or 16, per CPU), which accepts them: machine-dependent,
  so unproven.
- ConvTranspose (onnxruntime 1.31, found by tests.oracles.fuzz_convpool): full = s*(in-1) + dk + op;
  output_padding must be < stride (not only < max(stride, dilation) as the spec says);
  SAME_* gives min(in*s, full) (total padding max(0, full - in*s)), not in*s; with
  output_shape O the runtime recomputes the input size as floor((O + pads - dk)/s) + 1
  with pads = max(0, full - O), so it accepts exactly O <= in*s + dk - 1, and it refuses
  an empty input there. Without output_shape it also re-derives the input size, as
  trunc((full - dk)/s) + 1 = trunc((s*(in-1) + op)/s) + 1: that is in for in >= 1, and
  for an empty input (after a negative Pad or an empty Slice) 0 only when op = 0, so an
  empty input with output_padding > 0 is refused ("Expected input size 1 but got 0").
  Conv's SAME_* output ceil(in/s) is 0 (invalid) for an empty input.
- Conv/ConvTranspose with auto_pad other than NOTSET and a pads attribute (any values):
  refused at load (conv_attributes.h ORT_ENFORCE), so no size is valid.
- An ints attribute present but empty (pads = []) is refused at load by onnx's
  convPoolShapeInference ("Attribute pads has incorrect size"), for Conv,
  ConvTranspose and the pools alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphshape.arith import lazy
from graphshape.arith.dims import add, ceildiv, dmax, dmin, floordiv, mul, sub, to_str
from graphshape.errors import InvalidModelError, Unsupported
from graphshape.loader.tensor import FLOAT, FLOAT16, INT64, Bounds, Tensor
from graphshape.rules._common import const_ints
from graphshape.shapes.constraints import Constraint
from graphshape.shapes.registry import rule

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")


def _malformed(ctx, message: str):
    """An attribute no runtime accepts (onnxruntime refuses the model at load): the model
    is malformed, which is not the same as 'no size is valid'."""
    raise InvalidModelError(f"{ctx.op} (node '{ctx.name}'): {message}")


def _s(x) -> str:
    return x if isinstance(x, str) else to_str(x, pretty=True)


def _no_empty_lists(ctx, **attrs):
    """An ints attribute given as an empty list (pads = [], as some exporters write for
    'no padding') is not the default: onnx's convPoolShapeInference, which onnxruntime
    runs at load, refuses it ("Attribute pads has incorrect size"), at every size."""
    for name, v in attrs.items():
        if v is not None and len(v) == 0:
            ctx.fail(f"attribute {name} is an empty list: onnxruntime refuses the model at "
                     f"load ('Attribute {name} has incorrect size')")


def _spatial_attrs(ctx, nsp, kernel_shape, strides, pads, dilations):
    k = list(kernel_shape)
    s = list(strides) if strides else [1] * nsp
    d = list(dilations) if dilations else [1] * nsp
    p = list(pads) if pads else [0] * (2 * nsp)
    if len(k) != nsp or len(s) != nsp or len(d) != nsp or len(p) != 2 * nsp:
        ctx.fail(f"attribute lengths do not match {nsp} spatial dims "
                 f"(kernel {k}, strides {s}, dilations {d}, pads {p})")
    for name, vals, lo in (("kernel_shape", k, 1), ("strides", s, 1), ("dilations", d, 1),
                           ("pads", p, 0)):
        for v in vals:
            if not isinstance(v, int) or v < lo:
                _malformed(ctx, f"{name} must be >= {lo}, found {vals}")
    return k, s, p, d


def _conv_out(ctx, axis, size, k, s, ph, pt, d, auto_pad):
    dk = d * (k - 1) + 1
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if d != 1:
            ctx.fail(f"auto_pad={auto_pad} with dilation {d} on spatial axis {axis}: "
                     "onnxruntime supports SAME padding only without dilation")
        # out = (in + pad_needed - k)/s + 1 = ceil(in/s) with pad_needed as in the module doc
        out = ceildiv(size, s)
        ctx.ge(size, 1, f"spatial axis {axis}: auto_pad={auto_pad} gives ceil(input/{s}) "
                        "outputs, none for an empty input")
        return out
    else:
        if auto_pad == "VALID":
            ph = pt = 0
        num = sub(add(size, ph + pt), dk)
    ctx.ge(num, 0, f"spatial axis {axis}: the input size plus padding {ph + pt} must "
                   f"cover the dilated kernel {dk}")
    return add(floordiv(num, s), 1)


def _weighted_attrs(ctx, X, W, kernel_shape, strides, pads, dilations, group, auto_pad):
    """Checks shared by Conv and ConvTranspose; (spatial rank, k, s, pads, dilations)."""
    _no_empty_lists(ctx, kernel_shape=kernel_shape, strides=strides, pads=pads,
                    dilations=dilations)
    if pads is not None and auto_pad not in ("NOTSET", ""):
        # conv_attributes.h (ConvAttributes, shared by ConvTranspose): "A Conv/ConvTranspose
        # node has both 'auto_pad' and 'pads' attributes", enforced when the kernel is
        # created, whatever the pads' values (zeros too); onnx's ConvTranspose inference
        # refuses it even earlier. onnxruntime cannot load the model at any size.
        ctx.fail(f"auto_pad={auto_pad} together with pads {list(pads)}: onnxruntime refuses "
                 "a Conv/ConvTranspose with both attributes when it loads the model")
    if len(X.shape) < 3:
        ctx.fail(f"X must have rank >= 3, found {len(X.shape)}")
    if len(W.shape) != len(X.shape):
        ctx.fail(f"W has rank {len(W.shape)} but X has rank {len(X.shape)}")
    nsp = len(X.shape) - 2
    ks = list(kernel_shape) if kernel_shape else list(W.shape[2:])
    if any(not isinstance(v, int) for v in ks):
        ctx.fail("kernel size is not a constant")
    k, s, p, d = _spatial_attrs(ctx, nsp, ks, strides, pads, dilations)
    for a, b in zip(ks, W.shape[2:]):
        ctx.eq(b, a, "the kernel_shape attribute must match the weight's spatial dims")
    if group < 1:
        _malformed(ctx, f"group must be >= 1, found {group}")
    return nsp, k, s, p, d


@rule("Conv")
def conv(ctx, X, W, B=None, *, auto_pad: str = "NOTSET", dilations=None, group: int = 1,
         kernel_shape=None, pads=None, strides=None):
    """Y[i] = floor((X[i] + pads - ((k-1)*d+1)) / s) + 1 (onnx.ai/onnx/operators/onnx__Conv)."""
    nsp, k, s, p, d = _weighted_attrs(ctx, X, W, kernel_shape, strides, pads, dilations, group,
                                      auto_pad)
    ctx.eq(X.shape[1], mul(W.shape[1], group),
           f"input channels must equal weight channels x group ({W.shape[1]} x {group})")
    if isinstance(W.shape[0], int) and W.shape[0] % group:
        ctx.fail(f"output channels {W.shape[0]} are not a multiple of group {group}")
    if B is not None:
        ctx.eq(B.shape[0] if B.shape else 1, W.shape[0], "bias length must equal output channels")
    out = [X.shape[0], W.shape[0]]
    for i in range(nsp):
        out.append(_conv_out(ctx, i + 2, X.shape[i + 2], k[i], s[i], p[i], p[i + nsp], d[i],
                             auto_pad))
    return Tensor(tuple(out), X.dtype)


def _pool_input_nonempty(ctx, X):
    """onnxruntime's pools (Global ones too) refuse an empty input unless its batch is 0
    ("Invalid input shape. Only N can be zero"); Conv and ConvTranspose accept one."""
    n = X.shape[0]
    batch_positive = (n >= 1) if isinstance(n, int) else bool(sympy.sympify(n).is_positive)
    for axis, dim in enumerate(X.shape[1:], 1):
        reason = (f"input axis {axis} (size {to_str(dim)}) must not be empty: onnxruntime's "
                  "pooling accepts an empty input only with batch 0")
        if batch_positive:
            ctx.ge(dim, 1, reason)
        else:
            ctx.any_of([Constraint.eq(n, 0), Constraint.ge(dim, 1)], reason)


def _mlas_path(ctx, X, storage_order, d, ceil_mode: int = 0, count_include_pad: int = 0):
    """Whether onnxruntime runs this pool on MLAS (MlasPool, or its float16 twin), which
    refuses a negative padding ("padding values must be non-negative"); None when the
    element type is unknown. pool.cc: AveragePool up to opset 18 (Pool<float, AveragePool>)
    always does; AveragePool 19+ is AveragePoolV19, a plain loop that accepts it; MaxPool
    does without Indices output, row-major storage and all dilations 1 (MaxPoolV8); LpPool
    never does. Only float and float16 have MLAS kernels (double and int8/uint8 MaxPool run
    the plain loop); measured on every pool opset from 7 to 22. An AveragePool 10-18 with
    ceil_mode runs a plain loop instead, which accepts a negative padding with
    count_include_pad=1 and fails on it without (its last window holds no input element:
    a division by a count of 0): measured on 1.31.1, k1..3 with strides 2..5, SAME_UPPER and
    SAME_LOWER, H = 1..12 (k3 s4 runs at H = 4, padding -1, only with count_include_pad=1;
    with ceil_mode=0 it fails either way; MaxPool fails either way)."""
    if ctx.op == "MaxPool":
        candidate = ctx.n_outputs == 1 and not storage_order and all(x == 1 for x in d)
    elif ctx.op == "AveragePool":
        candidate = ctx.opset < 19 and not (ceil_mode and count_include_pad)
    else:
        candidate = False
    if not candidate:
        return False
    if not X.dtype:
        return None
    return X.dtype in (FLOAT, FLOAT16)


def _pool_out(ctx, axis, size, k, s, ph, pt, d, ceil_mode, auto_pad, mlas, batch):
    dk = d * (k - 1) + 1
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        target = ceildiv(size, s)
        pad_needed = sub(add(mul(sub(target, 1), s), k), size)  # runtime: kernel w/o dilation
        ph_expr = floordiv(pad_needed, 2) if auto_pad == "SAME_UPPER" else ceildiv(pad_needed, 2)
        pads = pad_needed
        if mlas:
            # pool_attributes.h ComputeSizePadDilations: pad_needed = (ceil(in/s) - 1)*s + k
            # - in, negative exactly when s > k and the last window would end past the
            # input; MLAS refuses it unless the output is empty (batch 0 returns first)
            reason = (f"spatial axis {axis}: auto_pad={auto_pad} with stride {s} > kernel "
                      f"{k} needs padding (ceil({_s(size)}/{s}) - 1)*{s} + {k} - {_s(size)} "
                      f">= 0 (onnxruntime's MLAS {ctx.op} refuses negative pads)")
            if isinstance(batch, int) and batch >= 1 or \
                    not isinstance(batch, int) and bool(sympy.sympify(batch).is_positive):
                ctx.ge(pad_needed, 0, reason)
            else:
                ctx.any_of([Constraint.eq(batch, 0), Constraint.ge(pad_needed, 0)], reason)
    else:
        if auto_pad == "VALID":
            ph = pt = 0
        ph_expr = ph
        pads = ph + pt
    num = sub(add(size, pads), dk)
    where = f"spatial axis {axis}: padding {_s(pads)}, window {dk}, stride {s}"
    if not ceil_mode:
        q = floordiv(num, s)
        out = add(q if isinstance(num, int) and num >= 0 else dmax(q, 0), 1)
        ctx.ge(num, 1 - s, f"{where}: the window may overhang the input by at most "
                           f"{s - 1} (onnxruntime truncates the division)")
        ctx.spec_note(Constraint.ge(num, 0, ctx.origin(
            f"{where}: the ONNX spec (and PyTorch) need the window to fit inside the padded "
            "input; onnxruntime accepts an overhang and yields one output")))
        return out
    c = ceildiv(num, s)
    if isinstance(pads, int) and isinstance(ph_expr, int) and pads - ph_expr + s <= dk:
        # the last window always starts inside the input or the left padding: c*s <=
        # num + s - 1 = size + ph - 1 + (pt + s - dk) <= size + ph - 1, so min(c, last) is
        # c and the output is c + 1 (GoogLeNet's and Inception's k3 s2 pools; the general
        # form below nests a max/min per pool and grows without bound along a network)
        out = add(c, 1)
    else:
        last = floordiv(sub(add(size, ph_expr), 1), s)
        out = add(dmax(dmin(c, last), sub(c, 1)), 1)
    ctx.ge(out, 1, f"{where}: ceil-mode output must be at least 1")
    if isinstance(out, int) and isinstance(c, int) and out != c + 1:
        # onnx's shape inference, which onnxruntime runs when it loads the model, keeps
        # the dropped last window (ceil(num/s) + 1): on a fixed axis it then holds a size
        # one larger than the kernel's, and an op after it (a broadcast, a Concat) may
        # refuse the model at load ("Incompatible dimensions", fuzz2 seed 70261)
        ctx.assume(f"{where}: on this fixed axis onnx's load-time shape inference gives "
                   f"{c + 1} outputs, the kernel {out}; the model may be refused at load")
    return out


@rule("MaxPool", "AveragePool", "LpPool")
def pool(ctx, X, *, auto_pad: str = "NOTSET", ceil_mode: int = 0, dilations=None,
         kernel_shape=(), pads=None, storage_order: int = 0, strides=None,
         count_include_pad: int = 0, p: int = 2):
    """Y[i] = floor((X[i] + pads - ((k-1)*d+1)) / s + 1), runtime truncation (module doc)."""
    if len(X.shape) < 3:
        ctx.fail(f"X must have rank >= 3, found {len(X.shape)}")
    nsp = len(X.shape) - 2
    if not kernel_shape:
        ctx.fail("kernel_shape is required")
    _no_empty_lists(ctx, strides=strides, pads=pads, dilations=dilations)
    k, s, pd, d = _spatial_attrs(ctx, nsp, kernel_shape, strides, pads, dilations)
    _pool_input_nonempty(ctx, X)
    mlas = _mlas_path(ctx, X, storage_order, d, ceil_mode, count_include_pad)
    if mlas is not False and auto_pad in ("SAME_UPPER", "SAME_LOWER") and \
            any(s[i] > k[i] for i in range(nsp)):
        c = X.shape[1]
        if mlas is None:
            ctx.assume(f"auto_pad={auto_pad} with stride > kernel gives negative padding at "
                       "some sizes, which onnxruntime refuses only for float/float16 inputs; "
                       "the input's element type is unknown")
            mlas = False
        elif X.dtype == FLOAT and nsp == 2 and (not isinstance(c, int) or c % 8 == 0):
            # the optimiser's NCHWc layout rewrites a 2-D float MaxPool/AveragePool whose
            # channels are a multiple of the CPU's block size (8 with AVX2, 16 with AVX-512)
            # to NchwcMaxPool/NchwcAveragePool, which accept the negative padding MLAS
            # refuses: the sizes where the padding is negative run on some CPUs and fail on
            # others (measured: 16 channels run, 8 fail, on an AVX-512 machine)
            ctx.assume(f"auto_pad={auto_pad} with stride > kernel gives negative padding at "
                       f"some sizes; with {_s(c)} channels whether onnxruntime accepts it "
                       "depends on the CPU (NCHWc block size 8 or 16)")
            mlas = False
    out = [X.shape[0], X.shape[1]]
    for i in range(nsp):
        if pd[i] >= k[i] or pd[i + nsp] >= k[i]:
            ctx.fail(f"pad {pd[i]}/{pd[i + nsp]} must be smaller than the kernel {k[i]}")
        out.append(_pool_out(ctx, i + 2, X.shape[i + 2], k[i], s[i], pd[i], pd[i + nsp], d[i],
                             ceil_mode, auto_pad, mlas, X.shape[0]))
    outs = [Tensor(tuple(out), X.dtype)]
    if ctx.op == "MaxPool" and ctx.n_outputs > 1:
        # Indices are flat positions in X (batch and channel offsets included, either
        # storage order): within 0..numel(X) - 1, not every one attained
        outs.append(Tensor(tuple(out), INT64, bounds=Bounds(0, sub(X.numel(), 1))))
    return outs


@rule("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(ctx, X, *, p: int = 2):
    """Y = [N, C, 1, ..., 1]."""
    if len(X.shape) < 2:
        ctx.fail(f"X must have rank >= 2, found {len(X.shape)}")
    _pool_input_nonempty(ctx, X)
    return Tensor(tuple(X.shape[:2]) + (1,) * (len(X.shape) - 2), X.dtype)


@rule("ConvTranspose")
def conv_transpose(ctx, X, W, B=None, *, auto_pad: str = "NOTSET", dilations=None,
                   group: int = 1, kernel_shape=None, output_padding=None, output_shape=None,
                   pads=None, strides=None):
    """Y[i] = s*(X[i]-1) + output_padding + ((k-1)*d+1) - pads (onnx__ConvTranspose);
    SAME_* and output_shape as onnxruntime computes them (module doc)."""
    nsp, k, s, p, d = _weighted_attrs(ctx, X, W, kernel_shape, strides, pads, dilations, group,
                                      auto_pad)
    _no_empty_lists(ctx, output_padding=output_padding, output_shape=output_shape)
    op = list(output_padding) if output_padding else [0] * nsp
    if len(op) != nsp:
        ctx.fail(f"output_padding {op} does not match {nsp} spatial dims")
    for i in range(nsp):
        if not 0 <= op[i] < s[i]:
            ctx.fail(f"output_padding {op[i]} on spatial axis {i + 2} must be >= 0 and less "
                     f"than the stride {s[i]} (onnxruntime)")
    ctx.eq(X.shape[1], W.shape[0], "input channels must equal the weight's first dim")
    if isinstance(X.shape[1], int) and X.shape[1] % group:
        ctx.fail(f"input channels {X.shape[1]} are not a multiple of group {group}")
    out = [X.shape[0], mul(W.shape[1], group)]
    if B is not None:
        ctx.eq(B.shape[0], out[1], "bias length must equal output channels")
    shape_attr = list(output_shape)[-nsp:] if output_shape else None
    if shape_attr is not None and len(shape_attr) != nsp:
        ctx.fail(f"output_shape {list(output_shape)} does not match {nsp} spatial dims")
    for i in range(nsp):
        size_in = X.shape[i + 2]
        dk = d[i] * (k[i] - 1) + 1
        full = add(mul(sub(size_in, 1), s[i]), op[i] + dk)
        if shape_attr is not None:
            size = shape_attr[i]
            if size < 1:
                ctx.fail(f"output_shape {size} on spatial axis {i + 2} must be >= 1")
            ctx.ge(size_in, 1, f"spatial axis {i + 2}: with output_shape the input must not "
                               "be empty (onnxruntime: 'Input spatial dimension must be "
                               "positive')")
            # pads = max(0, full - O); the runtime re-derives the input size as
            # floor((O + pads - dk)/s) + 1 and needs it to equal X[i]
            ctx.ge(add(mul(size_in, s[i]), dk - 1), size,
                   f"spatial axis {i + 2}: output_shape {size} needs input size * stride "
                   f"{s[i]} + {dk - 1} >= {size} (onnxruntime recomputes the input size)")
            if isinstance(size_in, int) and size < size_in:
                # onnx's shape inference (run at load) stops at an output_shape entry below
                # a fixed input size and leaves the output a lower rank: an op after it
                # (Pad's pads, a broadcast) may refuse the model (fuzz2 seed 7140905)
                ctx.assume(f"spatial axis {i + 2}: output_shape {size} is below the input's "
                           f"{size_in}, where onnx's load-time shape inference gives the "
                           "output fewer axes; the model may be refused at load")
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            # total padding max(0, full - in*s), and full - in*s = dk + op - s is constant
            size = mul(size_in, s[i]) if dk + op[i] >= s[i] else full
            if dk + op[i] < s[i] and isinstance(size_in, int):
                # onnx's load-time shape inference says in*s (the spec): on a fixed axis a
                # later op may see that size and refuse the model at load
                ctx.assume(f"spatial axis {i + 2}: auto_pad={auto_pad} gives {size} outputs "
                           f"in the kernel but {size_in * s[i]} in onnx's load-time shape "
                           "inference; the model may be refused at load")
        elif auto_pad == "VALID":
            size = full
        else:
            size = sub(full, p[i] + p[i + nsp])
        ctx.ge(size, 1, f"spatial axis {i + 2}: output size must be at least 1")
        if shape_attr is None and op[i]:
            # the runtime re-derives the input size as trunc((full - dk)/s) + 1 from the
            # output it computed; full - dk = s*(in-1) + op, which truncates back to in - 1
            # for in >= 1, but to 0 (not -1) for an empty input when 0 < op < s
            ctx.ge(size_in, 1, f"spatial axis {i + 2}: with output_padding {op[i]} the input "
                               "must not be empty (onnxruntime recomputes the input size "
                               "as 1)")
        out.append(size)
    return Tensor(tuple(out), X.dtype)


@rule("MaxRoiPool")
def max_roi_pool(ctx, X, rois, *, pooled_shape, spatial_scale: float = 1.0):
    """Y = [num_rois, C, ph, pw]."""
    return Tensor((rois.shape[0], X.shape[1]) + tuple(pooled_shape), X.dtype)


_ = const_ints


# ---- DeformConv -------------------------------------------------------------------------
@rule("DeformConv", since=19)
def deform_conv(ctx, X, W, offset, B=None, mask=None, *, dilations=None, group: int = 1,
                kernel_shape=None, offset_group: int = 1, pads=None, strides=None):
    """Y (N, oC, oH, oW) with Conv's output sizes; offset (N, 2*G*kH*kW, oH, oW), mask
    (N, G*kH*kW, oH, oW) (https://onnx.ai/onnx/operators/onnx__DeformConv.html)."""
    if len(X.shape) != 4:
        ctx.fail("onnxruntime's DeformConv needs a 4-D X (N, C, H, W)")
    if len(W.shape) != 4 or len(offset.shape) != 4:
        ctx.fail("W and offset must be 4-D")
    k = list(kernel_shape) if kernel_shape else list(W.shape[2:])
    if any(not isinstance(v, int) for v in k):
        raise Unsupported("the kernel size is not a constant")
    s = list(strides) if strides else [1, 1]
    d = list(dilations) if dilations else [1, 1]
    p = list(pads) if pads else [0, 0, 0, 0]
    if len(k) != 2 or len(s) != 2 or len(d) != 2 or len(p) != 4:
        ctx.fail("kernel_shape, strides, dilations (2 values) and pads (4) do not fit 2-D")
    if min(k) < 1 or min(s) < 1 or min(d) < 1 or min(p) < 0 or group < 1 or offset_group < 1:
        ctx.fail("kernel, strides, dilations, group and offset_group must be positive, pads "
                 ">= 0")
    for a, b in zip(k, W.shape[2:]):
        ctx.eq(b, a, "kernel_shape must match the weight's spatial dims")
    n, c = X.shape[0], X.shape[1]
    m = W.shape[0]
    ctx.ge(c, 1, "input channels must be >= 1")
    ctx.ge(m, 1, "output channels must be >= 1")
    ctx.eq(c, mul(W.shape[1], group), f"input channels must equal weight channels x group "
                                      f"({group})")
    ctx.divides(group, m, f"output channels must be a multiple of group ({group})")
    ctx.divides(offset_group, c, f"input channels must be a multiple of offset_group "
                                 f"({offset_group})")
    out = []
    for i in range(2):
        dk = d[i] * (k[i] - 1) + 1
        num = sub(add(X.shape[2 + i], p[i] + p[i + 2]), dk)
        ctx.ge(num, 0, f"spatial axis {i + 2}: the input plus padding must cover the dilated "
                       f"kernel {dk}")
        out.append(add(floordiv(num, s[i]), 1))
    kk = k[0] * k[1]
    for t, ch, what in ((offset, 2 * offset_group * kk, "offset"),
                        (mask, offset_group * kk, "mask")):
        if t is None:
            continue
        if len(t.shape) != 4:
            ctx.fail(f"{what} must be 4-D")
        ctx.eq(t.shape[0], n, f"{what}'s batch size must equal X's")
        ctx.eq(t.shape[1], ch, f"{what} must have {ch} channels (offset_group x kernel "
                               f"positions{' x 2' if what == 'offset' else ''})")
        ctx.eq(t.shape[2], out[0], f"{what}'s height must equal the output height")
        ctx.eq(t.shape[3], out[1], f"{what}'s width must equal the output width")
    if B is not None:
        if len(B.shape) != 1:
            ctx.fail("B must be 1-D")
        ctx.eq(B.shape[0], m, "B must have one entry per output channel")
    return Tensor((n, m, out[0], out[1]), X.dtype)
