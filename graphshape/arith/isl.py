"""The only translation to isl: expressions -> isl text, variable names, the small sets
(points, boxes, fixed coordinates), and the exact queries on them that contract, fit,
profiles and spec share (lexmin, runs, lattices, boxes...).

Variables are named v0, v1, ... in the order of the symbol list a caller passes; every
isl set in graphshape follows that convention, and only this module spells it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from graphshape import stats
from graphshape.arith import lazy
from graphshape.arith.terms import lcm_denominator, lower_bound

if TYPE_CHECKING:
    import islpy as isl
    import sympy
else:  # imported on first use (arith/lazy.py): a check at concrete sizes never needs them
    isl = lazy.module("islpy", on_import=lambda real: _bind(real))
    sympy = lazy.module("sympy")

__all__ = ["operations", "PROOF_OPERATIONS", "NonPresburger", "IslPrinter", "isl_names", "size_set", "point_set", "box_set",
           "fix", "value", "coords", "project_1d", "readable", "interval_1d", "shift_1d",
           "Error",  # noqa: F822  (islpy's, through __getattr__ below)
           "is_error", "where", "dims", "at_least", "at_most", "between", "keep", "coord",
           "lexmin", "lexmax", "vmin", "vmax", "next_at_or_above", "next_at_or_below", "count",
           "product", "boxes", "lattice", "runs", "var"]


def __getattr__(name: str):
    """``Error``: islpy's exception class (isl failures, a spent operation budget), looked
    up on first use so that importing this module does not import islpy."""
    if name == "Error":
        return isl.Error
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_error(e: BaseException) -> bool:
    """Whether ``e`` is isl's error (never, while islpy has not been imported)."""
    return lazy.loaded("islpy") and isinstance(e, isl.Error)


# isl operations one bounded query may take (isl_ctx_set_max_operations): past it isl
# fails the call (islpy raises isl.Error) and the caller answers "not proved". A sign
# question over twelve min(count, K) terms took 289 s of isl's own time before this (no
# Python signal interrupts C code); 300,000 operations are about 0.3 s
PROOF_OPERATIONS = 300_000

# the limits of the operations() blocks entered while islpy was not imported yet (a walk at
# concrete sizes never imports it): they apply from the moment a call inside imports it
_PENDING: list = []


def _bind(real) -> None:
    if _PENDING:
        ctx = real.DEFAULT_CONTEXT
        ctx.set_max_operations(min(_PENDING))
        ctx.reset_operations()


@contextmanager
def operations(limit: int):
    """Run the isl calls of the block under an operation limit (nested limits: the inner
    one counts from its start; the outer one is put back after it)."""
    if not lazy.loaded("islpy"):
        yield from _pending(limit)
        return
    ctx = isl.DEFAULT_CONTEXT
    prev = ctx.get_max_operations()
    ctx.set_max_operations(limit if not prev else min(limit, prev))
    ctx.reset_operations()
    try:
        yield
    except isl.Error:
        stats.COUNTERS["isl_budget_exhausted"] += 1
        raise
    finally:
        ctx.set_max_operations(prev)
        ctx.reset_operations()


def _pending(limit: int):
    """operations() before islpy is imported: the limit waits for the import (_bind)."""
    _PENDING.append(limit)
    try:
        yield
    except Exception as e:
        if is_error(e):
            stats.COUNTERS["isl_budget_exhausted"] += 1
        raise
    finally:
        _PENDING.pop()
        if lazy.loaded("islpy"):  # imported inside the block: put back the enclosing limit
            ctx = isl.DEFAULT_CONTEXT
            ctx.set_max_operations(min(_PENDING) if _PENDING else 0)
            ctx.reset_operations()


class NonPresburger(Exception):
    """An expression or condition isl cannot state exactly (a product of symbols...)."""


class IslPrinter:
    """sympy quasi-affine expression -> isl syntax, collecting the moduli it meets."""

    def __init__(self, names: dict):
        self.names = names  # sympy Symbol -> isl identifier
        self.moduli: set = set()

    def expr(self, e) -> str:
        if isinstance(e, int):
            return str(e)
        e = sympy.sympify(e)
        if e.is_Integer:
            return str(int(e))
        if e.is_Symbol:
            if e not in self.names:
                raise NonPresburger(f"symbol {e} is not an input dim")
            return self.names[e]
        if e.is_Add:
            return "(" + " + ".join(self.expr(a) for a in e.args) + ")"
        if e.is_Mul:
            coeff, rest = e.as_coeff_Mul()
            if rest.is_Mul and sum(1 for a in rest.args if a.free_symbols) > 1:
                raise NonPresburger(f"product of symbolic factors {e}")
            if rest.is_Pow:
                raise NonPresburger(f"power {e}")
            if not coeff.is_Integer:
                raise NonPresburger(f"rational coefficient outside floor: {e}")
            return f"{int(coeff)}*{self.expr(rest)}"
        if isinstance(e, (sympy.floor, sympy.ceiling)):
            arg = e.args[0]
            den = lcm_denominator(arg)
            num = sympy.expand(arg * den)
            fn = "floor" if isinstance(e, sympy.floor) else "ceil"
            if den == 1:
                return self.expr(num)
            self.moduli.add(den)
            return f"{fn}(({self.expr(num)})/{den})"
        if isinstance(e, sympy.Mod):
            a, m = e.args
            if not m.is_Integer:
                raise NonPresburger(f"mod by a symbol: {e}")
            self.moduli.add(int(m))
            return f"(({self.expr(a)}) mod {int(m)})"
        if isinstance(e, (sympy.Min, sympy.Max)):
            fn = "min" if isinstance(e, sympy.Min) else "max"
            args = [self.expr(a) for a in e.args]
            out = args[0]
            for a in args[1:]:
                out = f"{fn}({out}, {a})"
            return out
        raise NonPresburger(f"unsupported expression {e}")

    def relation(self, lhs, rhs, eq: bool) -> str:
        """``lhs = rhs`` (eq) or ``lhs >= rhs`` as isl text, a minimum or maximum at the top
        of ``lhs - rhs`` taken out exactly: ``x + min(a, b) >= 0`` is ``x + a >= 0 and
        x + b >= 0`` (a maximum: or; a negative coefficient swaps them), an equality is
        both inequalities, and terms that cancel are dropped (``max(0, min(H, E)) = H``
        becomes ``(E >= H or H <= 0) and H >= 0``). Such a comparison is a proof's question: isl
        answers the split form several times faster than nested minima (it would split
        them itself, into more pieces). Unchanged where no minimum or maximum is at the
        top, or where taking them out would write more than SPLIT_LEAVES comparisons."""
        terms = _linear_terms(lhs, rhs)
        if terms is None or not any(isinstance(t, (sympy.Min, sympy.Max)) for t in terms):
            return f"({self.expr(lhs)} {'=' if eq else '>='} {self.expr(rhs)})"
        neg = {t: -c for t, c in terms.items()}
        leaves = [0]
        parts = [_split_ge(terms, leaves)] + ([_split_ge(neg, leaves)] if eq else [])
        if any(p is None for p in parts):
            return f"({self.expr(lhs)} {'=' if eq else '>='} {self.expr(rhs)})"
        return self._tree(parts[0] if len(parts) == 1 else ("and", parts))

    def _tree(self, t) -> str:
        if t is True or t is False:
            return "(1 = 1)" if t else "(1 = 0)"
        if isinstance(t, dict):  # sum of coefficient * term >= 0
            const = t.get(1, 0)
            body = " + ".join(f"{int(c)}*{self.expr(x)}" for x, c in t.items() if x != 1)
            return f"({body} >= {-int(const)})"
        joiner = f" {t[0]} "
        return "(" + joiner.join(self._tree(p) for p in t[1]) + ")"


# at most this many comparisons from one comparison's minima and maxima taken out
SPLIT_LEAVES = 32


def _linear_terms(lhs, rhs):
    """lhs - rhs as {term: integer coefficient} (the constant under key 1), or None where
    a coefficient is not an integer."""
    out: dict = {}
    for side, sign in ((lhs, 1), (rhs, -1)):
        side = sympy.sympify(side)
        for a in sympy.Add.make_args(side):
            c, t = a.as_coeff_Mul()
            if not c.is_Integer:
                return None
            key = 1 if t == 1 else t
            out[key] = out.get(key, 0) + sign * int(c)
    return {t: c for t, c in out.items() if c or t == 1}


def _split_ge(terms: dict, leaves: list):
    """``sum(c * t) >= 0`` with every top minimum or maximum taken out: True, False, a dict
    (a comparison with none at the top), or ("and"|"or", parts); None past SPLIT_LEAVES."""
    for t, c in terms.items():
        if c and isinstance(t, (sympy.Min, sympy.Max)):
            break
    else:
        if all(c == 0 for x, c in terms.items() if x != 1):
            return terms.get(1, 0) >= 0
        leaves[0] += 1
        return terms if leaves[0] <= SPLIT_LEAVES else None
    conj = isinstance(t, sympy.Min) == (c > 0)  # c*min(a, b) = min(c*a, c*b) for c > 0
    rest = dict(terms)
    del rest[t]
    parts = []
    for arg in t.args:
        sub = _linear_terms(arg, 0)
        if sub is None:
            return None
        one = dict(rest)
        for x, k in sub.items():
            one[x] = one.get(x, 0) + c * k
        one = {x: k for x, k in one.items() if k or x == 1}
        p = _split_ge(one, leaves)
        if p is None:
            return None
        if p is (not conj):  # or: one part holds; and: one part fails
            return p
        if p is not conj:
            parts.append(p)
    if not parts:
        return conj
    return parts[0] if len(parts) == 1 else ("and" if conj else "or", parts)


def isl_names(symbols) -> dict:
    return {s: f"v{i}" for i, s in enumerate(symbols)}


def var(i: int) -> str:
    """The isl name of coordinate i (every set in graphshape names them v0, v1, ...)."""
    return f"v{i}"


def _vars(n: int) -> str:
    return ", ".join(var(i) for i in range(n))


def size_set(symbols, condition: str = "1 = 1"):
    """The isl set of sizes (each symbol at least its lower bound: 1 for sizes, 0 for
    data-dependent counts) where ``condition`` (isl text over isl_names) holds."""
    stats.COUNTERS["isl_sets"] += 1
    names = isl_names(symbols)
    base = " and ".join(f"{names[s]} >= {lower_bound(s)}" for s in symbols) or "1 = 1"
    return isl.Set(f"{{ [{_vars(len(symbols))}] : {base} and {condition} }}")


def point_set(values) -> isl.Set:
    """The one-point set {[values...]}."""
    return isl.Set("{ [" + ", ".join(str(int(v)) for v in values) + "] }")


def box_set(n: int, lo: int, hi: int):
    """Every point with lo <= each coordinate <= hi (n coordinates)."""
    if n == 0:
        return isl.Set("{ [] }")
    return isl.Set(f"{{ [{_vars(n)}] : " + " and ".join(
        f"{lo} <= v{i} <= {hi}" for i in range(n)) + " }")


def fix(s, i: int, v: int):
    """``s`` with coordinate i held at v."""
    return s.intersect(where(dims(s), f"v{i} = {v}"))


def interval_1d(lo: int, hi: int):
    return isl.Set(f"{{ [x] : {lo} <= x <= {hi} }}")


def shift_1d(s, p: int):
    """{x - p : x in s, x - p >= 1} for a one-coordinate set."""
    return s.apply(isl.Map(f"{{ [x] -> [x - {p}] }}")).intersect(isl.Set("{ [x] : x >= 1 }"))


def at_or_above_1d(lo: int):
    """{x : x >= lo} (one coordinate)."""
    return isl.Set(f"{{ [x] : x >= {lo} }}")


def residues_1d(period: int, residues, least: int):
    """{x >= least : x mod period is one of residues} (one coordinate)."""
    if not residues:
        return isl.Set("{ [x] : 1 = 0 }")
    alts = " or ".join(f"x mod {period} = {r}" for r in residues)
    return isl.Set(f"{{ [x] : x >= {least} and ({alts}) }}")


def value(v) -> int:
    return int(v.to_python())


def coords(p, n: int) -> tuple:
    """The coordinates of an isl point."""
    return tuple(value(p.get_coordinate_val(isl.dim_type.set, i)) for i in range(n))


def project_1d(s, i, n):
    """Projection of an n-dim isl set onto coordinate i."""
    t = s
    if i + 1 < n:
        t = t.project_out(isl.dim_type.set, i + 1, n - i - 1)
    if i > 0:
        t = t.project_out(isl.dim_type.set, 0, i)
    return t


def readable(s, names) -> str:
    """isl's own text of ``s`` with v0, v1, ... replaced by the symbol names."""
    text = str(s)
    for i in reversed(range(len(names))):
        text = text.replace(f"v{i}", names[i])
    return text


# ---- queries (sets over v0..vn-1 in the order of Domain.names) -------------------------
def dims(s) -> int:
    return s.dim(isl.dim_type.set)


def where(n: int, cond: str):
    return isl.Set(f"{{ [{_vars(n)}] : {cond} }}")




def at_least(s, i: int, v: int):
    return s.intersect(where(dims(s), f"v{i} >= {v}"))


def at_most(s, i: int, v: int):
    return s.intersect(where(dims(s), f"v{i} <= {v}"))


def between(s, i: int, lo: int, hi: int | None):
    s = at_least(s, i, lo)
    return s if hi is None else at_most(s, i, hi)


def keep(s, idx: list):
    """Project ``s`` onto the coordinates ``idx`` (ascending), existentially over the rest."""
    n = dims(s)
    for i in reversed(range(n)):
        if i not in idx:
            s = s.project_out(isl.dim_type.set, i, 1)
    return s


def coord(s, i: int):
    """The 1-D projection of ``s`` onto coordinate i."""
    return keep(s, [i])


def lexmin(s) -> tuple | None:
    if s.is_empty():
        return None
    return coords(s.lexmin().sample_point(), dims(s))


def lexmax(s) -> tuple | None:
    if s.is_empty() or not s.is_bounded():
        return None
    return coords(s.lexmax().sample_point(), dims(s))


def vmin(s1) -> int | None:
    p = lexmin(s1)
    return None if p is None else p[0]


def vmax(s1) -> int | None:
    """Largest member of a 1-D set (None when empty or unbounded above)."""
    if s1.is_empty():
        return None
    try:
        m = s1.dim_max_val(0)
    except isl.Error:
        return None
    if m.is_infty():
        return None
    return value(m)


def next_at_or_above(s1, v: int) -> int | None:
    return vmin(at_least(s1, 0, v))


def next_at_or_below(s1, v: int) -> int | None:
    return vmax(at_most(s1, 0, v))


def count(s) -> int | None:
    if s.is_empty():
        return 0
    if not s.is_bounded():
        return None
    return value(s.count_val())




def product(sets: list):
    out = sets[0]
    for f in sets[1:]:
        out = out.flat_product(f)
    return out


def boxes(s, limit: int = 64) -> list | None:
    """``s`` as a union of product boxes (per box, one 1-D set per coordinate), or None
    when some piece of it is not a product (coupled coordinates)."""
    n = dims(s)
    s = s.coalesce()
    if s.is_empty():
        return []
    whole = [coord(s, i) for i in range(n)]
    if product(whole).is_equal(s):
        return [whole]
    out = []
    for bs in s.get_basic_sets():
        b = isl.Set.from_basic_set(bs).coalesce()
        if b.is_empty():
            continue
        fs = [coord(b, i) for i in range(n)]
        if not product(fs).is_equal(b):
            return None
        out.append(fs)
        if len(out) > limit:
            return None
    out.sort(key=lambda fs: tuple(vmin(f) or 0 for f in fs))
    return out


def lattice(s1) -> dict | None:
    """A bounded or unbounded 1-D set described as {"from", "to", "step"} when it is exactly
    an arithmetic progression (step 1: an interval); None when it is not."""
    lo = vmin(s1)
    if lo is None:
        return None
    hi = vmax(s1)
    nxt = vmin(at_least(s1, 0, lo + 1))
    if nxt is None:
        return {"from": lo, "to": lo, "step": 1}
    step = nxt - lo
    cond = f"v0 >= {lo} and (v0 - {lo}) mod {step} = 0" + (f" and v0 <= {hi}" if hi else "")
    if where(1, cond).is_equal(s1):
        return {"from": lo, "to": hi, "step": step}
    return None


def runs(s1, limit: int = 64) -> list | None:
    """A bounded 1-D set as maximal runs [lo, hi] (None when more than ``limit``)."""
    out = []
    cur = s1
    while not cur.is_empty():
        lo = vmin(cur)
        gap = vmin(where(1, f"v0 >= {lo}").subtract(cur))
        if gap is None:
            return None  # unbounded
        out.append((lo, gap - 1))
        cur = at_least(cur, 0, gap)
        if len(out) > limit:
            return None
    return out
