"""CLI contract of the deploy commands (fit, profiles, spec, check --require): every format
and every exit code, through click's CliRunner on the real `graphshape` group."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from graphshape.cli import main
from models import registry

from .test_deploy import COUPLED, PINNED, UNPROVEN, save_text


@pytest.fixture(scope="session")
def paths(model_cache, tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_deploy")
    out = {n: save_text(t, d / f"{n}.onnx") for n, t in
           (("pinned", PINNED), ("coupled", COUPLED), ("unproven", UNPROVEN))}
    for n in ("toy", "unet_ts", "bert_tiny_ts"):
        out[n] = registry.build(n, model_cache)
    return out


def invoke(*args):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return r.exit_code, r.output


def test_commands_are_registered():
    rc, out = invoke("--help")
    assert rc == 0
    for cmd in ("fit", "profiles", "spec"):
        assert cmd in out
    rc, out = invoke("fit", "--help")
    assert rc == 0 and "Examples:" in out and "--letterbox" in out


# ---- fit ------------------------------------------------------------------------------------
def test_fit_text_and_json(paths):
    rc, out = invoke("fit", paths["toy"], "--size", "H=300", "--size", "W=300")
    assert rc == 0
    assert "crop to 258x258" in out and "no pad" in out and "Gemm" in out
    for flag in (["--json"], ["--format", "json"]):
        rc, out = invoke("fit", paths["toy"], "--size", "H=300", "--size", "W=300", *flag)
        js = json.loads(out)
        assert rc == 0 and js["request"] == {"H": 300, "W": 300}
        assert js["suggestions"][0]["sizes"] == {"H": 258, "W": 258}
    rc, out = invoke("fit", paths["unet_ts"], "--size", "H=1080", "--size", "W=1920",
                     "--policy", "pad", "--letterbox", "bottom-right")
    assert rc == 0 and "pad to 1088x1920" in out and "(0 before, 8 after)" in out


@pytest.mark.parametrize("args,code,needle", [
    (["--size", "H=300", "--size", "W=300", "--policy", "pad"], 1, "no pad"),
    (["--size", "H=256", "--size", "W=256"], 0, "as is"),
    (["--size", "H=0", "--size", "W=3"], 2, "must be an integer >= 1"),
    (["--size", "Q=3"], 2, "unknown dim 'Q'"),
    (["--size", "H=3", "--policy", "stretch"], 2, "Invalid value"),
])
def test_fit_exit_codes(paths, args, code, needle):
    rc, out = invoke("fit", paths["toy"], *args)
    assert rc == code, out
    assert needle in out


def test_fit_unproven_exit_3(paths):
    rc, out = invoke("fit", paths["unproven"], "--size", "S=5")
    assert rc == 3 and "unproven" in out


def test_fit_bad_model_exit_2(tmp_path):
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"junk")
    rc, out = invoke("fit", p, "--size", "H=3")
    assert rc == 2 and "Traceback" not in out


# ---- profiles -------------------------------------------------------------------------------
RANGE = "H in 256..1024, W in 256..1024"


def test_profiles_every_format(paths):
    rc, out = invoke("profiles", paths["toy"], "--range", RANGE)
    assert rc == 0 and "profile 0: H min 256 opt 257 max 258" in out and "trtexec" in out
    rc, out = invoke("profiles", paths["toy"], "--range", RANGE, "--format", "trtexec")
    assert rc == 0 and "--minShapes=input:1x3x256x256" in out
    assert "--maxShapes=input:1x3x258x258" in out
    rc, out = invoke("profiles", paths["toy"], "--range", RANGE, "--format", "polygraphy")
    assert rc == 0 and "--trt-opt-shapes 'input:[1,3,257,257]'" in out
    rc, out = invoke("profiles", paths["toy"], "--range", RANGE, "--format", "ort-trt")
    assert rc == 0 and '"trt_profile_max_shapes": "input:1x3x258x258"' in out
    for flag in (["--json"], ["--format", "json"]):
        rc, out = invoke("profiles", paths["toy"], "--range", RANGE, *flag)
        js = json.loads(out)
        assert rc == 0 and js["profiles"][0]["max"] == {"H": 258, "W": 258}
    rc, out = invoke("profiles", paths["toy"], "--format", "trtexec")
    assert rc == 0 and out.count("--profile=") == 11


def test_profiles_lattice_opt_and_verify(paths):
    rc, out = invoke("profiles", paths["unet_ts"], "--range",
                     "N in 1..2, H in 256..512, W in 256..512", "--opt", "H=320,W=320",
                     "--verify", "--cpu")
    assert rc == 0, out
    assert "H is a lattice: H = 16k" in out and "opt 320" in out
    assert "verified:" in out and " 0 disagree" in out
    rc, out = invoke("profiles", paths["bert_tiny_ts"], "--verify", "--cpu", "--json")
    js = json.loads(out[out.index("{"):out.rindex("}") + 1])
    assert rc == 0 and js["verification"]["ok"] and js["profiles"][0]["max"] == {"S": 512}


@pytest.mark.parametrize("args,code,needle", [
    (["--opt", "H=300,W=300"], 1, "Gemm"),
    (["--range", "H in 300..400, W in 300..400"], 1, "no profile"),
    (["--range", "H in 1..4, W = H"], 2, "a range is a box"),
    (["--range", "H in 9..1"], 2, "empty range"),
    (["--opt", "Q=3"], 2, "unknown dim 'Q'"),
    (["--max-profiles", "0"], 2, "at least 1"),
    (["--format", "yaml"], 2, "Invalid value"),
])
def test_profiles_exit_codes(paths, args, code, needle):
    rc, out = invoke("profiles", paths["toy"], *args)
    assert rc == code, out
    assert needle in out


def test_profiles_unproven_and_coupled(paths):
    rc, out = invoke("profiles", paths["unproven"], "--range", "S in 1..8")
    assert rc == 3 and "unproven" in out
    rc, out = invoke("profiles", paths["coupled"], "--range", "H in 1..64, W in 1..64",
                     "--verify", "--cpu")
    assert rc == 0 and "couples" in out and " 0 disagree" in out


# ---- spec -----------------------------------------------------------------------------------
def test_spec_torch_static_json(paths, tmp_path):
    rc, out = invoke("spec", paths["unet_ts"], "--for", "torch")
    assert rc == 0 and "H = 16 * _H" in out and "dynamic_shapes = (" in out
    ns = {}
    exec(out, ns)  # noqa: S102  valid Python: the Dim objects torch.export takes
    assert set(ns["dynamic_shapes"][0]) == {0, 2, 3}
    rc, out = invoke("spec", paths["unet_ts"], "--for", "torch", "--json")
    assert rc == 0 and json.loads(out)["dims"]["H"]["step"] == 16
    fixed = tmp_path / "f.onnx"
    rc, out = invoke("spec", paths["toy"], "--for", "static", "--size", "H=300", "--size",
                     "W=300", "--fixed-model", fixed)
    assert rc == 0 and "H=258, W=258" in out
    assert f"--input_shape 1,3,258,258 {paths['toy']} {fixed}" in out
    rc, out = invoke("spec", paths["toy"], "--for", "static", "--format", "json")
    assert rc == 0 and json.loads(out)["sizes"] == {"H": 1, "W": 8187}
    rc, out = invoke("spec", paths["bert_tiny_ts"], "--for", "json")
    js = json.loads(out)
    assert rc == 0 and js["symbols"] == ["S"]
    assert all({"node", "op", "reason", "condition"} <= set(c) for c in js["constraints"])


@pytest.mark.parametrize("model,args,code,needle", [
    ("toy", [], 2, "Missing option '--for'"),
    ("toy", ["--for", "onnx"], 2, "Invalid value"),
    ("toy", ["--for", "static", "--size", "Q=2"], 2, "unknown dim 'Q'"),
    ("pinned", ["--for", "torch"], 0, "Dim('H', min=224, max=224)"),
    ("unproven", ["--for", "torch"], 3, "Dim('S', min=1)"),
    ("unproven", ["--for", "static", "--size", "S=4"], 3, "unproven"),
])
def test_spec_exit_codes(paths, model, args, code, needle):
    rc, out = invoke("spec", paths[model], *args)
    assert rc == code, out
    assert needle in out


def test_spec_no_valid_size_exit_1(tmp_path):
    text = """
<ir_version: 10, opset_import: ["" : 17]>
never (float[1, H] x) => (float[1, H] y) <float[3] a = {1.0, 2.0, 3.0}, float[4] b = {1.0, 2.0, 3.0, 4.0}> {
  t = Add(x, a)
  y = Add(t, b)
}
"""
    p = save_text(text, tmp_path / "never.onnx")
    rc, out = invoke("spec", p, "--for", "static")
    assert rc == 1 and "no size is valid" in out
    rc, out = invoke("fit", p, "--size", "H=3")
    assert rc == 1


# ---- check --require ----------------------------------------------------------------------
@pytest.mark.parametrize("model,spec,code,needle", [
    ("toy", "H in 251..258, W in 251..258", 0, "included: every required size is valid"),
    ("toy", "H in 224..640 step 32, W = H", 1, "not included: 13 of 14"),
    ("unet_ts", "H in 224..640 step 32, W = H", 0, "any N"),
    ("bert_tiny_ts", "S in 1..700", 1, "S=513"),
    ("unproven", "S in 1..64", 3, "Mystery"),
    ("toy", "H in 640..224", 2, "empty range"),
    ("toy", "Q = 1", 2, "unknown dim 'Q'"),
    ("toy", "H ~ 3", 2, "bad --require clause"),
])
def test_check_require_exit_codes(paths, model, spec, code, needle):
    r = CliRunner().invoke(main, ["check", paths[model], "--require", spec],
                           catch_exceptions=False)
    assert r.exit_code == code, r.output
    assert needle in r.output


def test_check_require_json(paths):
    r = CliRunner().invoke(main, ["check", paths["toy"], "--require", "H = 300, W in 1..1000",
                                  "--json"], catch_exceptions=False)
    js = json.loads(r.output)
    assert r.exit_code == 1 and js["included"] is False and js["failing_sizes"] == 1000
    assert js["first_failing"][0]["violations"][0]["node"] == "/head/head.0/Gemm"


def test_static_model_is_a_usage_error_with_a_hint(tmp_path):
    text = """
<ir_version: 10, opset_import: ["" : 17]>
static (float[1, 4] x) => (float[1, 4] y) {
  y = Relu(x)
}
"""
    p = save_text(text, tmp_path / "static.onnx")
    for args in (["profiles", p], ["spec", p, "--for", "torch"], ["fit", p, "--size", "H=3"]):
        rc, out = invoke(*args)
        assert rc == 2, out
        assert "no symbolic dims" in out and "--dim input:2=H" in out
