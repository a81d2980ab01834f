"""Assertions for the user's own tests: does the model accept (or reject) these sizes?

    from graphshape.testing import assert_accepts, assert_rejects

    def test_serving_sizes():
        assert_accepts("model.onnx", "H in 224..640 step 32, W = H")
        assert_accepts("model.onnx", {"H": 384, "W": 640})
        assert_rejects("model.onnx", "H = 300, W = 300")

The model is a path, an onnx.ModelProto, or an Analysis (then ``dims`` is ignored). Sizes
are a dict, a --require text (graphshape.contract: ``SYM = INT``, ``SYM = SYM``,
``SYM in A..B [step K]``), or a list of these. A failure raises ShapeAssertionError (an
AssertionError) whose message names the size, the node and the reason; the pytest plugin
(graphshape.pytest_plugin, registered as an entry point) prints only that message instead
of a traceback into graphshape.
"""

from __future__ import annotations

import os

from graphshape.analysis import analyze
from graphshape.answers import contract
from graphshape.answers.contract import SizeFailure, explain_dict, require_failures
from graphshape.results import Verdict

__all__ = ["assert_accepts", "assert_rejects", "ShapeAssertionError"]


class ShapeAssertionError(AssertionError):
    """A size assertion failed. ``expectation`` is "accepts" or "rejects"; ``failures`` are
    SizeFailures (accepts) or (sizes, verdict, output shapes) triples (rejects)."""

    def __init__(self, expectation: str, model: str, spec, failures, analysis=None):
        self.expectation = expectation
        self.model = model
        self.spec = spec
        self.failures = list(failures)
        self.analysis = analysis
        super().__init__(self.readable())

    def readable(self) -> str:
        if self.expectation == "accepts":
            lines = [f"{self.model} does not accept {_spec_text(self.spec)}"]
            for f in self.failures:
                lines.append(f"  {_failure_head(f)}")
                for op, node, reason, nums in f.reasons[:4]:
                    if op == Verdict.UNPROVEN:
                        lines.append(f"    unproven because {reason}")
                        continue
                    lines.append(f"    {op} (node '{node}'): {reason}")
                    if nums:
                        lines.append(f"        {nums}")
                if f.more:
                    lines.append("    also failing: " + "; ".join(_sz(m) for m in f.more))
        else:
            lines = [f"{self.model} does not reject {_spec_text(self.spec)}"]
            for sizes, verdict, shapes in self.failures:
                if verdict == Verdict.VALID:
                    out = "; ".join(f"{k}: {v}" for k, v in (shapes or {}).items())
                    lines.append(f"  {_sz(sizes)} is valid (proved)" + (f" -> {out}" if out
                                                                        else ""))
                else:
                    lines.append(f"  {_sz(sizes)} is {verdict}: {shapes}")
        if self.analysis is not None:
            d = " ".join(str(self.analysis.domain).split())
            lines.append("  valid sizes: " + (d if len(d) <= 300 else d[:297] + "..."))
        return "\n".join(lines)


def _sz(sizes: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items()) or "(the contract)"


def _spec_text(spec) -> str:
    if isinstance(spec, dict):
        return _sz(spec)
    if isinstance(spec, (list, tuple)):
        return "; ".join(_spec_text(s) for s in spec)
    return str(spec)


def _failure_head(f: SizeFailure) -> str:
    if f.spec is not None and f.total != 1:
        n = lambda v: "infinitely many" if v is None else f"{v:,}"  # noqa: E731
        if f.verdict == Verdict.UNPROVEN:
            return f"'{f.spec}': unproven"
        return (f"'{f.spec}': {n(f.count)} of {n(f.total)} required sizes are invalid; "
                f"first: {_sz(f.sizes)}")
    return f"{_sz(f.sizes)} is {f.verdict}"


def _analysis(model, dims):
    if hasattr(model, "domain") and hasattr(model, "explain"):
        path = getattr(getattr(model, "graph", None), "path", None)
        return model, os.path.basename(path) if path else "the model"

    if isinstance(model, (str, os.PathLike)):
        return analyze(model, dims=dims), os.path.basename(os.fspath(model))
    name = getattr(getattr(model, "graph", None), "name", "") or "the model"
    return analyze(model, dims=dims), f"model '{name}'"


def assert_accepts(model, sizes_or_spec, *, dims=None, allow_unproven: bool = False):
    """Fail unless every size in ``sizes_or_spec`` is proved valid. Returns the Analysis."""
    a, name = _analysis(model, dims)
    fails = require_failures(a, sizes_or_spec)
    if allow_unproven:
        fails = [f for f in fails if f.verdict != Verdict.UNPROVEN]
    if fails:
        raise ShapeAssertionError("accepts", name, sizes_or_spec, fails, a)
    return a


def assert_rejects(model, sizes_or_spec, *, dims=None):
    """Fail unless every size in ``sizes_or_spec`` is proved invalid. Returns the Analysis.

    A contract with ranges is rejected when no size it names is in the domain (one isl
    emptiness test; conditions outside the closed form are checked size by size)."""
    a, name = _analysis(model, dims)
    items = [sizes_or_spec] if isinstance(sizes_or_spec, (str, dict)) else list(sizes_or_spec)
    bad = []
    for item in items:
        bad += _not_rejected(a, item)
    if bad:
        raise ShapeAssertionError("rejects", name, sizes_or_spec, bad, a)
    return a


def _triple(a, p) -> tuple:
    ex = explain_dict(a, p)
    v = str(ex["verdict"])
    if v == Verdict.VALID:
        return (p, v, ex.get("output_shapes"))
    return (p, v, "; ".join(ex.get("unproven", [])) or "not proved invalid")


def _not_rejected(a, item, first: int = 3, limit: int = 20_000) -> list:
    """(sizes, verdict, detail) for sizes named by ``item`` that are not proved invalid."""

    d = a.domain
    names = list(d.names)
    if isinstance(item, dict):
        item = ", ".join(f"{k} = {int(v)}" for k, v in item.items())
    req = contract.requirement_set(contract.parse(str(item), names), names,
                                   contract.least_sizes(d))
    if getattr(d, "impossible", None):
        return []
    inside = req.intersect(d.isl_set).coalesce()
    if inside.is_empty():
        return []  # no required size passes even the closed-form conditions
    pts = []
    if not contract._inexact(d):
        while len(pts) < first and not inside.is_empty():
            p = contract._point(inside, names)
            pts.append(_triple(a, p))
            inside = inside.subtract(contract._point_set(p, names))
        return pts
    if inside.is_bounded() and int(inside.count_val().to_python()) <= limit:
        cand = []
        inside.foreach_point(lambda q: cand.append(
            {n: int(q.get_coordinate_val(contract.isl.dim_type.set, i).to_python())
             for i, n in enumerate(names)}))
        for p in sorted(cand, key=lambda p: [p[n] for n in names]):
            if d.check(p) != Verdict.INVALID:
                pts.append(_triple(a, p))
                if len(pts) >= first:
                    break
        return pts
    p = contract._point(inside, names)
    return [(p, "unproven", "too many required sizes pass the closed form to check a "
             "condition outside it one by one")]
