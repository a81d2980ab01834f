"""graphshape: prove which input sizes an ONNX model accepts, and why.

    >>> import graphshape
    >>> a = graphshape.analyze("model.onnx", dims={"input:2": "H", "input:3": "W"})
    >>> print(a.domain)
    >>> a.check({"H": 256, "W": 256})            # Verdict.VALID / INVALID / UNPROVEN
    >>> a.require("H in 224..640 step 32, W = H")
    >>> graphshape.export(model, (x,), "m.onnx", dims={"x": {2: "H", 3: "W"}}, require="H=512,W=512")
"""

import importlib

from graphshape.errors import (
    GraphShapeError,
    InvalidModelError,
    ModelLoadError,
    ShapeError,
    Unsupported,
    UsageError,
    VerificationError,
)
from graphshape.results import ExitCode, Explanation, Verdict, Violation

__all__ = ["analyze", "Analysis", "Domain", "SCHEMA_VERSION", "Verdict", "Explanation",
           "Violation", "ExitCode", "export", "InvalidSizes", "GraphShapeError",
           "ModelLoadError", "InvalidModelError", "ShapeError", "Unsupported", "UsageError",
           "VerificationError"]
__version__ = "0.1.0"

# The analysis needs sympy, isl and numpy (about half a second to import, cold): it is
# loaded on first use, so `import graphshape` stays cheap for callers that only need the
# errors and results (a pre-commit hook's --help, a worker that has not got a model yet).
_LAZY = {"analyze": "graphshape.analysis", "Analysis": "graphshape.analysis",
         "SCHEMA_VERSION": "graphshape.analysis", "Domain": "graphshape.domain.sets",
         "InvalidSizes": "graphshape.answers.contract"}


def __getattr__(name: str):
    if name == "export":  # a callable module: graphshape.export(...) is export.export_model
        return importlib.import_module("graphshape.export")
    if name not in _LAZY:
        raise AttributeError(f"module 'graphshape' has no attribute '{name}'")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
