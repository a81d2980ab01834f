"""Several Reshapes whose product divisibility conditions share factors (MobileViT's
unfold over three stages): the joint set is built from disjoint divisor cases past
solve.MAX_JOINT_DISJUNCTS; it must be the same set as the overlapping cases give, and
onnxruntime must agree with it point for point."""

from __future__ import annotations

import random

import graphshape
from graphshape.domain import solve

from .conftest import assert_agrees, text_model

# N*h2*w2 % 8, N*h4*w4 % 4, N*h8*w8 % 2 with hk = max(1, floor(H/k)) (the pools' outputs):
# 10 x 6 x 3 = 180 overlapping cases, past MAX_JOINT_DISJUNCTS
THREE_RESHAPES = """<ir_version: 10, opset_import: ["" : 17]>
g (float[N, 1, H, W] x) => (float[A, 8] y1, float[B, 4] y2, float[C, 2] y3)
  <int64[2] s1 = {-1, 8}, int64[2] s2 = {-1, 4}, int64[2] s3 = {-1, 2}> {
    p1 = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (x)
    p2 = MaxPool <kernel_shape = [4, 4], strides = [4, 4]> (x)
    p3 = MaxPool <kernel_shape = [8, 8], strides = [8, 8]> (x)
    y1 = Reshape (p1, s1)
    y2 = Reshape (p2, s2)
    y3 = Reshape (p3, s3)
}"""


def _valid(n, h, w):
    # onnxruntime's pool output truncates toward zero: (h - k)/k + 1 is 1 for h < k
    return all(n * max(1, h // k) * max(1, w // k) % m == 0
               for k, m in ((2, 8), (4, 4), (8, 2)))


def test_three_interacting_reshapes(tmp_path, monkeypatch):
    path = text_model(THREE_RESHAPES, str(tmp_path / "three.onnx"))
    a = graphshape.analyze(path)
    assert a.domain.exact and a.domain.names == ["N", "H", "W"]
    # the same set as every condition's overlapping cases at once (the path below the bound)
    bound = solve.MAX_JOINT_DISJUNCTS
    monkeypatch.setattr(solve, "MAX_JOINT_DISJUNCTS", 10**9)
    old = graphshape.analyze(path)
    assert old.domain.solved.raw.n_basic_set() > bound
    assert old.domain.isl_set.is_equal(a.domain.isl_set)
    grid = [(n, h, w) for n in range(1, 9) for h in range(1, 40) for w in range(1, 40)]
    for n, h, w in grid:
        assert a.domain.contains({"N": n, "H": h, "W": w}) == _valid(n, h, w), (n, h, w)
    pts = random.Random(0).sample(grid, 120) + [(1, 8, 8), (2, 8, 8), (1, 16, 16), (1, 8, 32)]
    rep = assert_agrees(a, [{"N": n, "H": h, "W": w} for n, h, w in pts])
    assert {v.observed for v in rep.verdicts} == {"valid", "invalid"}
