"""The differential fuzz tier, first generator (tests.oracles.fuzz_convpool: conv/pool stacks).

Both generators (this one and tests/test_fuzz_mixed.py) run every graph at every size 1..12
(0..12 for a size the graph declares may be empty) of each symbolic axis (the full grid for two axes, 144 points of it for three) plus up
to GRAPHSHAPE_FUZZ_POINTS (default 16) edge and random points, all <= 300, against
onnxruntime. GRAPHSHAPE_FUZZ_GRAPHS graphs per generator (default 150, so 300 across the
two; about 3 minutes in all on 2 cores; `make fuzz` runs 2000 each), seeds from
GRAPHSHAPE_FUZZ_SEED (default 20240 here, 70240 for the second). Every disagreement on a
proved answer is a bug and fails with the seed, the model file and its ONNX text;
'unproven' analyses are counted and reported, not failed. Figures go to stdout and
.cache/fuzz-figures-<generator>.json.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.oracles.fuzz_runner import campaign

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_tier(gen: str, default_seed: int, tmp_path):
    n = int(os.environ.get("GRAPHSHAPE_FUZZ_GRAPHS", "150"))
    seed = int(os.environ.get("GRAPHSHAPE_FUZZ_SEED", str(default_seed)))
    extra = int(os.environ.get("GRAPHSHAPE_FUZZ_POINTS", "16"))
    jobs = int(os.environ.get("GRAPHSHAPE_FUZZ_JOBS", str(min(os.cpu_count() or 2, 4))))
    workdir = str(tmp_path / "models")
    figs = campaign(n, seed=seed, jobs=jobs, workdir=workdir, max_extra=extra, gen=gen)
    out = figs.to_json()
    out.update({"seed": seed, "max_extra": extra, "jobs": jobs, "workdir": workdir})
    os.makedirs(os.path.join(ROOT, ".cache"), exist_ok=True)
    dest = os.path.join(ROOT, ".cache", f"fuzz-figures-{gen}.json")
    with open(dest + ".tmp", "w") as f:
        json.dump(out, f, indent=2, default=str)
    os.replace(dest + ".tmp", dest)
    print("\n" + figs.summary() + f" (seeds {seed}..{seed + n - 1})")
    for why, count in sorted(figs.unproven_reasons.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  unproven in {count} graphs: {why}")
    print(f"figures: {dest}")
    assert figs.graphs == n
    assert figs.compared > 0
    if n >= 50:  # some graphs declare a size that may be 0: run there too (issue 21)
        assert figs.compared_zero > 0
    assert figs.errors == 0, "analysis crashed or hung:\n" + figs.report()
    assert figs.disagreements == 0, f"{figs.disagreements} disagreements:\n" + figs.report()
    return figs


@pytest.mark.fuzz
def test_fuzz_graphshape_agrees_with_onnxruntime(tmp_path):
    figs = run_tier("conv", 20240, tmp_path)
    # every graph ran at least its small grid (12 sizes per symbolic axis, one axis)
    assert figs.compared >= 12 * (figs.graphs - figs.session_failures) // 2
