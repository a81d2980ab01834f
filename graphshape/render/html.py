"""Pages people look at: one self-contained HTML file per model (``page``), and an index
over many (``index``), in the manner of coverage.py's htmlcov: static files, no network
(styles and scripts inline, system fonts), readable without JavaScript, better with it.

A model's page: the verdict in one sentence, inputs and outputs with their symbolic shapes,
the valid region as an inline SVG (html_region; the size under the pointer decided on the
spot), a box to type a size (decided exactly from html_data's compiled conditions: the
first violated condition with its numbers, the nearest valid sizes, every layer's shape at
that size), the closed form and the reason for every bound, the per-layer table, the
deployer's answers (TensorRT profiles, torch.export spec, silent findings) and, when it
ran, the verification table. Every part is written server-side first, so a page read
without its script (or printed) says the same at the size it was written for.
"""

from __future__ import annotations

import os
import shlex

from graphshape.answers.export_size import HOW, infer
from graphshape.answers.layers import collapse, layers
from graphshape.answers.reasons import faces, simplify
from graphshape.answers.size_story import requirement_words
from graphshape.arith.dims import to_str
from graphshape.render.html_assets import HELPERS, INDEX_SCRIPT, SCRIPT, STYLE
from graphshape.render.html_data import ExprTable, payload, script_json
from graphshape.render.html_region import picture
from graphshape.render.html_sections import (
    answers_section,
    esc,
    guard,
    layers_section,
    shape_text,
    sizes_text,
    why_section,
)
from graphshape.results import Verdict

__all__ = ["page", "page_held", "index", "verdict_sentence", "INDEX_COLUMNS"]

# the index's columns: (row key, heading, numeric?)
INDEX_COLUMNS = (("name", "model", False), ("status", "status", False),
                 ("domain", "valid sizes", False), ("nodes", "nodes", True),
                 ("seconds", "seconds", True), ("change", "change", False))
STATUSES = ("valid", "invalid", "unproven", "error")


def _doc(title: str, body: list, script: str = "") -> str:
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        # nothing leaves the file: no fetch, image, font or frame from elsewhere
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        f"<title>{esc(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
        *body, script, "</body>", "</html>", ""])


# ---- the verdict in one sentence ----------------------------------------------------------


def _factor_text(f, name: str) -> str:
    if not f.residues and len(f.finite) and f.finite[-1] - f.finite[0] + 1 == len(f.finite):
        lo, hi = f.finite[0], f.finite[-1]
        return f"{name} = {lo}" if lo == hi else f"{name} in {lo}..{hi}"
    return f.describe(name)


def _box_text(box, names, free) -> str:
    return ", ".join(_factor_text(f, n) for f, n in zip(box.factors, names) if n not in free)


def _count(n: int, what: str, plural: str | None = None) -> str:
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    return f"{words[n] if n < len(words) else n} {what if n == 1 else plural or what + 's'}"


def verdict_sentence(analysis, ref=None, fs=None) -> str:
    """What the model accepts, in one sentence: the box holding the export size (or the
    domain itself when it reads in one line), how many others, what bounds them, and the
    export size where it is known (``ref``: answers.export_size.infer, ``fs``:
    answers.reasons.faces; computed when not given)."""
    d = analysis.domain
    ref = infer(analysis, guess=True) if ref is None else ref
    fs = guard(lambda: faces(analysis), []) if fs is None else fs
    if d.impossible:
        return f"Accepts no size: {d.impossible[0]}."
    if not d.names:
        return "Every input dim is fixed: the model runs at its one size only."
    if d.is_empty():
        nodes = ", ".join(f"{c.origins[0].op} '{c.origins[0].node}'" for c in d.conflict()[:3])
        return "Accepts no size" + (f": {nodes} cannot all hold." if nodes else ".")
    head = "Accepts" if d.exact else "Passes every proven condition (the rest is unproven) at"
    text = str(d)
    if "; near its boundary" in text:  # sizes computed in float32: the rounding said below
        text = text.split("; near its boundary")[0] + " (float32 rounding decides on its edge)"
    free = set(d.unconstrained)
    boxes = d.boxes()
    if "\n" not in text and len(text) <= 110:
        what = text
    elif boxes:
        inside = [b for b in boxes if ref and all(
            f.contains(ref.sizes.get(n, f.min() or 1)) for f, n in zip(b.factors, d.names))]
        main = inside[0] if inside else max(boxes, key=lambda b: _box_weight(b))
        what = _box_text(main, d.names, free)
        if len(boxes) > 1:
            what += f" and {_count(len(boxes) - 1, 'other box', 'other boxes')}"
    else:
        what = "the sizes below (coupled in a way no box states)"
    sentence = f"{head} {what}"
    who = _binder_counts(fs or [])
    if who:
        top = max(who, key=lambda k: who[k])
        rest = len(who) - 1
        sentence += (f"; every bound comes from {top}" if not rest else
                     f"; bounded by {top} and {_count(rest, 'other node')}")
        reason = _reason_of(fs, top)
        if reason and len(reason) <= 100:  # a reason spelling out formulas reads below
            sentence += f" ({reason})"
    if any(ref.how.get(n) != "free" for n in ref.sizes):
        shown = {n: v for n, v in ref.sizes.items() if ref.how[n] != "free"}
        kinds = {ref.how[n] for n in shown}
        size = " \u00d7 ".join(str(v) for v in shown.values())
        if "likely" in kinds:
            sentence += f"; probably built for {size} (the one square size the network's " \
                        "stride divides)"
        else:
            why = "; ".join(HOW[k] for k in sorted(kinds))
            sentence += f"; built for {size} ({why})"
    return sentence + "."


def _box_weight(box) -> tuple:
    # the box nearest a square, then the largest: what a person most likely feeds
    mins = [f.min() or 1 for f in box.factors]
    return (-(max(mins) / max(1, min(mins))), sum(mins))


def _binder_counts(fs) -> dict:
    out: dict = {}
    for f in fs:
        if f.tight:
            o = f.tight[0].origins[0]
            who = f"{o.op} '{o.node}'"
            out[who] = out.get(who, 0) + 1
    return out


def _reason_of(fs, who: str) -> str:
    for f in fs or []:
        if f.tight:
            o = f.tight[0].origins[0]
            if f"{o.op} '{o.node}'" == who:
                return o.reason
    return ""


# ---- the page ------------------------------------------------------------------------------


def _initial(analysis, sizes, ref) -> dict | None:
    d = analysis.domain
    if not d.names:
        return None
    for cand in (sizes, ref.sizes if ref is not None else None, d.smallest_valid()):
        if cand and all(n in cand or n in d.unconstrained for n in d.names):
            return {n: cand.get(n, 1) for n in d.names}
    return None


def page_held(analysis, sizes: dict | None = None) -> dict:
    """The size a page opens at (``sizes``, else the export size where known, else the
    smallest valid); the region holds the symbols off its plane at it."""
    return _initial(analysis, sizes, infer(analysis, guess=True)) or {}


def page(analysis, verification=None, *, model_arg: str | None = None, dims=(),
         sizes: dict | None = None) -> str:
    """The model's page (one HTML document). ``model_arg`` and ``dims`` are how the page's
    suggested commands name the model; ``sizes`` is the size the page opens at (default:
    the export size where known, else the smallest valid)."""
    g, d = analysis.graph, analysis.domain
    name = os.path.basename(g.path) if g.path else "model"
    ref = infer(analysis, guess=True)
    init = _initial(analysis, sizes, ref)
    fs = guard(lambda: faces(analysis), [])
    rows = collapse(layers(analysis, init))
    held = {k: v for k, v in (init or {}).items()}
    mark = ref.sizes if ref.sizes and any(h != "free" for h in ref.how.values()) else None
    label = ""
    if mark is not None:
        kinds = {ref.how[n] for n in mark if ref.how[n] != "free"}
        label = " \u00d7 ".join(str(mark[n]) for n in mark if ref.how[n] != "free") + (
            " (probably the export size)" if "likely" in kinds else
            " (export size, inferred)" if "inferred" in kinds else " (export size)")
    pic = guard(lambda: picture(analysis, fs, held, mark, label, verification), None)
    table = ExprTable()
    data = payload(analysis, table, rows)
    data["outputs"] = [{"name": n, "shape": None if t is None or t.shape is None else
                        [{"n": str(x)} if isinstance(x, int) else {"f": table.add(x)}
                         for x in t.shape]}
                       for n, t in ((n, analysis.propagation.tensors.get(n)) for n in g.outputs)]
    data["region"] = pic.scale if pic is not None else None
    data["cmdModel"] = shlex.quote(model_arg or name)
    data["cmdDims"] = [f"--dim {shlex.quote(x)}" for x in dims]
    status = "invalid" if d.impossible or (d.names and d.is_empty()) else (
        "valid" if d.exact else "unproven")
    body = [_header(analysis, name, status, ref, fs), _toc(verification)]
    body += _region_section(analysis, pic, init, data)
    body += why_section(analysis)
    body += layers_section(analysis, rows, init,
                           {f.tight[0].origins[0].node for f in fs if f.tight})
    body += answers_section(analysis, name, verification)
    body.append('<footer>Written by graphshape from the ONNX file alone (the verification '
                "table, where present, ran onnxruntime). Every answer on this page is exact "
                "where it says so; the script decides a typed size with the same conditions "
                "and integer arithmetic.</footer>")
    script = ('<script type="application/json" id="gs-data">' + script_json(data)
              + "</script>\n<script>" + HELPERS + table.script() + SCRIPT + "</script>")
    return _doc(f"{name}: valid input sizes (graphshape)", body, script)


def _header(analysis, name, status, ref, fs) -> str:
    g = analysis.graph
    ops = ", ".join(f"{k or 'ai.onnx'} {v}" for k, v in sorted(g.opsets.items()))
    facts = [("nodes", str(analysis.propagation.node_count)), ("opsets", ops)]
    facts += [("inputs", "; ".join(f"{n} {shape_text(s)}" for n, s in analysis.inputs.items()))]
    facts += [("outputs", "; ".join(f"{n} {shape_text(s)}" for n, s in _outputs(analysis)))]
    if any(h != "free" for h in ref.how.values()):
        facts.append(("export size", ref.describe()))
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    badge = {"valid": "exact", "unproven": "unproven", "invalid": "no valid size"}[status]
    return (f'<header class="top"><h1>{esc(name)} <span class="badge {status}" '
            f'data-status="{status}">{badge}</span></h1>'
            f'<p class="verdict" id="verdict">{esc(verdict_sentence(analysis, ref, fs))}</p>'
            f'<dl class="facts">{dl}</dl></header>')


def _outputs(analysis) -> list:
    """(name, shape) per output, each formula simplified under the domain (what it is at
    every valid size, checked by isl: unet's mask is 16*floor(H/16), not the nest of
    max and floor it is built from)."""
    d = analysis.domain
    out: list = []
    for n in analysis.graph.outputs:
        t = analysis.propagation.tensors.get(n)
        if t is None or t.shape is None:
            out.append((n, None))
            continue
        dims = []
        for x in t.shape:
            y = x if isinstance(x, int) or d.is_empty() else guard(lambda x=x: simplify(x, d), x)
            dims.append(y if isinstance(y, int) else to_str(y))
        out.append((n, dims))
    return out


def _toc(verification) -> str:
    links = [("region", "Valid sizes"), ("why", "Why"), ("layers", "Layers"),
             ("profiles", "TensorRT"), ("torch", "torch.export"), ("findings", "Findings")]
    if verification is not None:
        links.append(("verification", "onnxruntime"))
    return '<nav class="toc">' + "".join(f'<a href="#{a}">{t}</a>' for a, t in links) + "</nav>"


def _region_section(analysis, pic, init, data) -> list:
    d = analysis.domain
    out = ['<section id="region"><h2>Valid sizes</h2>']
    if not d.names:
        out.append("<p>Every input dim is fixed: there is no size to choose. Name axes to "
                   "free with <code>--dim INPUT:AXIS=NAME</code> to ask which other sizes "
                   "would work.</p></section>")
        data["region"] = None
        return out
    out.append('<div class="region-grid"><figure>')
    if pic is not None:
        r = pic.region
        out.append(pic.svg)
        out.append('<div id="tip" role="status"></div>')
        held = sizes_text(r.held)
        who = "; ".join(f"{k}: {v} {'face' if v == 1 else 'faces'}"
                        for k, v in sorted(pic.binders.items(), key=lambda kv: -kv[1]))
        out.append('<figcaption><div class="legend"><span><span class="swatch run"></span>'
                   f'valid ({pic.runs} {"run" if pic.runs == 1 else "runs"})</span>'
                   '<span><span class="swatch plane"></span>invalid</span>'
                   + (f"<span>{esc(r.x_name)} 1..{r.x_hi}"
                      + (f", {esc(r.y_name)} 1..{r.y_hi}" if r.y_name else "")
                      + (f"; {esc(held)} held" if held else "") + "</span>")
                   + ('<span><span class="dot">\u25cf</span> ran on onnxruntime</span>'
                      '<span><span class="cross">\u2715</span> refused by it</span>'
                      if r.points else "")
                   + ("<span>exact at every integer size</span>" if r.exact else
                      f"<span>{esc(r.note)}</span>") + "</div>"
                   + (f"<div>Faces bounded by {esc(who)}.</div>" if who else "")
                   + "<div class=\"noprint\">Point at the picture for the size under the "
                   "pointer; click to check it on the right.</div></figcaption>")
    out.append("</figure>")
    out.append(_probe_panel(analysis, init))
    out.append("</div>")
    out.append(f"<h3>Closed form</h3><pre>{esc(d)}</pre>")
    if d.requirements:
        out.append("<h3>What the data must give, at every size</h3><ul class=\"requires\">"
                   + "".join(f"<li>{esc(w)}</li>" for w in requirement_words(analysis))
                   + "</ul><p class=\"muted\">A requirement on the data (a count, the range of "
                   "values read at run time) that no size changes: the sizes above are "
                   "decided under it.</p>")
    diff = guard(analysis.spec_differences, None)
    if diff is not None:
        out.append("<details><summary>The ONNX spec (and PyTorch) accept fewer sizes than "
                   "onnxruntime: its pooling truncates where the spec floors, so a window "
                   "overhanging its input still yields one output.</summary>"
                   f"<pre>{esc(diff)}</pre></details>")
    out.append("</section>")
    return out


def _probe_panel(analysis, init) -> str:
    d = analysis.domain
    free = set(d.unconstrained)
    fields = "".join(
        f'<label>{esc(n)}{" (any)" if n in free else ""}<input name="{esc(n)}" '
        f'inputmode="numeric" autocomplete="off" value="{esc((init or {}).get(n, ""))}">'
        "</label>" for n in d.names)
    static = ""
    if init is not None:
        static = _static_result(analysis, init)
    return ('<div class="panel"><h3>Check a size</h3>'
            f'<form id="probe-form" class="probe">{fields}<button type="submit">Check'
            "</button></form>"
            f'<div id="probe-result" class="result" aria-live="polite">{static}</div>'
            "<noscript><p class=\"muted\">Without JavaScript the box above is inert: "
            "<code>graphshape explain MODEL --size NAME=INT ...</code> answers the same."
            "</p></noscript></div>")


def _static_result(analysis, sizes) -> str:
    ex = analysis.explain(sizes)
    v = ex.verdict
    head = (f'<p class="head"><strong class="v-{v}" data-verdict="{v}">{v}</strong> at '
            f"<code>{esc(sizes_text(sizes))}</code></p>")
    if v is Verdict.INVALID:
        items = "".join(f"<li><strong>{esc(x.op)} '{esc(x.node)}'</strong>: {esc(x.reason)}"
                        + (f"<br><code>{esc(x.numbers)}</code>" if x.numbers else "") + "</li>"
                        for x in ex.violations)
        return head + f'<ol class="violations">{items}</ol>'
    outs = "".join(f"<li><code>{esc(k)}: {esc(shape_text(s))}</code></li>"
                   for k, s in ex.output_shapes.items())
    why = "".join(f"<li>{esc(u)}</li>" for u in ex.unproven)
    needs = "".join(f"<li>{esc(u)}</li>" for u in ex.requires)
    return head + (f"<p>passes every proven condition, but:</p><ul>{why}</ul>" if why else
                   "") + (f"<p>the data must also give:</p><ul>{needs}</ul>" if needs else
                          "") + f'<p>Outputs:</p><ul class="outputs">{outs}</ul>'


# ---- the index over many models ----------------------------------------------------------


def index(rows: list, title: str = "graphshape audit", note: str = "") -> str:
    """An index page: one row per model ({name, status, domain, nodes, seconds, change},
    ``href`` to its page when there is one; ``regression`` True puts a row on top), sortable
    by every column and filtered by status and text."""
    def rank(r):
        return (0 if r.get("regression") else 1, str(r.get("name", "")))

    counts = {s: sum(1 for r in rows if r.get("status") == s) for s in STATUSES}
    head = "".join(f'<th class="sortable{" num" if num else ""}" data-type='
                   f'"{"num" if num else "text"}" scope="col">{esc(h)}</th>'
                   for _k, h, num in INDEX_COLUMNS)
    body = []
    for r in sorted(rows, key=rank):
        st = str(r.get("status", ""))
        name = esc(r.get("name", ""))
        link = f'<a href="{esc(r["href"])}">{name}</a>' if r.get("href") else name
        secs = r.get("seconds")
        cells = [f'<td class="mono" data-value="{name}">{link}</td>',
                 f'<td data-value="{esc(st)}"><span class="badge {esc(st)}">{esc(st)}</span></td>',
                 f'<td class="mono"><div class="clamp" title="{esc(r.get("domain", ""))}">'
                 f'{esc(r.get("domain", ""))}</div></td>',
                 f'<td class="num" data-value="{esc(r.get("nodes") or 0)}">'
                 f'{esc("" if r.get("nodes") is None else r["nodes"])}</td>',
                 f'<td class="num" data-value="{esc(secs or 0)}">'
                 f'{"" if secs is None else f"{float(secs):.2f}"}</td>',
                 f'<td class="change">{"<strong>regression</strong>: " if r.get("regression") else ""}'
                 f'{esc(r.get("change", ""))}</td>']
        cls = "regression" if r.get("regression") else ""
        body.append(f'<tr class="{cls}" data-status="{esc(st)}">' + "".join(cells) + "</tr>")
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    options = "".join(f'<option value="{s}">{s} ({counts[s]})</option>' for s in STATUSES)
    page_body = [
        f'<header class="top"><h1>{esc(title)}</h1><p class="verdict">{len(rows)} models: '
        f"{esc(summary or 'none')}.{(' ' + esc(note)) if note else ''}</p></header>",
        '<div class="filters noprint"><label>Status <select id="filter-status">'
        f'<option value="">all</option>{options}</select></label>'
        '<input type="search" id="filter-text" placeholder="filter by text" '
        'aria-label="filter by text"><span class="muted"><span id="shown">'
        f"{len(rows)} of {len(rows)}</span> shown</span></div>",
        f'<div class="scroll"><table id="models"><thead><tr>{head}</tr></thead><tbody>'
        + "".join(body) + "</tbody></table></div>"]
    return _doc(title, page_body, f"<script>{INDEX_SCRIPT}</script>")
