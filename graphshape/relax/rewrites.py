"""The exact rewrites: each finder looks at one op, decides from the original analysis
(symbolic shapes, evaluated at the export size) whether a constant or an op pins a size
that the graph could follow instead, and returns a Rewrite whose apply() edits the graph.

Every rewrite computes the same outputs at the export size (the reason is in ``why``);
only ops whose inputs actually vary with the freed dims are touched.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
from onnx_ir import convenience

from graphshape.relax.build import attr, const_array, node_label
from graphshape.relax.core import Context, Left, Rewrite, fmt_list, sym_shape
from graphshape.relax.shapeconst import shape_constants

INT64_MAX = np.iinfo(np.int64).max


# ---------------------------------------------------------------------------------------
# AveragePool / MaxPool whose window is the whole map -> GlobalAveragePool / GlobalMaxPool

def global_pool(ctx: Context, node: ir.Node):
    if node.domain not in ("", "ai.onnx") or node.op_type not in ("AveragePool", "MaxPool"):
        return None
    if len(node.outputs) > 1 and node.outputs[1] is not None and (
            node.outputs[1].uses() or node.outputs[1].is_graph_output()):
        return None  # MaxPool's Indices are used
    x = node.inputs[0]
    shp = ctx.shape(x)
    if shp is None or len(shp) < 3:
        return None
    spatial = shp[2:]
    k = list(attr(node, "kernel_shape", []) or [])
    if len(k) != len(spatial):
        return None
    pads = list(attr(node, "pads", []) or [0] * 2 * len(k))
    dil = list(attr(node, "dilations", []) or [1] * len(k))
    auto_pad = attr(node, "auto_pad", "NOTSET")
    if auto_pad not in ("NOTSET", "VALID") or any(pads) or any(d != 1 for d in dil):
        return None
    at = [ctx.at(d) for d in spatial]
    if at != k or not any(ctx.varies(d) for d in spatial):
        return None
    new_op = "GlobalAveragePool" if node.op_type == "AveragePool" else "GlobalMaxPool"
    what = "mean" if node.op_type == "AveragePool" else "maximum"

    def apply():
        g = ctx.graph
        new = ir.Node("", new_op, [x], name=node.name, num_outputs=1)
        convenience.replace_nodes_and_values(g, node, [node], [new], [node.outputs[0]],
                                             [new.outputs[0]])

    return Rewrite(
        "global-pool", node_label(node), node.op_type,
        f"{node.op_type} kernel {fmt_list(k)} on a {sym_shape(spatial)} map",
        new_op,
        f"at the export size the map is {'x'.join(map(str, at))}: the window, with no "
        f"padding and dilation 1, covers the whole map, so the one output is the {what} "
        f"over the whole map, which {new_op} computes at every size", apply)


# ---------------------------------------------------------------------------------------
# Reshape to a constant target -> 0 / -1 / Shape -> Gather -> Mul -> Concat

def _resolve_target(target, s_in, allowzero):
    out, neg = [], None
    for j, t in enumerate(target):
        if t == 0 and not allowzero:
            if j >= len(s_in):
                return None
            out.append(s_in[j])
        elif t == -1:
            neg = j
            out.append(None)
        else:
            out.append(int(t))
    if neg is not None:
        known = int(np.prod([x for x in out if x is not None])) if len(out) > 1 else 1
        total = int(np.prod(s_in)) if s_in else 1
        if known == 0 or total % known:
            return None
        out[neg] = total // known
    return out


def _groups(s, o):
    """Align input dims ``s`` with output dims ``o`` (export-size ints) into groups of equal
    product: [(in_axes, out_axes)], or None."""
    i = j = 0
    groups = []
    r, k = len(s), len(o)
    while i < r or j < k:
        if j == k:
            if s[i] != 1 or not groups:
                return None
            groups[-1][0].append(i)
            i += 1
            continue
        if i == r:
            if o[j] != 1:
                return None
            groups.append(([], [j]))
            j += 1
            continue
        if o[j] == 1 and s[i] != 1:
            groups.append(([], [j]))
            j += 1
            continue
        ins, outs = [i], [j]
        pin, pout = s[i], o[j]
        i, j = i + 1, j + 1
        while pin != pout:
            if pin < pout:
                if i == r:
                    return None
                pin *= s[i]
                ins.append(i)
                i += 1
            else:
                if j == k:
                    return None
                pout *= o[j]
                outs.append(j)
                j += 1
        groups.append((ins, outs))
    return groups


def reshape(ctx: Context, node: ir.Node):
    if node.op_type != "Reshape" or node.domain not in ("", "ai.onnx") or ctx.opset < 5:
        return None
    data, tgt = node.inputs[0], node.inputs[1]
    target = const_array(tgt)
    shp = ctx.shape(data)
    if target is None or shp is None or target.ndim != 1:
        return None
    if not any(ctx.varies(d) for d in shp):
        return None
    s = [ctx.at(d) for d in shp]
    if any(x is None or x == 0 for x in s):
        return None
    allowzero = bool(attr(node, "allowzero", 0))
    o = _resolve_target([int(t) for t in target], s, allowzero)
    if o is None or any(x == 0 for x in o):
        return None
    groups = _groups(s, o)
    label = node_label(node)
    if groups is None:
        ctx.left.append(Left(label, "Reshape", f"shape {fmt_list(target)}",
                             "its input and output dims do not align into groups of equal "
                             "size"))
        return None
    pieces: list = [None] * len(o)  # int, or ("copy", axis) / ("dyn", in_axes)
    for ins, outs in groups:
        if not any(ctx.varies(shp[a]) for a in ins):
            for jj in outs:
                pieces[jj] = o[jj]
            continue
        if len(outs) > 1:
            ctx.left.append(Left(label, "Reshape", f"shape {fmt_list(target)}",
                                 f"input axes {ins} (which vary) are split into output axes "
                                 f"{outs}: which part grows cannot be told"))
            return None
        jj = outs[0]
        pieces[jj] = ("copy", ins[0]) if ins == [jj] and not allowzero else ("dyn", ins)
    dyn = [jj for jj, p in enumerate(pieces) if isinstance(p, tuple) and p[0] == "dyn"]
    if dyn:
        minus = max(dyn, key=lambda jj: (len(pieces[jj][1]), jj))
        pieces[minus] = -1
    consts = [0 if isinstance(p, tuple) and p[0] == "copy" else p for p in pieces]
    if all(isinstance(p, int) for p in consts):
        new_target = np.array(consts, dtype=np.int64)
        if list(new_target) == [int(t) for t in target]:
            return None
        after = f"shape {fmt_list(new_target)}"
    else:
        new_target = None
        after = "shape Concat(" + ", ".join(
            f"Shape(input)[{'*'.join(map(str, p[1]))}]" if isinstance(p, tuple) else str(p)
            for p in consts) + ")"

    def apply():
        b = ctx.builder
        if new_target is not None:
            v = b.const(new_target, label)
        else:
            parts, run = [], []
            for p in consts:
                if isinstance(p, tuple):
                    if run:
                        parts.append(b.const(np.array(run, dtype=np.int64), label))
                        run = []
                    prodv = None
                    for a in p[1]:
                        d = b.dim(data, a, label)
                        prodv = d if prodv is None else b.op("Mul", [prodv, d], label)
                    parts.append(prodv)
                else:
                    run.append(p)
            if run:
                parts.append(b.const(np.array(run, dtype=np.int64), label))
            v = b.op("Concat", parts, label, axis=0)
        b.flush(node)
        node.replace_input_with(1, v)

    why = (f"at the export size the input is {fmt_list(s)} and the output {fmt_list(o)}; "
           + "; ".join(_group_words(shp, s, o, g, pieces) for g in groups)
           + ": the same output there, and the varying axes are counted at other sizes")
    return Rewrite("reshape", label, "Reshape", f"shape {fmt_list(target)}", after, why, apply)


def _group_words(shp, s, o, group, pieces):
    ins, outs = group
    p = pieces[outs[0]] if len(outs) == 1 else None
    if p == -1:
        return (f"-1 takes {'*'.join(str(s[a]) for a in ins)} = {o[outs[0]]} "
                f"(input axes {', '.join(map(str, ins))})")
    if isinstance(p, tuple) and p[0] == "copy":
        return f"0 copies input axis {ins[0]} ({s[ins[0]]})"
    if isinstance(p, tuple):
        return (f"output axis {outs[0]} is read from the input's shape, axes "
                f"{', '.join(map(str, ins))} ({o[outs[0]]})")
    return f"{', '.join(str(o[j]) for j in outs)} stay{'s' if len(outs) == 1 else ''}"


# ---------------------------------------------------------------------------------------
# Resize to fixed sizes = input x whole-number scale -> scales

def resize(ctx: Context, node: ir.Node):
    if node.op_type != "Resize" or node.domain not in ("", "ai.onnx") or ctx.opset < 11:
        return None
    if len(node.inputs) < 4 or node.inputs[3] is None:
        return None
    sizes = const_array(node.inputs[3])
    scales_in = node.inputs[2]
    if sizes is None or (scales_in is not None and
                         (const_array(scales_in) is None or const_array(scales_in).size)):
        return None
    if attr(node, "keep_aspect_ratio_policy", "stretch") != "stretch":
        return None
    x = node.inputs[0]
    shp = ctx.shape(x)
    if shp is None:
        return None
    axes = attr(node, "axes", None)
    axes = [a % len(shp) for a in axes] if axes else list(range(len(shp)))
    if len(axes) != sizes.size:
        return None
    xs = [ctx.at(shp[a]) for a in axes]
    if any(v is None or v == 0 for v in xs) or not any(ctx.varies(shp[a]) for a in axes):
        return None
    scales = []
    for a, xin, s in zip(axes, xs, sizes.tolist()):
        sc = np.float32(s) / np.float32(xin)  # onnxruntime's own scale for given sizes
        if int(np.float32(sc) * np.float32(xin)) != s:
            return None
        whole = float(sc).is_integer() or (s and float(xin / s).is_integer())
        if ctx.varies(shp[a]) and not whole:
            ctx.left.append(Left(node_label(node), "Resize", f"sizes {fmt_list(sizes)}",
                                 f"axis {a}: {s}/{xin} is not a whole-number ratio, so the "
                                 "fixed size looks intended (resizing to a size), not a scale"))
            return None
        scales.append(sc)
    scales = np.array(scales, dtype=np.float32)

    def apply():
        v = ctx.builder.const(scales, node_label(node))
        ctx.builder.flush(node)
        if len(node.inputs) >= 3:
            node.replace_input_with(2, v)
        node.resize_inputs(3)
        if node.inputs[1] is None and ctx.opset < 13:
            roi = ctx.builder.const(np.array([], dtype=np.float32), node_label(node))
            ctx.builder.flush(node)
            node.replace_input_with(1, roi)

    return Rewrite(
        "resize", node_label(node), "Resize", f"sizes {fmt_list(sizes)}",
        "scales [" + ", ".join(f"{float(v):g}" for v in scales) + "]",
        f"at the export size the input is {fmt_list(xs)}: the output sizes are the input times "
        f"these scales (float32 scale = size / input, as onnxruntime computes it from sizes, "
        f"so the coordinate mapping is the same too)", apply)


# ---------------------------------------------------------------------------------------
# Slice starts/ends equal to the axis length (or length - k) -> INT64_MAX / -k

def slice_(ctx: Context, node: ir.Node):
    if node.op_type != "Slice" or node.domain not in ("", "ai.onnx") or ctx.opset < 10:
        return None
    ins = list(node.inputs) + [None] * (5 - len(node.inputs))
    data, starts_v, ends_v, axes_v, steps_v = ins[:5]
    starts, ends = const_array(starts_v), const_array(ends_v)
    shp = ctx.shape(data)
    if starts is None or ends is None or shp is None:
        return None
    n = len(starts)
    axes = const_array(axes_v) if axes_v is not None else np.arange(n)
    steps = const_array(steps_v) if steps_v is not None else np.ones(n, dtype=np.int64)
    if axes is None or steps is None:
        return None
    new_s, new_e = starts.astype(np.int64).copy(), ends.astype(np.int64).copy()
    notes = []
    for i, (a, st) in enumerate(zip(axes.tolist(), steps.tolist())):
        d = shp[a % len(shp)]
        if st <= 0 or not ctx.varies(d):
            continue
        D = ctx.at(d)
        e = int(ends[i])
        if e == D:
            new_e[i] = INT64_MAX
            notes.append(f"axis {a}: end {e} is the axis length {D} -> to the end")
        elif D // 2 <= e < D:
            new_e[i] = e - D
            notes.append(f"axis {a}: end {e} = length {D} - {D - e} -> {e - D}")
        s0 = int(starts[i])
        if D // 2 <= s0 < D and s0 > 0:
            new_s[i] = s0 - D
            notes.append(f"axis {a}: start {s0} = length {D} - {D - s0} -> {s0 - D}")
    if not notes:
        return None

    def apply():
        # int64 throughout: INT64_MAX does not fit an int32 end, and Slice wants one index
        # type for starts, ends, axes and steps
        b = ctx.builder
        label = node_label(node)
        wide = starts.dtype != np.int64 or ends.dtype != np.int64
        if wide or (new_s != starts).any():
            node.replace_input_with(1, b.const(new_s, label))
        if wide or (new_e != ends).any():
            node.replace_input_with(2, b.const(new_e, label))
        for k, arr in ((3, axes), (4, steps)):
            if wide and len(node.inputs) > k and node.inputs[k] is not None:
                node.replace_input_with(k, b.const(np.asarray(arr, dtype=np.int64), label))
        b.flush(node)

    return Rewrite("slice", node_label(node), "Slice",
                   f"starts {fmt_list(starts)}, ends {fmt_list(ends)}",
                   f"starts {fmt_list(new_s)}, ends {fmt_list(new_e)}",
                   "; ".join(notes) + ": onnxruntime clamps ends to the axis length and "
                   "counts negative indices from its end, so the slice is the same at the "
                   "export size", apply)


FINDERS = (global_pool, reshape, resize, slice_, shape_constants)


def find(ctx: Context) -> list:
    out = []
    for node in list(ctx.graph):
        for f in FINDERS:
            r = f(ctx, node)
            if r is not None:
                out.append(r)
                break
    return out
