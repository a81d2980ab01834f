"""Framework-agnostic findings about a model's sizes, beyond the domain itself."""

from __future__ import annotations

from .dims import free_symbols


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
    for node in g.nodes:
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
