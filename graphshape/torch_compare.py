"""What torch.export knows that the ONNX file loses: its range constraints and guards,
compared with graphshape's domain of the written file.

torch.onnx.export(dynamo=True) turns torch.export's guards into deferred runtime asserts and
then deletes them, so the .onnx keeps inputs named H and W but none of their constraints.
The export hook still has the torch model in hand: it runs torch.export.export once more
(Dim.AUTO on every declared axis, non-strict), reads

- ``range_constraints`` (symbol -> [lower, upper]),
- the input placeholders' symbolic shapes (which symbol each declared axis became; one
  symbol on two axes means torch proved them equal; an int means it specialised the axis),
- ``_guards_code``: the Python guard expressions over ``L['x'].size()[k]`` that the exported
  program checks on every call (``ep.module()`` raises "Guard failed: ..."),

and turns them into a set over graphshape's symbols. Guards that are quasi-affine (+, -,
constant *, // and % by constants, comparisons, and/or) become isl text and compare
exactly; the others (products of two sizes, % by a size) are evaluated with numpy on a
grid of at most two symbols and compared exactly on that box, which the report states.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import numpy as np

from graphshape.answers.contract import explain_dict
from graphshape.arith import isl as Q
from graphshape.arith.isl import NonPresburger
from graphshape.results import Verdict

_SIZE_RE = re.compile(r"L\['([^']+)'\]\.size\(\)\[(\d+)\]")
GRID_1D = 1 << 16
GRID_2D = 2048


@dataclass
class Difference:
    text: str  # the set, in graphshape's names
    examples: list  # [(sizes, why)]


@dataclass
class TorchComparison:
    """torch.export's accepted sizes (T) against graphshape's domain of the file (D)."""

    names: list
    torch_only: Difference | None = None  # T - D: PyTorch accepts, the ONNX file rejects
    onnx_only: Difference | None = None  # D - T: the ONNX file accepts, PyTorch rejects
    box: dict = field(default_factory=dict)  # symbol -> upper bound of the compared box
    notes: list = field(default_factory=list)
    torch_text: str = ""
    guards: list = field(default_factory=list)  # guard texts in graphshape's names

    torch_set: object = None  # the isl set of sizes torch.export accepts

    def accepts_other(self, sym: str, v: int) -> bool:
        """Does torch.export accept a value of ``sym`` other than ``v``?"""
        if self.torch_set is None or sym not in self.names:
            return False
        i = self.names.index(sym)
        other = Q.where(len(self.names), f"{Q.var(i)} < {v} or {Q.var(i)} > {v}")
        return not self.torch_set.intersect(other).is_empty()

    @property
    def same(self) -> bool:
        return self.torch_only is None and self.onnx_only is None

    def lines(self) -> list:
        where = ""
        if self.box:
            where = " (compared on " + ", ".join(f"1 <= {k} <= {v}" for k, v in
                                                  self.box.items()) + ")"
        out = []
        if self.same:
            out.append("torch.export and the ONNX file accept the same sizes" + where)
        for title, d in (("PyTorch (torch.export) accepts but the ONNX file rejects",
                          self.torch_only),
                         ("the ONNX file accepts but PyTorch (torch.export) rejects",
                          self.onnx_only)):
            if d is None:
                continue
            out.append(f"{title}{where}: {d.text}")
            for sizes, why in d.examples:
                out.append(f"    e.g. {_sizes_text(sizes)}: {why}")
        out.extend(f"note: {n}" for n in self.notes)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _sizes_text(s: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in s.items())


# ---- reading torch.export ---------------------------------------------------------------
def torch_view(model, args, kwargs, params: list, declared: dict):
    """Run torch.export on ``model`` with Dim.AUTO on every declared axis.

    ``params`` are the forward's parameter names for the positional args; ``declared`` maps
    (param, axis) -> graphshape symbol. Returns (constraints, guards, notes, pinned) where
    constraints are isl clauses over symbol names, guards are Python expressions over symbol
    names, and pinned maps (param, axis) -> the int torch specialised it to."""
    import torch  # noqa: PLC0415  torch: an optional extra
    from torch.export import Dim  # noqa: PLC0415  torch: an optional extra

    shapes = {}
    for (p, axis) in declared:
        shapes.setdefault(p, {})[axis] = Dim.AUTO
    dyn = {p: shapes.get(p) for p in params}
    ep = torch.export.export(model, tuple(args), kwargs or None, dynamic_shapes=dyn,
                             strict=False)
    notes, clauses, pinned = [], [], {}
    placeholders = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    users = list(ep.graph_signature.user_inputs)
    sym_of = {}  # torch symbol name -> graphshape symbol
    for p, ph_name in zip(params, users):
        val = placeholders[ph_name].meta.get("val")
        if val is None or not hasattr(val, "shape"):
            continue
        for axis, d in enumerate(val.shape):
            g = declared.get((p, axis))
            if g is None:
                continue
            if isinstance(d, int):
                pinned[(p, axis)] = d
                clauses.append(f"{g} = {d}")
                continue
            expr = d.node.expr
            if getattr(expr, "is_number", False):
                pinned[(p, axis)] = int(expr)
                clauses.append(f"{g} = {int(expr)}")
                continue
            if not getattr(expr, "is_Symbol", False):
                notes.append(f"torch.export made {p} axis {axis} the expression {expr}: "
                             "not compared")
                continue
            if str(expr) in sym_of and sym_of[str(expr)] != g:
                clauses.append(f"{g} = {sym_of[str(expr)]}")
            else:
                sym_of[str(expr)] = g
    for s, vr in ep.range_constraints.items():
        g = sym_of.get(str(s))
        if g is None:
            continue
        lo, hi = vr.lower, vr.upper
        # ExportedProgram's input check lets 0/1 through unless the lower bound is > 2
        # (torch/_export/utils.py: "we allow dimensions to be 0/1 at runtime")
        if _finite(lo) and int(lo) > 2:
            clauses.append(f"{g} >= {int(lo)}")
        if _finite(hi):
            clauses.append(f"{g} <= {int(hi)}")
    guards = []
    static = {}
    for p, a in zip(params, args):
        if hasattr(a, "shape"):
            for axis, n in enumerate(a.shape):
                static[(p, axis)] = int(n)
    for code in getattr(ep, "_guards_code", None) or []:
        bad = []

        def sub(m, bad=bad):
            key = (m.group(1), int(m.group(2)))
            if key in declared:
                return declared[key]
            if key in static:
                return str(static[key])
            bad.append(m.group(0))
            return "0"

        text = _SIZE_RE.sub(sub, code)
        if bad or "L[" in text:
            notes.append(f"guard not compared (reads more than input sizes): {code}")
            continue
        guards.append(text)
    if getattr(ep, "_guards_code", None) is None:
        notes.append("this torch has no ExportedProgram._guards_code: guards not compared")
    return clauses, guards, notes, pinned


def _finite(v) -> bool:
    try:
        return bool(getattr(v, "is_integer", False)) and abs(int(v)) < 2 ** 62
    except Exception:  # noqa: BLE001  sympy's infinities refuse int() in several ways
        return False


# ---- guard expressions -> isl / numpy ---------------------------------------------------
_CMP = {ast.Eq: "=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def _const(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        c = _const(node.operand)
        return None if c is None else -c
    return None


def to_isl(node, var) -> str:
    """Quasi-affine guard -> isl text; raises NonPresburger otherwise."""
    c = _const(node)
    if c is not None:
        return str(c)
    if isinstance(node, ast.Name):
        return var(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return f"(-{to_isl(node.operand, var)})"
    if isinstance(node, ast.BinOp):
        a, b = node.left, node.right
        if isinstance(node.op, (ast.Add, ast.Sub)):
            op = "+" if isinstance(node.op, ast.Add) else "-"
            return f"({to_isl(a, var)} {op} {to_isl(b, var)})"
        if isinstance(node.op, ast.Mult):
            ca, cb = _const(a), _const(b)
            if ca is not None:
                return f"({ca}*{to_isl(b, var)})"
            if cb is not None:
                return f"({cb}*{to_isl(a, var)})"
            raise NonPresburger
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)):
            cb = _const(b)
            if cb is None or cb <= 0:
                raise NonPresburger
            if isinstance(node.op, ast.FloorDiv):
                return f"floor(({to_isl(a, var)})/{cb})"
            return f"(({to_isl(a, var)}) mod {cb})"
        raise NonPresburger
    if isinstance(node, ast.Compare):
        parts, left = [], node.left
        for op, right in zip(node.ops, node.comparators):
            a, b = to_isl(left, var), to_isl(right, var)
            if isinstance(op, ast.NotEq):
                parts.append(f"({a} < {b} or {a} > {b})")
            elif type(op) in _CMP:
                parts.append(f"({a} {_CMP[type(op)]} {b})")
            else:
                raise NonPresburger
            left = right
        return "(" + " and ".join(parts) + ")"
    if isinstance(node, ast.BoolOp):
        j = " and " if isinstance(node.op, ast.And) else " or "
        return "(" + j.join(to_isl(v, var) for v in node.values) + ")"
    raise NonPresburger


class _Grid:
    """Evaluate a guard on numpy arrays; a division or mod by zero fails the guard (Python
    raises ZeroDivisionError, so torch's guard check fails)."""

    def __init__(self, env):
        self.env = env
        self.bad = None

    def _mark(self, b):
        z = np.asarray(b) == 0
        self.bad = z if self.bad is None else (self.bad | z)
        return np.where(z, 1, b)

    def ev(self, node):
        c = _const(node)
        if c is not None:
            return np.int64(c)
        if isinstance(node, ast.Name):
            return self.env[node.id]
        if isinstance(node, ast.UnaryOp):
            v = self.ev(node.operand)
            if isinstance(node.op, ast.USub):
                return -v
            if isinstance(node.op, ast.Not):
                return np.logical_not(v)
            raise NonPresburger
        if isinstance(node, ast.BinOp):
            a, b = self.ev(node.left), self.ev(node.right)
            op = node.op
            if isinstance(op, ast.Add):
                return a + b
            if isinstance(op, ast.Sub):
                return a - b
            if isinstance(op, ast.Mult):
                return a * b
            if isinstance(op, ast.FloorDiv):
                return a // self._mark(b)
            if isinstance(op, ast.Mod):
                return a % self._mark(b)
            raise NonPresburger
        if isinstance(node, ast.Compare):
            out, left = None, self.ev(node.left)
            for op, right in zip(node.ops, node.comparators):
                r = self.ev(right)
                f = {ast.Eq: np.equal, ast.NotEq: np.not_equal, ast.Lt: np.less,
                     ast.LtE: np.less_equal, ast.Gt: np.greater,
                     ast.GtE: np.greater_equal}.get(type(op))
                if f is None:
                    raise NonPresburger
                v = f(left, r)
                out = v if out is None else np.logical_and(out, v)
                left = r
            return out
        if isinstance(node, ast.BoolOp):
            vals = [self.ev(v) for v in node.values]
            f = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = vals[0]
            for v in vals[1:]:
                out = f(out, v)
            return out
        raise NonPresburger


def guard_holds(text: str, sizes: dict) -> bool:
    try:
        return bool(eval(compile(text, "<guard>", "eval"), {"__builtins__": {}}, dict(sizes)))
    except ZeroDivisionError:
        return False


def _runs(mask_row):
    idx = np.flatnonzero(mask_row)
    if idx.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate(([idx[0]], idx[cuts + 1]))
    ends = np.concatenate((idx[cuts], [idx[-1]]))
    return list(zip(starts.tolist(), ends.tolist()))


def _grid_mask(tree, syms, bound):
    """Boolean array of the guard on [1, bound]^k (k = len(syms) <= 2)."""
    axes = [np.arange(1, bound[s] + 1, dtype=np.int64) for s in syms]
    if len(syms) == 2:
        axes = [axes[0][:, None], axes[1][None, :]]
    shape = tuple(len(np.ravel(a)) for a in axes)
    g = _Grid(dict(zip(syms, axes)))
    with np.errstate(all="ignore"):
        m = np.broadcast_to(np.asarray(g.ev(tree), dtype=bool), shape)
        if g.bad is not None:
            m = m & ~np.broadcast_to(g.bad, shape)
    return m


def _mask_isl(m, syms, var) -> str:
    """isl text of a 1-D or 2-D mask: runs per row, identical consecutive rows merged."""
    if len(syms) == 1:
        parts = [f"({lo + 1} <= {var(syms[0])} <= {hi + 1})" for lo, hi in _runs(m)]
    else:
        a, b = syms
        parts, i, n = [], 0, m.shape[0]
        while i < n:
            j = i
            while j + 1 < n and np.array_equal(m[j + 1], m[i]):
                j += 1
            for lo, hi in _runs(m[i]):
                parts.append(f"({i + 1} <= {var(a)} <= {j + 1} and "
                             f"{lo + 1} <= {var(b)} <= {hi + 1})")
            i = j + 1
    return "(" + (" or ".join(parts) if parts else "false") + ")"


# ---- the comparison ----------------------------------------------------------------------
def compare(analysis, clauses: list, guards: list, notes: list) -> TorchComparison:
    dom = analysis.domain
    names = list(dom.names)
    idx = {n: i for i, n in enumerate(names)}

    def var(n):
        if n not in idx:
            raise KeyError(n)
        return Q.var(idx[n])

    res = TorchComparison(names, notes=list(notes))
    conds = [f"{Q.var(i)} >= 1" for i in range(len(names))]
    for c in clauses:
        conds.append(re.sub(r"[A-Za-z_][A-Za-z_0-9]*", lambda m: var(m.group(0)), c))
    grid = []
    for text in guards:
        try:
            tree = ast.parse(text, mode="eval").body
        except SyntaxError:
            res.notes.append(f"guard not compared (unparsable): {text}")
            continue
        syms = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)})
        if any(s not in idx for s in syms):
            res.notes.append(f"guard not compared (unknown names): {text}")
            continue
        res.guards.append(text)
        try:
            conds.append(to_isl(tree, var))
        except NonPresburger:
            if len(syms) > 2:
                res.notes.append(f"guard over {len(syms)} sizes not compared: {text}")
                continue
            grid.append((tree, syms))
    if grid:
        used = sorted({s for _, syms in grid for s in syms})
        cap = GRID_1D if len(used) == 1 else GRID_2D
        for s in used:
            res.box[s] = min(cap, _upper(dom.isl_set, idx[s]) or cap)
        for s in used:
            conds.append(f"{Q.var(idx[s])} <= {res.box[s]}")
        masks = {}
        for tree, syms in grid:
            m = _grid_mask(tree, syms, res.box)
            key = tuple(syms)
            masks[key] = m if key not in masks else (masks[key] & m)
        for key, m in masks.items():
            conds.append(_mask_isl(m, list(key), var))
    T = Q.where(len(names), " and ".join(conds)).coalesce()
    D = dom.isl_set
    if res.box:
        B = Q.where(len(names), " and ".join(
            [f"{Q.var(i)} >= 1" for i in range(len(names))] +
            [f"{Q.var(idx[s])} <= {b}" for s, b in res.box.items()]))
        D = D.intersect(B)
    res.torch_text = _named(T, names)
    res.torch_set = T
    if not dom.exact:
        res.notes.append("graphshape's domain is not exact (unproven parts): the ONNX side "
                         "is the proven part only")
    t_only = T.subtract(D).coalesce()
    o_only = D.subtract(T).coalesce()
    if not t_only.is_empty():
        res.torch_only = Difference(_named(t_only, names), [
            (p, _onnx_reason(analysis, p)) for p in _examples(t_only, names)])
    if not o_only.is_empty():
        res.onnx_only = Difference(_named(o_only, names), [
            (p, _torch_reason(res, clauses, p)) for p in _examples(o_only, names)])
    return res


def _upper(s, i):
    try:
        v = s.dim_max_val(i)
        return int(v.to_python()) if v.is_int() else None
    except (Q.Error, AttributeError, ValueError):
        return None


def _named(s, names) -> str:
    """isl text in graphshape's names; isl writes fixed coordinates into the tuple
    ("[v0, 1] : ..."), which becomes a clause ("W = 1 and ...")."""
    if s.is_empty():
        return "no size"
    text = str(s).strip()
    body = text[text.index("{") + 1:text.rindex("}")].strip()
    pieces = []
    for piece in body.split(";"):
        piece = piece.strip()
        tup, _, cond = piece.partition(":")
        entries = [e.strip() for e in tup.strip()[1:-1].split(",")]
        clauses = [e if e.startswith(f"v{i} ") else f"v{i} = {e}"
                   for i, e in enumerate(entries) if e != f"v{i}"]
        if cond.strip():
            clauses.append(cond.strip())
        pieces.append(" and ".join(clauses) or "every size")
    out = " or ".join(f"({p})" if len(pieces) > 1 else p for p in pieces)
    for i, n in enumerate(names):
        out = re.sub(rf"\bv{i}\b", n, out)
    return out


def _examples(s, names, k: int = 3) -> list:
    out = []
    try:
        cands = [s.lexmin(), s.sample()]
        for c in cands:
            if c.is_empty():
                continue
            p = c.sample_point()
            pt = dict(zip(names, Q.coords(p, len(names))))
            if pt not in out:
                out.append(pt)
    except Q.Error:
        pass
    return out[:k]


def _onnx_reason(analysis, p) -> str:
    try:
        ex = explain_dict(analysis, p)
    except Exception as e:  # noqa: BLE001  a reason is a courtesy, never fatal
        return f"({type(e).__name__})"
    if ex["verdict"] != Verdict.INVALID:
        return ex["verdict"]
    v = ex["violations"][0]
    return f"{v['op']} (node '{v['node']}'): {v['reason']}"


def _torch_reason(res, clauses, p) -> str:
    for text in res.guards:
        if not guard_holds(text, p):
            return f"torch.export guard fails: {text}"
    for c in clauses:
        t = c.replace(" = ", " == ")
        if not guard_holds(t, p):
            return f"torch.export range: {c}"
    return "outside torch.export's constraints"
