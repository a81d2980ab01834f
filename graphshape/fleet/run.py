"""Auditing many models at once (files and directories, in parallel, one row per model)."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import time
from dataclasses import dataclass, field

from graphshape.analysis import analyze
from graphshape.answers.audit import audit
from graphshape.errors import GraphShapeError, UsageError
from graphshape.loader.wire import load_proto

__all__ = ["audit_one", "audit_many", "AuditRow", "input_shape_dims", "find_models",
           "model_input_names"]


@dataclass
class AuditRow:
    """One model of an audit: its inputs, domain, unproven parts, findings, time, error."""

    path: str
    inputs: dict = field(default_factory=dict)
    domain: str = ""
    exact: bool = False
    unproven: int = 0
    findings: list = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    def to_json(self) -> dict:
        return {"path": self.path, "inputs": self.inputs, "domain": self.domain,
                "exact": self.exact, "unproven": self.unproven, "findings": self.findings,
                "seconds": round(self.seconds, 3), "error": self.error or None}


def find_models(paths) -> list:
    """Files as given; directories searched recursively for *.onnx (sorted)."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, _dirs, files in os.walk(p):
                out += [os.path.join(root, f) for f in files if f.endswith(".onnx")]
        else:
            out.append(p)
    return sorted(dict.fromkeys(out))


def input_shape_dims(spec: str, input_names: list) -> list:
    """onnxsim-style ``1,3,H,W`` (the first input) or ``name:1,3,H,W`` -> --dim specs for the
    axes given a name (numbers keep the model's own sizes)."""
    name, _, dims = spec.rpartition(":")
    if not name:
        if not input_names:
            raise UsageError("--input-shape: the model has no inputs")
        name = input_names[0]
    out = []
    for axis, d in enumerate(x.strip() for x in dims.split(",")):
        if not d:
            raise UsageError(f"bad --input-shape '{spec}': empty dim")
        if d.lstrip("-").isdigit():
            continue
        if not (d[0].isalpha() or d[0] == "_") or not d.replace("_", "").isalnum():
            raise UsageError(f"bad --input-shape '{spec}': '{d}' is neither a number nor a name")
        out.append(f"{name}:{axis}={d}")
    return out


def audit_one(path: str, dims=(), input_shapes=()) -> AuditRow:
    """Analyse and audit one model; errors are raised (audit_many turns them into rows)."""

    row = AuditRow(path)
    t0 = time.perf_counter()
    specs = list(dims)
    if input_shapes:
        names = model_input_names(load_proto(path)[0])
        for spec in input_shapes:
            target = spec.rpartition(":")[0]
            if target and target not in names:
                continue  # names another model's input: not this one's
            specs += input_shape_dims(spec, names)
    a = analyze(path, dims=specs)
    row.inputs = a.inputs
    row.domain = str(a.domain)
    row.exact = a.domain.exact
    row.unproven = len(a.domain.unproven) + len(a.domain.dd_conditions)
    row.findings = audit(a)
    row.seconds = time.perf_counter() - t0
    return row


def _audit_one(args) -> AuditRow:
    path, dims, input_shapes = args
    t0 = time.perf_counter()
    try:
        return audit_one(path, dims, input_shapes)
    except GraphShapeError as e:
        error = str(e).splitlines()[0] if str(e) else type(e).__name__
    except Exception as e:  # noqa: BLE001  one bad model is a row, never the end of an audit
        error = f"internal error: {type(e).__name__}: {e}".splitlines()[0]
    return AuditRow(path, error=error, seconds=time.perf_counter() - t0)


def model_input_names(model) -> list:
    inits = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def audit_many(paths, dims=(), input_shapes=(), jobs: int = 1, progress=None) -> list:
    """One AuditRow per model, in path order; ``jobs`` > 1 analyses in that many processes."""
    models = find_models(paths)
    work = [(p, tuple(dims), tuple(input_shapes)) for p in models]
    rows: dict = {}
    if jobs <= 1 or len(work) <= 1:
        for i, w in enumerate(work):
            rows[w[0]] = _audit_one(w)
            if progress:
                progress(i + 1, len(work), w[0])
    else:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futs = {pool.submit(_audit_one, w): w[0] for w in work}
            for i, fut in enumerate(cf.as_completed(futs)):
                rows[futs[fut]] = fut.result()
                if progress:
                    progress(i + 1, len(work), futs[fut])
    if progress:
        progress(len(work), len(work), None)
    return [rows[p] for p in models]
