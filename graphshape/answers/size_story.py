"""Where the input size goes, in words, for models that resize their input inside (a
detector's GeneralizedRCNNTransform, SSD's fixed square): the answer to "my image is
1000x3000, does the model see it?" is "it runs, and it sees it resized":

    resized inside the model to 800 on the short side (at most 1333 on the long side),
    then padded to a multiple of 32: every size with W <= 1333*H and 1333*W >= H runs
    (...); the model sees a resized image

Read from the analysis alone: the Resize nodes whose output no longer depends on the
input's sizes (fixed, or derived in float32: graphshape.arith.float32), the scale formula of
a derived size (a / min(H, W), b / max(H, W)), and shapes downstream that round a derived
size up to a multiple (m*ceil(size/m), written -m*floor(-size/m)).
"""

from __future__ import annotations

import sympy

from graphshape.arith import float32 as f32
from graphshape.arith.dims import free_symbols, to_str
from graphshape.domain.counts import each_at_least_one, is_read_requirement

__all__ = ["story", "resized", "count_words", "requirement_words"]


def resized(analysis) -> list:
    """(Resize node name, its output's spatial dims) for every Resize whose output no longer
    depends on the input sizes (only on constants and float32-derived sizes)."""
    g = analysis.graph
    syms = set(g.symbols)
    derived = {d.symbol for d in analysis.propagation.derived}
    out = []
    for node in g.nodes:
        if node.op_type not in ("Resize", "Upsample") or not node.output:
            continue
        t = analysis.propagation.tensors.get(node.output[0])
        src = analysis.propagation.tensors.get(node.input[0])
        if t is None or t.shape is None or src is None or src.shape is None:
            continue
        in_syms = set().union(*(free_symbols(d) for d in src.shape)) & syms
        out_syms = set().union(*(free_symbols(d) for d in t.shape))
        if in_syms and not out_syms & syms and (not out_syms or out_syms <= derived):
            spatial = [d for d, s in zip(t.shape, src.shape) if free_symbols(s) & syms]
            out.append((node.name, spatial))
    return out


def _div_of(x, fn):
    """c when x is c / fn(sizes) (Mul(Reciprocal(int(fn(...))), c) or Div(c, ...))."""
    if x.op == "mul":
        a, b = x.args
        for r, c in ((a, b), (b, a)):
            if r.op == "recip" and c.op == "const" and r.args[0].op == "int" and \
                    isinstance(r.args[0].args[0], fn):
                return c.args[0]
    if x.op == "div" and x.args[0].op == "const" and x.args[1].op == "int" and \
            isinstance(x.args[1].args[0], fn):
        return x.args[0].args[0]
    return None


def _short_long(program) -> tuple | None:
    """(short, long) when the program scales a size by min(short / min(sizes), long /
    max(sizes)) (torchvision's min_size / max_size), else None."""
    stack = [program]
    while stack:
        x = stack.pop()
        if not isinstance(x, f32.F32):
            continue
        if x.op == "min" and len(x.args) == 2:
            a, b = x.args
            for p, q in ((a, b), (b, a)):
                s, m = _div_of(p, sympy.Min), _div_of(q, sympy.Max)
                if s is not None and m is not None:
                    return s, m
        stack.extend(a for a in x.args if isinstance(a, f32.F32))
    return None


def _multiple_of(analysis, sym) -> int | None:
    """m when some shape downstream rounds ``sym`` up to a multiple of m (m*ceil(sym/m),
    which graphshape writes -m*floor(-sym/m))."""
    for t in analysis.propagation.tensors.values():
        for d in (t.shape or ()) if t is not None else ():
            if isinstance(d, int) or sym not in d.free_symbols or not d.is_Mul:
                continue
            c, rest = d.as_coeff_Mul()
            if c < -1 and isinstance(rest, sympy.floor) and \
                    sympy.simplify(rest.args[0] * (-c) + sym) == 0:
                return int(-c)
    return None


def _num(v) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def story(analysis) -> str | None:
    """The sentence, or None when the model does not resize its input inside."""
    found = resized(analysis)
    if not found:
        return None
    d = analysis.domain
    by_symbol = {x.symbol: x for x in analysis.propagation.derived}
    parts = []
    for name, spatial in found:
        progs = [by_symbol[s].program for dim in spatial for s in free_symbols(dim)
                 if s in by_symbol]
        if not progs:
            parts.append(f"resized inside the model to {' x '.join(to_str(x) for x in spatial)}"
                         f" (Resize '{name}')")
            continue
        sl = _short_long(progs[0])
        if sl is not None:
            text = (f"resized inside the model to {_num(sl[0])} on the short side (at most "
                    f"{_num(sl[1])} on the long side)")
        else:
            text = "resized inside the model to " + " x ".join(
                f"{by_symbol[s].formula()}" for dim in spatial for s in free_symbols(dim)
                if s in by_symbol)
        mult = {_multiple_of(analysis, s) for dim in spatial for s in free_symbols(dim)
                if s in by_symbol} - {None}
        if len(mult) == 1:
            text += f", then padded to a multiple of {mult.pop()}"
        parts.append(text)
    floats = getattr(d.solved, "floats", None)
    verb = "runs" if d.exact else "passes every size condition"
    if d.impossible or d.isl_set.is_empty():
        where = "no size runs"
    elif floats is None and d.isl_set.is_equal(d.universe()):
        where = f"every size {verb}"
    elif floats is not None and floats.plain.is_equal(d.universe()):
        text, edge = floats.words(d.names, within=d.isl_set)
        where = f"every size with {text} {verb}" + (f" ({edge})" if edge else "")
    else:
        where = f"every size with {d.describe()} {verb}"
    tail = "; the model sees a resized image"
    if not d.exact and not d.unproven and d.dd_conditions:
        tail += "; the run also needs " + count_words(analysis, d.dd_conditions[0])
    elif d.requirements:
        tail += "; at every size the run also needs " + requirement_words(analysis)[0]
    return "; ".join(parts) + ": " + where + tail


def count_words(analysis, c) -> str:
    """A condition on data-dependent counts with what each count is: 'min(1000, dd2, dd3)
    >= 1 (dd2: the number of non-zero entries at NonZero '/rpn/NonZero_1', ...), or
    Reshape '/roi_heads/Reshape' fails'."""
    dd = {x.symbol: x for x in analysis.propagation.data_dependent}
    what = [f"{s}: the {dd[s].what} at {dd[s].op} '{dd[s].node}'"
            for s in sorted(c.symbols(), key=lambda x: x.name) if s in dd]
    where = f"{c.origin.op} '{c.origin.node}'" if c.origin is not None else "the model"
    return f"{c}" + (f" ({'; '.join(what)})" if what else "") + f", else {where} fails"


def requirement_words(analysis) -> list:
    """The domain's requirements on the data (counts.py) in words, the same requirement at
    several nodes said once: "the number of non-zero entries at NonZero '/rpn/NonZero_1'
    and ... each at least 1, else Reshape '/roi_heads/Reshape' and ... fail"."""
    dd = {x.symbol: x for x in analysis.propagation.data_dependent}
    groups: dict = {}
    for c in analysis.domain.requirements:
        if is_read_requirement(c, dd):
            groups.setdefault(("read", c.origin.node), []).append(c)
            continue
        syms = sorted(c.symbols(), key=lambda x: x.name)
        key = tuple(syms) if each_at_least_one(c) else str(c)
        groups.setdefault(key, []).append(c)
    out = []
    for key, cs in groups.items():
        where = [f"'{c.origin.node}'" for c in cs if c.origin is not None]
        op = cs[0].origin.op + " " if cs[0].origin is not None else ""
        fails = (op + " and ".join(where) + (" fail" if len(where) > 1 else " fails")) \
            if where else "the model fails"
        if key[0] == "read":
            out.append(cs[0].origin.reason + f"; else {fails}")
        elif isinstance(key, tuple):
            counts = [f"{dd[s].what.removeprefix('number of ')} at {dd[s].op} '{dd[s].node}'"
                      if s in dd else str(s) for s in key]
            out.append(("at least 1 each: " if len(counts) > 1 else "at least 1 ")
                       + ", ".join(counts) + f"; else {fails}")
        else:
            out.append(count_words(analysis, cs[0]).rsplit(", else ", 1)[0] + f"; else {fails}")
    return out
