"""graphshape's error family. Every error renders as one line; the CLI maps each class to
an exit code in one place (cli.EXIT_CODES)."""

from __future__ import annotations


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
        super().__init__(f"{op} (node '{node}'): {message}" if op else message)


class Unsupported(GraphShapeError):
    """Raised inside a rule when it cannot decide a shape (the answer becomes 'unproven')."""

    exit_code = 3


class VerificationError(GraphShapeError):
    """onnxruntime could not be used to verify the model."""
