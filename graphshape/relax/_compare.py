"""Child process: run the original and the relaxed model on the same random inputs (fixed
seed) and print the largest absolute difference of every output, as one JSON line.

Run by path (not ``-m``) so that graphshape's own imports are not paid; a native crash of
onnxruntime kills only this process."""

import json
import sys


def main():
    import numpy as np  # noqa: PLC0415  numpy: only where tensor data is read
    import onnxruntime as ort  # noqa: PLC0415  onnxruntime: only runs need it

    job = json.loads(sys.stdin.readline())
    rng = np.random.default_rng(job["seed"])
    feeds = {}
    for name, spec in job["inputs"].items():
        dt = np.dtype(spec["dtype"])
        if dt.kind == "f":
            feeds[name] = rng.standard_normal(spec["shape"]).astype(dt)
        elif dt.kind == "b":
            feeds[name] = rng.integers(0, 2, spec["shape"]).astype(dt)
        else:
            feeds[name] = rng.integers(0, 2, spec["shape"]).astype(dt)
    results = []
    for path in (job["original"], job["relaxed"]):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        try:
            sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
            names = [o.name for o in sess.get_outputs()]
            wanted = {i.name for i in sess.get_inputs()}
            outs = sess.run(None, {k: v for k, v in feeds.items() if k in wanted})
            results.append(dict(zip(names, outs)))
        except Exception as e:  # noqa: BLE001  reported, not raised
            print(json.dumps({"error": f"{path}: {type(e).__name__}: "
                                       f"{str(e).splitlines()[0] if str(e) else ''}"}))
            return
    a, b = results
    rows = {}
    for name, x in a.items():
        y = b.get(name)
        if y is None:
            rows[name] = {"missing": True}
            continue
        same = x.shape == y.shape
        diff = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) \
            if same and x.size else 0.0
        scale = float(np.max(np.abs(x.astype(np.float64)))) if x.size else 0.0
        rows[name] = {"shape": list(x.shape), "relaxed_shape": list(y.shape),
                      "max_abs_diff": diff if same else None, "max_abs": scale}
    print(json.dumps({"outputs": rows}))


if __name__ == "__main__":
    main()
