"""graphshape: prove which input sizes an ONNX model accepts, and why.

    >>> import graphshape
    >>> a = graphshape.analyze("model.onnx", dims={"input:2": "H", "input:3": "W"})
    >>> print(a.domain)
    >>> a.domain.contains({"H": 256, "W": 256})
"""

from .analysis import SCHEMA_VERSION, Analysis, analyze
from .errors import (GraphShapeError, InvalidModelError, ModelLoadError, ShapeError,
                     Unsupported, UsageError, VerificationError)
from .sets import Domain

__all__ = ["analyze", "Analysis", "Domain", "SCHEMA_VERSION", "GraphShapeError",
           "ModelLoadError", "InvalidModelError", "ShapeError", "Unsupported", "UsageError",
           "VerificationError"]
__version__ = "0.1.0"
