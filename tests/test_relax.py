"""relax (issue 13): rewrites that free a model pinned to its export size.

Every case runs onnxruntime before and after: relax itself runs the original and the
relaxed model on the same random input at the export size (the comparison must be exact
or within float rounding), then the relaxed model at the new domain's edges through
graphshape.verify (every prediction must agree); the hand-written cases also run the
relaxed model at a size the original rejected and compare with a numpy reference.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from click.testing import CliRunner

import graphshape
from graphshape.cli import main
from graphshape.errors import UsageError
from graphshape.relax import relax
from models import registry

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
HDR = '<ir_version: 10, opset_import: ["" : 17]>\n'
HW = {"x:2": "H", "x:3": "W"}


def _model(tmp_path, text, name="m.onnx", initializers=None, value_info=None) -> str:
    m = onnx.parser.parse_model(HDR + text)
    for arr_name, arr in (initializers or {}).items():
        m.graph.initializer.append(onnx.numpy_helper.from_array(arr, arr_name))
        for i, vi in enumerate(m.graph.input):
            if vi.name == arr_name:
                del m.graph.input[i]
                break
    for vname, shape in (value_info or {}).items():
        m.graph.value_info.append(onnx.helper.make_tensor_value_info(vname, 1, shape))
    onnx.checker.check_model(m)
    path = os.path.join(tmp_path, name)
    onnx.save(m, path)
    return path


def _run(path, **feeds):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


def _relaxed(src, out, dims, points=4, **kw):
    res = relax(src, out, dims=dims, max_points=points, **kw)
    assert res.ok, res.failure
    for name, row in res.comparison["outputs"].items():
        assert row["max_abs_diff"] is not None, name
        assert row["max_abs_diff"] <= 1e-5 * max(1.0, row["max_abs"]), (name, row)
    assert res.verification.ok and res.verification.compared, res.verification.summary()
    assert res.lost == []
    assert os.path.exists(out)
    return res


def _adaptive_avg(x, out_hw):
    n, c, h, w = x.shape
    ph, pw = out_hw
    y = np.zeros((n, c, ph, pw), dtype=np.float64)
    for i in range(ph):
        h0, h1 = (i * h) // ph, -((-(i + 1) * h) // ph)
        for j in range(pw):
            w0, w1 = (j * w) // pw, -((-(j + 1) * w) // pw)
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


_STATE = ort.capi.onnxruntime_pybind11_state
ORT_ERRORS = (_STATE.Fail, _STATE.InvalidArgument, _STATE.RuntimeException,
              _STATE.InvalidGraph)
RNG = np.random.default_rng(0)
W_HEAD = RNG.standard_normal((32, 5)).astype(np.float32)
B3 = np.array([1.0, 2.0, 3.0], dtype=np.float32).reshape(1, 3, 1, 1)

# name, graph text, dims, initializers, rewrite kinds, domain before, after,
# a size the original rejects, the numpy reference of the relaxed model there
ROWS = [
    ("avgpool", """g (float[1,3,8,8] x) => (float[1,3] y) {
        p = AveragePool <kernel_shape = [8, 8]> (x)
        s = Constant <value = int64[2] {1, 3}> ()
        y = Reshape (p, s)
     }""", HW, None, ["global-pool", "reshape"], "H = 8; W = 8", "any H; any W",
     (13, 5), lambda x: x.mean(axis=(2, 3))),
    ("maxpool", """g (float[1,3,8,8] x) => (float[1,3] y) {
        p = MaxPool <kernel_shape = [8, 8]> (x)
        s = Constant <value = int64[2] {1, 3}> ()
        y = Reshape (p, s)
     }""", HW, None, ["global-pool", "reshape"], "H = 8; W = 8", "any H; any W",
     (3, 11), lambda x: x.max(axis=(2, 3))),
    ("reshape_gather", """g (float[1,6,8] x) => (float[6,8,1] y) {
        s = Constant <value = int64[3] {6, 8, 1}> ()
        y = Reshape (x, s)
     }""", {"x:1": "H", "x:2": "W"}, None, ["reshape", "value-info"], None, "any H; any W",
     (5, 7), lambda x: x.reshape(5, 7, 1)),
    ("reshape_copy", """g (float[1,6,4] x) => (float[1,6,4,1] y) {
        s = Constant <value = int64[4] {1, 6, 4, 1}> ()
        y = Reshape (x, s)
     }""", {"x:1": "H", "x:2": "W"}, None, ["reshape", "value-info"],
     None, "any H; any W", (5, 7), lambda x: x.reshape(1, 5, 7, 1)),
    ("reshape_allowzero", """g (float[1,6,4] x) => (float[1,6,4,1] y) {
        s = Constant <value = int64[4] {1, 6, 4, 1}> ()
        y = Reshape <allowzero = 1> (x, s)
     }""", {"x:1": "H", "x:2": "W"}, None, ["reshape", "value-info"],
     None, "any H; any W", (5, 7), lambda x: x.reshape(1, 5, 7, 1)),
    ("resize", """g (float[1,2,4,4] x) => (float[1,2,8,8] y) {
        r = Constant <value = float[0] {}> ()
        sc = Constant <value = float[0] {}> ()
        sz = Constant <value = int64[4] {1, 2, 8, 8}> ()
        u = Resize <mode = "nearest"> (x, r, sc, sz)
        rep = Constant <value = int64[4] {1, 1, 2, 2}> ()
        t = Tile (x, rep)
        y = Add (u, t)
     }""", HW, None, ["resize", "value-info"], "H = 4; W = 4", "any H; any W",
     (5, 3), lambda x: x.repeat(2, axis=2).repeat(2, axis=3) + np.tile(x, (1, 1, 2, 2))),
    ("resize_linear", """g (float[1,2,4,4] x) => (float[1,2,8,8] y) {
        r = Constant <value = float[0] {}> ()
        sc = Constant <value = float[0] {}> ()
        sz = Constant <value = int64[4] {1, 2, 8, 8}> ()
        u = Resize <mode = "linear", coordinate_transformation_mode = "half_pixel"> (x, r,
                                                                                     sc, sz)
        rep = Constant <value = int64[4] {1, 1, 2, 2}> ()
        t = Tile (x, rep)
        y = Add (u, t)
     }""", HW, None, ["resize", "value-info"], "H = 4; W = 4", "any H; any W", None, None),
    ("slice", """g (float[1,3,10] x) => (float[1,3,9] y) {
        s1 = Constant <value = int64[1] {1}> ()
        e1 = Constant <value = int64[1] {10}> ()
        s0 = Constant <value = int64[1] {0}> ()
        e0 = Constant <value = int64[1] {9}> ()
        ax = Constant <value = int64[1] {2}> ()
        a = Slice (x, s1, e1, ax)
        b = Slice (x, s0, e0, ax)
        y = Sub (a, b)
     }""", {"x:2": "W"}, None, ["slice", "slice", "value-info"], "(W = 2 or W >= 10)",
     "any W >= 2", (13,), lambda x: x[..., 1:] - x[..., :-1]),
    ("slice_int32", """g (float[1,3,10] x) => (float[1,3,10] y) {
        s0 = Constant <value = int32[1] {0}> ()
        e = Constant <value = int32[1] {10}> ()
        ax = Constant <value = int32[1] {2}> ()
        a = Slice (x, s0, e, ax)
        y = Add (a, x)
     }""", {"x:2": "W"}, None, ["slice", "value-info"], "1 <= W <= 10", "any W", (13,),
     lambda x: 2 * x),
    ("range", """g (float[1,4,8] x) => (float[1,4,8] y) {
        z = Constant <value = int64 {0}> ()
        lim = Constant <value = int64 {8}> ()
        o = Constant <value = int64 {1}> ()
        r = Range (z, lim, o)
        f = Cast <to = 1> (r)
        y = Add (x, f)
     }""", {"x:2": "W"}, None, ["range", "value-info"], "(W = 1 or W = 8)", "any W", (5,),
     lambda x: x + np.arange(5, dtype=np.float32)),
    ("expand", """g (float[1,3,4,4] x) => (float[1,3,4,4] y) {
        b = Constant <value = float[1,3,1,1] {1, 2, 3}> ()
        s = Constant <value = int64[4] {1, 3, 4, 4}> ()
        e = Expand (b, s)
        y = Add (x, e)
     }""", HW, None, ["expand", "value-info"], "(H = 1 or H = 4); (W = 1 or W = 4)",
     "any H; any W", (5, 3), lambda x: x + B3),
    ("expand_own_size", """g (float[1,3,4,4] x) => (float[2,3,4,4] y) {
        s = Constant <value = int64[4] {2, 3, 4, 4}> ()
        y = Expand (x, s)
     }""", HW, None, ["expand", "value-info"], "(H = 1 or H = 4); (W = 1 or W = 4)",
     "any H; any W", (5, 3), lambda x: np.concatenate([x, x])),
    ("tile", """g (float[1,3,4,4] x) => (float[1,3,4,4] y) {
        b = Constant <value = float[1,3,1,1] {1, 2, 3}> ()
        s = Constant <value = int64[4] {1, 1, 4, 4}> ()
        e = Tile (b, s)
        y = Mul (x, e)
     }""", HW, None, ["tile", "value-info"], "(H = 1 or H = 4); (W = 1 or W = 4)",
     "any H; any W", (6, 2), lambda x: x * B3),
    ("constant_of_shape", """g (float[1,3,4,4] x) => (float[1,3,4,4] y) {
        s = Constant <value = int64[4] {1, 1, 4, 4}> ()
        m = ConstantOfShape <value = float[1] {2}> (s)
        y = Mul (x, m)
     }""", HW, None, ["constant-of-shape", "value-info"],
     "(H = 1 or H = 4); (W = 1 or W = 4)", "any H; any W", (2, 9), lambda x: 2 * x),
    ("value_info", """g (float[1,3,8,8] x) => (float[1,3,8,8] y) {
        y = Relu (x)
     }""", HW, None, ["value-info"], "any H; any W", "any H; any W", (5, 9),
     lambda x: np.maximum(x, 0)),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_hand_written_rewrites(tmp_path, row):
    name, text, dims, inits, kinds, before, after, new_size, ref = row
    src = _model(tmp_path, text, f"{name}.onnx", inits)
    out = os.path.join(tmp_path, f"{name}_relaxed.onnx")
    res = _relaxed(src, out, dims)
    assert [r.kind for r in res.rewrites] == kinds
    for r in res.rewrites:
        assert r.node and r.before and r.after and r.why
    if before is not None:
        assert res.before == before
    assert res.after == after
    assert res.before != res.after or name == "value_info"
    # the original at the export size on onnxruntime, and the relaxed model where the
    # original cannot run
    shape = list(onnx.load(src).graph.input[0].type.tensor_type.shape.dim)
    export = [d.dim_value for d in shape]
    x0 = RNG.standard_normal(export).astype(np.float32)
    np.testing.assert_allclose(_run(out, x=x0), _run(src, x=x0), rtol=1e-6, atol=1e-6)
    if new_size is not None:
        axes = [int(k.split(":")[1]) for k in dims]
        big = list(export)
        for a, v in zip(axes, new_size):
            big[a] = v
        x = RNG.standard_normal(big).astype(np.float32)
        # the original, its input axes made symbolic, where its domain says no: it fails
        sizes = dict(zip(dims.values(), new_size))
        if not graphshape.analyze(src, dims=dims).domain.contains(sizes):
            with pytest.raises(ORT_ERRORS):
                _run(_symbolic_copy(src, dims), x=x)
        np.testing.assert_allclose(_run(out, x=x), ref(x), rtol=1e-5, atol=1e-5)


def _symbolic_copy(src, dims) -> str:
    m = onnx.load(src)
    for key, name in dims.items():
        axis = int(key.split(":")[1])
        d = m.graph.input[0].type.tensor_type.shape.dim[axis]
        d.Clear()
        d.dim_param = name
    del m.graph.value_info[:]
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    path = src[:-5] + "_sym.onnx"
    onnx.save(m, path)
    return path


def test_value_info_cleared_and_inputs_symbolic(tmp_path):
    src = _model(tmp_path, """g (float[1,3,8,8] x) => (float[1,3] y) {
        r = Relu (x)
        p = AveragePool <kernel_shape = [8, 8]> (r)
        s = Constant <value = int64[2] {1, 3}> ()
        y = Reshape (p, s)
     }""", value_info={"r": [1, 3, 8, 8], "p": [1, 3, 1, 1]})
    out = os.path.join(tmp_path, "out.onnx")
    _relaxed(src, out, HW)
    m = onnx.load(out)
    dims = {vi.name: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
            for vi in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
    assert dims["x"] == [1, 3, "H", "W"]
    assert dims["r"] == [1, 3, "H", "W"]
    assert dims["p"] == [1, 3, 1, 1]  # a global pool's map is 1x1 at every size
    assert dims["y"] == [1, 3]


def test_resize_to_a_size_is_left(tmp_path):
    """Sizes that are not the input times a whole-number scale look intended: left."""
    src = _model(tmp_path, """g (float[1,2,4,4] x) => (float[1,2,7,7] y) {
        r = Constant <value = float[0] {}> ()
        sc = Constant <value = float[0] {}> ()
        sz = Constant <value = int64[4] {1, 2, 7, 7}> ()
        y = Resize <mode = "nearest"> (x, r, sc, sz)
     }""")
    res = relax(src, None, dims=HW, dry_run=True)
    assert res.rewrites == []
    assert any(x.op == "Resize" and "whole-number" in x.why for x in res.left)


def test_reshape_split_of_a_varying_axis_is_left(tmp_path):
    src = _model(tmp_path, """g (float[1,12] x) => (float[1,3,4] y) {
        s = Constant <value = int64[3] {1, 3, 4}> ()
        y = Reshape (x, s)
     }""")
    res = relax(src, None, dims={"x:1": "S"}, dry_run=True)
    assert [r.kind for r in res.rewrites] == []
    assert any(x.op == "Reshape" and "cannot be told" in x.why for x in res.left)


def test_adapt_head_exact_at_export_and_adaptive_elsewhere(tmp_path):
    text = """g (float[1,2,4,4] x, float[32,5] w) => (float[1,5] y) {
        f = Flatten (x)
        y = Gemm (f, w)
     }"""
    src = _model(tmp_path, text, initializers={"w": W_HEAD})
    plain = relax(src, None, dims=HW, dry_run=True)
    pins = [x for x in plain.left if x.why.startswith("real pin")]
    assert pins and pins[0].op == "Gemm" and "4x4" in pins[0].why
    assert plain.after == plain.before
    out = os.path.join(tmp_path, "adapted.onnx")
    res = _relaxed(src, out, HW, adapt_head=True)
    assert [r.kind for r in res.rewrites] == ["adapt-head"]
    assert "adapted model's" in res.rewrites[0].why
    assert res.comparison["outputs"]["y"]["max_abs_diff"] == 0.0
    assert res.after == "any H; any W"
    for h, w in [(9, 5), (3, 2), (17, 31), (1, 1)]:
        x = RNG.standard_normal((1, 2, h, w)).astype(np.float32)
        ref = _adaptive_avg(x, (4, 4)).reshape(1, -1) @ W_HEAD
        np.testing.assert_allclose(_run(out, x=x), ref, rtol=1e-5, atol=1e-5)


def test_output_keeps_external_data_opsets_names_metadata(tmp_path):
    text = """g (float[1,2,4,4] x, float[32,5] w) => (float[1,5] y) {
        f = Flatten (x)
        y = Gemm (f, w)
     }"""
    src = _model(tmp_path, text, initializers={"w": W_HEAD})
    m = onnx.load(src)
    m.producer_name, m.doc_string = "relax-test", "a doc string"
    onnx.helper.set_model_props(m, {"author": "graphshape", "purpose": "test"})
    m.graph.node[0].name, m.graph.node[1].name = "flat", "head"
    ext = os.path.join(tmp_path, "ext")
    os.makedirs(ext)
    src = os.path.join(ext, "model.onnx")
    onnx.save(m, src, save_as_external_data=True, all_tensors_to_one_file=True,
              location="model.weights", size_threshold=0)
    outdir = os.path.join(tmp_path, "out")
    os.makedirs(outdir)
    out = os.path.join(outdir, "relaxed.onnx")
    res = _relaxed(src, out, HW, adapt_head=True)
    assert sorted(os.listdir(outdir)) == ["relaxed.onnx", "relaxed.onnx.data"]
    assert res.written == [out + ".data", out]
    r = onnx.load(out, load_external_data=False)
    (w,) = [t for t in r.graph.initializer if t.name == "w"]
    assert w.data_location == onnx.TensorProto.EXTERNAL
    assert {e.key: e.value for e in w.external_data}["location"] == "relaxed.onnx.data"
    assert [(o.domain, o.version) for o in r.opset_import] == \
        [(o.domain, o.version) for o in m.opset_import]
    assert (r.producer_name, r.doc_string) == ("relax-test", "a doc string")
    assert {p.key: p.value for p in r.metadata_props} == {"author": "graphshape",
                                                           "purpose": "test"}
    assert {"flat", "head"} <= {n.name for n in r.graph.node}
    x = RNG.standard_normal((1, 2, 6, 10)).astype(np.float32)
    ref = _adaptive_avg(x, (4, 4)).reshape(1, -1) @ W_HEAD
    np.testing.assert_allclose(_run(out, x=x), ref, rtol=1e-5, atol=1e-5)


def _leftovers(d):
    return [f for f in os.listdir(d) if f.startswith(".graphshape")]


def test_failures_write_nothing(tmp_path):
    src = _model(tmp_path, """g (float[1,3,8,8] x) => (float[1,3] y) {
        p = AveragePool <kernel_shape = [8, 8]> (x)
        s = Constant <value = int64[2] {1, 3}> ()
        y = Reshape (p, s)
     }""")
    out = os.path.join(tmp_path, "out.onnx")
    with open(out, "w") as f:
        f.write("old")
    with pytest.raises(UsageError):
        relax(src, out, dims={"nope:2": "H"})
    # the last step fails: the output path is a folder
    folder = os.path.join(tmp_path, "folder.onnx")
    os.makedirs(os.path.join(folder, "inside"))
    with pytest.raises(OSError):
        relax(src, folder, dims=HW, max_points=2)
    with open(out) as f:
        assert f.read() == "old"
    assert os.listdir(folder) == ["inside"]
    assert _leftovers(tmp_path) == []


def test_symbolic_file_needs_the_export_size(tmp_path):
    src = _model(tmp_path, """g (float[1,3,H,W] x) => (float[1,3] y) {
        p = AveragePool <kernel_shape = [8, 8]> (x)
        s = Constant <value = int64[2] {1, 3}> ()
        y = Reshape (p, s)
     }""")
    # the domain pins the export size (the window must cover the whole map): inferred
    res = relax(src, None, dry_run=True)
    assert res.export_size == {"H": 8, "W": 8}
    assert any("inferred: H=8, W=8" in n for n in res.notes)
    res = relax(src, None, sizes={"H": 8, "W": 8}, dry_run=True)
    assert [r.kind for r in res.rewrites] == ["global-pool", "reshape"]
    with pytest.raises(UsageError, match="does not run at the export size"):
        relax(src, None, sizes={"H": 9, "W": 8}, dry_run=True)
    # nothing pins it: the example sizes are valid ones, per axis
    loose = _model(tmp_path, """g (float[N,3,H,W] x) => (float[N,3,a,b] y) {
        y = AveragePool <kernel_shape = [2, 2], strides = [2, 2]> (x)
     }""")
    with pytest.raises(UsageError, match="e.g. --size H=224 --size W=224$"):
        relax(loose, None, dry_run=True)


def test_cli_dry_run_json_and_text(tmp_path):
    src = _model(tmp_path, """g (float[1,3,8,8] x) => (float[1,3] y) {
        p = AveragePool <kernel_shape = [8, 8]> (x)
        s = Constant <value = int64[2] {1, 3}> ()
        y = Reshape (p, s)
     }""")
    out = os.path.join(tmp_path, "out.onnx")
    runner = CliRunner()
    r = runner.invoke(main, ["relax", src, "-o", out, "--dim", "x:2=H", "--dim", "x:3=W",
                             "--dry-run", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["schema_version"] == 1 and d["dry_run"]
    assert [x["kind"] for x in d["rewrites"]] == ["global-pool", "reshape"]
    assert d["rewrites"][0]["after"] == "GlobalAveragePool"
    assert d["domain"] == {"before": "H = 8; W = 8", "before_exact": True,
                           "after": "any H; any W", "after_exact": True}
    assert not os.path.exists(out)
    r = runner.invoke(main, ["relax", src, "-o", out, "--dim", "x:2=H", "--dim", "x:3=W",
                             "--points", "3"])
    assert r.exit_code == 0, r.output
    assert "max abs difference 0" in r.output
    assert "H = 8; W = 8" in r.output and "any H; any W" in r.output
    assert "verified: 3 sizes" in r.output
    assert os.path.exists(out)
    r = runner.invoke(main, ["relax", src, "--dim", "x:2=H"])
    assert r.exit_code == 2
    assert r.output.strip().count("\n") == 0 and "-o OUT" in r.output


# ---------------------------------------------------------------------------------------
# onnx's own zoo files (ir_version 3, opset 9, weights as ConstantOfShape)

ZOO = [
    # name, input, adapt_head, rewrite kinds, before, after
    ("light_resnet50", "gpu_0/data_0", False, ["global-pool", "reshape"],
     "193 <= H <= 224; 193 <= W <= 224", "any H; any W"),
    ("light_vgg19", "data_0", True, ["reshape", "adapt-head", "value-info"],
     ("(1 <= H <= 63 and 1568 <= W <= 1599) or\n(224 <= H <= 255 and 224 <= W <= 255) or\n"
      "(1568 <= H <= 1599 and 1 <= W <= 63)"), "any H; any W"),
    ("light_bvlc_alexnet", "data_0", True, ["reshape", "adapt-head", "value-info"], None,
     "any H >= 27; any W >= 27"),
    ("light_squeezenet", "data_0", False, [], "any H >= 23; any W >= 23",
     "any H >= 23; any W >= 23"),
    ("light_densenet121", "data_0", False, [], "any H; any W", "any H; any W"),
]


@pytest.mark.parametrize("row", ZOO, ids=[r[0] for r in ZOO])
def test_onnx_zoo(tmp_path, row):
    name, inp, adapt, kinds, before, after = row
    dims = {f"{inp}:2": "H", f"{inp}:3": "W"}
    out = os.path.join(tmp_path, f"{name}.onnx")
    res = _relaxed(os.path.join(LIGHT, f"{name}.onnx"), out, dims, points=2,
                   adapt_head=adapt)
    assert [r.kind for r in res.rewrites] == kinds
    if before is not None:
        assert res.before == before
    assert res.after == after
    assert not any(x.why.startswith("real pin") for x in res.left)
    if adapt:
        assert any("opset was raised from 9 to 11" in n for n in res.notes)


def test_onnx_zoo_resnet50_batch_freed_too(tmp_path):
    """Reshape [1, 2048] also pins the batch: with N freed it becomes [0, -1]."""
    dims = {"gpu_0/data_0:0": "N", "gpu_0/data_0:2": "H", "gpu_0/data_0:3": "W"}
    res = _relaxed(os.path.join(LIGHT, "light_resnet50.onnx"),
                   os.path.join(tmp_path, "r50.onnx"), dims, points=3)
    assert [r.after for r in res.rewrites][:2] == ["GlobalAveragePool", "shape [0, -1]"]
    assert res.before == "N = 1; 193 <= H <= 224; 193 <= W <= 224"
    assert res.after == "any N; any H; any W"
    assert any(v.sizes["N"] == 2 and v.observed == "valid" for v in res.verification.verdicts)


def test_nothing_to_relax_without_symbols(tmp_path):
    src = _model(tmp_path, """g (float[1,3,8,8] x) => (float[1,3,8,8] y) {
        y = Relu (x)
     }""")
    with pytest.raises(UsageError, match="nothing to relax"):
        relax(src, os.path.join(tmp_path, "out.onnx"))


def test_onnx_zoo_vgg19_real_pin_without_adapt_head(tmp_path):
    res = relax(os.path.join(LIGHT, "light_vgg19.onnx"), None,
                dims={"data_0:2": "H", "data_0:3": "W"}, dry_run=True)
    (pin,) = [x for x in res.left if x.why.startswith("real pin")]
    assert pin.op == "Gemm" and pin.node == "n38" and "7x7" in pin.why
    assert res.after == res.before
    assert [r.kind for r in res.rewrites] == ["reshape"]


# ---------------------------------------------------------------------------------------
# the corpus (models/registry.py): built on demand, random weights

@pytest.mark.large
def test_corpus_resnet50_avgpool7(tmp_path, model_cache):
    src = registry.build("resnet50_avgpool7_ts", model_cache)
    out = os.path.join(tmp_path, "r50.onnx")
    res = _relaxed(src, out, None, points=3, sizes={"N": 1, "H": 224, "W": 224})
    assert [r.kind for r in res.rewrites] == ["global-pool"]
    assert res.before == "any N; 1 <= H <= 416; 1 <= W <= 416"
    assert res.after == "any N; any H; any W"
    assert any(v.sizes["H"] == 417 and v.observed == "valid"
               for v in res.verification.verdicts)


@pytest.mark.large
def test_corpus_vgg11_dynamo_adapt_head(tmp_path, model_cache):
    src = registry.build("vgg11_dynamo", model_cache)
    sizes = {"s77": 1, "s53": 224, "s0": 224}
    plain = relax(src, None, sizes=sizes, dry_run=True)
    (pin,) = [x for x in plain.left if x.why.startswith("real pin")]
    assert pin.op == "Gemm" and "7x7" in pin.why
    out = os.path.join(tmp_path, "vgg.onnx")
    res = _relaxed(src, out, None, points=2, sizes=sizes, adapt_head=True)
    assert [r.kind for r in res.rewrites] == ["adapt-head", "value-info"]
    assert res.after == "any s77; any s53; any s0"
    # the exporter's claim for the flatten, 512*(s53//32)*(s0//32), is now the number
    m = onnx.load(out, load_external_data=False)
    (view,) = [vi for vi in m.graph.value_info if vi.name == "view"]
    assert [d.dim_param or d.dim_value for d in view.type.tensor_type.shape.dim] == \
        ["s77", 25088]
    assert res.comparison["outputs"]["logits"]["max_abs_diff"] == 0.0
