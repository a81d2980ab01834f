"""Loss ops: SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss (onnxruntime 1.31's CPU
kernels)."""

from __future__ import annotations

from graphshape.arith.dims import add, sub
from graphshape.loader.tensor import Tensor
from graphshape.rules._common import ints
from graphshape.shapes.registry import rule


# ---- losses -----------------------------------------------------------------------------
# onnxruntime 1.31 runs both through their function bodies (GatherElements of the scores by
# the labels, Gather of the weights): label axes may be shorter than the scores' (the
# output then takes the labels' shape), labels lie in [-C, C - 1] and, with weights, in
# [-len(weights), len(weights) - 1] (ignore_index aside); measured.
def _loss(ctx, scores, labels, weights, reduction, ignore_index, what):
    if reduction not in ("none", "sum", "mean"):
        ctx.fail(f"reduction must be none, sum or mean, found '{reduction}'")
    r = len(scores.shape)
    if r < 2:
        ctx.fail(f"{what} must have rank >= 2 (N, C, ...)")
    if len(labels.shape) != r - 1:
        ctx.fail(f"the labels must have rank {r - 1}, found {len(labels.shape)}")
    c = scores.shape[1]
    ctx.ge(c, 1, "the class count must be >= 1")
    ctx.ge(scores.shape[0], labels.shape[0], "the labels' batch size must not exceed the "
                                             "scores'")
    for i, (a, b) in enumerate(zip(labels.shape[1:], scores.shape[2:])):
        ctx.ge(b, a, f"labels axis {i + 1} must not exceed the scores' axis {i + 2}")
    if weights is not None and len(weights.shape) != 1:
        ctx.fail("weights must be 1-D")
    if labels.value is not None:
        for v in ints(labels, "labels"):
            if ignore_index is not None and v == ignore_index:
                continue
            for n, whose in ((c, "the class count"),) + (
                    ((weights.shape[0], "the weights' length"),) if weights is not None
                    else ()):
                ctx.ge(add(v, n), 0, f"labels must be >= -{whose}")
                ctx.ge(sub(n, 1), v, f"labels must be < {whose}")
    elif getattr(labels, "origin", None) != "input":
        ctx.assume("the labels index the classes and are only known at run time")
    return (labels.shape if reduction == "none" else ())


@rule("SoftmaxCrossEntropyLoss", since=12)
def softmax_ce_loss(ctx, scores, labels, weights=None, *, ignore_index: int | None = None,
                    reduction: str = "mean"):
    """output (N, d1, ...) (the labels' shape) or a scalar; log_prob has scores' shape
    (https://onnx.ai/onnx/operators/onnx__SoftmaxCrossEntropyLoss.html)."""
    out = _loss(ctx, scores, labels, weights, reduction, ignore_index, "scores")
    return [Tensor(tuple(out), scores.dtype), Tensor(scores.shape, scores.dtype)][
        :ctx.n_outputs]


@rule("NegativeLogLikelihoodLoss", since=12)
def nll_loss(ctx, input, target, weight=None, *, ignore_index: int | None = None,
             reduction: str = "mean"):
    """loss (N, d1, ...) (the target's shape) or a scalar
    (https://onnx.ai/onnx/operators/onnx__NegativeLogLikelihoodLoss.html)."""
    return Tensor(tuple(_loss(ctx, input, target, weight, reduction, ignore_index, "input")),
                  input.dtype)
