"""Optional, OptionalHasElement, OptionalGetElement, and opset 8's Scan.

An optional value is a Tensor with no shape (so no tensor rule can mistake it for a
tensor: every one of them makes its node unproven), dtype OPTIONAL, and as value the
tuple of its element (a Tensor) or () when it is empty; value None when unknown.
Opset 28's versions follow the spec (onnxruntime 1.31 refuses opset 28); opsets 15-18
are onnxruntime's kernels, which only pass the element through.

Scan-8 (batched: a leading batch axis on every input and output, an optional
sequence_lens first input) reuses control_flow's subgraph walk through
ctx.subgraph_runner.
"""

from __future__ import annotations

from ..dims import structurally_equal
from ..errors import Unsupported
from ..registry import rule
from ..tensor import BOOL, Tensor

OPTIONAL = -3  # Tensor.dtype of an optional value (not an onnx element type)


def optional_of(elem) -> Tensor:
    return Tensor(None, OPTIONAL, (elem,) if elem is not None else ())


def _is_optional(t) -> bool:
    return t is not None and t.dtype == OPTIONAL and t.shape is None


@rule("Optional", since=15)
def optional(ctx, input=None, *, type=None):
    """An optional holding ``input``, or an empty one of ``type``
    (https://onnx.ai/onnx/operators/onnx__Optional.html)."""
    if input is None and type is None:
        ctx.fail("an empty Optional needs the type attribute")
    return optional_of(input)


@rule("OptionalHasElement", since=15)
def optional_has_element(ctx, input=None):
    """A bool scalar: whether the optional (or a plain tensor, opset 18+) holds a value
    (https://onnx.ai/onnx/operators/onnx__OptionalHasElement.html)."""
    if input is None:
        if ctx.opset < 18:
            ctx.fail("OptionalHasElement needs an input before opset 18")
        return Tensor((), BOOL, (0,))
    if not _is_optional(input):
        return Tensor((), BOOL, (1,))
    if input.value is None:
        return Tensor((), BOOL)
    return Tensor((), BOOL, (1 if input.value else 0,))


@rule("OptionalGetElement", since=15)
def optional_get_element(ctx, input):
    """The optional's element (a plain tensor passes through, opset 18+); an empty optional
    fails (https://onnx.ai/onnx/operators/onnx__OptionalGetElement.html)."""
    if not _is_optional(input):
        return input
    if input.value is None:
        raise Unsupported("whether the optional holds a value is known only at run time")
    if not input.value:
        ctx.fail("the optional is empty")
    return input.value[0]


@rule("Scan", since=8, until=8)
def scan8(ctx, sequence_lens=None, *initial_state_and_scan_inputs, body,
          num_scan_inputs: int, directions=None):
    """Batched Scan: states (B, ...) keep their shapes, scan inputs (B, T, ...) lose the T
    axis in the body, scan outputs stack per-step results to (B, T, ...)
    (https://onnx.ai/onnx/operators/onnx__Scan.html#scan-8)."""
    if sequence_lens is not None:
        raise Unsupported("sequence_lens: per-batch lengths known only at run time")
    ins = list(initial_state_and_scan_inputs)
    m = num_scan_inputs
    n = len(ins) - m
    if n < 0:
        ctx.fail("fewer inputs than num_scan_inputs")
    names = [i.name for i in body.input]
    if len(names) != n + m:
        ctx.fail(f"the body has {len(names)} inputs for {n} states and {m} scan inputs")
    if not ins:
        ctx.fail("Scan needs inputs")
    batch = ins[0].shape[0]
    env, seq = {}, None
    for nm, t in zip(names[:n], ins[:n]):
        if len(t.shape) < 1:
            ctx.fail("a state must have a batch axis")
        ctx.eq(t.shape[0], batch, "every input must have the same batch size")
        env[nm] = Tensor(tuple(t.shape[1:]), t.dtype)
    for nm, t in zip(names[n:], ins[n:]):
        if len(t.shape) < 2:
            ctx.fail("a scan input must have batch and sequence axes")
        ctx.eq(t.shape[0], batch, "every input must have the same batch size")
        if seq is None:
            seq = t.shape[1]
        else:
            ctx.eq(t.shape[1], seq, "all scan inputs must have the same sequence length")
        env[nm] = Tensor(tuple(t.shape[2:]), t.dtype)
    if ctx.subgraph_runner is None:
        raise Unsupported("no subgraph runner available")
    _declared_inputs_agree(body, env)
    prop = ctx.subgraph_runner(body, env)
    if prop.impossible:
        ctx.fail(f"the body can never run: {prop.impossible[0]}")
    if prop.unproven:
        raise Unsupported(f"the body: {prop.unproven[0].describe()}")
    outs = []
    for o in body.output:
        t = prop.tensors.get(o.name)
        if t is None or t.shape is None:
            raise Unsupported(f"body output '{o.name}' has an unknown shape")
        outs.append(t)
    for o, t in zip(body.output, outs):
        _declared_shape_agrees(ctx, o, t)
    for i, (a, b) in enumerate(zip(ins[:n], outs[:n])):
        if len(a.shape) - 1 != len(b.shape) or not all(
                structurally_equal(x, y) for x, y in zip(a.shape[1:], b.shape)):
            raise Unsupported(f"state {i} changes shape across iterations")
    if prop.constraints and (seq is None or (isinstance(seq, int) and seq <= 0)):
        raise Unsupported("the body imposes conditions but may run zero times")
    ctx.constraints.extend(prop.constraints)
    ctx.spec_notes.extend(prop.spec_notes)
    ctx.fresh_symbols.extend(prop.data_dependent)
    result = [Tensor(a.shape, a.dtype) for a in ins[:n]]
    for t in outs[n:]:
        result.append(Tensor((batch, seq) + tuple(t.shape), t.dtype))
    return result


def _declared_shape_agrees(ctx, o, t) -> None:
    """onnxruntime (scan_utils.cc AllocateOutput, Scan-8 and Scan-9 alike) allocates every
    Scan output from the body output's shape as its load-time inference left it: no shape
    fails ("Subgraph must have the shape set for all outputs"), a symbolic dim is filled in
    from the first iteration, and a fixed dim d preallocates d, so the body must compute
    exactly d (measured: declared [2], computed [N] runs only at N = 2). A declared shape
    that contradicts the inferred one (a scalar declared, a vector computed) is also
    refused at run time. Whether that inference fills in an undeclared shape is not known
    here, so anything but a declared shape of the computed rank is unproven; a fixed
    declared dim becomes a condition on the computed one."""
    tt = o.type.tensor_type if o.type.HasField("tensor_type") else None
    ok = tt is not None and tt.HasField("shape") and len(tt.shape.dim) == len(t.shape)
    if ok:
        for d, x in zip(tt.shape.dim, t.shape):
            if d.HasField("dim_value") and isinstance(x, int) and d.dim_value != x:
                ok = False
    if not ok:
        raise Unsupported(f"the body output '{o.name}' does not declare a shape that agrees "
                          "with the computed one, and onnxruntime needs one")
    for axis, (d, x) in enumerate(zip(tt.shape.dim, t.shape)):
        if d.HasField("dim_value") and not isinstance(x, int):
            ctx.eq(x, d.dim_value, f"the body output '{o.name}' declares axis {axis} as "
                                   f"{d.dim_value}, and onnxruntime allocates the Scan output "
                                   "from that declared shape")


def _declared_inputs_agree(body, env: dict) -> None:
    """onnxruntime's load-time inference of the body merges each body input's declared shape
    with the Scan's: a declared fixed dim wins over a symbolic one and flows into the
    inferred output shapes that the kernel then allocates (measured: a body input declared
    [2], outputs declared [M] or undeclared, fails at N = 4). A fixed declared input dim that
    is not provably the given one is therefore unproven; a declared rank other than the
    given one is refused at load when onnxruntime knows the rank (not always), unproven."""
    for i in body.input:
        t = env.get(i.name)
        if t is None or t.shape is None:
            continue
        tt = i.type.tensor_type if i.type.HasField("tensor_type") else None
        if tt is None or not tt.HasField("shape"):
            continue
        if len(tt.shape.dim) != len(t.shape):
            raise Unsupported(f"the body input '{i.name}' declares rank {len(tt.shape.dim)} "
                              f"but receives rank {len(t.shape)}")
        for axis, (d, x) in enumerate(zip(tt.shape.dim, t.shape)):
            if d.HasField("dim_value") and not (isinstance(x, int) and x == d.dim_value):
                raise Unsupported(f"the body input '{i.name}' declares axis {axis} as "
                                  f"{d.dim_value} where the Scan gives {x}; onnxruntime's "
                                  "inference may fix the body's output sizes from it")
