"""verify's worker: sizes sent ahead, replies read in order, a crash or a timeout in the middle
of a pipeline blamed on the size that caused it and the sizes after it run again on a fresh
worker; onnxruntime started before the analysis; onnxruntime missing is one line.

The crash and timeout tests run a real child process that speaks the worker's protocol and
dies (SIGSEGV) or stalls at chosen sizes, as a native onnxruntime failure would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from graphshape.errors import VerificationError
from graphshape.runtime import runner
from graphshape.runtime.verify import verify
from tests.conftest import processes_with

# a child speaking the worker protocol: replies with its pid and the size it was sent; dies
# by SIGSEGV at size 7 and 20, stalls at size 12
CHILD = textwrap.dedent("""
    import json, os, signal, sys, time
    print(json.dumps({"ready": True, "providers": ["CPUExecutionProvider"]}), flush=True)
    for line in sys.stdin:
        n = json.loads(line)["inputs"]["x"]["shape"][0]
        if n in (7, 20):
            os.kill(os.getpid(), signal.SIGSEGV)
        if n == 12:
            time.sleep(60)
        print(json.dumps({"ok": True, "shapes": {"x": [n, os.getpid()]}, "seconds": 0.0}),
              flush=True)
""")


def _scripted_worker(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    w = runner.Worker("unused.onnx", ["CPUExecutionProvider"], "all")
    w.args = [sys.executable, str(script)]
    return w


def _request(n):
    return {"inputs": {"x": {"shape": [n], "dtype": "float32"}}, "fills": ["normal"]}


def test_crash_and_timeout_mid_pipeline_blame_their_size_and_the_rest_runs_again(tmp_path):
    w = _scripted_worker(tmp_path)
    sizes = list(range(1, 31))
    seen = []
    try:
        replies = runner.pipelined(w, [_request(n) for n in sizes], timeout=1.0,
                                   on_reply=lambda i, r: seen.append(i))
    finally:
        w.stop()
    assert seen == list(range(len(sizes)))  # every reply once, in order
    for n, r in zip(sizes, replies):
        if n in (7, 20):
            assert r["ok"] is False and r.get("crash"), (n, r)
            assert "SIGSEGV" in r["error"]
        elif n == 12:
            assert r["ok"] is False and r.get("timeout"), (n, r)
        else:
            assert r["ok"] is True and r["shapes"]["x"][0] == n, (n, r)
    pids = [r["shapes"]["x"][1] for r in replies if r["ok"]]
    # sizes 1-6 on the first worker, 8-11 on the second, 13-19 the third, 21-30 the fourth
    groups = [[1, 6], [8, 11], [13, 19], [21, 30]]
    by_size = {r["shapes"]["x"][0]: r["shapes"]["x"][1] for r in replies if r["ok"]}
    assert len(set(pids)) == 4
    for lo, hi in groups:
        assert len({by_size[n] for n in range(lo, hi + 1)}) == 1
    assert w.proc is None  # stopped


def test_a_worker_that_is_gone_before_any_request_is_restarted(tmp_path):
    w = _scripted_worker(tmp_path)
    w.start()
    first = w.proc.pid
    os.kill(first, signal.SIGKILL)
    w.proc.wait()
    try:
        replies = runner.pipelined(w, [_request(3), _request(4)], timeout=5.0)
    finally:
        w.stop()
    assert [r["ok"] for r in replies] == [True, True]
    assert replies[0]["shapes"]["x"][1] != first


def test_pipelined_verdicts_match_one_size_at_a_time(toy_path):
    import graphshape

    a = graphshape.analyze(toy_path)
    together = verify(a, providers=["CPUExecutionProvider"])
    assert together.ok and len(together.verdicts) > 100
    picks = together.verdicts[::23]
    for v in picks:
        alone = verify(a, [v.sizes], providers=["CPUExecutionProvider"]).verdicts[0]
        assert (alone.predicted, alone.observed, alone.agree, alone.detail,
                alone.blamed_node) == (v.predicted, v.observed, v.agree, v.detail,
                                       v.blamed_node)
    # the report lists the sizes in the order asked, each once
    assert [v.sizes for v in together.verdicts] == [
        p for p in _planned(a)]


def _planned(a):
    from graphshape.runtime.verify import plan_points

    return plan_points(a.domain)


def test_prestarted_worker_is_used_and_one_for_another_file_is_not(toy_path, tmp_path):
    import graphshape

    a = graphshape.analyze(toy_path)
    early = runner.prestart(toy_path, ["CPUExecutionProvider"])
    pid = early.proc.pid
    rep = verify(a, [{"H": 256, "W": 256}], providers=["CPUExecutionProvider"], worker=early)
    assert rep.ok and rep.verdicts[0].observed == "valid"
    assert early.proc is None  # verify stopped it
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    other = tmp_path / "other.onnx"
    other.write_bytes(open(toy_path, "rb").read())
    wrong = runner.prestart(str(other), ["CPUExecutionProvider"])
    wrong_pid = wrong.proc.pid
    rep = verify(a, [{"H": 256, "W": 256}], providers=["CPUExecutionProvider"], worker=wrong)
    assert rep.ok and wrong.proc is None
    with pytest.raises(ProcessLookupError):
        os.kill(wrong_pid, 0)
    assert runner.prestart(str(tmp_path / "missing.onnx")) is None


def test_onnxruntime_missing_is_one_error_not_a_table_of_refusals(toy_path):
    w = runner.Worker(os.path.abspath(toy_path), None, "all")
    w.args.insert(1, "-S")  # no site-packages: no numpy, no onnxruntime
    with pytest.raises(VerificationError, match="onnxruntime is not installed"):
        w.start()
    assert w.proc is None


def test_cli_verify_starts_onnxruntime_while_analysing(toy_path):
    exe = os.path.join(os.path.dirname(sys.executable), "graphshape")
    p = subprocess.run([exe, "verify", toy_path, "--size", "H=256", "--size", "W=256"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "1 sizes run on onnxruntime" in p.stdout and "1 agree, 0 disagree" in p.stdout


def test_a_model_that_fails_to_analyse_leaves_no_worker_behind(tmp_path):
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(b"\x08\x07\x12\x04abcd\x3a\xff\xff")  # a protobuf cut short
    exe = os.path.join(os.path.dirname(sys.executable), "graphshape")
    for args in (["verify", str(bad)], ["analyze", str(bad), "--verify"]):
        p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=300)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
        assert processes_with(str(bad)) == []
