"""Shape-manipulating ops and shape arithmetic carried through Tensor.value."""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

from graphshape.arith import lazy
from graphshape.arith.dims import (
    add,
    ceildiv,
    dmax,
    dmin,
    floordiv,
    free_symbols,
    is_data_dependent,
    is_integer_expr,
    mul,
    norm,
    prod,
    provably,
    structurally_equal,
    sub,
    to_str,
)
from graphshape.arith.isl import IslPrinter, NonPresburger, isl_names, size_set, vmin
from graphshape.arith.prove import Rel, nonneg, nonpos
from graphshape.arith.quotient import integer_ratio
from graphshape.arith.terms import is_expr
from graphshape.dtypes import DataType
from graphshape.errors import Unsupported
from graphshape.loader.tensor import FLOAT, INT64, MAX_VALUE_ELEMENTS, Bounds, Tensor
from graphshape.rules._common import (
    at_least_one,
    broadcast_shapes,
    const_ints,
    ints,
    norm_axis,
    read_values,
)
from graphshape.rules._ranges import (
    bounds_of,
    check_indices,
    fused_range_inputs,
    origin_of,
    same_elements,
    table_words,
    union,
)
from graphshape.rules.elementwise import broadcast_values
from graphshape.shapes.constraints import Constraint
from graphshape.shapes.constraints import Constraint as C
from graphshape.shapes.known import at_least_given, nonneg_given
from graphshape.shapes.quotients import is_quotient
from graphshape.shapes.registry import rule
from graphshape.shapes.tautology import always

if TYPE_CHECKING:
    import numpy as np
    import sympy
else:
    np = lazy.module("numpy")
    sympy = lazy.module("sympy")

BIG = 2 ** 31  # a slice bound at or beyond this is "to the end" for any realistic size


_BY_NUMPY = {t.numpy: t for t in DataType if t.numpy}


def _np_dtype_code(arr) -> int:
    return _BY_NUMPY.get(str(arr.dtype), FLOAT)


def tensor_from_array(arr) -> Tensor:
    arr = np.asarray(arr)
    value: tuple | None = None
    bounds = None
    if arr.size <= MAX_VALUE_ELEMENTS:
        if arr.dtype.kind in "iub":
            value = tuple(int(x) for x in arr.reshape(-1))
        elif arr.dtype.kind == "f":
            value = tuple(float(x) for x in arr.reshape(-1))
    elif arr.dtype.kind in "iub":  # too long to hold: its extremes (an arange buffer)
        bounds = Bounds(int(arr.min()), int(arr.max()), True)
    return Tensor(tuple(int(d) for d in arr.shape), _np_dtype_code(arr), value, bounds)


@rule("Constant")
def constant(ctx, *, value=None, value_int=None, value_ints=None, value_float=None,
             value_floats=None, sparse_value=None, value_string=None, value_strings=None):
    """The attribute's tensor (read by the loader, or a numpy array for exotic types)."""
    if isinstance(value, Tensor):
        return value
    if value is not None:
        return tensor_from_array(value)
    if value_int is not None:
        return Tensor((), INT64, (int(value_int),))
    if value_ints is not None:
        return Tensor((len(value_ints),), INT64, tuple(int(v) for v in value_ints))
    if value_float is not None:
        return Tensor((), 1, (float(value_float),))
    if value_floats is not None:
        return Tensor((len(value_floats),), 1, tuple(float(v) for v in value_floats))
    raise Unsupported("Constant without a numeric value attribute")


@rule("Shape")
def shape(ctx, data, *, start: int = 0, end=None):
    """The shape of ``data`` as a 1-D int64 tensor (optionally sliced, opset 15)."""
    dims = list(data.shape)
    r = len(dims)
    s = max(0, min(r, start + r if start < 0 else start))
    e = r if end is None else max(0, min(r, end + r if end < 0 else end))
    vals = dims[s:e] if e > s else []
    return Tensor((len(vals),), INT64, tuple(_folded_shape(ctx, data, vals, s)))


def _folded_shape(ctx, data, vals: list, s: int) -> list:
    """onnxruntime merges a value's declared shape (value_info, a graph output) into its own
    inference, and its constant folding replaces a Shape whose sliced dims are then all
    fixed by those dims, whatever the run's sizes (measured on 1.31.1: x [N, 2] -> Relu ->
    r declared [5, 2] or [5, M] -> Shape(r) is [5, 2] at N = 3, so Reshape(x, Shape(r))
    fails at every N but 5; Shape(r)[0:1] is [5]; Size(r) is not folded; the data itself
    keeps its real shape through Relu, Add, MatMul, Concat). Sizes where the declaration
    and the computed dim differ are then modelled exactly, not assumed."""
    view = ctx.graph
    if view is None or not vals:
        return vals
    node = view.node(ctx.name)
    if node is None or not node.input:
        return vals
    decl = view.declared_shape(node.input[0])
    if decl is None or len(decl) != len(data.shape):
        return vals
    merged = [decl[s + i] if decl[s + i] is not None else v for i, v in enumerate(vals)]
    if not all(isinstance(v, int) for v in merged):
        return vals  # a dim onnxruntime does not know: the Shape runs on the data
    return merged


@rule("Size")
def size(ctx, data):
    """The number of elements of ``data``, a scalar."""
    return Tensor((), INT64, (data.numel(),))


def _reshape_target(ctx, data, target, allowzero):
    out = []
    neg = None
    for i, v in enumerate(target):
        if isinstance(v, int) and v == 0 and not allowzero:
            if i >= len(data.shape):
                ctx.fail(f"shape entry {i} is 0 (copy) but the input has rank {len(data.shape)}")
            out.append(data.shape[i])
        elif isinstance(v, int) and v == -1:
            if neg is not None:
                ctx.fail("at most one shape entry may be -1")
            neg = i
            out.append(None)
        elif isinstance(v, int) and v < -1:
            ctx.fail(f"shape entry {v} is invalid")
        else:
            out.append(v)
    return out, neg


@rule("Reshape", since=1, until=4)
def reshape_v1(ctx, data, *, shape=None, consumed_inputs=None):
    """Reshape-1/4: the target is the ``shape`` attribute (``consumed_inputs``, a legacy
    hint of opset 1, has no effect on shapes)."""
    return _reshape(ctx, data, ints(shape, "the target shape"), 0)


@rule("Reshape", since=5)
def reshape(ctx, data, shape=None, *, allowzero: int = 0):
    """Element counts must match; a -1 entry takes numel / prod(others), which must divide;
    a 0 copies the input's dim unless ``allowzero`` (opset 14)."""
    return _reshape(ctx, data, ints(shape, "the target shape"), allowzero)


def _reshape(ctx, data, target, allowzero):
    parts = _fusion_parts(ctx)
    fused = _reshape_fusion(parts)
    if isinstance(fused, int) and fused < len(target):
        target = list(target)
        target[fused] = -1  # what onnxruntime runs: the entry is inferred, not read
    out, neg = _reshape_target(ctx, data, target, allowzero)
    numel = data.numel()
    if fused == UNSURE and not allowzero:
        _unsure_zeros(ctx, data, target, parts)
    split = [] if allowzero or fused == UNSURE else \
        _computed_zeros(ctx, data, target, out, neg)
    if split and neg is not None:
        out = _reshape_zero_next_to_minus_one(ctx, data, target, out, neg, split[0])
        return Tensor(tuple(out), data.dtype, data.value, **same_elements(ctx, data))
    if split:
        out = _reshape_zero_cases(ctx, data, target, out, split)
        return Tensor(tuple(out), data.dtype, data.value, **same_elements(ctx, data))
    known = prod(d for d in out if d is not None)
    if neg is not None and not at_least_given(ctx.graph, known, 1):
        # reshape_helper.h: 'size != 0': a -1 is never inferred from a product of 0 (an
        # empty KV cache reshaped to [-1, P, d] at P = 0 fails)
        ctx.ge(known, 1, lambda: f"reshape to {_shape_str(out, neg)}: the -1 axis cannot be "
                                 f"inferred where the other entries multiply to 0 "
                                 f"({to_str(known)})")
    if neg is None:
        def why() -> str:
            target, shared = _shape_words(out)
            count = _count_words(numel, shared)
            return (f"reshape to {target} needs the element count to match the input's"
                    + (f" {count}" if len(target) + len(count) <= 120 else ""))
        ctx.eq(numel, known, why)
    else:
        try:
            out[neg] = _exact_quotient(ctx, numel, known,
                                       lambda: f"reshape to {_shape_str(out, neg)}: the "
                                               f"input's {to_str(numel, pretty=True)} "
                                               f"elements must be a multiple of "
                                               f"{to_str(known, pretty=True)}")
        except Unsupported as e:
            if not any(s.is_nonnegative and not s.is_positive
                       for s in sympy.sympify(numel).free_symbols):
                raise
            # sizes that already depend on data: go on with a run-time value, say so
            ctx.assume(f"{e}; the -1 axis is treated as a run-time value")
            out[neg] = ctx.fresh("the -1 axis of a Reshape of data-dependent size")
    value = data.value  # row-major contents do not move
    return Tensor(tuple(out), data.dtype, value, **same_elements(ctx, data))


UNSURE = "unsure"


def _reshape_fusion(parts):
    """onnxruntime's ReshapeFusion (core/optimizer/reshape_fusion.cc, basic level, so on by
    default) replaces a Reshape's target when it comes from a Concat with one consumer whose
    inputs are constants, Shape -> Gather(i) -> Unsqueeze(axes=[0]) chains (then 0) or
    one-element values (then -1), with at most one -1 in all: that computed entry is then
    inferred, never read. Measured on onnxruntime 1.31 (opsets 14, 19, 21, 23):
    Reshape(x[N, 3], Concat(N / 2, [3])) runs at every N by default, only at N == 1 with
    optimisations off; with two computed entries, or one next to a -1, nothing is fused.
    Returns None (not fused), the target index that becomes -1 (fused), or UNSURE (an
    Unsqueeze chain, a graph that cannot be seen: the target is then taken as written).
    ``parts``: _fusion_parts'."""
    if parts is None or parts == UNSURE:
        return parts
    minus, sym, vague = parts
    if minus + len(sym) > 1:
        return None
    if vague:
        return UNSURE
    return sym[0] if sym else None


def _fusion_parts(ctx):
    """What ReshapeFusion sees in the target's Concat: (the count of constant -1 entries,
    the indices of computed one-element entries, the count of entries constant folding or
    an Unsqueeze chain may turn either way); None (not fusable) or UNSURE (not seen)."""
    if ctx.opset < 5:
        return None
    view = ctx.graph
    if view is None:
        return UNSURE
    me = view.node(ctx.name)
    if me is None:
        return UNSURE  # a subgraph's node: onnxruntime fuses there too
    if len(me.input) < 2 or not me.input[1]:
        return None
    cat = view.producer(me.input[1])
    if cat is None or cat.op_type != "Concat" or cat.domain not in ("", "ai.onnx"):
        return None
    if view.uses(me.input[1]) != 1 or me.input[1] in view.outputs:
        return None
    minus, pos, sym, vague = 0, 0, [], 0
    for name in cat.input:
        src, t = view.producer(name), view.tensor(name)
        if t is None or t.shape is None:
            return UNSURE
        if view.is_initializer(name) or (src is not None and src.op_type == "Constant"):
            vals = t.value or ()
            minus += sum(1 for v in vals if v == -1)
            pos += len(vals)
            continue
        if t.shape != (1,):  # not one element: no fusion
            return None
        if src is not None and src.op_type == "Unsqueeze":
            vague += 1  # a copy (0) or -1, by rules not modelled here
        elif t.value is not None and all(isinstance(v, int) for v in t.value):
            vague += 1  # onnxruntime's constant folding may make it a constant first
        else:
            sym.append(pos)
        pos += 1
    return minus, sym, vague


def _unsure_zeros(ctx, data, target, parts) -> None:
    """Whether onnxruntime fuses this Reshape's target (a computed entry then inferred as
    -1) or reads it (a 0 entry then copies the input's dim) depends on its constant folding
    here (_reshape_fusion: UNSURE). The target is taken as written only where no computed
    entry (one fusion would infer) can be 0; otherwise the two readings differ (a window
    count of 0 at small sizes: copied, the element counts differ and onnxruntime fails),
    and the node is unproven. Found by the fuzzer (seed 6630992): every size was called
    valid. (An Unsqueeze chain's entry keeps the reading measured on the corpus.)"""
    computed = set(parts[1]) if isinstance(parts, tuple) else set(range(len(target)))
    r = len(data.shape)
    for i, v in enumerate(target):
        if i not in computed or isinstance(v, int) or at_least_given(ctx.graph, v, 1) or \
                (i < r and _vanishes_with(v, data.shape[i])):
            continue
        ctx.assume(f"shape entry {i} ({to_str(v)}) may be 0, and whether onnxruntime infers "
                   f"it (its Reshape fusion after constant folding) or copies input dim {i} "
                   "is not modelled", conditions_unsure=True)
        return


def _computed_zeros(ctx, data, target, out, neg) -> list:
    """Computed target entries that may be 0 at some sizes. onnxruntime (reshape_helper.h,
    allowzero=0) replaces a 0 by the input's dim at that index, and refuses it past the
    input's rank. Cheap exact cases are imposed here; the indices that need a case split
    are returned (an empty list when none)."""
    r = len(data.shape)
    # decided under the conditions already known (a Conv's output is not empty, so the
    # flattened map h*w it feeds is >= 1), products factor by factor
    maybe = [i for i, v in enumerate(target) if not isinstance(v, int)
             and not at_least_given(ctx.graph, v, 1)
             and not (i < r and _vanishes_with(v, data.shape[i]))]
    sure = set()
    for i in maybe:
        if i >= r:
            ctx.ge(target[i], 1, f"shape entry {i} ({to_str(target[i])}) is 0 at some sizes, where "
                                 f"onnxruntime copies input dim {i}, and the input has rank {r}")
            sure.add(i)
    left = []
    for i in maybe:
        if i in sure:
            continue
        v, d = target[i], data.shape[i]
        if neg is None and _zero_copy_refused(data, out, i, sure):
            # v == 0 empties the input, and the copied count is >= 1 unless d == 0 (then the
            # copy is the literal 0): exact with the element-count condition imposed later
            ctx.any_of([Constraint.ge(v, 1), Constraint.eq(d, 0)],
                       f"shape entry {i} ({to_str(v)}) is 0 at some sizes, where onnxruntime "
                       f"copies input dim {i} ({to_str(d)}) and the element counts differ")
        else:
            left.append(i)
    if neg is not None and len(left) == 1 and _copy_case_exact(ctx, data, target, out, neg,
                                                              left[0]):
        return left
    if left and (neg is not None or len(left) > 3):
        ctx.assume(f"shape entries {left} may be 0 at some sizes (onnxruntime then copies "
                   "the input's dims there)" + (" next to a -1 entry" if neg is not None
                                                else "") + "; taken literally",
                   shapes_unsure=True, conditions_unsure=True)
        return []
    return left


def _copy_case_exact(ctx, data, target, out, neg, i) -> bool:
    """Whether entry i, 0 at some sizes next to a -1, has an exact two-case reading: the
    entry is >= 0 (under the known conditions), the input is empty wherever it is 0 (its
    factors divide the element count) and the literal -1 quotient is a constant."""
    v = target[i]
    if i >= len(data.shape) or not nonneg_given(ctx.graph, v):
        return False
    have: set = set()
    for d in data.shape:
        if isinstance(d, int):
            if d == 0:
                return False
            continue
        have |= _factors(d)
    if not _factors(v) <= have:
        return False
    return _literal_quotient(data.numel(), prod(d for j, d in enumerate(out) if j != neg)) \
        is not None


def _literal_quotient(numel, known):
    """numel / known when it divides exactly as polynomials (a constant, or a product of
    sizes: C*H for [C, H, W - k] over W - k), else None."""
    if isinstance(known, int):
        return None
    q = integer_ratio(numel, known)
    if q is not None:
        return q
    if sympy.count_ops(numel) + sympy.count_ops(known) > 200:
        return None
    r = sympy.cancel(sympy.sympify(numel) / known)
    num, den = sympy.fraction(r)
    if den != 1 or not is_integer_expr(num) or sympy.expand(num * known - numel) != 0:
        return None
    return norm(num)


def _reshape_zero_next_to_minus_one(ctx, data, target, out, neg, i):
    """Entry i (v) is 0 at some sizes, next to a -1 (_copy_case_exact holds: the input is
    empty where v is 0, the literal quotient q divides exactly). onnxruntime (reshape_helper.h)
    copies input dim i for the 0, then needs the product of the other entries to be
    non-zero and infers 0 for the -1: out[i] is v, or d_i where v is 0; out[-1] is q, or 0
    where v is 0. Both readings are exact, one condition says which one applies."""
    v, d = target[i], data.shape[i]
    numel = data.numel()
    known = prod(x for j, x in enumerate(out) if j != neg)
    q = _literal_quotient(numel, known)
    copied = prod(d if j == i else x for j, x in enumerate(out) if j != neg)
    C = Constraint
    ctx.any_of([C.ge(v, 1), C.ge(copied, 1)],
               f"reshape to {_shape_str(out, neg)}: where entry {i} ({to_str(v)}) is 0, "
               f"onnxruntime copies input dim {i} ({to_str(d)}) and cannot infer the -1 "
               "axis from a product of 0")
    one = dmin(v, 1)  # 1 where v >= 1, 0 where v == 0 (v >= 0 under the known conditions)
    res = list(out)
    res[neg] = mul(q, one)
    res[i] = dmax(v, mul(d, sub(1, one)))
    return res


def _factors(x) -> set:
    """The non-numeric factors of a product (a sum is one factor)."""
    return set(sympy.Mul.make_args(sympy.sympify(x).as_coeff_Mul()[1]))


def _vanishes_with(v, d) -> bool:
    """d is 0 wherever v is (every factor of v divides d): copying d for a 0 then gives
    the literal 0, so v can be taken as it is."""
    if structurally_equal(v, d):
        return True
    if isinstance(d, int):
        return d == 0
    return _factors(v) <= _factors(d)


def _zero_copy_refused(data, out, i, sure) -> bool:
    """Where entry i is 0 the input is empty (every factor of the entry is a factor of the
    input's element count), and the copy's element count is >= 1 once input dim i is."""
    have: set | None = set()
    for d in data.shape:
        if isinstance(d, int):
            if d == 0:
                have = None
                break
            continue
        if have is not None:
            have |= _factors(d)
    if have is not None and not _factors(out[i]) <= have:
        return False
    return all(j == i or j in sure or at_least_one(d) for j, d in enumerate(out))


def _reshape_zero_cases(ctx, data, target, out, split):
    """No -1 entry, entries ``split`` may be 0: one case per subset of them taken as 0
    (copied from the input) and the others >= 1, each with its element count; each output
    dim is v, or d where v is 0."""
    numel = data.numel()
    C = Constraint
    cases = []
    for mask in range(1 << len(split)):
        dims = list(out)
        conds = []
        for k, i in enumerate(split):
            if mask >> k & 1:
                dims[i] = data.shape[i]
                conds.append(C.eq(target[i], 0))
            else:
                conds.append(C.ge(target[i], 1))
        count = prod(dims)
        if not structurally_equal(numel, count):
            conds.append(C.eq(numel, count))
        if any(c.constant_truth() is False for c in conds):
            continue
        conds = [c for c in conds if c.constant_truth() is None]
        cases.append(conds[0] if len(conds) == 1 else C.all_of(conds))
    ctx.any_of(cases, f"reshape to {_shape_str(out)} with entries {split} 0 at some sizes "
                      "(onnxruntime copies the input's dims there): the element count of "
                      f"the input of {to_str(numel)} elements must match")
    out = list(out)
    for i in split:  # max(v, d * (1 - min(v, 1))): a max keeps the sign structural
        out[i] = dmax(target[i], mul(data.shape[i], sub(1, dmin(target[i], 1))))
    return out


def _exact_quotient(ctx, numel, known, reason):
    """numel / known, imposing divisibility; supports symbolic factors that cancel."""
    if isinstance(known, int):
        if known == 0:
            ctx.fail("cannot infer -1 with a zero-sized entry")
        if isinstance(numel, int):
            if numel % known:
                ctx.fail((reason() if callable(reason) else reason) + f" ({numel} is not)")
            return numel // known
        coeff, rest = sympy.sympify(numel).as_coeff_Mul()
        if coeff.is_Integer:
            g = math.gcd(int(coeff), known)
            m = known // g
            reduced = norm(int(coeff) // g * rest)
            ctx.divides(m, reduced, reason)
            return floordiv(reduced, m) if m > 1 else reduced
        ctx.divides(known, numel, reason)
        return floordiv(numel, known)
    # cancel common factors as a multiset first: cheap, and enough for Reshape(x,
    # [N, -1]) where N comes from Shape(x); sympy.cancel only for small expressions
    nf = list(sympy.Mul.make_args(sympy.sympify(numel)))
    kc, kr = sympy.sympify(known).as_coeff_Mul()
    ok = True
    for f in sympy.Mul.make_args(kr):
        if f in nf:
            nf.remove(f)
        else:
            ok = False
            break
    if ok and kc.is_Integer and int(kc) > 0:
        return _exact_quotient(ctx, norm(sympy.Mul(*nf)), int(kc), reason)
    k = integer_ratio(numel, known)  # numel == k*known once both are expanded
    if k is not None:
        return k
    pair = _settled_where_positive(numel, known)
    if pair is not None and pair != (numel, known):
        try:  # the same division, of the two as they are where known >= 1
            return _exact_quotient(ctx, pair[0], pair[1], reason)
        except Unsupported:
            pass
    if sympy.count_ops(numel) + sympy.count_ops(known) > 200:
        raise Unsupported(f"cannot divide {to_str(numel)} by symbolic {to_str(known)} exactly")
    q = sympy.cancel(sympy.sympify(numel) / known)
    num, den = sympy.fraction(q)
    if den.is_Integer:
        return _exact_quotient(ctx, norm(num), int(den), reason)
    raise Unsupported(f"cannot divide {numel} by symbolic {known} exactly")


def _settled_where_positive(numel, known):
    """(numel, known) as they are wherever known >= 1 (the caller imposes it: onnxruntime
    infers no -1 from a product of 0), for a ``known`` of one size s that is >= 1 exactly
    from some s0 on (max(0, H - 3) from H = 4): every minimum and maximum of s alone in
    both replaced by the argument that wins at every s >= s0 (isl). A quotient of the two
    equals numel / known at every s >= s0, the sizes the condition keeps. None where
    known is not of that form."""
    syms = sympy.sympify(known).free_symbols
    if len(syms) != 1:
        return None
    (s,) = syms
    if not s.is_positive:
        return None
    try:
        where = size_set([s], IslPrinter(isl_names([s])).relation(known, 1, eq=False))
    except NonPresburger:
        return None
    s0 = vmin(where)
    if s0 is None or not where.is_equal(size_set([s], f"v0 >= {s0}")):
        return None
    if sympy.count_ops(numel) + sympy.count_ops(known) > 200:
        return None
    try:
        return (norm(_settled(sympy.sympify(numel), s, s0)),
                norm(_settled(sympy.sympify(known), s, s0)))
    except NonPresburger:
        return None


def _settled(e, s, s0: int):
    """e with each minimum or maximum of ``s`` alone replaced by the argument that wins at
    every s >= s0 (isl decides; bottom up); the others left as they are."""
    if not is_expr(e) or e.is_Atom or not e.has(sympy.Min, sympy.Max):
        return e
    e = e.func(*[_settled(x, s, s0) for x in e.args])
    if not isinstance(e, (sympy.Min, sympy.Max)) or not e.free_symbols <= {s}:
        return e
    p = IslPrinter(isl_names([s]))
    for w in e.args:
        # w wins where it is <= (min) or >= (max) every other argument
        wins = " and ".join(p.relation(w, o, eq=False) if isinstance(e, sympy.Max) else
                            p.relation(o, w, eq=False) for o in e.args if o is not w)
        if size_set([s], f"v0 >= {s0} and not ({wins})").is_empty():
            return w
    return e


def _shape_str(out, neg=None):
    """'[n, 49, floor(128/n)] (n = ceil((H - 3)/224)*ceil((W - 3)/224))': a product of
    sizes that recurs in the entries is written once (Swin's window count)."""
    return _shape_words(out, neg)[0]


def _count_words(numel, shared) -> str:
    """The element count, as a multiple of the shape's shared product n where it is one."""
    if shared is not None and not isinstance(numel, int):
        k = sympy.cancel(sympy.sympify(numel) / shared)
        if k.is_Integer:
            return f"{int(k)}*n"
    return to_str(numel, pretty=True)


def _shape_words(out, neg=None):
    dims = [d for i, d in enumerate(out) if i != neg and d is not None]
    quots = {d: d.args[0].as_numer_denom() for d in dims if is_quotient(d)}
    shared = None
    for d in dims:
        if isinstance(d, sympy.Mul) and len([f for f in d.args if f.free_symbols]) >= 2 and \
                any(den == d for _, den in quots.values()):
            shared = d
            break

    def one(d):
        if shared is None or isinstance(d, int):
            return to_str(d, pretty=True)
        if d == shared:
            return "n"
        if d in quots and quots[d][1] == shared:
            return f"floor({quots[d][0]}/n)"
        return to_str(d, pretty=True)

    text = "[" + ", ".join("-1" if i == neg else one(d) for i, d in enumerate(out)) + "]"
    return text + (f" (n = {to_str(shared, pretty=True)})" if shared is not None else ""), \
        shared


@rule("Flatten")
def flatten(ctx, input, *, axis: int = 1):
    """[prod(shape[:axis]), prod(shape[axis:])]."""
    r = len(input.shape)
    if not -r <= axis <= r:
        ctx.fail(f"axis {axis} out of range for rank {r}")
    a = axis + r if axis < 0 else axis
    return Tensor((prod(input.shape[:a]), prod(input.shape[a:])), input.dtype, input.value,
                  **same_elements(ctx, input))


@rule("Gather")
def gather(ctx, data, indices, *, axis: int = 0):
    """data.shape[:axis] + indices.shape + data.shape[axis+1:]; indices within +-dim."""
    r = len(data.shape)
    a = norm_axis(ctx, axis, r)
    dim = data.shape[a]
    if indices.value is not None and any(isinstance(v, float) for v in indices.value):
        raise Unsupported("float indices")
    fused = fused_range_inputs(ctx) if indices.value is None or len(indices.value) > 1 or \
        indices.shape else None
    if fused is not None:
        return _gather_as_slice(ctx, data, indices, a, fused)
    check_indices(ctx, indices, dim, table_words(dim, a))
    out = tuple(data.shape[:a]) + tuple(indices.shape) + tuple(data.shape[a + 1:])
    value = None
    if _known_contents(data) and _known_contents(indices) and \
            all(isinstance(v, int) for v in indices.value):
        value = _taken_value(data, indices.value, a)  # None where an index is out of range
    if value is None and data.value is None and DataType(data.dtype).is_integer and \
            bounds_of(ctx, data) is None:
        value = read_values(ctx, out)  # (bounded elements keep their bounds instead)
    facts = same_elements(ctx, data, subset=True, from_value=value is None)
    return Tensor(out, data.dtype, value, **facts)


def _gather_as_slice(ctx, data, indices, a, fused):
    """Gather(data, Range(s, l, d)) as onnxruntime runs it by default: Slice(data, [s], [l],
    [a], [d]) (GatherToSliceFusion). The Gather's own condition, indices within the axis,
    is what the ONNX spec (and onnxruntime at level 'basic') imposes: a spec note."""
    start, limit, delta = (Tensor((1,), INT64, t.value) if t.value is not None else t
                           for t in fused)

    b = bounds_of(ctx, indices)
    if b is not None and b.tight:
        dim = data.shape[a]
        why = ctx.origin(f"index values {to_str(b.lo)}..{to_str(b.hi)} must be within "
                         f"{table_words(dim, a)} (onnxruntime fuses this Range -> Gather "
                         "into a Slice, which clamps instead)")
        empties = [C.eq(d, 0) for d in indices.shape if not at_least_one(d)]
        hi_ok = C.ge(sub(dim, 1), b.hi, why)
        ctx.spec_note(C.any_of(empties + [hi_ok], why) if empties else hi_ok)
    out = slice_(ctx, data, start, limit, Tensor((1,), INT64, (a,)), delta)
    return Tensor(out.shape, data.dtype, out.value,
                  **same_elements(ctx, data, subset=True, from_value=out.value is None))


@rule("Concat")
def concat(ctx, *inputs, axis: int):
    """Non-axis dims equal; the axis dim is the sum."""
    inputs = tuple(t for t in inputs if t is not None)
    if not inputs:
        ctx.fail("needs at least one input")
    r = len(inputs[0].shape)
    a = norm_axis(ctx, axis, r)
    for j, t in enumerate(inputs[1:], 1):
        if len(t.shape) != r:
            ctx.fail(f"input {j} has rank {len(t.shape)}, input 0 has rank {r}")
    # onnxruntime validates against the first non-empty input and skips empty ones; the
    # output takes the first non-empty input's dims and the sum of every axis dim
    maybe_empty = [[d for i, d in enumerate(t.shape) if not at_least_one(d)] for t in inputs]
    solid = [j for j, m in enumerate(maybe_empty) if not m]
    # an input with a dim that is always 0 never defines the output (it is always skipped)
    live = [j for j, t in enumerate(inputs) if not any(d == 0 for d in t.shape)]
    piecewise = None
    if not solid and len(live) == 1 and live[0] != 0:
        piecewise = _one_live_input(inputs, live[0], a, maybe_empty[live[0]])
    if not solid and piecewise is None and not _same_off_axis(inputs, a):
        # e.g. per-level detections of data-dependent count: take input 0's dims, say so
        ctx.assume("every input may be empty, and onnxruntime then takes the shape from "
                   "the first non-empty one", shapes_unsure=True)
    ref = solid[0] if solid else (live[0] if piecewise is not None else 0)
    out = list(inputs[ref].shape) if piecewise is None else piecewise
    for j, t in enumerate(inputs):
        if j == ref or (not maybe_empty[j] and j < ref):
            continue
        others = [ref] if not maybe_empty[j] else [i for i in range(j) if i != ref] + [ref]
        for i in sorted(set(others)):
            u = inputs[i]
            eqs = [Constraint.eq(t.shape[x], u.shape[x]) for x in range(r)
                   if x != a and not structurally_equal(t.shape[x], u.shape[x])]
            if not eqs:
                continue
            why = f"inputs {min(i, j)} and {max(i, j)} must match on every axis but {a}"
            empties = [Constraint.eq(d, 0) for d in maybe_empty[j] + maybe_empty[i]]
            if not empties:
                for e in eqs:
                    ctx.eq(e.lhs, e.rhs, why + f" ({to_str(e.lhs)} vs {to_str(e.rhs)})")
            else:
                main = eqs[0] if len(eqs) == 1 else Constraint.all_of(eqs)
                ctx.any_of([main] + empties, why + " unless one of them is empty")
                _fixed_mismatch(ctx, eqs, i, j)
    out[a] = _sum(t.shape[a] for t in inputs)
    value = None
    if r == 0:
        ctx.fail("cannot concatenate scalars")
    if all(_known_contents(t) for t in inputs) and \
            len({tuple(d for i, d in enumerate(t.shape) if i != a) for t in inputs}) == 1:
        value = _joined_value(inputs, a)
    # every input non-empty: the extremes of the parts are attained in the whole
    solid_all = all(not m for m in maybe_empty)
    bounds = None if value is not None else union([bounds_of(ctx, t) for t in inputs],
                                                  tight=solid_all)
    return Tensor(tuple(out), inputs[0].dtype, value, bounds, origin_of(ctx, *inputs))


def _fixed_mismatch(ctx, eqs, i, j) -> None:
    """Two inputs whose dims off the axis are two different numbers run only where one of
    them is empty (concat.cc skips it), if onnxruntime loads the model at all: its
    load-time shape inference refuses a Concat of two known, different dims ("Can't merge
    shape info") at every size, and whether it knows both numbers (a Pad of constant
    pads, a declared dim) is not modelled. The sizes where one is empty are then unproven;
    the others fail either way (found by the fuzzer, seed 7130094)."""
    for e in eqs:
        if isinstance(e.lhs, int) and isinstance(e.rhs, int) and e.lhs != e.rhs:
            ctx.assume(f"inputs {min(i, j)} and {max(i, j)} differ off the axis ({e.lhs} vs "
                       f"{e.rhs}) and run only where one is empty, if onnxruntime's load-time "
                       "shape inference (which may know both numbers) accepts the model")
            return


def _one_live_input(inputs, j, a, empty_dims):
    """Every input but j has a dim that is always 0, and j is empty at some sizes: the
    output takes j's dims where j is not empty, input 0's where every input is
    (onnxruntime's concat.cc falls back to input 0): in0 + (j - in0)*[j not empty], exact
    and quasi-affine where each difference is a number; None otherwise."""
    flag = dmin(1, *empty_dims)  # 1 where every dim of j is >= 1, else 0 (dims are >= 0)
    out = []
    for x, (d0, dj) in enumerate(zip(inputs[0].shape, inputs[j].shape)):
        if x == a:
            out.append(None)  # the axis: the sum, filled in by the caller
            continue
        diff = sub(dj, d0)
        if not isinstance(diff, int):
            return None
        out.append(add(d0, mul(diff, flag)) if diff else d0)
    return out


def _same_off_axis(inputs, a) -> bool:
    """Every input has input 0's dims off the concat axis at every size (structurally, or
    proved by isl within its budget). Then whichever input onnxruntime takes as its
    reference (the first non-empty one, else input 0), the output is input 0's dims with
    the summed axis: a SqueezeNet Fire or Inception block, whose branches may all be empty
    at small sizes, has a proved output."""

    ref = inputs[0].shape
    for t in inputs[1:]:
        for x, (d, e) in enumerate(zip(t.shape, ref)):
            if x == a or structurally_equal(d, e):
                continue
            if isinstance(d, int) and isinstance(e, int):
                return False
            diff = norm(sub(d, e))
            if nonneg(diff, budget=True) and nonpos(diff, budget=True):
                continue
            # equal for every value of the counts in them that their definitions allow (a
            # pasted mask cut back to the image: tautology.always)
            if not (any(is_data_dependent(s) for s in free_symbols(diff)) and
                    always(Constraint.eq(d, e))):
                return False
    return True


def _sum(xs):
    total = 0
    for x in xs:
        total = add(total, x)
    return total


def _axes(ctx, axes_in, axes_attr):
    if axes_in is not None:
        return const_ints(axes_in, "axes")
    return list(axes_attr) if axes_attr is not None else None


@rule("Unsqueeze")
def unsqueeze(ctx, data, axes=None, **attrs):
    """Insert 1s at ``axes`` (attribute before opset 13, input after)."""
    ax = _axes(ctx, axes, attrs.get("axes"))
    if ax is None:
        ctx.fail("axes are required")
    r = len(data.shape) + len(ax)
    ax = sorted(norm_axis(ctx, a, r) for a in ax)
    if len(set(ax)) != len(ax):
        ctx.fail(f"repeated axes {ax}")
    out = list(data.shape)
    for a in ax:
        out.insert(a, 1)
    return Tensor(tuple(out), data.dtype, data.value, **same_elements(ctx, data))


@rule("Squeeze")
def squeeze(ctx, data, axes=None, **attrs):
    """Remove the size-1 ``axes`` (all size-1 axes when none given)."""
    ax = _axes(ctx, axes, attrs.get("axes"))
    r = len(data.shape)
    if ax is None:
        if any(not isinstance(d, int) for d in data.shape):
            raise Unsupported("Squeeze without axes on a symbolic shape")
        ax = [i for i, d in enumerate(data.shape) if d == 1]
    ax = {norm_axis(ctx, a, r) for a in ax}
    for a in ax:
        ctx.eq(data.shape[a], 1, f"axis {a} must have size 1 to be squeezed")
    out = tuple(d for i, d in enumerate(data.shape) if i not in ax)
    return Tensor(out, data.dtype, data.value, **same_elements(ctx, data))


@rule("Transpose")
def transpose(ctx, data, *, perm=None):
    """Permute dims (reverse when perm is absent)."""
    r = len(data.shape)
    p = list(perm) if perm is not None else list(range(r))[::-1]
    if sorted(p) != list(range(r)):
        ctx.fail(f"perm {p} is not a permutation of {r} axes")
    value = _picked(data, [range(n) for n in data.shape], p) if _known_contents(data) \
        else None
    return Tensor(tuple(data.shape[i] for i in p), data.dtype, value,
                  **same_elements(ctx, data))


def _clamp_index(v, n, lo_bias: int, step_pos: bool, ctx=None):
    """onnxruntime's Slice clamping of one start/end index against a dim of size n: a
    negative index counts from the end (v + n), then the result is clamped to
    [lo_bias, n] (step > 0) or [lo_bias, n - 1] (step < 0), lo_bias being 0 or -1."""
    hi = n if step_pos else sub(n, 1)
    if isinstance(v, int):
        if v >= BIG:
            return hi
        if v <= -BIG:
            return 0 if step_pos else -1
        if v < 0:
            v = add(v, n)  # <= n - 1: only the lower clamp can apply
            return dmax(v, lo_bias) if not isinstance(v, int) else max(v, lo_bias)
        if isinstance(hi, int):
            return max(lo_bias, min(v, hi))
        # v >= 0 and hi >= lo_bias (n >= 0): min(v, hi) >= lo_bias, no lower clamp. (This
        # asked sympy's is_nonnegative of the min, which took minutes on Swin's shapes.)
        return dmin(v, hi)
    if provably(v, Rel.NONNEG):
        v = dmin(v, hi)
        return v if lo_bias <= 0 else dmax(v, lo_bias)
    if provably(add(v, 1), Rel.NONPOS):
        return dmax(add(v, n), lo_bias)
    if not isinstance(n, int) and step_pos and ctx is not None and any(
            is_data_dependent(x) for x in free_symbols(v)):
        # v + n * [v < 0] with a symbolic n is a product of two unknowns: a bound read at
        # run time (a box coordinate) becomes a value defined by the clamp, exactly
        return ctx.fresh(f"the slice bound {to_str(v)} clamped to an axis of {to_str(n)}",
                         defined_by=lambda r: C.any_of([
                             C.all_of([C.ge(v, 0), C.eq(r, dmin(v, n))]),
                             C.all_of([C.ge(-1, v), C.eq(r, dmax(add(v, n), 0))])]))
    if not isinstance(n, int):
        # v + n * [v < 0] with a symbolic n is a product of two unknowns
        raise Unsupported(f"a slice bound {to_str(v)} that is negative for some sizes only, on "
                          f"an axis of symbolic size {to_str(n)}")
    v = add(v, mul(n, sub(1, dmin(dmax(add(v, 1), 0), 1))))  # + n exactly when v < 0
    return dmax(dmin(v, hi), lo_bias)


def _nonneg(x):
    return bool(sympy.sympify(x).is_nonnegative)


@rule("Slice", since=1, until=9)
def slice_v1(ctx, data, *, starts=None, ends=None, axes=None):
    """Slice-1: ``starts``, ``ends`` (and ``axes``) are attributes, every step 1; clamped as
    Slice-10 (onnxruntime runs both through SliceBase::PrepareForCompute)."""
    if starts is None or ends is None:
        ctx.fail("the starts and ends attributes are required")
    return _slice(ctx, data, [int(v) for v in starts], [int(v) for v in ends],
                  None if axes is None else [int(v) for v in axes], None)


@rule("Slice", since=10)
def slice_(ctx, data, starts=None, ends=None, axes=None, steps=None):
    """Per axis: clamp start/end to the dim (onnxruntime's rules), len = ceil((e-s)/step)."""
    st, en = ints(starts, "starts"), ints(ends, "ends")
    ax = const_ints(axes, "axes") if axes is not None else None
    sp = const_ints(steps, "steps") if steps is not None else None
    return _slice(ctx, data, st, en, ax, sp)


def _slice(ctx, data, st, en, ax, sp):
    r = len(data.shape)
    ax = list(range(len(st))) if ax is None else [norm_axis(ctx, a, r) for a in ax]
    sp = sp or [1] * len(st)
    if not (len(st) == len(en) == len(ax) == len(sp)):
        ctx.fail("starts, ends, axes and steps must have equal lengths")
    out = list(data.shape)
    plan = {}
    for s, e, a, k in zip(st, en, ax, sp):
        if k == 0:
            ctx.fail("slice step cannot be 0")
        n = data.shape[a]
        if k > 0:
            s2 = _clamp_index(s, n, 0, True, ctx)
            e2 = _clamp_index(e, n, 0, True, ctx)
            length = dmax(ceildiv(sub(e2, s2), k), 0)
        else:
            s2 = _clamp_index(s, n, -1, False)
            e2 = _clamp_index(e, n, -1, False)
            length = dmax(ceildiv(sub(s2, e2), -k), 0)
        out[a] = length
        plan[a] = (s2, e2, k)
    value = None
    if _known_contents(data) and all(isinstance(v, int) for p in plan.values() for v in p[:2]):
        value = _sliced_value(data, plan)
    facts = same_elements(ctx, data, subset=True, from_value=value is None)
    return Tensor(tuple(out), data.dtype, value, **facts)


def _sliced_value(data, plan: dict) -> tuple:
    """The row-major elements of ``data``'s value at the slice ``plan`` (axis -> clamped
    start, end, step), as numpy's basic slicing gives them, without numpy."""
    shape = data.shape
    picks = []
    for a, n in enumerate(shape):
        if a in plan:
            s2, e2, k = plan[a]
            sl = slice(s2, e2, k) if k > 0 else slice(s2, e2 if e2 >= 0 else None, k)
        else:
            sl = slice(None)
        picks.append(range(*sl.indices(n)))
    return _picked(data, picks)


def _taken_value(data, picks, a: int) -> tuple | None:
    """The row-major elements of ``np.take(data, picks, axis=a)`` (``picks`` flat, row-major)
    without numpy: for each position before the axis, the picked rows' contiguous blocks;
    None where a pick is out of range (the rule's condition says so)."""
    n = data.shape[a]
    if any(not -n <= q < n for q in picks):
        return None
    inner = math.prod(data.shape[a + 1:])
    outer = math.prod(data.shape[:a])
    vals = data.value
    out: list = []
    for o in range(outer):
        for q in picks:
            start = (o * n + (q % n)) * inner
            out.extend(vals[start:start + inner])
    return tuple(out)


def _joined_value(inputs, a: int) -> tuple:
    """The row-major elements of ``np.concatenate`` of the inputs' values along axis ``a``
    (their other dims equal, concrete) without numpy: for each position before the axis,
    each input's contiguous block in turn."""
    outer = math.prod(inputs[0].shape[:a])
    blocks = [math.prod(t.shape[a:]) for t in inputs]
    out: list = []
    for o in range(outer):
        for t, b in zip(inputs, blocks):
            out.extend(t.value[o * b:(o + 1) * b])
    return tuple(out)


def _known_contents(t) -> bool:
    """Whether ``t``'s elements are known and its shape is concrete (row-major values)."""
    return t.value is not None and all(isinstance(d, int) for d in t.shape)


def _picked(data, picks: list, order=None) -> tuple:
    """The row-major elements of ``data`` (known contents) at the indices ``picks[a]`` of
    each axis a, the axes taken in ``order`` (a transpose's permutation; default as they
    are): numpy's basic slicing and ``transpose`` without numpy."""
    shape = data.shape
    strides = [1] * len(shape)
    for a in range(len(shape) - 2, -1, -1):
        strides[a] = strides[a + 1] * shape[a + 1]
    order = list(range(len(shape))) if order is None else order
    vals = data.value
    return tuple(vals[sum(i * strides[a] for i, a in zip(idx, order))]
                 for idx in itertools.product(*(picks[a] for a in order)))


def _flat(x) -> list:
    """Row-major elements of a numpy result (np.take of a scalar index gives an element)."""
    if isinstance(x, np.ndarray):
        return list(x.reshape(-1))
    return [x]


def _value_array(t):
    """The contents of a small tensor with a constant shape as a numpy object array."""
    if not _known_contents(t):
        return None
    arr = np.empty(len(t.value), dtype=object)
    arr[:] = list(t.value)
    return arr.reshape(t.shape)


def _nonneg_entries(ctx, vals, what: str) -> None:
    """Computed sizes must not be negative (onnxruntime: 'Tensor shape.Size() must be >= 0',
    'Tile repeat value must be non-negative'); a constant negative one fails outright."""
    for i, v in enumerate(vals):
        if isinstance(v, int):
            if v < 0:
                ctx.fail(f"{what} entry {i} is negative ({v})")
        elif not provably(v, Rel.NONNEG):
            ctx.ge(v, 0, f"{what} entry {i} ({to_str(v)}) must not be negative")


@rule("ConstantOfShape")
def constant_of_shape(ctx, input, *, value=None):
    """A tensor of the given (possibly symbolic) shape filled with ``value``."""
    shp = ints(input, "the shape")
    _nonneg_entries(ctx, shp, "the shape")
    fill = 0.0
    dtype = FLOAT
    if isinstance(value, Tensor):  # read by the loader
        dtype = value.dtype
        fill = value.value[0] if value.value else 0
    elif value is not None:
        arr = np.asarray(value).reshape(-1)
        fill = arr[0].item() if arr.size else 0
        dtype = _np_dtype_code(arr)
    n = prod(shp)
    val = None
    fill = int(fill) if isinstance(fill, (int, bool)) else fill
    if isinstance(n, int) and n <= MAX_VALUE_ELEMENTS:
        val = (fill,) * n
    bounds = None
    if isinstance(fill, int) or (isinstance(fill, float) and fill.is_integer()):
        bounds = Bounds(int(fill), int(fill), True)
    return Tensor(tuple(shp), dtype, val, bounds)


@rule("Range")
def range_(ctx, start, limit, delta):
    """len = max(ceil((limit - start) / delta), 0)."""
    s, l_, d = ints(start, "start")[0], ints(limit, "limit")[0], ints(delta, "delta")[0]
    if not isinstance(d, int) or d == 0:
        raise Unsupported("Range with a symbolic or zero delta")
    if d > 0:
        n = dmax(ceildiv(sub(l_, s), d), 0)
    else:
        n = dmax(ceildiv(sub(s, l_), -d), 0)
    val = None
    if isinstance(n, int) and n <= MAX_VALUE_ELEMENTS:
        val = tuple(add(s, mul(i, d)) for i in range(n))
    # too long to hold: s, s + d, ..., s + (n - 1) d; both ends attained when not empty
    # (then n = ceil((limit - start) / delta) without the max with 0)
    steps = ceildiv(sub(l_, s), d) if d > 0 else ceildiv(sub(s, l_), -d)
    last = add(s, mul(sub(steps, 1), d))
    bounds = Bounds(s, last, True) if d > 0 else Bounds(last, s, True)
    return Tensor((n,), start.dtype, val, bounds)


@rule("Expand")
def expand(ctx, input, shape):
    """Bidirectional broadcast of input's shape with ``shape``."""
    shp = ints(shape, "the target shape")
    _nonneg_entries(ctx, shp, "the target shape")
    out = broadcast_shapes(ctx, [input.shape, tuple(shp)], "input and target shape")

    value = broadcast_values("Identity", out, [input])
    facts = same_elements(ctx, input, from_value=value is None)
    return Tensor(out, input.dtype, value, **facts)


@rule("Tile")
def tile(ctx, input, repeats):
    """out[i] = input[i] * repeats[i]."""
    rep = ints(repeats, "repeats")
    if len(rep) != len(input.shape):
        ctx.fail(f"repeats has {len(rep)} entries for rank {len(input.shape)}")
    _nonneg_entries(ctx, rep, "repeats")
    out = tuple(mul(a, b) for a, b in zip(input.shape, rep))
    arr = _value_array(input)
    value = None
    if arr is not None and all(isinstance(k, int) for k in rep) and \
            int(np.prod([k for k in rep])) * arr.size <= MAX_VALUE_ELEMENTS:
        value = tuple(np.tile(arr, rep).reshape(-1))
    return Tensor(out, input.dtype, value, **same_elements(ctx, input, from_value=value is None))


@rule("Split")
def split(ctx, input, split=None, *, axis: int = 0, num_outputs=None, **attrs):
    """Sizes from ``split``; otherwise equal parts (the dim must divide, opset < 18)."""
    r = len(input.shape)
    a = norm_axis(ctx, axis, r)
    dim = input.shape[a]
    parts = ints(split, "split") if split is not None else attrs.get("split")
    n = ctx.n_outputs
    if parts:
        parts = list(parts)
        ctx.eq(_sum(parts), dim, f"split sizes {parts} must add up to the axis size")
    elif num_outputs is not None and ctx.opset >= 18:
        n = int(num_outputs)
        chunk = ceildiv(dim, n)
        parts = [chunk] * (n - 1) + [sub(dim, mul(chunk, n - 1))]
        ctx.ge(parts[-1], 1, f"splitting into {n} parts leaves an empty last part")
    else:
        ctx.divides(n, dim, f"axis {a} of size {to_str(dim)} must split into {n} equal parts")
        parts = [floordiv(dim, n)] * n
    outs = []
    arr = _value_array(input)
    start = 0
    for p in parts:
        s = list(input.shape)
        s[a] = p
        value = None
        if arr is not None and isinstance(p, int) and isinstance(start, int):
            value = tuple(_flat(np.take(arr, range(start, start + p), axis=a)))
        start = add(start, p)
        facts = same_elements(ctx, input, subset=True, from_value=value is None)
        outs.append(Tensor(tuple(s), input.dtype, value, **facts))
    return outs


_PAD_MODES = ("constant", "reflect", "edge", "wrap")


@rule("Pad", since=2, until=10)
def pad_v2(ctx, data, *, pads=(), mode: str = "constant", value: float = 0.0):
    """Pad-2: ``pads`` (and the fill ``value``) are attributes; as Pad-11 otherwise."""
    return _pad(ctx, data, list(pads), None, mode)


@rule("Pad", since=11)
def pad(ctx, data, pads=None, constant_value=None, axes=None, *, mode: str = "constant"):
    """out[i] = in[i] + pad_begin[i] + pad_end[i]; edge/reflect/wrap copy from the input."""
    p = ints(pads, "pads") if pads is not None else []
    return _pad(ctx, data, p, axes, mode)


def _pad(ctx, data, p, axes, mode):
    r = len(data.shape)
    ax = const_ints(axes, "axes") if axes is not None else list(range(r))
    ax = [norm_axis(ctx, a, r) for a in ax]
    if len(p) != 2 * len(ax):
        ctx.fail(f"pads has {len(p)} entries for {len(ax)} axes")
    if mode not in _PAD_MODES:
        ctx.fail(f"unknown mode {mode!r}")
    begin, end = [0] * r, [0] * r
    for j, a in enumerate(ax):  # a repeated axis: the last entry wins (ComputePadWithAxes)
        begin[a], end[a] = p[j], p[j + len(ax)]
    out = [add(add(d, b), e) for d, b, e in zip(data.shape, begin, end)]
    for a in ax:
        ctx.ge(out[a], 0, f"axis {a}: negative padding removes more than the axis holds")
    if mode != "constant":
        _pad_copy_conditions(ctx, data.shape, begin, end, out, mode)
    return Tensor(tuple(out), data.dtype)


def _pad_copy_conditions(ctx, shape, begin, end, out, mode):
    """What onnxruntime's CPU Pad (pad.cc, PadImpl) checks before copying input values into
    the pads. A non-empty input: every axis must keep at least one element after the
    negative pads crop it ('zero effective input extent'), and for reflect each positive pad
    must be below that length ('pre-pad (p) exceeds maximum allowed (n - 1)'). An empty
    input (some axis 0) goes through HandleDimValueZero instead: edge and reflect then fail
    only where an empty axis would grow ('Cannot use 'edge' mode to pad dimension with a
    value of 0'), wrap always fails ('Unexpected mode of 3')."""
    C = Constraint
    solid = []
    for a, (d, b, e) in enumerate(zip(shape, begin, end)):
        kept = add(add(d, _neg_part(b)), _neg_part(e))
        if not at_least_one(kept):
            solid.append(C.ge(kept, 1, ctx.origin(
                f"{mode} padding of axis {a} needs at least one element of the axis left "
                f"after cropping ({to_str(kept)})")))
        if mode == "reflect":
            for side, q in (("begin", b), ("end", e)):
                if isinstance(q, int) and q <= 0:
                    continue  # below the length once the length is >= 1
                solid.append(C.ge(sub(kept, 1), q, ctx.origin(
                    f"reflect padding of axis {a}: the {side} pad ({to_str(q)}) must be less "
                    f"than the axis length after cropping ({to_str(kept)})")))
    maybe_empty = [a for a, d in enumerate(shape) if not at_least_one(d)]
    if not maybe_empty or mode == "wrap":
        for c in solid:
            ctx.any_of([c], c.origin.reason)
        return
    grows = [C.any_of([C.ge(shape[a], 1), C.eq(out[a], 0)]) for a in maybe_empty
             if not (begin[a] == 0 and end[a] == 0)]
    empty = C.all_of([C.any_of([C.eq(shape[a], 0) for a in maybe_empty])] + grows)
    # an axis that may be empty keeps no element at that size, so ``solid`` is not empty
    full = solid[0] if len(solid) == 1 else C.all_of(solid)
    ctx.any_of([full, empty], f"{mode} padding needs every axis non-empty after cropping"
               + (" and each pad less than the axis length" if mode == "reflect" else "")
               + ", or an empty input whose empty axes do not grow")


def _neg_part(x):
    """min(x, 0): the cropping part of a pad."""
    return min(x, 0) if isinstance(x, int) else dmin(x, 0)


_ = (Constraint, np)
