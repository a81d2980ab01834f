"""The differential fuzz tier: random conv/pool graphs, graphshape against onnxruntime.

Fixed seed and budget: GRAPHSHAPE_FUZZ_GRAPHS graphs (default 300, about 3 minutes on 2
cores; `make fuzz` runs 2000), GRAPHSHAPE_FUZZ_SEED (default 20240), at most
GRAPHSHAPE_FUZZ_POINTS sizes per graph (default 16, all <= 300). Every disagreement on a
proved answer is a bug; 'unproven' analyses are counted and reported, not failed. The
figures go to stdout and .cache/fuzz-figures.json; the failing models stay in the work
folder named there, for `python -m graphshape.fuzz` and tests/test_fuzz_regressions.py.
"""

from __future__ import annotations

import json
import os

import pytest

from graphshape.fuzz import campaign

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.fuzz
def test_fuzz_graphshape_agrees_with_onnxruntime(tmp_path):
    n = int(os.environ.get("GRAPHSHAPE_FUZZ_GRAPHS", "300"))
    seed = int(os.environ.get("GRAPHSHAPE_FUZZ_SEED", "20240"))
    points = int(os.environ.get("GRAPHSHAPE_FUZZ_POINTS", "16"))
    jobs = int(os.environ.get("GRAPHSHAPE_FUZZ_JOBS", str(min(os.cpu_count() or 2, 4))))
    workdir = str(tmp_path / "models")
    figs = campaign(n, seed=seed, jobs=jobs, workdir=workdir, max_points=points)
    out = figs.to_json()
    out.update({"seed": seed, "max_points": points, "jobs": jobs, "workdir": workdir})
    os.makedirs(os.path.join(ROOT, ".cache"), exist_ok=True)
    dest = os.path.join(ROOT, ".cache", "fuzz-figures.json")
    with open(dest + ".tmp", "w") as f:
        json.dump(out, f, indent=2, default=str)
    os.replace(dest + ".tmp", dest)
    print("\n" + figs.summary())
    for why, count in sorted(figs.unproven_reasons.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  unproven in {count} graphs: {why}")
    print(f"figures: {dest}")
    lines = []
    for case in figs.failing[:8]:
        lines.append(f"seed {case['seed']} ({case['model']}): {case['error'] or ''} "
                     f"ops {case['desc'].get('ops')}; domain {case['domain']!r}")
        for d in case["disagreements"][:2]:
            lines.append(f"    {d['sizes']}: predicted {d['predicted']}, onnxruntime "
                         f"{d['observed']} {d['detail'][:200]}")
    assert figs.graphs == n
    assert figs.compared > 0
    assert figs.errors == 0, "analysis crashed or hung:\n" + "\n".join(lines)
    assert figs.disagreements == 0, (f"{figs.disagreements} disagreements:\n"
                                     + "\n".join(lines))
