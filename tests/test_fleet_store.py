"""The audit store (a real SQLite file): schema version and refusals, rows written as they
arrive and read back by a second process, the second night reusing stored results, content
hashes that cover external data, a corrupt model as a row, the CLI's registry output."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

from graphshape.cli import main
from graphshape.errors import UsageError
from graphshape.fleet import identity
from graphshape.fleet.nightly import AuditOptions, SerialExecutor, audit_registry
from graphshape.fleet.sandbox import close_all
from graphshape.fleet.store import APPLICATION_ID, SCHEMA_VERSION, Store

from . import _fleet as F


@pytest.fixture(autouse=True, scope="module")
def _sandboxes():
    yield
    close_all()


def _night(paths, db, **options):
    with Store(str(db)) as store:
        return audit_registry([str(p) for p in paths], store, AuditOptions(**options),
                              SerialExecutor())


@pytest.fixture()
def registry(tmp_path):
    reg = tmp_path / "reg"
    (reg / "sub").mkdir(parents=True)
    F.conv(str(reg / "a.onnx"), 3)
    F.external(str(reg / "sub" / "ext.onnx"), 2)
    (reg / "sub" / "bad.onnx").write_bytes(b"\x08\x07garbage")
    (reg / "notes.txt").write_text("not a model")
    return reg


def test_store_schema_wal_and_identity(tmp_path, registry):
    db = tmp_path / "s.sqlite"
    res = _night([registry], db)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    rows = {os.path.basename(r.path): r for r in res.rows}
    assert set(rows) == {"a.onnx", "ext.onnx", "bad.onnx"}
    assert rows["bad.onnx"].status == "error" and "not a readable ONNX model" in \
        rows["bad.onnx"].error
    assert rows["a.onnx"].domain == "any H >= 3; any W >= 3" and rows["a.onnx"].exact
    assert rows["ext.onnx"].domain == "any H >= 2; any W >= 2"
    # the external data file is part of the content
    fp = identity.fingerprint(str(registry / "sub" / "ext.onnx"))
    assert fp.files == ("ext.onnx.data",) and rows["ext.onnx"].content_hash == fp.sha256


def test_second_night_reuses_everything_and_force_redoes_it(tmp_path, registry):
    db = tmp_path / "s.sqlite"
    first = _night([registry], db)
    second = _night([registry], db)
    assert [r.reused for r in second.rows] == [True] * 3
    assert [(r.path, r.status, r.domain, r.error) for r in second.rows] == \
        [(r.path, r.status, r.domain, r.error) for r in first.rows]
    third = _night([registry], db, force=True)
    assert not any(r.reused for r in third.rows)
    # other options are another key: analysed again
    fourth = _night([registry], db, dims=("X:0=N",))
    assert not any(r.reused for r in fourth.rows)
    with Store(str(db), readonly=True) as store:
        runs = store.runs()
    assert [(r.models, r.analysed, r.failed, r.status) for r in runs] == [
        (3, 3, 1, "done"), (3, 0, 1, "done"), (3, 3, 1, "done"), (3, 3, 1, "done")]


def test_changed_external_data_is_a_changed_model(tmp_path, registry):
    db = tmp_path / "s.sqlite"
    _night([registry], db)
    data = registry / "sub" / "ext.onnx.data"
    raw = bytearray(data.read_bytes())
    raw[:4] = b"\x00\x00\x80\x3f"  # the first weight becomes 1.0: same size, same shapes
    data.write_bytes(bytes(raw))
    second = _night([registry], db)
    ext = next(r for r in second.rows if r.path.endswith("ext.onnx"))
    assert not ext.reused and ext.status == "ok"
    with Store(str(db), readonly=True) as store:
        (change,) = store.diff().changed
    assert change.path.endswith("ext.onnx") and change.content_changed
    assert change.lost is None and not change.regression


def test_store_reopened_by_a_second_process(tmp_path, registry):
    db = tmp_path / "s.sqlite"
    res = _night([registry], db, verify=True, n_random=0)
    code = ("import json, sys; from graphshape.fleet.store import Store\n"
            "with Store(sys.argv[1], readonly=True) as s:\n"
            "    runs = s.runs()\n"
            "    print(json.dumps({'runs': [r.to_json() for r in runs],\n"
            "                      'rows': [r.to_json() for r in s.rows(runs[-1].id)]}))\n")
    out = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["rows"] == json.loads(json.dumps([r.to_json() for r in res.rows]))
    (run,) = seen["runs"]
    assert run["status"] == "done" and run["models"] == 3 and run["where"] == "in process"
    a = next(r for r in seen["rows"] if r["path"].endswith("a.onnx"))
    assert a["verification"]["ok"] and len(a["verification"]["verdicts"]) == 5


def test_store_refuses_what_it_cannot_read(tmp_path):
    newer = tmp_path / "newer.sqlite"
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(UsageError, match="written by a newer graphshape"):
        Store(str(newer))
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.close()
    with pytest.raises(UsageError, match="not a graphshape audit store"):
        Store(str(other))
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is no database" * 100)
    r = CliRunner().invoke(main, ["audit", "runs", "--db", str(junk)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "not a usable audit store" in r.output


def test_stat_cache_trusts_only_unchanged_files(tmp_path):
    path = F.conv(str(tmp_path / "m.onnx"), 3)
    with Store(str(tmp_path / "s.sqlite")) as store:
        first = identity.fingerprint(path, store)
        # pretend it was hashed long after its last change: the signature is then trusted
        sigs, sha, files, _ = store.cached_hash(path)
        store.remember_hash(path, sigs, "cached", files, sigs[0][3] + 10 ** 10)
        assert identity.fingerprint(path, store).sha256 == "cached"
        st = os.stat(path)
        F.conv(path, 3, name="other")  # new bytes; keep the old mtime: ctime still moves
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        again = identity.fingerprint(path, store)
    assert again.sha256 not in ("cached", first.sha256)


def test_registry_cli_text_and_exit_codes(tmp_path, registry):
    db = tmp_path / "s.sqlite"
    r = CliRunner().invoke(main, ["audit", str(registry), "--db", str(db)])
    assert r.exit_code == 3, r.output  # one model could not be read
    out = r.stdout
    assert f"== {registry / 'a.onnx'} (" in out and "domain: any H >= 3; any W >= 3" in out
    assert "error: " + str(registry / "sub" / "bad.onnx") + ": not a readable" in out
    assert r.stderr.startswith("run 1: 3 models (3 analysed, 0 reused) in ")
    r = CliRunner().invoke(main, ["audit", str(registry / "a.onnx"), "--db", str(db)])
    assert r.exit_code == 0 and "reused from an earlier run" in r.stdout
    r = CliRunner().invoke(main, ["audit", "runs", "--db", str(db), "--json"])
    assert [x["models"] for x in json.loads(r.output)["runs"]] == [3, 1]
    # the default store lives beside the first PATH
    r = CliRunner().invoke(main, ["audit", str(registry), "-q"])
    assert r.exit_code == 3 and os.path.exists(tmp_path / ".graphshape" / "audit.sqlite")
    for bad, msg in ((["audit"], "give PATH"),
                     (["audit", str(registry), "--memory-limit", "lots"], "bad --memory-limit"),
                     (["audit", str(registry), "-j", "0"], "bad -j 0"),
                     (["audit", str(tmp_path / "empty")], "no .onnx file found")):
        os.makedirs(tmp_path / "empty", exist_ok=True)
        r = CliRunner().invoke(main, bad + ["--db", str(db)])
        assert r.exit_code == 2 and msg in r.output, (bad, r.output)
        assert len(r.output.strip().splitlines()) == 1, r.output


def test_the_same_content_under_several_names_is_analysed_once(tmp_path):
    reg = tmp_path / "reg"
    reg.mkdir()
    F.conv(str(reg / "a.onnx"), 3)
    for name in ("b.onnx", "c.onnx"):
        F.copy(str(reg / "a.onnx"), str(reg / name))
    res = _night([reg], tmp_path / "s.sqlite")
    assert sorted(r.reused for r in res.rows) == [False, True, True]
    assert len({r.content_hash for r in res.rows}) == 1
    assert {r.domain for r in res.rows} == {"any H >= 3; any W >= 3"}
