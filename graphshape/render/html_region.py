"""The valid region as an inline SVG for the page: plot.region's runs (exact at every
integer size in range), themed by the page's stylesheet, each run naming the nodes that
bound its faces, the export size marked, verified sizes shown; the script reads the scale
back from ``data-*`` attributes to say which size is under the pointer."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from graphshape.render.plot import Scale, add_points, region
from graphshape.results import Verdict

__all__ = ["Picture", "picture"]

WIDTH, HEIGHT = 760, 540
LEFT, TOP, PW = 76, 16, 664
MAX_LABELS = 16  # runs labelled with their ranges (more would overlap)
MIN_PX = 4.0  # the smallest extent a run is drawn with


@dataclass
class Picture:
    svg: str
    region: object  # plot.Region
    runs: int
    binders: dict = field(default_factory=dict)  # "Op 'node'" -> faces it bounds
    scale: dict = field(default_factory=dict)  # what the script needs to invert the scale


def _span(a: int, b: int, hi: int | None = None) -> str:
    """``a..b``; ``≥ a`` for a run that reaches the picture's edge (the picture extends to
    twice the domain's largest bound, so only an unbounded run gets there)."""
    if hi is not None and b >= hi and a < b:
        return f"\u2265 {a}"
    return str(a) if a == b else f"{a}..{b}"


def _binders(analysis, r, faces) -> tuple:
    """(per run index: {"Op 'node'": [face texts]}, every binder's face count), for the
    faces in this plane (other symbols at the held values)."""
    per_run: dict = {}
    count: dict = {}
    for f in faces:
        if not f.tight or any(f.outside.get(k) != v for k, v in r.held.items()):
            continue
        o = f.tight[0].origins[0]
        who = f"{o.op} '{o.node}'"
        count[who] = count.get(who, 0) + 1
        p = dict(f.outside)
        if f.kind == "lower":
            p[f.symbol] += 1
        elif f.kind == "upper":
            p[f.symbol] -= 1
        else:
            continue
        x, y = p.get(r.x_name), p.get(r.y_name, 1) if r.y_name else 1
        for i, (x0, x1, y0, y1) in enumerate(r.rects):
            if x0 <= x <= x1 and y0 <= y <= y1:
                per_run.setdefault(i, {}).setdefault(who, []).append(f.text)
                break
    return per_run, count


def picture(analysis, faces: list, held: dict | None = None, mark: dict | None = None,
            mark_label: str = "", verification=None) -> Picture | None:
    """The region of ``analysis`` in the plane of its last two symbols (a strip for one),
    ``held`` fixing the others, ``mark`` a size to point at; None without symbolic dims."""
    if not analysis.domain.names:
        return None
    r = region(analysis, held=held)
    if verification is not None:
        add_points(r, verification)
    ph = 440 if r.y_name else 60
    height = TOP + ph + 56 if r.y_name else TOP + ph + 56
    sx = Scale(0.5, r.x_hi + 0.5, LEFT, LEFT + PW, r.log)
    sy = Scale(0.5, r.y_hi + 0.5, TOP + ph, TOP, r.log) if r.y_name else None
    per_run, count = _binders(analysis, r, faces)
    out = [f'<svg class="region" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} '
           f'{height}" role="img" aria-labelledby="region-title region-desc" '
           f'data-x="{escape(r.x_name)}" data-y="{escape(r.y_name or "")}">',
           f'<title id="region-title">valid sizes of {escape(r.x_name)}'
           + (f" and {escape(r.y_name)}" if r.y_name else "") + "</title>",
           f'<desc id="region-desc">{len(r.rects)} runs of valid sizes (green) on a grey '
           f'plane of invalid sizes{"; " + escape(r.note) if r.note else ""}</desc>',
           f'<rect class="plane" x="{LEFT}" y="{TOP}" width="{PW}" height="{ph}"/>']
    out += _grid(sx, sy, ph)
    out.append('<g class="runs">')
    for i, (x0, x1, y0, y1) in enumerate(r.rects):
        a, b = _least(sx(x0 - 0.5), sx(x1 + 0.5))
        c, dd = _least(sy(y1 + 0.5), sy(y0 - 0.5)) if sy else (TOP, TOP + ph)
        what = f"{r.x_name} {_span(x0, x1, r.x_hi)}" + (
            f", {r.y_name} {_span(y0, y1, r.y_hi)}" if r.y_name else "")
        tip = f"{what}: " + ("valid" if analysis.domain.exact else
                             "passes every proven condition (unproven)")
        for who, texts in per_run.get(i, {}).items():
            tip += f"\nbounded by {who}: {', '.join(texts)}"
        out.append(f'<rect class="run" x="{a:.2f}" y="{c:.2f}" width="{b - a:.2f}" '
                   f'height="{dd - c:.2f}" data-x0="{x0}" data-x1="{x1}" '
                   f'data-y0="{y0}" data-y1="{y1}"><title>{escape(tip)}</title></rect>')
    out.append("</g>")
    if len(r.rects) <= MAX_LABELS and sy:
        for x0, x1, y0, y1 in r.rects:
            a, b = _least(sx(x0 - 0.5), sx(x1 + 0.5))
            text = f"{_span(y0, y1, r.y_hi)} × {_span(x0, x1, r.x_hi)}"
            room = 7 * len(text)  # about the label's width at 11px
            tx, ty = b + 9, sy((y0 + y1) / 2) + 4  # clear of a mark's ring on the run
            anchor = "start"
            if tx + room > LEFT + PW:  # right of the run it would leave the plane
                tx, anchor = a - 9, "end"
                if tx - room < LEFT:  # a run as wide as the plane: inside it
                    tx, anchor = (a + b) / 2, "middle"
            out.append(f'<text class="run-label" x="{tx:.1f}" y="{ty:.1f}" '
                       f'text-anchor="{anchor}">{text}</text>')
    out += _points(r, sx, sy, TOP, ph)
    if mark is not None:
        out += _mark(r, sx, sy, TOP, ph, mark, mark_label)
    out += _axes(r, sx, sy, ph)
    out.append('<g class="probe" visibility="hidden"><line class="probe-x"/>'
               '<line class="probe-y"/><circle class="probe-dot" r="5"/></g>')
    out.append("</svg>")
    scale = {"x": r.x_name, "y": r.y_name, "xHi": r.x_hi, "yHi": r.y_hi, "log": r.log,
             "left": LEFT, "top": TOP, "pw": PW, "ph": ph, "width": WIDTH, "height": height,
             "held": {k: str(v) for k, v in r.held.items()}}
    return Picture("\n".join(out), r, len(r.rects), count, scale)


def _least(p0: float, p1: float) -> tuple:
    """A run at least MIN_PX wide, about its centre: eight sizes on a log axis to 16384 are
    two pixels, which the eye misses (the labels and tooltips carry the exact ranges)."""
    if p1 - p0 >= MIN_PX:
        return p0, p1
    mid = (p0 + p1) / 2
    return mid - MIN_PX / 2, mid + MIN_PX / 2


def _grid(sx, sy, ph) -> list:
    out = ['<g class="grid">']
    for t in sx.ticks():
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + ph}"/>')
    if sy:
        for t in sy.ticks():
            y = sy(t)
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + PW}" y2="{y:.1f}"/>')
    out.append("</g>")
    return out


def _axes(r, sx, sy, ph) -> list:
    out = ['<g class="axes">',
           f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{PW}" height="{ph}"/>']
    for t in sx.ticks():
        out.append(f'<text x="{sx(t):.1f}" y="{TOP + ph + 16}" text-anchor="middle">{t}</text>')
    out.append(f'<text class="axis-name" x="{LEFT + PW / 2}" y="{TOP + ph + 40}" '
               f'text-anchor="middle">{escape(r.x_name)}'
               f'{" (log scale)" if r.log else ""}</text>')
    if sy:
        for t in sy.ticks():
            out.append(f'<text x="{LEFT - 8}" y="{sy(t) + 4:.1f}" text-anchor="end">{t}</text>')
        mid = TOP + ph / 2
        out.append(f'<text class="axis-name" x="18" y="{mid}" transform="rotate(-90 18 {mid})" '
                   f'text-anchor="middle">{escape(r.y_name)}{" (log scale)" if r.log else ""}'
                   "</text>")
    out.append("</g>")
    return out


def _points(r, sx, sy, top, ph) -> list:
    out = []
    for x, y, obs, agree in r.points:
        px, py = sx(x), (sy(y) if sy else top + ph / 2)
        cls = "ran" if obs == Verdict.VALID else "refused"
        if agree is False:
            cls += " disagree"
        tip = f"{r.x_name}={x}" + (f", {r.y_name}={y}" if r.y_name else "") + \
            f": onnxruntime {'ran it' if obs == Verdict.VALID else 'refused it'}" + \
            ("; graphshape predicted otherwise" if agree is False else "")
        if obs == Verdict.VALID:
            shape = f'<circle cx="{px:.2f}" cy="{py:.2f}" r="2.6"/>'
        else:
            shape = (f'<path d="M{px - 3:.2f},{py - 3:.2f}L{px + 3:.2f},{py + 3:.2f}'
                     f'M{px - 3:.2f},{py + 3:.2f}L{px + 3:.2f},{py - 3:.2f}"/>')
        out.append(f'<g class="point {cls}">{shape}<title>{escape(tip)}</title></g>')
    return out


def _mark(r, sx, sy, top, ph, mark, label) -> list:
    x = mark.get(r.x_name)
    y = mark.get(r.y_name) if r.y_name else 1
    if x is None or y is None or x > r.x_hi or y > r.y_hi:
        return []
    if any(mark.get(k, v) != v for k, v in r.held.items()):
        return []
    px, py = sx(x), (sy(y) if sy else top + ph / 2)
    # to the left of the mark, where the run labels (to the right of their runs) are not
    anchor, dx = ("start", 12) if px < LEFT + 240 else ("end", -12)
    dy = 20 if py < TOP + 30 else -10
    return [f'<g class="mark"><circle cx="{px:.2f}" cy="{py:.2f}" r="7"/>'
            f'<text x="{px + dx:.1f}" y="{py + dy:.1f}" text-anchor="{anchor}">'
            f'{escape(label)}</text></g>']
