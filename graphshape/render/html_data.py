"""What the page's script knows: the domain's conditions and the layers' shapes compiled to
JavaScript, and the domain's boxes, so that a size typed on the page is decided exactly as
graphshape decides it.

Every expression is compiled the way ``arith.compile`` compiles it for Python: BigInt
arithmetic throughout, floor and ceil divisions as integer divisions (never floats), min,
max and mod with Python's semantics. A size is invalid on the page when a condition fails,
which is how ``Domain.check`` decides (the isl set is the conjunction of the conditions);
an expression that cannot be compiled makes the page answer "unproven here" and name the
command that decides, never a guess. The boxes (products of one-symbol periodic sets,
``domain.periodic``) serve the nearest valid sizes: over a union of boxes, the smallest
size at or above a request on every axis is, per box, each axis's next member, so pad and
crop are exact there too.
"""

from __future__ import annotations

import json

import sympy

from graphshape.arith.dims import to_str
from graphshape.arith.isl import project_1d, vmin
from graphshape.arith.terms import MAX_SIZE, lcm_denominator
from graphshape.domain.periodic import runs
from graphshape.shapes.constraints import AND, OR

__all__ = ["ExprTable", "js_expr", "payload", "script_json"]


def js_expr(e) -> str | None:
    """``e`` as a JavaScript expression over the BigInt sizes ``s`` (exact), or None where
    it has a form the page cannot evaluate exactly."""
    if isinstance(e, bool):
        return None
    if isinstance(e, int):
        return f"{e}n"
    if e.is_Integer:
        return f"{int(e)}n"
    if e.is_Symbol:
        return f"s[{json.dumps(e.name)}]"
    if e.is_Add:
        parts = _all(e.args)
        return None if parts is None else "(" + " + ".join(parts) + ")"
    if e.is_Mul:
        coeff, rest = e.as_coeff_Mul()
        if not coeff.is_Integer:
            return None  # a rational coefficient outside a floor
        parts = _all(sympy.Mul.make_args(rest))
        if parts is None:
            return None
        head = [] if coeff == 1 else [f"{int(coeff)}n"]
        return "(" + " * ".join(head + parts) + ")"
    if e.is_Pow and e.exp.is_Integer and e.exp >= 0:
        base = js_expr(e.base)
        return None if base is None else f"({base} ** {int(e.exp)}n)"
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        arg = sympy.expand(e.args[0])
        den = lcm_denominator(arg)
        num = js_expr(sympy.expand(arg * den))
        if num is None:
            return None
        if den == 1:
            return num
        return f"{'F' if isinstance(e, sympy.floor) else 'C'}({num}, {den}n)"
    if isinstance(e, sympy.Mod):
        a, b = js_expr(e.args[0]), js_expr(e.args[1])
        return None if a is None or b is None else f"M({a}, {b})"
    if isinstance(e, (sympy.Min, sympy.Max)):
        parts = _all(e.args)
        if parts is None:
            return None
        return f"{'MIN' if isinstance(e, sympy.Min) else 'MAX'}(" + ", ".join(parts) + ")"
    return None


def _all(args) -> list[str] | None:
    """Every argument compiled, or None when one cannot be."""
    out = []
    for a in args:
        src = js_expr(a)
        if src is None:
            return None
        out.append(src)
    return out


class ExprTable:
    """Distinct compiled expressions, each a function of ``s`` in one JavaScript array."""

    def __init__(self):
        self.code: list = []
        self._index: dict = {}

    def add(self, e) -> int | None:
        """The index of ``e``'s function, or None where it cannot be compiled; plain ints
        are not added (the payload carries them as numbers)."""
        key = e if isinstance(e, int) else sympy.sympify(e)
        if key in self._index:
            return self._index[key]
        src = js_expr(key)
        idx = None
        if src is not None:
            idx = len(self.code)
            self.code.append(f"(s) => {src}")
        self._index[key] = idx
        return idx

    def script(self) -> str:
        """``const GS_EXPR = [...]``: the functions, one per line."""
        return "const GS_EXPR = [\n" + ",\n".join(self.code) + "\n];"


def _side(table: ExprTable, e) -> dict:
    if isinstance(e, int):
        return {"n": str(e)}
    return {"f": table.add(e), "t": to_str(e)}


def _constraint(table: ExprTable, c) -> dict:
    """A condition as a tree the script evaluates: EQ/GE/DIV leaves, OR/AND nodes."""
    if c.kind in (OR, AND):
        return {"k": str(c.kind), "p": [_constraint(table, p) for p in c.parts]}
    out = {"k": str(c.kind), "l": _side(table, c.lhs)}
    out["r"] = {"n": str(int(c.rhs))} if c.kind.value == "DIV" else _side(table, c.rhs)
    return out


def _factor(f) -> dict:
    return {"runs": [list(r) for r in runs(f.finite)], "start": f.start, "period": f.period,
            "res": list(f.residues)}


def boxes_json(domain) -> list | None:
    """The domain's boxes as the script reads them, or None where it has none (coupled in
    a way boxes cannot state, or conditions outside the closed form)."""
    if domain.solved.inexact or domain.impossible:
        return None
    bx = domain.boxes()
    if bx is None:
        return None
    return [[_factor(f) for f in b.factors] for b in bx]


def payload(analysis, table: ExprTable, rows: list) -> dict:
    """Everything the page's script needs, as JSON-ready data (sizes as strings: they are
    read as BigInt)."""
    d = analysis.domain
    conds = []
    for c in d.solved.conditions:
        o = c.origins[0]
        conds.append({"node": o.node, "op": o.op, "reason": o.reason,
                      "text": str(c.constraint), "also": len(c.origins) - 1,
                      "c": _constraint(table, c.constraint)})
    tensors = analysis.propagation.tensors
    layer_shapes: list = []
    for row in rows:
        node = analysis.graph.nodes[row.index]
        out = next((o for o in node.output if o), None)
        t = tensors.get(out) if out else None
        if t is None or t.shape is None:
            layer_shapes.append(None)
            continue
        layer_shapes.append([{"n": str(x)} if isinstance(x, int) else {"f": table.add(x)}
                             for x in t.shape])
    n = len(d.names)
    return {
        "names": list(d.names),
        # the least size of each symbol (1, or 0 for one that may be empty)
        "mins": {name: str(vmin(project_1d(d.universe(), i, n)) or 0)
                 for i, name in enumerate(d.names)},
        "maxSize": str(MAX_SIZE),
        "exact": d.exact,
        "free": list(d.unconstrained),
        "impossible": [{"node": e.node, "op": e.op, "reason": e.detail} for e in d.impossible],
        "unproven": [u.describe() for u in d.unproven]
                    + [f"{c} ({c.origin.describe()})" for c in d.dd_conditions],
        "conds": conds,
        "boxes": boxes_json(d),
        "layers": [{"node": r.node, "shape": s} for r, s in zip(rows, layer_shapes)],
    }


def script_json(data) -> str:
    """JSON safe inside a <script> element (no closing tag, no comment opener)."""
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/").replace(
        "<!--", "<\\!--")
