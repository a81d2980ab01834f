"""The export pipeline hook: export a torch model with symbolic dims, analyse it, and fail
the pipeline when a size it must accept is not valid (or not proven valid).

    from graphshape.export import export_and_check
    a = export_and_check(model, (x,), "model.onnx", input_names=["input"],
                         dynamic_axes={"input": {2: "H", 3: "W"}},
                         require=[{"H": 512, "W": 512}, "H=384,W=640"])

torch is imported lazily: it is an extra (`pip install graphshape[torch]`), not a core
dependency of the analyser.
"""

from __future__ import annotations

import os
import tempfile

from .errors import GraphShapeError, UsageError


class ExportError(GraphShapeError):
    """torch could not export the model, or exported it with fixed sizes although dims
    were declared dynamic."""


class RequiredSizeError(GraphShapeError):
    """A size the pipeline requires is outside the proved domain (or not proven)."""

    exit_code = 1

    def __init__(self, message: str, analysis=None, failures=()):
        super().__init__(message)
        self.analysis = analysis
        self.failures = list(failures)


def _parse_required(item) -> dict:
    if isinstance(item, dict):
        return {str(k): int(v) for k, v in item.items()}
    out = {}
    for part in str(item).replace(" ", "").split(","):
        if "=" not in part:
            raise UsageError(f"bad required size '{item}': expected NAME=INT[,NAME=INT...]")
        k, v = part.split("=", 1)
        try:
            out[k] = int(v)
        except ValueError:
            raise UsageError(f"bad required size '{item}': {v!r} is not an integer") from None
    return out


def _declared_dynamic(dynamic_axes, dynamic_shapes) -> dict:
    """input position or name -> declared dynamic axes."""
    out = {}
    for k, v in (dynamic_axes or {}).items():
        out[k] = set(v.keys() if isinstance(v, dict) else v)
    if isinstance(dynamic_shapes, dict):
        for i, (k, v) in enumerate(dynamic_shapes.items()):
            if isinstance(v, dict):
                out[i] = {a for a, d in v.items() if d is not None}
    elif isinstance(dynamic_shapes, (list, tuple)):
        for i, v in enumerate(dynamic_shapes):
            if isinstance(v, dict):
                out[i] = {a for a, d in v.items() if d is not None}
    return out


def export_and_check(model, args, path: str, *, input_names=None, output_names=None,
                     dynamic_axes=None, dynamic_shapes=None, dynamo: bool = False,
                     opset_version: int | None = None, require=(), allow_unproven=False,
                     dims=None):
    """Export ``model`` to ``path`` (atomically), analyse it, and raise RequiredSizeError
    when any ``require``d size is invalid (or unproven, unless ``allow_unproven``). Returns
    the Analysis."""
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise ExportError(f"torch is not installed ({e}); pip install 'graphshape[torch]'") \
            from None
    required = [_parse_required(r) for r in require]
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".graphshape-export-", suffix=".onnx")
    os.close(fd)
    try:
        kw = {"input_names": input_names, "output_names": output_names, "dynamo": dynamo}
        if opset_version is not None:
            kw["opset_version"] = opset_version
        if dynamo:
            kw["dynamic_shapes"] = dynamic_shapes
        else:
            kw["dynamic_axes"] = dynamic_axes
        try:
            torch.onnx.export(model, args, tmp, **kw)
        except Exception as e:  # noqa: BLE001  any exporter failure is one line
            first = " ".join(str(e).split())[:300]
            raise ExportError(f"torch.onnx.export failed: {type(e).__name__}: {first}") \
                from None
        from . import analyze

        a = analyze(tmp, dims=dims)
        _check_not_specialised(a, _declared_dynamic(dynamic_axes, dynamic_shapes),
                               input_names)
        failures = []
        for sizes in required:
            ex = a.explain(sizes)
            if ex["verdict"] == "valid" or (ex["verdict"] == "unproven" and allow_unproven):
                continue
            if ex["verdict"] == "invalid":
                why = "; ".join(f"{v['op']} (node '{v['node']}'): {v['reason']}"
                                for v in ex["violations"][:3])
            else:
                why = "; ".join(ex.get("unproven", [])[:3])
            failures.append((sizes, ex["verdict"], why))
        if failures:
            sizes, verdict, why = failures[0]
            text = ", ".join(f"{k}={v}" for k, v in sizes.items())
            more = f" (and {len(failures) - 1} more required sizes)" if len(failures) > 1 else ""
            raise RequiredSizeError(
                f"required size {text} is {verdict}: {why}{more}; valid sizes: "
                + str(a.domain).replace("\n", " "), a, failures)
        os.replace(tmp, path)
        a.graph.path = path
        return a
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _check_not_specialised(analysis, declared: dict, input_names) -> None:
    """Say plainly when the exporter fixed a dim that was declared dynamic."""
    names = list(analysis.graph.inputs)
    for key, axes in declared.items():
        if isinstance(key, int):
            name = names[key] if key < len(names) else None
        else:
            name = key
        if name not in analysis.graph.inputs:
            continue
        shape = analysis.graph.inputs[name].shape
        fixed = [a for a in axes if isinstance(a, int) and a < len(shape)
                 and isinstance(shape[a], int)]
        if fixed:
            raise ExportError(
                f"the exporter fixed input '{name}' axes {fixed} to "
                f"{[shape[a] for a in fixed]} although they were declared dynamic "
                "(torch.export specialises named Dims it cannot keep symbolic; try Dim.AUTO "
                "or the TorchScript exporter)")
