"""What changed between two nightly runs: two real runs into one SQLite store, with models
changed, added, removed, moved and pinned in between, and the diff's exact output; the
contracts of a pyproject.toml applied to a registry."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from graphshape.cli import main
from graphshape.fleet.diff import closed_form
from graphshape.fleet.nightly import AuditOptions, SerialExecutor, audit_registry
from graphshape.fleet.sandbox import close_all
from graphshape.fleet.store import Store

from . import _fleet as F


@pytest.fixture(autouse=True, scope="module")
def _sandboxes():
    yield
    close_all()  # the nights below share this thread's sandbox server


def _night(reg, db, **options):
    with Store(str(db)) as store:
        return audit_registry([str(reg)], store, AuditOptions(**options), SerialExecutor())


@pytest.fixture()
def two_nights(tmp_path, toy_path):
    """Night 1: a (Conv 3x3), b, old, toy. Night 2: a became a 5x5 Conv, old was removed,
    new was added, b was renamed b2, toy was replaced by its variant pinned to 256x256."""
    reg = tmp_path / "reg"
    F.night_one(reg, toy_path)
    db = tmp_path / "audit.sqlite"
    first = _night(reg, db)
    F.night_two(reg, toy_path)
    second = _night(reg, db)
    return tmp_path, reg, db, first, second


def test_diff_of_two_nights_exact_output(two_nights):
    tmp, reg, db, first, second = two_nights
    assert [r.status for r in first.rows] == ["ok"] * 4
    # the unchanged model's result is reused; the renamed one too (same content, same key)
    reused = {os.path.basename(r.path) for r in second.rows if r.reused}
    assert reused == {"b2.onnx"}
    with Store(str(db), readonly=True) as store:
        a, b = store.runs()
    r = CliRunner().invoke(main, ["audit", "diff", "--db", str(db)])
    assert r.exit_code == 1, r.output
    p = str(reg)
    toy_before = (
        "(1 <= H <= 10 and 8187 <= W <= 8194) or\n"
        "            (11 <= H <= 18 and 4091 <= W <= 4098) or\n"
        "            (27 <= H <= 34 and 2043 <= W <= 2050) or\n"
        "            (59 <= H <= 66 and 1019 <= W <= 1026) or\n"
        "            (123 <= H <= 130 and 507 <= W <= 514) or\n"
        "            (251 <= H <= 258 and 251 <= W <= 258) or\n"
        "            (507 <= H <= 514 and 123 <= W <= 130) or\n"
        "            (1019 <= H <= 1026 and 59 <= W <= 66) or\n"
        "            (2043 <= H <= 2050 and 27 <= W <= 34) or\n"
        "            (4091 <= H <= 4098 and 11 <= W <= 18) or\n"
        "            (8187 <= H <= 8194 and 1 <= W <= 10)")
    kernel = "the input size plus padding 0 must cover the dilated kernel 5"
    assert r.output == f"""\
run 1 ({a.started}, 4 models, done) -> run 2 ({b.started}, 4 models, done)
added (1):
  {p}/new.onnx
removed (1):
  {p}/old.onnx
moved (1, same content):
  {p}/b.onnx -> {p}/b2.onnx
changed (2):
  {p}/a.onnx
    content changed
    before: any H >= 3; any W >= 3
    after:  any H >= 5; any W >= 5
    no longer valid: (3 <= H <= 4 and W >= 3) or (H >= 5 and 3 <= W <= 4)
      because Conv (node 'c'): spatial axis 2: {kernel}
      because Conv (node 'c'): spatial axis 3: {kernel}
  {p}/toy.onnx
    content changed
    inputs: input [1, 3, H, W] -> [1, 3, 256, 256]
    before: {toy_before}
    after:  the model has no symbolic dims
    no longer valid: every size valid before except H = 256 and W = 256
      because input 'input' is now fixed at [1, 3, 256, 256] (was [1, 3, H, W])
unchanged: 0
2 models lost sizes or became unproven: {p}/a.onnx, {p}/toy.onnx
"""


def test_diff_as_json_and_markdown_and_the_read_api(two_nights):
    tmp, reg, db, first, second = two_nights
    r = CliRunner().invoke(main, ["audit", "diff", "1", "2", "--db", str(db), "--json"])
    assert r.exit_code == 1
    d = json.loads(r.output)
    assert d["regressions"] == [str(reg / "a.onnx"), str(reg / "toy.onnx")] and not d["ok"]
    a = next(c for c in d["changed"] if c["path"].endswith("a.onnx"))
    assert a["lost"] == "(3 <= H <= 4 and W >= 3) or (H >= 5 and 3 <= W <= 4)"
    assert a["gained"] is None and a["regression"] and a["content_changed"]
    md = CliRunner().invoke(main, ["audit", "diff", "--db", str(db), "--markdown"]).output
    assert md.startswith("# run 1 (") and "### `" + str(reg / "a.onnx") + "` (regression)" in md
    # the same objects a page renders from, without re-running anything
    with Store(str(db), readonly=True) as store:
        diff = store.diff()
        assert [c.path for c in diff.regressions] == d["regressions"]
        row = store.row(2, str(reg / "a.onnx"))
        assert row.domain == "any H >= 3; any W >= 3".replace("3", "5") and row.exact
        assert store.report(2, str(reg / "a.onnx"))["domain"]["closed_form"] == row.domain


def test_diff_back_in_the_other_direction_gains_sizes_and_exits_0(two_nights):
    tmp, reg, db, first, second = two_nights
    with Store(str(db), readonly=True) as store:
        back = store.diff(2, 1)
    a = next(c for c in back.changed if c.path.endswith("a.onnx"))
    assert a.gained == "(3 <= H <= 4 and W >= 3) or (H >= 5 and 3 <= W <= 4)"
    assert a.lost is None and not a.regression
    toy = next(c for c in back.changed if c.path.endswith("toy.onnx"))
    assert toy.gained == "every size valid now except H = 256 and W = 256"
    assert back.ok and back.added == [str(reg / "old.onnx")]


def test_unchanged_registry_diff_exits_0_and_stopped_loading_is_a_regression(tmp_path):
    reg = tmp_path / "reg"
    reg.mkdir()
    F.conv(str(reg / "a.onnx"), 3)
    db = tmp_path / "s.sqlite"
    _night(reg, db)
    _night(reg, db)
    r = CliRunner().invoke(main, ["audit", "diff", "--db", str(db)])
    assert r.exit_code == 0 and r.output.endswith(
        "unchanged: 1\nno model lost sizes or became unproven\n"), r.output
    (reg / "a.onnx").write_bytes(b"\x08\x07truncated")
    _night(reg, db)
    with Store(str(db), readonly=True) as store:
        d = store.diff()
    (c,) = d.changed
    assert c.stopped_loading.startswith(f"{reg / 'a.onnx'}: not a readable ONNX model")
    assert c.regression and not d.ok


def test_diff_needs_two_runs(tmp_path):
    reg = tmp_path / "reg"
    reg.mkdir()
    F.conv(str(reg / "a.onnx"), 3)
    db = tmp_path / "s.sqlite"
    r = CliRunner().invoke(main, ["audit", "diff", "--db", str(db)])
    assert r.exit_code == 2 and "no audit store here" in r.output
    _night(reg, db)
    r = CliRunner().invoke(main, ["audit", "diff", "--db", str(db)])
    assert r.exit_code == 2 and "a diff needs two runs (this store has 1)" in r.output
    r = CliRunner().invoke(main, ["audit", "diff", "1", "7", "--db", str(db)])
    assert r.exit_code == 2 and "no run 7 (runs: 1)" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_contracts_from_a_pyproject_apply_to_every_matching_model(tmp_path):
    reg = tmp_path / "models"
    reg.mkdir()
    F.conv(str(reg / "small.onnx"), 3)
    F.conv(str(reg / "big.onnx"), 9, name="k9")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.graphshape.require]\n"models/small*.onnx" = "H in 3..64, W = H"\n'
        '"models/big*.onnx" = "H in 3..64, W = H"\n')
    db = tmp_path / "s.sqlite"
    r = CliRunner().invoke(main, ["audit", str(reg), "--db", str(db), "-q", "--json",
                                  "--require-from", str(tmp_path / "pyproject.toml")])
    assert r.exit_code == 1, r.output  # big.onnx does not meet its contract
    rows = {os.path.basename(m["path"]): m for m in json.loads(r.output)["models"]}
    assert rows["small.onnx"]["contract"]["verdict"] == "included"
    big = rows["big.onnx"]["contract"]
    assert big["verdict"] == "not included" and big["glob"] == "models/big*.onnx"
    assert big["text"].startswith("not included: 6 of 62 required sizes are invalid")
    # the contract is part of the key: a changed contract is checked again
    (tmp_path / "pyproject.toml").write_text(
        '[tool.graphshape.require]\n"models/*.onnx" = "H in 9..64, W = H"\n')
    r = CliRunner().invoke(main, ["audit", str(reg), "--db", str(db), "-q", "--json",
                                  "--require-from", str(tmp_path / "pyproject.toml")])
    assert r.exit_code == 0, r.output
    assert all(not m["reused"] and m["contract"]["verdict"] == "included"
               for m in json.loads(r.output)["models"])


@pytest.mark.parametrize("text,expect", [
    ("{ [v0, v1] : v0 >= 3 and v1 >= 1 }", "H >= 3 and any W"),
    ("{ [v0, v1] : 3 <= v0 <= 4 and v1 = 7 }", "3 <= H <= 4 and W = 7"),
    ("{ [v0, v1] : v0 = 2 and v1 >= 1; [v0, v1] : v0 >= 9 and v1 = 1 }",
     "(H = 2 and any W) or (H >= 9 and W = 1)"),
    ("{ [v0, v1] : 1 = 0 }", "no size"),
])
def test_closed_form_of_a_set(text, expect):
    import islpy as isl

    assert closed_form(isl.Set(text), ["H", "W"]) == expect
