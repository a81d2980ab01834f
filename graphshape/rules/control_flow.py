"""Control flow: If, Loop and Scan, by propagating their subgraphs.

A subgraph's conditions apply when it runs: an If with a known condition takes its
branch's conditions; with an unknown condition both branches must produce the same
shapes and impose the same conditions, otherwise the node is unproven. Loop and Scan
bodies must keep their loop-carried shapes unchanged (checked, else unproven); their
conditions hold for every iteration, which is only sound when the body runs at least
once (a trip count that may be 0 with conditions in the body is unproven).

Scan (opset 9+) as onnxruntime runs it (scan_9.cc, scan_utils.cc): the sequence length
must be >= 1 (its input slicer refuses 0), and every output is allocated from the body
output's shape as onnxruntime's load-time inference leaves it, so a body output without a
declared shape of the computed rank is unproven, a fixed declared dim is a condition, and
a body input that declares a fixed dim the Scan may not give is unproven.

If (if.cc) preallocates its output from a branch output's shape when onnxruntime's inference
leaves it fully fixed: a fixed declared dim of a computed symbolic one is then a condition,
cases that hang on onnxruntime's own inference are unproven (_branch_allocation). Loop
(loop.cc) allocates nothing from the body outputs' declared shapes; a carried body input's
fixed declared dim is unproven (the optimiser believes it), and the iteration-number input
must have a shape (_loop_body_inputs). All measured on onnxruntime 1.31.1.

Scan-8 (batched: a leading batch axis on every input and output, an optional
sequence_lens first input) walks its body the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphshape.arith import lazy
from graphshape.arith.dims import (
    add,
    at_least,
    dmax,
    dmin,
    is_integer_expr,
    norm,
    structurally_equal,
    sub,
    to_str,
)
from graphshape.errors import Unsupported
from graphshape.loader.tensor import BOOL, INT64, Bounds, Tensor
from graphshape.rules._common import ints
from graphshape.rules._ranges import element_bounds
from graphshape.rules.optional import OPTIONAL
from graphshape.rules.sequences import SEQUENCE
from graphshape.shapes.constraints import EQ
from graphshape.shapes.constraints import Constraint as C
from graphshape.shapes.known import at_least_given
from graphshape.shapes.registry import rule
from graphshape.shapes.tautology import always

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")


def _run(ctx, graph, env: dict):
    """Propagate ``graph``; merge its facts into ctx; return its output Tensors."""
    if ctx.subgraph_runner is None:
        raise Unsupported("no subgraph runner available")
    prop = ctx.subgraph_runner(graph, env)
    if prop.impossible:
        ctx.fail(f"subgraph '{graph.name}' can never run: {prop.impossible[0]}")
    if prop.unproven:
        raise Unsupported(f"subgraph '{graph.name}': {prop.unproven[0].describe()}")
    outs = []
    for o in graph.output:
        t = prop.tensors.get(o.name)
        if not _known_value_shape(t):
            raise Unsupported(f"subgraph output '{o.name}' has an unknown shape")
        outs.append(t)
    return outs, prop


def _known_value_shape(t) -> bool:
    """A tensor of known shape, or a sequence / optional (no shape, dtype SEQUENCE /
    OPTIONAL) whose elements are all known: what a branch may hand back."""
    if t is None:
        return False
    if t.shape is not None:
        return True
    if t.dtype in (SEQUENCE, OPTIONAL) and t.value is not None:
        return all(_known_value_shape(e) for e in t.value)
    return False


def _merge(ctx, prop):
    ctx.constraints.extend(prop.constraints)
    ctx.spec_notes.extend(prop.spec_notes)
    ctx.fresh_symbols.extend(prop.data_dependent)


def _same_shape(a, b) -> bool:
    if a.shape is None and b.shape is None and a.dtype == b.dtype and \
            a.dtype in (SEQUENCE, OPTIONAL) and a.value is not None and b.value is not None:
        # sequences of as many elements, optionals both empty or both holding, element by
        # element the same shapes (either branch's value then has the same shapes)
        return len(a.value) == len(b.value) and all(
            _same_shape(x, y) for x, y in zip(a.value, b.value))
    return a.shape is not None and b.shape is not None and len(a.shape) == len(b.shape) and \
        all(structurally_equal(x, y) for x, y in zip(a.shape, b.shape))


def _merged(a, b):
    """The value an If hands on when either branch may run and both have the same shapes
    (_same_shape): the shapes, with the contents where both agree."""
    if a.shape is None:  # a sequence or an optional: element by element
        return Tensor(None, a.dtype, tuple(_merged(x, y) for x, y in zip(a.value, b.value)))
    return Tensor(a.shape, a.dtype, a.value if a.value == b.value else None)


def _branch_allocation(o, t) -> list:
    """The conditions onnxruntime's If puts on a branch output through its declared shape
    (if.cc IfImpl::AllocateOutputTensors, measured on 1.31.1): the subgraph output's shape
    after onnxruntime's inference, which merges the declared shape into the inferred one dim
    by dim (an inferred value wins, else a declared value, else symbolic; a rank or value
    conflict keeps the inferred shape), preallocates the If output when every dim is fixed,
    and the branch must then compute exactly that ('The output OrtValue provided ... has
    shape {2} but the computed output shape for this run is {3}'); with a symbolic dim left
    the output is allocated when computed (no condition). No declared shape, another rank:
    the inferred shape alone, no condition. Returns [(axis, computed, declared)] that must be
    equal, or raises Unsupported where the outcome hangs on onnxruntime's inference."""
    tt = o.type.tensor_type if o.type.HasField("tensor_type") else None
    if tt is None or not tt.HasField("shape") or len(tt.shape.dim) != len(t.shape):
        return []
    dims = list(tt.shape.dim)
    if any(not d.HasField("dim_value") and not isinstance(x, int)
           for d, x in zip(dims, t.shape)):
        # a dim neither declared nor computed as a number: symbolic after the merge, so the
        # output is allocated as computed
        return []
    out = []
    for axis, (d, x) in enumerate(zip(dims, t.shape)):
        if not d.HasField("dim_value"):
            continue
        if isinstance(x, int):
            if x != d.dim_value:
                # a conflict: onnxruntime keeps its own inferred shape, fixed or not,
                # depending on how far its inference gets; not modelled
                raise Unsupported(f"branch output '{o.name}' declares axis {axis} as "
                                  f"{d.dim_value} where the branch computes {x}")
            continue
        out.append((axis, x, d.dim_value))
    if out and not all(d.HasField("dim_value") for d in dims):
        # fixed only if onnxruntime's inference also finds the undeclared dims' numbers
        raise Unsupported(f"branch output '{o.name}' declares axes "
                          f"{[a for a, _, _ in out]} as numbers the branch computes from the "
                          "input sizes, and whether onnxruntime preallocates the output from "
                          "them depends on its own inference of the other axes")
    return out


def _allocation_conditions(branch, outs) -> list:
    conds: list = []
    for i, (o, t) in enumerate(zip(branch.output, outs)):
        if t.shape is not None:
            conds.extend((i, axis, x, d) for axis, x, d in _branch_allocation(o, t))
    return conds


def _impose(ctx, branch, conds) -> None:
    for i, axis, x, d in conds:
        ctx.eq(x, d, f"the branch '{branch.name}' declares output {i} axis {axis} as {d}, and "
                     "onnxruntime preallocates the If output from that declared shape")


@rule("If")
def if_(ctx, cond, *, then_branch, else_branch):
    """The taken branch's outputs; an unknown condition needs branches that agree."""
    if cond.value is not None and len(cond.value) == 1 and isinstance(cond.value[0], int):
        branch = then_branch if cond.value[0] else else_branch
        outs, prop = _run(ctx, branch, {})
        if _allocation_conditions(branch, outs):
            # measured: onnxruntime's default optimisations inline an If whose condition they
            # can fold (an initializer), and the declared shapes no longer allocate anything;
            # with the If kept (a condition it cannot fold) they do. Not modelled
            raise Unsupported(f"the branch '{branch.name}' declares fixed output dims the "
                              "branch computes from the input sizes; whether they apply depends "
                              "on onnxruntime folding the condition and inlining the branch")
        _merge(ctx, prop)
        return outs
    t_outs, t_prop = _run(ctx, then_branch, {})
    e_outs, e_prop = _run(ctx, else_branch, {})
    if len(t_outs) != len(e_outs):
        ctx.fail("then and else branches have different output counts")
    if t_prop.data_dependent or e_prop.data_dependent:
        return _if_on_counts(ctx, then_branch, else_branch, t_outs, e_outs, t_prop, e_prop)
    keys_t = {c.key() for c in t_prop.constraints}
    keys_e = {c.key() for c in e_prop.constraints}
    if keys_t != keys_e:
        raise Unsupported("the branches impose different conditions and the condition is "
                          "computed at run time")
    out = []
    for i, (a, b) in enumerate(zip(t_outs, e_outs)):
        if not _same_shape(a, b):
            raise Unsupported(f"branch outputs {i} differ in shape and the condition is "
                              "computed at run time")
        out.append(_merged(a, b))
    c_t = _allocation_conditions(then_branch, t_outs)
    c_e = _allocation_conditions(else_branch, e_outs)
    if {(i, a, str(x), d) for i, a, x, d in c_t} != {(i, a, str(x), d) for i, a, x, d in c_e}:
        raise Unsupported("the branches declare different fixed output dims (onnxruntime "
                          "preallocates the If outputs from the taken branch's) and the "
                          "condition is computed at run time")
    _impose(ctx, then_branch, c_t)
    _merge(ctx, t_prop)
    return out


_COMPARE = ("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual")


def _predicate(ctx):
    """The If's condition as a Constraint on dims when the graph computes it by comparing
    two known integer values (torchvision's 'is the box list empty':
    Cast(Equal(ReduceProd(Shape(boxes)), 0))), else None."""
    view = ctx.graph
    me = view.node(ctx.name) if view is not None else None
    if me is None or not me.input:
        return None
    name, negate = me.input[0], False
    for _ in range(8):
        node = view.producer(name)
        if node is None or node.domain not in ("", "ai.onnx") or not node.input:
            return None
        if node.op_type in ("Cast", "Identity"):
            name = node.input[0]
            continue
        if node.op_type == "Not":
            negate, name = not negate, node.input[0]
            continue
        if node.op_type not in _COMPARE or len(node.input) != 2:
            return None
        vals = []
        for i in node.input:
            t = view.tensor(i)
            if t is None or t.value is None or len(t.value) != 1:
                return None
            v = t.value[0]
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if isinstance(v, bool) or not (isinstance(v, int) or is_integer_expr(v)):
                return None
            vals.append(v)
        a, b = vals
        op = node.op_type
        if op == "Equal":
            yes = C.eq(a, b)
            no = C.any_of([C.ge(a, add(b, 1)), C.ge(b, add(a, 1))])
        else:
            if op in ("Less", "LessOrEqual"):
                a, b = b, a  # a > b or a >= b
            strict = op in ("Greater", "Less")
            yes = C.ge(a, add(b, 1)) if strict else C.ge(a, b)
            no = C.ge(b, a) if strict else C.ge(b, add(a, 1))
        return (no, yes) if negate else (yes, no)
    return None


def _if_on_counts(ctx, then_branch, else_branch, t_outs, e_outs, t_prop, e_prop):
    """An If on a condition computed at run time whose branches have data-dependent sizes
    (torchvision's batched NMS: 'no boxes' returns an empty index list, else NMS runs).
    With the condition read as a comparison of dims (_predicate), each branch's conditions
    must hold where that branch is taken, and an output axis the branches size differently
    is a fresh count (every value either branch can give is one it may take)."""
    pred = _predicate(ctx)
    if pred is None:
        raise Unsupported("a branch has data-dependent sizes and the condition is unknown")
    yes, no = pred
    if len(t_outs) != len(e_outs):
        ctx.fail("then and else branches have different output counts")
    if _allocation_conditions(then_branch, t_outs) or _allocation_conditions(else_branch,
                                                                              e_outs):
        raise Unsupported("a branch declares fixed output dims and the condition is "
                          "computed at run time")
    for other, prop, branch in ((no, t_prop, then_branch), (yes, e_prop, else_branch)):
        for c in prop.constraints:
            why = (c.origin.describe() if c.origin is not None else str(c)) + \
                f" (when the If takes its branch '{branch.name}')"
            ctx.any_of([other, c], why)
        ctx.spec_notes.extend(prop.spec_notes)
        ctx.fresh_symbols.extend(prop.data_dependent)
    out = []
    for i, (a, b) in enumerate(zip(t_outs, e_outs)):
        if len(a.shape) != len(b.shape):
            raise Unsupported(f"branch outputs {i} have different ranks and the condition "
                              "is computed at run time")
        dims = [_either(ctx, x, y, yes, no, f"axis {k} of output {i}: {to_str(x)} or "
                                          f"{to_str(y)} by branch")
                for k, (x, y) in enumerate(zip(a.shape, b.shape))]
        same = _same_shape(a, b) and a.value == b.value
        out.append(Tensor(tuple(dims), a.dtype, a.value if same else None,
                          bounds=None if same else _either_bounds(a, b)))
    return out


def _either(ctx, x, y, yes, no, what: str):
    """The output dim of an If whose branches give x (then) and y (else): one of them when
    it equals the other wherever the other's branch is taken (torchvision's 'no boxes:
    return []' gives 0 exactly when NMS, which then selects nothing, would), else a fresh
    count."""
    if structurally_equal(x, y):
        return x
    if yes.kind == EQ and yes.rhs == 0 and not isinstance(yes.lhs, int):
        # 'numel == 0': the numel is 0 in the then-branch, and so is every product with it
        c, rest = yes.lhs.as_coeff_Mul()
        zero = norm(rest) if c.is_Integer and c != 0 else yes.lhs
        if always(C.eq(norm(sympy.sympify(y).xreplace({zero: 0})), x)):
            return y
    if always(C.any_of([no, C.eq(x, y)])):
        return y  # the then-branch's x equals y wherever it is taken
    if always(C.any_of([yes, C.eq(x, y)])):
        return x
    return ctx.fresh(what)


def _either_bounds(a, b):
    """Element bounds of an output that is a or b: their union, an empty side adding none
    (every element of an empty tensor lies in any range)."""
    sides = [t for t in (a, b) if not (any(isinstance(d, int) and d == 0 for d in t.shape)
                                       or t.value == ())]
    bs = [element_bounds(t) for t in sides]
    if not bs or any(x is None for x in bs):
        return None
    if len(bs) == 1:
        return Bounds(bs[0].lo, bs[0].hi, False)
    return Bounds(dmin(bs[0].lo, bs[1].lo), dmax(bs[0].hi, bs[1].hi), False)


def _same_every_iteration(ctx, body, prop, outs, varying=()) -> None:
    """Per-iteration outputs stacked by the op must have one shape in every iteration
    (onnxruntime: 'Inconsistent shape in loop output', measured on 1.31.1). An axis computed
    from what the body reads at run time (a NonZero count, a value read from the data) or
    from a carried value that grows (``varying``) may differ between iterations: unproven,
    and nothing downstream is claimed."""
    mine = {d.symbol for d in prop.data_dependent} | set(varying)
    for o, t in zip(body.output[len(body.output) - len(outs):], outs):
        if t.shape is None:
            continue
        for axis, d in enumerate(t.shape):
            if not isinstance(d, int) and not mine.isdisjoint(d.free_symbols):
                ctx.assume(f"axis {axis} of its per-iteration output '{o.name}' is computed "
                           f"from data each iteration reads ({to_str(d)}); onnxruntime fails "
                           "when two iterations give different sizes, and graphshape cannot "
                           "prove they agree", shapes_unsure=True)
                return


def _carried_growth(carried_in, carried_out) -> dict:
    """Carried values that grow by a constant on some axes each iteration (the rest of
    their shape the same): value index -> {axis: growth >= 1}."""
    out: dict = {}
    for i, (a, b) in enumerate(zip(carried_in, carried_out)):
        if a.shape is None or b.shape is None or len(a.shape) != len(b.shape) or \
                _same_shape(a, b):
            continue
        g = {}
        for ax, (x, y) in enumerate(zip(a.shape, b.shape)):
            d = norm(sub(y, x))
            if isinstance(d, int) and d >= 1:
                g[ax] = d
            elif not structurally_equal(x, y):
                g = {}
                break
        if g:
            out[i] = g
    return out


def _check_carried(carried_in, carried_out):
    for i, (a, b) in enumerate(zip(carried_in, carried_out)):
        if not _same_shape(a, b):
            raise Unsupported(f"loop-carried value {i} changes shape across iterations")


def _loop_body_inputs(ctx, body, env, carried_names) -> None:
    """What onnxruntime's Loop (loop.cc, measured on 1.31.1) makes of the body inputs'
    declared shapes. The iteration number needs one ('Loop subgraph input 0 has unknown
    shape' at every run); it and the condition are fed as scalars or [1] by their declared
    rank, which onnxruntime's inference must reconcile with the Loop's inputs (a [1] cond
    input declared for a scalar is refused at load): only scalars are modelled. A carried
    input's declared fixed dim is believed by onnxruntime's optimisations (a Shape of it is
    folded to the declared number: declared [2], fed [N], Shape -> Reshape fails at N != 2),
    so it must be provably the given one (as for Scan). The body outputs' declared shapes
    allocate nothing (the Loop copies the last iteration's values and concatenates the scan
    outputs as computed: declared [2] or [2, 1] for a computed [N] runs at every N)."""
    it, c = body.input[0], body.input[1]
    if it.type.HasField("tensor_type") and not it.type.tensor_type.HasField("shape"):
        ctx.fail(f"the body's iteration-number input '{it.name}' has no shape, and "
                 "onnxruntime needs its rank (loop.cc: 'Loop subgraph input 0 has unknown "
                 "shape')")
    for i in (it, c):
        tt = i.type.tensor_type if i.type.HasField("tensor_type") else None
        if tt is not None and tt.HasField("shape") and len(tt.shape.dim) != 0:
            raise Unsupported(f"the body input '{i.name}' is declared with rank "
                              f"{len(tt.shape.dim)}; only scalars are modelled")
    carried = {n: env[n] for n in carried_names if n in env}
    _declared_inputs_agree(body, carried)


@rule("Loop")
def loop(ctx, M=None, cond=None, *v_initial, body):
    """Carried values keep their shapes; scan outputs gain a leading trip-count dim."""
    names = [i.name for i in body.input]
    if len(names) != 2 + len(v_initial):
        ctx.fail(f"the body has {len(names)} inputs for {len(v_initial)} carried values")
    cond_true = cond is None or cond.value == (1,)
    # with a true initial condition, feeding ci = true and finding co = true proves by
    # induction that every iteration continues: the trip count is exactly M
    # the iteration number runs 0, 1, ... below M (not necessarily up to M - 1: the body's
    # condition may stop it early, so the bound is not tight)
    it_bounds = None
    if M is not None and M.value is not None and len(M.value) == 1:
        try:
            # below M while the body runs (it runs only when M >= 1: the bounds of an
            # iteration that never happens are vacuous)
            it_bounds = Bounds(0, sub(ints(M, "M")[0], 1))
        except Unsupported:
            it_bounds = None
    env = {names[0]: Tensor((), INT64, bounds=it_bounds),
           names[1]: Tensor((), BOOL, (1,) if cond_true else None)}
    for n, t in zip(names[2:], v_initial):
        env[n] = Tensor(t.shape, t.dtype)
    _loop_body_inputs(ctx, body, env, names[2:])
    outs, prop = _run(ctx, body, env)
    n_carried = len(v_initial)
    growth = _carried_growth(v_initial, outs[1:1 + n_carried])
    grown: list = []  # the symbols standing for the growing axes' lengths so far
    if growth:
        # an accumulator (torchvision's pasted masks: cat((res, mask[None]))): the body
        # again with each growing axis of any length k >= 0 must give k + c on it
        for i, g in growth.items():
            shp = list(v_initial[i].shape)
            for ax in g:
                shp[ax] = ctx.fresh(f"axis {ax} of loop-carried value {i} so far")
                grown.append(shp[ax])
            env[names[2 + i]] = Tensor(tuple(shp), v_initial[i].dtype)
        _loop_body_inputs(ctx, body, env, names[2:])  # a declared fixed axis: unproven
        outs, prop = _run(ctx, body, env)
        for i, g in growth.items():
            t_in, t_out = env[names[2 + i]], outs[1 + i]
            if t_out.shape is None or len(t_out.shape) != len(t_in.shape) or any(
                    norm(sub(y, x)) != g.get(ax, 0) and not (
                        ax not in g and structurally_equal(x, y))
                    for ax, (x, y) in enumerate(zip(t_in.shape, t_out.shape))):
                raise Unsupported(f"loop-carried value {i} changes shape across iterations")
    carried = outs[1:1 + n_carried]
    _check_carried([t for i, t in enumerate(v_initial) if i not in growth],
                   [t for i, t in enumerate(carried) if i not in growth])
    cond_out = prop.tensors.get(body.output[0].name)
    passthrough = cond_out is not None and cond_out.value == (1,)
    if M is not None and M.value is not None and passthrough and cond_true:
        trips = dmax(ints(M, "M")[0], 0)
    else:
        trips = ctx.fresh("Loop trip count")
        if prop.constraints:
            raise Unsupported("the body imposes conditions and the trip count is unknown")
    if isinstance(trips, int) and trips <= 0 and prop.constraints:
        raise Unsupported("the body imposes conditions but runs zero times")
    if (isinstance(trips, int) and trips <= 0) or (
            not isinstance(trips, int) and not at_least_given(ctx.graph, trips, 1)):
        # no iteration (or, with a trip count that may be 0 such as an empty KV cache's
        # length, possibly none): loop.cc makes each scan output [0] + the body output's
        # declared shape (as onnxruntime's inference left it) with symbolic dims as 0, or [0]
        # without one ('Loop had zero iterations and the shape of subgraph output 2 was not
        # found. Defaulting to a rank 1 shape of {0}', measured on 1.31.1); graphshape's
        # computed shape is that only when it is declared, fixed and equal
        for o, t in zip(body.output[1 + n_carried:], outs[1 + n_carried:]):
            tt = o.type.tensor_type if o.type.HasField("tensor_type") else None
            dims = list(tt.shape.dim) if tt is not None and tt.HasField("shape") else None
            if dims is None or len(dims) != len(t.shape) or any(
                    not d.HasField("dim_value") or d.dim_value != x
                    for d, x in zip(dims, t.shape)):
                raise Unsupported(f"the Loop {'runs' if isinstance(trips, int) else 'may run'}"
                                  f" no iteration and onnxruntime then shapes the scan output "
                                  f"'{o.name}' from its declared shape, symbolic dims as 0")
    if not isinstance(trips, int) and not at_least(trips, 1):
        # the body's conditions hold where it runs: not at a trip count of 0
        for c in prop.constraints:
            ctx.any_of([C.eq(trips, 0), c], (c.origin.describe() if c.origin is not None
                                             else str(c)) + " (when the Loop runs)")
        ctx.spec_notes.extend(prop.spec_notes)
        ctx.fresh_symbols.extend(prop.data_dependent)
    else:
        _merge(ctx, prop)
    result = []
    for i, t in enumerate(carried):
        if i not in growth:
            result.append(Tensor(t.shape, t.dtype))
            continue
        shp = list(v_initial[i].shape)
        for ax, c in growth[i].items():
            shp[ax] = add(shp[ax], c * trips) if isinstance(trips, int) else \
                norm(sympy.sympify(shp[ax]) + c * trips)
        result.append(Tensor(tuple(shp), t.dtype))
    _same_every_iteration(ctx, body, prop, outs[1 + n_carried:], grown)
    for t in outs[1 + n_carried:]:
        result.append(Tensor((trips,) + tuple(t.shape), t.dtype))
    return result


@rule("Scan", since=9)
def scan(ctx, *initial_state_and_scan_inputs, body, num_scan_inputs: int,
         scan_input_axes=None, scan_input_directions=None, scan_output_axes=None,
         scan_output_directions=None):
    """States keep their shapes; scan outputs stack the per-iteration outputs on an axis."""
    ins = list(initial_state_and_scan_inputs)
    m = num_scan_inputs
    n = len(ins) - m
    if n < 0:
        ctx.fail("fewer inputs than num_scan_inputs")
    states, xs = ins[:n], ins[n:]
    in_axes = list(scan_input_axes) if scan_input_axes else [0] * m
    names = [i.name for i in body.input]
    if len(names) != n + m:
        ctx.fail(f"the body has {len(names)} inputs for {n} states and {m} scan inputs")
    env = {nm: Tensor(t.shape, t.dtype) for nm, t in zip(names[:n], states)}
    seq = None
    for nm, t, a in zip(names[n:], xs, in_axes):
        r = len(t.shape)
        if not -r <= a < r:
            ctx.fail(f"scan input axis {a} out of range for rank {r}")
        a %= r
        if seq is None:
            seq = t.shape[a]
        else:
            ctx.eq(t.shape[a], seq, "all scan inputs must have the same sequence length")
        env[nm] = Tensor(tuple(d for i, d in enumerate(t.shape) if i != a), t.dtype)
    if seq is not None:
        # scan_9.cc slices every scan input on its sequence axis (moved to the front) and
        # the slicer enforces 'dim0_offset < dim0_size': an empty sequence always fails
        ctx.ge(seq, 1, "the sequence axis must not be empty (onnxruntime's Scan slicer "
                       "refuses a length of 0)")
    _declared_inputs_agree(body, env)
    outs, prop = _run(ctx, body, env)
    # every Scan output is allocated from the body output's shape as onnxruntime's load-time
    # inference left it (scan_utils.cc AllocateOutput): checked, or unproven
    for o, t in zip(body.output, outs):
        _declared_shape_agrees(ctx, o, t)
    _check_carried(states, outs[:n])
    _merge(ctx, prop)
    result = [Tensor(t.shape, t.dtype) for t in outs[:n]]
    k = len(outs) - n
    _same_every_iteration(ctx, body, prop, outs[n:])
    out_axes = list(scan_output_axes) if scan_output_axes else [0] * k
    for t, a in zip(outs[n:], out_axes):
        r = len(t.shape) + 1
        if not -r <= a < r:
            ctx.fail(f"scan output axis {a} out of range for rank {r}")
        shp = list(t.shape)
        shp.insert(a % r, seq if seq is not None else ctx.fresh("Scan length"))
        result.append(Tensor(tuple(shp), t.dtype))
    return result


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
    _same_every_iteration(ctx, body, prop, outs[n:])
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
    ok = tt is not None and t is not None and tt.HasField("shape") and \
        len(tt.shape.dim) == len(t.shape)
    if ok and tt is not None and t is not None:
        for d, x in zip(tt.shape.dim, t.shape):
            if d.HasField("dim_value") and isinstance(x, int) and d.dim_value != x:
                ok = False
    if not ok or tt is None:
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
