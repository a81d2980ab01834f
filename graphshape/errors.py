"""graphshape's error family. Every error renders as one line; the CLI maps each class to
an exit code in one place (cli.EXIT_CODES)."""

from __future__ import annotations

__all__ = ["located", "GraphShapeError", "ModelLoadError", "InvalidModelError", "UsageError",
           "ShapeError", "Unsupported", "VerificationError"]


def located(op: str, node: str, message: str) -> str:
    """The one wording of a finding at a node: ``Conv (node 'c1'): kernel 7 > input 5``."""
    return f"{op} (node '{node}'): {message}"


class GraphShapeError(Exception):
    """Base class: a user-facing problem, rendered as one line, never a traceback."""

    exit_code = 2


class ModelLoadError(GraphShapeError):
    """The file is missing, unreadable, corrupt, truncated, or not an ONNX model."""


class InvalidModelError(GraphShapeError):
    """The model loads but is malformed (cycle, missing input, bad attribute)."""


class UsageError(GraphShapeError):
    """Bad command-line or API arguments (a malformed --dim or --size, an absurd size)."""


class ShapeError(GraphShapeError):
    """An op's shape rule found inputs it can never accept: ``<Op> (node 'x'): ...``."""

    def __init__(self, message: str, node: str | None = None, op: str | None = None):
        self.node = node
        self.op = op
        self.detail = message
        super().__init__(located(op, node, message) if op else message)


class Unsupported(GraphShapeError):
    """Raised inside a rule when it cannot decide a shape (the answer becomes 'unproven')."""

    exit_code = 3


class VerificationError(GraphShapeError):
    """onnxruntime could not be used to verify the model."""
