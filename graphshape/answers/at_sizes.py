"""The answer at one concrete size without the domain: the graph walked with the sizes as
plain ints (no sympy, no isl), taken only where it provably gives the symbolic analysis's
answer, ``Analysis.explain(sizes)``; None everywhere else (the caller then analyses).

``graphshape check MODEL --size H=256 --size W=256`` needs one verdict, not the set of
valid sizes: the walk at those ints costs milliseconds and imports nothing heavy, where
the analysis imports sympy and isl and solves the domain (docs/performance.md).

Why the two agree. The walk at sizes s runs the same rules on the same graph; the rules are
written over dims that are ints or expressions alike, so a dim of the concrete walk is the
symbolic walk's dim evaluated at s, and a condition the symbolic walk imposes holds at s
exactly when the concrete walk's (then constant) condition does. They can differ only where
a rule branches on *whether* a dim is a number or on what it can prove for every size:
there the symbolic walk may give up (an unproven node, a fresh run-time symbol, a float32
derived size) where the concrete one goes on. The fast answer is therefore taken only when

1. every name the model's inputs use has a size, each >= 1 (no size that may be 0: the
   analysis decides those with its own symbols);
2. every node's rule is one of ADMITTED below, each read for such branches, and its gate
   (the inputs or attributes under which that reading holds) passes;
3. the concrete walk is clean: nothing unproven, no data-dependent count, no float32
   derived size, no node that cannot run, every value computed from the sizes ("tainted":
   downstream of a sized input) without known contents or element bounds and with every
   dim >= 1, every graph output non-empty.

Under 2 and 3 a value not downstream of a sized input is the same Tensor in both walks (the
same rule on the same inputs), and a tainted one has the same shape up to substitution and
no contents in either. The answer is then VALID in both, with the same output shapes; any
other answer (an invalid size and its reasons, an unproven one) comes from the analysis.
tests/test_at_sizes.py compares the two paths over the corpus at many sizes.

Changing a rule listed in ADMITTED: re-read it for the branches above, or drop it here.
"""

from __future__ import annotations

from graphshape import rules  # noqa: F401  (importing the package registers every rule)
from graphshape.errors import GraphShapeError
from graphshape.loader import graph as model
from graphshape.loader.contents import attribute_values
from graphshape.results import Explanation, Verdict
from graphshape.rules import conv_pool, elementwise, linalg, reduce_norm, shape_ops
from graphshape.shapes import engine, registry

__all__ = ["explain_at", "ADMITTED"]


def _always(node, attrs, ins, free, producers) -> bool:
    return True


def _inputs_free(*positions: int):
    """The inputs at ``positions`` (when present) do not depend on the sizes."""

    def gate(node, attrs, ins, free, producers) -> bool:
        return all(free[i] for i in positions if i < len(free) and ins[i] is not None)

    return gate


def _pool(node, attrs, ins, free, producers) -> bool:
    """pool(): with auto_pad SAME and a stride above the kernel it asks whether the channel
    count is a number (a symbolic count is unproven there): not admitted. MaxPool's Indices
    output carries bounds computed from the sizes."""
    if attrs.get("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        k = list(attrs.get("kernel_shape") or ())
        s = list(attrs.get("strides") or [1] * len(k))
        if any(si > ki for si, ki in zip(s, k)):
            return False
    return len([o for o in node.output if o]) == 1


def _reshape(node, attrs, ins, free, producers) -> bool:
    """The target does not depend on the sizes, and has no 0 (copy) entry beside a -1
    (whose quotient by a copied symbolic dim may be left unproven), nor beside an entry
    onnxruntime's ReshapeFusion may turn into a -1 (a target made by Concat)."""
    if len(ins) > 1 and not free[1]:
        return False
    target = ins[1].value if len(ins) > 1 and ins[1] is not None else attrs.get("shape")
    if target is None:
        return False
    if attrs.get("allowzero", 0) == 1 or 0 not in target:
        return True
    return -1 not in target and producers.get(node.input[1] if len(node.input) > 1 else "") \
        != "Concat"


def _squeeze(node, attrs, ins, free, producers) -> bool:
    """Axes given (without them it is unproven on a symbolic shape) and size-free."""
    if len(ins) > 1 and ins[1] is not None:
        return free[1]
    return attrs.get("axes") is not None


def _concat(node, attrs, ins, free, producers) -> bool:
    """concat() is unproven when every input may be empty; one size-free input of non-empty
    dims rules that out in the symbolic walk too."""
    return any(f and t is not None and t.shape is not None and
               all(isinstance(d, int) and d >= 1 for d in t.shape)
               for t, f in zip(ins, free))


# rule function -> gate(node, attributes, input tensors, size-free flag per input, value
# name -> the op type producing it): the rules read for the branches in the module docstring. elementwise.binary's divisor check
# reads only contents and bounds, the same in both walks (step 3); Conv's kernel size is a
# number only when the weights are size-free.
ADMITTED = {
    elementwise.unary: _always,
    elementwise.unary_attrs: _always,
    elementwise.binary: _always,
    conv_pool.conv: _inputs_free(1, 2),
    conv_pool.conv_transpose: _inputs_free(1, 2),
    conv_pool.pool: _pool,
    conv_pool.global_pool: _always,
    linalg.gemm: _always,
    linalg.matmul: _always,
    shape_ops.constant: _always,
    shape_ops.flatten: _always,
    shape_ops.transpose: _always,
    shape_ops.unsqueeze: _inputs_free(1),
    shape_ops.squeeze: _squeeze,
    shape_ops.reshape: _reshape,
    shape_ops.reshape_v1: _reshape,
    shape_ops.concat: _concat,
    shape_ops.pad: _inputs_free(1, 2, 3),
    shape_ops.pad_v2: _always,
    reduce_norm.softmax: _always,
    reduce_norm.reduce: _inputs_free(1),
    reduce_norm.batch_norm: _always,
    reduce_norm.instance_norm: _always,
    reduce_norm.layer_norm: _always,
}


def explain_at(source, dims, sizes: dict) -> Explanation | None:
    """``Analysis.explain(sizes)`` when the walk at ``sizes`` provably gives it (VALID, the
    output shapes); None when the analysis must answer (any other verdict, a graph or size
    outside the admitted cases, an error: the analysis then reports it its own way)."""
    if not sizes or any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                        for v in sizes.values()):
        return None
    try:
        g = model.load(source, dims, sizes=sizes)
    except (GraphShapeError, OSError, ValueError):
        return None
    if g.symbols or set(g.at_sizes) != set(sizes):
        return None  # a name without a size, one the model lacks, or one that may be 0
    gates = []
    for node in g.nodes:
        if any(a.type in (5, 10) for a in node.attribute):  # GRAPH, GRAPHS: a subgraph
            return None
        domain = registry.norm_domain(node.domain)
        entry = registry.lookup(domain, node.op_type, g.opsets.get(domain, 1))
        gate = ADMITTED.get(entry.fn) if entry is not None else None
        if gate is None:
            return None
        gates.append((node, gate))
    try:
        prop = engine.propagate(g)
    except GraphShapeError:  # a malformed node: the analysis says so
        return None
    if prop.unproven or prop.data_dependent or prop.impossible or prop.derived or \
            prop.constraints:
        return None
    free = _size_free(g)
    producers = {o: n.op_type for n in g.nodes for o in n.output if o}
    for name, f in free.items():
        t = prop.tensors.get(name)
        if f or t is None:
            continue
        if t.shape is None or t.value is not None or t.bounds is not None or \
                not all(isinstance(d, int) and d >= 1 for d in t.shape):
            return None
    for node, gate in gates:
        if gate is _always:
            continue
        # the inputs the rule was given: for the gate's size-free ones, the symbolic walk's
        ins = [prop.tensors.get(i) if i else None for i in node.input]
        try:
            attrs = attribute_values(node)
        except GraphShapeError:
            return None
        if not gate(node, attrs, ins, [free.get(i, True) if i else True for i in node.input],
                    producers):
            return None
    shapes = {}
    for name in g.outputs:
        t = prop.tensors.get(name)
        if t is None or t.shape is None or not all(isinstance(d, int) and d >= 1
                                                   for d in t.shape):
            return None
        shapes[name] = list(t.shape)
    return Explanation(dict(sizes), Verdict.VALID, (), shapes)


def _size_free(g) -> dict:
    """value name -> whether it does not depend on the sizes (not downstream of a sized
    input): initializers, fixed inputs, and what nodes compute from them alone."""
    out = {n: n not in g.sized_inputs for n in g.inputs}
    out.update({n: True for n in g.initializers})
    for node in g.nodes:
        f = all(out.get(i, True) for i in node.input if i)
        for o in node.output:
            if o:
                out[o] = f
    return out
