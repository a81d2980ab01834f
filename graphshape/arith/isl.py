"""The only translation to isl: expressions -> isl text, variable names, and the small
sets (points, boxes, fixed coordinates) the queries need.

Variables are named v0, v1, ... in the order of the symbol list a caller passes; every
isl set in graphshape follows that convention, and only this module spells it.
"""

from __future__ import annotations

import islpy as isl
import sympy

from .. import stats
from .terms import lcm_denominator, lower_bound

__all__ = ["NonPresburger", "IslPrinter", "isl_names", "size_set", "point_set", "box_set",
           "fix", "value", "coords", "project_1d", "readable", "interval_1d", "shift_1d",
           "Error"]

Error = isl.Error


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


def isl_names(symbols) -> dict:
    return {s: f"v{i}" for i, s in enumerate(symbols)}


def _vars(n: int) -> str:
    return ", ".join(f"v{i}" for i in range(n))


def size_set(symbols, condition: str = "1 = 1"):
    """The isl set of sizes (each symbol at least its lower bound: 1 for sizes, 0 for
    data-dependent counts) where ``condition`` (isl text over isl_names) holds."""
    stats.COUNTERS["isl_sets"] += 1
    names = isl_names(symbols)
    base = " and ".join(f"{names[s]} >= {lower_bound(s)}" for s in symbols) or "1 = 1"
    return isl.Set(f"{{ [{_vars(len(symbols))}] : {base} and {condition} }}")


def point_set(values) -> object:
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
    n = s.dim(isl.dim_type.set)
    return s.intersect(isl.Set(f"{{ [{_vars(n)}] : v{i} = {v} }}"))


def interval_1d(lo: int, hi: int):
    return isl.Set(f"{{ [x] : {lo} <= x <= {hi} }}")


def shift_1d(s, p: int):
    """{x - p : x in s, x - p >= 1} for a one-coordinate set."""
    return s.apply(isl.Map(f"{{ [x] -> [x - {p}] }}")).intersect(isl.Set("{ [x] : x >= 1 }"))


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
