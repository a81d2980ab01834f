"""The export pipeline hook: export a torch model with symbolic dims, analyse the written
file, compare it with what torch.export knows, and fail the pipeline when a size it must
accept is not valid.

    import graphshape
    a = graphshape.export(model, (x,), "model.onnx", dims={"x": {2: "H", 3: "W"}},
                          require="H=512,W=512", verify=True)
    print(a.export_report)          # exporter, pinned dims, torch.export vs ONNX, verification

``dims`` maps an input name (the forward's parameter name, or the ONNX input name given in
``input_names``) to {axis: symbol}; a symbol is a name, or a torch.export.Dim for the dynamo
exporter. The hook builds ``dynamic_axes`` (TorchScript) or ``dynamic_shapes`` (dynamo:
Dim.AUTO for names) and renames the written input dims to the given symbols.

torch is imported lazily: it is an extra (`pip install graphshape[torch]`).
"""

from __future__ import annotations

import inspect
import os
import tempfile
from dataclasses import dataclass, field

from graphshape.analysis import analyze
from graphshape.answers.contract import (
    InvalidSizes,
    SizeFailure,
    check_required,
    require_failures,
)
from graphshape.errors import GraphShapeError, UsageError, VerificationError
from graphshape.runtime.verify import verify as run_verify
from graphshape.torch_compare import compare, torch_view


class ExportError(GraphShapeError):
    """torch could not export the model."""


class PinnedDimError(ExportError):
    """The exporter fixed a dim that was declared symbolic."""

    exit_code = 1

    def __init__(self, message: str, pinned=(), analysis=None):
        super().__init__(message)
        self.pinned = list(pinned)
        self.analysis = analysis


@dataclass
class PinnedDim:
    input: str
    axis: int
    symbol: str
    value: int
    node: str | None  # the node that fixes it, when known
    cause: str
    advice: str
    exporter_fault: bool = True  # False: the model itself only accepts this size

    def text(self) -> str:
        at = f" by node '{self.node}'" if self.node else ""
        return (f"{self.symbol} (input '{self.input}' axis {self.axis}) is pinned to "
                f"{self.value}{at}: {self.cause}; {self.advice}")


@dataclass
class ExportReport:
    path: str
    exporter: str
    pinned: list = field(default_factory=list)
    torch: object = None  # torch_compare.TorchComparison, or None
    verification: object = None  # verify.VerificationReport, or None
    notes: list = field(default_factory=list)

    def lines(self) -> list:
        out = [f"exported {self.path} with the {self.exporter} exporter"]
        out += [f"pinned: {p.text()}" for p in self.pinned]
        if self.torch is not None:
            out += self.torch.lines()
        if self.verification is not None:
            out.append("verified: " + self.verification.summary())
        out += [f"note: {n}" for n in self.notes]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


# ---- the hook ---------------------------------------------------------------------------
def _forward_params(model, n: int) -> list:
    fn = getattr(model, "forward", model)
    try:
        ps = [p for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        ps = []
    names = [p.name for p in ps[:n]]
    return names + [f"input_{i}" for i in range(len(names), n)]


def _symbol_name(d) -> str:
    return d if isinstance(d, str) else getattr(d, "__name__", str(d))


def export_model(model, args, path: str, *, dims: dict, require=None, verify: bool = False,
                 dynamo: bool | None = None, keep_on_failure: bool = True,
                 input_names=None, output_names=None, opset_version: int | None = None,
                 compare_torch: bool = True, allow_pinned: bool = False):
    """Export ``model`` at ``args`` to ``path``, analyse it, and return the Analysis (with
    ``.export_report``). Raises PinnedDimError when the exporter fixed a declared dim,
    InvalidSizes when ``require`` names a size outside the domain, VerificationError when
    onnxruntime disagrees with the domain (``verify=True``). The file is written even then,
    unless ``keep_on_failure=False``."""
    try:
        import torch  # noqa: PLC0415  torch: an optional extra
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise ExportError(f"torch is not installed ({e}); pip install 'graphshape[torch]'") \
            from None
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    if dynamo is None:
        dynamo = bool(inspect.signature(torch.onnx.export).parameters["dynamo"].default)
    params = _forward_params(model, len(args))
    names = list(input_names or params)
    if len(names) < len(args):
        raise UsageError(f"{len(args)} inputs but only {len(names)} input_names")
    declared = {}  # (onnx input name, axis) -> symbol
    torch_dims = {}  # param -> {axis: Dim or Dim.AUTO}
    from torch.export import Dim  # noqa: PLC0415  torch: an optional extra

    for key, axes in (dims or {}).items():
        if key in names:
            i = names.index(key)
        elif key in params:
            i = params.index(key)
        else:
            raise UsageError(f"dims names input '{key}'; the inputs are {', '.join(names)}")
        for axis, d in axes.items():
            axis = int(axis)
            if axis < 0 or axis >= len(getattr(args[i], "shape", ())):
                raise UsageError(f"dims: input '{key}' has no axis {axis}")
            declared[(names[i], axis)] = _symbol_name(d)
            torch_dims.setdefault(params[i], {})[axis] = Dim.AUTO if isinstance(d, str) else d
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".graphshape-export-", suffix=".onnx")
    os.close(fd)
    keep = False
    try:
        _run_exporter(torch, model, args, tmp, dynamo, names[:len(args)], output_names,
                      declared, torch_dims, params, opset_version)

        a = analyze(tmp)
        report = ExportReport(path, "dynamo" if dynamo else "TorchScript")
        a.export_report = report
        pinned = _pinned_in_file(tmp, declared, args, names, dynamo, torch_dims)
        view = None
        if compare_torch and declared:
            view = _torch_view(model, args, params, names, declared, report)
            if view is not None:
                try:
                    report.torch = compare(a, view[0], view[1], view[2])
                except Exception as e:  # noqa: BLE001  the comparison is a report, not a gate
                    report.notes.append(f"torch.export comparison failed: "
                                        f"{type(e).__name__}: {str(e)[:200]}")
        pinned += _pinned_in_domain(a, declared, report.torch, dynamo)
        report.pinned = pinned
        if verify:
            report.verification = run_verify(a)
        keep = keep_on_failure
        faulty = [p for p in pinned if p.exporter_fault]
        if faulty and not allow_pinned:
            raise PinnedDimError("the exporter pinned declared dims: "
                                 + "; ".join(p.text() for p in faulty), faulty, a)
        if report.verification is not None and not report.verification.ok:
            bad = report.verification.disagreements[:3]
            raise VerificationError(
                report.verification.summary() + ": " + "; ".join(
                    f"{v.sizes}: predicted {v.predicted}, onnxruntime {v.observed}"
                    for v in bad))
        check_required(a, require)
        keep = True
        return a
    finally:
        if keep:
            os.replace(tmp, path)
            try:
                a.graph.path = path
            except NameError:
                pass
        elif os.path.exists(tmp):
            os.unlink(tmp)


def _run_exporter(torch, model, args, tmp, dynamo, input_names, output_names, declared,
                  torch_dims, params, opset_version):
    import onnx  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it

    try:
        if dynamo:
            dyn = {p: torch_dims.get(p) for p in params}
            kw = {} if opset_version is None else {"opset_version": opset_version}
            with torch.no_grad():
                prog = torch.onnx.export(model, args, dynamo=True, input_names=input_names,
                                         output_names=output_names, dynamic_shapes=dyn,
                                         verbose=False, **kw)
            proto = prog.model_proto
        else:
            axes = {}
            for (name, axis), sym in declared.items():
                axes.setdefault(name, {})[axis] = sym
            torch.onnx.export(model, args, tmp, dynamo=False, input_names=input_names,
                              output_names=output_names, dynamic_axes=axes,
                              opset_version=opset_version or 17, do_constant_folding=True)
            proto = onnx.load(tmp)
    except Exception as e:  # noqa: BLE001  any exporter failure is one line
        first = " ".join(str(e).split())[:300]
        raise ExportError(f"torch.onnx.export failed: {type(e).__name__}: {first}") from None
    # the written inputs carry the caller's symbols (dynamo names them s0, s53, ...)
    for vi in proto.graph.input:
        for axis, dim in enumerate(vi.type.tensor_type.shape.dim):
            sym = declared.get((vi.name, axis))
            if sym is not None and dim.HasField("dim_param"):
                dim.dim_param = sym
    onnx.save(proto, tmp)


def _pinned_in_file(tmp, declared, args, names, dynamo, torch_dims) -> list:
    """Declared axes that the exporter wrote as fixed sizes."""
    import onnx  # noqa: PLC0415  onnx: 0.6 s to import, only this path needs it

    m = onnx.load(tmp, load_external_data=False)
    out = []
    for vi in m.graph.input:
        for axis, dim in enumerate(vi.type.tensor_type.shape.dim):
            sym = declared.get((vi.name, axis))
            if sym is None or dim.HasField("dim_param") or not dim.HasField("dim_value"):
                continue
            v = dim.dim_value
            if v in (0, 1):
                cause = f"the example input has size {v} on that axis (exporters specialise " \
                        "sizes 0 and 1)"
                advice = "use an example of size >= 2 on that axis"
            elif dynamo:
                named = any(not isinstance(d, type(None)) and getattr(d, "__name__", "")
                            == sym for d in (torch_dims.get(p, {}).get(axis) for p in
                                              torch_dims))
                cause = (f"torch.export specialised it: a guard in the traced code requires "
                         f"{sym} == {v}")
                advice = ("use Dim.AUTO instead of a named Dim, or dynamo=False (the "
                          "TorchScript exporter) to see which node fixes it" if named else
                          "try dynamo=False (the TorchScript exporter) to see which node "
                          "fixes it")
            else:
                cause = "the TorchScript exporter wrote a fixed size"
                advice = "check dynamic_axes names, or try dynamo=True"
            out.append(PinnedDim(vi.name, axis, sym, v, None, cause, advice))
    return out


def _torch_view(model, args, params, names, declared, report):
    """torch.export's constraints in graphshape's symbols, or None (with a note)."""

    by_param = {(params[names.index(n)], ax): s for (n, ax), s in declared.items()}
    try:
        return torch_view(model, args, None, params, by_param)
    except Exception as e:  # noqa: BLE001  torch.export cannot trace every model
        report.notes.append("torch.export could not export the model, so its constraints "
                            f"were not compared: {type(e).__name__}: "
                            + " ".join(str(e).split())[:200])
        return None


def _pinned_in_domain(analysis, declared, comparison, dynamo) -> list:
    """Symbols that the graph allows at one value only: which node fixes them, and whether
    PyTorch itself accepts other values (then the exporter baked the example size in)."""
    dom = analysis.domain
    if dom.is_empty():
        return []
    out = []
    where = {s: (n, ax) for (n, ax), s in declared.items()}
    for i, sym in enumerate(dom.names):
        if sym not in where:
            continue
        try:
            lo, hi = dom.isl_set.dim_min_val(i), dom.isl_set.dim_max_val(i)
        except Exception:  # noqa: BLE001
            continue
        if not (lo.is_int() and hi.is_int()) or lo.to_python() != hi.to_python():
            continue
        v = int(lo.to_python())
        node, reason = _fixing_node(analysis, sym, v)
        torch_more = comparison is not None and _torch_accepts_other(comparison, sym, v)
        if torch_more:
            cause = (f"{reason}; PyTorch accepts other values of {sym}, so the exporter "
                     "baked the example's size in")
            advice = ("avoid Python ints from .shape/.size() in forward, or try "
                      + ("dynamo=False" if dynamo else "dynamo=True"))
        else:
            cause = f"{reason}; the model itself accepts only this size"
            advice = "resize inputs to it, or change the model (e.g. interpolate the table)"
        n, ax = where[sym]
        out.append(PinnedDim(n, ax, sym, v, node, cause, advice, exporter_fault=torch_more))
    return out


def _fixing_node(analysis, sym, v):
    dom = analysis.domain
    try:
        base = dom.smallest_valid() or {}
    except Exception:  # noqa: BLE001
        base = {}
    base = {n: base.get(n, 1) for n in dom.names}
    for probe in (v + 1, v - 1):
        if probe < 1:
            continue
        p = dict(base, **{sym: probe})
        try:
            vs = dom.violations(p)
        except Exception:  # noqa: BLE001
            continue
        if vs:
            o = vs[0][0].origins[0]
            return o.node, f"{o.op} (node '{o.node}'): {o.reason}"
    return None, "the graph's conditions fix it"


def _torch_accepts_other(comparison, sym, v) -> bool:
    return comparison.accepts_other(sym, v)


export = export_model
__all__ = ["export", "export_model", "check_required", "require_failures", "InvalidSizes",
           "SizeFailure", "ExportError", "PinnedDimError", "PinnedDim", "ExportReport"]


class _CallableModule(type(os)):
    """``graphshape.export`` is this module, and calling it exports: the submodule and the
    function share one name, and importing a submodule always rebinds the package's
    attribute to the module, so the module itself must be the function."""

    def __call__(self, *args, **kwargs):
        return export_model(*args, **kwargs)


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _CallableModule
