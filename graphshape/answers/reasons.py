"""Why the domain is what it is, in words people read.

* ``faces(analysis)``: every face of the domain (each lower and upper bound, each
  congruence, each box edge), with the conditions that make it tight: the conditions the
  size just outside the face violates; those whose removal alone admits that size first.
* ``essential(domain)``: the conditions whose removal changes the domain (isl: the domain
  without the condition against the domain); the other binding ones are implied.
* ``simplify(e, domain, context)``: an expression rewritten under what a context set (the
  domain, plus the sizes being explained) guarantees: a ``max(0, x)`` whose x is known
  >= 0 there disappears, nested floors merge. Every rewrite is checked by isl to equal the
  original on the whole context; when it cannot be checked the original is kept.
* ``readable(analysis, condition, sizes)``: the condition with intermediate sizes named
  (``the map entering Flatten '/Flatten' is 1 x 32 x h x w with h = ..., w = ...; Gemm
  needs 32*h*w = 32768, so h*w = 1024``), numbers at ``sizes`` when given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy

from graphshape.arith.dims import free_symbols, norm, substitute
from graphshape.arith.dims import to_str as _plain_str
from graphshape.arith.isl import Error as IslError
from graphshape.arith.isl import (
    IslPrinter,
    NonPresburger,
    isl_names,
    point_set,
    size_set,
)
from graphshape.domain.periodic import runs
from graphshape.shapes.constraints import DIV, EQ, GE

__all__ = ["Face", "faces", "essential", "simplify", "readable", "bound_lines",
           "MAX_ESSENTIAL_CONDITIONS"]

# essential() intersects every binding condition with all the others (quadratic)
MAX_ESSENTIAL_CONDITIONS = 60
MAX_FACES = 400


# ---- isl helpers -------------------------------------------------------------------------


def _isl(e, names):
    return IslPrinter(names).expr(e)


def _holds(domain, context, text: str) -> bool:
    """Whether the isl condition ``text`` holds at every point of ``context``."""
    try:
        bad = size_set(domain.symbols, f"not ({text})")
    except (IslError, Exception):  # noqa: BLE001  an unprintable question proves nothing
        return False
    return bad.intersect(context).is_empty()


def context_of(domain, sizes: dict | None = None):
    """The domain's isl set, plus the point ``sizes`` (the size being explained)."""
    ctx = domain.isl_set
    if sizes and domain.symbols:
        ctx = ctx.union(point_set(sizes[n] for n in domain.names))
    if ctx.is_empty():
        ctx = domain.universe()
    return ctx


# ---- simplification under a context ------------------------------------------------------


def simplify(e, domain, context=None):
    """``e`` rewritten under ``context`` (default: the domain); equal to ``e`` at every
    point of the context (checked by isl), else ``e`` unchanged."""
    if isinstance(e, int) or not domain.symbols:
        return e
    context = context if context is not None else context_of(domain)
    names = isl_names(domain.symbols)
    e = sympy.sympify(e)
    try:
        new = _rewrite(e, domain, context, names)
        for _ in range(6):
            nxt = _merge_all(new)
            if nxt == new:
                break
            new = nxt
        if new == e:
            return norm(e)
        if _holds(domain, context, f"{_isl(new, names)} = {_isl(e, names)}"):
            return norm(new)
    except (NonPresburger, IslError, TypeError, ValueError):
        pass
    return norm(e)


def _rewrite(e, domain, ctx, names):
    if not e.args or not e.free_symbols:
        return e
    args = [_rewrite(a, domain, ctx, names) for a in e.args]
    if isinstance(e, (sympy.Max, sympy.Min)):
        keep = list(dict.fromkeys(args))
        rel = ">=" if isinstance(e, sympy.Max) else "<="
        # drop an argument another one dominates on the context
        changed = True
        while changed and len(keep) > 1:
            changed = False
            for a in keep:
                for b in keep:
                    if a is not b and _holds(domain, ctx, f"{_isl(a, names)} {rel} "
                                                          f"{_isl(b, names)}"):
                        keep.remove(b)
                        changed = True
                        break
                if changed:
                    break
        return keep[0] if len(keep) == 1 else e.func(*keep)
    out = e.func(*args)
    if isinstance(out, sympy.floor):
        out = _merge_floor(out)
    return out


def _merge_all(e):
    if not e.args or not e.free_symbols:
        return e
    out = e.func(*[_merge_all(a) for a in e.args])
    return _merge_floor(out) if isinstance(out, sympy.floor) else out


def _merge_floor(e):
    """floor(floor(Y)/b + r) = floor((Y + r*b)/b) for an integer b > 0 and r*b integer."""
    arg = sympy.expand(e.args[0])
    terms = sympy.Add.make_args(arg)
    inner = [t for t in terms if isinstance(t.as_coeff_Mul()[1], sympy.floor)]
    rest = [t for t in terms if t not in inner]
    if len(inner) != 1 or any(t.free_symbols for t in rest):
        return e
    k, f = inner[0].as_coeff_Mul()
    r = sum(rest, sympy.Integer(0))
    if not k.is_Rational or k <= 0 or k.p != 1:
        return e
    b = k.q
    if not (r * b).is_Integer:
        return e
    return sympy.floor((f.args[0] + r * b) / b)


# ---- the conditions that shape the domain ------------------------------------------------


def essential(domain) -> set:
    """ids of the closed-form conditions whose removal changes the domain (None when there
    are too many to compare)."""
    sets = domain.binding()
    if len(sets) > MAX_ESSENTIAL_CONDITIONS:
        return None
    out = set()
    for c, _s in sets:
        others = domain.universe()
        for c2, s2 in sets:
            if c2 is not c:
                others = others.intersect(s2)
        if not others.is_subset(domain.isl_set):
            out.add(id(c))
    return out


@dataclass
class Face:
    """One face of the domain: ``text`` (``H >= 23``), the size just outside it
    (``outside``), the conditions that reject that size (``tight``), and among them those
    whose removal alone admits it (``sole``)."""

    symbol: str
    kind: str  # "lower", "upper", "congruence"
    text: str
    outside: dict
    tight: list = field(default_factory=list)
    sole: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"symbol": self.symbol, "kind": self.kind, "face": self.text,
                "outside": self.outside,
                "tight": [_cond_json(c) for c in self.tight],
                "sole": [_cond_json(c) for c in self.sole]}


def _cond_json(c) -> dict:
    o = c.origins[0]
    return {"node": o.node, "op": o.op, "reason": o.reason, "condition": str(c.constraint)}


def _box_faces(domain) -> list:
    """(symbol, kind, text, point outside) for every face of every box."""
    bx = domain.boxes()
    names = domain.names
    out = []
    if not bx:
        return out
    for b in bx:
        hold = [f.min() for f in b.factors]
        if any(h is None for h in hold):
            continue
        others = {n: hold[j] for j, n in enumerate(names)}
        for f, n in zip(b.factors, names):
            cands = []
            for lo, hi in runs(f.finite):
                if lo > f.least and not f.contains(lo - 1):  # least: 0 where it may be empty
                    cands.append(("lower", f"{n} >= {lo}", lo - 1))
                if not f.contains(hi + 1):
                    cands.append(("upper", f"{n} <= {hi}", hi + 1))
            if f.residues:
                first = min(f.start + ((r - f.start) % f.period) for r in f.residues)
                if first > f.least and not f.contains(first - 1) and not f.finite:
                    cands.append(("lower", f"{n} >= {first}", first - 1))
                if len(f.residues) < f.period:
                    x = next(v for v in range(first, first + f.period + 1) if not f.contains(v))
                    res = ", ".join(map(str, f.residues))
                    txt = (f"{n} mod {f.period} == {res}" if len(f.residues) == 1 else
                           f"{n} mod {f.period} in {{{res}}}")
                    cands.append(("congruence", txt, x))
            for kind, txt, v in cands:
                p = dict(others)
                p[n] = v
                out.append((n, kind, txt, p))
    return out


def faces(analysis) -> list:
    """Every face of the domain with the conditions that make it tight (see Face)."""
    d = analysis.domain
    if not d.symbols or d.is_empty():
        return []
    out = []
    seen = set()
    for n, kind, txt, p in _box_faces(d)[:MAX_FACES]:
        if d.satisfies(p):  # inside another box: not a face of the union
            continue
        key = (txt, tuple(sorted(p.items())))
        if key in seen:
            continue
        seen.add(key)
        tight = [c for c in d.solved.conditions if not c.constraint.evaluate(p)]
        sole = tight if len(tight) == 1 else []
        out.append(Face(n, kind, txt, p, tight, sole))
    return out


# ---- readable conditions -----------------------------------------------------------------


def _upstream(analysis, node_name: str, hops: int = 8) -> list:
    """(tensor name, consumer node) for the inputs of ``node_name`` and their producers'
    inputs, nearest first."""
    g = analysis.graph
    label = {id(n): n.name or f"{n.op_type}_{i}" for i, n in enumerate(g.nodes)}
    by_name = {label[id(n)]: n for n in g.nodes}
    producer = {o: n for n in g.nodes for o in n.output}
    out, frontier, seen = [], [by_name.get(node_name)], set()
    for _ in range(hops):
        nxt = []
        for node in frontier:
            if node is None:
                continue
            for t in node.input:
                if t and t not in seen and t not in g.initializers:
                    seen.add(t)
                    out.append((t, (node, label[id(node)])))
                    nxt.append(producer.get(t))
        frontier = nxt
    return out


def _letters(analysis, tensor_shape) -> dict:
    """Names for a map's dims that are formulas of one input symbol: h for H, w for W."""
    used = {s.name for s in analysis.domain.symbols}
    out = {}
    for axis, dim in enumerate(tensor_shape):
        if isinstance(dim, int) or sympy.sympify(dim).is_Symbol:
            continue
        syms = sorted(s.name for s in free_symbols(dim))
        if len(syms) != 1 or syms[0] not in used:
            continue
        name = syms[0].lower()
        if name in used:  # dynamo's s53, s0: a map's last two axes read as h and w
            spatial = {len(tensor_shape) - 2: "h", len(tensor_shape) - 1: "w"}
            alt = spatial.get(axis) if len(tensor_shape) >= 3 else None
            if alt and alt not in used and alt not in out.values():
                name = alt
        while name in used or name in out.values():
            name += "'"
        out[axis] = name
    return out


def _fmt_shape(shape, letters) -> str:
    return " x ".join(letters.get(i, to_str(d)) for i, d in enumerate(shape))


def _name_sizes(analysis, sides, node):
    """The nearest map upstream of ``node`` whose dims, named, shorten ``sides``:
    (new sides, tensor, letters, consumer) or None."""
    d = analysis.domain
    dsyms = set(d.symbols)
    best = None
    for tname, consumer in _upstream(analysis, node):
        t = analysis.propagation.tensors.get(tname)
        if t is None or t.shape is None or len(t.shape) < 2:
            continue
        letters = _letters(analysis, t.shape)
        if not letters:
            continue
        subs = {sympy.sympify(t.shape[i]): sympy.Symbol(n) for i, n in letters.items()}
        for form in (lambda e: e, sympy.factor):
            new = [sympy.sympify(form(sympy.sympify(x))).subs(subs) for x in sides]
            if not any(set(subs.values()) & x.free_symbols for x in new):
                continue
            left = set().union(*(x.free_symbols & dsyms for x in new))
            score = (len(left), sum(sympy.count_ops(x) for x in new))
            if best is None or score < best[0]:
                best = (score, new, t, letters, consumer)
        if best is not None and not best[0][0]:
            break
    return None if best is None else best[1:]


def readable(analysis, cond, sizes: dict | None = None) -> str:
    """The condition in words, intermediate sizes named; numbers at ``sizes`` if given."""
    d = analysis.domain
    c = cond.constraint
    o = cond.origins[0]
    ctx = context_of(d, sizes)
    if c.kind not in (EQ, GE, DIV):
        return f"{o.op} needs {c}"
    sides = [sympy.sympify(c.lhs), sympy.sympify(c.rhs)]
    named = _name_sizes(analysis, sides, o.node)
    if named is None:
        lhs, rhs = (simplify(x, d, ctx) for x in sides)
        text = f"{o.op} needs {_rel_text(lhs, rhs, c.kind)}"
        if sizes:
            try:
                text += (f" (at {_at(sizes)}: {substitute(c.lhs, sizes)} vs "
                         f"{substitute(c.rhs, sizes)})")
            except (ZeroDivisionError, ValueError):
                text += f" (at {_at(sizes)}: a size there divides by 0)"
        return text
    (lhs, rhs), t, letters, consumer = named
    defs, values = [], {}
    free = lhs.free_symbols | rhs.free_symbols
    for i, n in letters.items():
        if sympy.Symbol(n) not in free:
            continue
        dim = simplify(t.shape[i], d, ctx)
        val = ""
        if sizes:
            try:
                values[sympy.Symbol(n)] = substitute(t.shape[i], sizes)
                val = f" = {values[sympy.Symbol(n)]}"
            except ValueError:  # no value at this size (c // d with d == 0)
                val = ""
        defs.append(f"{n} = {to_str(dim)}{val}")
    lhs, rhs = (simplify(x, d, ctx) if not (x.free_symbols - set(d.symbols)) else x
                for x in (lhs, rhs))
    if c.kind in (EQ, GE):
        lhs, rhs = _cancel_sizes(lhs, rhs, d)
    head = f"the map entering {consumer[0].op_type} '{consumer[1]}' is " \
           f"{_fmt_shape(t.shape, letters)}"
    if defs:
        head += " with " + ", ".join(defs)
    need = f"{o.op} needs {_rel_text(lhs, rhs, c.kind)}"
    reduced = _reduce(lhs, rhs, c.kind)
    if reduced:
        need += f", so {reduced}"
    if sizes and values and reduced and not reduced.startswith("no size"):
        # read back with every symbol it may name bound to the analysis's own (a size
        # named N, S, E or Q is otherwise sympy's function or constant of that name)
        names = {str(k): k for k in list(d.symbols) + list(values)}
        part = sympy.sympify(reduced.split(" = ")[0].split(" >= ")[0], locals=names)
        if part.free_symbols and part.free_symbols <= set(values):
            need += f" (here {to_str(norm(part))} = {norm(part.subs(values))})"
            return f"{head}; {need}"
    if sizes and values:
        shown = _move_const(lhs, rhs) if c.kind == GE else (lhs, rhs)
        letters_used = set(values)
        try:
            at = [f"{to_str(norm(x))} = "
                  f"{substitute(norm(sympy.sympify(x).subs(values)), sizes)}"
                  for x in shown if sympy.sympify(x).free_symbols & letters_used
                  and not sympy.sympify(x).is_Symbol]
        except ValueError:  # no value at this size (c // d with d == 0)
            at = []
        if at:
            need += f" (here {', '.join(at)})"
    return f"{head}; {need}"


def _cancel_sizes(lhs, rhs, d):
    """N*a = N*b reads a = b (and N*a >= N*b, a >= b) for an input size N >= 1 that is a
    factor of both sides (the batch in a Reshape's element count)."""
    lhs, rhs = sympy.factor_terms(sympy.sympify(lhs)), sympy.factor_terms(sympy.sympify(rhs))
    for s in d.symbols:
        if not s.is_positive:
            continue
        if s in sympy.Mul.make_args(lhs) and s in sympy.Mul.make_args(rhs):
            lhs, rhs = sympy.cancel(lhs / s), sympy.cancel(rhs / s)
    return lhs, rhs


def _at(sizes) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())


def _rel_text(lhs, rhs, kind) -> str:
    if kind == EQ:
        return f"{to_str(norm(lhs))} = {to_str(norm(rhs))}"
    if kind == GE:
        lhs2, rhs2 = _move_const(lhs, rhs)
        return f"{to_str(norm(lhs2))} >= {to_str(norm(rhs2))}"
    return f"{to_str(norm(lhs))} to be a multiple of {rhs}"


def _move_const(lhs, rhs):
    lhs = sympy.expand(sympy.sympify(lhs))
    k = sum((a for a in sympy.Add.make_args(lhs) if a.is_Number), sympy.Integer(0))
    return lhs - k, sympy.sympify(rhs) - k


def _reduce(lhs, rhs, kind) -> str | None:
    """'32*h*w = 32768' -> 'h*w = 1024' (a common integer factor divided out)."""
    if kind not in (EQ, GE):
        return None
    lhs, rhs = (sympy.sympify(lhs), sympy.sympify(rhs)) if kind == EQ else \
        _move_const(lhs, rhs)
    if not rhs.is_Integer:
        return None
    coeff, rest = sympy.factor_terms(sympy.expand(lhs)).as_coeff_Mul()
    if not coeff.is_Integer or abs(int(coeff)) <= 1:
        return None
    k = int(coeff)
    if kind == EQ:
        if int(rhs) % k:
            return f"no size works: {rhs} is not a multiple of {k}"
        return f"{to_str(norm(rest))} = {int(rhs) // k}"
    if k > 0:
        return f"{to_str(norm(rest))} >= {-(-int(rhs) // k)}"
    return None


# ---- the report section ------------------------------------------------------------------


# a printed line of the 'why' section is at most two lines of 100 characters
MAX_LINE = 200
_LONG_NAME = re.compile(r"'([^'\s]{41,})'")  # a node name: no blank (s53' is a size)


def to_str(x) -> str:
    """Dims in words: ceil where the canonical form has -floor(-x)."""
    return _plain_str(x, pretty=True)


def fit(line: str, limit: int = MAX_LINE, cut: bool = True) -> str:
    """``line`` within ``limit`` characters: long node names keep their last part
    ('.../avgpool/GlobalAveragePool'), then a trailing parenthetical remark goes, then
    (``cut``, a last resort the corpus tests rule out) the middle of the line (the JSON
    output has every condition in full)."""
    if len(line) <= limit:
        return line
    line = _LONG_NAME.sub(lambda m: "'..." + m[1][-32:] + "'", line)
    if len(line) > limit:
        line = re.sub(r" \((?:onnxruntime|the ONNX spec|also)[^()]*\)$", "", line)
    if len(line) > limit and cut:
        keep = (limit - 5) // 2
        line = line[:keep] + " ... " + line[-keep:]
    return line


def _cond_head(c) -> str:
    o = c.origins[0]
    also = f" (also {len(c.origins) - 1} more nodes)" if len(c.origins) > 1 else ""
    return f"{o.op} '{o.node}': {o.reason}{also}"


def bound_lines(analysis, show_all: bool = False, max_faces: int = 6, cut: bool = True) -> list:
    """The 'why' section of report.text: each face (grouped by the conditions that make it
    tight), the condition in words at the size just outside; then what the faces do not
    show (conditions implied by the others, hidden unless ``show_all``)."""
    d = analysis.domain
    lines = []
    if not d.symbols:
        return lines
    if d.is_empty():
        core = d.conflict()
        if core:
            lines.append("no size is valid: these conditions cannot hold together:")
            for c in core:
                lines.append(f"  {_cond_head(c)}")
                lines.append(f"      {c.constraint}")
        return lines
    fs = faces(analysis)
    ess = essential(d)
    groups: dict = {}
    for f in fs:
        lead = [c for c in f.tight if ess is None or id(c) in ess] or f.tight
        groups.setdefault(tuple(id(c) for c in lead), []).append(f)
    shown = set()
    if groups:
        lines.append("why the sizes are bounded (each face, and the condition that makes it "
                     "tight):")
    for fl in groups.values():
        texts = list(dict.fromkeys(f.text for f in fl))
        nbox = len(d.boxes() or ())
        if len(groups) == 1 and len(texts) > max_faces:
            face_txt = f"every face of the {nbox} boxes ({len(fl)} faces)"
        else:
            face_txt = ", ".join(texts[:max_faces]) + (
                f" ... ({len(texts)} faces)" if len(texts) > max_faces else "")
        first = fl[0]
        conds = first.tight
        lead = [c for c in conds if ess is None or id(c) in ess] or conds
        lead.sort(key=lambda c: c not in first.sole)
        rest = [c for c in conds if c not in lead]
        lines.append(f"  {face_txt} because {_cond_head(lead[0])}")
        for c in lead[1:]:
            lines.append(f"      and {_cond_head(c)}")
        for c in lead:
            shown.add(id(c))
            lines.append(f"      {readable(analysis, c, first.outside)}")
            lines.append(f"      {c.constraint}")
        if rest and show_all:
            for c in rest:
                shown.add(id(c))
                lines.append(f"      implied there: {_cond_head(c)}")
        lines.append(f"      {_at(first.outside)} is rejected")
    binding = [c for c, _ in d.binding()]
    extra_ess = [c for c in binding if ess is not None and id(c) in ess and id(c) not in shown]
    shaping = extra_ess if groups else [c for c in binding if ess is None or id(c) in ess]
    if shaping:
        lines.append("conditions that shape the domain" + (
            " (no box faces: the sizes are coupled):" if not groups else ":"))
        for c in shaping:
            shown.add(id(c))
            lines.append(f"  {_cond_head(c)}")
            lines.append(f"      {readable(analysis, c)}")
    implied = [c for c in binding if id(c) not in shown]
    inexact = list(d.solved.inexact)
    for c in inexact:
        if id(c) not in shown:
            lines.append(f"  checked point by point (not in closed form): {_cond_head(c)}")
            lines.append(f"      {c.constraint}")
    lines += float_lines(d)
    if implied:
        if show_all:
            lines.append(f"implied by the above ({len(implied)}):")
            for c in implied:
                lines.append(f"  {_cond_head(c)}")
                lines.append(f"      {c.constraint}")
        else:
            lines.append(f"{len(implied)} more conditions bind but are implied by the above "
                         "(--all lists them)")
    return [fit(line, cut=cut) for line in lines]


def float_lines(d) -> list:
    """Sizes computed in float32 (float_eval): what each is, and the first condition on it."""
    floats = getattr(d.solved, "floats", None)
    if floats is None:
        return []
    out = ["sizes computed in float32 (exact near the boundary: evaluated size by size):"]
    on = [c for c in d.solved.conditions if getattr(c, "float_text", None) is not None]
    for line, x in zip(floats.meaning(), floats.derived):
        out.append(f"  {line}")
        first = next((c for c in on if x.symbol in c.constraint.symbols()), None)
        if first is not None:
            out.append(f"      e.g. {_cond_head(first)}: {first.constraint}")
    return out


def faces_json(analysis) -> list:
    return [f.to_json() for f in faces(analysis)]


def violation_lines(analysis, sizes: dict, cut: bool = True) -> list:
    """For ``explain``/``check`` at ``sizes``: each violated condition in words, its
    intermediate sizes named and evaluated there (e.g. at 300x300 the map entering
    Flatten is 1 x 32 x h x w with h = ... = 38, w = ... = 38; Gemm needs 32*h*w = 32768,
    so h*w = 1024 (here 32*h*w = 46208))."""
    out = []
    for cond, _numbers in analysis.domain.violations(sizes):
        out.append(fit(f"{_cond_head(cond)}", cut=cut))
        out.append(fit(f"    {readable(analysis, cond, sizes)}", cut=cut))
    return out
