"""Symbolic dims: plain ints stay ints; everything else is a canonical sympy expression.

Every helper here keeps the invariant that a dim which is a number is a Python ``int``,
never a sympy Integer, so the common case (constant shapes) never touches sympy.
Floor/ceil divisions are canonicalised while they are built:
``floor(floor(x/a)/b) == floor(x/(a*b))`` and ``floor((x + k*a)/a) == floor(x/a) + k``
(sympy does the second itself once integer parts are split off).
"""

from __future__ import annotations

import functools
import math
from typing import Union

import sympy
from sympy.printing.str import StrPrinter

Dim = Union[int, sympy.Expr]

_SYMBOLS: dict[str, sympy.Symbol] = {}


def symbol(name: str) -> sympy.Symbol:
    """The interned positive-integer symbol called ``name``."""
    s = _SYMBOLS.get(name)
    if s is None:
        s = sympy.Symbol(name, integer=True, positive=True)
        _SYMBOLS[name] = s
    return s


def nonneg_symbol(name: str) -> sympy.Symbol:
    """A symbol that may be zero (data-dependent counts: NonZero, TopK with computed k)."""
    key = "\0" + name
    s = _SYMBOLS.get(key)
    if s is None:
        s = sympy.Symbol(name, integer=True, nonnegative=True)
        _SYMBOLS[key] = s
    return s


def norm(x) -> Dim:
    """Canonical form: sympy numbers become ints; expressions stay expressions."""
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, int):
        return x
    if isinstance(x, sympy.Basic):
        if x.is_Integer:
            return int(x)
        if x.is_Number:
            raise ValueError(f"non-integer dim {x}")
        return x
    if hasattr(x, "__index__"):
        return int(x)
    raise TypeError(f"not a dim: {x!r}")


def is_const(x) -> bool:
    return isinstance(x, int)


def free_symbols(x) -> set:
    return set() if isinstance(x, int) else set(x.free_symbols)


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
    if _nonneg(e) or provably(e, ">= 0"):
        return floor_expr(e)
    if _nonpos(e) or provably(e, "<= 0"):
        return ceil_expr(e)
    # trunc(x) = floor(max(x, 0)) - floor(max(-x, 0))
    return norm(sympy.floor(dmax(e, 0)) - sympy.floor(dmax(norm(-e), 0)))


def _ge_const(e, k: int) -> bool:
    """e >= k for every size: structurally, else exactly with isl for small expressions."""
    if k <= 0 and _nonneg(e):
        return True
    if len(e.free_symbols) <= 3 and sympy.count_ops(e) <= 40:
        return provably(norm(e - k), ">= 0")
    return False


def _nonneg(e) -> bool:
    """Structural proof that e >= 0 (sympy does not see through floor/ceiling/max)."""
    if isinstance(e, int):
        return e >= 0
    if e.is_Number:
        return e >= 0
    if e.is_Symbol:
        return bool(e.is_nonnegative)
    if e.is_Add:
        return all(_nonneg(a) for a in e.args)
    if e.is_Mul:
        c, r = e.as_coeff_Mul()
        if c < 0:
            return _nonpos(r)
        return all(_nonneg(a) for a in sympy.Mul.make_args(r))
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        return _nonneg(e.args[0])
    if isinstance(e, sympy.Max):
        return any(_nonneg(a) for a in e.args)
    if isinstance(e, sympy.Min):
        return all(_nonneg(a) for a in e.args)
    return False


def _nonpos(e) -> bool:
    """Structural proof that e <= 0."""
    if isinstance(e, int):
        return e <= 0
    if e.is_Number:
        return e <= 0
    if e.is_Symbol:
        return bool(e.is_nonpositive)
    if e.is_Add:
        return all(_nonpos(a) for a in e.args)
    if e.is_Mul:
        c, r = e.as_coeff_Mul()
        if c < 0:
            return _nonneg(r)
        return not r.is_Mul and _nonpos(r)
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        return _nonpos(e.args[0])
    if isinstance(e, sympy.Max):
        return all(_nonpos(a) for a in e.args)
    if isinstance(e, sympy.Min):
        return any(_nonpos(a) for a in e.args)
    return False


@functools.lru_cache(maxsize=4096)
def provably(e, rel: str) -> bool:
    """Whether ``e rel`` holds for every size (symbols >= 1, data-dependent ones >= 0),
    decided exactly with isl when ``e`` is quasi-affine; False when undecidable."""
    try:
        import islpy as isl

        from .solve import IslPrinter, NonPresburger

        syms = sorted(e.free_symbols, key=lambda x: x.name)
        names = {x: f"v{i}" for i, x in enumerate(syms)}
        text = IslPrinter(names).expr(e)
        base = " and ".join(f"{names[x]} >= {0 if x.is_nonnegative and not x.is_positive else 1}"
                            for x in syms) or "1 = 1"
        neg = "<" if rel == ">= 0" else ">"
        bad = isl.Set(f"{{ [{', '.join(names.values())}] : {base} and {text} {neg} 0 }}")
        return bad.is_empty()
    except (NonPresburger, Exception):  # noqa: BLE001  undecidable means "not proven"
        return False


def is_integer_expr(e) -> bool:
    """Structural proof that e takes integer values (sympy's assumption system is far too
    slow on large shape expressions)."""
    if isinstance(e, int):
        return True
    if e.is_Integer:
        return True
    if e.is_Symbol:
        return bool(e.is_integer)
    if e.is_Add or e.is_Mul:
        return all(is_integer_expr(a) for a in e.args)
    if e.is_Pow:
        return is_integer_expr(e.base) and e.exp.is_Integer and e.exp >= 0
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        return True
    if isinstance(e, (sympy.Max, sympy.Min, sympy.Mod)):
        return all(is_integer_expr(a) for a in e.args)
    return False


def truncdiv_dim(a: Dim, b: int) -> Dim:
    """C integer division a / b toward zero (onnxruntime's int Div), b a nonzero int."""
    if isinstance(a, int):
        return truncdiv(a, b)
    if b < 0:
        return norm(-truncdiv_dim(a, -b))
    if _nonneg(sympy.sympify(a)):
        return floordiv(a, b)
    return norm(floordiv(dmax(a, 0), b) - floordiv(dmax(norm(-a), 0), b))


def mod(a: Dim, b: int) -> Dim:
    """a mod b (Python sign convention, b > 0)."""
    if isinstance(a, int) and isinstance(b, int):
        return a % b
    return norm(a - b * floordiv(a, b))


def _minmax(cls, xs) -> Dim:
    # sympy's own Min/Max evaluation compares every pair under assumptions, which costs
    # seconds on large shape graphs; these cheap rules keep the forms canonical enough
    flat = []
    for x in xs:
        x = norm(x)
        if isinstance(x, cls):
            flat.extend(norm(a) for a in x.args)
        else:
            flat.append(x)
    ints = [x for x in flat if isinstance(x, int)]
    exprs = []
    for x in flat:
        if not isinstance(x, int) and not any(x == y for y in exprs):
            exprs.append(x)
    pick = max if cls is sympy.Max else min
    if ints:
        k = pick(ints)
        if cls is sympy.Max and all(_ge_const(e, k) for e in exprs):
            ints = []  # max(k, e) == e when e >= k
        elif cls is sympy.Min and all(_ge_const(e, k) for e in exprs):
            return k  # min(k, e) == k when e >= k
        else:
            ints = [k]
    args = exprs + ints
    if not exprs:
        return ints[0]
    if len(args) == 1:
        return args[0]
    return cls(*args, evaluate=False)


def dmin(*xs: Dim) -> Dim:
    xs = [norm(x) for x in xs]
    if all(isinstance(x, int) for x in xs):
        return min(xs)
    return _minmax(sympy.Min, xs)


def dmax(*xs: Dim) -> Dim:
    xs = [norm(x) for x in xs]
    if all(isinstance(x, int) for x in xs):
        return max(xs)
    return _minmax(sympy.Max, xs)


def add(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    return norm(a + b)


def sub(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a - b
    return norm(a - b)


def mul(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
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


# ---- exact evaluation -----------------------------------------------------------------
# Dims are evaluated at concrete sizes millions of times (verification plans, the solver's
# cross-check), so each expression is compiled once to Python integer arithmetic: floor
# and ceil divisions become //, never floats.


def _py(e) -> str:
    if isinstance(e, int):
        return str(e)
    if e.is_Integer:
        return str(int(e))
    if e.is_Symbol:
        return f"env[{e.name!r}]"
    if e.is_Add:
        return "(" + " + ".join(_py(a) for a in e.args) + ")"
    if e.is_Mul:
        coeff, rest = e.as_coeff_Mul()
        if coeff.is_Integer:
            if coeff == 1:
                return "(" + " * ".join(_py(a) for a in sympy.Mul.make_args(rest)) + ")"
            return f"({int(coeff)} * " + " * ".join(
                _py(a) for a in sympy.Mul.make_args(rest)) + ")"
        raise ValueError(f"rational coefficient outside a floor: {e}")
    if e.is_Pow and e.exp.is_Integer and e.exp >= 0:
        return f"({_py(e.base)} ** {int(e.exp)})"
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        arg = sympy.expand(e.args[0])
        den = lcm_denominator(arg)
        num = sympy.expand(arg * den)
        if den == 1:
            return _py(num)
        if isinstance(e, sympy.floor):
            return f"(({_py(num)}) // {den})"
        return f"(-((-({_py(num)})) // {den}))"
    if isinstance(e, sympy.Mod):
        return f"(({_py(e.args[0])}) % ({_py(e.args[1])}))"
    if isinstance(e, sympy.Min):
        return "min(" + ", ".join(_py(a) for a in e.args) + ")"
    if isinstance(e, sympy.Max):
        return "max(" + ", ".join(_py(a) for a in e.args) + ")"
    raise ValueError(f"cannot compile {e}")


def lcm_denominator(e) -> int:
    """The lcm of the denominators of e's rational coefficients (e an affine sum)."""
    den = 1
    for term in sympy.Add.make_args(sympy.expand(e)):
        c, _ = term.as_coeff_Mul()
        if c.is_Rational:
            den = den * int(c.q) // math.gcd(den, int(c.q))
    return den


_COMPILED: dict = {}


def compile_dim(x: Dim):
    """A function env -> int (env maps symbol names to ints), exact integer arithmetic."""
    if isinstance(x, int):
        return lambda env, _v=x: _v
    f = _COMPILED.get(x)
    if f is None:
        try:
            f = eval(f"lambda env: {_py(x)}")  # noqa: S307  source built from sympy above
        except ValueError:
            f = None
        if f is None:
            def f(env, _x=x):
                return substitute(_x, env)
        _COMPILED[x] = f
    return f
