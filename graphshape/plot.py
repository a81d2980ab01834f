"""A picture of the valid region: an SVG map of two symbolic dims (log-scale axes), each
cell coloured by exact membership (Domain.contains), other dims held at the smallest valid
size. Stdlib only."""

from __future__ import annotations

import math

GREEN, GREY, BG = "#2e9d4f", "#e6e6e6", "#ffffff"


def _axis(lo: int, hi: int, n: int) -> list:
    """n sizes spread log-uniformly over [lo, hi] (distinct ints)."""
    if hi <= lo + n:
        return list(range(lo, hi + 1))
    out = []
    for i in range(n):
        v = int(round(math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * i / (n - 1))))
        if not out or v > out[-1]:
            out.append(v)
    return out


def _extent(domain, i: int) -> int:
    bx = domain.boxes()
    hi = 64
    if bx:
        for b in bx:
            f = b.factors[i]
            top = f.max() if f.max() is not None else f.start + 4 * f.period
            hi = max(hi, top or 1)
    return min(max(hi * 2, 64), 1 << 14)


def svg(analysis, x_name: str | None = None, y_name: str | None = None, cells: int = 160) -> str:
    d = analysis.domain
    names = d.names
    if not names:
        raise ValueError("the model has no symbolic dims to plot")
    x_name = x_name or names[-1]
    y_name = y_name or (names[-2] if len(names) >= 2 else None)
    w = d.smallest_valid() or {n: 1 for n in names}
    xs = _axis(1, _extent(d, names.index(x_name)), cells)
    ys = _axis(1, _extent(d, names.index(y_name)), cells) if y_name else [None]
    cw, ch = 3, (3 if y_name else 40)
    left, top = 60, 30
    width, height = left + cw * len(xs) + 20, top + ch * len(ys) + 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="{BG}"/>',
             f'<text x="{left}" y="18" font-size="13">valid sizes ({GREEN} = runs)</text>'
             .replace(GREEN, "green")]
    for row, yv in enumerate(reversed(ys)):
        y = top + row * ch
        run_start, run_val = 0, None
        for col, xv in enumerate(xs + [None]):
            if xv is None:
                val = None
            else:
                p = dict(w)
                p[x_name] = xv
                if y_name:
                    p[y_name] = yv
                val = d.contains(p)
            if val != run_val or xv is None:
                if run_val is not None:
                    parts.append(f'<rect x="{left + run_start * cw}" y="{y}" '
                                 f'width="{(col - run_start) * cw}" height="{ch}" '
                                 f'fill="{GREEN if run_val else GREY}"/>')
                run_start, run_val = col, val
    for i in range(0, len(xs), max(1, len(xs) // 6)):
        parts.append(f'<text x="{left + i * cw}" y="{top + ch * len(ys) + 15}">{xs[i]}</text>')
    parts.append(f'<text x="{left + cw * len(xs) // 2}" y="{height - 12}">{x_name} '
                 '(log scale)</text>')
    if y_name:
        for i in range(0, len(ys), max(1, len(ys) // 6)):
            yy = top + (len(ys) - 1 - i) * ch
            parts.append(f'<text x="5" y="{yy + 4}">{ys[i]}</text>')
        parts.append(f'<text x="5" y="{top - 4}">{y_name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
