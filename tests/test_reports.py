"""Reports people read: the reason behind every face of the domain, conditions with named
intermediate sizes (simplified under the domain), silent findings in every format. Every
size a test claims is run on onnxruntime (assert_agrees)."""

from __future__ import annotations

import json
import os

import onnx
import pytest
from click.testing import CliRunner

import graphshape
from graphshape.answers import reasons
from graphshape.arith.dims import compile_dim
from graphshape.cli import main
from graphshape.render import report, schema

from .conftest import assert_agrees, text_model

SQUEEZENET = os.path.join(os.path.dirname(onnx.__file__),
                          "backend/test/data/light/light_squeezenet.onnx")
SQ_DIMS = {"data_0:2": "H", "data_0:3": "W"}


def _floats(n):
    return "{" + ", ".join(f"{(i % 7) / 7:.3f}" for i in range(n)) + "}"


@pytest.fixture(scope="module")
def head_model(tmp_path_factory):
    """[1,1,H,W] -> Concat (2 channels) -> MaxPool 2/2 -> Flatten -> MatMul with K = 18:
    valid iff 2*floor(H/2)*floor(W/2) == 18."""
    p = str(tmp_path_factory.mktemp("m") / "head.onnx")
    return text_model(f"""
        <ir_version: 10, opset_import: ["" : 17]>
        agraph (float[1,1,H,W] X) => (float[1,2] Y)
        <float[18,2] B = {_floats(36)}>
        {{
            C = Concat <axis = 1> (X, X)
            P = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (C)
            F = Flatten <axis = 1> (P)
            Y = MatMul (F, B)
        }}""", p)


@pytest.fixture(scope="module")
def gap_model(tmp_path_factory):
    """Exported at 32x32 (fixed dims): MaxPool 3/2, then GlobalAveragePool."""
    p = str(tmp_path_factory.mktemp("m") / "gap.onnx")
    return text_model("""
        <ir_version: 10, opset_import: ["" : 17]>
        agraph (float[1,3,32,32] X) => (float[1,3,1,1] Y)
        {
            P = MaxPool <kernel_shape = [3, 3], strides = [2, 2]> (X)
            Y = GlobalAveragePool (P)
        }""", p)


@pytest.fixture(scope="module")
def resize_model(tmp_path_factory):
    """Any size in, resized to 8x8 inside the model."""
    p = str(tmp_path_factory.mktemp("m") / "resize.onnx")
    return text_model("""
        <ir_version: 10, opset_import: ["" : 17]>
        agraph (float[1,3,H,W] X) => (float[1,3,8,8] Y)
        {
            S = Constant <value = int64[4] {1, 3, 8, 8}> ()
            Y = Resize <mode = "nearest"> (X, , , S)
        }""", p)


GAP_DIMS = ["X:2=H", "X:3=W"]


# ---- faces and their reasons ---------------------------------------------------------


def test_squeezenet_every_bound_names_the_maxpool_that_makes_it_tight():
    a = graphshape.analyze(SQUEEZENET, dims=SQ_DIMS)
    fs = reasons.faces(a)
    by = {f.text: f for f in fs}
    assert set(by) == {"H >= 23", "W >= 23"}
    for face, axis in (("H >= 23", 2), ("W >= 23", 3)):
        f = by[face]
        assert [c.origins[0].node for c in f.sole] == ["n32"]
        assert f.sole[0].origins[0].op == "MaxPool"
        assert f"spatial axis {axis}" in f.sole[0].origins[0].reason
    assert by["H >= 23"].outside == {"H": 22, "W": 23}
    # the face really is the edge: 22 fails, 23 runs (other dim at 23), on onnxruntime
    rep = assert_agrees(a, [{"H": 22, "W": 23}, {"H": 23, "W": 22}, {"H": 23, "W": 23},
                            {"H": 24, "W": 31}])
    assert [v.observed for v in rep.verdicts] == ["invalid", "invalid", "valid", "valid"]
    text = report.text(a)
    first = text.index("H >= 23 because MaxPool 'n32'")
    assert "h = floor((H - 7)/8) = 1; MaxPool needs h >= 2" in text[first:]
    # the conditions implied by the MaxPool are hidden, listed with show_all
    assert "8 more conditions bind but are implied by the above (--all lists them)" in text
    full = report.text(a, show_all=True)
    assert "implied by the above (8):" in full
    assert "Conv 'n0'" in full and "Conv 'n0'" not in text


def test_essential_conditions_change_the_domain_and_the_implied_ones_do_not():
    a = graphshape.analyze(SQUEEZENET, dims=SQ_DIMS)
    d = a.domain
    ess = reasons.essential(d)
    binding = d.binding()
    assert {c.origins[0].node for c, _ in binding if id(c) in ess} == {"n32"}
    for c, _ in binding:
        others = d.universe()
        for c2, s2 in binding:
            if c2 is not c:
                others = others.intersect(s2)
        assert others.is_subset(d.isl_set) == (id(c) not in ess)


def test_toy_readable_gemm_condition_names_the_map_entering_flatten(toy_path):
    a = graphshape.analyze(toy_path)
    gemm = [c for c, _ in a.domain.binding() if c.origins[0].op == "Gemm"][0]
    words = reasons.readable(a, gemm)
    assert words.startswith("the map entering Flatten '/Flatten' is 1 x 32 x h x w with h = ")
    assert "Gemm needs 32*h*w = 32768, so h*w = 1024" in words
    at = reasons.readable(a, gemm, {"H": 300, "W": 300})
    # at 300x300 the last map is 38x38: 32*38*38 = 46208 features, not 32768
    assert "= 38, w = " in at and "(here h*w = 1444)" in at
    rep = assert_agrees(a, [{"H": 300, "W": 300}, {"H": 256, "W": 256}])
    assert [v.observed for v in rep.verdicts] == ["invalid", "valid"]
    text = report.text(a)
    assert "every face of the 11 boxes (42 faces) because Gemm '/head/head.0/Gemm'" in text


def test_built_head_model_faces_words_and_onnxruntime(head_model):
    a = graphshape.analyze(head_model)
    fs = reasons.faces(a)
    assert fs and all(f.sole and f.sole[0].origins[0].op == "MatMul" for f in fs)
    words = reasons.readable(a, fs[0].sole[0])
    assert "the map entering Flatten" in words
    assert "= 18, so h*w = 9" in words
    # every face: the size just outside is rejected, the box corner inside runs
    pts = [f.outside for f in fs] + [{"H": 6, "W": 6}, {"H": 7, "W": 7}, {"H": 2, "W": 19}]
    rep = assert_agrees(a, pts)
    assert all(v.observed == "invalid" for v in rep.verdicts[:len(fs)])
    assert all(v.observed == "valid" for v in rep.verdicts[len(fs):])


def test_unet_congruence_face_and_the_max_that_disappears(model_cache):
    from models import registry

    a = graphshape.analyze(registry.build("unet_ts", model_cache))
    fs = reasons.faces(a)
    kinds = {(f.symbol, f.kind) for f in fs}
    assert {("H", "congruence"), ("W", "congruence"), ("H", "lower"), ("W", "lower")} <= kinds
    cong = next(f for f in fs if f.symbol == "H" and f.kind == "congruence")
    assert cong.text == "H mod 16 == 0" and cong.outside["H"] == 17
    words = reasons.readable(a, cong.sole[0], cong.outside)
    # on the domain (H = 16k) and at H = 17 every max(0, .) of the decoder is >= 0
    # each level's Concat compares its skip with the upsampled map of the level below
    assert words == ("Concat needs (2*floor(H/2) == H and 2*floor(W/2) == W) or "
                     "2*floor(H/2) == 0 or 2*floor(W/2) == 0")
    assert_agrees(a, [cong.outside, {"N": 1, "H": 16, "W": 16}, {"N": 1, "H": 15, "W": 16}])


def test_simplify_equals_the_original_on_the_context(toy_path, model_cache):
    from models import registry

    for path, dims in ((toy_path, None), (SQUEEZENET, SQ_DIMS),
                       (registry.build("unet_ts", model_cache), None)):
        a = graphshape.analyze(path, dims=dims)
        d = a.domain
        ctx = reasons.context_of(d)
        names = d.names
        for t in a.propagation.tensors.values():
            if t.shape is None:
                continue
            for dim in t.shape:
                if isinstance(dim, int):
                    continue
                s = reasons.simplify(dim, d, ctx)
                f, g = compile_dim(dim), compile_dim(s)
                for p in d.sample_members(6, seed=3):
                    p = {n: p.get(n, 1) for n in names}
                    assert f(p) == g(p), (dim, s, p)


def test_simplify_removes_a_max_only_where_the_context_proves_it():
    a = graphshape.analyze(SQUEEZENET, dims=SQ_DIMS)
    d = a.domain
    dim = a.propagation.tensors["r31"].shape[2]
    assert "max" in str(dim).lower()
    assert "max" not in str(reasons.simplify(dim, d)).lower()
    # with H = 5 in the context, floor((H - 7)/4) < 0 there: the max must stay
    kept = reasons.simplify(dim, d, reasons.context_of(d, {"H": 5, "W": 23}))
    assert compile_dim(kept)({"H": 5, "W": 23}) == compile_dim(dim)({"H": 5, "W": 23})
    assert "max" in str(kept).lower()


# ---- silent findings, in every format -------------------------------------------------


def _analyze_cli(path, *extra):
    outs = {}
    for fmt in ("text", "json", "markdown"):
        r = CliRunner().invoke(main, ["analyze", path, "--format", fmt, *extra])
        assert r.exit_code == 0, r.output
        outs[fmt] = r.output
    schema.validate(json.loads(outs["json"]), "analysis")
    return outs


def test_pooling_far_from_the_export_size_is_a_warning_in_every_format(gap_model):
    outs = _analyze_cli(gap_model, *sum((["--dim", d] for d in GAP_DIMS), []))
    title = "pooling far from the export size"
    detail = ("GlobalAveragePool 'GlobalAveragePool_1' pools a (max(0, floor((H - 3)/2)) + 1)"
              " x (max(0, floor((W - 3)/2)) + 1) map"
              ": at H=128, W=128 it is 63x63 against 15x15 at export (H=32, W=32): the head"
              " averages 18x more positions than it was trained on")
    assert f"[warning] {title}: " in outs["text"] and detail in outs["text"]
    found = json.loads(outs["json"])["findings"]
    assert any(f["title"] == title and detail in f["detail"] for f in found)
    assert f"- **warning**: {title}: " in outs["markdown"]
    a = graphshape.analyze(gap_model, dims=GAP_DIMS)
    rep = assert_agrees(a, [{"H": 32, "W": 32}, {"H": 128, "W": 128}])
    assert all(v.observed == "valid" for v in rep.verdicts)
    out = a.output_shapes_at({"H": 128, "W": 128})
    assert list(out["Y"]) == [1, 3, 1, 1]


def test_no_pooling_warning_without_an_export_size(gap_model, tmp_path):
    # the same graph with symbolic dims in the file: no export size to compare with
    m = onnx.load(gap_model)
    for i, n in ((2, "H"), (3, "W")):
        m.graph.input[0].type.tensor_type.shape.dim[i].dim_param = n
    p = str(tmp_path / "sym.onnx")
    onnx.save(m, p)
    a = graphshape.analyze(p)
    assert not [f for f in report.findings(a) if f["title"].startswith("pooling")]
    assert_agrees(a, [{"H": 1, "W": 1}, {"H": 2, "W": 2}])


def test_internal_resize_is_a_warning_in_every_format(resize_model):
    outs = _analyze_cli(resize_model)
    title = "input resized inside the model"
    assert f"[warning] {title}: resized inside the model to 8 x 8 (Resize" in outs["text"]
    assert any(f["title"] == title for f in json.loads(outs["json"])["findings"])
    assert f"- **warning**: {title}: " in outs["markdown"]
    a = graphshape.analyze(resize_model)
    rep = assert_agrees(a, [{"H": 1, "W": 1}, {"H": 300, "W": 17}])
    assert all(v.observed == "valid" for v in rep.verdicts)


def test_json_faces_validate_and_match_the_text(toy_path):
    r = CliRunner().invoke(main, ["analyze", toy_path, "--json"])
    assert r.exit_code == 0
    d = json.loads(r.output)
    schema.validate(d, "analysis")
    assert len(d["faces"]) == 42
    assert {f["sole"][0]["op"] for f in d["faces"]} == {"Gemm"}


def test_markdown_why_table(toy_path):
    r = CliRunner().invoke(main, ["analyze", toy_path, "--format", "markdown"])
    assert r.exit_code == 0
    assert "## Why (each face and the condition that makes it tight)" in r.output
    assert "| `H >= 251` | H=250, W=251 | `/head/head.0/Gemm` | Gemm |" in r.output


def test_analyze_all_lists_every_condition(toy_path):
    r = CliRunner().invoke(main, ["analyze", toy_path, "--all"])
    assert r.exit_code == 0
    assert "every condition (7):" in r.output


def test_empty_domain_prints_the_conflict(tmp_path):
    p = text_model("""
        <ir_version: 10, opset_import: ["" : 17]>
        agraph (float[1,H] X) => (float[1,1] Y)
        <float[3,1] B = {1.0, 2.0, 3.0}>
        {
            A = Concat <axis = 1> (X, X)
            Y = MatMul (A, B)
        }""", str(tmp_path / "empty.onnx"))
    a = graphshape.analyze(p)
    if not a.domain.is_empty():
        pytest.fail(f"expected an empty domain, got {a.domain}")
    lines = reasons.bound_lines(a)
    assert lines[0] == "no size is valid: these conditions cannot hold together:"
    assert_agrees(a, [{"H": 1}, {"H": 2}])


def test_violation_lines_at_300_name_the_38x38_map(toy_path):
    a = graphshape.analyze(toy_path)
    lines = reasons.violation_lines(a, {"H": 300, "W": 300})
    assert lines[0].startswith("Gemm '/head/head.0/Gemm': A's inner dim K")
    assert "= 38, w = " in lines[1] and lines[1].endswith(
        "Gemm needs 32*h*w = 32768, so h*w = 1024 (here h*w = 1444)")
    # the 38x38 map and the rejection, on onnxruntime
    rep = assert_agrees(a, [{"H": 300, "W": 300}])
    assert rep.verdicts[0].observed == "invalid"
    shapes = a.propagation.tensors["/features/features.3/Conv_output_0"].shape
    from graphshape.arith.dims import substitute

    assert [substitute(d, {"H": 300, "W": 300}) for d in shapes] == [1, 32, 38, 38]


def test_a_size_named_like_a_sympy_function_is_read_back_as_the_size():
    """A batch size named N (sympy's numeric-evaluation function) in the "why" text of an
    onnx zoo model: its read-back of the reduced condition once parsed N as the function and
    the command ended in an internal error (light_inception_v1, alexnet and vgg19 alike)."""
    path = os.path.join(os.path.dirname(onnx.__file__),
                        "backend/test/data/light/light_inception_v1.onnx")
    r = CliRunner().invoke(main, ["analyze", path, "--dim", "data_0:0=N", "--dim",
                                  "data_0:2=H", "--dim", "data_0:3=W"])
    assert r.exit_code == 0, r.output
    assert "N = 1; 221 <= H <= 252; 221 <= W <= 252" in r.output
    assert "so N*h*w = 1 (here 1024*N*h*w = 2048)" in r.output
