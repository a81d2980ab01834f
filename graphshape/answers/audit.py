"""Framework-agnostic findings about a model's sizes, beyond the domain itself (fixed sizes,
exporter claims, spec vs runtime, internal resizing, clamping slices, unproven parts).
Auditing many models at once is graphshape.fleet's."""

from __future__ import annotations

from graphshape.answers.reasons import simplify
from graphshape.answers.size_story import story
from graphshape.arith.dims import free_symbols, substitute, to_str

__all__ = ["audit", "export_sizes"]


def audit(analysis) -> list:
    out = []
    g = analysis.graph
    if not g.symbols:
        fixed = {n: [d for d in t.shape] for n, t in g.inputs.items()}
        out.append(_f("warning", "fixed sizes",
                      f"every input dim is fixed ({fixed}); the file accepts only these sizes. "
                      "Use --dim INPUT:AXIS=NAME to ask which other sizes would work"))
    for n, decl in g.declared_dims.items():
        t = g.inputs[n]
        if any(isinstance(d, str) for d in decl) is False and any(
                not isinstance(d, int) for d in t.shape):
            out.append(_f("info", "re-symbolised", f"input '{n}' declared {decl}; analysed as "
                          f"{[str(d) for d in t.shape]}"))
    diff = analysis.spec_differences()
    if diff is not None:
        out.append(_f("warning", "runtime accepts more than the spec",
                      "onnxruntime truncates pooling divisions, so some sizes run although the "
                      f"ONNX spec and PyTorch reject them; spec-valid sizes: {diff}"))
    # internal resizing: a Resize whose output spatial size no longer depends on the input
    syms = set(g.symbols)
    where = story(analysis)  # in words: to what size, padded how, which sizes run
    if where:
        out.append(_f("warning", "input resized inside the model", where))
    for node in g.nodes if not where else ():
        if node.op_type in ("Resize", "Upsample") and node.output:
            t = analysis.propagation.tensors.get(node.output[0])
            src = analysis.propagation.tensors.get(node.input[0])
            if t is None or t.shape is None or src is None or src.shape is None:
                continue
            in_syms = set().union(*(free_symbols(d) for d in src.shape)) & syms
            out_syms = set().union(*(free_symbols(d) for d in t.shape)) & syms
            if in_syms and not out_syms:
                out.append(_f("warning", "input resized inside the model",
                              f"Resize '{node.name}' maps every input size to "
                              f"{[str(d) for d in t.shape]}: the model sees a rescaled image"))
    out += _slice_clamps(analysis)
    out += _pooling_far_from_export(analysis)
    groups: dict = {}
    for u in analysis.domain.unproven:
        groups.setdefault((u.op, u.reason), []).append(u.node)
    for (op, reason), nodes in groups.items():
        where = f"node '{nodes[0]}'" if len(nodes) == 1 else \
            f"{len(nodes)} {op} nodes ('{nodes[0]}', ...)"
        out.append(_f("unproven", "no proof", f"{where} ({op}): {reason}"))
    dd = analysis.domain.dd_conditions
    if dd:
        nodes = sorted({c.origin.node for c in dd})
        out.append(_f("unproven", "data-dependent conditions",
                      f"{len(dd)} conditions at {len(nodes)} nodes depend on run-time sizes, "
                      f"e.g. {dd[0]} ({dd[0].origin.describe()})"))
    claims = _value_info_claims(analysis)
    if claims:
        out.append(_f("info", "exporter shape claims differ",
                      f"{len(claims)} value_info shapes disagree with the propagated ones "
                      f"(e.g. {claims[0]}); graphshape trusts the graph, not the claims"))
    return out


def _value_info_claims(analysis) -> list:
    bad = []
    for vi in analysis.graph.model.graph.value_info:
        t = analysis.propagation.tensors.get(vi.name)
        if t is None or t.shape is None or not vi.type.HasField("tensor_type"):
            continue
        dims = vi.type.tensor_type.shape.dim
        if len(dims) != len(t.shape):
            bad.append(f"'{vi.name}' rank {len(dims)} vs {len(t.shape)}")
            continue
        for d, ours in zip(dims, t.shape):
            if d.HasField("dim_value") and isinstance(ours, int) and d.dim_value != ours:
                bad.append(f"'{vi.name}': {d.dim_value} vs {ours}")
                break
    return bad


def _f(level, title, detail) -> dict:
    return {"level": level, "title": title, "detail": detail}


def _slice_clamps(analysis) -> list:
    """A Slice of a learned table (an initializer) whose end grows with the input size: past
    the table's length it silently returns fewer rows than asked (a position embedding)."""
    out = []
    g = analysis.graph
    tensors = analysis.propagation.tensors
    for node in g.nodes:
        if node.op_type != "Slice" or len(node.input) < 3 or node.input[0] not in g.initializers:
            continue
        table = g.initializers[node.input[0]]
        ends = tensors.get(node.input[2])
        if table.shape is None or ends is None or ends.value is None:
            continue
        for e in ends.value:
            if not isinstance(e, int) and free_symbols(e) & set(g.symbols):
                rows = table.shape[0] if table.shape else "?"
                out.append(_f("warning", "slice clamps on a learned table",
                              f"Slice '{node.name}' takes rows up to {to_str(e)} of "
                              f"'{node.input[0]}' ({rows} rows): past {rows} it returns fewer "
                              "rows than asked, without an error"))
                break
    return out


_POOLS = ("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
_REDUCES = ("ReduceMean", "ReduceMax", "ReduceSum", "ReduceMin")


def export_sizes(analysis) -> dict:
    """The size each symbol had when the model was exported: the declared dims of a
    re-symbolised input (empty when the file itself has symbolic dims)."""
    g = analysis.graph
    out = {}
    for n, decl in g.declared_dims.items():
        t = g.inputs.get(n)
        if t is None:
            continue
        for d, now in zip(decl, t.shape):
            if isinstance(d, int) and not isinstance(now, int) and getattr(now, "is_Symbol",
                                                                           False):
                out[str(now)] = d
    return out


def _pooled_axes(node, analysis, shape) -> list:
    if node.op_type in _POOLS:
        return list(range(2, len(shape)))
    if node.op_type not in _REDUCES:
        return []
    axes = None
    for a in node.attribute:
        if a.name == "axes":
            axes = list(a.ints)
    if axes is None and len(node.input) > 1 and node.input[1]:
        t = analysis.propagation.tensors.get(node.input[1])
        axes = list(t.value) if t is not None and t.value is not None else None
    if axes is None or not all(isinstance(x, int) for x in axes):
        return []
    return sorted({x % len(shape) for x in axes})


def _pooling_far_from_export(analysis, factor: int = 4) -> list:
    """Global (or adaptive: a reduction over the spatial axes) pooling, whose map grows with
    the input: at ``factor`` times the export size it averages many more positions than the
    head was trained on. Sizes are the exact propagated formulas, evaluated."""

    exp = export_sizes(analysis)
    if not exp:
        return []
    d = analysis.domain
    syms = set(analysis.graph.symbols)
    at_export = {n: exp.get(n, 1) for n in d.names}
    far = {n: (v * factor if n in exp else v) for n, v in at_export.items()}
    if not (d.contains(at_export) and d.contains(far)):
        return []
    out = []
    for idx, node in enumerate(analysis.graph.nodes):
        src = analysis.propagation.tensors.get(node.input[0]) if node.input else None
        if src is None or src.shape is None or len(src.shape) < 3:
            continue
        axes = _pooled_axes(node, analysis, src.shape)
        dims = [src.shape[a] for a in axes]
        if not dims or not any(free_symbols(x) & syms for x in dims if not isinstance(x, int)):
            continue
        try:
            e = [int(substitute(x, at_export)) for x in dims]
            f = [int(substitute(x, far)) for x in dims]
        except (TypeError, ValueError):
            continue
        pe, pf = _prod(e), _prod(f)
        if pe <= 0 or pf < 2 * pe:
            continue
        fmt = lambda v: "x".join(map(str, v))  # noqa: E731
        sz = lambda s: ", ".join(f"{k}={v}" for k, v in s.items() if k in exp)  # noqa: E731

        shown = " x ".join(_paren(to_str(simplify(x, d))) for x in dims)
        out.append(_f("warning", "pooling far from the export size",
                      f"{node.op_type} '{node.name or f'{node.op_type}_{idx}'}' pools a {shown}"
                      f" map: at {sz(far)} it is {fmt(f)} against {fmt(e)} at export "
                      f"({sz(at_export)}): the head averages {pf / pe:.0f}x more positions "
                      "than it was trained on, without an error"))
    return out


def _paren(t: str) -> str:
    return t if t.replace("_", "").isalnum() else f"({t})"


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= x
    return out
