"""Range limits and Expand / Tile / ConstantOfShape shapes that equal, at the export size,
a varying size of a tensor their result meets: read them from that tensor's Shape.

Only constants whose op's result meets (Add, Mul, Concat, Where, ...) a tensor of the
varying size are touched, on the matching axis (right-aligned, as broadcasting aligns
them): weights and other constants that never meet the input's sizes are left alone."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from graphshape.arith.dims import to_str
from graphshape.relax.build import const_array, node_label
from graphshape.relax.core import Context, Left, Rewrite, fmt_list

PASS_OPS = {"Cast", "Identity", "Neg", "Abs", "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt",
            "Reciprocal", "Floor", "Ceil", "Round", "Not", "Sin", "Cos"}
RESHAPING_OPS = {"Gather", "Unsqueeze", "Reshape", "Squeeze", "Flatten"}  # for Range only
MEET_OPS = {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "Where",
            "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor",
            "Concat", "PRelu", "BitShift"}


def _partners(ctx: Context, y: ir.Value, through_gather: bool):
    """Tensors ``y`` meets downstream (through shape-preserving ops): [(value, shape, lag)]
    where ``lag`` aligns y's axes (right-aligned broadcasting), None when unknown."""
    out, seen = [], set()
    frontier = [(y, 0)]
    for _depth in range(4):
        nxt = []
        for v, lag in frontier:
            for user, _idx in v.uses():
                if id(user) in seen:
                    continue
                seen.add(id(user))
                op = user.op_type
                if op in PASS_OPS or (through_gather and op in RESHAPING_OPS):
                    nxt.append((user.outputs[0], None if op in RESHAPING_OPS else lag))
                elif op in MEET_OPS:
                    for other in user.inputs:
                        if other is None or other is v:
                            continue
                        shp = ctx.shape(other)
                        if shp is not None:
                            out.append((other, shp, lag))
        frontier = nxt
    return out


def _descendants(node: ir.Node) -> set:
    seen, stack = set(), [node]
    while stack:
        n = stack.pop()
        for v in n.outputs:
            for u, _ in v.uses():
                if id(u) not in seen:
                    seen.add(id(u))
                    stack.append(u)
    return seen


def _source_for(ctx: Context, node: ir.Node, value: int, axis_hint, rank_hint, partners):
    """(value, axis, expr) to read ``value`` from, or None / "ambiguous"."""
    if value < 2:
        return None
    desc = _descendants(node)
    cands = []
    for v, shp, _lag in partners:
        for j, d in enumerate(shp):
            if not ctx.varies(d) or ctx.at(d) != value:
                continue
            aligned = axis_hint is not None and rank_hint is not None and \
                j - len(shp) == axis_hint - rank_hint
            cands.append((aligned, v, j, d))
    if not cands:
        return None
    if any(c[0] for c in cands):
        cands = [c for c in cands if c[0]]
    exprs = {to_str(c[3]) for c in cands}
    if len(exprs) > 1:
        return "ambiguous"
    # prefer a graph input with that very dim, then a partner the node does not feed
    expr = cands[0][3]
    for gi in ctx.graph.inputs:
        gs = ctx.shape(gi)
        if gs is None:
            continue
        for j, d in enumerate(gs):
            if not isinstance(d, int) and to_str(d) == to_str(expr):
                return gi, j, expr
    for _a, v, j, d in cands:
        if v.producer() is None or id(v.producer()) not in desc:
            return v, j, d
    return None


def shape_constants(ctx: Context, node: ir.Node):
    op = node.op_type
    if node.domain not in ("", "ai.onnx"):
        return None
    spec = {"Range": 1, "Expand": 1, "Tile": 1, "ConstantOfShape": 0}
    if op not in spec or len(node.inputs) <= spec[op]:
        return None
    if op == "Range" and ctx.opset < 11:
        return None
    idx = spec[op]
    arr = const_array(node.inputs[idx])
    if arr is None or arr.dtype.kind not in "iu" and op != "Range":
        return None
    label = node_label(node)
    partners = _partners(ctx, node.outputs[0], through_gather=(op == "Range"))
    if not partners and op != "Expand":
        return None
    if op == "Range":
        start, delta = const_array(node.inputs[0]), const_array(node.inputs[2])
        if start is None or delta is None or float(start) != 0 or float(delta) != 1:
            return None
        limit = float(arr)
        if not limit.is_integer():
            return None
        src = _source_for(ctx, node, int(limit), None, None, partners)
        if src is None:
            return None
        if src == "ambiguous":
            ctx.left.append(Left(label, op, f"limit {int(limit)}",
                                 "more than one varying size equals it at the export size"))
            return None
        v, j, expr = src

        def apply():
            b = ctx.builder
            d = b.dim(v, j, label, scalar=True)
            if arr.dtype != np.int64:
                d = b.op("Cast", [d], label, to=_onnx_dtype(arr.dtype))
            b.flush(node)
            node.replace_input_with(1, d)

        return Rewrite("range", label, op, f"limit {int(limit)}",
                       f"limit Shape({v.name})[{j}]",
                       f"{int(limit)} is {to_str(expr)} at the export size, and the Range's "
                       "result meets a tensor of that size", apply)
    vec = [int(x) for x in arr.reshape(-1)]
    m = len(vec)
    x_shape = ctx.shape(node.inputs[0]) if op in ("Expand", "Tile") else None
    new: list = list(vec)
    notes = []
    for k, c in enumerate(vec):
        if op == "Expand" and x_shape is not None:
            xa = k - m + len(x_shape)
            if 0 <= xa < len(x_shape) and ctx.varies(x_shape[xa]) and ctx.at(x_shape[xa]) == c:
                new[k] = 1
                notes.append(f"{c} at axis {k} is the input's own size: 1 keeps it")
                continue
        if op == "Tile" and (x_shape is None or x_shape[k] != 1):
            continue
        src = _source_for(ctx, node, c, k, m, partners)
        if src is None:
            continue
        if src == "ambiguous":
            ctx.left.append(Left(label, op, f"{fmt_list(vec)}[{k}] = {c}",
                                 "more than one varying size equals it at the export size"))
            continue
        new[k] = src
        notes.append(f"{c} at axis {k} is {to_str(src[2])} at the export size")
    if new == vec:
        return None

    def apply():
        b = ctx.builder
        parts, run = [], []
        for p in new:
            if isinstance(p, tuple):
                if run:
                    parts.append(b.const(np.array(run, dtype=np.int64), label))
                    run = []
                parts.append(b.dim(p[0], p[1], label))
            else:
                run.append(p)
        if run:
            parts.append(b.const(np.array(run, dtype=np.int64), label))
        v = parts[0] if len(parts) == 1 else b.op("Concat", parts, label, axis=0)
        b.flush(node)
        node.replace_input_with(idx, v)

    what = {"Expand": "shape", "Tile": "repeats", "ConstantOfShape": "shape"}[op]
    after = "[" + ", ".join(f"Shape({p[0].name})[{p[1]}]" if isinstance(p, tuple) else str(p)
                            for p in new) + "]"
    return Rewrite(op.lower() if op != "ConstantOfShape" else "constant-of-shape", label, op,
                   f"{what} {fmt_list(vec)}", f"{what} {after}",
                   "; ".join(notes) + ", and the result meets a tensor of that size: the "
                   "same values at the export size", apply)


def _onnx_dtype(np_dtype) -> int:
    from onnx import helper  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it

    return int(helper.np_dtype_to_tensor_dtype(np.dtype(np_dtype)))
