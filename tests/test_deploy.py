"""Deployer answers (issue 10): size contracts, the nearest valid size, TensorRT profiles and
export specs, on the corpus and on small hand-built models. Every suggested size, every
failing size a contract names and every profile corner is run on onnxruntime."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import onnx
import pytest

import graphshape
from graphshape.answers import contract
from graphshape.answers.fit import fit
from graphshape.answers.profiles import (
    OptInvalid,
    corners,
    ort_trt_options,
    polygraphy,
    profiles,
    render,
    trtexec,
)
from graphshape.answers.spec import static_spec, torch_spec
from graphshape.errors import UsageError
from models import registry

from .conftest import assert_agrees

PINNED = """
<ir_version: 10, opset_import: ["" : 17]>
pinned (float[1, 3, H, W] x) => (float[1, 3, 10, 10] y) <float[224, 10] b = {WEIGHTS}> {
  t = MatMul(x, b)
  u = Transpose <perm = [0, 1, 3, 2]> (t)
  y = MatMul(u, b)
}
"""
COUPLED = """
<ir_version: 10, opset_import: ["" : 17]>
coupled (float[1, H, W] x) => (float[1, H, W] y) {
  t = Transpose <perm = [0, 2, 1]> (x)
  y = Add(x, t)
}
"""
UNPROVEN = """
<ir_version: 10, opset_import: ["" : 17, "com.example" : 1]>
unproven (float[1, 4, S] x) => (float[1, 4, S] y) {
  y = com.example.Mystery(x)
}
"""


def save_text(text: str, path) -> str:
    m = onnx.parser.parse_model(text.replace("{WEIGHTS}", "{" + ",".join(["0.01"] * 2240)
                                             + "}"))
    m.ir_version = 10
    onnx.save(m, str(path))
    return str(path)


@pytest.fixture(scope="session")
def small_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("deploy")
    return {name: save_text(t, d / f"{name}.onnx")
            for name, t in (("pinned", PINNED), ("coupled", COUPLED), ("unproven", UNPROVEN))}


@pytest.fixture(scope="session")
def model(model_cache, small_models):
    done = {}

    def get(name):
        if name not in done:
            path = small_models.get(name) or registry.build(name, model_cache)
            done[name] = graphshape.analyze(path)
        return done[name]

    return get


def run_all(a, points, valid=None, invalid=None):
    """Run ``points`` on onnxruntime (agreement required) and check the expected verdicts."""
    rep = assert_agrees(a, points)
    by = {tuple(sorted(v.sizes.items())): v for v in rep.verdicts}
    for p in valid or []:
        v = by[tuple(sorted(p.items()))]
        assert v.observed == "valid", (p, v.detail)
    for p in invalid or []:
        v = by[tuple(sorted(p.items()))]
        assert v.observed == "invalid", p
    return rep


# ---- contracts ------------------------------------------------------------------------------
@pytest.mark.parametrize("spec,error", [
    ("H in 224..640 step 32, W = H", None),
    ("H = 256, W = 256", None),
    ("H in 16.., W in 16..1024 step 16", None),
    ("", "empty --require"),
    ("H in 640..224", "empty range"),
    ("H in 1..8 step 0", "step must be >= 1"),
    ("Q = 3", "unknown dim 'Q'"),
    ("H = Q", "unknown dim 'Q'"),
    ("H = 0", "H=0 is out of range (1 ..)"),  # 0 only for a size that may be empty
    ("H < 3", "bad --require clause 'H < 3'"),
    ("H = 3,, W = 4", "empty clause"),
])
def test_contract_language(spec, error):
    if error is None:
        cl = contract.parse(spec, ["H", "W"])
        s = contract.requirement_set(cl, ["H", "W"])
        assert not s.is_empty()
        return
    with pytest.raises(UsageError, match=error.replace("(", r"\(").replace(")", r"\)")
                       .replace(".", r"\.")):
        contract.requirement_set(contract.parse(spec, ["H", "W"]), ["H", "W"])


def test_contract_set_matches_its_clauses():
    s = contract.requirement_set(contract.parse("H in 224..640 step 32, W = H", ["N", "H", "W"]),
                                 ["N", "H", "W"])
    assert s.is_bounded() is False  # N is free: every N >= 1
    from graphshape.arith import isl as Q
    hw = Q.keep(s, [1, 2])
    assert Q.count(hw) == 14 and Q.lexmin(hw) == (224, 224) and Q.lexmax(hw) == (640, 640)


def test_toy_contract_included_and_not(model):
    a = model("toy")
    ok = contract.require(a, "H in 251..258, W in 251..258")
    assert ok.verdict == "included" and ok.required == 64
    bad = contract.require(a, "H in 224..640 step 32, W = H")
    assert bad.verdict == "not included" and bad.required == 14 and bad.failing_count == 13
    assert bad.failing[0]["sizes"] == {"H": 224, "W": 224}
    assert bad.failing[0]["violations"][0]["node"] == "/head/head.0/Gemm"
    run_all(a, [{"H": 251, "W": 251}, {"H": 258, "W": 258}, {"H": 251, "W": 258}]
            + [f["sizes"] for f in bad.failing],
            valid=[{"H": 251, "W": 258}], invalid=[f["sizes"] for f in bad.failing])


def test_a_million_sizes_is_one_query(model):
    a = model("toy")
    t = time.perf_counter()
    r = contract.require(a, "H in 1..1000, W in 1..1000")
    assert time.perf_counter() - t < 2.0
    assert r.required == 1_000_000 and r.verdict == "not included"
    assert r.failing_count == 1_000_000 - 3 * 64  # three 8x8 boxes lie inside
    assert r.failing[0]["sizes"] == {"H": 1, "W": 1}


def test_unet_contracts(model):
    a = model("unet_ts")
    ok = contract.require(a, "H in 224..640 step 32, W = H")
    assert ok.verdict == "included" and ok.required is None and ok.free == ["N"]
    bad = contract.require(a, "N = 1, H in 16..4096 step 8, W = 32")
    assert bad.verdict == "not included"
    assert [f["sizes"]["H"] for f in bad.failing] == [24, 40, 56, 72, 88]
    assert all(f["violations"][0]["op"] == "Concat" for f in bad.failing)
    run_all(a, [{"N": 1, "H": 224, "W": 224}, {"N": 2, "H": 640, "W": 640}]
            + [f["sizes"] for f in bad.failing[:3]],
            valid=[{"N": 2, "H": 640, "W": 640}], invalid=[f["sizes"] for f in bad.failing[:3]])


def test_bert_contract_upper_bound(model):
    a = model("bert_tiny_ts")
    assert contract.require(a, "S in 1..512").verdict == "included"
    r = contract.require(a, "S in 256..700 step 4")
    assert r.verdict == "not included" and r.failing[0]["sizes"] == {"S": 516}
    assert r.failing_count == len(range(516, 701, 4))
    run_all(a, [{"S": 512}, {"S": 516}], valid=[{"S": 512}], invalid=[{"S": 516}])


def test_unproven_contract(model):
    a = model("unproven")
    r = contract.require(a, "S in 1..64")
    assert r.verdict == "unproven" and r.included is None
    assert any("Mystery" in u for u in r.unproven)


# ---- fit ------------------------------------------------------------------------------------
def _by_policy(res):
    return {s.policy: s for s in res.suggestions}


def test_fit_toy_coupled_product_offers_the_crop(model):
    a = model("toy")
    res = fit(a, {"H": 300, "W": 300})
    assert res.verdict == "invalid"
    assert [i["policy"] for i in res.impossible] == ["pad"]
    assert "no valid size is at or above" in res.impossible[0]["reason"]
    s = _by_policy(res)
    assert s["crop"].sizes == {"H": 258, "W": 258}
    assert s["crop"].crop == {"H": {"before": 21, "after": 21}, "W": {"before": 21, "after": 21}}
    assert s["crop"].node == "/head/head.0/Gemm"
    assert s["resize"].sizes == {"H": 258, "W": 258}
    assert s["window"].windows["H"] == {"count": 2, "size": 258, "stride": 42, "last_start": 42}
    run_all(a, [{"H": 258, "W": 258}, {"H": 300, "W": 300}], valid=[{"H": 258, "W": 258}],
            invalid=[{"H": 300, "W": 300}])


def test_fit_unet_lattice(model):
    a = model("unet_ts")
    res = fit(a, {"H": 1080, "W": 1920})
    s = _by_policy(res)
    assert res.suggestions[0].policy == "pad"
    assert s["pad"].sizes == {"N": 1, "H": 1088, "W": 1920}
    assert s["pad"].pad["H"] == {"before": 4, "after": 4} and round(s["pad"].overhead, 2) == 0.74
    assert s["crop"].sizes["H"] == 1072
    br = fit(a, {"H": 1080, "W": 1920}, "pad", "bottom-right")
    assert br.suggestions[0].pad["H"] == {"before": 0, "after": 8}
    assert br.suggestions[0].node.startswith("/Concat")
    run_all(a, [s["pad"].sizes, s["crop"].sizes, {"N": 1, "H": 1080, "W": 1920}],
            valid=[s["pad"].sizes, s["crop"].sizes], invalid=[{"N": 1, "H": 1080, "W": 1920}])


def test_fit_bert_upper_bound_truncate_or_windows(model):
    a = model("bert_tiny_ts")
    res = fit(a, {"S": 700})
    s = _by_policy(res)
    assert "pad" not in s and s["crop"].sizes == {"S": 512}
    assert s["window"].windows["S"] == {"count": 2, "size": 512, "stride": 188,
                                        "last_start": 188}
    assert fit(a, {"S": 700}, "crop").suggestions[0].policy in ("crop", "window")
    run_all(a, [{"S": 512}, {"S": 700}], valid=[{"S": 512}], invalid=[{"S": 700}])


def test_fit_pinned_size(model):
    a = model("pinned")
    res = fit(a, {"H": 1080, "W": 1920})
    s = _by_policy(res)
    assert s["crop"].sizes == s["resize"].sizes == {"H": 224, "W": 224}
    assert s["window"].windows["H"]["count"] == 5 and s["window"].windows["W"]["count"] == 9
    assert res.impossible and res.impossible[0]["policy"] == "pad"
    assert s["crop"].node == "MatMul_0"
    run_all(a, [{"H": 224, "W": 224}, {"H": 225, "W": 224}], valid=[{"H": 224, "W": 224}])


def test_fit_vit_and_coupled_models(model):
    vit = model("vit_tiny_ts")
    s = _by_policy(fit(vit, {"H": 300, "W": 300}))
    assert s["crop"].sizes == {"H": 239, "W": 239} and "pad" not in s
    run_all(vit, [s["crop"].sizes, {"H": 300, "W": 300}], valid=[s["crop"].sizes])
    c = model("coupled")
    s = _by_policy(fit(c, {"H": 100, "W": 120}))
    assert s["pad"].sizes == {"H": 120, "W": 120} and s["crop"].sizes == {"H": 100, "W": 100}
    run_all(c, [s["pad"].sizes, s["crop"].sizes, s["resize"].sizes, {"H": 100, "W": 120}],
            valid=[s["pad"].sizes, s["crop"].sizes], invalid=[{"H": 100, "W": 120}])


def test_fit_valid_request_is_kept_and_json_is_ordered(model):
    a = model("toy")
    res = fit(a, {"H": 256, "W": 256})
    assert [s.policy for s in res.suggestions] == ["as-is"] and res.proven
    js = fit(a, {"H": 300, "W": 300}).to_json()
    assert js["request"] == {"H": 300, "W": 300}
    costs = [abs(s["overhead"]) + s.get("resize", {}).get("aspect_change", 0)
             for s in js["suggestions"]]
    assert costs == sorted(costs)
    assert {"policy", "sizes", "overhead", "reason"} <= set(js["suggestions"][0])
    with pytest.raises(UsageError, match="unknown dim 'Q'"):
        fit(a, {"Q": 3})
    with pytest.raises(UsageError, match="unknown policy"):
        fit(a, {"H": 3, "W": 3}, "stretch")


@pytest.mark.large
def test_fit_and_profiles_resnet50_avgpool7_bounded_box(model):
    a = model("resnet50_avgpool7_ts")
    res = fit(a, {"H": 1080, "W": 1920})
    s = _by_policy(res)
    assert "pad" not in s and s["crop"].sizes == {"N": 1, "H": 416, "W": 416}
    assert s["resize"].sizes["W"] == 416 and s["resize"].resize["aspect_change"] <= 1.0
    pr = profiles(a, "N in 1..2")
    (p,) = pr.profiles
    assert (p.min, p.max) == ({"N": 1, "H": 1, "W": 1}, {"N": 2, "H": 416, "W": 416})
    assert not p.lattice
    pts = [s["crop"].sizes, s["resize"].sizes, {"N": 1, "H": 417, "W": 416}]
    pts += [c for c in corners(pr) if c["N"] == 1]
    run_all(a, pts, valid=pts[:2], invalid=[{"N": 1, "H": 417, "W": 416}])


# ---- profiles -------------------------------------------------------------------------------
def test_profiles_toy_one_per_box(model):
    a = model("toy")
    pr = profiles(a)
    assert len(pr.profiles) == 11
    assert all(p.valid == p.box for p in pr.profiles)
    box = next(p for p in pr.profiles if p.min == {"H": 251, "W": 251})
    assert box.max == {"H": 258, "W": 258} and box.shapes["input"]["max"] == [1, 3, 258, 258]
    rng = profiles(a, "H in 256..1024, W in 256..1024")
    (p,) = rng.profiles
    assert (p.min, p.max) == ({"H": 256, "W": 256}, {"H": 258, "W": 258})
    rep = run_all(a, corners(pr), valid=corners(pr))
    assert len(rep.compared) == 11 * 5


def test_profiles_unet_lattice_and_formats(model):
    a = model("unet_ts")
    pr = profiles(a, "N in 1..2, H in 250..520, W in 256..512", {"H": 320, "W": 320})
    (p,) = pr.profiles
    assert p.min == {"N": 1, "H": 256, "W": 256} and p.max == {"N": 2, "H": 512, "W": 512}
    assert p.opt == {"N": 1, "H": 320, "W": 320}
    assert p.lattice["H"] == {"from": 256, "to": 512, "step": 16}
    assert p.valid == 2 * 17 * 17
    t = trtexec(pr)
    assert "--minShapes=input:1x3x256x256" in t and "--optShapes=input:1x3x320x320" in t
    assert "--maxShapes=input:2x3x512x512" in t and "--profile" not in t
    assert "--trt-max-shapes 'input:[2,3,512,512]'" in polygraphy(pr)
    assert ort_trt_options(pr) == {"trt_profile_min_shapes": "input:1x3x256x256",
                                   "trt_profile_opt_shapes": "input:1x3x320x320",
                                   "trt_profile_max_shapes": "input:2x3x512x512"}
    assert "H is a lattice: H = 16k" in render(pr, "text")
    pts = corners(pr) + [{"N": 1, "H": 264, "W": 256}]
    run_all(a, pts, valid=corners(pr), invalid=[{"N": 1, "H": 264, "W": 256}])
    with pytest.raises(OptInvalid, match="Concat"):
        profiles(a, "N in 1..2, H in 256..512, W in 256..512", {"H": 300, "W": 320})


def test_profiles_bert_vit_fpn_coupled(model):
    bert = model("bert_tiny_ts")
    (p,) = profiles(bert).profiles
    assert (p.min, p.opt, p.max) == ({"S": 1}, {"S": 256}, {"S": 512})
    assert p.shapes == {"input_ids": {"min": [1, 1], "opt": [1, 256], "max": [1, 512]}}
    run_all(bert, corners(profiles(bert)) + [{"S": 513}], invalid=[{"S": 513}])
    vit = model("vit_tiny_ts")
    pv = profiles(vit)
    assert len(pv.profiles) == 9
    assert "--profile=8" in trtexec(pv)
    assert ort_trt_options(pv)["trt_profile_min_shapes"].count("input:") == 9
    run_all(vit, corners(pv), valid=corners(pv))
    fpn = model("fpn_ts")
    pf = profiles(fpn, "N in 1..1, H in 200..400, W = 64")
    (p,) = pf.profiles
    assert p.lattice["H"]["runs"][0] == [221, 224]
    run_all(fpn, corners(pf) + [{"N": 1, "H": 225, "W": 64}], valid=corners(pf),
            invalid=[{"N": 1, "H": 225, "W": 64}])
    c = model("coupled")
    (p,) = profiles(c, "H in 1..64, W in 1..64").profiles
    assert "couples" in p.note and p.valid == p.box
    run_all(c, corners(profiles(c, "H in 1..64, W in 1..64")))


def test_profiles_json_and_empty_range(model):
    a = model("toy")
    js = profiles(a, "H in 251..258, W in 251..258").to_json()
    assert js["profiles"][0]["min"] == {"H": 251, "W": 251} and js["profiles"][0]["lattice"] is None
    empty = profiles(a, "H in 300..400, W in 300..400")
    assert not empty.profiles and "no valid size" in empty.reason
    with pytest.raises(UsageError, match="a range is a box"):
        profiles(a, "H in 1..4, W = H")


# ---- specs ----------------------------------------------------------------------------------
def test_torch_spec_unet_lattice_exports(model):
    a = model("unet_ts")
    ts = torch_spec(a)
    assert ts.dims["H"].step == 16 and ts.dims["H"].hi is None and ts.exact
    code = ts.code()
    assert "H = 16 * _H" in code
    import torch

    from models.small import _unet

    ns = {}
    exec(code, ns)  # noqa: S102  running the generated spec is the point
    ep = torch.export.export(_unet().eval(), (torch.randn(2, 3, 64, 96),),
                             dynamic_shapes=ns["dynamic_shapes"])
    assert ep is not None


def test_torch_spec_boxes_and_bounds(model):
    toy = torch_spec(model("toy"), {"H": 300, "W": 300})
    assert (toy.dims["H"].lo, toy.dims["H"].hi) == (251, 258) and not toy.exact
    assert any("union of 11 boxes" in n for n in toy.notes)
    bert = torch_spec(model("bert_tiny_ts"))
    assert (bert.dims["S"].lo, bert.dims["S"].hi) == (1, 512) and bert.inputs == [
        ("input_ids", {1: "S"})]
    fpn = torch_spec(model("fpn_ts"), {"H": 640, "W": 480})
    assert fpn.dims["H"].step == 32 and not fpn.exact


def test_static_spec_runs_make_dynamic_shape_fixed(model, tmp_path):
    a = model("unet_ts")
    out = str(tmp_path / "unet.fixed.onnx")
    st = static_spec(a, {"H": 1080, "W": 1920}, a.graph.path, out)
    assert st.sizes == {"N": 1, "H": 1088, "W": 1920} and st.policy == "pad"
    (cmd,) = st.commands
    args = cmd.split()
    assert args[:3] == ["python", "-m", "onnxruntime.tools.make_dynamic_shape_fixed"]
    subprocess.run([sys.executable] + args[1:], check=True, capture_output=True, timeout=300)
    fixed = onnx.load(out)
    dims = [d.dim_value for d in fixed.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 1088, 1920]
    fa = graphshape.analyze(out)
    assert fa.domain.names == [] and not fa.domain.is_empty()
    rep = assert_agrees(fa, [{}])
    assert rep.verdicts[0].observed == "valid"
    os.remove(out)


def test_conditions_outside_the_closed_form_are_checked_point_by_point(model):
    """reshape_head: h*w must be a multiple of 11648 (a product checked point by point)."""
    a = model("reshape_head_ts")
    assert a.domain.solved.inexact  # the case this test is about
    s = _by_policy(fit(a, {"H": 1080, "W": 1920}))
    assert s["pad"].sizes == {"H": 1441, "W": 2033} and "crop" not in s
    pr = profiles(a, "H in 1000..1500, W in 1900..2100")
    (p,) = pr.profiles
    assert (p.min, p.max) == ({"H": 1441, "W": 2033}, {"H": 1456, "W": 2048})
    assert p.valid == p.box == 256 and pr.unproven  # says what it checked point by point
    ts = torch_spec(a)
    assert not ts.proven and any("outside the closed form" in n for n in ts.notes)
    r = contract.require(a, "H in 1441..1456, W in 2033..2048")
    assert r.verdict == "included"  # 256 sizes, each checked against the product condition
    run_all(a, [s["pad"].sizes, {"H": 1440, "W": 2033}] + corners(pr),
            valid=[s["pad"].sizes] + corners(pr), invalid=[{"H": 1440, "W": 2033}])
