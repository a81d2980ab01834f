"""Optional, OptionalHasElement, OptionalGetElement.

An optional value is a Tensor with no shape (so no tensor rule can mistake it for a
tensor: every one of them makes its node unproven), dtype OPTIONAL, and as value the
tuple of its element (a Tensor) or () when it is empty; value None when unknown.
Opset 28's versions follow the spec (onnxruntime 1.31 refuses opset 28); opsets 15-18
are onnxruntime's kernels, which only pass the element through.
"""

from __future__ import annotations

from graphshape.errors import Unsupported
from graphshape.loader.tensor import BOOL, Tensor
from graphshape.shapes.registry import rule

OPTIONAL = -3  # Tensor.dtype of an optional value (not an onnx element type)


def optional_of(elem) -> Tensor:
    return Tensor(None, OPTIONAL, (elem,) if elem is not None else ())


def _is_optional(t) -> bool:
    return t is not None and t.dtype == OPTIONAL and t.shape is None


@rule("Optional", since=15)
def optional(ctx, input=None, *, type=None):
    """An optional holding ``input``, or an empty one of ``type``
    (https://onnx.ai/onnx/operators/onnx__Optional.html)."""
    if input is None and type is None:
        ctx.fail("an empty Optional needs the type attribute")
    return optional_of(input)


@rule("OptionalHasElement", since=15)
def optional_has_element(ctx, input=None):
    """A bool scalar: whether the optional (or a plain tensor, opset 18+) holds a value
    (https://onnx.ai/onnx/operators/onnx__OptionalHasElement.html)."""
    if input is None:
        if ctx.opset < 18:
            ctx.fail("OptionalHasElement needs an input before opset 18")
        return Tensor((), BOOL, (0,))
    if not _is_optional(input):
        return Tensor((), BOOL, (1,))
    if input.value is None:
        return Tensor((), BOOL)
    return Tensor((), BOOL, (1 if input.value else 0,))


@rule("OptionalGetElement", since=15)
def optional_get_element(ctx, input):
    """The optional's element (a plain tensor passes through, opset 18+); an empty optional
    fails (https://onnx.ai/onnx/operators/onnx__OptionalGetElement.html)."""
    if not _is_optional(input):
        return input
    if input.value is None:
        raise Unsupported("whether the optional holds a value is known only at run time")
    if not input.value:
        ctx.fail("the optional is empty")
    return input.value[0]
