"""Conditions that hold at every size although isl cannot state them (products of sizes
inside min/max, sums of such terms): proved identically true by structure alone, so that
they neither leave the closed form nor make a domain inexact.

Detectors produce them by the dozen: TopK's ``k = min(1000, A) <= A`` with A the anchor
count (a sum of products of feature-map sides), a Reshape to [-1, 4] of 4*A elements
(``4 divides 4*A``), a Concat whose inputs have the same count written two ways. Each proof
here is an identity of integer arithmetic (min(x, ...) <= x, max(x, ...) >= x, equal
expansions, coefficients that are all multiples of m); anything else is "not proved", and
the condition is kept (checked point by point), never dropped.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import re
from typing import TYPE_CHECKING

from graphshape import stats
from graphshape.arith import lazy
from graphshape.arith.dims import add, lower_bound
from graphshape.arith.isl import (
    PROOF_OPERATIONS,
    IslPrinter,
    NonPresburger,
    isl_names,
    operations,
    size_set,
)
from graphshape.arith.prove import bounds, structural_nonneg
from graphshape.arith.terms import is_expr, norm
from graphshape.shapes.constraints import AND, DIV, EQ, GE, OR, Constraint

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")

__all__ = ["is_tautology", "always", "sometimes", "same_sets", "MAX_EXPAND_OPS",
           "definitions_in_scope", "negation"]

# expansion is an identity, but it can grow without bound: only below this size
MAX_EXPAND_OPS = 4000
_DEPTH = 6  # min/max nesting explored by _ge


def is_tautology(c: Constraint) -> bool:
    """Whether ``c`` holds for every value of its symbols (sizes >= 1, counts >= 0)."""
    if c.kind == OR:
        return any(is_tautology(p) for p in c.parts)
    if c.kind == AND:
        return all(is_tautology(p) for p in c.parts)
    if c.kind == GE:
        return _ge(c.lhs, c.rhs, _DEPTH)
    if c.kind == EQ:
        return _same(c.lhs, c.rhs)
    if c.kind == DIV:
        return _multiple(c.lhs, int(c.rhs))
    return False


def _expanded(e):
    if isinstance(e, int):
        return e
    if sympy.count_ops(e) > MAX_EXPAND_OPS:
        return None
    return norm(sympy.expand(e))


def _same(a, b) -> bool:
    if a == b:
        return True
    d = _difference(a, b)
    return d is not None and d == 0


def _difference(a, b):
    x, y = _expanded(a), _expanded(b)
    if x is None or y is None:
        return None
    return norm(sympy.sympify(x) - y) if not (isinstance(x, int) and isinstance(y, int)) \
        else x - y


def _multiple(e, m: int) -> bool:
    """m divides every coefficient (and the constant) of e once expanded."""
    x = _expanded(e)
    if x is None:
        return False
    if isinstance(x, int):
        return x % m == 0
    for t in sympy.Add.make_args(x):
        c, _ = t.as_coeff_Mul()
        if not c.is_Integer or int(c) % m:
            return False
    return True


def _ge(a, b, depth: int) -> bool:
    """a >= b for every value of the symbols, by min/max dominance and structure."""
    if a == b:
        return True
    raw = norm(sympy.sympify(a) - b)
    if isinstance(raw, int):
        return raw >= 0
    if structural_nonneg(raw) or bounds(raw)[0] >= 0:
        return True
    d = _difference(a, b)
    if d is not None and (isinstance(d, int) and d >= 0 or
                          not isinstance(d, int) and (structural_nonneg(d) or
                                                      bounds(d)[0] >= 0)):
        return True
    if depth <= 0:
        return False
    if isinstance(b, sympy.Min) and any(_ge(a, x, depth - 1) for x in b.args):
        return True
    if isinstance(a, sympy.Max) and any(_ge(x, b, depth - 1) for x in a.args):
        return True
    if isinstance(a, sympy.Min) and all(_ge(x, b, depth - 1) for x in a.args):
        return True
    if isinstance(b, sympy.Max) and all(_ge(a, x, depth - 1) for x in b.args):
        return True
    # a sum against a sum, term by term (a1 + a2 >= b1 + b2 when a1 >= b1 and a2 >= b2)
    if isinstance(a, sympy.Add) and isinstance(b, sympy.Add) and len(a.args) == len(b.args):
        left = list(a.args)
        for y in b.args:
            for i, x in enumerate(left):
                if _ge(x, y, depth - 1):
                    del left[i]
                    break
            else:
                return False
        return True
    # k*x >= k*y for a positive integer k
    if isinstance(a, sympy.Mul) and isinstance(b, sympy.Mul):
        ca, ra = a.as_coeff_Mul()
        cb, rb = b.as_coeff_Mul()
        if ca == cb and ca.is_Integer and int(ca) > 0 and (ra, rb) != (a, b):
            return _ge(ra, rb, depth - 1)
    return False


# past this many symbols, sums of counts are abstracted before isl is asked (see _abstract)
MAX_ISL_SYMBOLS = 8


# a condition under definitions case-splits on each (a clamp: 2 cases, each min/max more):
# isl gets ten times the budget of a plain proof (measured: 0.05 s for a pasted mask's
# height, which needs 1,000,000)
DEFINITION_OPERATIONS = 10 * PROOF_OPERATIONS

# the walk's defined counts (symbol -> the condition defining it: a slice bound read at
# run time, clamped to its axis): set for the length of one analysis's walk (its symbols
# are its own), read by always(); see definitions_in_scope
_DEFINITIONS: contextvars.ContextVar = contextvars.ContextVar("definitions", default=None)


@contextlib.contextmanager
def definitions_in_scope(definitions: dict):
    """always() decides conditions on the counts in ``definitions`` (symbol -> Constraint)
    for the values their definitions allow, within this block."""
    token = _DEFINITIONS.set(definitions)
    try:
        yield
    finally:
        _DEFINITIONS.reset(token)


def always(c: Constraint, definitions: dict | None = None) -> bool:
    """Whether ``c`` holds for every value of its symbols: structurally (is_tautology), else
    exactly with isl when it is Presburger (within PROOF_OPERATIONS). False: not proved.
    A count with a definition (``definitions``, else those in scope) takes only the values
    its definition allows."""
    if is_tautology(c):
        return True
    defs = _DEFINITIONS.get() if definitions is None else definitions
    if defs and not c.symbols().isdisjoint(defs) and _always_given(c, defs):
        return True
    if len(c.symbols()) <= MAX_ISL_SYMBOLS and _isl_always(c):
        return True
    a = _abstract_constraint(c, {})
    if a == c:
        return False
    return is_tautology(a) or (len(a.symbols()) <= MAX_ISL_SYMBOLS and _isl_always(a))


def _always_given(c: Constraint, defs: dict) -> bool:
    """``c`` for every value meeting the definitions of the defined counts in it (and of
    those their definitions name): "not (definitions) or c" for every value. An OR holds
    where one of its parts does, an AND where each does: decided part by part first (each
    with fewer symbols for isl), then whole."""
    if c.kind == OR and any(_always_given(p, defs) for p in c.parts
                            if not p.symbols().isdisjoint(defs)):
        return True
    if c.kind == AND and all(always(p, definitions=defs) for p in c.parts):
        return True
    found: list = []
    todo = [s for s in c.symbols() if s in defs]
    seen: set = set()
    while todo:
        s = todo.pop()
        if s in seen:
            continue
        seen.add(s)
        found.append(defs[s])
        todo.extend(x for x in defs[s].symbols() if x in defs)
    neg = [negation(d) for d in found]
    if not found or any(n is None for n in neg):
        return False
    whole = Constraint.any_of(neg + [c])
    return is_tautology(whole) or (len(whole.symbols()) <= MAX_ISL_SYMBOLS and
                                   _isl_always(whole, DEFINITION_OPERATIONS))


def negation(c: Constraint):
    """The condition that holds exactly where ``c`` fails (integers), or None (DIV)."""
    if c.kind == EQ:
        return Constraint.any_of([Constraint.ge(c.lhs, add(c.rhs, 1)),
                                  Constraint.ge(c.rhs, add(c.lhs, 1))])
    if c.kind == GE:
        return Constraint.ge(c.rhs, add(c.lhs, 1))
    if c.kind in (AND, OR):
        parts = [negation(p) for p in c.parts]
        if any(p is None for p in parts):
            return None
        return Constraint.any_of(parts) if c.kind == AND else Constraint.all_of(parts)
    return None


def sometimes(c: Constraint) -> bool:
    """Whether some value of ``c``'s symbols (each in its range: >= 1, or >= 0 where it may
    be empty) satisfies it, proved exactly with isl. False: not proved (non-Presburger, too
    many symbols, or isl's budget spent) or unsatisfiable."""
    if len(c.symbols()) > MAX_ISL_SYMBOLS:
        return False
    return _isl_decide(c, negate=False) is False


def same_sets(a: Constraint, b: Constraint | str) -> bool:
    """Whether ``a`` holds exactly where ``b`` does (over ``a``'s symbols), proved with
    isl. ``b`` may be isl text over isl_names of those symbols, each name ``{s.name}``
    written as ``{s}``. False: not proved."""
    syms = sorted(a.symbols(), key=lambda x: x.name)
    if not syms or len(syms) > MAX_ISL_SYMBOLS:
        return False
    if not isinstance(b, str) and not b.symbols() <= set(syms):
        return False
    names = isl_names(syms)
    printer = IslPrinter(names)
    try:
        ta = _text(a, printer)
        tb = _text(b, printer) if not isinstance(b, str) else b.format(
            **{s.name: names[s] for s in syms})
    except NonPresburger:
        return False
    stats.COUNTERS["isl_proofs"] += 1
    try:
        with operations(PROOF_OPERATIONS):
            return size_set(syms, ta).is_equal(size_set(syms, tb))
    except Exception:  # noqa: BLE001  an isl failure means "not proved"
        return False


def _isl_always(c: Constraint, budget: int = PROOF_OPERATIONS) -> bool:
    return _isl_decide(c, negate=True, budget=budget) is True


def _isl_decide(c: Constraint, negate: bool, budget: int = PROOF_OPERATIONS) -> bool | None:
    """Whether the set of values where ``c`` fails (negate) or holds (not negate) is empty;
    None where isl cannot say."""
    syms = sorted(c.symbols(), key=lambda x: x.name)
    if not syms:
        return bool(c.constant_truth()) is negate
    printer = IslPrinter(isl_names(syms))
    try:
        text = _text(c, printer)
    except NonPresburger:
        return None
    text, syms = _canonical(text, syms)
    key = (text, negate, budget, tuple(lower_bound(s) for s in syms))
    if key in _DECIDED:  # the same question (a loop body walked again, a condition
        return _DECIDED[key]  # asked of each of its uses): isl's answer once
    stats.COUNTERS["isl_proofs"] += 1
    try:
        with operations(budget):
            found = size_set(syms, f"not {text}" if negate else text).is_empty()
    except Exception:  # noqa: BLE001  an isl failure means "not proved"
        found = None
    if len(_DECIDED) >= 4096:
        _DECIDED.clear()
    _DECIDED[key] = found
    return found


_VAR = re.compile(r"\bv(\d+)\b")


def _canonical(text: str, syms: list) -> tuple:
    """``text`` with its variables renumbered in order of first appearance, and the symbols
    in that order: one question asked of W as of H (a detector pastes rows as it pastes
    columns) reads the same and is answered once."""
    order: list = []
    for m in _VAR.finditer(text):
        i = int(m.group(1))
        if i not in order:
            order.append(i)
    order += [i for i in range(len(syms)) if i not in order]
    if order == list(range(len(syms))):
        return text, syms
    new = {old: k for k, old in enumerate(order)}
    return (_VAR.sub(lambda m: f"v{new[int(m.group(1))]}", text),
            [syms[old] for old in order])


# isl's answers by question: the condition's text over v0, v1, ... (the symbols in name
# order), which way it is asked, the operation budget and each symbol's least value (1 for
# a size, 0 for a count): everything the answer depends on
_DECIDED: dict = {}


def _text(c: Constraint, p: IslPrinter) -> str:
    if c.kind in (OR, AND):
        j = " or " if c.kind == OR else " and "
        return "(" + j.join(_text(x, p) for x in c.parts) + ")"
    if c.kind in (EQ, GE):
        return p.relation(c.lhs, c.rhs, eq=c.kind == EQ)
    return f"(({p.expr(c.lhs)}) mod {int(c.rhs)} = 0)"


def _abstract_constraint(c: Constraint, names: dict) -> Constraint:
    if c.kind in (OR, AND):
        return Constraint(c.kind, parts=tuple(_abstract_constraint(p, names) for p in c.parts))
    return Constraint(c.kind, _abstract(c.lhs, names), c.rhs if c.kind == DIV else
                      _abstract(c.rhs, names))


def _is_count(s) -> bool:
    return bool(s.is_nonnegative) and not s.is_positive


def _abstract(e, names: dict):
    """e with every sum of three or more terms over counts alone (a concatenation of
    per-class detections: min(300, dd1) + ... + min(300, dd90)) replaced by one fresh count
    standing for it, the same one wherever the same sum (up to an integer factor) occurs.
    For a claim about every value of the symbols this is sound: the sum takes only values
    >= 0 that the fresh count also takes (it forgets how the sum relates to its terms,
    so a proof may fail, never succeed wrongly). 90 branches then cost one variable."""
    if isinstance(e, int) or not is_expr(e) or e.is_Atom:
        return e
    if e.is_Add:
        terms = [t for t in e.args if t.free_symbols and all(_is_count(x)
                                                             for x in t.free_symbols)]
        coeffs = [t.as_coeff_Mul()[0] for t in terms]
        total = sympy.Add(*terms)
        sign = 1
        if len(terms) >= 3 and all(c.is_Integer and c < 0 for c in coeffs):
            total, coeffs, sign = norm(-total), [-c for c in coeffs], -1
        if len(terms) >= 3 and all(c.is_Integer for c in coeffs) and structural_nonneg(total):
            g = 0
            for c in coeffs:
                g = math.gcd(g, int(c))
            prim = norm(sympy.expand(total / g)) if g > 1 else total
            v = names.get(prim)
            if v is None:
                v = sympy.Symbol(f"sum{len(names) + 1}", integer=True, nonnegative=True)
                names[prim] = v
            rest = [_abstract(t, names) for t in e.args if t not in terms]
            return norm(sympy.Add(sign * g * v, *rest))
    args = [_abstract(a, names) for a in e.args]
    if all(a is b for a, b in zip(args, e.args)):
        return e
    return norm(e.func(*args, evaluate=False)) if isinstance(e, (sympy.Min, sympy.Max)) \
        else norm(e.func(*args))
