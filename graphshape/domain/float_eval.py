"""Conditions on derived sizes (float32 programs of the sizes, rounded to integers:
graphshape.arith.float32) decided exactly: a closed form with a thin boundary where the
graph's own float32 arithmetic is evaluated, point by point, as onnxruntime evaluates it.

Faster R-CNN resizes its image to ``floor(H * s)`` x ``floor(W * s)`` with the float32
scale ``s = min(800 / min(H, W), 1333 / max(H, W))`` and fails when a side rounds to 0.
In real arithmetic that side is ``min(800*H/min(H, W), 1333*H/max(H, W))`` and "at least
1" is the Presburger condition ``1333*H >= max(H, W)``; float32 rounding moves the result by
a relative error of at most ``delta`` (a few units of 2**-24, bounded per program), so

    inner  r >= c*(1 + 2*delta)   every size here passes   (Presburger)
    outer  r >= c*(1 - delta)     every size outside fails (Presburger)

and only the band between them (here: the line W = 1333*H) is decided by evaluating the
program. Membership is exact everywhere; the closed form is the outer set, and the words
are the real-arithmetic set (r >= c) with the band's first sizes that pass and fail.

The derived-size conditions are first solved as one isl set Q over (sizes, derived sizes).
When Q is a product of a set of sizes and a union of boxes of derived sizes (the usual
case: "each resized side >= 1"), each box's bounds become threshold conditions as above.
Otherwise (or when a program has no real form: a Sub, a derived size of a derived size,
a factor that may be 0) the outer set is Q's projection onto the sizes and the inner set is
empty: every size is then decided by evaluation (still exact, without a closed form).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import islpy as isl
import sympy

from graphshape import stats
from graphshape.arith import float32 as f32
from graphshape.arith import isl as Q
from graphshape.arith.isl import (
    IslPrinter,
    NonPresburger,
    isl_names,
    operations,
    point_set,
    readable,
    size_set,
)
from graphshape.arith.prove import at_least
from graphshape.arith.terms import is_integer_expr
from graphshape.shapes.constraints import Origin

__all__ = ["FloatPart", "solve_floats", "MAX_MONOMIALS", "UNIT"]

UNIT = Fraction(1, 2 ** 24)  # float32's unit roundoff (round to nearest)
MAX_MONOMIALS = 64  # a real form with more min/max leaves is not built (no closed form)
BAND_SAMPLES = 6  # band sizes per symbol that edges() hands to verification
BAND_EXAMPLES = 40  # band sizes searched for the first that fail and pass (words)
QUERY_OPERATIONS = 2_000_000  # isl operations the band queries may take


# ---- the real form: min/max trees of monomials c * prod(num) / prod(den) -------------
@dataclass(frozen=True)
class Mono:
    coef: Fraction
    num: tuple = ()  # positive quasi-affine expressions of the sizes
    den: tuple = ()


@dataclass(frozen=True)
class Node:
    kind: str  # "min" | "max"
    kids: tuple


class NoRealForm(Exception):
    """The program has no real form graphshape can compare with a constant exactly."""


def _leaves(t) -> int:
    return 1 if isinstance(t, Mono) else sum(_leaves(k) for k in t.kids)


def _mk(kind, kids):
    flat = []
    for k in kids:
        if isinstance(k, Node) and k.kind == kind:
            flat.extend(k.kids)
        else:
            flat.append(k)
    out = Node(kind, tuple(dict.fromkeys(flat)))
    if len(out.kids) == 1:
        return out.kids[0]
    if _leaves(out) > MAX_MONOMIALS:
        raise NoRealForm("too many min/max cases")
    return out


def _cancel(num: list, den: list):
    num, den = list(num), list(den)
    for x in list(num):
        if x in den:
            num.remove(x)
            den.remove(x)
    return tuple(sorted(num, key=str)), tuple(sorted(den, key=str))


def _mono_mul(a: Mono, b: Mono) -> Mono:
    n, d = _cancel(list(a.num) + list(b.num), list(a.den) + list(b.den))
    return Mono(a.coef * b.coef, n, d)


def _mul(a, b):
    if isinstance(a, Node):
        return _mk(a.kind, [_mul(k, b) for k in a.kids])
    if isinstance(b, Node):
        return _mk(b.kind, [_mul(a, k) for k in b.kids])
    return _mono_mul(a, b)


def _recip(a):
    if isinstance(a, Node):
        return _mk("max" if a.kind == "min" else "min", [_recip(k) for k in a.kids])
    if a.coef <= 0:
        raise NoRealForm("reciprocal of a value that may be 0")
    return Mono(1 / a.coef, a.den, a.num)


def _add(a, b):
    if isinstance(a, Node):
        return _mk(a.kind, [_add(k, b) for k in a.kids])
    if isinstance(b, Node):
        return _mk(b.kind, [_add(a, k) for k in b.kids])
    # a sum stays exact only while both terms are linear (no denominators, one factor)
    if a.den or b.den or len(a.num) > 1 or len(b.num) > 1:
        raise NoRealForm("a sum of ratios")
    q = (a.coef.denominator * b.coef.denominator)
    x = (a.num[0] if a.num else 1) * int(a.coef * q)
    y = (b.num[0] if b.num else 1) * int(b.coef * q)
    s = sympy.expand(x + y)
    if s.is_Integer:
        return Mono(Fraction(int(s), q))
    return Mono(Fraction(1, q), (s,))


def real_form(x: f32.F32):
    """The program in real arithmetic as a min/max tree of monomials (NoRealForm when it
    has none: negative or possibly-zero values, differences, square roots)."""
    op, a = x.op, x.args
    if op == "const":
        v = Fraction(a[0])
        if v < 0:
            raise NoRealForm("a negative constant")
        return Mono(v)
    if op == "int":
        d = a[0]
        if isinstance(d, int):
            if d < 0:
                raise NoRealForm("a negative constant")
            return Mono(Fraction(d))
        if not is_integer_expr(d):
            raise NoRealForm("not an integer expression")
        if not at_least(d, 1, budget=True):
            raise NoRealForm(f"{d} may be 0")
        return Mono(Fraction(1), (d,))
    if op == "mul":
        return _mul(real_form(a[0]), real_form(a[1]))
    if op == "div":
        return _mul(real_form(a[0]), _recip(real_form(a[1])))
    if op == "recip":
        return _recip(real_form(a[0]))
    if op in ("min", "max"):
        return _mk(op, [real_form(a[0]), real_form(a[1])])
    if op == "add":
        return _add(real_form(a[0]), real_form(a[1]))
    raise NoRealForm(f"no real form for {op}")


def error_factors(x: f32.F32) -> tuple:
    """(lo, hi): the float32 result is between lo*r and hi*r, r the real value (every
    operation rounds to nearest with relative error at most 2**-24; values are positive)."""
    op, a = x.op, x.args
    lo_u, hi_u = 1 - UNIT, 1 + UNIT
    if op == "const":
        return Fraction(1), Fraction(1)
    if op == "int":
        return lo_u, hi_u  # Cast int64 -> float rounds above 2**24
    if op in ("min", "max"):
        (l1, h1), (l2, h2) = error_factors(a[0]), error_factors(a[1])
        return min(l1, l2), max(h1, h2)
    if op == "recip":
        lo, hi = error_factors(a[0])
        return lo_u / hi, hi_u / lo
    (l1, h1) = error_factors(a[0])
    (l2, h2) = error_factors(a[1])
    if op == "mul":
        return l1 * l2 * lo_u, h1 * h2 * hi_u
    if op == "div":
        return l1 / h2 * lo_u, h1 / l2 * hi_u
    if op == "add":
        return min(l1, l2) * lo_u, max(h1, h2) * hi_u
    raise NoRealForm(op)


def _delta(x: f32.F32) -> Fraction:
    """A power of two at least the relative error of the program's result."""
    lo, hi = error_factors(x)
    d = max(1 - lo, hi - 1)
    p = Fraction(1, 2)
    while p / 2 >= d:
        p /= 2
    return p


# ---- threshold sets ----------------------------------------------------------------------
def _ge_text(t, c: Fraction, printer: IslPrinter, strict: bool = False) -> str:
    """isl text of 'r >= c' (r > c with strict) for a real form r and c > 0."""
    if isinstance(t, Node):
        j = " and " if t.kind == "min" else " or "
        return "(" + j.join(_ge_text(k, c, printer, strict) for k in t.kids) + ")"
    if len(t.num) > 1 or len(t.den) > 1:
        raise NoRealForm("a product of sizes compared with a constant")
    # coef * N >= c * D  <=>  p1*q2*N >= p2*q1*D
    left = t.coef.numerator * c.denominator
    right = c.numerator * t.coef.denominator
    n = printer.expr(t.num[0]) if t.num else "1"
    d = printer.expr(t.den[0]) if t.den else "1"
    return f"({left}*({n}) {'>' if strict else '>='} {right}*({d}))"


@dataclass
class _Threshold:
    """What a derived size's thresholds need: its real form and relative error."""

    derived: f32.Derived
    form: object
    delta: Fraction


def _sets_at_least(th: _Threshold, c: int, printer, symbols):
    """(inner, outer, real) isl sets over the sizes for 'derived >= c'."""
    universe = size_set(symbols)
    if th.derived.rounding == "floor":
        if c <= 0:
            return universe, universe, universe
        t_in, t_out, t_real, strict = c * (1 + 2 * th.delta), c * (1 - th.delta), \
            Fraction(c), False
    else:  # ceil: ceil(e) >= c  <=>  e > c - 1
        if c <= 1:
            return universe, universe, universe
        t_in, t_out, t_real, strict = (c - 1) * (1 + 2 * th.delta), \
            (c - 1) * (1 - th.delta), Fraction(c - 1), True

    def mk(t, st):
        return size_set(symbols, _ge_text(th.form, t, printer, st))

    return mk(t_in, strict), mk(t_out, False), mk(t_real, strict)


# ---- the part of a domain that float32 decides ------------------------------------------
@dataclass
class FloatPart:
    symbols: list  # the input sizes (isl order v0..)
    derived: list  # float32.Derived, creation order
    conditions: list  # solve.Condition over sizes + derived sizes
    q_set: Any  # isl set over sizes + derived sizes (the Presburger conditions)
    pointwise: list  # Conditions outside Presburger arithmetic (evaluated per size)
    outer: Any  # isl set over sizes: every valid size is in it
    inner: Any  # isl set over sizes: every size in it is valid (given the rest)
    real: Any  # the real-arithmetic set (words), or None
    plain: Any = None  # the rest of the domain: conditions on the sizes alone
    _band: Any = None

    @property
    def closed(self) -> bool:
        """Whether the inner/outer sets come from thresholds (else: every size of the
        outer set is decided by evaluation)."""
        return self.real is not None

    def values(self, env: dict) -> dict | None:
        """env plus every derived size at it (None when a float is not finite)."""
        out = dict(env)
        for d in self.derived:
            v = d.value(out)
            if v is None:
                return None
            out[d.symbol.name] = v
        return out

    def holds(self, env: dict) -> bool | None:
        """Whether the derived conditions hold at ``env`` (sizes); None when a float
        is not finite (graphshape cannot tell what onnxruntime does with it)."""
        pt = [env[s.name] for s in self.symbols]
        if self.inner is not None and point_set(pt).is_subset(self.inner):
            return True
        stats.COUNTERS["float_evaluations"] += 1
        full = self.values(env)
        if full is None:
            return None
        pt = pt + [full[d.symbol.name] for d in self.derived]
        if any(v < 0 for v in pt[len(self.symbols):]):
            return False
        if not point_set(pt).is_subset(self.q_set):
            return False
        return all(c.constraint.evaluate(full) for c in self.pointwise)

    def band(self):
        """The sizes of the outer set that only evaluation decides."""
        if self._band is None:
            self._band = self.outer.subtract(self.inner).coalesce()
        return self._band

    def band_points(self, within=None, per_axis: int = BAND_SAMPLES) -> list:
        """Sizes of the band (decided by evaluation), as dicts: for each symbol and each of
        its smallest values, the smallest and largest band size there (both branches of a
        band such as W = 1333*H and H = 1333*W). ``within``: a set to stay inside."""
        band = self.band() if within is None else self.band().intersect(within)
        names = [s.name for s in self.symbols]
        n = len(names)
        out: list = []
        if band.is_empty() or n == 0:
            return out
        try:
            with operations(QUERY_OPERATIONS):
                for j in range(n):
                    proj = Q.coord(band, j)
                    v = Q.vmin(proj)
                    taken = 0
                    while v is not None and taken < per_axis:
                        line = Q.fix(band, j, v)
                        for p in (Q.lexmin(line), Q.lexmax(line) if line.is_bounded() else None):
                            if p is not None and dict(zip(names, p)) not in out:
                                out.append(dict(zip(names, p)))
                        taken += 1
                        v = Q.next_at_or_above(proj, v + 1)
        except isl.Error:
            pass
        return out

    def examples(self, within=None) -> tuple:
        """(first band sizes that fail, first that pass), each a list of dicts."""
        fail: list = []
        ok: list = []
        for p in self.band_points(within, per_axis=BAND_EXAMPLES):
            r = self.holds(p)
            if r is False and len(fail) < 2:
                fail.append(p)
            elif r is True and len(ok) < 2:
                ok.append(p)
        return fail, ok

    def describe(self, names: list, within=None) -> str:
        """The derived conditions in words: the real-arithmetic set and how float32
        decides its boundary (first sizes of the band that pass and fail)."""
        text, edge = self.words(names, within)
        return text + ("; " + edge if edge else "")

    def words(self, names: list, within=None) -> tuple:
        """(the real-arithmetic set in words, what float32 does at its boundary or '')."""
        if self.real is None:
            return ("every size where the model's float32 arithmetic, evaluated size by size, "
                    "passes (" + "; ".join(f"{d.symbol} = {d.formula()}"
                                          for d in self.derived) + ")", "")
        text = _set_words(self.real, names)
        fail, ok = self.examples(within)
        if not fail and not ok:
            return text, ""
        shown = [_sizes_text(p) + " fails" for p in fail[:1]] + \
            [_sizes_text(p) + " runs" for p in ok[:1]]
        return text, "near its boundary float32 rounding decides, size by size: " + \
            ", ".join(shown)

    def meaning(self) -> list:
        """One line per derived size: its symbol and the float32 formula it stands for."""
        return [f"{d.symbol} = {d.formula()} (float32, as onnxruntime computes it; node "
                f"'{d.node}')" for d in self.derived]


    def as_condition(self):
        """The derived-size conditions as one entry of the lists of conditions checked size
        by size (contract, profiles and spec name them in their notes)."""
        origins = [Origin(d.node, d.op, f"{d.symbol} = {d.formula()} in float32")
                   for d in self.derived]
        return FloatCheck(_Words("the sizes derived in float32 ("
                                 + "; ".join(f"{d.symbol} = {d.formula()}" for d in self.derived)
                                 + "), decided by evaluating them as onnxruntime does"),
                          origins)


@dataclass(frozen=True)
class _Words:
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class FloatCheck:
    """A FloatPart seen as a condition checked size by size (constraint, origins)."""

    constraint: _Words
    origins: list


def _sizes_text(p: dict) -> str:
    return ", ".join(f"{k} = {v}" for k, v in p.items())


def _set_words(s, names: list) -> str:
    """isl's text of a set over the sizes, the sizes' own lower bounds left out and
    coefficients written with '*': 'W <= 1333*H and 1333*W >= H'."""
    text = readable(s.coalesce(), names)
    if ":" not in text:
        return "every size" if not s.is_empty() else "no size"
    body = text[text.find(":") + 1:].strip().rstrip("}").strip()
    parts = []
    for disj in body.split(" or "):
        kept = [c for c in disj.strip("() ").split(" and ")
                if not re.fullmatch(r"\w+ (> 0|>= 1)", c.strip())]
        parts.append(" and ".join(kept) or "every size")
    words = " or ".join(f"({p})" if len(parts) > 1 and " and " in p else p for p in parts)
    return re.sub(r"(\d)([A-Za-z_])", r"\1*\2", words)


def solve_floats(closed: list, pointwise: list, symbols: list, derived: list) -> FloatPart:
    """The FloatPart of the derived-size conditions: ``closed`` are solve.Conditions whose
    isl_text is over isl_names(symbols + derived symbols), ``pointwise`` the ones outside
    Presburger arithmetic (evaluated per size)."""
    n, k = len(symbols), len(derived)
    allsyms = list(symbols) + [d.symbol for d in derived]
    q = size_set(allsyms, " and ".join(c.isl_text for c in closed) or "1 = 1").coalesce()
    part = FloatPart(list(symbols), list(derived), list(closed) + list(pointwise), q,
                     list(pointwise), None, None, None)
    qx = q.project_out(isl.dim_type.set, n, k).coalesce() if k else q
    try:
        if pointwise:
            raise NoRealForm("conditions outside Presburger arithmetic")
        with operations(QUERY_OPERATIONS):
            part.outer, part.inner, part.real = _closed(q, qx, symbols, derived)
    except (NoRealForm, NonPresburger, isl.Error):
        part.outer, part.inner, part.real = qx, size_set(symbols, "1 = 0"), None
    return part


def _closed(q, qx, symbols, derived):
    """(outer, inner, real) for Q = Qx x (a union of boxes of derived sizes)."""
    n = len(symbols)
    qf = q.project_out(isl.dim_type.set, 0, n).coalesce()
    if not qx.flat_product(qf).is_equal(q):
        raise NoRealForm("the derived sizes' conditions involve the sizes themselves")
    bxs = Q.boxes(qf)
    if bxs is None:
        raise NoRealForm("the derived sizes' conditions are not a union of boxes")
    printer = IslPrinter(isl_names(symbols))
    forms: dict = {}
    outer = inner = real = None
    for box in bxs:
        o_b = i_b = r_b = qx
        for j, f1 in enumerate(box):
            lat = Q.lattice(f1)
            if lat is None or lat["step"] != 1:
                raise NoRealForm("a derived size restricted to a lattice")
            lo, hi = lat["from"], lat["to"]
            d = derived[j]
            if lo <= 0 and hi is None:
                continue  # unconstrained
            if j not in forms:
                forms[j] = _Threshold(d, real_form(d.program), _delta(d.program))
            th = forms[j]
            si, so, sr = _sets_at_least(th, lo, printer, symbols)
            o_b, i_b, r_b = o_b.intersect(so), i_b.intersect(si), r_b.intersect(sr)
            if hi is not None:  # d <= hi  <=>  not (d >= hi + 1)
                ui, uo, ur = _sets_at_least(th, hi + 1, printer, symbols)
                univ = size_set(symbols)
                o_b = o_b.intersect(univ.subtract(ui))
                i_b = i_b.intersect(univ.subtract(uo))
                r_b = r_b.intersect(univ.subtract(ur))
        outer = o_b if outer is None else outer.union(o_b)
        inner = i_b if inner is None else inner.union(i_b)
        real = r_b if real is None else real.union(r_b)
    if outer is None:  # no box: no size is valid
        empty = size_set(symbols, "1 = 0")
        return empty, empty, empty
    return outer.coalesce(), inner.coalesce(), real.coalesce()


