"""The registry audit on a real Dask cluster and its faults: a model that kills onnxruntime
with SIGFPE, one that hangs past --timeout, one past --memory-limit, a corrupt file (each a
row that says so, every other row written); a worker SIGKILLed mid-task (the task runs again
on another worker, the row is marked with its retry); ctrl-c (the rows so far are kept,
exit 130); a long verification split into tasks; models without verification sent several
to a task (a batch past its time hands the rest back; a lost batch runs again model by
model); models sent as bytes; TLS."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import types

import pytest
from click.testing import CliRunner

import graphshape
import graphshape.fleet.cluster as fleet_cluster
from graphshape.cli import main
from graphshape.fleet import sandbox
from graphshape.fleet.cluster import ClusterOptions, connect
from graphshape.fleet.sandbox import close_all
from graphshape.fleet.store import Store
from graphshape.runtime.verify import plan_points

from . import _fleet as F
from .conftest import processes_with

distributed = pytest.importorskip("distributed", reason="the fleet extra (dask) is needed")
import dask  # noqa: E402  (the fleet extra: after the check above)


@pytest.fixture(scope="module")
def cluster():
    """Two workers in this process (threads): starts in a second."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0", silence_logs=logging.ERROR) as c:
        yield c.scheduler_address
    close_all()  # the workers' sandbox servers


def _audit(*args):
    r = CliRunner().invoke(main, ["audit", *map(str, args)])
    return r, (json.loads(r.stdout) if "--json" in args else None)


def test_faults_are_rows_and_every_other_row_is_written(tmp_path, cluster):
    reg = tmp_path / "reg"
    reg.mkdir()
    F.sigfpe(str(reg / "fpe.onnx"))
    F.loop(str(reg / "hang.onnx"), 10 ** 12)
    F.hog(str(reg / "hog.onnx"), 100_000_000)  # 400 MB a buffer, several at once
    F.conv(str(reg / "conv.onnx"), 3)
    (reg / "bad.onnx").write_bytes(b"\x08\x07garbage")
    r, out = _audit(reg, "--scheduler", cluster, "--verify", "--random", 0, "--timeout", 3,
                    "--memory-limit", "600MB", "--memory-budget", 16,
                    "--db", tmp_path / "s.sqlite", "-q", "--json")
    assert r.exit_code == 3, r.output  # some rows are not ok
    rows = {os.path.basename(m["path"]): m for m in out["models"]}
    assert {k: v["status"] for k, v in rows.items()} == {
        "fpe.onnx": "ok", "hang.onnx": "timeout", "hog.onnx": "memory", "conv.onnx": "ok",
        "bad.onnx": "error"}
    fpe = rows["fpe.onnx"]["verification"]
    crashed = [v for v in fpe["verdicts"] if "SIGFPE" in v["detail"]]
    assert crashed and all(v["agree"] and v["observed"] == "invalid" for v in crashed)
    assert fpe["ok"] and rows["fpe.onnx"]["domain"] == "any H >= 2; any W >= 2"
    assert rows["hang.onnx"]["error"].startswith("no result within 3 s (stopped while "
                                                 "verifying (0 of ")
    assert 2.5 < rows["hang.onnx"]["seconds"] < 9
    assert rows["hog.onnx"]["error"].endswith("past the memory limit of 572 MiB (stopped)")
    assert rows["conv.onnx"]["verification"]["ok"]
    assert all(m["worker"].startswith(("tcp://", "inproc://")) for m in out["models"])
    # nothing of the killed models is left running
    assert not processes_with(str(reg))


def test_a_long_verification_is_split_into_tasks(tmp_path, cluster, toy_path):
    reg = tmp_path / "reg"
    reg.mkdir()
    F.copy(toy_path, str(reg / "toy.onnx"))
    # a split threshold no run can stay under: the toy's whole verification (its worker
    # started while the model is analysed) can end within a few tenths of a second
    r, out = _audit(reg, "--scheduler", cluster, "--verify", "--random", 2,
                    "--split-after", "0.001", "--db", tmp_path / "s.sqlite", "-q", "--json")
    assert r.exit_code == 0, r.output
    (row,) = out["models"]
    ver = row["verification"]
    assert ver["tasks"] > 1 and ver["ok"] and not ver["interrupted"]
    # every planned point, in order, once
    planned = plan_points(graphshape.analyze(toy_path).domain, 2, 0)
    assert [v["sizes"] for v in ver["verdicts"]] == planned
    assert ver["summary"].startswith(f"{len(planned)} sizes run on onnxruntime")


# the models of each batch task, as the workers (threads of this process) ran them
BATCHES: list = []


def _recording_batch(tasks, budget=None):
    BATCHES.append([os.path.basename(t["request"]["path"]) for t in tasks])
    return sandbox.run_batch_in_sandbox(tasks, budget)


def _lost(key):
    return distributed.KilledWorker(key, types.SimpleNamespace(address="tcp://gone:1"), 3)


def _batch_takes_down_workers(tasks, budget=None):
    raise _lost("a batch")


def _one_takes_down_workers(task):
    if "culprit" in task["request"]["path"]:
        raise _lost(task["request"]["path"])
    return sandbox.run_in_sandbox(task)


def _task(path) -> dict:
    return {"request": {"kind": "model", "path": str(path), "display": str(path), "dims": [],
                        "input_shapes": [], "contract": None, "split_after": None,
                        "verify": None},
            "timeout": 60.0, "memory_limit": None}


def _run_tasks(address, paths, batchable=True) -> dict:
    """The executor alone: every path submitted, then collected; key -> Outcome."""
    ex = connect(ClusterOptions(scheduler=address))
    out = {}
    try:
        for p in paths:
            ex.submit(os.path.basename(p), _task(p), 0, batchable)
        while ex.busy():
            for o in ex.collect(block=True):
                assert o.key not in out, f"{o.key} came back twice"
                out[o.key] = o
    finally:
        ex.close()
    return out


def test_short_models_go_in_batches_and_a_batch_hands_back_what_it_did_not_start(
        tmp_path, cluster, monkeypatch):
    paths = [F.conv(str(tmp_path / f"c{k}.onnx"), k, name=f"c{k}") for k in range(2, 9)]
    monkeypatch.setattr(fleet_cluster, "run_batch_in_sandbox", _recording_batch)
    BATCHES.clear()
    out = _run_tasks(cluster, paths)
    # two workers: the first four go alone, so that neither waits; the rest as one task
    assert BATCHES == [["c6.onnx", "c7.onnx", "c8.onnx"]]
    assert sorted(out) == [f"c{k}.onnx" for k in range(2, 9)]
    assert all(o.record["status"] == "ok" and o.retries == 0 for o in out.values())
    assert out["c7.onnx"].record["domain"] == "any H >= 7; any W >= 7"
    # no time for a second model: each batch runs its first and hands the rest back
    monkeypatch.setattr(fleet_cluster, "BATCH_SECONDS", 0.0)
    BATCHES.clear()
    out = _run_tasks(cluster, paths)
    assert BATCHES == [["c6.onnx", "c7.onnx", "c8.onnx"], ["c7.onnx", "c8.onnx"]]
    assert sorted(out) == [f"c{k}.onnx" for k in range(2, 9)]
    assert all(o.record["status"] == "ok" for o in out.values())
    # tasks with verification (not batchable) go one by one
    BATCHES.clear()
    _run_tasks(cluster, paths[:5], batchable=False)
    assert BATCHES == []


def test_a_lost_batch_runs_again_model_by_model(tmp_path, cluster, monkeypatch):
    """Dask gave up on a batch (its workers died): each model runs as a task of its own,
    and only the one that takes down workers is lost."""
    paths = [F.conv(str(tmp_path / f"{n}.onnx"), 3, name=n)
             for n in ("a", "b", "c", "d", "e", "culprit")]
    monkeypatch.setattr(fleet_cluster, "run_batch_in_sandbox", _batch_takes_down_workers)
    monkeypatch.setattr(fleet_cluster, "run_in_sandbox", _one_takes_down_workers)
    out = _run_tasks(cluster, paths)
    assert {k: o.record["status"] for k, o in out.items()} == {
        "a.onnx": "ok", "b.onnx": "ok", "c.onnx": "ok", "d.onnx": "ok", "e.onnx": "ok",
        "culprit.onnx": "lost"}
    assert out["culprit.onnx"].record["error"].startswith(
        "the task took down a worker each time it ran (Attempted to run task")


def test_a_registry_without_verification_in_batches_on_the_cluster(tmp_path, cluster,
                                                                    monkeypatch):
    """The audit end to end with batches that hand models back: every model one row."""
    reg = tmp_path / "reg"
    reg.mkdir()
    for k in range(2, 10):
        F.conv(str(reg / f"c{k}.onnx"), k, name=f"c{k}")
    (reg / "bad.onnx").write_bytes(b"\x08\x07garbage")
    monkeypatch.setattr(fleet_cluster, "BATCH_SECONDS", 0.0)
    r, out = _audit(reg, "--scheduler", cluster, "--db", tmp_path / "s.sqlite", "-q", "--json")
    assert r.exit_code == 3, r.output  # bad.onnx is not analysed
    rows = {os.path.basename(m["path"]): m for m in out["models"]}
    assert {k: v["status"] for k, v in rows.items()} == dict(
        {f"c{k}.onnx": "ok" for k in range(2, 10)}, **{"bad.onnx": "error"})
    assert rows["c9.onnx"]["domain"] == "any H >= 9; any W >= 9"
    assert all(m["worker"].startswith(("tcp://", "inproc://")) for m in out["models"])
    with Store(str(tmp_path / "s.sqlite"), readonly=True) as store:
        (run,) = store.runs()
    assert run.models == run.analysed == 9


def test_models_sent_as_bytes_with_their_external_data(tmp_path, cluster):
    reg = tmp_path / "reg"
    reg.mkdir()
    F.external(str(reg / "ext.onnx"), 4)
    r, out = _audit(reg, "--scheduler", cluster, "--upload", "--verify", "--random", 0,
                    "--db", tmp_path / "s.sqlite", "-q", "--json")
    assert r.exit_code == 0, r.output
    (row,) = out["models"]
    assert row["domain"] == "any H >= 4; any W >= 4" and row["verification"]["ok"]
    assert row["path"] == str(reg / "ext.onnx")


def test_tls_scheduler(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    sec = distributed.security.Security(
        tls_ca_file=str(cert), tls_scheduler_cert=str(cert), tls_scheduler_key=str(key),
        tls_worker_cert=str(cert), tls_worker_key=str(key), tls_client_cert=str(cert),
        tls_client_key=str(key), require_encryption=True)
    reg = tmp_path / "reg"
    reg.mkdir()
    F.conv(str(reg / "a.onnx"), 3)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tls://", security=sec, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as c:
        assert c.scheduler_address.startswith("tls://")
        r, out = _audit(reg, "--scheduler", c.scheduler_address, "--tls-ca", cert,
                        "--tls-cert", cert, "--tls-key", key, "--db", tmp_path / "s.sqlite",
                        "-q", "--json")
        assert r.exit_code == 0, r.output
        assert out["where"] == c.scheduler_address and out["models"][0]["status"] == "ok"
        r, _ = _audit(reg, "--scheduler", c.scheduler_address, "--db", tmp_path / "s.sqlite")
        assert r.exit_code == 2 and "is a TLS address: give --tls-ca" in r.output
        assert len(r.output.strip().splitlines()) == 1


def _kill_worker_running(client, reg, name: str):
    """SIGKILL the worker whose task for model ``name`` is running onnxruntime."""

    def running():
        for worker, keys in client.processing().items():
            if any(name in str(k) for k in keys):
                return worker
        return None

    worker = F.wait_for(running, 60, f"{name}'s task to start")
    pid = client.run(os.getpid, workers=[worker])[worker]
    F.wait_for(lambda: processes_with(str(reg / name)), 30, f"onnxruntime to run {name}")
    os.kill(pid, signal.SIGKILL)
    F.wait_for(lambda: worker not in client.scheduler_info()["workers"], 30,
               "the scheduler to see the worker gone")
    return worker


def test_worker_killed_mid_task_is_retried_then_lost(tmp_path):
    """A worker killed under a task: the task runs again on another worker and its row is
    marked with the retry; killed again past Dask's allowed failures (1 here): a row that
    says the model was lost, the run goes on."""
    reg, doomed = tmp_path / "reg", tmp_path / "doomed"
    reg.mkdir()
    doomed.mkdir()
    F.loop(str(reg / "slow.onnx"), 800_000)  # about half a second a run
    F.conv(str(reg / "a.onnx"), 3)
    F.loop(str(doomed / "slow2.onnx"), 800_001)
    db = tmp_path / "s.sqlite"
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=":0", silence_logs=logging.ERROR,
                                     memory_limit=0) as c, distributed.Client(c) as client:
        proc = F.graphshape_cli("audit", reg, "--scheduler", c.scheduler_address, "--verify",
                                "--random", 1, "--db", db, "-q", "--json")
        try:
            worker = _kill_worker_running(client, reg, "slow.onnx")
            stdout, stderr = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proc.returncode == 0, stderr
        rows = {os.path.basename(m["path"]): m for m in json.loads(stdout)["models"]}
        slow = rows["slow.onnx"]
        assert slow["status"] == "ok" and slow["retries"] == 1
        assert slow["worker"] != worker and slow["verification"]["ok"]
        assert rows["a.onnx"]["retries"] == 0
        # the killed worker's sandbox and onnxruntime processes went with it
        F.wait_for(lambda: not processes_with(str(reg / "slow.onnx")), 15,
                   "the killed worker's processes to end")

        proc = F.graphshape_cli("audit", doomed, "--scheduler", c.scheduler_address,
                                "--verify", "--random", 1, "--db", db, "-q", "--json")
        try:
            for _ in range(2):
                F.wait_for(lambda: len(client.scheduler_info()["workers"]) == 2, 60,
                           "the nanny to restart the worker")
                _kill_worker_running(client, doomed, "slow2.onnx")
            stdout, stderr = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert proc.returncode == 3, stderr
    (row,) = json.loads(stdout)["models"]
    assert row["status"] == "lost" and row["retries"] == 2
    assert row["error"].startswith("the task took down a worker each time it ran")
    with Store(str(db), readonly=True) as store:
        assert store.row(1, str(reg / "slow.onnx")).retries == 1
        assert store.row(2, str(doomed / "slow2.onnx")).status == "lost"


def test_ctrl_c_keeps_the_rows_stored_so_far(tmp_path):
    reg = tmp_path / "reg"
    reg.mkdir()
    for i in range(4):
        F.loop(str(reg / f"slow{i}.onnx"), 600_000 + i)
    db = tmp_path / "s.sqlite"
    proc = F.graphshape_cli("audit", reg, "--verify", "--random", 1, "--db", db)

    def stored():
        if not os.path.exists(db):
            return 0
        try:
            with Store(str(db), readonly=True) as store:  # read while the run writes
                runs = store.runs()
                return len(store.rows(runs[-1].id)) if runs else 0
        except Exception:  # noqa: BLE001  the schema may not be written yet
            return 0

    try:
        F.wait_for(stored, 120, "a first row in the store", interval=0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "graphshape: interrupted: " in stderr and "Traceback" not in stderr
    with Store(str(db), readonly=True) as store:
        (run,) = store.runs()
        rows = store.rows(run.id)
    assert run.status == "interrupted" and 1 <= len(rows) < 4
    assert all(r.status == "ok" and r.verification["ok"] for r in rows)
    assert stdout.count("== ") == len(rows)
    F.wait_for(lambda: not processes_with(str(reg)), 15, "the audit's processes to end")
