"""The symbolic model summary: one row per node, its output shape as a formula, the numbers
at a given size, the effective stride and receptive field per spatial axis, and the places
where the model absorbs the size (global pooling), pins it (a fixed Reshape, a Gemm's K) or
changes it itself (an internal Resize).

Effective stride ``j`` and receptive field ``r`` follow the first input through each layer
(``j' = j*s``, ``r' = r + (k - 1)*d*j`` for a Conv/Pool with kernel k, stride s, dilation d);
other ops keep them, except ConvTranspose (``j' = j/s``) and global pooling (the whole map).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from graphshape.arith.dims import free_symbols, substitute, to_str
from graphshape.loader.contents import attribute_values
from graphshape.shapes.constraints import Kind

__all__ = ["Layer", "layers", "collapse", "table_lines", "layers_json"]

_WINDOWED = {"Conv", "ConvInteger", "QLinearConv", "MaxPool", "AveragePool", "LpPool",
             "ConvTranspose", "DeformConv"}
_GLOBAL = {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}
_RESIZE = {"Resize", "Upsample"}


@dataclass
class Layer:
    index: int
    node: str
    op: str
    shape: list | None  # output 0's symbolic shape (ints and formulas), None if unknown
    numbers: list | None = None  # that shape at the given sizes
    stride: list | None = None  # effective stride per spatial axis (ints or fractions)
    field: list | None = None  # receptive field per spatial axis (None: the whole map)
    role: str = ""  # "absorbs", "pins", "changes" the size, or ""
    note: str = ""
    failing: bool = False  # a condition of this node fails at the given sizes
    repeat: int = 1  # rows collapsed into this one

    def to_json(self) -> dict:
        return {"index": self.index, "node": self.node, "op": self.op, "shape": self.shape,
                "numbers": self.numbers,
                "stride": None if self.stride is None else [str(s) for s in self.stride],
                "receptive_field": self.field, "role": self.role or None,
                "note": self.note or None, "failing": self.failing, "repeat": self.repeat}


def _dim_out(d):
    return d if isinstance(d, int) else to_str(d)


def _spatial_attrs(node, nsp: int):
    a = attribute_values(node)
    k = list(a.get("kernel_shape") or [])
    s = list(a.get("strides") or [1] * nsp)
    d = list(a.get("dilations") or [1] * nsp)
    return k, s, d


@dataclass
class _Track:
    stride: list
    field: list = field(default_factory=list)


def layers(analysis, sizes: dict | None = None) -> list:
    """One Layer per node, in topological order."""
    g = analysis.graph
    tensors = analysis.propagation.tensors
    env = analysis.domain.env(sizes) if sizes else None
    failing = set()
    if env is not None:
        failing = {c.origins[0].node for c in analysis.domain.violated(sizes)}
        failing |= {e.node for e in analysis.domain.impossible}
    pinned = _pins(analysis)
    track: dict = {}
    for name, t in g.inputs.items():
        if t.shape is not None and len(t.shape) >= 3:
            track[name] = _Track([1] * (len(t.shape) - 2), [1] * (len(t.shape) - 2))
    rows = []
    for idx, node in enumerate(g.nodes):
        name = node.name or f"{node.op_type}_{idx}"
        out = next((o for o in node.output if o), None)
        t = tensors.get(out) if out else None
        shape = None if t is None or t.shape is None else [_dim_out(d) for d in t.shape]
        numbers = None
        if env is not None and t is not None and t.shape is not None:
            vals = [_value(d, env) for d in t.shape]
            numbers = [v if isinstance(v, int) else None for v in vals]
        src = next((track[i] for i in node.input if i in track), None)
        row = Layer(idx, name, node.op_type, shape, numbers, failing=name in failing)
        new = _step(node, src)
        if new is not None:
            row.stride = list(new.stride)
            row.field = None if new.field is None else list(new.field)
            if out:
                track[out] = new
        row.role, row.note = _role(node, analysis, t, pinned.get(name))
        rows.append(row)
    return rows


def _step(node, src: _Track | None) -> _Track | None:
    if src is None:
        return None
    op = node.op_type
    nsp = len(src.stride)
    if op in _GLOBAL:
        return _Track(list(src.stride), None)
    if op not in _WINDOWED or src.field is None:
        return _Track(list(src.stride), None if src.field is None else list(src.field))
    try:
        k, s, d = _spatial_attrs(node, nsp)
    except Exception:  # noqa: BLE001  the summary never fails on a node it cannot read
        return _Track(list(src.stride), list(src.field))
    if len(k) != nsp:
        return _Track(list(src.stride), list(src.field))
    if op == "ConvTranspose":
        stride = [Fraction(j) / si for j, si in zip(src.stride, s)]
    else:
        stride = [j * si for j, si in zip(src.stride, s)]
    rf = [r + (ki - 1) * di * j for r, ki, di, j in zip(src.field, k, d, src.stride)]
    return _Track([int(x) if Fraction(x).denominator == 1 else Fraction(x) for x in stride],
                  [int(r) if Fraction(r).denominator == 1 else float(r) for r in rf])


def _pins(analysis) -> dict:
    """node -> why it pins the size: an equality between a size expression and a number."""
    out = {}
    for c in analysis.domain.solved.conditions:
        k = c.constraint
        if k.kind != Kind.EQ:
            continue
        if isinstance(k.rhs, int) and not isinstance(k.lhs, int) or \
                isinstance(k.lhs, int) and not isinstance(k.rhs, int):
            for o in c.origins:
                out.setdefault(o.node, o.reason)
    return out


def _role(node, analysis, t, pin) -> tuple:
    op = node.op_type
    tensors = analysis.propagation.tensors
    ins = [tensors.get(i) for i in node.input if i]
    in_syms = set()
    for x in ins[:1]:
        if x is not None and x.shape is not None:
            for d in x.shape:
                in_syms |= free_symbols(d)
    out_syms = set()
    if t is not None and t.shape is not None:
        for d in t.shape:
            out_syms |= free_symbols(d)
    if op in _RESIZE and in_syms and not out_syms:
        return "changes", "resizes its input to a fixed size: the network sees another scale"
    if op in _RESIZE and in_syms:
        return "changes", "resizes its input inside the model"
    if pin:
        return "pins", pin
    if in_syms and t is not None and t.shape is not None and not out_syms and \
            (op in _GLOBAL or op.startswith("Reduce") or op in {"AveragePool", "MaxPool"}):
        return "absorbs", "the spatial size is pooled away here (global/adaptive pooling)"
    return "", ""


def collapse(rows: list, max_block: int = 8) -> list:
    """Consecutive repeats of the same block (same ops, same shapes) shown once, xN."""
    out = []
    i = 0
    n = len(rows)
    while i < n:
        best = (1, 1)
        for size in range(1, max_block + 1):
            if i + 2 * size > n:
                break
            reps = 1
            while i + (reps + 1) * size <= n and all(
                    _same(rows[i + j], rows[i + reps * size + j]) for j in range(size)):
                reps += 1
            if reps > 1 and reps * size > best[0] * best[1]:
                best = (size, reps)
        size, reps = best
        for j in range(size):
            r = rows[i + j]
            block = [rows[i + k * size + j] for k in range(reps)]
            r.repeat = reps
            r.failing = any(b.failing for b in block)
            out.append(r)
        i += size * reps
    return out


def _same(a: Layer, b: Layer) -> bool:
    return a.op == b.op and a.shape == b.shape and a.role == b.role and not a.role


def _fmt(v) -> str:
    if v is None:
        return "?"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def table_lines(rows: list, sizes: dict | None = None) -> list:
    """The summary as aligned text lines; the first failing node is marked '>>'."""
    head = ["", "#", "node", "op", "output shape"] + (["at size"] if sizes else []) + [
        "stride", "field", "note"]
    body = []
    first_fail = next((r.index for r in rows if r.failing), None)
    for r in rows:
        mark = ">>" if r.index == first_fail else ("! " if r.failing else "")
        cells = [mark, str(r.index), r.node if len(r.node) <= 40 else "..." + r.node[-37:],
                 r.op + (f" x{r.repeat}" if r.repeat > 1 else ""), _fmt(r.shape)]
        if sizes:
            cells.append(_fmt(r.numbers))
        cells += ["" if r.stride is None else _fmt(r.stride),
                  "" if r.stride is None else ("all" if r.field is None else _fmt(r.field)),
                  (f"{r.role}: {r.note}" if r.role else "")]
        body.append(cells)
    widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    fmt = lambda row: "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return [fmt(head)] + [fmt(b) for b in body]


def layers_json(rows: list) -> list:
    return [r.to_json() for r in rows]


def _value(d, env):
    """d at env, or None where it has no value (c // d with d == 0)."""
    try:
        return substitute(d, env)
    except ValueError:
        return None
