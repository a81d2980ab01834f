"""graphshape: prove which input sizes an ONNX model accepts, and why.

    >>> import graphshape
    >>> a = graphshape.analyze("model.onnx", dims={"input:2": "H", "input:3": "W"})
    >>> print(a.domain)
    >>> a.check({"H": 256, "W": 256})            # Verdict.VALID / INVALID / UNPROVEN
    >>> a.require("H in 224..640 step 32, W = H")
    >>> graphshape.export(model, (x,), "m.onnx", dims={"x": {2: "H", 3: "W"}}, require="H=512,W=512")
"""

from graphshape import (
    export,  # a callable module: graphshape.export(...) is export.export_model
)
from graphshape.analysis import SCHEMA_VERSION, Analysis, analyze
from graphshape.domain.sets import Domain
from graphshape.errors import (
    GraphShapeError,
    InvalidModelError,
    ModelLoadError,
    ShapeError,
    Unsupported,
    UsageError,
    VerificationError,
)
from graphshape.export import InvalidSizes
from graphshape.results import ExitCode, Explanation, Verdict, Violation

__all__ = ["analyze", "Analysis", "Domain", "SCHEMA_VERSION", "Verdict", "Explanation",
           "Violation", "ExitCode", "export", "InvalidSizes", "GraphShapeError",
           "ModelLoadError", "InvalidModelError", "ShapeError", "Unsupported", "UsageError",
           "VerificationError"]
__version__ = "0.1.0"
