"""Reasoning under the conditions already known: what the walk has imposed so far.

Every condition a visited node imposed holds at every valid size (it stays in the domain),
so a rule may decide a case under them: at a size where one of them fails the model is
invalid whatever the rule says. A Reshape entry Slice(Conv(x))[:-1] "may be 0" only where
the Conv's output is already empty; min(0, T - 4) is 0 once T >= 5 is known.

Not used: conditions on data-dependent or float-derived sizes, and conditions of a node
whose outputs all have constant shapes (onnxruntime may fold such a node away, and the
walk then drops its conditions: shapes/engine.py's _folded_away).

Queries go to isl with the Presburger conditions on the expression's symbols; a
condition isl cannot state is left out (fewer facts: a weaker, still sound, answer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphshape import stats
from graphshape.arith import lazy
from graphshape.arith.dims import (
    Dim,
    ceil_expr,
    dmax,
    dmin,
    floor_expr,
    is_data_dependent,
    norm,
    sub,
)
from graphshape.arith.isl import IslPrinter, NonPresburger, isl_names, size_set
from graphshape.arith.prove import at_least
from graphshape.arith.terms import is_expr
from graphshape.loader.tensor import Tensor
from graphshape.shapes.constraints import AND, DIV, EQ, GE, OR, Constraint

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")

__all__ = ["at_least_given", "nonneg_given", "decide_minmax", "decided"]

# at most this many symbols in one query (isl's cost grows quickly with them)
MAX_SYMBOLS = 6


def _cond_text(c: Constraint, p: IslPrinter) -> str:
    if c.kind in (OR, AND):
        joiner = " or " if c.kind == OR else " and "
        return "(" + joiner.join(_cond_text(x, p) for x in c.parts) + ")"
    if c.kind in (EQ, GE):
        return p.relation(c.lhs, c.rhs, eq=c.kind == EQ)
    if c.kind == DIV:
        return f"(({p.expr(c.lhs)}) mod {int(c.rhs)} = 0)"
    raise NonPresburger(str(c.kind))


def _usable(view, c: Constraint) -> bool:
    if c.origin is None:
        return True
    node = view.node(c.origin.node)
    if node is None:
        return True
    outs = [view.tensor(o) for o in node.output if o]
    folded = bool(outs) and all(t is not None and t.shape is not None and
                                all(isinstance(d, int) for d in t.shape) for t in outs)
    return not folded


def _facts(view) -> list:
    """(condition, its symbols) for every usable known condition, the enclosing graphs'
    included; cached per view and extended as the walk goes on."""
    out = []
    v = view
    while v is not None:
        memo = v.cache.setdefault("known_facts", [0, []])
        conds = v.conditions
        for c in conds[memo[0]:]:
            syms = c.symbols()
            if not syms or any(is_data_dependent(s) for s in syms):
                continue
            if _usable(v, c):
                memo[1].append((c, frozenset(syms)))
        memo[0] = len(conds)
        out.extend(memo[1])
        v = v.parent
    return out


def _known_set(view, order: tuple, facts: list):
    """The isl set of sizes (over ``order``) where the known ``facts`` hold, built once per
    walk and symbol set and extended as facts arrive (one parse per fact, not per query)."""
    store = view.cache.setdefault("known_sets", {})
    entry = store.get(order)
    if entry is None:
        entry = [0, size_set(list(order)), IslPrinter(isl_names(list(order)))]
        store[order] = entry
    done, kset, p = entry
    for c, _ in facts[done:]:
        try:
            kset = kset.intersect(size_set(list(order), _cond_text(c, p)))
        except NonPresburger:
            continue  # a fact isl cannot state is left out (a weaker hypothesis)
        except Exception:  # noqa: BLE001  an isl failure drops the fact, never adds one
            continue
    entry[0], entry[1] = len(facts), kset.coalesce() if len(facts) > done else kset
    return entry[1], p


def _holds(view, e, rel: str) -> bool:
    """``e rel 0`` (rel '>=') at every size where the known conditions hold."""
    if view is None or isinstance(e, int):
        return False
    syms = set(e.free_symbols)
    if not syms or any(is_data_dependent(s) for s in syms):
        return False
    proved = view.cache.setdefault("proved", set())
    if e in proved:  # more conditions only prove more: a proof is kept for the walk
        return True
    order = tuple(sorted(syms, key=lambda x: x.name))
    if len(order) > MAX_SYMBOLS:
        return False
    facts = [(c, s) for c, s in _facts(view) if s <= syms]
    if not facts:
        return False  # nothing known beyond what the structural proofs used
    key = ("holds", e, rel, len(facts))
    hit = view.cache.get(key)
    if hit is not None:
        return hit
    ok = False
    try:
        kset, p = _known_set(view, order, facts)
        stats.COUNTERS["isl_proofs"] += 1
        ok = kset.intersect(size_set(list(order), f"({p.expr(e)}) < 0")).is_empty()
    except NonPresburger:
        ok = False
    except Exception:  # noqa: BLE001  an isl failure means "not proved", never "proved"
        ok = False
    view.cache[key] = ok
    if ok:
        proved.add(e)
    return ok


def nonneg_given(view, e: Dim) -> bool:
    """e >= 0 at every size where the known conditions hold."""
    e = norm(e)
    if isinstance(e, int):
        return e >= 0
    return at_least(e, 0, budget=True) or _holds(view, e, ">=")


def at_least_given(view, e: Dim, k: int) -> bool:
    """e >= k at every size where the known conditions hold. A product c*f1*...*fn with
    c >= k > 0 is >= k when every factor is >= 1 (under the known conditions): the
    flattened map h*w of a Conv whose output is known to be non-empty."""
    e = norm(e)
    if isinstance(e, int):
        return e >= k
    if at_least(e, k, budget=True):
        return True
    if e.is_Mul and _product_at_least_given(view, e, k):
        return True
    return _holds(view, norm(sub(e, k)), ">=")


def _product_at_least_given(view, e, k: int) -> bool:
    """Each factor >= 1, or <= -1 (the sign then flips: ceil(x/7) is built -floor(-x/7)),
    under the known conditions; the signed coefficient >= k."""
    c, r = e.as_coeff_Mul()
    if not c.is_Integer:
        return False
    c = int(c)
    for f in sympy.Mul.make_args(r):
        base, n = (f.base, int(f.exp)) if f.is_Pow and f.exp.is_Integer and f.exp > 0 \
            else (f, 1)
        if at_least_given(view, base, 1):
            continue
        if nonneg_given(view, norm(-base - 1)):  # <= -1
            c = c * (-1) ** n
            continue
        return False
    return c >= max(k, 1)


def decide_minmax(view, e: Dim) -> Dim:
    """e with each min/max whose winner the known conditions decide replaced by it
    (bottom up): max(0, T - 5) is T - 5 once T >= 5 is known. Exact wherever the known
    conditions hold, which is every valid size."""
    e = norm(e)
    if isinstance(e, int) or view is None or not e.has(sympy.Min, sympy.Max):
        return e
    key = ("minmax", e, view.condition_count())
    hit = view.cache.get(key)
    if hit is not None:
        return hit
    try:
        out = norm(_decide(view, e))
    except (ValueError, TypeError):  # a rational part (H/2 inside a floor) left as it was
        out = e
    view.cache[key] = out
    return out


def _decide(view, e):
    if not is_expr(e) or e.is_Atom or not e.has(sympy.Min, sympy.Max):
        return e
    args = [_decide(view, a) for a in e.args]
    if isinstance(e, (sympy.Min, sympy.Max)):
        keep = list(args)
        for a in args:
            others = [b for b in keep if b is not a]
            if not others:
                break
            # a wins a max when a >= b for every other b (a min: a <= b)
            wins = all(nonneg_given(view, norm(a - b) if isinstance(e, sympy.Max)
                                    else norm(b - a)) for b in others)
            if wins:
                return a
        if args == list(e.args):
            return e
        return dmax(*args) if isinstance(e, sympy.Max) else dmin(*args)
    if args == list(e.args):
        return e
    if isinstance(e, sympy.floor):
        return floor_expr(args[0])
    if isinstance(e, sympy.ceiling):
        return ceil_expr(args[0])
    if e.is_Add:
        return sympy.Add(*args)
    if e.is_Mul:
        return sympy.Mul(*args)
    return e.func(*args)


def _has_minmax(x) -> bool:
    return is_expr(x) and x.has(sympy.Min, sympy.Max)


def decided(view, t):
    """A rule's output Tensor with the min/max in its shape and small contents decided
    under the known conditions (decide_minmax); t itself when nothing changes."""
    if view is None or not isinstance(t, Tensor) or t.shape is None:
        return t
    shape = t.shape
    if any(_has_minmax(d) for d in shape):
        shape = tuple(decide_minmax(view, d) for d in shape)
    value = t.value
    if value is not None and any(_has_minmax(v) for v in value):
        value = tuple(decide_minmax(view, v) if _has_minmax(v) else v for v in value)
    if shape == t.shape and value == t.value:
        return t
    return Tensor(shape, t.dtype, value, t.bounds, t.origin)
