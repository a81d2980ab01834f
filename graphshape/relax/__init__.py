"""Relax: turn a model pinned to its export size into one that accepts every size its
layers allow. May import every folder but cli/ (it needs onnx-ir, an optional extra).

    >>> from graphshape.relax import relax
    >>> r = relax("resnet.onnx", "resnet_any.onnx", dims={"data_0:2": "H", "data_0:3": "W"})
    >>> print(r.before, "->", r.after)

Pipeline: analyse the original (symbolic after --dim; the declared sizes are the export
size) -> find the exact rewrites (rewrites.py) -> apply them with onnx-ir -> analyse the
result, name the bounds left (real pins: a classifier whose weights fix the map) and, with
adapt_head, insert an adaptive pool in front of it (head.py) -> clear fixed dims in
value_info -> onnxruntime: outputs at the export size against the original's (one child
process), and the new domain's edges (graphshape.verify) -> atomic write (io.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import onnx_ir as ir

from graphshape.analysis import analyze
from graphshape.answers.export_size import ExportSize
from graphshape.answers.export_size import infer as infer_export_size
from graphshape.answers.fit import fit as fit_sizes
from graphshape.dtypes import DataType
from graphshape.errors import UsageError
from graphshape.loader.graph import parse_dim_specs
from graphshape.relax import head, io, rewrites
from graphshape.relax.rewrites import Left, Rewrite
from graphshape.results import Verdict
from graphshape.runtime.verify import verify

SCHEMA_VERSION = 1


@dataclass
class RelaxResult:
    model: str
    output: str | None
    export_size: dict
    rewrites: list = field(default_factory=list)
    left: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    before: str = ""
    after: str | None = None
    before_exact: bool = True
    after_exact: bool | None = None
    lost: list = field(default_factory=list)
    comparison: dict | None = None
    verification: object = None
    dry_run: bool = False
    written: list = field(default_factory=list)
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_json(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION, "model": self.model, "output": self.output,
            "dry_run": self.dry_run, "export_size": self.export_size,
            "rewrites": [r.to_json() for r in self.rewrites],
            "left": [x.to_json() for x in self.left], "notes": self.notes,
            "domain": {"before": self.before, "before_exact": self.before_exact,
                       "after": self.after, "after_exact": self.after_exact},
            "lost_sizes": self.lost, "export_size_check": self.comparison,
            "verification": None if self.verification is None else
            self.verification.to_json(),
            "written": self.written, "ok": self.ok, "failure": self.failure}


def export_size(analysis, dims, sizes, notes: list | None = None) -> dict:
    """Symbol -> its size at export: the declared value of every --dim axis, plus --size
    for axes the file already leaves symbolic; the others where the domain pins them or
    does not constrain them (answers.export_size; each said in ``notes``)."""

    env = {}
    for (inp, axis), name in parse_dim_specs(dims).items():
        decl = analysis.graph.declared_dims.get(inp, [])
        d = decl[axis] if -len(decl) <= axis < len(decl) else None
        if isinstance(d, int) and d > 0:
            env[name] = d
    for k, v in (sizes or {}).items():
        env[k] = int(v)
    names = [s.name for s in analysis.graph.symbols]
    if not names:
        raise UsageError("nothing to relax: every input dim is fixed; name the axes to free "
                         "with --dim, e.g. --dim input:2=H --dim input:3=W")
    unknown = [k for k in env if k not in names]
    if unknown:
        raise UsageError(f"--size {unknown[0]}: not a symbolic dim of the model "
                         f"(its dims: {', '.join(names) or 'none'})")
    missing = [n for n in names if n not in env]
    if missing:
        known = infer_export_size(analysis, given=env)
        # a free batch takes 1; a free spatial axis is asked for (a rewrite evaluates the
        # model's constants at the export size: 1 x 1 maps would tell them apart poorly)
        batch = _batch_axes(analysis)
        take = [n for n in missing if n in known.sizes
                and (known.how[n] != "free" or n in batch)]
        found = ExportSize({n: known.sizes[n] for n in take}, {n: known.how[n] for n in take})
        if found.sizes and notes is not None:
            notes.append("export size not in the file, inferred: " + found.describe())
        env.update(found.sizes)
        missing = [n for n in names if n not in env]
    if missing:
        example = _example_sizes(analysis, env, missing)
        raise UsageError(
            "the export size of " + ", ".join(missing) + " is not in the file (the axes are "
            "symbolic there) and the domain does not pin it: give it, e.g. "
            + " ".join(f"--size {m}={example[m]}" for m in missing))
    return {n: env[n] for n in names}


def _batch_axes(analysis) -> set:
    """Symbols that size axis 0 of an input (a batch)."""
    return {getattr(t.shape[0], "name", None) for t in analysis.graph.inputs.values()
            if t.shape} - {None}


def _example_sizes(analysis, env: dict, missing: list) -> dict:
    """A valid size for the --size example: a batch-like axis (axis 0) near 1, another near
    224, the nearest valid size to that (fit's pad, else crop), else the smallest valid."""
    batch = _batch_axes(analysis)
    want = dict(env)
    want.update({m: 1 if m in batch else 224 for m in missing})
    try:
        res = fit_sizes(analysis, want, "pad")
        if not res.suggestions:
            res = fit_sizes(analysis, want, "crop")
        if res.suggestions:
            return res.suggestions[0].sizes
    except UsageError:
        pass
    return analysis.domain.smallest_valid() or want


def relax(model_path, output=None, dims=None, sizes=None, *, dry_run=False,
          adapt_head=False, run_checks=True, max_points=8, seed=0, timeout=120.0,
          progress=None) -> RelaxResult:
    if output is None and not dry_run:
        raise UsageError("relax needs an output path (-o OUT), or --dry-run")
    if output is not None and os.path.abspath(output) == os.path.abspath(model_path):
        raise UsageError("the output must not overwrite the model itself")
    if output is not None and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise UsageError(f"{output}: its folder does not exist")
    a0 = analyze(model_path, dims=dims)
    notes: list = []
    env = export_size(a0, dims, sizes, notes)
    res = RelaxResult(str(model_path), output, env, dry_run=dry_run, before=str(a0.domain),
                      before_exact=a0.domain.exact, notes=notes)
    verdict = a0.domain.check(env)
    if verdict == Verdict.INVALID:
        raise UsageError(f"the original model does not run at the export size "
                         f"({_fmt(env)}): nothing to keep equal")
    model = ir.load(model_path)
    external = io.has_external_data(model)
    ctx = rewrites.Context(model, a0, env)
    res.rewrites = rewrites.find(ctx)
    for r in res.rewrites:
        r.apply()
    _tidy(model)
    io.set_input_dims(model, parse_dim_specs(dims))
    stage = io.Staging(output if output else
                       os.path.join(tempfile.gettempdir(), os.path.basename(model_path)))
    try:
        a1 = analyze(ir.to_proto(model))  # in memory: saving a large model costs seconds
        ctx1 = rewrites.Context(model, a1, env)
        res.left = ctx.left + head.pins(ctx1, a1)
        last = a1
        if adapt_head and any(x.why.startswith("real pin") for x in res.left):
            model = _opset_for_range(model, res)
            ctx1 = rewrites.Context(model, a1, env)
            adapted = head.adapt(ctx1, a1)
            for r in adapted:
                r.apply()
            _tidy(model)
            res.rewrites += adapted
            last = analyze(ir.to_proto(model))
            res.left = ctx.left + ctx1.left + head.pins(rewrites.Context(model, last, env),
                                                        last)
        cleared = io.clear_fixed_dims(model, last)
        if cleared:
            res.rewrites.append(Rewrite(
                "value-info", "(value_info)", "shapes",
                f"{len(cleared)} value shape{'s' if len(cleared) > 1 else ''} the file claims "
                f"(value_info), e.g. {cleared[0][0]} {cleared[0][1]}",
                f"the shapes the graph now computes, e.g. {cleared[0][2]}",
                "value_info is the exporter's claim at the export size and onnxruntime may "
                "trust it: fixed dims that now vary become a name (a plain symbol) or unknown, "
                "and names the graph now computes as numbers become those numbers"))
        final = analyze(stage.save(model, external))
        res.after, res.after_exact = str(final.domain), final.domain.exact
        res.lost = _lost(a0, final)
        if dry_run:
            return res
        if run_checks:
            res.comparison = compare(model_path, final.graph.path, a0, env, seed)
            bad = _comparison_failure(res.comparison)
            if bad:
                res.failure = bad
                return res
            res.verification = _verify(final, a0, env, max_points, timeout, progress)
            if res.verification.interrupted:
                res.failure = "interrupted"
                return res
            if not res.verification.ok:
                res.failure = ("graphshape and onnxruntime disagree on the relaxed model: "
                               + res.verification.summary())
                return res
        res.written = stage.commit()
        res.output = os.path.abspath(output)
        return res
    finally:
        stage.cleanup()


def _tidy(model: ir.Model):
    import onnx_ir.passes.common as common_passes  # noqa: PLC0415  onnx-ir: an optional extra

    model.graph.sort()
    common_passes.RemoveUnusedNodesPass()(model)


def _opset_for_range(model: ir.Model, res) -> ir.Model:
    opset = model.opset_imports.get("", 1)
    if opset >= 11:
        return model
    import onnx  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it
    from onnx import version_converter  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it

    proto = ir.to_proto(model)
    try:
        converted = version_converter.convert_version(proto, 11)
    except Exception as e:  # noqa: BLE001
        raise UsageError(f"--adapt-head needs opset 11 (Range); converting this opset-{opset} "
                         f"model failed: {str(e).splitlines()[0] if str(e) else e}") from None
    res.notes.append(f"--adapt-head: the default opset was raised from {opset} to 11 "
                     "(onnx.version_converter), since the adaptive pool needs Range")
    _ = onnx
    return ir.from_proto(converted)


def _fmt(sizes: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())


def _lost(a0, final) -> list:
    """Sizes the original accepts and the relaxed model rejects (edges and samples)."""
    lost = []
    try:
        pts = a0.domain.edges() + a0.domain.sample_members(20, 0)
    except Exception:  # noqa: BLE001  an unbounded or unproven domain may have no edges
        return lost
    for p in pts:
        if set(p) != set(final.domain.names):
            continue
        if a0.domain.contains(p) and final.domain.check(p) == Verdict.INVALID and p not in lost:
            lost.append(p)
    return lost[:10]


def compare(original: str, relaxed: str, a0, env: dict, seed: int = 0) -> dict:
    """Run both models at the export size on the same random inputs (fixed seed), in a
    child process; {"outputs": {name: {"max_abs_diff": ...}}} or {"error": ...}."""
    inputs = {}
    for name, shape in a0.input_shapes_at(env).items():
        dtype = _numpy_name(a0.graph.inputs[name].dtype)
        inputs[name] = {"shape": [int(d) for d in shape], "dtype": dtype}
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_compare.py")
    boot = ("import runpy, sys; sys.path = [p for p in sys.path if p]; "
            f"runpy.run_path({script!r}, run_name='__main__')")
    job = {"original": os.path.abspath(original), "relaxed": os.path.abspath(relaxed),
           "inputs": inputs, "seed": seed}
    env_vars = dict(os.environ)
    env_vars.setdefault("OMP_NUM_THREADS", "1")
    proc = subprocess.run([sys.executable, "-c", boot], input=json.dumps(job) + "\n",
                          capture_output=True, text=True, env=env_vars, timeout=600,
                          check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        why = f"signal {-proc.returncode}" if proc.returncode < 0 else \
            (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"onnxruntime run at the export size failed ({why})"}
    out = json.loads(lines[-1])
    out["sizes"] = dict(env)
    out["seed"] = seed
    return out


def _comparison_failure(cmp: dict) -> str | None:
    if "error" in cmp:
        return cmp["error"]
    for name, row in cmp["outputs"].items():
        if row.get("missing"):
            return f"output '{name}' is missing from the relaxed model"
        if row["max_abs_diff"] is None:
            return (f"output '{name}' has shape {row['relaxed_shape']} in the relaxed model, "
                    f"{row['shape']} in the original, at the export size")
        if row["max_abs_diff"] > 1e-5 * max(1.0, row["max_abs"]):
            return (f"output '{name}' differs at the export size by {row['max_abs_diff']:.3g}"
                    f" (largest value {row['max_abs']:.3g})")
    return None


def plan(domain, env: dict, max_points: int, old=None) -> list:
    """The export size, the new domain's edges, sizes the original (``old``) rejected and
    the relaxed model accepts, and twice the export size; every dim at most twice its
    export size (runs stay cheap), batch-like dims (exported as 1 or 2) at most 2."""
    cap = {k: max(2 * v, 64) if v > 2 else 2 for k, v in env.items()}

    def capped(points):
        out = []
        for p in points:
            if set(p) != set(env):
                continue
            q = {k: min(v, cap[k]) if env[k] <= 2 else v for k, v in p.items()}
            if all(v <= cap[k] for k, v in q.items()) and q not in out:
                out.append(q)
        return out

    new = capped(_edges(domain))
    gained = []
    if old is not None:
        gained = [p for p in capped(_edges(old)) if not old.contains(p) and
                  domain.check(p) == Verdict.VALID]
    pts = [dict(env)]
    double = {k: 2 * v if v > 2 else v for k, v in env.items()}
    far = [double] if double != env and domain.check(double) == Verdict.VALID else []
    for p in new[:1] + gained[:1] + far + new[1:] + gained[1:]:
        if p not in pts:
            pts.append(p)
    return pts[:max_points]


def _edges(domain) -> list:
    try:
        return domain.edges()
    except Exception:  # noqa: BLE001  a domain without a closed form may have no edges
        return []


def _verify(final, old, env, max_points, timeout, progress):
    return verify(final, plan(final.domain, env, max_points, old.domain), timeout=timeout,
                  providers=["CPUExecutionProvider"], progress=progress)


__all__ = ["Left", "RelaxResult", "Rewrite", "compare", "export_size", "plan", "relax"]


def _numpy_name(code: int) -> str:
    """numpy's name of an input's element type (float32 for one numpy lacks)."""
    t = DataType.of(code)
    return (t.numpy if t is not None else None) or "float32"
