"""Constraints -> Domain, exactly, with isl.

Quasi-affine conditions (integer linear terms, floor/ceil by constants, mod, min/max,
and/or) are Presburger and go to isl as they are. Products of symbolic factors are split
exactly before isl sees them:
    c * f1 * ... * fn == K   ->  one case per signed ordered factorisation of K/c
    c * f1 * ... * fn == 0   ->  f1 == 0 or ... or fn == 0
    f * g % m == 0           ->  one case per divisor d of m: f % d == 0 and g % (m/d) == 0
(the last holds because with d = gcd(f, m), m/d divides (f/d)*g and is coprime to f/d).
Those divisor cases overlap (they read well: "W % 12 == 0 or H even and W % 6 == 0 ...").
When several split conditions meet, their cases multiply (three Reshapes of MobileViT via
dynamo: 28 x 15 x 6 = 2,520 overlapping basic sets, a minute of isl coalescing), so past
MAX_JOINT_DISJUNCTS the joint set is computed from the disjoint form of the same split,
gcd(f, m) == d exactly (f % d == 0 and f % (d*p) != 0 for each prime p of m/d), one
condition at a time: a case of one condition that contradicts a case of another (B % 4 == 0
exactly against B odd) is dropped by isl at the intersection, and the survivors are few.
Both forms are the same set; each condition keeps its overlapping text.
A condition that is still not Presburger (a product compared with a product, a product
inside a floor) is kept out of the closed form, evaluated exactly point by point by
Domain.contains, and listed as such: never silently approximated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import sympy

from graphshape import stats
from graphshape.arith import memo
from graphshape.arith.dims import factored
from graphshape.arith.isl import Error as IslError
from graphshape.arith.isl import IslPrinter, NonPresburger, isl_names, size_set
from graphshape.arith.prove import nonneg
from graphshape.arith.terms import norm
from graphshape.domain.float_eval import FloatPart, solve_floats
from graphshape.domain.products import pair_products
from graphshape.shapes.constraints import AND, DIV, EQ, GE, OR, Constraint, dedupe
from graphshape.shapes.quotients import linearize
from graphshape.shapes.tautology import is_tautology

__all__ = ["Condition", "Solved", "solve", "MAX_CASES",
           "MAX_SPLIT_PRODUCT_BOUND", "MAX_JOINT_DISJUNCTS", "NonPresburger"]

MAX_CASES = 600  # beyond this a split is kept out of the closed form (checked per point)
# past this product of the split conditions' disjunct counts, the joint set is built from
# disjoint divisor cases, one condition at a time (see the module docstring); at or below
# it, from every condition's text at once, as written
MAX_JOINT_DISJUNCTS = 64
# "P <= t" for a product P is split into one case per value 0..t: past this bound the
# condition is kept out of the closed form instead (checked point by point)
MAX_SPLIT_PRODUCT_BOUND = 4096


@dataclass
class Condition:
    """One distinct condition with every origin that imposes it."""

    constraint: Constraint
    origins: list
    isl_text: str | None = None  # None: not Presburger (checked point by point)
    moduli: set = field(default_factory=set)
    # a condition on derived sizes (float32 programs of the sizes): its isl text over the
    # sizes and the derived sizes (float_eval.FloatPart decides it); isl_text is None
    float_text: str | None = None


@lru_cache(maxsize=4096)
def _divisors(n: int) -> tuple:
    n = abs(n)
    small, large = [], []
    i = 1
    while i * i <= n:
        if n % i == 0:
            small.append(i)
            if i * i != n:
                large.append(n // i)
        i += 1
    return tuple(small + large[::-1])


@lru_cache(maxsize=4096)
def _primes(n: int) -> tuple:
    out, p = [], 2
    while p * p <= n:
        if n % p == 0:
            out.append(p)
            while n % p == 0:
                n //= p
        p += 1
    return tuple(out + ([n] if n > 1 else []))


def _factorisations(k: int, n: int, signed: bool):
    """Ordered n-tuples of integers whose product is k (k != 0)."""
    if n == 1:
        yield (k,)
        return
    for d in _divisors(k):
        for sign in ((1, -1) if signed else (1,)):
            for rest in _factorisations(k // (sign * d), n - 1, signed):
                yield (sign * d,) + rest


def _product_form(expr):
    """expr == c * prod(factors) with every factor free of products, or None."""
    e = factored(expr)
    coeff, rest = e.as_coeff_Mul()
    if not coeff.is_Integer:
        return None
    factors = []
    for f in sympy.Mul.make_args(rest):
        if f.is_Pow and f.exp.is_Integer and f.exp > 0:
            factors.extend([f.base] * int(f.exp))
        else:
            factors.append(f)
    if len([f for f in factors if f.free_symbols]) < 2:
        return None
    coeff = int(coeff)
    for i, f in enumerate(factors):  # a factor <= 0 (ceil(x/7) built -floor(-x/7)): -f >= 0
        if f.free_symbols and not nonneg(f) and nonneg(norm(-f)):
            factors[i], coeff = norm(-f), -coeff
    return coeff, factors


class ConditionPrinter:
    def __init__(self, printer: IslPrinter, disjoint: bool = False):
        self.p = printer
        self.cases = 0
        self.disjoint = disjoint  # divisor cases as gcd(f, m) == d exactly (_div_product)

    def cond(self, c: Constraint) -> str:
        # a condition on c // d (a constant over a size), a product equal to a product
        lin = linearize(c) or pair_products(c)
        if lin is not None:
            return self.cond(lin)
        if c.kind == OR:
            return "(" + " or ".join(self.cond(x) for x in c.parts) + ")"
        if c.kind == AND:
            return "(" + " and ".join(self.cond(x) for x in c.parts) + ")"
        try:
            return self._atomic(c)
        except NonPresburger:
            return self._split(c)

    def _atomic(self, c: Constraint) -> str:
        a, b = self.p.expr(c.lhs), self.p.expr(c.rhs)
        if c.kind == EQ:
            return f"({a} = {b})"
        if c.kind == GE:
            return f"({a} >= {b})"
        if c.kind == DIV:
            self.p.moduli.add(int(c.rhs))
            return f"(({a}) mod {int(c.rhs)} = 0)"
        raise NonPresburger(c.kind)

    def _split(self, c: Constraint) -> str:
        if c.kind == EQ:
            diff = sympy.sympify(c.lhs) - sympy.sympify(c.rhs)
            # a*N == b*N with N a positive input dim: N cancels (Reshape [N, -1] checks)
            ft = factored(diff)
            if ft.is_Mul:
                keep = [f for f in ft.args if not (f.is_Symbol and f.is_positive)]
                if len(keep) < len(ft.args):
                    rest = sympy.Mul(*keep)
                    return self.cond(Constraint.eq(rest, 0))
            const, rest = diff.as_coeff_Add()
            form = _product_form(rest)
            if form is None:
                raise NonPresburger(f"not a product of affine factors: {c}")
            coeff, factors = form
            target = -int(const)
            if target == 0:
                return "(" + " or ".join(f"({self.p.expr(f)} = 0)" for f in factors) + ")"
            if target % coeff:
                return "(1 = 0)"
            target //= coeff
            signed = not all(self._nonneg(f) for f in factors)
            if target < 0 and not signed:
                return "(1 = 0)"
            alts = self._cases(factors, target, signed)
            return "(" + " or ".join(alts) + ")" if alts else "(1 = 0)"
        if c.kind == DIV:
            form = _product_form(c.lhs)
            if form is None:
                raise NonPresburger(f"not a product of affine factors: {c}")
            coeff, factors = form
            m = int(c.rhs) // math.gcd(int(c.rhs), abs(coeff))
            if m == 1:
                return "(1 = 1)"
            return self._div_product(factors, m)
        if c.kind == GE:
            return self._ge_product(c)
        raise NonPresburger(f"a product in an inequality: {c}")

    def _ge_product(self, c: Constraint) -> str:
        """a + b*F >= 0 with F = P or floor(P/m), P a product of non-negative factors:
        bound F, turn it into a bound on P, and write P <= t as P in {0..t} (each value a
        factorisation case), P >= t as its negation."""
        diff = sympy.sympify(c.lhs) - sympy.sympify(c.rhs)
        a, rest = diff.as_coeff_Add()
        b, f = rest.as_coeff_Mul()
        if not (a.is_Integer and b.is_Integer) or b == 0:
            raise NonPresburger(f"a product in an inequality: {c}")
        a, b = int(a), int(b)
        m = 1
        if isinstance(f, sympy.floor):
            num, den = sympy.fraction(sympy.together(f.args[0]))
            if not den.is_Integer:
                raise NonPresburger(f"a product in an inequality: {c}")
            f, m = sympy.expand(num) if num.is_Add else num, int(den)
        form = _product_form(f)
        if form is None or form[0] != 1:
            raise NonPresburger(f"a product in an inequality: {c}")
        factors = form[1]
        for fac in factors:
            if not self._nonneg(fac):
                raise NonPresburger(f"a product of possibly negative factors: {c}")
        if b > 0:  # F >= ceil(-a/b)  ->  P >= m*t
            t = -((a) // b)
            lo = m * t
            if lo <= 0:
                return "(1 = 1)"
            return "(not " + self._product_at_most(factors, lo - 1) + ")"
        t = a // (-b)  # F <= t  ->  P <= m*t + m - 1
        if t < 0:
            return "(1 = 0)"
        return self._product_at_most(factors, m * t + m - 1)

    def _product_at_most(self, factors, t: int) -> str:
        if t > MAX_SPLIT_PRODUCT_BOUND:
            raise NonPresburger("product bound too large to split")
        alts = ["(" + " or ".join(f"({self.p.expr(f)} = 0)" for f in factors) + ")"]
        for k in range(1, t + 1):
            alts += self._cases(factors, k, signed=False)
        return "(" + " or ".join(alts) + ")"

    def _cases(self, factors, k: int, signed: bool) -> list:
        """One conjunction 'f1 = d1 and f2 = d2 ...' per factorisation of k."""
        out = []
        for tup in _factorisations(k, len(factors), signed=signed):
            self.cases += 1
            if self.cases > MAX_CASES:
                raise NonPresburger("too many factorisation cases")
            out.append("(" + " and ".join(
                f"{self.p.expr(f)} = {v}" for f, v in zip(factors, tup)) + ")")
        return out

    @staticmethod
    def _nonneg(f) -> bool:
        return nonneg(f)

    def _div_product(self, factors, m) -> str:
        if m == 1:
            return "(1 = 1)"
        f = factors[0]
        fx = self.p.expr(f)
        if len(factors) == 1:
            self.p.moduli.add(m)
            return f"(({fx}) mod {m} = 0)"
        alts = []
        for d in _divisors(m):
            self.cases += 1
            if self.cases > MAX_CASES:
                raise NonPresburger("too many divisor cases")
            self.p.moduli.add(d)
            head = "(1 = 1)" if d == 1 else f"(({fx}) mod {d} = 0)"
            if self.disjoint:  # gcd(f, m) == d: no prime of m/d divides f/d
                head = " and ".join([head] + [
                    f"(({fx}) mod {d * p} > 0)" for p in _primes(m // d)])
            alts.append(f"({head} and {self._div_product(factors[1:], m // d)})")
        return "(" + " or ".join(alts) + ")"


@dataclass
class Solved:
    isl_set: object  # isl.Set over the input symbols (Presburger part)
    symbols: list  # sympy Symbols, in isl order
    conditions: list  # Condition, all distinct ones
    inexact: list  # Conditions outside the closed form (checked point by point)
    moduli: set
    raw: object = None  # the set as parsed, one basic set per disjunct (before coalescing)
    floats: FloatPart | None = None  # conditions on derived sizes (float32 programs)


def solve(constraints, symbols, derived=()) -> Solved:
    """``derived``: float32.Derived sizes the constraints may mention (float_eval)."""
    memo.install()
    names = isl_names(symbols)
    dsyms = {d.symbol for d in derived}
    ext_names = isl_names(list(symbols) + [d.symbol for d in derived])
    conditions = []
    inexact: list = []
    closed = []  # the conditions in closed form, in order
    split = []  # those of them split into cases
    fclosed: list = []  # conditions on derived sizes in Presburger arithmetic
    fpoint: list = []  # and those outside it (evaluated size by size)
    moduli: set = set()
    stats.COUNTERS["conditions"] += len(constraints)
    for c, also in dedupe(constraints):
        on_derived = bool(dsyms) and bool(c.symbols() & dsyms)
        printer = IslPrinter(ext_names if on_derived else names)
        cp = ConditionPrinter(printer)
        cond = Condition(c, [c.origin] + [o for o in also if o is not None])
        try:
            text = cp.cond(c)
            if on_derived:
                cond.float_text = text
                fclosed.append(cond)
            else:
                cond.isl_text = text
                cond.moduli = printer.moduli
                moduli |= printer.moduli
                closed.append(cond)
                if cp.cases:
                    split.append(cond)
        except NonPresburger:
            if is_tautology(c):
                continue  # an identity (min(1000, A) <= A): never rejects a size
            (fpoint if on_derived else inexact).append(cond)
        conditions.append(cond)
    try:
        s, raw = _joint_set(symbols, names, closed, split)
    except IslError as e:  # a printer bug must never turn into a wrong answer
        raise RuntimeError(f"isl rejected the condition set: {e}") from None
    floats = None
    if fclosed or fpoint:
        floats = solve_floats([_with_text(c) for c in fclosed], fpoint, list(symbols),
                              list(derived))
        floats.plain = _simplify(s)
        s = s.intersect(floats.outer)
        raw = None
    s = _simplify(s)
    return Solved(s, list(symbols), conditions, inexact, moduli, raw, floats)


def _with_text(cond: Condition):
    """A view of a derived-size condition with its isl text (for float_eval)."""
    return _Texted(cond.constraint, cond.float_text)


@dataclass
class _Texted:
    constraint: Constraint
    isl_text: str | None


def _joint_set(symbols, names, conds, split):
    """(the set where every condition holds, the same set one basic set per disjunct or
    None). ``conds``: every condition in closed form; ``split``: those split into cases."""
    width = 1
    if len(split) > 1:
        for cond in split:
            width *= size_set(symbols, cond.isl_text).n_basic_set()
    if width <= MAX_JOINT_DISJUNCTS:
        s = size_set(symbols, " and ".join(c.isl_text for c in conds) or "1 = 1")
        return s, s
    cased = {id(c) for c in split}
    plain = [c for c in conds if id(c) not in cased]
    s = size_set(symbols, " and ".join(c.isl_text for c in plain) or "1 = 1")
    raw = s
    parts = []
    for cond in split:
        cp = ConditionPrinter(IslPrinter(names), disjoint=True)
        parts.append(size_set(symbols, cp.cond(cond.constraint)))
    for part in sorted(parts, key=lambda p: p.n_basic_set()):
        if raw is not None:
            raw = raw.intersect(part)
            if raw.n_basic_set() > MAX_JOINT_DISJUNCTS:
                raw = None  # too many to read as boxes (periodic.decompose_boxes)
        s = s.intersect(part).coalesce()
    return s, raw


def _simplify(s):
    s = s.coalesce()
    s = s.detect_equalities()
    s = s.remove_redundancies() if hasattr(s, "remove_redundancies") else s
    return s.coalesce()
