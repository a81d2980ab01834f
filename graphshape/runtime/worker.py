"""Child process that runs onnxruntime for graphshape's verifier.

Protocol: one JSON request per stdin line ({"inputs": {name: {"shape", "dtype"}}, "fill":
"normal" | "uniform" | "zeros" | "huge" (every element 1e30) for float inputs (default
normal)}), one
JSON reply per stdout line. Native crashes (SIGFPE, SIGSEGV) kill only this process; the
parent records them as failures and starts a new worker.
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
    import numpy as np  # noqa: PLC0415  numpy: only where tensor data is read
    import onnxruntime as ort  # noqa: PLC0415  onnxruntime: only runs need it

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
        hello = {"ready": False, "error": str(e).splitlines()[0][:500]}
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
        return pool[:n].reshape(shape).copy()

    for line in sys.stdin:
        req = json.loads(line)
        feeds = {}
        fill = req.get("fill", "normal")  # other data, other counts (a detector's boxes)
        for name, spec in req["inputs"].items():
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
        t = time.perf_counter()
        try:
            res = sess.run(None, feeds)
            reply = {"ok": True, "shapes": {o.name: list(r.shape) for o, r in
                                            zip(sess.get_outputs(), res)}}
        except Exception as e:  # noqa: BLE001
            reply = {"ok": False, "error": " ".join(str(e).split())[:800]}
        reply["seconds"] = time.perf_counter() - t
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
