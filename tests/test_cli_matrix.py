"""Every command, every format, every exit code, on every corpus model and on onnx's own zoo
files (onnx/backend/test/data/light, fixed 224 at opset 9) re-symbolised with
--input-shape: the CliRunner table issue 11 asks for.

The expected exit code of each row is derived from the Python API's answer for the same
model (exact domain -> 0, unproven -> 3; a proved-valid size -> 0, a proved-invalid one ->
1), every JSON output is validated against the shipped schema, every Markdown output is a
table or a heading, and no output holds a traceback. The sizes checked are the domain's own
witnesses, run on onnxruntime by `verify` in the same table."""

from __future__ import annotations

import functools
import json
import os

import onnx
import pytest
from click.testing import CliRunner

import graphshape
from graphshape.cli import main
from graphshape.render import schema
from models import hf, keras, registry

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
ZOO = sorted(f[:-5] for f in os.listdir(LIGHT) if f.endswith(".onnx"))

# fixed-size corpus models, re-symbolised the way a user would
RESYMBOLISE = {"vgg11_ts": "1,3,H,W", "resnet50_keras": "1,H,W,3", "sequential_keras": "1,H,W,3"}
# every command x every format
SMALL = ["toy", "toy_dynamo", "unet_ts", "fpn_ts", "reshape_head_ts", "bert_tiny_ts",
         "gpt2_tiny_ts", "window_attn_ts", "tf_same_pad_ts", "attention_opset23",
         "vit_tiny_ts", "mobilenet_v3_small_ts", "vgg11_ts"]
# every command once, the formats taken in turn (the renderers do not depend on the model,
# the commands' answers do), verify in JSON: the rest of the corpus
OTHER = sorted(set(registry.BUILDERS) - set(SMALL) - set(hf.NAMES) - set(keras.NAMES))


@functools.cache
def model_args(name: str) -> tuple:
    """(path, extra CLI args) for a corpus or zoo model."""
    if name.startswith("light_"):
        return os.path.join(LIGHT, name + ".onnx"), ("--input-shape", "1,3,H,W")
    path = registry.build(name, registry.DEFAULT_CACHE)
    spec = RESYMBOLISE.get(name)
    return path, (("--input-shape", spec) if spec else ())


@functools.cache
def api_answer(name: str) -> dict:
    """What the Python API says: the analysis, a proved-valid and a proved-invalid size."""
    from graphshape.cli.app import input_shape_specs

    path, extra = model_args(name)
    dims = input_shape_specs(path, [extra[1]]) if extra else []
    a = graphshape.analyze(path, dims=dims)
    w = a.domain.witness() if a.domain.names else {}
    def full(s):  # a witness leaves out the symbols it does not constrain: give them 1
        return dict({n: 1 for n in a.domain.names}, **s) if s else None

    valid = full(w.get("smallest_valid"))
    # smallest_invalid is per symbol, each with the others at the smallest valid size: one
    # symbol's entry is an invalid point (all of them together need not be, e.g. an
    # aspect-ratio bound: H = 1334 with W = 1 fails, H = W = 1334 runs)
    first = next(iter((w.get("smallest_invalid") or {}).items()), None)
    invalid = full(dict(w.get("smallest_valid") or {}, **{first[0]: first[1]})) \
        if first else None
    return {"analysis": a, "valid": valid, "invalid": invalid}


def _run(args) -> tuple:
    r = CliRunner().invoke(main, [str(x) for x in args])
    assert "Traceback" not in r.output, r.output[-2000:]
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r.exit_code, r.output


def _sizes(s: dict) -> list:
    out = []
    for k, v in s.items():
        out += ["--size", f"{k}={v}"]
    return out


def _check_format(fmt: str, out: str, kind: str | None):
    if fmt == "json":
        doc = json.loads(out)
        if kind:
            schema.validate(doc, kind)
    elif fmt == "markdown":
        assert out.lstrip().startswith(("|", "#")), out[:300]
    else:
        assert out.strip(), "empty text output"


FORMATS = ("text", "json", "markdown")


def _rows(name: str, formats=FORMATS, verify_formats=FORMATS):
    ans = api_answer(name)
    a = ans["analysis"]
    exact = 0 if a.domain.exact else 3
    rows = []
    for fmt in formats:
        rows.append((["analyze"], fmt, exact, "analysis"))
        rows.append((["explain"], fmt, exact, "domain_summary"))
        rows.append((["audit"], fmt, exact, "audit"))
        # no symbolic dim: one static shape, no profile (a usage error, exit 2)
        rows.append((["profiles"], fmt, None if a.domain.names else 2, None))
        if ans["valid"]:
            v = _sizes(ans["valid"])
            code = 0 if a.domain.contains(ans["valid"]) else 3
            rows.append((["check"] + v, fmt, code, "explanation"))
            rows.append((["explain"] + v, fmt, code, "explanation"))
            if code == 0 and fmt in verify_formats:
                rows.append((["verify", "--random", "0"] + v, fmt, 0, "verification"))
        if ans["invalid"]:
            v = _sizes(ans["invalid"])
            code = 1 if a.domain.check(ans["invalid"]) == "invalid" else 3
            rows.append((["check"] + v, fmt, code, "explanation"))
            rows.append((["explain"] + v, fmt, code, "explanation"))
            rows.append((["fit"] + v, fmt, None, None))
    rows.append((["profiles"], "trtexec", None if a.domain.names else 2, None))
    rows.append((["spec", "--for", "json"], "text", exact, None))
    return rows


def _one_model(name: str, rows=None):
    path, extra = model_args(name)
    a = api_answer(name)["analysis"]
    failures = []
    for cmd, fmt, code, kind in (_rows(name) if rows is None else rows):
        args = [cmd[0], path, *extra, *cmd[1:], "--format", fmt]
        if cmd[0] == "spec":
            args = args[:-2]
        rc, out = _run(args)
        try:
            if code is not None:
                assert rc == code, f"exit {rc}, expected {code}: {out[-600:]}"
            else:
                assert rc in (0, 1, 3), f"exit {rc}: {out[-600:]}"
            if rc == 2:  # a usage error: one line, no report
                assert len(out.strip().splitlines()) == 1 and "error:" in out, out[-600:]
                continue
            if cmd[0] == "verify":
                assert "disagree" not in out.lower() or "0 disagree" in out or \
                    '"ok": true' in out, out[-600:]
            _check_format(fmt if cmd[0] != "profiles" or fmt != "trtexec" else "text", out,
                          kind)
        except (AssertionError, ValueError) as e:  # collect every failing row, then fail
            failures.append(f"{' '.join(map(str, args[:1] + args[2:]))}: {e}")
    if len(a.domain.names) == 2:
        rc, out = _run(["plot", path, *extra, "-o", _tmp_svg(name)])
        if rc not in (0, 3):
            failures.append(f"plot: exit {rc}: {out[-300:]}")
    assert not failures, "\n".join(failures)


def _tmp_svg(name: str) -> str:
    import tempfile

    return os.path.join(tempfile.mkdtemp(prefix="gs-matrix-"), f"{name}.svg")


@pytest.mark.parametrize("name", ZOO)
def test_every_command_and_format_on_the_zoo_file(name):
    _one_model(name)


@pytest.mark.parametrize("name", SMALL)
def test_every_command_and_format_on_the_corpus_model(name):
    _one_model(name)


def _once(name: str, k: int) -> list:
    """Each command once (check and explain at a valid and at an invalid size), its format
    taken in turn (so every format meets every command across the models), verify in
    JSON."""
    groups: dict = {}
    for row in _rows(name, verify_formats=("json",)):
        groups.setdefault((row[0][0], len(row[0]) > 1, row[1] == "trtexec", row[2]),
                          []).append(row)
    return [g[(k + i) % len(g)] for i, g in enumerate(groups.values())]


def _marks(name: str) -> list:
    marks = [pytest.mark.large] if name in registry.LARGE else []
    return marks + ([pytest.mark.keras] if name in keras.NAMES else [])


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n))
                                  for n in OTHER + list(hf.NAMES) + list(keras.NAMES)])
def test_every_command_on_the_rest_of_the_corpus(name):
    k = sorted(registry.BUILDERS).index(name)
    _one_model(name, _once(name, k))


def test_bad_model_and_bad_input_shape_are_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    toy = registry.build("toy", registry.DEFAULT_CACHE)
    for cmd in (["analyze"], ["check", "--size", "H=1"], ["explain"], ["verify"],
                ["fit", "--size", "H=1"], ["profiles"], ["audit"], ["spec", "--for", "json"],
                ["plot", "-o", str(tmp_path / "p.svg")]):
        rc, out = _run([cmd[0], bad, *cmd[1:]])
        assert rc == 2 and len(out.strip().splitlines()) == 1, (cmd, out)
    for cmd in (["analyze"], ["check", "--size", "H=1"], ["explain"]):
        rc, out = _run([cmd[0], toy, "--input-shape", "nosuch:1,3,H,W", *cmd[1:]])
        assert rc == 2 and "no input 'nosuch'" in out, (cmd, out)
