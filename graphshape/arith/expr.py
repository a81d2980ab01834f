"""Canonical construction of dims: floor/ceil/trunc division, mod, min/max, sums and
products, substitution and printing.

Plain ints stay plain ints. Floor divisions are canonicalised while they are built:
``floor(floor(x/a)/b) == floor(x/(a*b))`` and ``floor((x + k*a)/a) == floor(x/a) + k``.
sympy's own Min/Max/floor evaluation is never used on symbolic arguments (it queries
assumptions and costs seconds on large graphs): these helpers decide what they can
structurally and build the rest with ``evaluate=False``.
"""

from __future__ import annotations

import functools

import sympy
from sympy.printing.str import StrPrinter

from graphshape import stats
from graphshape.arith.prove import at_least, nonneg, nonpos, structural_nonneg
from graphshape.arith.terms import Dim, is_integer_expr, norm

__all__ = ["floordiv", "ceildiv", "truncdiv", "truncdiv_dim", "floor_expr", "ceil_expr",
           "trunc_expr", "mod", "dmin", "dmax", "add", "sub", "mul", "prod", "substitute",
           "to_str", "structurally_equal"]


@functools.lru_cache(maxsize=65536)
def _floordiv_expr(a: sympy.Expr, b: int) -> Dim:
    # floor(floor(y/c)/b) == floor(y/(c*b)) for positive ints b, c (y integer valued)
    # floor((floor(y/c) + k)/b) == floor((y + k*c)/(c*b)) for ints k and positive b, c
    k, rest = a.as_coeff_Add()
    if isinstance(rest, sympy.floor) and k.is_Integer:
        num, den = rest.args[0].as_numer_denom()
        if den.is_Integer and int(den) > 0 and is_integer_expr(num):
            return _floor_of(sympy.expand(num + int(k) * den), int(den) * b)
    if is_integer_expr(a):
        return _floor_of(a, b)
    return norm(sympy.floor(a / b))


def _floor_of(num, den: int) -> Dim:
    """floor(num/den) for an integer-valued num: terms whose coefficient is a multiple of
    den move outside; built without sympy's (slow, assumption-driven) floor evaluation."""
    if num.is_Integer:
        return int(num) // den
    outside = []
    inside = []
    const = 0
    for t in sympy.Add.make_args(num):
        c, r = t.as_coeff_Mul()
        if t.is_Integer:
            const += int(t)
        elif c.is_Integer and int(c) % den == 0:
            outside.append((int(c) // den) * r)
        else:
            inside.append(t)
    q, rem = divmod(const, den)
    if not inside:
        return norm(sympy.Add(*outside) + q)
    if rem:  # keep floor((H - 3)/4) rather than floor((H + 1)/4) - 1
        q, rem = 0, const
    inner = sympy.Add(*inside) + rem
    return norm(sympy.Add(*outside) + q + sympy.floor(inner / den, evaluate=False))


def floor_expr(v) -> Dim:
    """floor(v) for an exact value v (an integer-valued expression over an int)."""
    if isinstance(v, int):
        return v
    num, den = sympy.sympify(v).as_numer_denom()
    if den.is_Integer and int(den) > 0 and is_integer_expr(num):
        return floordiv(norm(num), int(den))
    return norm(sympy.floor(v))


def ceil_expr(v) -> Dim:
    if isinstance(v, int):
        return v
    return norm(-floor_expr(norm(-sympy.sympify(v))))


def floordiv(a: Dim, b: Dim) -> Dim:
    """floor(a / b); b must be a positive constant for a symbolic a."""
    if isinstance(a, int) and isinstance(b, int):
        return a // b
    stats.COUNTERS["exprs"] += 1
    if not isinstance(b, int):
        return norm(sympy.floor(sympy.sympify(a) / b))
    if b == 1:
        return a
    return _floordiv_expr(a, b)


def ceildiv(a: Dim, b: Dim) -> Dim:
    """ceil(a / b), written as -floor(-a/b) so that one function form is canonical."""
    if isinstance(a, int) and isinstance(b, int):
        return -((-a) // b)
    return norm(-floordiv(norm(-a), b))


def truncdiv(a: Dim, b: int) -> Dim:
    """C integer division (toward zero), for constant ints only."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def trunc_expr(e) -> Dim:
    """C-style truncation toward zero of an exact (possibly rational) value."""
    if isinstance(e, int):
        return e
    e = sympy.sympify(e)
    if e.is_Rational:
        return int(e)  # int() of a sympy Rational truncates toward zero
    if nonneg(e):
        return floor_expr(e)
    if nonpos(e):
        return ceil_expr(e)
    # trunc(x) = floor(max(x, 0)) - floor(max(-x, 0))
    return norm(sympy.floor(dmax(e, 0)) - sympy.floor(dmax(norm(-e), 0)))


def truncdiv_dim(a: Dim, b: int) -> Dim:
    """C integer division a / b toward zero (onnxruntime's int Div), b a nonzero int."""
    if isinstance(a, int):
        return truncdiv(a, b)
    if b < 0:
        return norm(-truncdiv_dim(a, -b))
    if structural_nonneg(a):
        return floordiv(a, b)
    return norm(floordiv(dmax(a, 0), b) - floordiv(dmax(norm(-a), 0), b))


def mod(a: Dim, b: int) -> Dim:
    """a mod b (Python sign convention, b > 0)."""
    if isinstance(a, int) and isinstance(b, int):
        return a % b
    return norm(a - b * floordiv(a, b))


def _minmax(cls, xs) -> Dim:
    stats.COUNTERS["exprs"] += 1
    # sympy's own Min/Max evaluation compares every pair under assumptions, which costs
    # seconds on large shape graphs; these cheap rules keep the forms canonical enough
    xs = _drop_dominated(cls, [norm(x) for x in xs])
    flat: list = []
    for x in xs:
        if isinstance(x, cls):
            flat.extend(norm(a) for a in x.args)
        else:
            flat.append(x)
    ints = [x for x in flat if isinstance(x, int)]
    exprs: list = []
    for x in flat:
        if not isinstance(x, int) and not any(x == y for y in exprs):
            exprs.append(x)
    pick = max if cls is sympy.Max else min
    if ints:
        k = pick(ints)
        if cls is sympy.Max and all(at_least(e, k, budget=True) for e in exprs):
            ints = []  # max(k, e) == e when e >= k
        elif cls is sympy.Min and all(at_least(e, k, budget=True) for e in exprs):
            return k  # min(k, e) == k when e >= k
        elif cls is sympy.Max and all(nonpos(sub(e, k), budget=True) for e in exprs):
            return k  # max(0, 1 - H) == 0: every e <= k
        elif cls is sympy.Min and all(nonpos(sub(e, k), budget=True) for e in exprs):
            ints = []  # min(k, e) == e when e <= k
        else:
            ints = [k]
    if len(exprs) == 2 and not ints:
        a, b = exprs  # of two provably ordered arguments, the one that wins (min(h,
        # 7*ceil(h/7)) == h: Swin's padded window size, which otherwise nests at every block)
        if nonneg(sub(b, a), budget=True):
            return a if cls is sympy.Min else b
        if nonneg(sub(a, b), budget=True):
            return b if cls is sympy.Min else a
    args = exprs + ints
    if not exprs:
        return ints[0]
    if len(args) == 1:
        return args[0]
    return cls(*args, evaluate=False)


def _drop_dominated(cls, xs: list) -> list:
    """max(B - 1, B) == B, min(B, B + 1) == B: of two arguments a constant apart only one
    can win. Done before flattening, so B may itself be a max (a ceil-mode pool with
    stride 1 builds max(min(B, B + 1), B - 1) + 1 == B + 1; without this, Inception's pool
    branch is a different expression from its conv branches)."""
    if not 1 < len(xs) <= 4:
        return xs
    kept: list = []
    for x in xs:
        for i, y in enumerate(kept):
            if isinstance(x, int) or isinstance(y, int):
                continue
            d = x - y
            if d.is_Integer:
                if (int(d) > 0) == (cls is sympy.Max):
                    kept[i] = x
                break
        else:
            kept.append(x)
    return kept


def dmin(*args: Dim) -> Dim:
    xs = [norm(x) for x in args]
    if all(isinstance(x, int) for x in xs):
        return min(xs)
    return _minmax(sympy.Min, xs)


def dmax(*args: Dim) -> Dim:
    xs = [norm(x) for x in args]
    if all(isinstance(x, int) for x in xs):
        return max(xs)
    return _minmax(sympy.Max, xs)


def add(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    stats.COUNTERS["exprs"] += 1
    return norm(a + b)


def sub(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a - b
    stats.COUNTERS["exprs"] += 1
    return norm(a - b)


def mul(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    stats.COUNTERS["exprs"] += 1
    return norm(a * b)


def prod(xs) -> Dim:
    out: Dim = 1
    for x in xs:
        out = mul(out, x)
    return out


def substitute(x: Dim, env: dict) -> Dim:
    """Value of ``x`` when symbols take the ints in ``env`` (keys: symbols or names)."""
    if isinstance(x, int):
        return x
    subs = {}
    for s in x.free_symbols:
        if s in env:
            subs[s] = env[s]
        elif s.name in env:
            subs[s] = env[s.name]
    return norm(x.xreplace({k: sympy.Integer(v) for k, v in subs.items()}))


class _Printer(StrPrinter):
    """floor((H - 1)/2) rather than floor(H/2 - 1/2); min/max in lower case."""

    def _print_floor(self, e):
        return self._div("floor", e.args[0])

    def _print_ceiling(self, e):
        return self._div("ceil", e.args[0])

    def _div(self, fn, arg):
        num, den = sympy.fraction(sympy.together(arg))
        if den != 1 and den.is_Integer:
            return f"{fn}(({self._print(sympy.expand(num))})/{den})" if num.is_Add \
                else f"{fn}({self._print(num)}/{den})"
        return f"{fn}({self._print(arg)})"

    def _print_Min(self, e):
        return "min(" + ", ".join(self._print(a) for a in e.args) + ")"

    def _print_Max(self, e):
        return "max(" + ", ".join(self._print(a) for a in e.args) + ")"


_PRINTER = _Printer()


@functools.lru_cache(maxsize=65536)
def _expr_str(x) -> str:
    return _PRINTER.doprint(x)


def to_str(x: Dim) -> str:
    if isinstance(x, int):
        return str(x)
    return _expr_str(x)


def structurally_equal(a: Dim, b: Dim) -> bool:
    if isinstance(a, int) or isinstance(b, int):
        return a == b
    return sympy.expand(a - b) == 0
