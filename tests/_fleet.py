"""Small hand-built models for the registry-audit tests (onnx.helper, ir_version 10), each
a real ONNX file that onnxruntime runs, and helpers shared by the test_fleet_* modules."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _save(graph, path: str, **save) -> str:
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 10
    onnx.checker.check_model(m)
    onnx.save(m, path, **save)
    return path


def conv(path: str, k: int = 3, name: str = "c") -> str:
    """X[1, 1, H, W] -> Conv k x k (no padding): valid for H, W >= k."""
    g = h.make_graph([h.make_node("Conv", ["X", "w"], ["Y"], name=name, kernel_shape=[k, k])],
                     "conv", [h.make_tensor_value_info("X", T.FLOAT, [1, 1, "H", "W"])],
                     [h.make_tensor_value_info("Y", T.FLOAT, [1, 1, None, None])],
                     [nh.from_array(np.full((1, 1, k, k), 0.5, np.float32), "w")])
    return _save(g, path)


def sigfpe(path: str) -> str:
    """A 1x1 Conv then MaxPool k3 s2 with 16 channels: onnxruntime's NCHWc pooling dies
    with SIGFPE on a 1x1 map (default optimisation level)."""
    g = h.make_graph([h.make_node("Conv", ["X", "w"], ["c"], name="conv", kernel_shape=[1, 1]),
                      h.make_node("MaxPool", ["c"], ["Y"], name="pool", kernel_shape=[3, 3],
                                  strides=[2, 2])],
                     "fpe", [h.make_tensor_value_info("X", T.FLOAT, [1, 16, "H", "W"])],
                     [h.make_tensor_value_info("Y", T.FLOAT, [1, 16, None, None])],
                     [nh.from_array(np.ones((16, 16, 1, 1), np.float32), "w")])
    return _save(g, path)


def loop(path: str, trips: int) -> str:
    """X[N] -> Loop of ``trips`` Adds: onnxruntime takes about a second per million trips
    (10**12: it never finishes)."""
    body = h.make_graph(
        [h.make_node("Add", ["x_in", "one"], ["x_out"]),
         h.make_node("Identity", ["cond_in"], ["cond_out"])], "body",
        [h.make_tensor_value_info("i", T.INT64, []),
         h.make_tensor_value_info("cond_in", T.BOOL, []),
         h.make_tensor_value_info("x_in", T.FLOAT, ["N"])],
        [h.make_tensor_value_info("cond_out", T.BOOL, []),
         h.make_tensor_value_info("x_out", T.FLOAT, ["N"])],
        [nh.from_array(np.array([1.0], np.float32), "one")])
    g = h.make_graph([h.make_node("Loop", ["M", "c", "X"], ["Y"], name="loop", body=body)],
                     "loop", [h.make_tensor_value_info("X", T.FLOAT, ["N"])],
                     [h.make_tensor_value_info("Y", T.FLOAT, ["N"])],
                     [nh.from_array(np.array(trips, np.int64), "M"),
                      nh.from_array(np.array(True), "c")])
    return _save(g, path)


def hog(path: str, per_item: int) -> str:
    """X[N] -> ConstantOfShape(N * per_item) -> Sqrt -> Sqrt -> ReduceSum: onnxruntime holds
    a few buffers of 4 * N * per_item bytes (not folded: the size comes from the input)."""
    g = h.make_graph(
        [h.make_node("Shape", ["X"], ["s"]), h.make_node("Mul", ["s", "k"], ["n"]),
         h.make_node("ConstantOfShape", ["n"], ["a"],
                     value=nh.from_array(np.array([2.0], np.float32))),
         h.make_node("Sqrt", ["a"], ["b"]), h.make_node("Sqrt", ["b"], ["c"]),
         h.make_node("ReduceSum", ["c"], ["Y"], keepdims=0)],
        "hog", [h.make_tensor_value_info("X", T.FLOAT, ["N"])],
        [h.make_tensor_value_info("Y", T.FLOAT, [])],
        [nh.from_array(np.array([per_item], np.int64), "k")])
    return _save(g, path)


def external(path: str, k: int = 3) -> str:
    """The conv model with its weight in an external data file ``<name>.data``."""
    g = h.make_graph([h.make_node("Conv", ["X", "w"], ["Y"], name="c", kernel_shape=[k, k])],
                     "ext", [h.make_tensor_value_info("X", T.FLOAT, [1, 1, "H", "W"])],
                     [h.make_tensor_value_info("Y", T.FLOAT, [1, 1, None, None])],
                     [nh.from_array(np.full((1, 1, k, k), 0.5, np.float32), "w")])
    name = os.path.basename(path) + ".data"
    return _save(g, path, save_as_external_data=True, all_tensors_to_one_file=True,
                 location=name, size_threshold=0)


def pinned(src: str, path: str, sizes: dict) -> str:
    """A copy of ``src`` whose input dims named in ``sizes`` are fixed numbers."""
    m = onnx.load(src)
    for vi in m.graph.input:
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param in sizes:
                value = sizes[d.dim_param]
                d.Clear()
                d.dim_value = value
    onnx.save(m, path)
    return path


def copy(src: str, path: str) -> str:
    shutil.copy(src, path)
    return path


def default_sigint() -> None:
    """In the child before it runs: Ctrl-C as a terminal delivers it. A suite started in the
    background by a shell without job control inherits SIGINT ignored, and Python then
    never turns it into KeyboardInterrupt (the Ctrl-C tests would see a run that ignores
    it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def graphshape_cli(*args, env=None, **kw) -> subprocess.Popen:
    """`graphshape ARGS` in a new process (stdout and stderr piped)."""
    return subprocess.Popen([sys.executable, "-m", "graphshape.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=dict(os.environ, **(env or {})),
                            preexec_fn=default_sigint, **kw)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def night_one(reg, toy_path) -> None:
    """The registry of the diff tests' first night: a (Conv 3x3), b, old, toy."""
    reg.mkdir()
    conv(str(reg / "a.onnx"), 3)
    conv(str(reg / "b.onnx"), 2, name="b")
    conv(str(reg / "old.onnx"), 4, name="o")
    copy(toy_path, str(reg / "toy.onnx"))


def night_two(reg, toy_path) -> None:
    """What changed by the second night: a became a 5x5 Conv, old was removed, new was
    added, b was renamed b2, toy was replaced by its variant pinned to 256x256."""
    conv(str(reg / "a.onnx"), 5)
    os.remove(reg / "old.onnx")
    conv(str(reg / "new.onnx"), 7, name="n")
    os.rename(reg / "b.onnx", reg / "b2.onnx")
    pinned(toy_path, str(reg / "toy.onnx"), {"H": 256, "W": 256})
