"""Element ranges of tensors too long to hold as values, and the index checks built on them.

A tensor's contents are known exactly (Tensor.value, at most MAX_VALUE_ELEMENTS), bounded
(Tensor.bounds: lo <= every element <= hi; ``tight`` when both are attained), a graph
input's data (Tensor.origin == INPUT: token ids, assumed in range and documented as such),
or unknown. Index-taking ops (Gather, GatherElements, GatherND, ScatterND, ScatterElements)
need every index in [-dim, dim - 1] (onnxruntime checks exactly that):
- known values: one condition per distinct value;
- tight bounds: hi <= dim - 1 and lo >= -dim, exact (an attained bound that is out of range
  is an index out of range), unless the index tensor is empty;
- bounds that are not tight: proved in range for every size, or the answer is unproven;
- graph-input data: assumed in range (the README says so);
- anything else: unproven, never silently valid.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from graphshape.arith import lazy
from graphshape.arith.dims import (
    add,
    dmax,
    dmin,
    is_integer_expr,
    mul,
    norm,
    provably,
    sub,
    to_str,
)
from graphshape.arith.prove import Rel
from graphshape.arith.terms import is_expr
from graphshape.errors import Unsupported
from graphshape.loader.tensor import INPUT, INTEGER_TYPES, Bounds, Tensor
from graphshape.rules._common import at_least_one
from graphshape.rules.values import arith
from graphshape.shapes.constraints import Constraint
from graphshape.shapes.tautology import always

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")


def _as_dim(v):
    """An exact element value as a dim (ints, integral floats, exact expressions), or None."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if v.is_integer() else sympy.Rational(v)
    if is_expr(v):
        return v if not v.is_Integer else int(v)
    return None


def element_bounds(t: Tensor):
    """Bounds of t's elements: from its value when known (tight), else t.bounds, else None."""
    if t is None:
        return None
    if t.value is not None:
        vals = [_as_dim(v) for v in set(t.value)]
        if not vals or any(v is None for v in vals):
            return None
        try:
            return Bounds(dmin(*vals), dmax(*vals), True)
        except (TypeError, ValueError):
            return None
    return t.bounds


# ---- provenance: a graph input's data -------------------------------------------------------
def is_input_data(ctx, t: Tensor) -> bool:
    """Whether t holds a top-level graph input's data (or a reshaping / subset of it).

    Tensor.origin says so when the loader marks its inputs (origin=INPUT); otherwise t must
    be the very object the loader made for one of the model's own inputs (ctx.graph)."""
    if t.origin == INPUT:
        return True
    return ctx.graph is not None and ctx.graph.is_graph_input_data(t)


def fused_range_inputs(ctx):
    """onnxruntime's GatherToSliceFusion (level 'extended' and above, so the default):
    a Range whose output has exactly one consumer, a Gather taking it as indices, becomes
    Slice(data, [start], [limit], [axis], [delta]), which clamps where the Gather would
    fail (measured: Gather(40 rows, Range(0, 41)) returns 40 rows; Range(-2, n) slices
    from row 38). Returns Range's (start, limit, delta) Tensors when this Gather is fused,
    else None. Needs the graph (ctx.graph); without it, None."""
    view = ctx.graph
    if view is None:
        return None
    me = view.node(ctx.name)
    if me is None or len(me.input) < 2 or not me.input[1]:
        return None
    idx = me.input[1]
    rng = view.producer(idx)
    for _ in range(8):  # through the no-ops onnxruntime removes first (Identity, + 0, ...)
        if rng is None or view.uses(idx) != 1:
            return None
        nxt = _noop_input(rng, view)
        if nxt is None:
            break
        idx = nxt
        rng = view.producer(idx)
    if rng is None or rng.op_type != "Range" or rng.domain not in ("", "ai.onnx") or \
            view.uses(idx) != 1:
        return None
    ins = [view.tensor(i) for i in rng.input]
    if len(ins) != 3 or any(t is None or t.shape is None for t in ins):
        return None
    return ins


def last_axis_parts(ctx, position: int):
    """When input ``position`` of this node is made by a Concat along its last axis (the
    torch dynamo exporter's GatherND index tuples: Concat([b, s], axis=-1) of two expanded
    Ranges), the Concat's inputs as Tensors, in order; else None. Each part's own bounds
    then bound its components of the index tuple (the Concat's bounds are their union).
    Needs the graph (ctx.graph)."""
    view, name = _input_name(ctx, position)
    if name is None:
        return None
    out = view.tensor(name)
    cat = view.producer(name)
    if out is None or out.shape is None or cat is None or cat.op_type != "Concat" or \
            cat.domain not in ("", "ai.onnx"):
        return None
    axis = next((a.i for a in cat.attribute if a.name == "axis"), None)
    r = len(out.shape)
    if axis is None or r == 0 or axis not in (r - 1, -1):
        return None
    parts = [view.tensor(i) for i in cat.input if i]
    if not parts or any(t is None or t.shape is None or len(t.shape) != r or
                        not isinstance(t.shape[-1], int) for t in parts):
        return None
    return parts


# ops whose output elements are some of their first input's (or all of them, reshaped)
_SUBSET_OPS = {"Gather", "Slice", "Unsqueeze", "Squeeze", "Reshape", "Identity", "Flatten",
               "Expand", "Transpose", "Tile", "GatherElements", "GatherND"}
# casts that keep order and every value a float32 or int64 holds (no wrap-around, no
# saturation; rounding to the type only toward a floor already taken): float, double, int64
_ORDERED_CASTS = {1, 11, 7}


def float_floor(ctx, position: int = 0):
    """A number every (finite) element of input ``position`` of this node is at least, read
    from how the graph made it: a Clip's or Max's constant minimum, a Relu, through Ceil,
    Floor, Round, Cast, Concat and the ops that pick or reshape elements, the enclosing
    graphs included (a Loop body reading a box side computed outside). None where it
    cannot say. Needs the graph (ctx.graph). A NaN is below every number: the caller's
    values must be finite (counts.read_requirements)."""
    view, name = _input_name(ctx, position)
    return None if name is None else _floor_of(view, name, 24)


def _input_name(ctx, position: int):
    """(the graph's view, the name of this node's input ``position``), or (view, None)."""
    view = ctx.graph
    me = view.node(ctx.name) if view is not None else None
    if me is None or len(me.input) <= position or not me.input[position]:
        return view, None
    return view, me.input[position]


def _floor_of(view, value: str, depth: int):
    if depth <= 0 or view is None:
        return None
    node = view.producer(value)
    if node is None:
        t = view.tensor(value)
        if t is not None and t.value is not None and t.value and \
                all(isinstance(v, (int, float)) for v in t.value):
            return min(t.value)
        return None if view.defines(value) else _floor_of(view.parent, value, depth - 1)
    if node.domain not in ("", "ai.onnx"):
        return None
    op, ins = node.op_type, list(node.input)
    if op == "Relu":
        return 0
    if op == "Max":  # at least each constant operand
        known = [v for v in (_const_scalar(view, i) for i in ins) if v is not None]
        return max(known) if known else None
    if op == "Clip":  # min(max(x, lo), hi) >= min(max(floor of x, lo), hi)
        attrs = {x.name: x.f for x in node.attribute if x.name in ("min", "max")}
        lo = _const_scalar(view, ins[1]) if len(ins) > 1 else attrs.get("min")
        hi = _const_scalar(view, ins[2]) if len(ins) > 2 else attrs.get("max")
        x = _floor_of(view, ins[0], depth - 1) if ins and ins[0] else None
        cands = [v for v in (lo, x) if v is not None]
        if not cands:
            return None
        return min(max(cands), hi) if hi is not None else max(cands)
    if op == "Cast" and next((a.i for a in node.attribute if a.name == "to"),
                             None) not in _ORDERED_CASTS:
        return None
    if op in ("Ceil", "Floor", "Round", "Cast") or op in _SUBSET_OPS:
        lo = _floor_of(view, ins[0], depth - 1) if ins and ins[0] else None
        if lo is None or not math.isfinite(lo):
            return None
        if op == "Cast" and abs(lo) > 2 ** 24:  # beyond float32's exact integers
            return None
        if op == "Ceil":
            return math.ceil(lo)
        return math.floor(lo) if op in ("Floor", "Round", "Cast") else lo
    if op == "Concat":
        los = [_floor_of(view, i, depth - 1) for i in ins if i]
        return min(los) if los and all(v is not None for v in los) else None
    return None


def _const_scalar(view, value: str):
    t = view.tensor(value) if value else None
    if t is None or t.value is None or len(t.value) != 1 or \
            not isinstance(t.value[0], (int, float)):
        return None
    return t.value[0]


_NEUTRAL = {"Add": (0, (0, 1)), "Sub": (0, (1,)), "Mul": (1, (0, 1)), "Div": (1, (1,))}


def _noop_input(node, view):
    """The data input of a node onnxruntime's basic optimisations remove (Identity,
    Dropout, x + 0, x - 0, x * 1, x / 1 with a constant one-element operand), else None."""
    if node.domain not in ("", "ai.onnx"):
        return None
    if node.op_type in ("Identity", "Dropout") and node.input:
        return node.input[0]
    if node.op_type in _NEUTRAL and len(node.input) == 2:
        neutral, sides = _NEUTRAL[node.op_type]
        for k in sides:
            c = view.tensor(node.input[k])
            if c is not None and c.value is not None and len(c.value) == 1 and \
                    c.value[0] == neutral and len(c.shape or ()) <= 1:
                other = view.tensor(node.input[1 - k])
                if other is not None and other.shape is not None and len(other.shape) >= 1:
                    return node.input[1 - k]
    return None


def origin_of(ctx, *ts) -> str:
    """INPUT when every tensor holds graph-input data, else ''."""
    return INPUT if ts and all(is_input_data(ctx, t) for t in ts) else ""


def initializer_bounds(ctx, t: Tensor):
    """Tight bounds of a large integer initializer, read from the model, or None."""
    if t.value is not None or t.bounds is not None or t.dtype not in INTEGER_TYPES:
        return None
    return None if ctx.graph is None else ctx.graph.initializer_bounds(t)


def bounds_of(ctx, t: Tensor):
    b = element_bounds(t)
    if b is None and t is not None:
        b = initializer_bounds(ctx, t)
    return b


# ---- carrying bounds through ops -------------------------------------------------------------
def same_elements(ctx, t: Tensor, subset: bool = False, from_value: bool = False) -> dict:
    """bounds/origin for an op whose output holds t's elements (Reshape, Expand, Transpose:
    the same set when not empty) or a subset of them (Slice, Gather: tightness is lost).
    A known value travels as the value; ``from_value`` (Expand, Tile: outputs that may be
    too long to hold) turns it into bounds."""
    if t.value is not None and not from_value:
        return {"bounds": None, "origin": origin_of(ctx, t)}
    b = bounds_of(ctx, t)
    if b is not None and subset and b.tight:
        b = Bounds(b.lo, b.hi, False)
    return {"bounds": b, "origin": origin_of(ctx, t)}


def monotone(b, f, increasing: bool = True):
    """Bounds of f(x) for x within b, f monotone (tightness survives)."""
    if b is None:
        return None
    try:
        lo, hi = f(b.lo), f(b.hi)
    except (Unsupported, TypeError, ValueError, ZeroDivisionError):
        return None
    if lo is None or hi is None:
        return None
    return Bounds(lo, hi, b.tight) if increasing else Bounds(hi, lo, b.tight)


def _trunc_div(v, c):
    """trunc(v / c) for an integer c >= 1 (proved by the caller), exact, or None: v's sign
    must be known, and the quotient is read off a polynomial division of v by c whose
    remainder is a constant r (floor((q*c + r)/c) is q when 0 <= r < c, q - 1 when
    -c <= r < 0)."""
    if provably(v, Rel.NONNEG):
        return _floor_div(v, c)
    if provably(v, Rel.NONPOS):
        f = _floor_div(norm(-sympy.sympify(v)), c)
        return None if f is None else norm(-sympy.sympify(f))
    return None


def _floor_div(v, c):
    if isinstance(v, int) and v == 0:
        return 0
    num, den = sympy.expand(v), sympy.expand(c)
    first = sorted(den.free_symbols, key=lambda x: x.name)
    rest = sorted(num.free_symbols - den.free_symbols, key=lambda x: x.name)
    try:  # the divisor's symbols lead, so that the remainder is free of them
        q, r = sympy.div(num, den, *(first + rest))
    except (sympy.PolynomialError, TypeError, ValueError):
        return None
    q, r = norm(q), norm(r)
    if not isinstance(r, int) or not is_integer_expr(q):
        return None
    if r >= 0 and provably(sub(sub(c, 1), r), Rel.NONNEG):
        return q
    if r < 0 and provably(add(c, r), Rel.NONNEG):
        return norm(sub(q, 1))
    return None


def uniform_value(t: Tensor):
    """The single value every element of t holds (a known scalar or constant vector)."""
    if t is None or t.value is None or not t.value:
        return None
    vals = set(t.value)
    if len(vals) != 1:
        return None
    return _as_dim(next(iter(vals)))


def union(bs, tight: bool = False):
    if not bs or any(b is None for b in bs):
        return None
    return Bounds(dmin(*[b.lo for b in bs]), dmax(*[b.hi for b in bs]),
                  tight and all(b.tight for b in bs))


def binary_bounds(op: str, a: Tensor, b: Tensor, ba, bb, floating: bool):
    """Bounds of ``a op b`` (elementwise, broadcast) from the operands' bounds."""

    ca, cb = uniform_value(a), uniform_value(b)
    if ca is None and cb is None:
        if ba is None or bb is None:
            return None
        if op == "Add":
            return Bounds(add(ba.lo, bb.lo), add(ba.hi, bb.hi))
        if op == "Sub":
            return Bounds(sub(ba.lo, bb.hi), sub(ba.hi, bb.lo))
        if op in ("Min", "Max"):
            f = dmin if op == "Min" else dmax
            return Bounds(f(ba.lo, bb.lo), f(ba.hi, bb.hi))
        return None
    if cb is not None:
        x, c, left = ba, cb, False
    else:
        x, c, left = bb, ca, True
    if x is None:
        return None

    def g(v):
        return arith(op, c, v, floating) if left else arith(op, v, c, floating)

    if op in ("Add", "Min", "Max"):
        return monotone(x, g)
    if op == "Sub":
        return monotone(x, g, increasing=not left)
    if op == "Mul":
        if not isinstance(c, int):
            # a symbolic factor (a dim read by Shape: transformers' padding-mask lookup
            # mask.flatten()[b * S + s]) of known sign: x*c is monotone in x, so the bounds
            # (and their tightness: f(lo), f(hi) are attained where lo, hi are) carry over.
            # Integers only: float32 products round
            if floating or not is_expr(c):
                return None
            if provably(c, Rel.NONNEG):
                return monotone(x, g)
            if provably(c, Rel.NONPOS):
                return monotone(x, g, increasing=False)
            return None
        if c == 0:
            return Bounds(0, 0, x.tight)
        return monotone(x, g, increasing=c > 0)
    if op == "Div" and not left and isinstance(c, int) and c != 0:
        return monotone(x, g, increasing=c > 0)  # trunc or exact division: monotone
    if not left and not floating and is_expr(c) and provably(sub(c, 1), Rel.NONNEG):
        # an integer divisor of symbolic value >= 1 (a heatmap's width read from the data:
        # a position mod it, and the row it is on)
        if op == "Mod":  # Python sign: [0, c - 1], or x itself when already within it
            if provably(x.lo, Rel.NONNEG) and provably(sub(sub(c, 1), x.hi), Rel.NONNEG):
                return x
            return Bounds(0, sub(c, 1))
        if op == "Div":  # truncation toward zero, increasing in x
            lo, hi = _trunc_div(x.lo, c), _trunc_div(x.hi, c)
            return None if lo is None or hi is None else Bounds(lo, hi)
    if op in ("Mod", "FMod") and not left and isinstance(c, int) and c != 0:
        m = abs(c)
        nonneg_x = provably(x.lo, Rel.NONNEG)
        if nonneg_x and provably(sub(m - 1, x.hi), Rel.NONNEG) and (c > 0 or op == "FMod"):
            return x  # already within [0, |c| - 1]: the identity
        if op == "Mod":  # Python sign: the sign of the divisor
            return Bounds(0, m - 1) if c > 0 else Bounds(1 - m, 0)
        # C fmod: the sign of the dividend
        if nonneg_x:
            return Bounds(0, m - 1)
        if provably(x.hi, Rel.NONPOS):
            return Bounds(1 - m, 0)
        return Bounds(1 - m, m - 1)
    return None


# ---- index checks ------------------------------------------------------------------------------
def _empty_parts(shape):
    return [Constraint.eq(d, 0) for d in shape if not at_least_one(d)]


def _require(ctx, cond: Constraint, shape, reason: str):
    """cond, unless the index tensor (of ``shape``) is empty."""
    empty = _empty_parts(shape)
    if not empty:
        ctx.add(Constraint(cond.kind, cond.lhs, cond.rhs, cond.parts, ctx.origin(reason)))
    else:
        ctx.any_of(empty + [cond], reason + " (unless there are no indices)")


def _range_text(lo, hi) -> str:
    return to_str(lo) if lo == hi else f"{to_str(lo)}..{to_str(hi)}"


def check_indices(ctx, indices: Tensor, dim, table: str, shape=None,
                  negative: bool = True) -> None:
    """Every index in ``indices`` must lie in [-dim, dim - 1] (onnxruntime's check), or in
    [0, dim - 1] when ``negative`` is False (RoiAlign's batch_indices).

    ``table`` names what is indexed ("the 40 rows of the table"); ``shape`` is the shape of
    the index elements (default: indices' shape)."""
    shape = indices.shape if shape is None else shape
    least = norm(-dim) if negative else 0
    if indices.value is not None:
        for v in sorted(set(indices.value), key=repr):
            if isinstance(v, float) and not v.is_integer():
                raise Unsupported("non-integer indices")
            v = _as_dim(v)
            if v is None:
                raise Unsupported("indices of unknown form")
            ctx.ge(sub(dim, 1), v, f"index {to_str(v)} must be within {table}")
            ctx.ge(v, least, f"index {to_str(v)} must be within {table}")
        return
    b = bounds_of(ctx, indices)
    if b is None:
        if is_input_data(ctx, indices):
            return  # a graph input's data (token ids): assumed in range, see the README
        ctx.assume(f"its indices are computed at run time and graphshape cannot bound them, "
                   f"so it cannot prove they stay within {table}")
        return
    words = f"index values {_range_text(b.lo, b.hi)} must be within {table}"
    hi_ok = Constraint.ge(sub(dim, 1), b.hi)
    lo_ok = Constraint.ge(b.lo, least)
    if b.tight:
        for c in (hi_ok, lo_ok):
            t = c.constant_truth()
            if t is True:
                continue
            _require(ctx, c, shape, words)
        return
    proved = all(c.constant_truth() is True or provably(sub(c.lhs, c.rhs), Rel.NONNEG)
                 for c in (hi_ok, lo_ok))
    empty = _empty_parts(shape)
    if not proved and empty:  # in range, or no index at all (NMS of no box selects none)
        proved = always(Constraint.any_of(empty + [Constraint.all_of([hi_ok, lo_ok])]))
    if not proved:
        ctx.assume(f"{words}, and graphshape knows only that they lie in "
                   f"{_range_text(b.lo, b.hi)}, not which of these occur")


def table_words(dim, axis: int) -> str:
    if axis == 0:
        return f"the {to_str(dim)} rows of the table"
    return f"the {to_str(dim)} entries of axis {axis}"





def cumsum_facts(ctx, x: Tensor, axis: int, exclusive: int = 0, reverse: int = 0) -> dict:
    """value/bounds of CumSum(x) along ``axis`` (already normalised), for the CumSum rule.

    Known small contents: the exact sums. Too long to hold: a constant c >= 0 everywhere
    (ones, the usual position-id pattern) sums to c, 2c, ..., L*c along an axis of length
    L (exclusive: 0, c, ..., (L - 1) c), both ends attained, so the bounds are tight;
    non-negative elements within [lo, hi] give [lo, L*hi] ([0, (L - 1) hi]), not tight."""
    import numpy as np  # noqa: PLC0415  numpy: only where tensor data is read

    out: dict = {"value": None, "bounds": None}
    vals, shape = x.value, x.shape
    if shape is None:
        raise Unsupported("the input's rank is unknown")
    if vals is not None and all(isinstance(d, int) for d in shape):
        arr = np.empty(len(vals), dtype=object)
        arr[:] = [_as_dim(v) if not isinstance(v, float) else v for v in vals]
        arr = arr.reshape(shape)
        if reverse:
            arr = np.flip(arr, axis)
        acc = np.cumsum(arr, axis=axis, dtype=object) if arr.size else arr
        if exclusive and arr.size:
            acc = acc - arr
        if reverse:
            acc = np.flip(acc, axis)
        out["value"] = tuple(norm(v) if not isinstance(v, float) else v
                             for v in acc.reshape(-1))
        return out
    b = bounds_of(ctx, x)
    if b is None or not provably(b.lo, Rel.NONNEG):
        return out
    n = shape[axis]
    if b.tight and b.lo == b.hi:
        c = b.lo
        out["bounds"] = (Bounds(0, mul(sub(n, 1), c), True) if exclusive
                         else Bounds(c, mul(n, c), True))
    else:
        out["bounds"] = (Bounds(0, mul(sub(n, 1), b.hi)) if exclusive
                         else Bounds(b.lo, mul(n, b.hi)))
    return out
