"""The differential fuzz tier, second generator (tests.oracles.fuzz_mixed, written independently
of the first): negative and asymmetric pads, ConvTranspose after shrinking ops, ceil-mode
pools with asymmetric pads, broadcasting of size-1 axes in Add/Mul/Sub/Where, merges of
branches with different strides, shape arithmetic feeding Pad/Reshape/Resize/Slice,
Resize with scales and sizes. Budget and figures as in tests/test_fuzz_convpool.py."""

from __future__ import annotations

import random

import pytest

from tests.oracles import fuzz_mixed as fuzz2
from tests.oracles.fuzz_runner import small_grid

from .test_fuzz_convpool import run_tier


@pytest.mark.fuzz
def test_fuzz2_graphshape_agrees_with_onnxruntime(tmp_path):
    run_tier("mix", 70240, tmp_path)


@pytest.mark.fuzz
def test_fuzz2_is_deterministic_and_builds_its_op_mix():
    ops = set()
    for seed in range(30):
        a, _ = fuzz2.generate(seed)
        if seed < 3:
            assert a.SerializeToString() == fuzz2.generate(seed)[0].SerializeToString()
        ops |= {n.op_type for n in a.graph.node}
    want = {"Pad", "ConvTranspose", "MaxPool", "AveragePool", "Where", "Concat", "Shape",
            "Gather", "Reshape", "Resize", "Slice", "ReduceMean", "Transpose", "Ceil", "Clip",
            "Cast", "Mod"}
    assert want <= ops, want - ops
    # issue 21's moves, and graphs with a size that may be 0
    logs, empty = set(), 0
    for seed in range(60):
        _, desc = fuzz2.generate(seed)
        logs |= {op.split(":")[0] for op in desc["ops"]}
        empty += bool(desc.get("dims"))
    assert {"window", "reshape_zero", "tf_same"} <= logs, logs
    assert empty > 0


def test_small_grid_starts_at_0_for_a_size_that_may_be_empty():
    rng = random.Random(0)
    assert [p["P"] for p in small_grid(["P"], rng, least={"P": 0})] == list(range(0, 13))
    two = small_grid(["H", "P"], rng, least={"P": 0})  # 156 points: 144 of them kept
    assert len(two) == 144 and {"H": 1, "P": 0} in two and {"H": 12, "P": 12} in two
    assert {p["P"] for p in two} == set(range(13)) and min(p["H"] for p in two) == 1


def test_small_grid_is_every_size_up_to_12():
    rng = random.Random(0)
    assert [p["L"] for p in small_grid(["L"], rng)] == list(range(1, 13))
    two = small_grid(["H", "W"], rng)
    assert len(two) == 144 and {(p["H"], p["W"]) for p in two} == \
        {(h, w) for h in range(1, 13) for w in range(1, 13)}
    assert len(small_grid(["N", "H"], rng)) == 4 * 12  # a batch stops at 4
    three = small_grid(["H", "W", "N"], rng)
    assert len(three) == 144 and {"H": 1, "W": 1, "N": 1} in three
