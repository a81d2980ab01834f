"""Detectors' analysis cost (issue 20), measured the way users pay: one fresh process per
model, under a memory cap, reporting the analysis's CPU seconds, the process's peak memory
and the answer.

    .venv/bin/python bench/detectors.py [--models NAME ...] [--json PATH] [--cap-gb 6]

Models: the torchvision detectors and the YOLO head of models/detection.py, Faster R-CNN
(models/vision.py), and the synthetic per-class post-processing with 12 and 90 branches
(models/postprocess.py). Detectors are built on demand (one export at a time: each takes
20-60 s and up to about 4 GB). Figures go to stdout and bench/results/detectors.json. The
goal of issue 20: every one within 10 s of CPU and 1 GB; 90 branches within 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
DEFAULT_JSON = os.path.join(ROOT, "bench", "results", "detectors.json")
DETECTORS = ["fasterrcnn_ts", "retinanet_ts", "fcos_ts", "ssd300_ts", "ssdlite_ts",
             "maskrcnn_ts", "keypointrcnn_ts", "yolo_head_ts"]

_PROBE = r'''
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
import graphshape
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
a = graphshape.analyze(sys.argv[1])
wall = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
hwm = 0  # this process's own peak (ru_maxrss also counts the parent's pages before exec)
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) // 1024
d = a.domain
print(json.dumps({"analysis_cpu_s": round(cpu, 2), "analysis_wall_s": round(wall, 2),
                  "peak_rss_mb": hwm, "nodes": a.propagation.node_count,
                  "exact": d.exact, "unproven_nodes": len(d.unproven),
                  "count_conditions": len(d.dd_conditions), "domain": str(d)[:300],
                  "work": {k: v for k, v in a.stats.items()}}))
'''


def probe(path: str, cap_gb: float) -> dict:
    cmd = ["prlimit", f"--as={int(cap_gb * 2 ** 30)}", sys.executable, "-c", _PROBE, path,
           ROOT]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1][:300]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=DETECTORS)
    ap.add_argument("--json", default=DEFAULT_JSON)
    ap.add_argument("--cap-gb", type=float, default=6.0)
    args = ap.parse_args(argv)
    from models import postprocess, registry  # noqa: PLC0415  the checkout's builders

    cache = registry.DEFAULT_CACHE
    rows = {}
    for name in args.models:
        rows[name] = probe(registry.build(name, cache), args.cap_gb)
    for k in (12, 90):
        rows[f"postprocess_{k}"] = probe(postprocess.build(cache, k), args.cap_gb)
    print(f"{'model':<20} {'nodes':>6} {'cpu s':>6} {'MB':>6}  answer")
    for name, r in rows.items():
        if "error" in r:
            print(f"{name:<20} error: {r['error']}")
            continue
        answer = "proved" if r["exact"] else (
            f"{r['unproven_nodes']} nodes unproven" if r["unproven_nodes"] else
            f"{r['count_conditions']} count conditions")
        print(f"{name:<20} {r['nodes']:>6} {r['analysis_cpu_s']:>6} {r['peak_rss_mb']:>6}  "
              f"{answer}: {r['domain'][:70]}")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json + ".tmp", "w") as f:
        json.dump({"machine": f"{platform.node()} {os.cpu_count()} cpus", "models": rows},
                  f, indent=1)
    os.replace(args.json + ".tmp", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
