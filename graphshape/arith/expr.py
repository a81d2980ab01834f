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
from collections.abc import Callable
from typing import TYPE_CHECKING

from graphshape import stats
from graphshape.arith import lazy, memo
from graphshape.arith.prove import at_least, nonneg, nonpos, structural_nonneg
from graphshape.arith.terms import Dim, is_expr, is_integer_expr, norm

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")

__all__ = ["floordiv", "ceildiv", "truncdiv", "truncdiv_dim", "floor_expr", "ceil_expr",
           "trunc_expr", "mod", "dmin", "dmax", "add", "sub", "mul", "prod", "substitute",
           "rebuilt", "factored", "to_str", "structurally_equal", "UndefinedDim"]


@functools.lru_cache(maxsize=65536)
def _floordiv_expr(a: sympy.Expr, b: int) -> Dim:
    # floor(floor(y/c)/b) == floor(y/(c*b)) for positive ints b, c (y integer valued)
    # floor((floor(y/c) + k)/b) == floor((y + k*c)/(c*b)) for ints k and positive b, c
    k, rest = a.as_coeff_Add()
    if isinstance(rest, sympy.floor) and k.is_Integer:
        num, den = rest.args[0].as_numer_denom()
        if den.is_Integer and int(den) > 0 and is_integer_expr(num):
            return _floor_of(sympy.expand(num + int(k) * den), int(den) * b)
    m, f = rest.as_coeff_Mul()
    if m == -1 and isinstance(f, sympy.floor) and k.is_Integer:
        # a padded stride chain: ceil(floor(y/c)/b) is built -floor(-floor(y/c)/b), and
        # -floor(y/c) == floor((c - 1 - y)/c), so it nests into one floor as above
        num, den = f.args[0].as_numer_denom()
        if den.is_Integer and int(den) > 0 and is_integer_expr(num):
            c = int(den)
            return _floor_of(sympy.expand(c - 1 - num + int(k) * c), c * b)
    if isinstance(rest, (sympy.Max, sympy.Min)) and k.is_Integer and is_integer_expr(rest):
        # floor is monotone: floor(max(x, y)/b) == max(floor(x/b), floor(y/b)), so the max
        # moves out and each argument nests on its own
        parts = [floordiv(norm(x + k), b) for x in rest.args]
        return dmax(*parts) if isinstance(rest, sympy.Max) else dmin(*parts)
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
        return _halves(norm(sympy.Add(*outside) + q))
    if rem:  # keep floor((H - 3)/4) rather than floor((H + 1)/4) - 1
        q, rem = 0, const
    inner = sympy.Add(*inside) + rem
    if len(inside) == 1:
        m, f = inside[0].as_coeff_Mul()
        if m in (1, -1) and isinstance(f, sympy.floor):
            # floor((k +- floor(y/c))/den): one floor (_floordiv_expr nests it)
            return _halves(norm(sympy.Add(*outside) + q + _floordiv_expr(inner, den)))
    return _halves(norm(sympy.Add(*outside) + q + sympy.floor(inner / den, evaluate=False)))


def _halves(e: Dim) -> Dim:
    """y - floor(y/2) is ceil(y/2) == floor((y + 1)/2): padding to even then halving (Swin's
    patch merging, x + x mod 2 then // 2) nests into one floor. m*y - m*floor(y/2) + rest
    becomes m*floor((y + 1)/2) + rest when the terms of m*y are all there."""
    if isinstance(e, int) or not e.is_Add:
        return e
    terms = sympy.Add.make_args(e)
    for t in terms:
        m, f = t.as_coeff_Mul()
        if not (m.is_Integer and isinstance(f, sympy.floor)):
            continue
        num, den = f.args[0].as_numer_denom()
        if not den.is_Integer or int(den) % 2 or not is_integer_expr(num):
            continue
        if int(den) > 2:  # floor(H/8) is floor(floor(H/4)/2): y = floor(H/4)
            num = floordiv(norm(num), int(den) // 2)
        left = sympy.expand(e - t)  # -m*y + rest0 when the pattern is there
        rest0 = sympy.expand(left + m * num)
        # e == rest0 - m*(y - floor(y/2)) == rest0 - m*floor((y + 1)/2) always (an
        # identity); taken only where it shortens e
        if sympy.count_ops(rest0) < sympy.count_ops(left):
            return norm(rest0 - m * floordiv(norm(sympy.expand(num + 1)), 2))
    return e


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
    return norm(-floor_expr(-sympy.sympify(v)))  # -v may be a fraction: no norm here


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
    memo.install()  # sympy re-evaluates this max wherever it is rebuilt: remember its pairs
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
    return _halves_if_paired(norm(a + b))


def sub(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a - b
    stats.COUNTERS["exprs"] += 1
    return _halves_if_paired(norm(a - b))


def _halves_if_paired(e: Dim) -> Dim:
    """_merge_floors and _halves where e has two floor terms (x + x mod 2 is 2*x -
    2*floor(x/2), x a floor; ceil((H - 4)/8) - ceil((H - 12)/8) is 1)."""
    if isinstance(e, int) or not e.is_Add:
        return e
    if sum(1 for t in e.args if isinstance(t.as_coeff_Mul()[1], sympy.floor)) < 2:
        return e
    return _halves(_merge_floors(e))


def _merge_floors(e: Dim) -> Dim:
    """floor((y + a)/d) and floor((y + b)/d) with a == b mod d differ by (a - b)/d: such
    terms of a sum merge (the padded sizes of TF 'same' chains cancel to constants)."""
    if isinstance(e, int) or not e.is_Add:
        return e
    groups: dict = {}
    for t in e.args:
        m, f = t.as_coeff_Mul()
        if not (m.is_Integer and isinstance(f, sympy.floor)):
            continue
        num, den = f.args[0].as_numer_denom()
        if not den.is_Integer or int(den) <= 1:
            continue
        num = sympy.expand(num)
        a, y = num.as_coeff_Add()
        if not a.is_Integer or not is_integer_expr(y):
            continue
        d = int(den)
        groups.setdefault((y, d, int(a) % d), []).append((t, int(m), int(a)))
    out = e
    for (y, d, r), ts in groups.items():
        if len(ts) < 2:
            continue
        base = sympy.floor((y + r) / d, evaluate=False)
        for t, m, a in ts:
            out = out - t + m * (base + (a - r) // d)
    return norm(out) if out is not e else e


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
    out = x.xreplace({k: sympy.Integer(v) for k, v in subs.items()})
    if out.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise UndefinedDim(f"{x} divides by 0 at {env}")  # c // d with d == 0
    return norm(out)


def rebuilt(x: Dim, env: dict | None = None, expand: bool = False) -> Dim:
    """``x`` with the symbols in ``env`` replaced by their dims (``x.xreplace(env)``), and,
    with ``expand``, products of sums multiplied out at every level (``sympy.expand(x)``).
    The same value, built bottom-up, but a max or min is rebuilt by flattening alone:
    sympy's own rebuilding compares every pair of its arguments again (factoring their
    difference), which costs seconds on a detector's clamped boxes (docs/performance.md)."""
    if isinstance(x, int):
        return x
    return norm(_rebuilt(x, env or {}, expand, {}))


def _rebuilt(x, env: dict, expand: bool, seen: dict):
    if x.is_Atom:
        return sympy.sympify(env[x]) if x in env else x
    done = seen.get(x)
    if done is not None:
        return done
    args = [_rebuilt(a, env, expand, seen) for a in x.args]
    if isinstance(x, (sympy.Max, sympy.Min)):
        flat: list = []
        for a in args:
            flat.extend(a.args if isinstance(a, x.func) else (a,))
        nums = [a for a in flat if a.is_Number]
        kept = list(dict.fromkeys(a for a in flat if not a.is_Number))
        if nums:  # the numbers reduce to the one that can win
            kept.append(max(nums) if x.func is sympy.Max else min(nums))
        out = kept[0] if len(kept) == 1 else x.func(*kept, evaluate=False)
    elif all(a is b for a, b in zip(args, x.args)):
        out = x
    else:
        out = x.func(*args)
    if expand and (out.is_Add or out.is_Mul or out.is_Pow):
        out = sympy.expand(out, deep=False)
    seen[x] = out
    return out


def factored(x):
    """``sympy.factor_terms(x)`` with the insides of max, min, floor, ... left as they are:
    the common factors of the sum and its products are taken out; a function application is
    kept whole (sympy's own would factor inside it and so rebuild every max: rebuilt())."""
    if isinstance(x, int):
        return sympy.Integer(x)
    x = sympy.sympify(x)
    whole = set()
    todo = [x]
    while todo:
        e = todo.pop()
        if e.is_Atom:
            continue
        if e.is_Add or e.is_Mul or e.is_Pow:
            todo.extend(e.args)
        else:
            whole.add(e)
    if not whole:
        return sympy.factor_terms(x)
    hide = {e: sympy.Dummy() for e in whole}
    back = {d: e for e, d in hide.items()}
    return sympy.factor_terms(x.xreplace(hide)).xreplace(back)


class UndefinedDim(ZeroDivisionError, ValueError):
    """A dim with no value at a size (c // d where d is 0 there): callers that take a
    ValueError for 'no value' keep doing so."""


class _Printing:
    """floor((H - 1)/2) rather than floor(H/2 - 1/2); min/max in lower case: the methods of
    a sympy StrPrinter subclass, made on first use (_printer) so that importing this module
    does not import sympy."""

    _print: Callable[..., str]  # StrPrinter's

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


@functools.cache
def _printer():
    return type("_Printer", (_Printing, sympy.printing.str.StrPrinter), {})()


@functools.lru_cache(maxsize=65536)
def _expr_str(x) -> str:
    return _printer().doprint(x)


@functools.lru_cache(maxsize=65536)
def _pretty_str(x) -> str:
    return _printer().doprint(_with_ceils(x))


def _with_ceils(x):
    """For printing, identities only: ceil(x/k) is built -floor(-x/k), and floor(-x/k)
    prints as -ceil(x/k), so the signs cancel ('ceil((H - 3)/56)', '7*ceil(H/28)');
    floor((x - 1)/k) + 1 prints as ceil(x/k); 64*a + 64 as 64*(a + 1)."""
    if not is_expr(x) or not x.has(sympy.floor):
        return x
    return _pretty(x)


def _pretty(x):
    if not is_expr(x) or x.is_Atom or not x.has(sympy.floor):
        return x
    if isinstance(x, sympy.floor):
        arg = _pretty(x.args[0])
        num, _ = arg.as_numer_denom()
        if sympy.expand(num).could_extract_minus_sign():
            return -sympy.ceiling(_pretty(-arg), evaluate=False)
        return sympy.floor(arg, evaluate=False)
    if x.is_Add:
        y = _readable_sum(x)
        if y is not x:
            return y
        y = _as_ceil(sympy.Add(*[_pretty(a) for a in x.args]))
        if y.is_Add:
            f = sympy.factor_terms(x)
            if f.is_Mul and f.as_coeff_Mul()[0] not in (1, -1):
                c, rest = f.as_coeff_Mul()
                inner = _readable_sum(rest) if rest.is_Add else rest
                if inner is not rest:  # only where the factored sum reads as one term
                    return sympy.Mul(c, inner, evaluate=False)
        return y
    return x.func(*[_pretty(a) for a in x.args])


def _readable_sum(x):
    """max(0, y) + 1 as max(1, y + 1); floor((z - 1)/d) + 1 as ceil(z/d); else x itself."""
    k, rest = x.as_coeff_Add()
    if k.is_Integer and k != 0 and isinstance(rest, (sympy.Max, sympy.Min)):
        return rest.func(*[_pretty(norm(a + k)) if a.free_symbols else a + k
                           for a in rest.args], evaluate=False)
    y = _as_ceil(x)
    return y if y is not x else x


def _as_ceil(y):
    """floor((z + a)/d) + k as ceil((z + b)/d) when that has the smaller constant."""
    if not y.is_Add:
        return y
    k, rest = y.as_coeff_Add()
    if not k.is_Integer or k == 0 or not isinstance(rest, sympy.floor):
        return y
    num, den = rest.args[0].as_numer_denom()
    if not den.is_Integer or int(den) <= 1:
        return y
    num = sympy.expand(num)
    a, z = num.as_coeff_Add()
    d = int(den)
    f = int(a) + int(k) * d  # floor((z + a)/d) + k == floor((z + f)/d) == ceil((z + b)/d)
    b = f - d + 1
    if abs(b) < min(abs(f), abs(int(a)) + abs(int(k))):
        return sympy.ceiling((z + b) / d, evaluate=False)
    if abs(f) < abs(int(a)) + abs(int(k)):
        return sympy.floor((z + f) / d, evaluate=False)
    return y


def to_str(x: Dim, pretty: bool = False) -> str:
    """The dim as text. Shapes keep one canonical spelling (ceil(x/k) is -floor(-x/k));
    ``pretty`` (conditions, explanations) writes ceil where it is one."""
    if isinstance(x, int):
        return str(x)
    return _pretty_str(x) if pretty else _expr_str(x)


def structurally_equal(a: Dim, b: Dim) -> bool:
    if isinstance(a, int) or isinstance(b, int):
        return a == b
    return sympy.expand(a - b) == 0
