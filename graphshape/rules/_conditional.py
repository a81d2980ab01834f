"""Element bounds of a Where's branches under its condition.

T5's relative-position buckets pick ``where(|r| < 8, |r|, min(8 + int(log(|r| / 8) / log(16)
* 8), 15))``: the second branch is garbage where |r| < 8 (the log of 0 is -inf), but Where
takes it only where |r| >= 8, and there it is 8..15. When a Where's condition compares a
tensor A with a constant (Less, LessOrEqual, Greater, GreaterOrEqual, Not of one), each
branch is re-evaluated as an interval over its producers with A's range cut to the side the
branch is taken on.

Intervals are pairs (lo, hi); an end is an exact value (an int, a sympy Rational or an
integer-valued dim) or None (unbounded, or not known exactly). Only operations whose float32
result is exactly the real one are followed with exact ends: +, - and * by integers, / by a
power of two, 0 * c and 0 / c, log(1) = 0, Min/Max, Abs, Neg, Floor/Ceil, casts (truncation
toward zero); anything else drops the end to None. The standing assumption of the
elementwise rules holds here too: integer values are exact in float32 (below 2**24).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphshape.arith import lazy
from graphshape.arith.dims import add, dmax, dmin, norm, provably, sub, trunc_expr
from graphshape.arith.prove import Rel
from graphshape.arith.terms import is_expr
from graphshape.loader.tensor import INTEGER_TYPES, Bounds
from graphshape.rules._ranges import bounds_of, uniform_value

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")

__all__ = ["where_bounds"]

_MAX_DEPTH = 24
_COMPARE = {"Less", "LessOrEqual", "Greater", "GreaterOrEqual"}
_SAME = {"Identity", "Unsqueeze", "Squeeze", "Reshape", "Transpose", "Expand", "Flatten",
         "Dropout"}


def _num(v):
    """An exact number (int or sympy Rational) for a float/int constant, else None."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return None
        r = sympy.Rational(v)
        return int(r) if r.is_Integer else r
    if is_expr(v):
        return norm(v) if v.is_Integer else v
    return None


def _le(a, b) -> bool:
    """a <= b proved (None never compares)."""
    if a is None or b is None:
        return False
    d = norm(sympy.sympify(b) - a)
    if isinstance(d, int):
        return d >= 0
    if d.is_Number:
        return bool(d >= 0)
    return provably(d, Rel.NONNEG)


def _pick(a, b, low: bool):
    """min (low) / max of two ends, None when either is unknown or the order is not proved."""
    if a is None or b is None:
        return None
    if _le(a, b):
        return a if low else b
    if _le(b, a):
        return b if low else a
    if _is_dim(a) and _is_dim(b):
        return dmin(a, b) if low else dmax(a, b)
    return None


def _is_dim(v) -> bool:
    return isinstance(v, int) or (is_expr(v) and not v.is_Number)


def _pow2(c) -> bool:
    c = sympy.Rational(c)
    n, d = abs(int(c.p)), int(c.q)
    return n > 0 and (n & (n - 1)) == 0 and (d & (d - 1)) == 0


def _times(v, c):
    """v * c exactly as float32 computes it, or None."""
    if v is None:
        return None
    if v == 0:
        return 0
    c = sympy.Rational(c)
    if c.is_Integer or _pow2(c):
        return norm(sympy.sympify(v) * c)
    return None


def _over(v, c):
    """v / c exactly as float32 computes it, or None (c != 0)."""
    if v is None:
        return None
    if v == 0:
        return 0
    c = sympy.Rational(c)
    if _pow2(c) or c in (1, -1):
        return norm(sympy.sympify(v) / c)
    return None


def _unknown():
    return (None, None)


def _const_interval(t):
    """The interval of a tensor whose contents are known, or None."""
    if t is None or t.value is None or not t.value:
        return None
    vals = [_num(v) for v in set(t.value)]
    if any(v is None for v in vals):
        return None
    lo, hi = vals[0], vals[0]
    for v in vals[1:]:
        lo, hi = _pick(lo, v, True), _pick(hi, v, False)
    return lo, hi


def interval(ctx, name: str, env: dict, depth: int = 0):
    """(lo, hi) of the elements of value ``name``, the values in ``env`` held to their
    intervals there."""
    if name in env:
        return env[name]
    view = ctx.graph
    t = view.tensor(name)
    known = _const_interval(t)
    if known is not None:
        return known
    node = view.producer(name)
    if node is None or depth > _MAX_DEPTH or node.domain not in ("", "ai.onnx"):
        return _from_bounds(ctx, t)
    op = node.op_type
    ins = list(node.input)

    def sub_iv(i):
        return interval(ctx, ins[i], env, depth + 1) if i < len(ins) and ins[i] else _unknown()

    if op in _SAME:
        return sub_iv(0)
    if op == "Cast":
        lo, hi = sub_iv(0)
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if to in INTEGER_TYPES:
            lo = None if lo is None else trunc_expr(lo)
            hi = None if hi is None else trunc_expr(hi)
        return lo, hi
    if op in ("Floor", "Ceil"):
        lo, hi = sub_iv(0)
        f = sympy.floor if op == "Floor" else sympy.ceiling
        return (None if lo is None else norm(f(lo)), None if hi is None else norm(f(hi)))
    if op == "Neg":
        lo, hi = sub_iv(0)
        return (None if hi is None else norm(-sympy.sympify(hi)),
                None if lo is None else norm(-sympy.sympify(lo)))
    if op == "Abs":
        lo, hi = sub_iv(0)
        if _le(0, lo):
            return lo, hi
        if _le(hi, 0):
            return norm(-sympy.sympify(hi)), (None if lo is None else norm(-sympy.sympify(lo)))
        big = None if lo is None or hi is None else _pick(norm(-sympy.sympify(lo)), hi, False)
        return 0, big
    if op == "Log":
        lo, hi = sub_iv(0)
        return (0 if lo == 1 else None), (0 if hi == 1 else None)
    if op in ("Min", "Max") and len(ins) == 2:
        (a, b), (c, d) = sub_iv(0), sub_iv(1)
        low = op == "Min"
        if low:  # min: lo needs both lows, hi is either high
            return _pick(a, c, True), _either(b, d, True)
        return _either(a, c, False), _pick(b, d, False)
    if op in ("Add", "Sub", "Mul", "Div") and len(ins) == 2:
        return _binary(ctx, op, ins, sub_iv)
    if op == "Where" and len(ins) == 3:
        x = where_interval(ctx, node, env, depth + 1)
        if x is not None:
            return x
    return _from_bounds(ctx, t)


def _either(a, b, low: bool):
    """The hi of a min (low) or the lo of a max: bounded when either operand is."""
    if a is None:
        return b
    if b is None:
        return a
    return _pick(a, b, low)


def _from_bounds(ctx, t):
    b = bounds_of(ctx, t) if t is not None else None
    if b is None:
        return _unknown()
    return b.lo, b.hi


def _binary(ctx, op, ins, sub_iv):
    view = ctx.graph
    ca = _num(uniform_value(view.tensor(ins[0]))) if ins[0] else None
    cb = _num(uniform_value(view.tensor(ins[1]))) if ins[1] else None
    if ca is not None and cb is not None:
        return _unknown()  # both constant: the value rules know it already
    if cb is not None:
        lo, hi = sub_iv(0)
        c, left = cb, False
    elif ca is not None:
        lo, hi = sub_iv(1)
        c, left = ca, True
    else:
        (a, b), (x, y) = sub_iv(0), sub_iv(1)
        if op == "Add":
            return (None if a is None or x is None else add(a, x),
                    None if b is None or y is None else add(b, y))
        if op == "Sub":
            return (None if a is None or y is None else sub(a, y),
                    None if b is None or x is None else sub(b, x))
        return _unknown()
    if not isinstance(c, int) and not (is_expr(c) and c.is_Rational):
        return _unknown()  # a symbolic operand: left to the value rules
    if op == "Add":
        return (None if lo is None else _plus(lo, c), None if hi is None else _plus(hi, c))
    if op == "Sub":
        if left:  # c - x: decreasing
            return (None if hi is None else _plus(norm(-sympy.sympify(hi)), c),
                    None if lo is None else _plus(norm(-sympy.sympify(lo)), c))
        return (None if lo is None else _plus(lo, -c), None if hi is None else _plus(hi, -c))
    if op == "Mul":
        a, b = _times(lo, c), _times(hi, c)
        return (a, b) if c >= 0 else (b, a)
    if op == "Div" and not left and c != 0:
        a, b = _over(lo, c), _over(hi, c)
        return (a, b) if c > 0 else (b, a)
    return _unknown()


def _plus(v, c):
    """v + c, exact when c is an integer (float32 adds integers exactly below 2**24)."""
    if sympy.Rational(c).is_Integer:
        return add(v, int(c))
    return None


def _cut(ctx, node, negate: bool):
    """(the compared value's name, its interval on the side the condition is true (or,
    ``negate``, false)), or None when the condition is not a comparison with a constant."""
    view = ctx.graph
    op = node.op_type
    if op not in _COMPARE or len(node.input) != 2:
        return None
    a, b = node.input
    ca = _num(uniform_value(view.tensor(a)))
    cb = _num(uniform_value(view.tensor(b)))
    if (ca is None) == (cb is None):
        return None
    name, c = (a, cb) if cb is not None else (b, ca)
    if cb is None:  # c op x: mirror to x op' c
        op = {"Less": "Greater", "Greater": "Less", "LessOrEqual": "GreaterOrEqual",
              "GreaterOrEqual": "LessOrEqual"}[op]
    if negate:
        op = {"Less": "GreaterOrEqual", "GreaterOrEqual": "Less", "Greater": "LessOrEqual",
              "LessOrEqual": "Greater"}[op]
    t = view.tensor(name)
    integral = t is not None and t.dtype in INTEGER_TYPES
    c = sympy.Rational(c)
    lo, hi = interval(ctx, name, {})
    if op in ("Less", "LessOrEqual"):
        top = c if op == "LessOrEqual" else (c - 1 if integral and c.is_Integer else c)
        if integral:
            top = sympy.floor(top)
        top = norm(top)
        hi = top if hi is None else _pick(hi, top, True)
        if hi is None:
            hi = top
    else:
        bot = c if op == "GreaterOrEqual" else (c + 1 if integral and c.is_Integer else c)
        if integral:
            bot = sympy.ceiling(bot)
        bot = norm(bot)
        lo = bot if lo is None else _pick(lo, bot, False)
        if lo is None:
            lo = bot
    return name, (lo, hi)


def where_interval(ctx, node, env: dict, depth: int = 0):
    """The interval of a Where node's output from its branches under its condition (each
    branch evaluated with the compared value cut to its side), or None."""
    view = ctx.graph
    cond = view.producer(node.input[0])
    negate = False
    while cond is not None and cond.op_type == "Not" and cond.domain in ("", "ai.onnx"):
        negate = not negate
        cond = view.producer(cond.input[0])
    if cond is None or cond.domain not in ("", "ai.onnx"):
        return None
    out = []
    for branch, neg in ((node.input[1], negate), (node.input[2], not negate)):
        cut = _cut(ctx, cond, neg)
        if cut is None:
            return None
        name, iv = cut
        if name in env:  # already held: keep the tighter of the two on each side
            old = env[name]
            iv = (_either(old[0], iv[0], False), _either(old[1], iv[1], True))
        out.append(interval(ctx, branch, {**env, name: iv}, depth + 1))
    (a, b), (c, d) = out
    return _pick(a, c, True), _pick(b, d, False)


def where_bounds(ctx) -> Bounds | None:
    """Bounds of this Where node's output (ctx: the Where being visited) from its branches
    under its condition, or None. Not tight: a branch may be taken nowhere."""
    view = ctx.graph
    if view is None:
        return None
    node = view.node(ctx.name)
    if node is None or len(node.input) != 3:
        return None
    try:
        return _bounds_of_where(ctx, node)
    except (ValueError, TypeError, ZeroDivisionError):  # no bounds, never a guess
        return None


def _bounds_of_where(ctx, node) -> Bounds | None:
    iv = where_interval(ctx, node, {})
    if iv is None or iv[0] is None or iv[1] is None:
        return None
    if not all(_is_dim(v) for v in iv):
        lo = sympy.floor(iv[0]) if not _is_dim(iv[0]) else iv[0]
        hi = sympy.ceiling(iv[1]) if not _is_dim(iv[1]) else iv[1]
        return Bounds(norm(lo), norm(hi))
    return Bounds(iv[0], iv[1])
