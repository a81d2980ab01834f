"""Real pins (a classifier whose weights fix the feature map) and --adapt-head: an exact
adaptive average pooling to the pinned map size in front of the flatten.

The pool is two MatMuls with pooling matrices computed from the map's Shape (bins as in
PyTorch's AdaptiveAvgPool: start = floor(i*h/p), end = ceil((i+1)*h/p)); at the export
size h == p and the matrix is the identity with entries 1/1, so the outputs are exactly the
original's there. It needs Range (opset 11): older models are converted first.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
from onnx_ir import convenience

from graphshape.arith.dims import to_str
from graphshape.relax.build import attr, node_label
from graphshape.relax.core import Left, Rewrite
from graphshape.render.report import binding_conditions

LAYER_OPS = {"Gemm", "MatMul"}
SKIP_BACK = {"Identity", "Dropout", "Cast"}


def binding(analysis) -> list:
    """The conditions that bound the domain, as (op, node, reason, condition) rows."""
    try:
        conds = binding_conditions(analysis)
    except Exception:  # noqa: BLE001  the report module is being redesigned; fall back
        conds = list(analysis.domain.solved.conditions)
    out = []
    for c in conds:
        o = c.origins[0]
        out.append((o.op, o.node, o.reason, str(c.constraint)))
    return out


def pins(ctx, analysis) -> list:
    """Left entries for every bound still in ``analysis``'s domain."""
    out = []
    for op, node, reason, cond in binding(analysis):
        if op in LAYER_OPS:
            site = _flatten_site(ctx, node)
            where = ""
            if site is not None:
                _x, _flat, _spatial, targets = site
                where = (f"; at the export size the map before the flatten is "
                         f"{'x'.join(map(str, targets))}, and the weights hold exactly that "
                         "many features")
            out.append(Left(node, op, cond,
                            f"real pin: {reason}{where}; left as is (--adapt-head inserts an "
                            "adaptive average pool to the pinned size)"))
        else:
            out.append(Left(node, op, cond, f"bound left: {reason}"))
    return out


def _find_node(ctx, name: str):
    """The ir node graphshape calls ``name`` (unnamed nodes are 'Op_index' there, the index
    in its topological order): matched by name, else by the node's first output."""
    for n in ctx.graph:
        if n.name == name:
            return n
    out = None
    for idx, proto in enumerate(ctx.analysis.graph.nodes):
        if not proto.name and f"{proto.op_type}_{idx}" == name and proto.output:
            out = proto.output[0]
            break
    if out is None:
        return None
    for n in ctx.graph:
        if n.outputs and n.outputs[0] is not None and n.outputs[0].name == out:
            return n
    return None


def _flatten_site(ctx, node_name):
    """(map value, flatten node, spatial axes, target sizes) feeding a pinned layer."""
    node = _find_node(ctx, node_name)
    if node is None or node.op_type not in LAYER_OPS:
        return None
    v = node.inputs[0]
    prod = v.producer()
    while prod is not None and prod.op_type in SKIP_BACK:
        v = prod.inputs[0]
        prod = v.producer()
    if prod is None or prod.op_type not in ("Flatten", "Reshape"):
        return None
    if prod.op_type == "Flatten" and attr(prod, "axis", 1) != 1:
        return None
    x = prod.inputs[0]
    shp = ctx.shape(x)
    if shp is None or len(shp) < 3:
        return None
    if prod.op_type == "Reshape":
        s, o = ctx.export_shape(x), ctx.export_shape(prod.outputs[0])
        if s is None or o != [s[0], int(np.prod(s[1:]))]:
            return None
    spatial = [a for a in range(2, len(shp)) if ctx.varies(shp[a])]
    if not spatial or any(a < len(shp) - 2 for a in spatial):
        return None
    targets = [ctx.at(shp[a]) for a in range(2, len(shp))]
    if any(t is None or t < 1 for t in targets):
        return None
    return x, prod, spatial, targets


def adapt(ctx, analysis) -> list:
    """Rewrites inserting the adaptive pool in front of every pinned layer's flatten."""
    out = []
    seen = set()
    for op, node_name, _reason, _cond in binding(analysis):
        if op not in LAYER_OPS or node_name in seen:
            continue
        seen.add(node_name)
        site = _flatten_site(ctx, node_name)
        if site is None:
            ctx.left.append(Left(node_name, op, "pinned input",
                                 "no Flatten/Reshape of a feature map found in front of it: "
                                 "--adapt-head cannot place a pool"))
            continue
        out.append(_adapt_rewrite(ctx, site, node_name, op))
    return out


def _adapt_rewrite(ctx, site, layer, layer_op) -> Rewrite:
    x, flat, spatial, targets = site
    shp = ctx.shape(x)
    t = ctx.analysis.propagation.tensors.get(x.name)
    dtype = int(t.dtype) if t is not None and t.dtype else 1
    label = node_label(flat)
    size = "x".join(map(str, targets))

    def apply():
        b = ctx.builder
        y = x
        rank = len(shp)
        for a in sorted(spatial):
            p = targets[a - 2]
            pm = _pool_matrix(b, x, a, p, dtype, label)
            if a == rank - 2:
                y = b.op("MatMul", [pm, y], label)
            else:
                pt = b.op("Transpose", [pm], label, perm=[1, 0])
                y = b.op("MatMul", [y, pt], label)
        b.flush(flat)
        if flat.op_type == "Flatten":
            flat.replace_input_with(0, y)
        else:
            new = ir.Node("", "Flatten", [y], attributes=[ir.AttrInt64("axis", 1)],
                          name=flat.name, num_outputs=1)
            convenience.replace_nodes_and_values(ctx.graph, flat, [flat], [new],
                                                 [flat.outputs[0]], [new.outputs[0]])

    return Rewrite(
        "adapt-head", label, flat.op_type,
        f"{flat.op_type} of the {_map_text(ctx, x, shp)} map into {layer_op} '{layer}'",
        f"adaptive average pool to {size} (MatMul with pooling matrices built from "
        f"Shape), then Flatten(axis=1)",
        f"at the export size the map is already {size}: the pooling matrices are the "
        f"identity (bins of one element, weight 1/1), so the outputs are the original's "
        f"exactly; at other sizes the outputs are the adapted model's (the map is averaged "
        f"into {size} bins, as torchvision's AdaptiveAvgPool2d does), not the original's, "
        f"which rejected those sizes", apply)


def _map_text(ctx, x, shp) -> str:
    text = "[" + ", ".join(str(d) if isinstance(d, int) else to_str(d) for d in shp) + "]"
    if len(text) <= 80:
        return text
    return f"{ctx.export_shape(x)} (at the export size)"


def _pool_matrix(b, x, axis: int, p: int, dtype: int, hint: str) -> ir.Value:
    """[p, h] matrix: row i averages positions floor(i*h/p) .. ceil((i+1)*h/p) - 1."""
    h = b.dim(x, axis, hint, scalar=True)
    i0 = b.const(np.arange(p, dtype=np.int64), hint)
    i1 = b.const(np.arange(1, p + 1, dtype=np.int64), hint)
    pc = b.const(np.array(p, dtype=np.int64), hint)
    pm1 = b.const(np.array(p - 1, dtype=np.int64), hint)
    start = b.op("Div", [b.op("Mul", [i0, h], hint), pc], hint)
    end = b.op("Div", [b.op("Add", [b.op("Mul", [i1, h], hint), pm1], hint), pc], hint)
    j = b.op("Range", [b.const(np.array(0, dtype=np.int64), hint), h,
                       b.const(np.array(1, dtype=np.int64), hint)], hint)
    row = b.const(np.array([1, -1], dtype=np.int64), hint)
    col = b.const(np.array([-1, 1], dtype=np.int64), hint)
    jr = b.op("Reshape", [j, row], hint)
    sc = b.op("Reshape", [start, col], hint)
    ec = b.op("Reshape", [end, col], hint)
    inside = b.op("And", [b.op("Not", [b.op("Less", [jr, sc], hint)], hint),
                          b.op("Less", [jr, ec], hint)], hint)
    count = b.op("Reshape", [b.op("Cast", [b.op("Sub", [end, start], hint)], hint, to=dtype),
                             col], hint)
    return b.op("Div", [b.op("Cast", [inside], hint, to=dtype), count], hint)
