"""The front object: load -> propagate -> solve, kept together as an Analysis."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from graphshape import (
    rules,  # noqa: F401  (importing the package registers every rule)
    stats,
)
from graphshape.answers.size_story import count_words, requirement_words
from graphshape.arith import lazy
from graphshape.arith.dims import free_symbols, substitute, to_str, value_at
from graphshape.domain import solve
from graphshape.domain.counts import discharge, read_requirements, requirements
from graphshape.domain.sets import Domain
from graphshape.loader import graph as model
from graphshape.results import Explanation, Verdict, Violation
from graphshape.shapes import engine
from graphshape.shapes.constraints import Constraint, Origin

# the deployer answers and the words for a violation are imported when first asked for: an
# analysis alone does not import them (profiles imports the verifier, and with it numpy)
contract = lazy.module("graphshape.answers.contract")
fit_answers = lazy.module("graphshape.answers.fit")
profile_answers = lazy.module("graphshape.answers.profiles")
reasons = lazy.module("graphshape.answers.reasons")

__all__ = ["Analysis", "analyze", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1


@dataclass
class Analysis:
    graph: model.Graph
    propagation: engine.Propagation
    domain: Domain
    _spec_inputs: tuple | None = None  # (constraints, symbols, domain args), solved lazily
    timings: dict = field(default_factory=dict)
    _spec_domain: object = None
    stats: dict = field(default_factory=dict)  # work counted (rule calls, isl calls, ...)

    @property
    def spec_domain(self) -> Domain | None:
        """The domain the ONNX spec allows (pooling windows inside the padded input), solved
        on first use: it differs from onnxruntime's only where the runtime truncates."""
        if self._spec_inputs is None:
            return None
        if self._spec_domain is None:
            cons, syms, rest = self._spec_inputs
            self._spec_domain = Domain(solve.solve(cons, syms, self.propagation.derived),
                                       *rest)
        return self._spec_domain

    # ---- shapes -----------------------------------------------------------------------
    @property
    def inputs(self) -> dict:
        return {n: [_dim_out(d) for d in t.shape] for n, t in self.graph.inputs.items()}

    @property
    def shapes(self) -> dict:
        """Every value name -> its symbolic shape (ints and expression strings; None when
        unknown)."""
        out = {}
        for name, t in self.propagation.tensors.items():
            out[name] = None if t.shape is None else [_dim_out(d) for d in t.shape]
        return out

    @property
    def output_shapes(self) -> dict:
        return {n: self.shapes.get(n) for n in self.graph.outputs}

    def output_shapes_at(self, sizes: dict) -> dict:
        """Concrete output shapes at ``sizes`` (None where data-dependent or unknown)."""
        env = self.domain.env(sizes)
        floats = getattr(self.domain.solved, "floats", None)
        if floats is not None:  # sizes derived in float32 (graphshape.arith.float32)
            env = floats.values(env) or env
        out = {}
        for n in self.graph.outputs:
            t = self.propagation.tensors.get(n)
            if t is None or t.shape is None:
                out[n] = None
                continue
            # None: no value here (a data-dependent count, or c // d with d == 0)
            out[n] = [value_at(d, env) for d in t.shape]
        return out

    def input_shapes_at(self, sizes: dict) -> dict:
        env = self.domain.env(sizes)
        return {n: [substitute(d, env) for d in t.shape] for n, t in self.graph.inputs.items()}

    # ---- explanations -------------------------------------------------------------------
    def check(self, sizes: dict) -> Verdict:
        """VALID, INVALID or UNPROVEN at ``sizes`` (see Domain.check)."""
        return self.domain.check(sizes)

    def explain(self, sizes: dict) -> Explanation:
        """The verdict at ``sizes`` with every violated condition and its numbers, or the
        output shapes it produces (and, when unproven, why)."""
        verdict = self.domain.check(sizes)
        assumed = self.domain.assumed(sizes)
        if verdict is Verdict.INVALID:
            if self.domain.impossible:
                violations = tuple(Violation(e.node, e.op, e.detail)
                                   for e in self.domain.impossible)
            else:
                violations = tuple(
                    Violation(c.origins[0].node, c.origins[0].op, c.origins[0].reason, nums,
                              str(c.constraint), tuple(o.node for o in c.origins[1:]),
                              _readable(self, c, self.domain.env(sizes)))
                    for c, nums in self.domain.violations(sizes))
            return Explanation(dict(sizes), verdict, violations, assumed=assumed)
        unproven = ()
        if verdict is Verdict.UNPROVEN:
            unproven = tuple([u.describe() for u in self.domain.unproven] + [
                count_words(self, c) for c in self.domain.dd_conditions])
        requires = tuple(requirement_words(self)) if verdict is Verdict.VALID else ()
        return Explanation(dict(sizes), verdict, (), self.output_shapes_at(sizes), unproven,
                           assumed, requires)

    # ---- deployer answers (contract.py, fit.py, profiles.py) -------------------------
    def require(self, spec: str):
        """Whether every size of a contract ("H in 224..640 step 32, W = H") is valid,
        decided as one set inclusion (graphshape.contract)."""

        return contract.require(self, spec)

    def fit(self, sizes: dict, policy: str = "any", placement: str = "center"):
        """The valid sizes nearest ``sizes`` (pad, crop, resize), best first (graphshape.fit)."""

        return fit_answers.fit(self, sizes, policy, placement)

    def profiles(self, range_spec: str | None = None, opt: dict | None = None, **kw):
        """TensorRT optimisation profiles: min/opt/max per valid box (graphshape.profiles)."""

        return profile_answers.profiles(self, range_spec, opt, **kw)

    def constraints_table(self) -> list:
        rows = []
        for c in self.domain.solved.conditions:
            o = c.origins[0]
            rows.append({"condition": str(c.constraint), "node": o.node, "op": o.op,
                         "reason": o.reason, "also": [x.node for x in c.origins[1:]],
                         "closed_form": c.isl_text is not None})
        return rows

    def spec_differences(self) -> str | None:
        """Where the ONNX spec's answer differs from onnxruntime's (None when it does not)."""
        if self.spec_domain is None:
            return None
        if self.spec_domain.isl_set.is_equal(self.domain.isl_set):
            return None
        return str(self.spec_domain)

    def to_json(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.graph.path,
            "opsets": {k or "ai.onnx": v for k, v in self.graph.opsets.items()},
            "nodes": self.propagation.node_count,
            "inputs": self.inputs,
            "outputs": self.output_shapes,
            "domain": self.domain.to_json(),
            "spec_domain": None if self.spec_differences() is None else {
                "closed_form": str(self.spec_domain),
                "note": "sizes the ONNX spec rejects but onnxruntime accepts "
                        "(pooling windows overhanging the input)"},
            "constraints": self.constraints_table(),
            "unproven": [{"node": u.node, "op": u.op, "reason": u.reason}
                         for u in self.propagation.unproven],
            "data_dependent": [{"symbol": str(d.symbol), "node": d.node, "op": d.op,
                                "what": d.what} for d in self.propagation.data_dependent],
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
        }


def _dim_out(d):
    return d if isinstance(d, int) else to_str(d)


def _split_dd(constraints, dd_symbols):
    proven, dd = [], []
    for c in constraints:
        (dd if c.symbols() & dd_symbols else proven).append(c)
    return proven, dd


def analyze(source, dims=None) -> Analysis:
    """Analyse an ONNX model (path or ModelProto). ``dims`` re-symbolises fixed axes:
    {"input:2": "H"} or ["input:2=H"]."""
    t0 = time.perf_counter()
    before = stats.snapshot()
    g = model.load(source, dims)
    t1 = time.perf_counter()
    prop = engine.propagate(g)
    t2 = time.perf_counter()
    constraints = list(prop.constraints)
    # graph outputs must not be empty unless their size is data-dependent
    dd_syms = {d.symbol for d in prop.data_dependent}
    for name in g.outputs:
        t = prop.tensors.get(name)
        if t is None or t.shape is None or name in prop.unsure:
            # (an output whose shape may be wrong at some sizes may be empty there and not
            # in the run: onnxruntime's Concat takes its first non-empty input's dims)
            continue
        for axis, d in enumerate(t.shape):
            if (isinstance(d, int) and d >= 1) or free_symbols(d) & dd_syms:
                continue
            constraints.append(Constraint.ge(d, 1, Origin(
                name, "graph output", f"output '{name}' axis {axis} must not be empty")))
    proven, dd = _split_dd(constraints, dd_syms)
    # a condition on counts that holds whatever the counts (0 included) binds no size: a
    # detector's size is valid when the run succeeds for every count the graph allows
    counts = {d.symbol: d for d in prop.data_dependent}
    dd, needs, reachable = requirements(discharge(dd, counts), counts)
    needs += read_requirements(counts)
    proven += reachable
    solved = solve.solve(proven, g.symbols, prop.derived)
    domain = Domain(solved, prop.unproven, dd, prop.impossible, needs)
    spec_inputs = None
    if prop.spec_notes:
        spec_inputs = (proven + _split_dd(prop.spec_notes, dd_syms)[0], g.symbols,
                       (prop.unproven, dd, prop.impossible, needs))
    t3 = time.perf_counter()
    return Analysis(g, prop, domain, spec_inputs,
                    {"load": t1 - t0, "propagate": t2 - t1, "solve": t3 - t2},
                    stats=stats.since(before))


def _readable(analysis, cond, sizes) -> str:
    """reasons.readable, or "" where it cannot put the condition in words (the raw numbers
    are then what the user reads)."""

    floats = getattr(analysis.domain.solved, "floats", None)
    if floats is not None and cond.constraint.symbols() & {d.symbol for d in floats.derived}:
        # a condition on sizes derived in float32: what each is, and its value here
        env = floats.values(dict(sizes)) or {}
        return "; ".join(f"{d.symbol} = {d.formula()} = {env.get(d.symbol.name, '?')} in "
                         f"float32 at {', '.join(f'{k}={v}' for k, v in sizes.items())}"
                         for d in floats.derived if d.symbol in cond.constraint.symbols())
    try:
        return reasons.readable(analysis, cond, sizes)
    except Exception:  # noqa: BLE001  words are a courtesy; the verdict does not depend on them
        return ""
