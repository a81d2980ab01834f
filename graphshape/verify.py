"""onnxruntime as the arbiter: run the model at the domain's edges and compare.

Every run happens in a child process (graphshape._worker), so a native crash counts as
"invalid" for that size and never takes graphshape down. Each run has a timeout; sizes
whose inputs and activations would exceed a memory budget are skipped with a reason.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .dims import substitute
from .errors import VerificationError
from .sets import INVALID, UNPROVEN, VALID

_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
           7: "int64", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64"}
_NODE_RE = re.compile(r"(?:Name:|node )'([^']*)'")


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


def default_providers() -> list:
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise VerificationError(f"onnxruntime is not installed ({e})") from None
    avail = ort.get_available_providers()
    if "CUDAExecutionProvider" in avail and _gpu_present():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _gpu_present() -> bool:
    return os.path.exists("/dev/nvidia0") or os.path.exists("/dev/nvidiactl")


class Worker:
    def __init__(self, path, providers, opt_level):
        self.args = [sys.executable, "-m", "graphshape._worker", path, ",".join(providers),
                     opt_level]
        self.proc = None
        self.providers = providers

    def start(self):
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env,
                                     start_new_session=True)
        hello = self._read(300)
        if hello is None or not hello.get("ready"):
            self.stop()
            msg = (hello or {}).get("error", "the onnxruntime worker did not start")
            raise VerificationError(f"onnxruntime cannot load the model: {msg}")
        self.providers = hello["providers"]

    def _read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return "timeout"
        line = self.proc.stdout.readline()
        if not line:
            return None
        return json.loads(line)

    def run(self, inputs, timeout):
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self.proc.stdin.write(json.dumps({"inputs": inputs}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return self._died()
        reply = self._read(timeout)
        if reply == "timeout":
            self.stop()
            return {"ok": False, "timeout": True, "error": f"no answer within {timeout:g} s"}
        if reply is None:
            return self._died()
        return reply

    def _died(self):
        rc = self.proc.wait()
        self.proc = None
        sig = -rc if rc < 0 else None
        name = signal.Signals(sig).name if sig else f"exit code {rc}"
        return {"ok": False, "crash": True, "error": f"onnxruntime died ({name})"}

    def stop(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            self.proc = None


def estimate_bytes(analysis, sizes) -> int:
    """Bytes of the inputs plus the largest few activations at ``sizes`` (known shapes)."""
    env = analysis.domain._env(sizes)
    total = 0
    largest = []
    for t in analysis.propagation.tensors.values():
        if t.shape is None:
            continue
        n = 1
        for d in t.shape:
            v = substitute(d, env)
            if not isinstance(v, int):
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
           progress=None) -> VerificationReport:
    path = analysis.graph.path
    if path is None:
        raise VerificationError("verification needs the model as a file")
    providers = providers or default_providers()
    if points is None:
        points = plan_points(analysis.domain, n_random, seed)
    worker = Worker(os.path.abspath(path), providers, opt_level)
    report = VerificationReport([], providers, opt_level)
    t0 = time.perf_counter()
    try:
        worker.start()
        report.providers = worker.providers
        for i, p in enumerate(points):
            if progress:
                progress(i, len(points), p)
            report.verdicts.append(_one(analysis, worker, p, timeout, memory_budget))
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        worker.stop()
        if progress:
            progress(len(points), len(points), None)
    report.seconds = time.perf_counter() - t0
    return report


def _one(analysis, worker, sizes, timeout, budget) -> Verdict:
    predicted = analysis.domain.check(sizes)
    pred_nodes = []
    if predicted == INVALID:
        pred_nodes = sorted({c.origins[0].node for c, _ in analysis.domain.violations(sizes)})
    need = estimate_bytes(analysis, sizes)
    if need > budget:
        return Verdict(sizes, predicted, "skipped", None,
                       f"needs about {need / 2**30:.1f} GiB (> budget {budget / 2**30:.1f} GiB)",
                       predicted_nodes=pred_nodes)
    inputs = {}
    for name, shape in analysis.input_shapes_at(sizes).items():
        dtype = _DTYPES.get(analysis.graph.inputs[name].dtype, "float32")
        inputs[name] = {"shape": shape, "dtype": dtype}
    reply = worker.run(inputs, timeout)
    secs = reply.get("seconds", 0.0)
    if reply.get("timeout"):
        return Verdict(sizes, predicted, "timeout", None, reply["error"],
                       predicted_nodes=pred_nodes)
    observed = VALID if reply["ok"] else INVALID
    detail = "" if reply["ok"] else reply["error"]
    blamed = None
    if not reply["ok"]:
        m = _NODE_RE.search(reply["error"])
        blamed = m.group(1) if m else None
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
            is_dd = t is None or t.shape is None or any(
                not isinstance(d, int) and d.free_symbols & dd for d in t.shape)
            if 0 in got and not is_dd:
                observed = INVALID
                detail = f"output '{name}' is empty {got}"
    if predicted == UNPROVEN:
        agree = None if observed == VALID else False
        agree = None
    else:
        agree = (predicted == observed) and shapes_ok is not False
    return Verdict(sizes, predicted, observed, agree, detail, blamed, pred_nodes, shapes_ok,
                   secs)


_ = np
