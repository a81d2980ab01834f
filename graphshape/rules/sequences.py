"""Sequence ops: SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceAt,
SequenceErase, SequenceLength, SplitToSequence, ConcatFromSequence, SequenceMap.

A sequence is a Tensor with no shape (so no tensor rule can mistake it for a tensor),
dtype SEQUENCE, and as value the tuple of its element Tensors (None when the length is
unknown). Positions follow the spec's ranges ([-n, n] to insert, [-n, n - 1] otherwise),
as onnxruntime checks them.
"""

from __future__ import annotations

from graphshape.arith.dims import add, mul, structurally_equal, sub, to_str
from graphshape.errors import Unsupported
from graphshape.loader.tensor import INT64, Tensor
from graphshape.rules._common import const_ints, ints
from graphshape.shapes.constraints import Constraint
from graphshape.shapes.registry import rule

SEQUENCE = -2  # Tensor.dtype of a sequence (not an onnx element type)


def sequence_of(elems) -> Tensor:
    return Tensor(None, SEQUENCE, tuple(elems) if elems is not None else None)


def _elems(ctx, s, what="input_sequence") -> list:
    if s is None or s.dtype != SEQUENCE or s.shape is not None:
        ctx.fail(f"{what} must be a sequence")
    if s.value is None:
        raise Unsupported(f"the length of {what} is known only at run time")
    return list(s.value)


def _position(ctx, position, n: int, lo: int, hi: int, default: int) -> int:
    if position is None:
        return default
    p = const_ints(position, "position")
    if len(p) != 1:
        ctx.fail("position must be a scalar")
    p = p[0]
    if not lo <= p <= hi:
        ctx.fail(f"position {p} is out of range [{lo}, {hi}] for a sequence of {n}")
    return p + n if p < 0 else p


@rule("SequenceEmpty", since=11)
def sequence_empty(ctx, *, dtype: int = 1):
    """An empty sequence (https://onnx.ai/onnx/operators/onnx__SequenceEmpty.html)."""
    return sequence_of(())


@rule("SequenceConstruct", since=11)
def sequence_construct(ctx, *inputs):
    """The inputs as a sequence (https://onnx.ai/onnx/operators/onnx__SequenceConstruct.html)."""
    if not inputs:
        ctx.fail("SequenceConstruct needs at least one input")
    return sequence_of(inputs)


@rule("SequenceInsert", since=11)
def sequence_insert(ctx, input_sequence, tensor, position=None):
    """``tensor`` inserted at position (default: the end), position in [-n, n]
    (https://onnx.ai/onnx/operators/onnx__SequenceInsert.html)."""
    e = _elems(ctx, input_sequence)
    n = len(e)
    p = _position(ctx, position, n, -n, n, n)
    return sequence_of(e[:p] + [tensor] + e[p:])


@rule("SequenceAt", since=11)
def sequence_at(ctx, input_sequence, position):
    """The element at position, in [-n, n - 1]
    (https://onnx.ai/onnx/operators/onnx__SequenceAt.html)."""
    e = _elems(ctx, input_sequence)
    n = len(e)
    if position is not None and position.value is None:
        return _at_unknown(ctx, e, position)
    return e[_position(ctx, position, n, -n, n - 1, 0)]


def _at_unknown(ctx, e, position):
    """A position known only by its bounds (a Loop counter...): in range when the bounds
    provably are, and then any element: their common shape, when they share one."""
    n = len(e)
    b = getattr(position, "bounds", None)
    if b is None or not (isinstance(b.lo, int) and isinstance(b.hi, int)
                         and -n <= b.lo and b.hi <= n - 1):
        raise Unsupported("position is computed at run time and its range is not known")
    first = e[b.lo]
    picked = [e[i] for i in range(b.lo, b.hi + 1)]
    for t in picked:
        if t.shape is None or len(t.shape) != len(first.shape) or \
                any(not structurally_equal(x, y) for x, y in zip(t.shape, first.shape)):
            raise Unsupported("the elements the position may pick differ in shape")
    return Tensor(first.shape, first.dtype)


@rule("SequenceErase", since=11)
def sequence_erase(ctx, input_sequence, position=None):
    """The sequence without the element at position (default: the last), in [-n, n - 1]
    (https://onnx.ai/onnx/operators/onnx__SequenceErase.html)."""
    e = _elems(ctx, input_sequence)
    n = len(e)
    p = _position(ctx, position, n, -n, n - 1, n - 1)
    return sequence_of(e[:p] + e[p + 1:])


@rule("SequenceLength", since=11)
def sequence_length(ctx, input_sequence):
    """An int64 scalar: the number of elements
    (https://onnx.ai/onnx/operators/onnx__SequenceLength.html)."""
    return Tensor((), INT64, (len(_elems(ctx, input_sequence)),))


@rule("SplitToSequence", since=11)
def split_to_sequence(ctx, input, split=None, *, axis: int = 0, keepdims: int = 1):
    """Pieces of size 1 (squeezed unless keepdims), of size ``split`` (the last smaller), or
    of the sizes listed in ``split`` (summing to the axis)
    (https://onnx.ai/onnx/operators/onnx__SplitToSequence.html)."""
    r = len(input.shape)
    if not -r <= axis < r:
        ctx.fail(f"axis {axis} is out of range for rank {r}")
    a = axis % r
    d = input.shape[a]
    shape = list(input.shape)

    def piece(size, keep=True):
        s = list(shape)
        if keep:
            s[a] = size
        else:
            del s[a]
        return Tensor(tuple(s), input.dtype)

    if split is None:
        if not isinstance(d, int):
            raise Unsupported(f"the number of pieces is the axis size {to_str(d)}")
        return sequence_of([piece(1, bool(keepdims)) for _ in range(d)])
    sizes = ints(split, "split")
    if len(split.shape) == 0:
        k = sizes[0]
        if not isinstance(k, int) or k < 1:
            ctx.fail("a scalar split must be a positive number")
        if not isinstance(d, int):
            raise Unsupported(f"the number of pieces depends on {to_str(d)}")
        full, rest = divmod(d, k)
        return sequence_of([piece(k)] * full + ([piece(rest)] if rest else []))
    for s in sizes:
        ctx.ge(s, 0, "split sizes must be >= 0")
    total = sizes[0] if sizes else 0
    for s in sizes[1:]:
        total = add(total, s)
    ctx.eq(total, d, f"the split sizes must sum to the axis size {to_str(d)}")
    return sequence_of([piece(s) for s in sizes])


@rule("ConcatFromSequence", since=11)
def concat_from_sequence(ctx, input_sequence, *, axis: int, new_axis: int = 0):
    """The elements concatenated along axis (stacked on a new axis with new_axis=1)
    (https://onnx.ai/onnx/operators/onnx__ConcatFromSequence.html)."""
    e = _elems(ctx, input_sequence)
    if not e:
        ctx.fail("ConcatFromSequence of an empty sequence")
    r = len(e[0].shape)
    rr = r + 1 if new_axis else r
    if not -rr <= axis < rr:
        ctx.fail(f"axis {axis} is out of range")
    a = axis % rr
    for t in e[1:]:
        if len(t.shape) != r:
            ctx.fail("every element must have the same rank")
        for i in range(r):
            if new_axis or i != a:
                ctx.eq(t.shape[i], e[0].shape[i], f"elements must agree on axis {i}")
    if new_axis:
        out = list(e[0].shape)
        out.insert(a, len(e))
    else:
        out = list(e[0].shape)
        total = e[0].shape[a]
        for t in e[1:]:
            total = add(total, t.shape[a])
        out[a] = total
    return Tensor(tuple(out), e[0].dtype)


@rule("SequenceMap", since=17)
def sequence_map(ctx, input_sequence, *additional_inputs, body):
    """``body`` applied to each element (and to each element of the additional sequences,
    or to the additional tensors as they are); each body output becomes a sequence
    (https://onnx.ai/onnx/operators/onnx__SequenceMap.html)."""
    e = _elems(ctx, input_sequence)
    n = len(e)
    extra = []
    for t in additional_inputs:
        if t is not None and t.dtype == SEQUENCE and t.shape is None:
            x = _elems(ctx, t, "an additional sequence")
            if len(x) != n:
                ctx.fail("all sequences must have the same length")
            extra.append(x)
        else:
            extra.append([t] * n)
    names = [i.name for i in body.input]
    if len(names) != 1 + len(extra):
        ctx.fail(f"the body has {len(names)} inputs for {1 + len(extra)} values")
    if ctx.subgraph_runner is None:
        raise Unsupported("no subgraph runner available")
    outs = [[] for _ in body.output]
    for i in range(n):
        env = {names[0]: e[i]}
        env.update({nm: x[i] for nm, x in zip(names[1:], extra)})
        prop = ctx.subgraph_runner(body, env)
        if prop.impossible:
            ctx.fail(f"the body can never run on element {i}: {prop.impossible[0]}")
        if prop.unproven:
            raise Unsupported(f"the body: {prop.unproven[0].describe()}")
        ctx.constraints.extend(prop.constraints)
        ctx.spec_notes.extend(prop.spec_notes)
        ctx.fresh_symbols.extend(prop.data_dependent)
        for j, o in enumerate(body.output):
            t = prop.tensors.get(o.name)
            if t is None or t.shape is None:
                raise Unsupported(f"body output '{o.name}' has an unknown shape")
            outs[j].append(Tensor(t.shape, t.dtype, t.value))
    return [sequence_of(o) for o in outs]


_ = (Constraint, mul, sub)
