"""The parts of a model's page below its picture: the reasons for the bounds, the per-layer
table, the deployer's answers (TensorRT profiles, torch.export, silent findings) and the
verification table; and the small helpers every part of the pages uses."""

from __future__ import annotations

from html import escape

from graphshape.answers import profiles as P
from graphshape.answers import spec as S
from graphshape.answers.reasons import bound_lines
from graphshape.errors import GraphShapeError
from graphshape.render.report import findings

__all__ = ["esc", "sizes_text", "shape_text", "guard", "list_text", "why_section",
           "layers_section", "answers_section"]


def esc(x) -> str:
    return escape(str(x), quote=True)


def sizes_text(s: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in s.items())


def shape_text(shp) -> str:
    return "unknown" if shp is None else "[" + ", ".join(map(str, shp)) + "]"


def guard(fn, default):
    """An answer the page can do without: its failure is a note, never a broken page."""
    try:
        return fn()
    except (GraphShapeError, ValueError, ArithmeticError):
        return default


def why_section(analysis) -> list:
    lines = guard(lambda: bound_lines(analysis), [])
    out = ['<section id="why"><h2>Why the sizes are bounded</h2>']
    if not lines:
        out.append("<p>No condition bounds the sizes: every size runs.</p></section>"
                   if analysis.domain.exact and analysis.domain.names else
                   "<p>Nothing to explain here.</p></section>")
        return out
    items: list = []
    cur: tuple | None = None
    for ln in lines[1:]:
        if ln.startswith("      "):
            if cur is not None:
                cur[1].append(ln.strip())
        else:
            cur = (ln.strip(), [])
            items.append(cur)
    out.append('<ul class="why">' + "".join(
        f"<li>{esc(h)}" + "".join(f'<div class="detail mono">{esc(x)}</div>' for x in det)
        + "</li>" for h, det in items) + "</ul>")
    unproven = analysis.domain.unproven
    if unproven:
        out.append("<h3>Unproven</h3><ul>" + "".join(
            f"<li>because {esc(u.describe())}</li>" for u in unproven) + "</ul>")
    out.append("</section>")
    return out


def list_text(v) -> str:
    if v is None:
        return ""
    return "[" + ", ".join("?" if x is None else str(x) for x in v) + "]"


def layers_section(analysis, rows, init, binders: set) -> list:
    """The per-layer table; ``binders``: the nodes that make a face of the domain tight
    (highlighted, with the nodes that pin the size)."""
    binds = set(binders)
    at = sizes_text(init) if init else "the typed size"
    out = ['<section id="layers"><h2>Layers</h2>',
           "<p>Each node's output shape as a formula, its value at "
           f'<code data-typed="">{esc(at)}</code>, the effective stride and receptive field '
           "(per spatial axis), and where the model absorbs, pins or changes the size. "
           "Highlighted: the nodes that make a bound of the valid sizes tight (see Why) or "
           "pin the size; red: the nodes that reject the typed size.</p>",
           '<div class="scroll"><table><thead><tr><th class="num">#</th><th>node</th>'
           '<th>op</th><th>output shape</th><th>at size</th><th>stride</th><th>field</th>'
           "<th>note</th></tr></thead><tbody>"]
    for r in rows:
        cls = " ".join(c for c, on in (("binds", r.node in binds or r.role == "pins"),
                                       ("fails", r.failing)) if on)
        field = "" if r.stride is None else ("all" if r.field is None else list_text(r.field))
        note = f'<span class="role">{esc(r.role)}</span>: {esc(r.note)}' if r.role else ""
        out.append(f'<tr class="{cls}" data-node="{esc(r.node)}"><td class="num">{r.index}</td>'
                   f"<td class=\"mono\">{esc(r.node)}</td><td>{esc(r.op)}"
                   f"{f' &times;{r.repeat}' if r.repeat > 1 else ''}</td>"
                   f'<td class="shape">{esc(list_text(r.shape) if r.shape else "unknown")}</td>'
                   f'<td class="at">{esc(list_text(r.numbers) if r.numbers else "")}</td>'
                   f'<td class="nowrap">{esc(list_text(r.stride))}</td>'
                   f'<td class="nowrap">{esc(field)}</td><td>{note}</td>'
                   "</tr>")
    out.append("</tbody></table></div></section>")
    return out


def answers_section(analysis, name, verification) -> list:
    out = ['<section id="answers"><h2>Deploying it</h2>']
    out += _profiles(analysis, name)
    out.append('<h3 id="torch">torch.export</h3>')
    ts = guard(lambda: S.torch_spec(analysis), None)
    out.append(f"<pre>{esc(ts.code())}</pre>" if ts is not None else
               "<p class=\"muted\">No torch.export spec: the model has no symbolic dim, or no "
               "valid size.</p>")
    found = guard(lambda: findings(analysis), [])
    out.append('<h3 id="findings">Silent findings</h3>')
    if found:
        out.append('<ul class="findings">' + "".join(
            f'<li><span class="level {esc(f["level"])}">{esc(f["level"])}</span>'
            f"<strong>{esc(f['title'])}</strong>: {esc(f['detail'])}</li>" for f in found)
                   + "</ul>")
    else:
        out.append("<p>None: no fixed size, no resize inside the model, no clamping slice, "
                   "no claim in the file that disagrees with the graph.</p>")
    if verification is not None:
        out += _verification(verification)
    out.append("</section>")
    return out


def _profiles(analysis, name) -> list:
    out = ['<h3 id="profiles">TensorRT optimization profiles</h3>']
    res = guard(lambda: P.profiles(analysis), None)
    if res is None or not res.profiles:
        out.append("<p class=\"muted\">No profile: " + esc(getattr(res, "reason", "") or
                   "the model has no symbolic dim or no valid size") + ".</p>")
        return out
    res.model = name
    names = res.names
    head = "".join(f"<th>{esc(n)} min / opt / max</th>" for n in names)
    body = "".join(
        f'<tr><td class="num">{i}</td>' + "".join(
            f'<td class="mono">{p.min[n]} / {p.opt[n]} / {p.max[n]}</td>' for n in names)
        + f'<td class="num">{"" if p.valid is None else p.valid} of {p.box}</td>'
        f"<td>{esc(p.note)}</td></tr>" for i, p in enumerate(res.profiles))
    out.append(f'<div class="scroll"><table><thead><tr><th class="num">#</th>{head}'
               f'<th class="num">valid sizes in the box</th><th>note</th></tr></thead>'
               f"<tbody>{body}</tbody></table></div>")
    if res.dropped:
        out.append(f"<p class=\"muted\">{res.dropped} smaller boxes left out "
                   "(<code>graphshape profiles --max-profiles</code>).</p>")
    out.append(f"<p>trtexec:</p><pre>{esc(P.trtexec(res))}</pre>")
    return out


def _verification(rep) -> list:
    out = ['<h3 id="verification">onnxruntime</h3>',
           f'<p class="{"v-valid" if rep.ok else "v-invalid"}">'
           f"{'verified' if rep.ok else 'DISAGREEMENT'}: {esc(rep.summary())}</p>",
           '<div class="scroll"><table><thead><tr><th>size</th><th>predicted</th>'
           "<th>observed</th><th>agree</th><th>detail</th></tr></thead><tbody>"]
    rows = [v for v in rep.verdicts if v.agree is False] + \
        [v for v in rep.verdicts if v.agree is not False]
    for v in rows:
        mark = {True: "yes", False: "NO", None: "-"}[v.agree]
        out.append(f'<tr class="{"fails" if v.agree is False else ""}">'
                   f"<td class=\"mono\">{esc(sizes_text(v.sizes))}</td><td>{esc(v.predicted)}</td>"
                   f"<td>{esc(v.observed)}</td><td>{mark}</td>"
                   f"<td>{esc(v.detail[:160]) if v.agree is False or v.observed in ('skipped', 'timeout') else ''}</td></tr>")
    out.append("</tbody></table></div>")
    return out
