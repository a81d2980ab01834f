"""One model's audit in this process (audit_one, for `graphshape audit MODEL`), and what a
registry audit shares with it: finding the models, and the --dim specs of one model (--dim
and --input-shape). The registry audit itself is nightly.py's."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from graphshape.analysis import analyze
from graphshape.answers.audit import audit
from graphshape.loader.graph import input_shape_dims, model_input_names
from graphshape.loader.wire import load_proto

__all__ = ["audit_one", "AuditRow", "input_shape_dims", "find_models", "model_input_names",
           "model_dims"]


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
    """Files as given; directories searched recursively for *.onnx (sorted), leaving out
    hidden files and folders (graphshape's own temporary copies and stores among them)."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                out += [os.path.join(root, f) for f in files
                        if f.endswith(".onnx") and not f.startswith(".")]
        else:
            out.append(p)
    return sorted(dict.fromkeys(out))


def model_dims(path: str, dims=(), input_shapes=()) -> list:
    """The --dim specs for one model of a registry: ``dims`` as given, plus each
    --input-shape spec that applies to it (one naming an input this model lacks is another
    model's, and skipped)."""
    specs = list(dims)
    if input_shapes:
        names = model_input_names(load_proto(path)[0])
        for spec in input_shapes:
            target = spec.rpartition(":")[0]
            if target and target not in names:
                continue
            specs += input_shape_dims(spec, names)
    return specs


def audit_one(path: str, dims=(), input_shapes=()) -> AuditRow:
    """Analyse and audit one model in this process; errors are raised."""

    row = AuditRow(path)
    t0 = time.perf_counter()
    a = analyze(path, dims=model_dims(path, dims, input_shapes))
    row.inputs = a.inputs
    row.domain = str(a.domain)
    row.exact = a.domain.exact
    row.unproven = len(a.domain.unproven) + len(a.domain.dd_conditions)
    row.findings = audit(a)
    row.seconds = time.perf_counter() - t0
    return row
