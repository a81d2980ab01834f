"""Benchmarks (not tests): graphshape's analysis time against onnxruntime's symbolic shape
inference on the same files, and growth on synthetic chains of 1,000 to 10,000 nodes.

    .venv/bin/python bench/run.py [--models NAME ...] [--json out.json]

Figures go to stdout as a table and, with --json, to a file. Models are taken from the
model cache (built on demand with `python -m models build NAME`)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import onnx
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import graphshape  # noqa: E402
from models import registry  # noqa: E402


def best_of(fn, n=3):
    times = []
    out = None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def ort_symbolic(path):
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    m = onnx.load(path)
    return SymbolicShapeInference.infer_shapes(m, auto_merge=True, guess_output_rank=True)


def chain(n_nodes: int) -> str:
    """A chain of Conv(3x3, pad 1) + Relu pairs on [1, 4, H, W] with a pool every 50 nodes."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 4, 3, 3], [0.01] * 144)
    nodes, cur = [], "x"
    for i in range(n_nodes // 2):
        nodes.append(helper.make_node("Conv", [cur, "w"], [f"c{i}"], pads=[1, 1, 1, 1]))
        nxt = f"r{i}"
        if i % 25 == 24:
            nodes.append(helper.make_node("MaxPool", [f"c{i}"], [nxt], kernel_shape=[1, 1]))
        else:
            nodes.append(helper.make_node("Relu", [f"c{i}"], [nxt]))
        cur = nxt
    g = helper.make_graph(nodes, "chain",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                         [1, 4, "H", "W"])],
                          [helper.make_tensor_value_info(cur, TensorProto.FLOAT, None)], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 10
    path = os.path.join(registry.DEFAULT_CACHE, f"chain_{n_nodes}.onnx")
    os.makedirs(registry.DEFAULT_CACHE, exist_ok=True)
    onnx.save(m, path)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--chains", nargs="*", type=int, default=[1000, 2500, 5000, 10000])
    args = ap.parse_args(argv)
    names = args.models if args.models is not None else sorted(registry.BUILDERS)
    rows = []
    for name in names:
        try:
            path = registry.build(name)
        except Exception as e:  # noqa: BLE001  a model that cannot be built here is noted
            print(f"{name}: not built ({type(e).__name__}: {e})", file=sys.stderr)
            continue
        rows.append(measure(name, path))
        print(f"measured {name}", file=sys.stderr, flush=True)
    for n in args.chains:
        rows.append(measure(f"chain_{n}", chain(n)))
        print(f"measured chain_{n}", file=sys.stderr, flush=True)
    print(f"{'model':<26} {'nodes':>6} {'graphshape s':>13} {'ort symbolic s':>15} {'ratio':>6}")
    for r in rows:
        ratio = f"{r['graphshape_s'] / r['ort_symbolic_s']:.2f}" if r["ort_symbolic_s"] else "-"
        ort = f"{r['ort_symbolic_s']:.3f}" if r["ort_symbolic_s"] else r.get("ort_error", "-")
        print(f"{r['model']:<26} {r['nodes']:>6} {r['graphshape_s']:>13.3f} {ort:>15} {ratio:>6}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


def measure(name, path) -> dict:
    nodes = len(onnx.load(path, load_external_data=False).graph.node)
    gs, a = best_of(lambda: graphshape.analyze(path), 3)
    row = {"model": name, "nodes": nodes, "graphshape_s": gs,
           "phases": {k: round(v, 4) for k, v in a.timings.items()},
           "exact": a.domain.exact}
    try:
        ort, _ = best_of(lambda: ort_symbolic(path), 3)
        row["ort_symbolic_s"] = ort
    except Exception as e:  # noqa: BLE001
        row["ort_symbolic_s"] = None
        row["ort_error"] = type(e).__name__
    _ = statistics
    return row


if __name__ == "__main__":
    main()
