"""The registry audit on a real Dask cluster and its faults: a model that kills onnxruntime
with SIGFPE, one that hangs past --timeout, one past --memory-limit, a corrupt file (each a
row that says so, every other row written); a worker SIGKILLed mid-task (the task runs again
on another worker, the row is marked with its retry); ctrl-c (the rows so far are kept,
exit 130); a long verification split into tasks; models sent as bytes; TLS."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess

import pytest
from click.testing import CliRunner

import graphshape
from graphshape.cli import main
from graphshape.fleet.sandbox import close_all
from graphshape.fleet.store import Store
from graphshape.runtime.verify import plan_points

from . import _fleet as F

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
    assert not _processes_with(str(reg))


def _processes_with(text: str) -> list:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        out.append(int(pid))
            except OSError:
                pass
    return out


def test_a_long_verification_is_split_into_tasks(tmp_path, cluster, toy_path):
    reg = tmp_path / "reg"
    reg.mkdir()
    F.copy(toy_path, str(reg / "toy.onnx"))
    r, out = _audit(reg, "--scheduler", cluster, "--verify", "--random", 2,
                    "--split-after", "0.3", "--db", tmp_path / "s.sqlite", "-q", "--json")
    assert r.exit_code == 0, r.output
    (row,) = out["models"]
    ver = row["verification"]
    assert ver["tasks"] > 1 and ver["ok"] and not ver["interrupted"]
    # every planned point, in order, once
    planned = plan_points(graphshape.analyze(toy_path).domain, 2, 0)
    assert [v["sizes"] for v in ver["verdicts"]] == planned
    assert ver["summary"].startswith(f"{len(planned)} sizes run on onnxruntime")


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
    F.wait_for(lambda: _processes_with(str(reg / name)), 30, f"onnxruntime to run {name}")
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
        F.wait_for(lambda: not _processes_with(str(reg / "slow.onnx")), 15,
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
    F.wait_for(lambda: not _processes_with(str(reg)), 15, "the audit's processes to end")
