"""Conformance against the ONNX backend node tests: propagate each one-node test model at
the test's concrete input sizes and compare every output shape with the expected array.

Inputs that are small numeric tensors also get their contents as ``Tensor.value`` (the
tests feed shapes, axes, k, scales... as graph inputs rather than initializers).

Side by side, onnx's own C++ inference (``infer_shapes(strict_mode=True, data_prop=True)``
on the test model with its output shapes cleared) is scored the same way: it *covers* a
case when it infers every tensor output's full static shape. A case graphshape calls
impossible is checked on onnxruntime (the arbiter of what runs): when onnxruntime refuses
it too, the case is REFUSED (graphshape proved the refusal; the reference outputs follow
the spec, where onnxruntime is stricter), otherwise it is a FAIL.
"""

from __future__ import annotations

import collections
import importlib
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from graphshape.arith.dims import free_symbols
from graphshape.loader.contents import tensor_from_initializer
from graphshape.loader.graph import Graph, topo_sort
from graphshape.loader.tensor import Tensor
from graphshape.rules.optional import OPTIONAL, optional_of
from graphshape.rules.sequences import SEQUENCE, sequence_of
from graphshape.rules.shape_ops import tensor_from_array
from graphshape.shapes import engine, registry

PASS, FAIL, UNPROVEN, SKIP, REFUSED = "pass", "fail", "unproven", "skip", "refused"
# onnx C++ inference on a case: covered (every tensor output fully static and right),
# wrong (a static shape that differs from the reference), or not covered
CPP_OK, CPP_WRONG, CPP_NO = "covered", "wrong", "no"
# domains outside the coverage relation (graphshape proves no rules there)
EXEMPT_DOMAINS = ("ai.onnx.ml", "ai.onnx.preview.training")


@dataclass
class CaseResult:
    name: str
    op: str
    status: str
    detail: str = ""
    cpp: str = CPP_NO
    domains: tuple = ()
    checked: int = 0  # outputs compared (sequence and optional outputs are not)

    @property
    def covered(self) -> bool:
        """Every compared output right (at least one compared), or a proved refusal."""
        return self.status == REFUSED or (self.status == PASS and self.checked > 0)

    @property
    def exempt(self) -> bool:
        return any(d in EXEMPT_DOMAINS for d in self.domains)


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

    def cpp_only(self) -> list:
        """Cases onnx's C++ inference covers and graphshape does not (exempt domains
        aside): the coverage relation requires none."""
        return [r for r in self.results if r.cpp == CPP_OK and not r.covered and not r.exempt]

    def counts(self) -> dict:
        """Totals side by side: every case, those graphshape covers, those C++ covers."""
        rs = [r for r in self.results if not r.exempt]
        return {"cases": len(rs), "graphshape": sum(r.covered for r in rs),
                "graphshape_refused": sum(r.status == REFUSED for r in rs),
                "graphshape_fail": sum(r.status == FAIL for r in rs),
                "cpp": sum(r.cpp == CPP_OK for r in rs),
                "cpp_wrong": sum(r.cpp == CPP_WRONG for r in rs),
                "cpp_only": len(self.cpp_only()),
                "graphshape_only": sum(r.covered and r.cpp != CPP_OK for r in rs),
                "exempt": len(self.results) - len(rs)}

    def side_by_side(self) -> str:
        """Per op: cases, covered by graphshape (refusals proved), covered by onnx C++."""
        per: dict = collections.defaultdict(collections.Counter)
        for r in self.results:
            c = per[r.op + (" (ml/training)" if r.exempt else "")]
            c["n"] += 1
            c["gs"] += r.covered
            c["ref"] += r.status == REFUSED
            c["cpp"] += r.cpp == CPP_OK
            c["only"] += r.cpp == CPP_OK and not r.covered
        lines = [f"{'op':<40}{'cases':>6}{'graphshape':>11}{'(refused)':>10}{'onnx C++':>9}"
                 f"{'C++ only':>9}"]
        for op, c in sorted(per.items()):
            lines.append(f"{op:<40}{c['n']:>6}{c['gs']:>11}{c['ref']:>10}{c['cpp']:>9}"
                         f"{c['only']:>9}")
        k = self.counts()
        lines.append(f"TOTAL outside ml/training: {k['cases']} cases; graphshape covers "
                     f"{k['graphshape']} ({k['graphshape_refused']} as proved onnxruntime "
                     f"refusals), onnx C++ inference {k['cpp']} ({k['cpp_wrong']} wrong); "
                     f"C++ only {k['cpp_only']}, graphshape only {k['graphshape_only']}; "
                     f"graphshape wrong {k['graphshape_fail']}")
        return "\n".join(lines)

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
        lines.append(self.side_by_side())
        for r in self.failures():
            lines.append(f"FAIL {r.name} ({r.op}): {r.detail}")
        for r in self.results:
            if r.status == REFUSED:
                lines.append(f"refused {r.name} ({r.op}): {r.detail}")
        for r in self.cpp_only():
            lines.append(f"C++ only {r.name} ({r.op}): {r.status} {r.detail}")
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
        if vi.type.HasField("sequence_type"):
            if not isinstance(x, list) or any(_array(e) is None for e in x):
                return None
            elem = vi.type.sequence_type.elem_type.tensor_type.elem_type
            tensors[vi.name] = sequence_of(
                [Tensor(t.shape, elem or t.dtype, t.value)
                 for t in (tensor_from_array(_array(e)) for e in x)])
            continue
        if vi.type.HasField("optional_type"):
            elem = vi.type.optional_type.elem_type
            if x is None:
                tensors[vi.name] = optional_of(None)
                continue
            if elem.HasField("sequence_type"):
                if not _is_array_list(x):
                    return None
                et = elem.sequence_type.elem_type.tensor_type.elem_type
                tensors[vi.name] = optional_of(sequence_of(
                    [Tensor(t.shape, et or t.dtype, t.value)
                     for t in (tensor_from_array(_array(e)) for e in x)]))
                continue
            if not elem.HasField("tensor_type"):
                return None
            arr = _array(x)
            if arr is None:
                return None
            t = tensor_from_array(arr)
            tensors[vi.name] = optional_of(Tensor(t.shape, elem.tensor_type.elem_type or
                                                  t.dtype, t.value))
            continue
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
    return Graph(model, _opsets(model), tensors, inits, nodes, [o.name for o in g.output], [],
                 runtime_opsets=False)


def run_case(case) -> CaseResult:
    r = _run_graphshape(case)
    r.cpp = cpp_case(case)
    r.domains = tuple(sorted({i.domain for i in case.model.opset_import} |
                             {n.domain for n in case.model.graph.node}))
    if r.status == FAIL and r.detail.startswith("claimed impossible") and \
            _onnxruntime_refuses(case):
        r.status = REFUSED
    return r


def cpp_case(case) -> str:
    """onnx's C++ shape inference on the case, scored like graphshape."""
    import copy

    if not case.data_sets:
        return CPP_NO
    m = copy.deepcopy(case.model)
    for o in m.graph.output:
        if o.type.HasField("tensor_type"):
            o.type.tensor_type.ClearField("shape")
    del m.graph.value_info[:]
    try:
        m = onnx.shape_inference.infer_shapes(m, strict_mode=True, data_prop=True)
    except Exception:  # noqa: BLE001  (inference errors: not covered)
        return CPP_NO
    _, outs = case.data_sets[0]
    checked = 0
    for o, exp in zip(m.graph.output, outs):
        arr = _array(exp)
        typ = o.type.optional_type.elem_type if o.type.HasField("optional_type") else o.type
        if arr is None and _is_array_list(exp):
            checked += 1
            st = typ.sequence_type.elem_type.tensor_type \
                if typ.HasField("sequence_type") else None
            if st is None or not st.HasField("shape") or \
                    any(not d.HasField("dim_value") for d in st.shape.dim):
                return CPP_NO
            if any(tuple(d.dim_value for d in st.shape.dim) != np.asarray(e).shape
                   for e in exp):
                return CPP_WRONG
            continue
        if arr is None:
            continue
        tt = typ.tensor_type if typ.HasField("tensor_type") else None
        if tt is None or not tt.HasField("shape") or \
                any(not d.HasField("dim_value") for d in tt.shape.dim):
            return CPP_NO
        if tuple(d.dim_value for d in tt.shape.dim) != arr.shape:
            return CPP_WRONG
        checked += 1
    return CPP_OK if checked else CPP_NO  # nothing to compare (sequences...): not covered


def _onnxruntime_refuses(case) -> bool:
    """Whether onnxruntime (CPU) fails on the case's inputs at run time. A model with 16-bit
    float inputs that it cannot load (no kernel for the type) is retried in float32
    (graphshape's conditions are about sizes, not element types); any other load failure
    does not count."""
    import onnxruntime as ort

    ins, _ = case.data_sets[0]
    model = case.model
    feeds = [vi for vi in model.graph.input
             if vi.name not in {t.name for t in model.graph.initializer}]
    arrays = [_array(x) for x in ins]
    if any(a is None for a in arrays):
        return False
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    for attempt in (0, 1):
        if model.ir_version > 10:
            model = _with_ir(model, 10)
        try:
            sess = ort.InferenceSession(model.SerializeToString(), opts,
                                        providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001
            if attempt == 0 and _has_half(model):
                model, arrays = _as_float32(model, arrays)
                continue
            return False
        try:
            sess.run(None, {vi.name: a for vi, a in zip(feeds, arrays)})
        except Exception:  # noqa: BLE001  (the refusal graphshape predicted)
            return True
        return False
    return False


def _with_ir(model, ir: int):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    m.ir_version = ir
    return m


_HALF = (onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16)


def _has_half(model) -> bool:
    return any(vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type in _HALF
               for vi in model.graph.input)


def _as_float32(model, arrays):
    m = _with_ir(model, model.ir_version)
    for vi in list(m.graph.input) + list(m.graph.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type in _HALF:
            vi.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    out = [a.astype(np.float32) if a.dtype.kind not in "iubOSU" and a.dtype != np.float64
           else a for a in arrays]
    return m, out


def _is_array_list(x) -> bool:
    return isinstance(x, list) and all(_array(e) is not None for e in x)


def _shape_mismatch(shape, want, dd) -> str:
    """'' when ``shape`` (dims, data-dependent symbols allowed) equals ``want``."""
    if shape is None:
        return "unknown shape"
    got = []
    for d in shape:
        if not isinstance(d, int):
            if free_symbols(d) & dd:
                got.append(None)
                continue
            return f"symbolic dim {d}"
        got.append(d)
    if len(got) != len(want) or any(g is not None and g != e for g, e in zip(got, want)):
        return f"got {tuple(got)}, expected {tuple(want)}"
    return ""


def _run_graphshape(case) -> CaseResult:
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
    checked = 0
    dd = {d.symbol for d in prop.data_dependent}
    for name, exp in zip(graph.outputs, outs):
        arr = _array(exp)
        t = prop.tensors.get(name)
        if t is not None and t.dtype == OPTIONAL and t.shape is None and t.value:
            t = t.value[0]  # an optional holding a value: compare the value
        if arr is None and _is_array_list(exp):
            checked += 1
            if t is None or t.dtype != SEQUENCE or t.value is None:
                unproven.append(name)
                continue
            if len(t.value) != len(exp):
                return CaseResult(case.name, op, FAIL, f"output {name}: a sequence of "
                                  f"{len(t.value)}, expected {len(exp)}")
            for i, (el, e) in enumerate(zip(t.value, exp)):
                bad = _shape_mismatch(el.shape, np.asarray(e).shape, dd)
                if bad:
                    return CaseResult(case.name, op, FAIL, f"output {name}[{i}]: {bad}")
            continue
        if arr is None:
            continue
        checked += 1
        if t is None or t.shape is None:
            unproven.append(name)
            continue
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
    return CaseResult(case.name, op, PASS, checked=checked)


def run_all(cases=None) -> Table:
    if cases is None:
        import warnings

        from onnx.backend.test.case.node import collect_testcases

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cases = collect_testcases(None)
    importlib.import_module("graphshape.rules")  # registers every rule
    table = Table()
    for case in cases:
        table.results.append(run_case(case))
    return table
