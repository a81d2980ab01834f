"""A corpus of bad inputs run through the CLI: each a real file built in tmp_path.

Every one must end with a one-line error on stderr and exit 2 (unknown ops and domains:
'unproven', exit 3), never a traceback, never a hang, and never an output file (not even
a partial one) when -o is given.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

BIN = [sys.executable, "-m", "graphshape.cli"]
TIMEOUT = 120


def run(*args, cwd=None):
    p = subprocess.run(BIN + [str(a) for a in args], capture_output=True, text=True,
                       cwd=cwd, timeout=TIMEOUT, check=False)
    return p.returncode, p.stdout, p.stderr


def assert_one_line_error(rc, out, err, code=2):
    assert rc == code, (rc, out, err)
    assert "Traceback" not in err and "Traceback" not in out, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("graphshape: error:"), err


def _save(path, nodes, inits=(), inputs=None, opsets=(("", 17),)):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, "H", "W"])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, "g", inputs or [x], [y], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = 10
    onnx.save(m, str(path))
    return str(path)


def _conv_model(path):
    w = numpy_helper.from_array(np.arange(72, dtype=np.float32).reshape(8, 1, 3, 3), "w")
    w2 = numpy_helper.from_array(np.ones((1, 8, 3, 3), np.float32), "w2")
    return _save(path, [
        helper.make_node("Conv", ["X", "w"], ["A"], name="c1", strides=[2, 2]),
        helper.make_node("Relu", ["A"], ["B"], name="r"),
        helper.make_node("Conv", ["B", "w2"], ["Y"], name="c2"),
    ], [w, w2])


def _external(t: onnx.TensorProto, location: str, length: int, offset: int = 0):
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


# ---- builders: each returns the path to hand to the CLI ------------------------------

def empty_file(d):
    p = d / "empty.onnx"
    p.write_bytes(b"")
    return str(p)


def truncated(d):
    with open(_conv_model(d / "whole.onnx"), "rb") as f:
        whole = f.read()
    p = d / "truncated.onnx"
    p.write_bytes(whole[: len(whole) // 2])
    return str(p)


def random_bytes(d):
    p = d / "random.onnx"
    p.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return str(p)


def tensor_proto(d):
    p = d / "tensor.onnx"
    t = numpy_helper.from_array(np.ones((4, 4), np.float32), "t")
    p.write_bytes(t.SerializeToString())
    return str(p)


def graph_proto(d):
    m = onnx.load(_conv_model(d / "whole.onnx"))
    p = d / "graph.onnx"
    p.write_bytes(m.graph.SerializeToString())
    return str(p)


def cycle(d):
    return _save(d / "cycle.onnx", [
        helper.make_node("Relu", ["Z"], ["A"], name="r1"),
        helper.make_node("Relu", ["A"], ["Z"], name="r2"),
        helper.make_node("Add", ["X", "Z"], ["Y"], name="add"),
    ])


def missing_initializer(d):
    return _save(d / "missing.onnx", [helper.make_node("Conv", ["X", "w"], ["Y"], name="c")])


def missing_external_file(d):
    t = _external(numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w"),
                  "weights.bin", 36)
    return _save(d / "ext.onnx", [helper.make_node("Conv", ["X", "w"], ["Y"], name="c")], [t])


def external_file_too_short(d):
    t = _external(numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w"),
                  "short.bin", 36)
    (d / "short.bin").write_bytes(b"\0" * 8)
    return _save(d / "short.onnx", [helper.make_node("Conv", ["X", "w"], ["Y"], name="c")],
                 [t])


def external_outside_folder(d):
    t = _external(numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w"),
                  "../../etc/passwd", 36)
    return _save(d / "escape.onnx", [helper.make_node("Conv", ["X", "w"], ["Y"], name="c")],
                 [t])


def _window(op, **attrs):
    def build(d):
        inits = []
        ins = ["X"]
        if op == "Conv":
            ins.append("w")
            inits.append(numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w"))
        return _save(d / f"{op}.onnx", [helper.make_node(op, ins, ["Y"], name="n", **attrs)],
                     inits)

    build.__name__ = f"{op}_" + "_".join(f"{k}{v}" for k, v in attrs.items())
    return build


def no_rank_input(d):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, None)
    return _save(d / "norank.onnx", [helper.make_node("Relu", ["X"], ["Y"], name="r")],
                 inputs=[x])


def output_produced_by_nobody(d):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, "H"])
    y = helper.make_tensor_value_info("Nowhere", TensorProto.FLOAT, None)
    g = helper.make_graph([helper.make_node("Relu", ["X"], ["Y"], name="r")], "g", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 10
    p = d / "noout.onnx"
    onnx.save(m, str(p))
    return str(p)


BAD = [empty_file, truncated, random_bytes, tensor_proto, graph_proto, cycle,
       missing_initializer, missing_external_file, external_file_too_short,
       external_outside_folder, output_produced_by_nobody,
       _window("Conv", kernel_shape=[0, 0]), _window("Conv", kernel_shape=[3, 3], strides=[0, 0]),
       _window("Conv", kernel_shape=[3, 3], strides=[-1, 1]),
       _window("Conv", kernel_shape=[3, 3], pads=[-1, 0, 0, 0]),
       _window("MaxPool", kernel_shape=[0, 2]), _window("MaxPool", kernel_shape=[-3, 2]),
       _window("AveragePool", kernel_shape=[2, 2], strides=[0, 1]),
       _window("MaxPool", kernel_shape=[2, 2], dilations=[0, 1])]


@pytest.mark.parametrize("build", BAD, ids=lambda b: b.__name__)
@pytest.mark.parametrize("command", ["analyze", "check"])
def test_bad_model_is_one_line_exit_2(tmp_path, build, command):
    path = build(tmp_path)
    args = [command, path] + (["--size", "H=8", "--size", "W=8"] if command == "check" else [])
    rc, out, err = run(*args)
    assert_one_line_error(rc, out, err)


@pytest.mark.parametrize("build", [empty_file, truncated, cycle, missing_external_file,
                                   _window("Conv", kernel_shape=[3, 3], strides=[0, 0])],
                         ids=lambda b: b.__name__)
def test_no_output_file_on_error(tmp_path, build):
    path = build(tmp_path)
    dest = tmp_path / "out" / "report.json"
    dest.parent.mkdir()
    rc, out, err = run("analyze", path, "--json", "-o", dest)
    assert_one_line_error(rc, out, err)
    assert os.listdir(dest.parent) == []


@pytest.mark.parametrize("where", ["directory", "missing"])
@pytest.mark.parametrize("command", ["analyze", "check"])
def test_not_a_file(tmp_path, where, command):
    path = tmp_path if where == "directory" else tmp_path / "no-such.onnx"
    args = [command, path] + (["--size", "H=8"] if command == "check" else [])
    rc, out, err = run(*args)
    assert_one_line_error(rc, out, err)
    assert ("directory" if where == "directory" else "no such file") in err


@pytest.mark.parametrize("op,domain", [("FooBar", ""), ("Conv2", "com.example")])
@pytest.mark.parametrize("command", ["analyze", "check"])
def test_unknown_op_is_unproven_exit_3(tmp_path, op, domain, command):
    opsets = (("", 17),) + (((domain, 1),) if domain else ())
    path = _save(tmp_path / "unknown.onnx",
                 [helper.make_node(op, ["X"], ["Y"], name="u", domain=domain)], opsets=opsets)
    args = [command, path] + (["--size", "H=8", "--size", "W=8"] if command == "check" else [])
    rc, out, err = run(*args)
    assert rc == 3, (out, err)
    assert "Traceback" not in err
    assert "unproven" in out.lower() and op in out


@pytest.mark.parametrize("command", ["analyze", "check"])
def test_an_input_without_rank_is_unproven_exit_3(tmp_path, command):
    """onnxruntime loads such a model and runs it at any rank: not a bad file, but nothing
    graphshape can reason from (one line, exit 3)."""
    path = no_rank_input(tmp_path)
    args = [command, path] + (["--size", "H=8"] if command == "check" else [])
    rc, out, err = run(*args)
    assert rc == 3, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "has no declared rank" in err


@pytest.mark.parametrize("size,needle", [
    ("H=0", "out of range (1 .."), ("H=-1", "sizes start at 0"),  # 0 where it may be empty
    ("H=1000000000000", "larger than"), ("H=abc", "not an integer"), ("H=", "not an integer"),
    ("H=1.5", "not an integer"), ("H", "expected NAME=INT"), ("=3", "unknown dim"),
    ("H=" + "9" * 400, "larger than"),
])
def test_absurd_sizes(tmp_path, size, needle):
    path = _conv_model(tmp_path / "m.onnx")
    rc, out, err = run("check", path, "--size", size, "--size", "W=16")
    assert_one_line_error(rc, out, err)
    assert needle in err


def test_model_over_2gb_with_external_data_is_not_read(tmp_path):
    """A 2.4 GB initializer in a sparse external file: the analysis must only look at its
    metadata (peak memory far below the data's size) and finish quickly."""
    k = 600_000_000  # float32: 2.4 GB
    big = TensorProto()
    big.name, big.data_type = "big", TensorProto.FLOAT
    big.dims.extend([1, 1, 1, k])
    _external(big, "big.bin", 4 * k)
    with open(tmp_path / "big.bin", "wb") as f:
        f.seek(4 * k - 1)
        f.write(b"\0")  # sparse: takes (almost) no disk
    w = numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")
    path = _save(tmp_path / "big.onnx", [
        helper.make_node("Conv", ["X", "w"], ["C"], name="c"),
        helper.make_node("Add", ["C", "big"], ["Y"], name="add"),
    ], [w, big])
    assert os.path.getsize(path) < 10_000
    t0 = time.perf_counter()
    p = subprocess.Popen(BIN + ["analyze", path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise
    seconds = time.perf_counter() - t0
    assert "Traceback" not in err, err
    assert p.returncode == 0, (out, err)
    assert "600000000" in out, out  # the Add broadcasts W - 2 against the big axis
    assert seconds < 60
    # graphshape never loads the data: a second run under a 1.5 GiB address-space limit
    # (the data alone is 2.4 GB) must give the same answer
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))

    q = subprocess.run(BIN + ["analyze", path], capture_output=True, text=True,
                       timeout=TIMEOUT, preexec_fn=limit, check=False)
    assert q.returncode == 0 and q.stdout == out, (q.returncode, q.stderr[-500:])
