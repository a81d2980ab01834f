"""Child process that runs onnxruntime for graphshape's verifier.

Arguments: the model's path, the providers ("auto": CUDA where onnxruntime has it and a
GPU is present, else the CPU), the graph optimisation level. The first stdout line is a
hello ({"ready": true, "providers": [...]}, or the error).

Protocol: one JSON request per stdin line ({"inputs": {name: {"shape", "dtype"}}, "fills":
the input data for float inputs, run in order until one fails: "normal" | "uniform" |
"zeros" | "huge" (every element 1e30); default ["normal"]}), one JSON reply per stdout line,
in order ({"ok", "shapes" or "error" and the failing "fill", "seconds" of the runs). The
parent may send several requests ahead. Native crashes (SIGFPE, SIGSEGV) kill only this
process; the parent records them as failures and starts a new worker.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time


def main() -> int:
    model_path, providers, opt_level = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but protocol lines on the real stdout
    try:
        import numpy as np  # noqa: PLC0415  numpy: only where tensor data is read
        import onnxruntime as ort  # noqa: PLC0415  onnxruntime: only runs need it
    except ImportError as e:
        out.write(json.dumps({"ready": False, "missing": True,
                              "error": f"onnxruntime is not installed ({e})"}) + "\n")
        out.flush()
        return 0
    if providers == ["auto"]:
        providers = ["CPUExecutionProvider"]
        if "CUDAExecutionProvider" in ort.get_available_providers() and (
                os.path.exists("/dev/nvidia0") or os.path.exists("/dev/nvidiactl")):
            providers.insert(0, "CUDAExecutionProvider")

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[opt_level]
    so.intra_op_num_threads = int(os.environ.get("GRAPHSHAPE_THREADS", "0"))
    try:
        sess = ort.InferenceSession(model_path, so, providers=providers)
        hello = {"ready": True, "providers": sess.get_providers()}
    except Exception as e:  # noqa: BLE001  the parent reports it in one line
        hello = {"ready": False, "providers": providers,
                 "error": (str(e).splitlines() or [type(e).__name__])[0][:500]}
    out.write(json.dumps(hello) + "\n")
    out.flush()
    if not hello["ready"]:
        return 0
    rng = np.random.default_rng(0)
    pools: dict = {}  # (fill, dtype) -> random values drawn once, grown when a size needs more

    def draw(fill, shape, dtype):
        """Random data of ``shape``: a prefix of one pool, so that a size costs no new draw
        (drawing is most of a small model's run at a large size)."""
        n = math.prod(shape)
        pool = pools.get((fill, dtype.str))
        if pool is None or pool.size < n:
            m = max(n, 2 * (pool.size if pool is not None else 0), 1 << 16)
            vals = rng.standard_normal(m) if fill == "normal" else rng.random(m)
            pool = pools[(fill, dtype.str)] = vals.astype(dtype)
        return pool[:n].reshape(shape)  # a view: onnxruntime does not write its inputs

    def feeds_for(inputs, fill):
        feeds = {}
        for name, spec in inputs.items():
            shape, dtype = spec["shape"], np.dtype(spec["dtype"])
            if dtype.kind == "f" and fill != "normal":
                feeds[name] = (np.zeros(shape, dtype) if fill == "zeros" else
                               np.full(shape, 1e30, dtype) if fill == "huge" else
                               draw(fill, shape, dtype))
            elif dtype.kind == "f":
                feeds[name] = draw(fill, shape, dtype)
            elif dtype.kind == "b":
                feeds[name] = np.ones(shape, dtype)
            else:
                feeds[name] = np.zeros(shape, dtype)
        return feeds

    for line in sys.stdin:
        req = json.loads(line)
        reply = {}
        secs = 0.0
        # other data, other counts (a detector's boxes): the first fill that fails decides
        for fill in req.get("fills") or [req.get("fill", "normal")]:
            feeds = feeds_for(req["inputs"], fill)
            t = time.perf_counter()
            try:
                res = sess.run(None, feeds)
                reply = {"ok": True, "shapes": {o.name: list(r.shape) for o, r in
                                                zip(sess.get_outputs(), res)}}
            except Exception as e:  # noqa: BLE001
                reply = {"ok": False, "fill": fill, "error": " ".join(str(e).split())[:800]}
            secs += time.perf_counter() - t
            if not reply["ok"]:
                break
        reply["seconds"] = secs
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
