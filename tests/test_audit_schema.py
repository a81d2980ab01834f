"""The registry audit's JSON outputs against the schema shipped in the package: `audit DIR
--format json` (the rows of a run), `audit runs --format json` and `audit diff --format
json`, each from the real CLI on a real SQLite store (in process, -j 1). The registry's rows
cover the statuses a small registry can give (ok, error, timeout; a verification where
onnxruntime died with SIGFPE; a contract), and the diff is of two runs where one model was
replaced by its pinned variant, one changed, one added, one removed and one moved."""

from __future__ import annotations

import copy
import json
import os

import pytest
from click.testing import CliRunner

from graphshape.cli import main
from graphshape.fleet.sandbox import close_all
from graphshape.render import schema

from . import _fleet as F

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(autouse=True, scope="module")
def _sandboxes():
    yield
    close_all()  # the runs below share this thread's sandbox server


def _cli(*args) -> tuple:
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in r.output, r.output[-2000:]
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r.exit_code, r.stdout


@pytest.fixture(scope="module")
def faults_run(tmp_path_factory):
    """One verified run of a registry with a row of each status it can give here."""
    tmp = tmp_path_factory.mktemp("faults")
    reg = tmp / "models"
    reg.mkdir()
    F.conv(str(reg / "a.onnx"), 3)
    F.sigfpe(str(reg / "fpe.onnx"))
    F.loop(str(reg / "hang.onnx"), 10 ** 12)
    (reg / "bad.onnx").write_bytes(b"\x08\x07garbage")
    (tmp / "pyproject.toml").write_text(
        '[tool.graphshape.require]\n"models/a*.onnx" = "H in 3..64, W = H"\n')
    code, out = _cli("audit", reg, "--db", tmp / "s.sqlite", "-q", "--format", "json",
                     "--verify", "--random", 0, "--timeout", 3,
                     "--require-from", tmp / "pyproject.toml")
    return code, json.loads(out)


def test_registry_rows_match_the_schema(faults_run):
    code, doc = faults_run
    assert code == 3  # some rows are not ok
    schema.validate(doc, "audit_registry")
    rows = {os.path.basename(m["path"]): m for m in doc["models"]}
    assert {k: v["status"] for k, v in rows.items()} == {
        "a.onnx": "ok", "fpe.onnx": "ok", "hang.onnx": "timeout", "bad.onnx": "error"}
    # every row has the same keys, whatever its status
    assert len({tuple(m) for m in doc["models"]}) == 1
    assert rows["a.onnx"]["contract"]["verdict"] == "included"
    assert rows["fpe.onnx"]["contract"] is None and rows["a.onnx"]["error"] is None
    assert any("SIGFPE" in v["detail"] for v in rows["fpe.onnx"]["verification"]["verdicts"])
    assert rows["hang.onnx"]["verification"] is None
    assert rows["hang.onnx"]["error"].startswith("no result within 3 s")
    assert rows["bad.onnx"]["error"].endswith("not a readable ONNX model (truncated or "
                                              "corrupt protobuf: DecodeError)")


@pytest.mark.parametrize("change,why", [
    (lambda m: m.update(status="finished"), "not one of"),
    (lambda m: m.pop("contract"), "'contract' is a required property"),
    (lambda m: m.update(error="something"), "is not of type 'null'"),  # an ok row
    (lambda m: m.update(status="crash"), "is not of type 'string'"),  # no error given
    (lambda m: m.update(unproven=["a reason"]), "is not of type 'integer'"),
    (lambda m: m.update(model="a.onnx"), "Additional properties are not allowed"),
], ids=["unknown status", "missing key", "error on an ok row", "no error on a crash row",
        "unproven as reasons", "extra key"])
def test_the_schema_is_precise_about_rows(faults_run, change, why):
    _, doc = faults_run
    bad = copy.deepcopy(doc)
    change(next(m for m in bad["models"] if m["path"].endswith("a.onnx")))
    with pytest.raises(jsonschema.ValidationError, match=why):
        schema.validate(bad, "audit_registry")


def test_diff_of_two_runs_with_a_model_replaced_matches_the_schema(tmp_path, toy_path):
    """Run 1: a, b, old, toy. Run 2: toy replaced by its variant pinned to 256x256, a
    became a 5x5 Conv, old removed, new added, b renamed b2."""
    reg = tmp_path / "reg"
    F.night_one(reg, toy_path)
    db = tmp_path / "audit.sqlite"
    code, out = _cli("audit", reg, "--db", db, "-q", "--format", "json")
    assert code == 0
    schema.validate(json.loads(out), "audit_registry")
    F.night_two(reg, toy_path)
    code, out = _cli("audit", reg, "--db", db, "-q", "--format", "json")
    assert code == 0
    second = json.loads(out)
    schema.validate(second, "audit_registry")
    assert {os.path.basename(m["path"]) for m in second["models"] if m["reused"]} == {
        "b2.onnx"}

    code, out = _cli("audit", "diff", "--db", db, "--format", "json")
    assert code == 1  # the replaced model lost sizes
    d = json.loads(out)
    schema.validate(d, "audit_diff")
    assert d["added"] == [str(reg / "new.onnx")] and d["removed"] == [str(reg / "old.onnx")]
    assert d["moved"] == [[str(reg / "b.onnx"), str(reg / "b2.onnx")]]
    toy = next(c for c in d["changed"] if c["path"].endswith("toy.onnx"))
    assert toy["content_changed"] and toy["regression"] and toy["after_status"] == "ok"
    assert toy["inputs_changed"] == "input [1, 3, H, W] -> [1, 3, 256, 256]"
    assert toy["lost"] == "every size valid before except H = 256 and W = 256"
    assert d["regressions"] == [str(reg / "a.onnx"), str(reg / "toy.onnx")] and not d["ok"]

    # the other way round: sizes gained, no regression
    code, out = _cli("audit", "diff", "2", "1", "--db", db, "--format", "json")
    assert code == 0
    back = json.loads(out)
    schema.validate(back, "audit_diff")
    assert back["ok"] and all(c["lost"] is None for c in back["changed"])

    code, out = _cli("audit", "runs", "--db", db, "--format", "json")
    assert code == 0
    runs = json.loads(out)
    schema.validate(runs, "audit_runs")
    assert [(r["id"], r["status"], r["models"], r["analysed"]) for r in runs["runs"]] == [
        (1, "done", 4, 4), (2, "done", 4, 3)]
