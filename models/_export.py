"""One export path for every corpus model: cache hit, temp name, os.replace, and a stats
sidecar (export seconds, node counts) that ``python -m models stats`` turns into a table."""

from __future__ import annotations

import json
import os
import time


def cached(out_dir: str, name: str) -> tuple[str, bool]:
    """The model's path in ``out_dir`` and whether it is already built."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name + ".onnx")
    return path, os.path.exists(path)


def export(module, args, path: str, *, dynamo: bool, input_names, output_names,
           dynamic_axes=None, dynamic_shapes=None, opset: int = 17) -> str:
    """Export ``module`` at ``args`` to ``path`` (TorchScript or dynamo exporter).

    TorchScript: ``dynamic_axes`` names the symbolic axes. Dynamo: ``dynamic_shapes`` is a
    tuple with one entry per positional argument (torch.export.Dim / Dim.AUTO per axis);
    the dynamo exporter picks its own opset (18)."""
    import torch

    tmp = path + ".tmp"
    data = tmp + ".data"
    t0 = time.perf_counter()
    if dynamo:
        with torch.no_grad():
            prog = torch.onnx.export(module, args, dynamo=True, input_names=input_names,
                                     output_names=output_names, dynamic_shapes=dynamic_shapes,
                                     verbose=False)
        # one file, weights inline (all corpus models are far below 2 GiB)
        prog.save(tmp, external_data=False)
    else:
        # grad mode stays on: under no_grad nn.MultiheadAttention takes its fused fast path
        # (aten::_native_multi_head_attention), which the TorchScript exporter cannot export
        torch.onnx.export(module, args, tmp, dynamo=False, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes,
                          opset_version=opset, do_constant_folding=True)
    seconds = time.perf_counter() - t0
    if os.path.exists(data):  # never expected; keep the cache tidy if it happens
        os.remove(data)
    _write_stats(tmp, path, seconds, "dynamo" if dynamo else "torchscript")
    os.replace(tmp, path)
    return path


def _write_stats(tmp: str, path: str, seconds: float, exporter: str) -> None:
    import onnx

    m = onnx.load(tmp, load_external_data=False)
    top = len(m.graph.node)
    stats = {"exporter": exporter, "export_s": round(seconds, 2), "nodes": top,
             "nodes_with_subgraphs": _count(m.graph),
             "opset": max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
                          default=None),
             "op_types": sorted({n.op_type for n in m.graph.node})}
    with open(path + ".stats.json.tmp", "w") as f:
        json.dump(stats, f, indent=1)
    os.replace(path + ".stats.json.tmp", path + ".stats.json")


def _count(graph) -> int:
    n = 0
    for node in graph.node:
        n += 1
        for a in node.attribute:
            if a.g is not None and a.HasField("g"):
                n += _count(a.g)
            for g in a.graphs:
                n += _count(g)
    return n


def stats(path: str) -> dict | None:
    try:
        with open(path + ".stats.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
