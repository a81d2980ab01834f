"""The CLI's contract: output, and exit codes decided in one place."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

BIN = [sys.executable, "-m", "graphshape.cli"]


def run(*args, cwd=None):
    p = subprocess.run(BIN + list(args), capture_output=True, text=True, cwd=cwd, timeout=600)
    return p.returncode, p.stdout, p.stderr


def test_analyze_prints_the_domain(toy_path):
    rc, out, err = run("analyze", toy_path)
    assert rc == 0, err
    assert "251 <= H <= 258 and 251 <= W <= 258" in out
    assert "Gemm '/head/head.0/Gemm'" in out


def test_analyze_json(toy_path):
    rc, out, _ = run("analyze", toy_path, "--json")
    assert rc == 0
    assert json.loads(out)["schema_version"] == 1


def test_analyze_verify_exit_zero_on_agreement(toy_path):
    rc, out, err = run("analyze", toy_path, "--verify")
    assert rc == 0, out + err
    assert "verified:" in out and "0 disagree" in out


@pytest.mark.parametrize("sizes,code,needle", [
    (["H=256", "W=256"], 0, "valid"),
    (["H=512", "W=128"], 0, "valid"),
    (["H=300", "W=300"], 1, "Gemm (node '/head/head.0/Gemm')"),
    (["H=0", "W=256"], 2, "out of range (1 .."),  # 0 only for a size that may be empty
    (["H=-1", "W=256"], 2, "sizes start at 0"),
    (["H=1000000000000", "W=256"], 2, "larger than"),
    (["H=abc", "W=256"], 2, "not an integer"),
    (["H", "W=256"], 2, "expected NAME=INT"),
    (["H=256"], 2, "no size given for W"),
    (["H=256", "W=256", "Q=3"], 2, "unknown dim 'Q'"),
])
def test_check_exit_codes(toy_path, sizes, code, needle):
    args = ["check", toy_path]
    for s in sizes:
        args += ["--size", s]
    rc, out, err = run(*args)
    assert rc == code, (out, err)
    assert needle in out + err
    assert "Traceback" not in err


def test_check_unreadable_model(tmp_path):
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"\x00\x01garbage" * 10)
    rc, out, err = run("check", str(p), "--size", "H=1")
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err


def test_output_file_written_atomically(toy_path, tmp_path):
    dest = tmp_path / "report.json"
    rc, _, _ = run("analyze", toy_path, "--json", "-o", str(dest))
    assert rc == 0 and json.loads(dest.read_text())["domain"]["symbols"] == ["H", "W"]
    bad = tmp_path / "none.json"
    rc, _, _ = run("analyze", str(tmp_path / "missing.onnx"), "--json", "-o", str(bad))
    assert rc == 2 and not bad.exists()
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".graphshape-")]


def test_dim_option(toy_path):
    rc, out, err = run("check", toy_path, "--dim", "nope:2=H", "--size", "H=1")
    assert rc == 2 and "--dim names input 'nope'" in err
    rc, out, err = run("check", toy_path, "--dim", "input:2", "--size", "H=1")
    assert rc == 2 and "expected INPUT:AXIS=NAME" in err


def test_help_ends_with_examples():
    rc, out, _ = run("--help")
    assert rc == 0 and "Examples:" in out and "graphshape check" in out


def test_ops_lists_claimed_ops():
    rc, out, _ = run("ops")
    assert rc == 0
    for op in ("Conv", "MaxPool", "Gemm", "Reshape", "Flatten"):
        assert op in out


def test_ctrl_c_stops_verification_cleanly_with_the_partial_table(toy_path):
    import select
    import signal
    import time

    env = dict(os.environ, GRAPHSHAPE_PROGRESS="1")
    p = subprocess.Popen(BIN + ["verify", toy_path, "--random", "200"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = b""
    deadline = time.time() + 300
    while b"verifying" not in seen or seen.count(b"/") < 20:  # a few sizes are done
        assert time.time() < deadline and p.poll() is None, seen[-300:]
        r, _, _ = select.select([p.stderr], [], [], 1)
        if r:
            seen += os.read(p.stderr.fileno(), 4096)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    out, err = out.decode(), (seen + err).decode()
    assert p.returncode == 130, (out, err[-500:])
    assert "interrupted: partial table" in out
    assert "Traceback" not in err


def test_plot_writes_an_svg_map(toy_path, tmp_path):
    dest = tmp_path / "region.svg"
    rc, out, err = run("analyze", toy_path, "--plot", str(dest))
    assert rc == 0, err
    text = dest.read_text()
    assert text.startswith("<svg") and "#2e9d4f" in text and "W (log scale)" in text
    assert oct(dest.stat().st_mode & 0o777) != oct(0o600)
