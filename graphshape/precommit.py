"""The pre-commit hook: check changed .onnx files against the size contract kept in the
repository's pyproject.toml.

    [tool.graphshape.require]          # one --require contract per model glob
    "models/*.onnx" = "H in 224..640 step 32, W = H"
    "export/bert*.onnx" = "S in 1..512"

    [tool.graphshape.dims]             # optional: --dim overrides per glob (fixed zoo files)
    "export/resnet*.onnx" = ["input:2=H", "input:3=W"]

    [tool.graphshape]
    allow_unproven = false             # optional: unproven counts as a failure by default

Usage (what .pre-commit-hooks.yaml runs): ``graphshape-precommit FILE...`` or
``python -m graphshape.precommit FILE...``; with no FILE, the staged .onnx files. A file that
no glob matches is skipped. Exit 0 when every checked file includes its contract, 1 when
one does not (or is unproven, or cannot be analysed), 2 when the configuration is bad.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys

from graphshape.analysis import analyze
from graphshape.answers.contract import require
from graphshape.errors import GraphShapeError, UsageError
from graphshape.results import Verdict

try:
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def repo_root(start: str = ".") -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=start,
                             capture_output=True, text=True, check=True).stdout.strip()
        return out or os.path.abspath(start)
    except (OSError, subprocess.CalledProcessError):
        return os.path.abspath(start)


def load_config(root: str) -> dict:
    path = os.path.join(root, "pyproject.toml")
    if not os.path.exists(path):
        raise UsageError(f"no pyproject.toml in {root}: put the contracts in "
                         "[tool.graphshape.require]")
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: {e}") from None
    cfg = data.get("tool", {}).get("graphshape")
    if not isinstance(cfg, dict) or not isinstance(cfg.get("require"), dict) \
            or not cfg["require"]:
        raise UsageError(f"{path} has no [tool.graphshape.require] table "
                         "(glob = \"H in 224..640, W = H\")")
    for glob, spec in cfg["require"].items():
        if not isinstance(spec, str):
            raise UsageError(f"[tool.graphshape.require] '{glob}': the contract must be a "
                             "string")
    dims = cfg.get("dims", {})
    if not isinstance(dims, dict) or any(not isinstance(v, list) for v in dims.values()):
        raise UsageError("[tool.graphshape.dims] maps a glob to a list such as "
                         "[\"input:2=H\"]")
    return cfg


def _staged(root: str) -> list:
    out = subprocess.run(["git", "diff", "--cached", "--name-only", "--diff-filter=ACMR"],
                         cwd=root, capture_output=True, text=True).stdout
    return [os.path.join(root, p) for p in out.splitlines() if p.endswith(".onnx")]


def _match(rel: str, table: dict):
    for glob, v in table.items():
        if fnmatch.fnmatch(rel, glob):
            return glob, v
    return None, None


def check_file(path: str, rel: str, cfg: dict) -> tuple[bool | None, list]:
    """(ok, lines): ok is None when no glob matches the file."""
    glob, spec = _match(rel, cfg["require"])
    if glob is None:
        return None, []
    _, dims = _match(rel, cfg.get("dims", {}))

    try:
        a = analyze(path, dims=dims)
        res = require(a, spec)
    except GraphShapeError as e:
        return False, [f"{rel}: error: {e}"]
    verdict = str(res.verdict)
    ok = verdict == "included" or (verdict == Verdict.UNPROVEN and cfg.get("allow_unproven"))
    head = f"{rel}: require '{spec}' (from '{glob}'): "
    body = res.text().splitlines()
    return ok, [head + body[0]] + ["  " + ln for ln in body[1:]]


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root = repo_root()
    try:
        cfg = load_config(root)
    except UsageError as e:
        print(f"graphshape: {e}", file=sys.stderr)
        return 2
    files = [f for f in args if f.endswith(".onnx")] if args else _staged(root)
    failed = 0
    for f in files:
        rel = os.path.relpath(os.path.abspath(f), root)
        if not os.path.exists(f):
            continue  # deleted in this commit
        ok, lines = check_file(f, rel, cfg)
        if ok is None:
            continue
        for ln in lines:
            print(ln, file=sys.stdout if ok else sys.stderr)
        failed += not ok
    if failed:
        print(f"graphshape: {failed} model file{'s' if failed != 1 else ''} do not meet "
              "their size contract", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
