"""onnxruntime as the arbiter: run the model at the domain's edges and compare.

Every run happens in a child process (runtime/worker.py, driven by runtime/runner.py), so a
native crash counts as "invalid" for that size and never takes graphshape down. Each run
has a timeout; sizes whose inputs and activations would exceed a memory budget are skipped
with a reason.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field

from graphshape.arith.dims import value_at
from graphshape.domain.sets import INVALID, UNPROVEN, VALID
from graphshape.dtypes import DataType
from graphshape.errors import VerificationError
from graphshape.runtime.runner import LoadRefused, Worker, pipelined

_NODE_RE = re.compile(r"(?:Name:|node )'([^']*)'")
_OP_RE = re.compile(r"while running (\w+) node\. Name:''")


def _unnamed_node(analysis, op: str, candidates: set) -> str | None:
    """onnxruntime names an unnamed node ''; graphshape calls it OP_INDEX. The one unnamed
    node of that op among ``candidates``, or None when it cannot tell."""
    names = {f"{n.op_type}_{i}" for i, n in enumerate(analysis.graph.nodes)
             if not n.name and n.op_type == op}
    hit = names & set(candidates)
    return next(iter(hit)) if len(hit) == 1 else None


@dataclass
class Verdict:
    sizes: dict
    predicted: str  # valid / invalid / unproven
    observed: str  # valid / invalid / skipped / timeout
    agree: bool | None
    detail: str = ""
    blamed_node: str | None = None
    predicted_nodes: list = field(default_factory=list)
    shapes_ok: bool | None = None
    seconds: float = 0.0
    given_counts: bool = False  # compared as "valid unless a count condition fails"

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class VerificationReport:
    verdicts: list
    providers: list
    opt_level: str
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def disagreements(self) -> list:
        return [v for v in self.verdicts if v.agree is False]

    @property
    def compared(self) -> list:
        return [v for v in self.verdicts if v.agree is not None]

    @property
    def ok(self) -> bool:
        return not self.disagreements and not self.interrupted

    def summary(self) -> str:
        n, bad = len(self.compared), len(self.disagreements)
        skipped = len(self.verdicts) - n
        where = ",".join(p.replace("ExecutionProvider", "") for p in self.providers)
        s = (f"{n} sizes run on onnxruntime ({where}, optimisation '{self.opt_level}'): "
             f"{n - bad} agree, {bad} disagree")
        if skipped:
            s += f", {skipped} skipped"
        if self.interrupted:
            s += " (interrupted: partial table)"
        return s

    def to_json(self) -> dict:
        return {"providers": self.providers, "opt_level": self.opt_level, "ok": self.ok,
                "interrupted": self.interrupted, "summary": self.summary(),
                "seconds": round(self.seconds, 3),
                "verdicts": [v.to_json() for v in self.verdicts]}


def estimate_bytes(analysis, sizes) -> int:
    """Bytes of the inputs plus the largest few activations at ``sizes`` (known shapes)."""
    env = analysis.domain.env(sizes)
    floats = getattr(analysis.domain.solved, "floats", None)
    if floats is not None:  # sizes derived in float32 (a detector's resized image)
        env = floats.values(env) or env
    total = 0
    largest = []
    for t in analysis.propagation.tensors.values():
        if t.shape is None:
            continue
        n = 1
        for d in t.shape:
            v = value_at(d, env)  # None: no value here (a count, or c // d with d == 0)
            if v is None:
                n = 0
                break
            n *= max(v, 0)
        largest.append(n * 4)
    largest.sort(reverse=True)
    total = sum(largest[:4])
    return total


def plan_points(domain, n_random: int = 6, seed: int = 0) -> list:
    pts = []
    seen = set()
    for p in domain.edges() + domain.sample_members(n_random, seed) + \
            domain.sample_nonmembers(n_random, seed):
        key = tuple(sorted(p.items()))
        if key not in seen:
            seen.add(key)
            pts.append(p)
    return pts


def verify(analysis, points=None, *, n_random: int = 6, seed: int = 0, timeout: float = 120,
           memory_budget: int = 2 << 30, providers=None, opt_level: str = "all",
           progress=None, fills=("normal",), worker: Worker | None = None
           ) -> VerificationReport:
    """Run onnxruntime at ``points`` (default: plan_points) and compare. ``fills``: the
    input data each size is run with (normal, uniform, zeros): a detector's counts depend
    on the data, and a size is valid only when every run succeeds.

    One worker process holds one session for every size; it starts (imports onnxruntime,
    loads the model) while the predictions for the points are computed, and it is sent
    sizes ahead (WINDOW) so that judging one reply overlaps the next run. ``worker``: one
    from prestart(), used where it runs this model with these providers (verify stops it)."""
    path = analysis.graph.path
    if path is None:
        raise VerificationError("verification needs the model as a file")
    run_path, temp = _runnable_copy(analysis)
    fresh = Worker(os.path.abspath(run_path), providers, opt_level)
    if worker is None or worker.args != fresh.args or worker.proc is None:
        if worker is not None:
            worker.stop()  # started for another file, providers or level
        worker = fresh
    watcher = _Watcher(analysis, opt_level, run_path)
    report = VerificationReport([], list(providers or []), opt_level)
    t0 = time.perf_counter()
    try:
        if worker.proc is None:
            worker.spawn()
        if points is None:
            points = plan_points(analysis.domain, n_random, seed)
        planned = [_prepare(analysis, p, memory_budget) for p in points]
        try:
            worker.ready()
        except LoadRefused as e:
            # onnxruntime refuses the model at load time: no size can run
            # (the finally below stops the worker and removes the temporary copy)
            report.verdicts = [_refused(analysis, p, str(e)) for p in points]
            report.seconds = time.perf_counter() - t0
            return report
        report.providers = watcher.providers = worker.providers
        runs = [i for i, p in enumerate(planned) if not isinstance(p, Verdict)]
        requests = [{"inputs": planned[i].inputs, "fills": list(fills)} for i in runs]
        judged = 0

        def flush():  # every verdict known in order, as it becomes known
            nonlocal judged
            while judged < len(planned) and isinstance(planned[judged], Verdict):
                if progress:
                    progress(judged, len(planned), points[judged])
                report.verdicts.append(planned[judged])
                judged += 1

        def judge(k, reply):
            planned[runs[k]] = _judge(analysis, planned[runs[k]], reply, timeout, watcher,
                                      fills)
            flush()

        flush()  # sizes before the first run (over the memory budget)
        pipelined(worker, requests, timeout, judge)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        worker.stop()
        watcher.stop()
        if temp and os.path.exists(temp):
            os.unlink(temp)
        if progress and points is not None:
            progress(len(points), len(points), None)
    report.seconds = time.perf_counter() - t0
    return report


def _runnable_copy(analysis):
    """(path to run, temp file or None). A model analysed with --dim overrides is run from a
    copy whose overridden axes are symbolic, next to the original (external data paths
    stay valid); the copy is removed afterwards."""
    g = analysis.graph
    changes = {}
    for name, decl in g.declared_dims.items():
        shape = g.inputs[name].shape
        for axis, (d, ours) in enumerate(zip(decl, shape)):
            if not isinstance(ours, int) and (not isinstance(d, str) or d != ours.name):
                changes[(name, axis)] = ours.name
    if not changes:
        return g.path, None
    import onnx  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it

    m = onnx.load(g.path, load_external_data=False)
    for vi in m.graph.input:
        for axis, dim in enumerate(vi.type.tensor_type.shape.dim):
            if (vi.name, axis) in changes:
                dim.Clear()
                dim.dim_param = changes[(vi.name, axis)]
    temp = _save_beside(m, g.path, "resym")
    return temp, temp


def _save_beside(model, src: str, tag: str) -> str:
    """Save a modified copy next to ``src`` (so external-data paths still resolve) under a
    hidden per-process name; the caller removes it."""
    import onnx  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it

    path = os.path.join(os.path.dirname(os.path.abspath(src)),
                        f".graphshape-{tag}-{os.getpid()}.onnx")
    onnx.save(model, path)
    return path


def _refused(analysis, sizes, why) -> Verdict:
    predicted = analysis.domain.check(sizes)
    agree = None if predicted == UNPROVEN else predicted == INVALID
    return Verdict(sizes, predicted, INVALID, agree, why)


WATCHED_OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"}


class _Watcher:
    """A second worker on a copy of the model whose Conv/Pool outputs are also graph
    outputs. Used only when onnxruntime accepts a size that graphshape rejects: by
    definition (DESIGN.md) a size is invalid when a Conv/Pool output is empty, even if a
    later op (Concat skips empty inputs) hides it and the run completes."""

    def __init__(self, analysis, opt_level, src):
        self.analysis, self.opt_level = analysis, opt_level
        self.providers: list = []  # the main worker's, once it has started
        self.src = src
        self.worker = None
        self.path = None
        self.failed = False

    def empty_outputs(self, inputs, timeout):
        if self.failed:
            return None
        if self.worker is None:
            try:
                self._start()
            except Exception:  # noqa: BLE001  the check is an extra; never fatal
                self.failed = True
                self.stop()
                return None
        reply = self.worker.run(inputs, timeout)
        if not reply.get("ok"):
            return None
        return [n for n, shp in reply["shapes"].items() if n in self.watched and 0 in shp]

    def _start(self):
        import onnx  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it
        from onnx import helper  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it

        src = self.src
        m = onnx.load(src, load_external_data=False)
        have = {o.name for o in m.graph.output}
        self.watched = []
        for node in m.graph.node:
            if node.op_type in WATCHED_OPS and node.output and node.output[0] not in have:
                t = self.analysis.propagation.tensors.get(node.output[0])
                dtype = t.dtype if t is not None and t.dtype else 1
                m.graph.output.append(helper.make_tensor_value_info(node.output[0], dtype, None))
                self.watched.append(node.output[0])
        self.path = _save_beside(m, src, "watch")
        self.worker = Worker(self.path, self.providers, self.opt_level)
        self.worker.start()

    def stop(self):
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self.path and os.path.exists(self.path):
            os.unlink(self.path)
        self.path = None


@dataclass
class _Planned:
    """What a size's verdict needs besides onnxruntime's reply, computed before the run."""
    sizes: dict
    predicted: str
    pred_nodes: list
    given_counts: bool
    count_nodes: set
    inputs: dict


def _prepare(analysis, sizes, budget):
    """The prediction at ``sizes`` and the run's request, or the verdict (skipped) where the
    run would exceed the memory budget."""
    predicted = analysis.domain.check(sizes)
    d = analysis.domain
    # unproven only because of conditions on data-dependent counts (Faster R-CNN needs one
    # region proposal to survive), every node analysed: the run must succeed unless the
    # data makes such a count fail, and then onnxruntime must blame a node of those
    # valid under the model's requirements on the data alone (counts.py): the same rule
    given_counts = (predicted == UNPROVEN and not d.unproven and bool(d.dd_conditions) and
                    not d.impossible) or (predicted == VALID and bool(d.requirements))
    count_nodes = {c.origin.node for c in d.dd_conditions + d.requirements
                   if c.origin is not None} if given_counts else set()
    pred_nodes = []
    if predicted == INVALID:
        pred_nodes = sorted({c.origins[0].node for c in analysis.domain.violated(sizes)})
    need = estimate_bytes(analysis, sizes)
    if need > budget:
        return Verdict(sizes, predicted, "skipped", None,
                       f"needs about {need / 2**30:.1f} GiB (> budget {budget / 2**30:.1f} GiB)",
                       predicted_nodes=pred_nodes)
    inputs = {}
    for name, shape in analysis.input_shapes_at(sizes).items():
        dtype = _numpy_name(analysis.graph.inputs[name].dtype)
        inputs[name] = {"shape": shape, "dtype": dtype}
    return _Planned(sizes, predicted, pred_nodes, given_counts, count_nodes, inputs)


def _judge(analysis, plan: _Planned, reply: dict, timeout, watcher, fills) -> Verdict:
    """The verdict at a size from onnxruntime's reply (its fills run in order, the first
    that fails deciding)."""
    sizes, predicted, pred_nodes = plan.sizes, plan.predicted, plan.pred_nodes
    given_counts, count_nodes, inputs = plan.given_counts, plan.count_nodes, plan.inputs
    secs = reply.get("seconds", 0.0)
    if not reply.get("ok") and len(fills) > 1 and "error" in reply:
        which = reply.get("fill") or " or ".join(fills)
        reply["error"] = f"with {which} input data: " + reply["error"]
    if reply.get("timeout"):
        return Verdict(sizes, predicted, "timeout", None, reply["error"],
                       predicted_nodes=pred_nodes)
    observed = VALID if reply["ok"] else INVALID
    detail = "" if reply["ok"] else reply["error"]
    blamed = None
    if not reply["ok"]:
        m = _NODE_RE.search(reply["error"])
        blamed = m.group(1) if m else None
        op = _OP_RE.search(reply["error"])
        if blamed == "" and op:  # an unnamed node: graphshape calls it OP_INDEX
            blamed = _unnamed_node(analysis, op.group(1), count_nodes) or blamed
    shapes_ok = None
    if reply["ok"]:
        predicted_shapes = analysis.output_shapes_at(sizes)
        shapes_ok = True
        for name, got in reply["shapes"].items():
            exp = predicted_shapes.get(name)
            if exp is None:
                continue
            if len(exp) != len(got) or any(e is not None and e != g for e, g in zip(exp, got)):
                shapes_ok = False
                detail = f"output '{name}': predicted {exp}, got {got}"
        dd = {d.symbol for d in analysis.propagation.data_dependent}
        for name, got in reply["shapes"].items():
            t = analysis.propagation.tensors.get(name)
            if t is None or t.shape is None:
                # unknown because a rule could not decide (maybe data-dependent), or because
                # the model can never run (impossible): only the former excuses emptiness
                is_dd = bool(analysis.propagation.unproven) or \
                    bool(analysis.propagation.data_dependent)
            else:
                is_dd = any(not isinstance(d, int) and d.free_symbols & dd for d in t.shape)
            if 0 in got and not is_dd:
                observed = INVALID
                detail = f"output '{name}' is empty {got}"
        if observed == VALID and predicted == INVALID and watcher is not None:
            empty = watcher.empty_outputs(inputs, timeout)
            if empty:
                observed = INVALID
                detail = (f"onnxruntime completed, but the Conv/Pool output '{empty[0]}' is "
                          "empty (a later op ignored it)")
    if given_counts:
        agree = shapes_ok is not False and (observed == VALID or blamed in count_nodes)
        detail = ("valid under the requirement on the data" if predicted == VALID else
                  "valid given the count conditions") + (
            "; this data broke it, as it allows: " + detail
            if observed == INVALID and blamed in count_nodes else
            (": " + detail if detail else ""))
    elif predicted == UNPROVEN:
        agree = None
    else:
        # shapes are predictions only where the size is predicted valid: an empty output at
        # a size predicted invalid is an agreement, whatever its other dims are
        agree = (predicted == observed) and (shapes_ok is not False or predicted == INVALID)
    return Verdict(sizes, predicted, observed, agree, detail, blamed, pred_nodes, shapes_ok,
                   secs, given_counts)



def _numpy_name(code: int) -> str:
    """numpy's name of an input's element type (float32 for one numpy lacks)."""
    t = DataType.of(code)
    return (t.numpy if t is not None else None) or "float32"
