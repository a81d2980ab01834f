"""Rendering an Analysis (and a VerificationReport) as text, JSON and Markdown."""

from __future__ import annotations

import json
import os

from graphshape.answers.audit import audit
from graphshape.answers.reasons import bound_lines, faces, faces_json, fit
from graphshape.answers.size_story import requirement_words


def _fmt_sizes(sizes: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items()) or "(static)"


def binding_conditions(analysis) -> list:
    """Conditions that exclude some size on their own (not implied by dims >= 1)."""
    dom = analysis.domain
    keep = {id(c) for c, _ in dom.binding()}
    return [c for c in dom.solved.conditions if c.isl_text is None or id(c) in keep]


def verdict_line(analysis) -> str:
    d = analysis.domain
    if d.impossible or d.is_empty():
        return "no size is valid"
    if d.exact and d.requirements:
        return "valid sizes (proved, exact; the data must also meet the requirement below)"
    if d.exact:
        return "valid sizes (proved, exact)"
    return "sizes that pass every proven condition (UNPROVEN: see below)"


def text(analysis, verification=None, show_all: bool = False) -> str:
    g = analysis.graph
    lines = []
    name = os.path.basename(g.path) if g.path else "(in-memory model)"
    ops = ", ".join(f"{k or 'ai.onnx'} {v}" for k, v in sorted(g.opsets.items()))
    lines.append(f"model: {name} ({analysis.propagation.node_count} nodes; opsets: {ops})")
    for n, shp in analysis.inputs.items():
        lines.append(f"  input  {n}: [{', '.join(map(str, shp))}]")
    for n, shp in analysis.output_shapes.items():
        lines.append(f"  output {n}: " + ("unknown" if shp is None else
                                          f"[{', '.join(map(str, shp))}]"))
    lines.append("")
    lines.append(verdict_line(analysis) + ":")
    for ln in str(analysis.domain).splitlines():
        lines.append("  " + ln)
    best = analysis.domain.smallest_valid()
    if best:
        lines.append(f"  smallest valid: {_fmt_sizes(best)}")
    diff = analysis.spec_differences()
    if diff is not None:
        lines.append("")
        lines.append("the ONNX spec (and PyTorch) accept fewer sizes than onnxruntime:")
        for ln in diff.splitlines():
            lines.append("  " + ln)
        lines.append("  (the other sizes run only because onnxruntime truncates pooling "
                     "divisions: a window overhanging its input yields 1 output)")

    why = bound_lines(analysis, show_all)
    if why:
        lines.append("")
        lines.extend(why)
    if show_all:
        conds = analysis.domain.solved.conditions
        lines.append("")
        lines.append(f"every condition ({len(conds)}):")
        for c in conds:
            o = c.origins[0]
            also = f" (also {len(c.origins) - 1} more nodes)" if len(c.origins) > 1 else ""
            lines.append(fit(f"  {o.op} '{o.node}': {o.reason}{also}"))
            lines.append(fit(f"      {c.constraint}"))
    for e in analysis.domain.impossible:
        lines.append(f"  {e}")
    if analysis.domain.requirements:
        lines.append("")
        lines.append("what the data must give, at every size (no size changes it):")
        for w in requirement_words(analysis):
            lines.append(fit(f"  {w}", cut=False))
    if analysis.domain.unproven or analysis.domain.dd_conditions:
        lines.append("")
        lines.append("unproven:")
        for u in analysis.domain.unproven:
            lines.append(fit(f"  because {u.describe()}"))
        for c in analysis.domain.dd_conditions:
            lines.append(fit(f"  data-dependent: {c} ({c.origin.describe()})"))
    dd = analysis.propagation.data_dependent
    if dd:
        lines.append("")
        lines.append(f"data-dependent dims ({len(dd)}): " + ", ".join(
            sorted({f"{d.op} '{d.node}'" for d in dd})[:12]) + (" ..." if len(dd) > 12 else ""))
    found = findings(analysis)
    if found:
        lines.append("")
        lines.append("findings:")
        lines += [f"  [{f['level']}] {f['title']}: {f['detail']}" for f in found]
    if verification is not None:
        lines.append("")
        lines.extend(verification_lines(verification, limit=12))
    return "\n".join(lines)


def findings(analysis) -> list:
    """audit.audit's findings, without the ones the report already shows in full (the
    unproven parts, the spec/runtime difference)."""

    shown = ("no proof", "data-dependent conditions", "runtime accepts more than the spec")
    return [f for f in audit(analysis) if f["title"] not in shown]


def verification_lines(rep, limit: int = 60) -> list:
    lines = ["onnxruntime check:"]
    lines.append(f"  {'size':<28} {'predicted':<10} {'observed':<9} agree")
    rows = rep.verdicts
    shown = [v for v in rows if v.agree is False] + [v for v in rows if v.agree is not False]
    for v in shown[:limit]:
        mark = {True: "yes", False: "NO", None: "-"}[v.agree]
        # a run that failed where the data broke the model's requirement (a detector with no
        # proposal) agrees, and says why
        why = v.agree is False or v.observed in ("skipped", "timeout") or (
            v.given_counts and v.observed == "invalid")
        lines.append(f"  {_fmt_sizes(v.sizes):<28} {v.predicted:<10} {v.observed:<9} {mark}"
                     + (f"   {v.detail[:120]}" if why else ""))
    if len(rows) > limit:
        lines.append(f"  ... {len(rows) - limit} more rows (--json has them all)")
    for v in rep.disagreements:
        if v.blamed_node and v.predicted_nodes and v.blamed_node not in v.predicted_nodes:
            lines.append(f"  note: onnxruntime blamed '{v.blamed_node}', graphshape predicted "
                         f"{v.predicted_nodes}")
    lines.append(("verified: " if rep.ok else "DISAGREEMENT: ") + rep.summary())
    return lines


def to_json(analysis, verification=None) -> str:
    d = analysis.to_json()

    d["findings"] = audit(analysis)
    d["faces"] = faces_json(analysis)
    if verification is not None:
        d["verification"] = verification.to_json()
    return json.dumps(d, indent=2, default=str)


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(analysis, verification=None) -> str:
    g = analysis.graph
    out = [f"# graphshape: {os.path.basename(g.path) if g.path else 'model'}", ""]
    out.append("| input | shape |")
    out.append("|---|---|")
    for n, shp in analysis.inputs.items():
        out.append(f"| `{n}` | `[{', '.join(map(str, shp))}]` |")
    out += ["", f"## {verdict_line(analysis)}", "", "```", str(analysis.domain), "```", ""]
    out += ["## Conditions", "", "| node | op | reason | condition |", "|---|---|---|---|"]
    for c in binding_conditions(analysis):
        o = c.origins[0]
        out.append(f"| `{o.node}` | {o.op} | {o.reason} | `{c.constraint}` |")

    fs = faces(analysis)
    if fs:
        out += ["", "## Why (each face and the condition that makes it tight)", "",
                "| face | rejected just outside | node | op | reason |", "|---|---|---|---|---|"]
        for f in fs[:40]:
            for c in f.tight[:1]:
                o = c.origins[0]
                at = ", ".join(f"{k}={v}" for k, v in f.outside.items())
                out.append(f"| `{f.text}` | {at} | `{o.node}` | {o.op} | {_md(o.reason)} |")
        if len(fs) > 40:
            out.append(f"| ... {len(fs) - 40} more faces | | | | |")
    found = findings(analysis)
    if found:
        out += ["", "## Findings", ""]
        out += [f"- **{f['level']}**: {f['title']}: {_md(f['detail'])}" for f in found]
    if verification is not None:
        out += ["", "## onnxruntime", "", verification.summary()]
    return "\n".join(out) + "\n"
