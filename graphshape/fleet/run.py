"""One model's audit in this process (audit_one, for `graphshape audit MODEL`), and what a
registry audit shares with it: finding the models, and the --dim specs of one model (--dim
and --input-shape). The registry audit itself is nightly.py's."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from graphshape.analysis import analyze
from graphshape.answers.audit import audit
from graphshape.errors import UsageError
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
        base, _, least = d.replace(" ", "").partition(">=")  # P>=0: a size that may be 0
        if not (base[0].isalpha() or base[0] == "_") or not base.replace("_", "").isalnum() \
                or least not in ("", "0", "1"):
            raise UsageError(f"bad --input-shape '{spec}': '{d}' is neither a number nor a name"
                             " (NAME or NAME>=0)")
        out.append(f"{name}:{axis}={base}" + (f">={least}" if least else ""))
    return out


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


def model_input_names(model) -> list:
    inits = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]
