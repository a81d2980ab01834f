"""Conformance against the ONNX backend node tests: propagate each one-node test model at
the test's concrete input sizes and compare every output shape with the expected array.

Inputs that are small numeric tensors also get their contents as ``Tensor.value`` (the
tests feed shapes, axes, k, scales... as graph inputs rather than initializers).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from . import engine, registry
from .dims import free_symbols
from .model import Graph, tensor_from_initializer, topo_sort
from .rules.shape_ops import tensor_from_array
from .tensor import Tensor

PASS, FAIL, UNPROVEN, SKIP = "pass", "fail", "unproven", "skip"


@dataclass
class CaseResult:
    name: str
    op: str
    status: str
    detail: str = ""


@dataclass
class Table:
    results: list = field(default_factory=list)

    def by_op(self) -> dict:
        out: dict = collections.defaultdict(collections.Counter)
        for r in self.results:
            if r.status != SKIP:
                out[r.op][r.status] += 1
        return dict(out)

    def failures(self) -> list:
        return [r for r in self.results if r.status == FAIL]

    def render(self) -> str:
        rows = sorted(self.by_op().items())
        lines = [f"{'op':<32}{'cases':>6}{'pass':>6}{'fail':>6}{'unpr':>6}  rate"]
        tot = collections.Counter()
        for op, c in rows:
            n = c[PASS] + c[FAIL] + c[UNPROVEN]
            tot.update(c)
            decided = c[PASS] + c[FAIL]
            rate = f"{100 * c[PASS] / decided:.0f}%" if decided else "-"
            lines.append(f"{op:<32}{n:>6}{c[PASS]:>6}{c[FAIL]:>6}{c[UNPROVEN]:>6}  {rate}")
        n = tot[PASS] + tot[FAIL] + tot[UNPROVEN]
        lines.append(f"{'TOTAL (' + str(len(rows)) + ' ops)':<32}{n:>6}{tot[PASS]:>6}"
                     f"{tot[FAIL]:>6}{tot[UNPROVEN]:>6}")
        for r in self.failures():
            lines.append(f"FAIL {r.name} ({r.op}): {r.detail}")
        unp = [r for r in self.results if r.status == UNPROVEN]
        for r in unp:
            lines.append(f"unproven {r.name} ({r.op}): {r.detail}")
        return "\n".join(lines)


def _array(x):
    if isinstance(x, onnx.TensorProto):
        return numpy_helper.to_array(x)
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x)
    return None  # sequences, maps, optionals


def _opsets(model) -> dict:
    out = {}
    for imp in model.opset_import:
        out["" if imp.domain in ("", "ai.onnx") else imp.domain] = int(imp.version)
    out.setdefault("", 21)
    return out


def _all_ops(graph, opsets, acc: set) -> bool:
    """Whether every node (subgraphs included) has a rule; collects the op names."""
    ok = True
    for n in graph.node:
        dom = "" if n.domain in ("", "ai.onnx") else n.domain
        acc.add(n.op_type)
        if registry.lookup(dom, n.op_type, opsets.get(dom, 1)) is None:
            ok = False
        for a in n.attribute:
            for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                ok = _all_ops(g, opsets, acc) and ok
    return ok


def build_graph(model: onnx.ModelProto, inputs) -> Graph | None:
    """A Graph whose inputs have the concrete shapes (and small contents) of ``inputs``."""
    g = model.graph
    inits = {t.name: tensor_from_initializer(t, None) for t in g.initializer}
    feeds = [vi for vi in g.input if vi.name not in inits]
    tensors = {}
    for vi, x in zip(feeds, inputs):
        arr = _array(x)
        if arr is None:
            return None
        t = tensor_from_array(arr)
        if t.value is None and arr.size <= 64 and arr.dtype.kind not in "iubfcOSU":
            try:  # ml_dtypes (bfloat16, float8...): small contents as floats
                t = t.with_value(tensor_from_array(arr.astype(np.float32)).value)
            except (TypeError, ValueError):
                pass
        tensors[vi.name] = Tensor(t.shape, vi.type.tensor_type.elem_type or t.dtype, t.value)
    if len(feeds) > len(inputs):
        return None
    nodes = topo_sort(list(g.node), set(tensors) | set(inits))
    return Graph(model, _opsets(model), tensors, inits, nodes, [o.name for o in g.output], [])


def run_case(case) -> CaseResult:
    model = case.model
    ops = [n.op_type for n in model.graph.node]
    op = ops[0] if len(ops) == 1 else "(multi-node)"
    acc: set = set()
    if not _all_ops(model.graph, _opsets(model), acc):
        return CaseResult(case.name, op, SKIP, "no rule")
    if not case.data_sets:
        return CaseResult(case.name, op, SKIP, "no data")
    ins, outs = case.data_sets[0]
    graph = build_graph(model, ins)
    if graph is None:
        return CaseResult(case.name, op, SKIP, "non-tensor input")
    try:
        prop = engine.propagate(graph)
    except Exception as e:  # noqa: BLE001  (a crash is a failure to report, not to hide)
        return CaseResult(case.name, op, FAIL, f"propagate raised {type(e).__name__}: {e}")
    if prop.impossible:
        return CaseResult(case.name, op, FAIL, f"claimed impossible: {prop.impossible[0]}")
    unproven = []
    for name, exp in zip(graph.outputs, outs):
        arr = _array(exp)
        if arr is None:
            continue
        t = prop.tensors.get(name)
        if t is None or t.shape is None:
            unproven.append(name)
            continue
        dd = {d.symbol for d in prop.data_dependent}
        got = []
        for d in t.shape:
            if not isinstance(d, int):
                if free_symbols(d) & dd:
                    got.append(None)  # data-dependent: any size is consistent
                    continue
                return CaseResult(case.name, op, FAIL, f"output {name}: symbolic dim {d}")
            got.append(d)
        if len(got) != arr.ndim or any(g is not None and g != e
                                       for g, e in zip(got, arr.shape)):
            return CaseResult(case.name, op, FAIL,
                              f"output {name}: got {tuple(got)}, expected {arr.shape}")
    if unproven:
        why = "; ".join(u.describe() for u in prop.unproven) or "outputs unknown"
        return CaseResult(case.name, op, UNPROVEN, why)
    return CaseResult(case.name, op, PASS)


def run_all(cases=None) -> Table:
    if cases is None:
        import warnings

        from onnx.backend.test.case.node import collect_testcases

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cases = collect_testcases(None)
    registry._load_all()
    table = Table()
    for case in cases:
        table.results.append(run_case(case))
    return table
