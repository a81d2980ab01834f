"""One task of a registry audit, as it runs in its own process (sandbox.py): analyse one
model, audit it, check its contract, verify it on onnxruntime, and return a JSON-able
record (what store.Store.record keeps).

Two kinds of task:
    model    the analysis, findings, contract and (with verification) the verification; past
             ``split_after`` seconds of verification the remaining points are handed back
             (``pending_points``) so that the client runs them as tasks of their own
    points   the analysis again, then verification of the given points only

A task never raises for a bad model: its error becomes the record's ``error``. What the
task is doing is kept in STAGE, so a timeout can say where it stopped.
"""

from __future__ import annotations

import base64
import json
import time
import zlib

from graphshape.analysis import analyze
from graphshape.answers.contract import require
from graphshape.errors import GraphShapeError
from graphshape.fleet.run import model_dims
from graphshape.render import report as reports
from graphshape.runtime.verify import Verdict, VerificationReport, plan_points, verify

__all__ = ["execute", "STAGE", "merge_verification", "verification_json"]

STAGE: dict = {"now": "starting"}


def execute(req: dict) -> dict:
    """Run one task (see the module docstring); the record, never an exception for a bad
    model."""
    t0 = time.perf_counter()
    display, path = req["display"], req["path"]
    try:
        return _execute(req, t0)
    except GraphShapeError as e:
        return _error(_one_line(str(e) or type(e).__name__, path, display), t0)
    except RecursionError:
        return _error("the model's shape expressions nest too deeply to analyse", t0)
    except MemoryError:
        raise  # the sandbox reports it as the memory limit
    except Exception as e:  # noqa: BLE001  a graphshape bug is this model's row, not the run's end
        return _error(_one_line(f"internal error: {type(e).__name__}: {e}", path, display), t0)


def _execute(req: dict, t0: float) -> dict:
    STAGE["now"] = "analysing"
    display, path = req["display"], req["path"]
    a = analyze(path, dims=model_dims(path, req.get("dims", ()), req.get("input_shapes", ())))
    if req["kind"] == "points":
        rep = _verify(a, [dict(p) for p in req["points"]], req["verify"], None)
        return {"status": "ok", "verification": verification_json(rep),
                "seconds": time.perf_counter() - t0}
    STAGE["now"] = "auditing"
    doc = json.loads(reports.to_json(a))
    doc["model"] = display
    d = a.domain
    out = {
        "status": "ok", "inputs": a.inputs, "symbols": d.names, "domain": str(d),
        "domain_set": "" if d.impossible else str(d.isl_set),
        "period": d.period_hint, "exact": d.exact,
        "unproven": [u.describe() for u in d.unproven] + [
            f"{c} ({c.origin.describe()})" for c in d.dd_conditions],
        "conditions": [{"set": str(s), "where": c.origins[0].describe(),
                        "condition": str(c.constraint)} for c, s in d.condition_sets()],
        "not_in_closed_form": [str(c.constraint) for c in d.solved.inexact],
        "findings": doc["findings"],
        # the full report travels compressed (through the sandbox's pipe, Dask, the store)
        "report_z": base64.b64encode(zlib.compress(json.dumps(doc).encode())).decode(),
    }
    contract = req.get("contract")
    if contract:
        STAGE["now"] = "checking the contract"
        res = require(a, contract["spec"])
        out["contract"] = {"glob": contract["glob"], "spec": contract["spec"],
                           "verdict": str(res.verdict), "included": res.included,
                           "text": res.text()}
    if req.get("verify") is not None:
        points = plan_points(d, req["verify"]["n_random"], req["verify"]["seed"])
        stop = _SplitAfter(req.get("split_after"))
        rep = _verify(a, points, req["verify"], stop)
        out["verification"] = verification_json(rep, interrupted=False)
        if stop.stopped_at is not None:
            out["pending_points"] = points[stop.stopped_at:]
            out["seconds_per_point"] = stop.seconds_per_point(rep)
    out["seconds"] = time.perf_counter() - t0
    return out


class _SplitAfter:
    """verify's progress callback that ends the run after ``limit`` seconds (at least
    MIN_POINTS points first): verify keeps the partial table when its loop is interrupted,
    and the points left are handed back to be run as tasks of their own."""

    MIN_POINTS = 2

    def __init__(self, limit: float | None):
        self.limit = limit
        self.t0 = time.perf_counter()
        self.stopped_at: int | None = None

    def __call__(self, i: int, n: int, point) -> None:
        _stage(i, n, point)
        if point is None or self.limit is None or i < self.MIN_POINTS:
            return
        if time.perf_counter() - self.t0 > self.limit:
            self.stopped_at = i
            raise KeyboardInterrupt  # verify's own way out of its loop, table kept

    def seconds_per_point(self, rep) -> float:
        return (time.perf_counter() - self.t0) / max(1, len(rep.verdicts))


def _verify(a, points: list, opts: dict, progress) -> VerificationReport:
    STAGE["now"] = f"verifying (0 of {len(points)} sizes run)"
    return verify(a, points, timeout=opts["timeout"], memory_budget=opts["memory_budget"],
                  opt_level=opts["opt_level"], progress=progress or _stage)


def _stage(i: int, n: int, point) -> None:
    if point is not None:  # verify's last call (point None) comes from its clean-up
        STAGE["now"] = f"verifying ({i} of {n} sizes run)"


def verification_json(rep: VerificationReport, interrupted: bool | None = None) -> dict:
    d = json.loads(json.dumps(rep.to_json(), default=str))
    if interrupted is not None:
        d["interrupted"] = interrupted
        d["ok"] = not rep.disagreements and not interrupted
    return d


def merge_verification(parts: list, interrupted: bool = False) -> dict:
    """One verification record from a model task's part and its points tasks' parts (in
    point order): the summary and verdict counts recomputed over every verdict."""
    verdicts = [v for p in parts for v in p.get("verdicts", [])]
    first = parts[0]
    rep = VerificationReport([Verdict(**v) for v in verdicts], first.get("providers", []),
                             first.get("opt_level", "all"), interrupted,
                             sum(p.get("seconds", 0.0) for p in parts))
    out = verification_json(rep, interrupted)
    out["tasks"] = len(parts)
    return out


def _error(msg: str, t0: float) -> dict:
    return {"status": "error", "error": msg, "seconds": time.perf_counter() - t0}


def _one_line(msg: str, path: str, display: str) -> str:
    line = msg.splitlines()[0] if msg else msg
    return line.replace(path, display) if path != display else line
