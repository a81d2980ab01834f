"""The walk: one pass over the nodes in topological order, one rule call per node.

A rule is a pure function ``fn(ctx, *inputs, **attributes) -> Tensor | list[Tensor]``;
``ctx`` (a NodeContext) only collects what this node imposes. Each visit ends in one typed
outcome:
    Inferred    outputs and the conditions the node imposes
    Unproven    the node could not be analysed (no rule, a run-time value, a rule bug):
                its outputs are unknown and the answer is 'unproven because node X (op Y)'
    Impossible  the node can never run (a ShapeError): no size is valid
The walk owns its state (values, unknown roots, the fresh-symbol counter); rules never
touch it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from dataclasses import dataclass, field, replace

from graphshape import stats
from graphshape.arith.dims import Dim, nonneg_symbol
from graphshape.arith.float32 import Derived
from graphshape.arith.isl import is_error as is_isl_error
from graphshape.arith.isl import operations as isl_operations
from graphshape.errors import GraphShapeError, ShapeError, Unsupported, located
from graphshape.loader.contents import attribute_values, tensor_from_initializer
from graphshape.loader.graph import (
    Graph,
    declared_shapes,
    declared_types,
    topo_sort,
)
from graphshape.loader.tensor import Tensor
from graphshape.shapes import known, ort_compat, registry
from graphshape.shapes.constraints import Constraint, Kind, Origin
from graphshape.shapes.graph_view import GraphView
from graphshape.shapes.tautology import definitions_in_scope

__all__ = ["Walk", "propagate", "Propagation", "NodeContext", "Inferred", "Unproven",
           "Impossible", "DataDependent", "call_rule"]


@dataclass(frozen=True)
class Unproven:
    node: str
    op: str
    reason: str
    affected: int = 0

    def describe(self) -> str:
        return located(self.op, self.node, self.reason)


@dataclass(frozen=True)
class Impossible:
    error: ShapeError


@dataclass(frozen=True)
class Inferred:
    outputs: list
    ctx: NodeContext


Outcome = Inferred | Unproven | Impossible


@dataclass(frozen=True)
class DataDependent:
    symbol: object
    node: str
    op: str
    what: str
    # the most the count can be in a run that gets past this node (a NonZero's input's
    # element count, ...): a Dim, possibly of other counts; None where the rule cannot say
    upper: object = None
    # a Presburger condition that defines it from other values (a slice bound clamped to
    # its axis whichever its sign): a condition on it is claimed where it holds for every
    # value meeting this one (domain/counts.py); None: any value >= 0
    defined_by: object = None
    # "count" (how many: >= 0), or "read" (a part of an integer read from data at run time,
    # rules/_common.read_values), whose proofs rest on the data's requirement that it is
    # finite and small (domain/counts.read_requirements)
    kind: str = "count"
    # the node of the top-level graph that holds it (a Loop whose body reads it), and its op
    top: str = ""
    top_op: str = ""


class NodeContext:
    """What a rule may use (the rule contract): the node's identity (name, op, opset, domain,
    n_outputs), a read-only view of the graph being walked (``graph``: a GraphView, or None
    for a rule called on its own), ways to add conditions (``eq``, ``ge``, ``divides``,
    ``any_of``, ``add``), fresh symbols, ``assume`` for an unproven node, and
    ``subgraph_runner`` for If/Loop/Scan bodies. A rule never reaches past it."""

    __slots__ = ("name", "op", "opset", "domain", "n_outputs", "constraints", "spec_notes",
                 "fresh_symbols", "notes", "subgraph_runner", "assumptions", "graph",
                 "_new_symbol", "derived_symbols", "_counter", "shapes_unsure",
                 "conditions_unsure")

    def __init__(self, name, op, opset, domain="", n_outputs=1, subgraph_runner=None,
                 new_symbol=None, graph: GraphView | None = None, counter=None):
        self.name, self.op, self.opset, self.domain = name, op, opset, domain
        self.n_outputs = n_outputs
        self.constraints: list = []
        self.spec_notes: list = []
        self.fresh_symbols: list = []
        self.notes: list = []
        self.assumptions: list = []
        self.shapes_unsure = False  # an assumption may have made the output shapes wrong
        self.conditions_unsure = False  # ... or this node's own conditions
        self.subgraph_runner = subgraph_runner
        self.graph = graph
        self._counter = counter or getattr(new_symbol, "__self__", None) or _Counter()
        self._new_symbol = new_symbol or self._counter.symbol
        self.derived_symbols: list = []

    def origin(self, reason) -> Origin:
        """``reason``: text, or a function giving it (made when first read)."""
        return Origin(self.name, self.op, reason)

    def assume(self, reason: str, shapes_unsure: bool = False,
               conditions_unsure: bool = False) -> None:
        """The rule produced outputs (often with fresh symbols) without proving them: the
        analysis goes on downstream, and the answer is 'unproven because' this node.
        ``shapes_unsure``: the output shapes themselves may be wrong at some sizes (not only
        the node's success): then no condition of any node downstream of its outputs is
        claimed (it could call a size invalid that runs), see Walk._record.
        ``conditions_unsure``: this node's own conditions rest on the same reading (a
        Reshape entry taken literally): they are not claimed either."""
        self.assumptions.append(reason)
        self.shapes_unsure = self.shapes_unsure or shapes_unsure
        self.conditions_unsure = self.conditions_unsure or conditions_unsure

    def add(self, c: Constraint) -> None:
        """Impose a built condition (a tautology is dropped, a contradiction fails the node)."""
        self._impose(c, None)

    def _impose(self, c: Constraint, reason) -> None:
        """``reason``: text, or a function giving it (a rule's reason often prints
        expressions, which costs more than the check when the condition holds anyway); the
        text is made only for a condition that is kept or fails."""
        if c.kind == Kind.EQ and c.lhs == c.rhs:
            return  # a tautology (e.g. Reshape [1,64,h,w] -> [1,64,h*w])
        t = c.constant_truth()
        if t is True:
            return
        if reason is not None:
            c = replace(c, origin=self.origin(reason))
        if t is False:
            text = c.origin.reason if c.origin is not None else "a condition fails"
            raise ShapeError(text + f" (found {c})", self.name, self.op)
        self.constraints.append(c)

    def eq(self, a: Dim, b: Dim, reason) -> None:
        self._impose(Constraint.eq(a, b), reason)

    def ge(self, a: Dim, b: Dim, reason) -> None:
        self._impose(Constraint.ge(a, b), reason)

    def divides(self, m: int, a: Dim, reason) -> None:
        if m == 1:
            return
        self._impose(Constraint.divides(m, a), reason)

    def any_of(self, parts, reason: str) -> None:
        kept = []
        for p in parts:
            t = p.constant_truth()
            if t is True:
                return
            if t is False:
                continue
            kept.append(p)
        if not kept:
            raise ShapeError(reason, self.name, self.op)
        if len(kept) == 1:
            self.add(Constraint(kept[0].kind, kept[0].lhs, kept[0].rhs, kept[0].parts,
                                 self.origin(reason)))
        else:
            self.add(Constraint.any_of(kept, self.origin(reason)))

    def spec_note(self, c: Constraint) -> None:
        """A condition the ONNX spec imposes but onnxruntime does not (reported, not enforced)."""
        if c.constant_truth() is None or c.constant_truth() is False:
            self.spec_notes.append(c)

    def fresh(self, what: str, nonneg: bool = True, upper=None, defined_by=None,
              kind: str = "count"):
        """A fresh symbol for a data-dependent dim (NonZero count, TopK k from data...);
        ``upper``: the most it can be (see DataDependent.upper); ``defined_by``: a function
        of the symbol giving the condition that defines it (DataDependent.defined_by)."""
        s = self._new_symbol()
        d = DataDependent(s, self.name, self.op, what, upper,
                          defined_by(s) if defined_by is not None else None, kind)
        self.fresh_symbols.append(d)
        if d.defined_by is not None:
            self._counter.definitions[s] = d.defined_by
        return s

    def derived(self, rounding: str, program) -> object:
        """The size ``rounding`` (floor, ceil, trunc) of a float32 program of the sizes
        (graphshape.arith.float32): a symbol standing for it, the same one wherever the
        graph computes the same program; its value at a size is the program's result."""
        sym, new = self._counter.derived(rounding, program, self.name, self.op)
        if new is not None:
            self.derived_symbols.append(new)
        return sym

    def fail(self, message: str):
        raise ShapeError(message, self.name, self.op)


class _Counter:
    """Names for data-dependent symbols (dd1, dd2, ...), one sequence per analysis."""

    def __init__(self, taken=()):
        self.n = 0
        self.taken = {str(t) for t in taken}  # the graph's own symbol names
        self._derived: dict = {}
        self.derived_list: list = []  # every Derived of the walk and its subgraphs
        # defined counts of the walk and its subgraphs: symbol -> its definition
        # (DataDependent.defined_by), which always() uses while the walk runs
        self.definitions: dict = {}

    def symbol(self):
        self.n += 1
        return nonneg_symbol(f"dd{self.n}")

    def derived(self, rounding, program, node, op):
        """(symbol, Derived or None when the program already has one): derived sizes fl1,
        fl2, ... (names the graph's own symbols do not use)."""
        key = (rounding, program)
        if key in self._derived:
            return self._derived[key], None
        n = len(self._derived) + 1
        while f"fl{n}" in self.taken:
            n += 1000
        sym = nonneg_symbol(f"fl{n}")
        deps = tuple(sorted((s for s in program.symbols() if s in self._derived.values()),
                            key=lambda s: s.name))
        self._derived[key] = sym
        d = Derived(sym, rounding, program, node, op, deps)
        self.derived_list.append(d)
        return sym, d


@dataclass
class Propagation:
    tensors: dict
    constraints: list
    spec_notes: list
    unproven: list
    data_dependent: list
    impossible: list = field(default_factory=list)  # ShapeErrors: the model never runs
    node_count: int = 0
    derived: list = field(default_factory=list)  # float32.Derived, in creation order
    # values whose shapes rest on an assumption that may be wrong at some sizes -> the root
    # Unproven (Walk.unsure): no condition is claimed from them, an output's emptiness neither
    unsure: dict = field(default_factory=dict)


# One node's rule (with any subgraphs it walks) may run this long (wall clock, seconds;
# GRAPHSHAPE_NODE_SECONDS, 0: no limit). Past it the node is unproven: its shape
# expressions grew too large to decide (seen: Swin's padded windows through Cast and Div).
# Measured on the main thread with SIGALRM; elsewhere (another thread, no setitimer) there
# is no limit.
NODE_SECONDS = float(os.environ.get("GRAPHSHAPE_NODE_SECONDS", "10"))


# isl operations any one isl call of a rule may take (GRAPHSHAPE_NODE_ISL_OPERATIONS; about
# 2 s): past it isl fails the call, and the node is unproven unless the rule treats the
# failure as "not proved"
NODE_ISL_OPERATIONS = int(os.environ.get("GRAPHSHAPE_NODE_ISL_OPERATIONS", "2000000"))
# the analysis stops proving (every further node unproven) once the process has grown by this
# much memory during the walk (GRAPHSHAPE_MEMORY_MB; 0: no limit)
MEMORY_MB = int(os.environ.get("GRAPHSHAPE_MEMORY_MB", "2048"))
MEMORY_EVERY = 32  # nodes between two readings of the process's memory


def _resident_mb() -> float:
    """The process's resident memory now (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError, IndexError):
        return 0.0


class RuleTimeout(BaseException):
    """A rule ran past NODE_SECONDS (a BaseException, so that no rule's own ``except
    Exception`` swallows it; only the outermost rule call catches it)."""


_RULE_DEPTH = [0]
_BUDGET: dict = {}  # while armed: the caller's SIGALRM handler and timer


_LEASE: dict = {}  # while a walk holds the handler: the caller's SIGALRM handler and timer


def _on_alarm(signum, frame):
    if _BUDGET or (_LEASE and _RULE_DEPTH[0] > 0):
        raise RuleTimeout()


@contextlib.contextmanager
def _walk_budget():
    """Install the SIGALRM handler once for a whole walk (main thread only), so that each
    node pays one timer call to start its budget and one to stop it, not a handler swap
    (four system calls and enum conversions a node: 0.1 s on a 10,000-node chain). The
    caller's handler and its timer's remaining time are put back when the walk ends."""
    if _LEASE or not _can_time():
        yield
        return
    _LEASE["handler"] = signal.signal(signal.SIGALRM, _on_alarm)
    _LEASE["timer"] = signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        yield
    finally:
        _give_back(_LEASE)


def _can_time() -> bool:
    """Whether a node's budget can be timed here: a budget, a timer, the main thread, and
    no rule call that armed its own already."""
    return not _BUDGET and NODE_SECONDS > 0 and hasattr(signal, "setitimer") and \
        threading.current_thread() is threading.main_thread()


def _give_back(saved: dict) -> None:
    """Stop graphshape's timer and put the caller's handler and timer (in ``saved``) back."""
    signal.setitimer(signal.ITIMER_REAL, 0)
    handler, timer = saved.pop("handler"), saved.pop("timer", (0.0, 0.0))
    saved.clear()
    signal.signal(signal.SIGALRM, handler)
    if timer[0] > 0:
        signal.setitimer(signal.ITIMER_REAL, *timer)


def _arm() -> None:
    """SIGALRM after NODE_SECONDS (outermost rule call, main thread only). The caller's
    handler is saved before the timer starts, so _disarm can always put it back."""
    if not _can_time():
        return
    _BUDGET["handler"] = signal.signal(signal.SIGALRM, _on_alarm)
    _BUDGET["timer"] = signal.setitimer(signal.ITIMER_REAL, NODE_SECONDS)


def _disarm() -> None:
    """Stop the timer and put the caller's handler and timer back (idempotent)."""
    if _BUDGET:
        _give_back(_BUDGET)


def _run_rule(entry, ctx, ins, attrs):
    """call_rule within the node budget (armed by the outermost call only): wall time by
    SIGALRM between Python operations, and isl's own work (C code no signal interrupts) by
    an operation limit on every isl call the rule makes."""
    _RULE_DEPTH[0] += 1
    try:
        if _RULE_DEPTH[0] == 1:
            if _LEASE:  # the walk installed the handler: only the timer per node
                signal.setitimer(signal.ITIMER_REAL, NODE_SECONDS)
            else:
                _arm()
            with isl_operations(NODE_ISL_OPERATIONS):
                return call_rule(entry, ctx, ins, attrs)
        return call_rule(entry, ctx, ins, attrs)
    finally:
        _RULE_DEPTH[0] -= 1
        if _RULE_DEPTH[0] == 0:
            if _LEASE:
                signal.setitimer(signal.ITIMER_REAL, 0)
            _disarm()


def call_rule(entry, ctx: NodeContext, inputs: list, attrs: dict):
    for k in attrs:
        if k not in entry.params and not entry.var_keyword:
            raise Unsupported(f"attribute '{k}' is not handled by graphshape's {ctx.op} rule")
    # trailing missing optional inputs are simply not passed
    while inputs and inputs[-1] is None:
        inputs = inputs[:-1]
    n = len(inputs)
    if n < entry.min_inputs or (entry.max_inputs is not None and n > entry.max_inputs):
        raise ShapeError(f"unexpected number of inputs ({n})", ctx.name, ctx.op)
    stats.COUNTERS["rule_calls"] += 1
    return entry.fn(ctx, *inputs, **attrs)


_UNKNOWN = Tensor(None)


class Walk:
    """One pass over a graph (and, through ctx.subgraph_runner, its subgraphs)."""

    def __init__(self, graph, outer: dict | None = None, counter: _Counter | None = None,
                 parent_view: GraphView | None = None):
        self.graph = graph
        self.counter = counter or _Counter(getattr(graph, "symbols", ()) or ())
        self.tensors: dict = dict(outer or {})
        self.tensors.update(graph.initializers)
        self.tensors.update(graph.inputs)
        self.result = Propagation(self.tensors, [], [], [], [])
        # the conditions imposed so far, which rules may reason under (shapes/known.py)
        self.view = GraphView(graph, self.tensors, self.result.constraints, parent_view)
        self.outer = outer
        self.unknown_root: dict = {}  # value name -> the root Unproven of an unknown value
        self.dead: set = set()  # values downstream of a node that can never run
        # values whose shapes rest on an assumption that may be wrong at some sizes
        # (NodeContext.assume's shapes_unsure) -> the root Unproven: conditions computed
        # from them are not claimed, nor is "no size can run"
        self.unsure: dict = {}
        self.result.unsure = self.unsure
        self._visiting_op = ""  # the op whose rule is running (its subgraphs: _run_subgraph)
        self._visits = 0  # nodes visited (the memory budget is read every MEMORY_EVERY)
        self._memory_spent = False
        # the budget is what this walk adds: a long-lived process (a test session, a
        # notebook, an audit worker) may already hold more than the budget before it starts
        self._memory_base = _resident_mb() if MEMORY_MB else 0.0

    def run(self) -> Propagation:
        with definitions_in_scope(self.counter.definitions):
            for idx, node in enumerate(self.graph.nodes):
                self.step(idx, node)
        self.result.node_count = len(self.graph.nodes)
        self.result.derived = list(self.counter.derived_list)
        self._folded_away()
        return self.result

    def _folded_away(self) -> None:
        """A node whose outputs feed only Shape nodes and have fully constant shapes is never
        run: onnxruntime folds the Shape to a constant at load and drops the node. Its
        conditions may then not hold at run time, so they are not claimed (measured: a
        failing Reshape to [3, 4] whose only consumer is Shape runs at every N)."""
        consumers: dict = {}
        for node in self.graph.nodes:
            for i in node.input:
                if i:
                    consumers.setdefault(i, []).append(node.op_type)
        outputs = set(self.graph.outputs)
        names = {c.origin.node for c in self.result.constraints if c.origin is not None}
        folded = set()
        for idx, node in enumerate(self.graph.nodes):
            name = node.name or f"{node.op_type}_{idx}"
            outs = [o for o in node.output if o]
            if name not in names or not outs or any(o in outputs for o in outs):
                continue
            if all(consumers.get(o) and set(consumers[o]) == {"Shape"}
                   and self.tensors[o].shape is not None
                   and all(isinstance(d, int) for d in self.tensors[o].shape) for o in outs):
                folded.add(name)
                self.result.unproven.append(Unproven(
                    name, node.op_type, "its output feeds only Shape, which onnxruntime folds "
                    "to a constant at load, so this node may never run and its conditions "
                    "are not claimed"))
        if folded:
            self.result.constraints = [c for c in self.result.constraints
                                       if c.origin is None or c.origin.node not in folded]

    # ---- one node ---------------------------------------------------------------------
    def step(self, idx: int, node) -> None:
        outputs = [o for o in node.output if o]
        if any(i in self.dead for i in node.input if i):
            # the model already cannot run (result.impossible says why): nothing to prove
            self.dead.update(outputs)
            self._set_unknown(outputs, None)
            return
        name = node.name or f"{node.op_type}_{idx}"
        roots = [self.unknown_root[i] for i in node.input if i in self.unknown_root]
        roots += [self.unsure[i] for i in node.input if i in self.unsure]
        outcome = self.visit(name, node, roots)
        if isinstance(outcome, Inferred):
            self._record(name, node, outcome)
        elif isinstance(outcome, Impossible):
            if roots:  # fails only because an unknown input was assumed: still unproven
                self._set_unknown(outputs, roots[0])
            else:
                self.result.impossible.append(outcome.error)
                self.dead.update(outputs)
                self._set_unknown(outputs, None)
        else:
            root = roots[0] if roots else outcome
            if not roots and root not in self.result.unproven:
                self.result.unproven.append(root)
            self._set_unknown(outputs, root)

    def visit(self, name: str, node, roots: list) -> Outcome:
        """The rule's outcome for one node; every failure becomes a typed outcome here."""
        domain = registry.norm_domain(node.domain)
        opset = self.graph.opsets.get(domain, 1)
        op = node.op_type
        entry = registry.lookup(domain, op, opset)
        if entry is None:
            where = f"domain '{domain}' " if domain else ""
            return Unproven(name, op, f"graphshape has no rule for {where}op {op} "
                                      f"(opset {opset})")
        ins = [self.tensors.get(i) if i else None for i in node.input]
        no_kernel = ort_compat.missing_kernel(domain, op, opset, ins)  # said after the rule
        refused = ort_compat.schema_refusal(domain, op, opset, node, () if no_kernel else ins)
        if refused:
            return Unproven(name, op, refused)
        if roots and any(t is not None and t.shape is None for t in ins):
            return Unproven(name, op, "depends on an unknown shape")
        if MEMORY_MB and self._over_memory():
            return Unproven(name, op, f"graphshape's memory budget of {MEMORY_MB} MB was "
                                      "spent before this node (GRAPHSHAPE_MEMORY_MB)")
        ctx = NodeContext(name, op, opset, domain, len(node.output),
                          subgraph_runner=self._run_subgraph, new_symbol=self.counter.symbol,
                          graph=self.view, counter=self.counter)
        self._visiting_op = op  # the op whose rule may run subgraphs (see _run_subgraph)
        try:
            outer = _RULE_DEPTH[0] == 0
            try:
                outs = _run_rule(entry, ctx, ins, attribute_values(node))
            except RuleTimeout:
                if not outer:
                    raise
                _RULE_DEPTH[0] = 0  # the alarm may have come while the timer was being
                if _LEASE:  # stopped: put everything back once more
                    signal.setitimer(signal.ITIMER_REAL, 0)
                _disarm()
                return Unproven(name, op, f"its rule ran past graphshape's {NODE_SECONDS:g} s "
                                          "budget for one node (the shape expressions grew "
                                          "too large to decide; GRAPHSHAPE_NODE_SECONDS)")
        except ShapeError as e:
            return Impossible(e if e.node is not None else ShapeError(e.detail, name, op))
        except Unsupported as e:
            return Unproven(name, op, str(e))
        except GraphShapeError:
            raise
        except Exception as e:  # a bug in a rule must make the answer unproven, never wrong
            if is_isl_error(e):  # (islpy's exception, when a rule has imported islpy)
                return Unproven(name, op, "its rule ran past graphshape's budget of "
                                          f"{NODE_ISL_OPERATIONS:,} isl operations for one "
                                          "call (GRAPHSHAPE_NODE_ISL_OPERATIONS)")
            return Unproven(name, op,
                            f"internal error in its rule ({type(e).__name__}: {e})")
        gap = no_kernel or (
            self.graph.runtime_opsets and ort_compat.opset_refusal(domain, opset))
        if gap and gap not in ctx.assumptions:  # unproven, shapes still go on downstream
            ctx.assume(gap)
        outs = [outs] if isinstance(outs, Tensor) else list(outs)
        outs = [known.decided(self.view, t) for t in outs]  # min/max under known conditions
        for o, t in zip(node.output, outs):
            # a declared shape (value_info) that differs from the computed one acts only
            # through onnxruntime's folding of Shape to it: the Shape rule models that
            claim = self._declared_type_claim(o, t)
            if claim:
                ctx.assume(claim)
        return Inferred(outs, ctx)

    def _over_memory(self) -> bool:
        """Whether the process grew by more than MEMORY_MB since the walk began (read every
        MEMORY_EVERY nodes; once over, every later node is refused)."""
        self._visits += 1
        if self._visits % MEMORY_EVERY == 1 or MEMORY_EVERY == 1:
            self._memory_spent = _resident_mb() - self._memory_base > MEMORY_MB
        return self._memory_spent

    def _declared_type_claim(self, name: str, t) -> str | None:
        """A declared element type (value_info, a graph output) other than the one the node
        produces: onnxruntime refuses the model at load ('... of output arg (c) of node ()
        does not match expected type'; measured on 1.31.1)."""
        want = self.graph.declared_types.get(name) if name else None
        got = getattr(t, "dtype", 0) if t is not None else 0
        if not want or not isinstance(got, int) or got <= 0 or got == want:
            return None
        return (f"the model declares '{name}' as {ort_compat.type_words(want)} where the node "
                f"produces {ort_compat.type_words(got)}: onnxruntime refuses to load the model")

    def _record(self, name: str, node, outcome: Inferred) -> None:
        ctx, outs = outcome.ctx, outcome.outputs
        mine = [Unproven(name, node.op_type, reason) for reason in ctx.assumptions]
        self.result.unproven.extend(mine)
        unsure = [self.unsure[i] for i in node.input if i in self.unsure]
        if (ctx.shapes_unsure or ctx.conditions_unsure) and mine:
            unsure.append(mine[0])
        if unsure:
            # shapes that may be wrong at some sizes: a node reading them could reject a
            # size that runs, so none of its conditions is claimed, and its outputs carry
            # the doubt downstream
            for o in node.output:
                if o:
                    self.unsure[o] = unsure[0]
        if not unsure or (ctx.shapes_unsure and not ctx.conditions_unsure and
                          not any(i in self.unsure for i in node.input)):
            # (a node whose own conditions are sound, only its outputs unsure, keeps them)
            self.result.constraints.extend(ctx.constraints)
            self.result.spec_notes.extend(ctx.spec_notes)
        # (a subgraph's counts come up through its node: the outermost one names it last)
        self.result.data_dependent.extend(replace(d, top=name, top_op=node.op_type)
                                          for d in ctx.fresh_symbols)
        for o, t in zip(node.output, outs):
            if o:
                self.tensors[o] = t
        missing = [o for o in list(node.output)[len(outs):] if o]
        self._set_unknown(missing, Unproven(name, node.op_type, "optional output not inferred")
                          if missing else None)

    def _set_unknown(self, outputs, root) -> None:
        for o in outputs:
            self.tensors[o] = _UNKNOWN
            if root is not None:
                self.unknown_root[o] = root

    def _run_subgraph(self, g, env: dict):
        """Propagate a subgraph (If/Loop/Scan body) with the enclosing scope visible. The
        declared shapes of an If branch's or a Scan body's outputs are the If/Scan rule's to
        judge (a fixed declared dim of a computed symbolic one is a condition there, so at
        every valid size the declaration is true): they make no value_info claim here."""

        inits = {t.name: tensor_from_initializer(t, None) for t in g.initializer}
        inputs = dict(env)
        available = set(self.tensors) | set(inits) | set(inputs)
        nodes = topo_sort(list(g.node), available, graph_name=f"subgraph '{g.name}'")
        parent = self.graph
        declared = declared_shapes(g)
        types = declared_types(g)
        if self._visiting_op in ("If", "Scan"):
            for o in g.output:
                declared.pop(o.name, None)
        sub = Graph(parent.model, parent.opsets, inputs, inits, nodes,
                    [o.name for o in g.output], [], declared_shapes=declared,
                    declared_types=types, runtime_opsets=parent.runtime_opsets)
        return Walk(sub, outer=self.tensors, counter=self.counter, parent_view=self.view).run()


def propagate(graph, outer: dict | None = None) -> Propagation:
    """Walk ``graph`` (a model.Graph) and collect shapes, values and constraints."""
    with _walk_budget():
        return Walk(graph, outer).run()
