"""Pictures of the valid region: two symbolic dims as a plane (or one as a strip), other
dims held at a member of the domain.

The region is drawn from the domain's boxes: every box, lattice and residue class is a set
of whole integer runs, each drawn as the cells [lo - 1/2, hi + 1/2], so the picture is
exact at every integer size in range. A domain without a box form (sizes coupled in a way
boxes cannot state) is drawn cell by cell from exact membership tests, and says so when a
cell stands for more than one size. Verified points (onnxruntime runs) are marked valid /
invalid, a disagreement circled.

``region()`` computes what to draw; ``svg()`` renders it with the standard library,
``png()`` with matplotlib (the ``plot`` extra)."""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field

from graphshape.domain.periodic import runs
from graphshape.results import Verdict

GREEN, GREY, RED, BG = "#2e9d4f", "#e6e6e6", "#c62828", "#ffffff"
MAX_RECTS = 20000
MPL_HINT = ("PNG output needs matplotlib: pip install 'graphshape[plot]' (or write .svg, "
            "which needs nothing)")


@dataclass
class Region:
    """What a picture shows: integer runs of valid sizes on [1, x_hi] x [1, y_hi]."""

    x_name: str
    y_name: str | None
    x_hi: int
    y_hi: int
    held: dict
    rects: list = field(default_factory=list)  # (x0, x1, y0, y1) inclusive integer ranges
    exact: bool = True  # every integer size in range drawn exactly
    note: str = ""
    points: list = field(default_factory=list)  # (x, y, observed, agree)
    log: bool = False
    title: str = ""

    def to_json(self) -> dict:
        return {"x": self.x_name, "y": self.y_name, "x_range": [1, self.x_hi],
                "y_range": [1, self.y_hi] if self.y_name else None, "held": self.held,
                "rects": len(self.rects), "exact": self.exact, "note": self.note,
                "log_scale": self.log,
                "points": {"valid": sum(1 for p in self.points if p[2] == Verdict.VALID),
                           "invalid": sum(1 for p in self.points if p[2] == Verdict.INVALID),
                           "disagree": sum(1 for p in self.points if p[3] is False)}}


def _extent(domain, i: int) -> int:
    bx = domain.boxes()
    hi = 64
    if bx:
        for b in bx:
            f = b.factors[i]
            top = f.max() if f.max() is not None else f.start + 4 * f.period
            hi = max(hi, top or 1)
    return min(max(hi * 2, 64), 1 << 14)


def _values(f, hi: int) -> list:
    """The runs (lo, hi) of a Periodic1D within [1, hi]."""
    out = [(a, min(b, hi)) for a, b in runs(f.finite) if a <= hi]
    if f.residues and f.start <= hi:
        pts = [x for x in range(f.start, hi + 1) if (x % f.period) in set(f.residues)]
        more = runs(pts)
        if out and more and more[0][0] == out[-1][1] + 1:
            out[-1] = (out[-1][0], more[0][1])
            more = more[1:]
        out += more
    return out


def region(analysis, x_name: str | None = None, y_name: str | None = None,
           held: dict | None = None, ranges: dict | None = None, strip: bool = False,
           log: bool | None = None, cells: int = 200) -> Region:
    """The picture of ``analysis``'s domain in the ``x_name`` x ``y_name`` plane (a strip
    of ``x_name`` when ``strip`` or with one symbol); ``held`` fixes the other symbols
    (default: the smallest valid size), ``ranges`` maps a symbol to its largest size shown."""
    d = analysis.domain
    names = d.names
    if not names:
        raise ValueError("the model has no symbolic dims to plot")
    for n in [x_name, y_name, *(held or {}), *(ranges or {})]:
        if n is not None and n not in names:
            raise ValueError(f"unknown dim '{n}'; the model's symbolic dims are "
                             f"{', '.join(names)}")
    x_name = x_name or names[-1]
    if strip or len(names) == 1:
        y_name = None
    else:
        y_name = y_name or next(n for n in reversed(names) if n != x_name)
        if y_name == x_name:
            raise ValueError("--x and --y name the same dim")
    base = d.smallest_valid() or {n: 1 for n in names}
    hold = {n: v for n, v in base.items() if n not in (x_name, y_name)}
    hold.update({k: v for k, v in (held or {}).items() if k not in (x_name, y_name)})
    ranges = ranges or {}
    x_hi = ranges.get(x_name) or _extent(d, names.index(x_name))
    y_hi = (ranges.get(y_name) or _extent(d, names.index(y_name))) if y_name else 1
    r = Region(x_name, y_name, x_hi, y_hi, hold)
    r.log = (max(x_hi, y_hi) > 2048) if log is None else log
    ix = names.index(x_name)
    iy = names.index(y_name) if y_name else None
    bx = d.boxes() if not d.solved.inexact else None
    rects = None
    if bx is not None:
        rects = []
        for b in bx:
            if any(not b.factors[names.index(n)].contains(v) for n, v in hold.items()):
                continue
            xs = _values(b.factors[ix], x_hi)
            ys = _values(b.factors[iy], y_hi) if iy is not None else [(1, 1)]
            rects += [(a, bb, c, dd) for a, bb in xs for c, dd in ys]
            if len(rects) > MAX_RECTS:
                rects = None
                break
    if rects is not None:
        r.rects = rects
    else:
        _raster(r, d, cells)
    if not d.exact:
        r.exact = False
        r.note = "green: sizes that pass every proven condition (the domain is unproven)"
    return r


def _axis(hi: int, n: int, log: bool) -> list:
    """Up to n distinct sizes in [1, hi] (every size when hi <= n)."""
    if hi <= n:
        return list(range(1, hi + 1))
    out = []
    for i in range(n):
        t = i / (n - 1)
        v = int(round(math.exp(math.log(hi) * t))) if log else int(round(1 + (hi - 1) * t))
        if not out or v > out[-1]:
            out.append(v)
    return out


def _raster(r: Region, d, cells: int) -> None:
    """Cell by cell: each cell coloured by exact membership of one size in it."""
    xs = _axis(r.x_hi, cells, r.log)
    ys = _axis(r.y_hi, cells, r.log) if r.y_name else [1]
    r.exact = len(xs) == r.x_hi and len(ys) == r.y_hi and d.exact
    r.note = "" if r.exact else (
        "each cell is tested at one size (sampled)" if d.exact else
        "green: sizes that pass every proven condition (the domain is unproven)")
    edges_x = _cell_edges(xs)
    edges_y = _cell_edges(ys)
    for j, yv in enumerate(ys):
        run = None
        for i, xv in enumerate(xs + [None]):
            ok = False
            if xv is not None:
                p = dict(r.held)
                p[r.x_name] = xv
                if r.y_name:
                    p[r.y_name] = yv
                ok = d.satisfies(p)
            if ok and run is None:
                run = i
            elif not ok and run is not None:
                r.rects.append((edges_x[run][0], edges_x[i - 1][1], edges_y[j][0],
                                edges_y[j][1]))
                run = None


def _cell_edges(vals) -> list:
    """For sampled sizes, the integer range each one stands for."""
    out = []
    for i, v in enumerate(vals):
        lo = v if i == 0 else (vals[i - 1] + v) // 2 + 1
        hi = v if i == len(vals) - 1 else (v + vals[i + 1]) // 2
        out.append((min(lo, v), max(hi, v)))
    return out


def add_points(r: Region, verification) -> None:
    """Verified sizes in this plane (other symbols at the held values)."""
    for v in verification.verdicts:
        if any(v.sizes.get(k) != val for k, val in r.held.items()):
            continue
        x = v.sizes.get(r.x_name)
        y = v.sizes.get(r.y_name, 1) if r.y_name else 1
        if x is None or x > r.x_hi or y > r.y_hi or v.observed not in (Verdict.VALID, Verdict.INVALID):
            continue
        r.points.append((x, y, v.observed, v.agree))


# ---- rendering -----------------------------------------------------------------------------


def _title(analysis, r: Region) -> str:
    g = analysis.graph
    name = os.path.basename(g.path) if g.path else "model"
    held = ", ".join(f"{k}={v}" for k, v in r.held.items())
    return f"{name}: valid sizes" + (f" ({held})" if held else "")


class Scale:
    """Sizes [lo, hi] -> pixels [px0, px1], linear or logarithmic (the SVG here and the
    page's region, whose script inverts it)."""

    def __init__(self, lo: float, hi: float, px0: float, px1: float, log: bool):
        self.lo, self.hi, self.px0, self.px1, self.log = lo, hi, px0, px1, log

    def __call__(self, v: float) -> float:
        f = (lambda t: math.log(t)) if self.log else (lambda t: t)
        return self.px0 + (f(v) - f(self.lo)) / (f(self.hi) - f(self.lo)) * (self.px1 - self.px0)

    def ticks(self) -> list:
        if self.log:
            out, t = [], 1
            while t <= self.hi:
                out.append(t)
                t *= 4 if self.hi > 4096 else 2
            return out
        step = _nice(self.hi / 6)
        return [1] + list(range(step, int(self.hi) + 1, step))


def _nice(x: float) -> int:
    p = 10 ** int(math.floor(math.log10(max(x, 1))))
    for m in (1, 2, 5, 10):
        if m * p >= x:
            return int(m * p)
    return int(10 * p)


def svg(analysis, x_name: str | None = None, y_name: str | None = None, cells: int = 200,
        r: Region | None = None) -> str:
    """The region as an SVG document (standard library only)."""
    r = r or region(analysis, x_name, y_name, cells=cells)
    left, top, pw = 70, 40, 560
    ph = 420 if r.y_name else 40
    width, height = left + pw + 30, top + ph + 70
    sx = Scale(0.5, r.x_hi + 0.5, left, left + pw, r.log)
    sy = Scale(0.5, r.y_hi + 0.5, top + ph, top, r.log) if r.y_name else None
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="{BG}"/>',
           f'<text x="{left}" y="20" font-size="13">{_esc(_title(analysis, r))}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="{GREY}"/>']
    for x0, x1, y0, y1 in r.rects:
        a, b = sx(x0 - 0.5), sx(x1 + 0.5)
        if sy:
            c, dd = sy(y1 + 0.5), sy(y0 - 0.5)
        else:
            c, dd = top, top + ph
        out.append(f'<rect x="{a:.2f}" y="{c:.2f}" width="{max(b - a, 0.3):.2f}" '
                   f'height="{max(dd - c, 0.3):.2f}" fill="{GREEN}"/>')
    if len(r.rects) <= 16 and sy:
        for x0, x1, y0, y1 in r.rects:
            out.append(f'<text x="{sx((x0 + x1) / 2) + 5:.1f}" y="{sy((y0 + y1) / 2) - 4:.1f}" '
                       f'font-size="9">{r.x_name}={_span(x0, x1)}, {r.y_name}={_span(y0, y1)}</text>')
    for x, y, obs, agree in r.points:
        px = sx(x)
        py = sy(y) if sy else top + ph / 2
        if obs == Verdict.VALID:
            out.append(f'<circle cx="{px:.2f}" cy="{py:.2f}" r="2.5" fill="#0b3d1a"/>')
        else:
            out.append(f'<path d="M{px - 3:.2f},{py - 3:.2f}L{px + 3:.2f},{py + 3:.2f}'
                       f'M{px - 3:.2f},{py + 3:.2f}L{px + 3:.2f},{py - 3:.2f}" '
                       f'stroke="{RED}" stroke-width="1.5"/>')
        if agree is False:
            out.append(f'<circle cx="{px:.2f}" cy="{py:.2f}" r="6" fill="none" '
                       'stroke="black" stroke-width="1.5"/>')
    for t in sx.ticks():
        out.append(f'<text x="{sx(t):.1f}" y="{top + ph + 15}" text-anchor="middle">{t}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{top + ph + 35}" text-anchor="middle">'
               f'{_esc(r.x_name)}{" (log scale)" if r.log else ""}</text>')
    if sy:
        for t in sy.ticks():
            out.append(f'<text x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{t}</text>')
        out.append(f'<text x="15" y="{top + ph / 2}" transform="rotate(-90 15 {top + ph / 2})" '
                   f'text-anchor="middle">{_esc(r.y_name)}</text>')
    legend = "green: valid, grey: invalid"
    if r.points:
        legend += "; dots: ran on onnxruntime, crosses: rejected by it, circled: disagree"
    if r.note:
        legend += f"; {r.note}"
    out.append(f'<text x="{left}" y="{height - 10}">{_esc(legend)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _span(a: int, b: int) -> str:
    return str(a) if a == b else f"{a}..{b}"


def _esc(s: str) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def png(analysis, r: Region, dpi: int = 100) -> bytes:
    """The region as PNG bytes (matplotlib; ImportError when it is missing)."""

    import matplotlib  # noqa: PLC0415  matplotlib: an optional extra

    matplotlib.use("Agg", force=True)
    from matplotlib.collections import PatchCollection  # noqa: PLC0415  matplotlib: an optional extra
    from matplotlib.figure import Figure  # noqa: PLC0415  matplotlib: an optional extra
    from matplotlib.patches import Rectangle  # noqa: PLC0415  matplotlib: an optional extra

    fig = Figure(figsize=(6.4, 5.2 if r.y_name else 2.0), dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor(GREY)
    patches = []
    for x0, x1, y0, y1 in r.rects:
        if r.y_name:
            patches.append(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1))
        else:
            patches.append(Rectangle((x0 - 0.5, 0), x1 - x0 + 1, 1))
    few = len(r.rects) <= 16
    ax.add_collection(PatchCollection(patches, facecolor=GREEN, edgecolor=GREEN,
                                      linewidth=2.0 if few else 0.3))
    if few and r.y_name:  # a few boxes: say where each one is
        for x0, x1, y0, y1 in r.rects:
            ax.annotate(f"{r.x_name}={_span(x0, x1)}, {r.y_name}={_span(y0, y1)}",
                        ((x0 + x1) / 2, (y0 + y1) / 2),
                        xytext=(6, 4), textcoords="offset points", fontsize=6.5)
    ok = [(x, y) for x, y, o, _a in r.points if o == Verdict.VALID]
    bad = [(x, y) for x, y, o, _a in r.points if o == Verdict.INVALID]
    dis = [(x, y) for x, y, _o, a in r.points if a is False]

    def ys(pts):
        return [p[1] if r.y_name else 0.5 for p in pts]

    if ok:
        ax.scatter([p[0] for p in ok], ys(ok), s=9, c="#0b3d1a", label="ran on onnxruntime",
                   zorder=5)
    if bad:
        ax.scatter([p[0] for p in bad], ys(bad), s=16, c=RED, marker="x",
                   label="rejected by onnxruntime", zorder=3)
    if dis:
        ax.scatter([p[0] for p in dis], ys(dis), s=80, facecolors="none", edgecolors="black",
                   label="disagree", zorder=4)
    ax.set_xlim(0.5, r.x_hi + 0.5)
    if r.log:
        ax.set_xscale("log")
    ax.set_xlabel(r.x_name + (" (log scale)" if r.log else ""))
    if r.y_name:
        ax.set_ylim(0.5, r.y_hi + 0.5)
        if r.log:
            ax.set_yscale("log")
        ax.set_ylabel(r.y_name)
    else:
        ax.set_ylim(0, 1)
        ax.set_yticks([])
    ax.set_title(_title(analysis, r) + ("" if not r.note else f"\n{r.note}"), fontsize=10)
    if r.points:
        ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
