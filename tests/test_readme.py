"""The README's examples, executed on the toy model, so they cannot drift.

* every fenced ```python block runs (a model path given to graphshape.analyze or to
  graphshape.testing's assert_accepts/assert_rejects is the toy;
  ``model`` and ``x`` are the toy's torch module and an input); a block whose comments
  show ``# SomeError: message ...`` must raise one of those errors with that message;
* every ``graphshape ...`` command line of a plain ``` block runs through the real CLI
  (MODEL and *.onnx names are the toy, FILE and *.svg/*.png temporary files): once
  without its optional ``[...]`` parts, then once per optional part (each alternative of
  ``a|b``) that has no placeholder, each with the exit code the toy's domain implies and
  the line that command prints first;
* every plain block that shows the toy's output (``valid sizes``, ``verified:``) appears
  line for line (elisions ``...`` aside) in what ``graphshape analyze`` prints.
"""

from __future__ import annotations

import json
import os
import re
import shlex

import pytest
from click.testing import CliRunner

import graphshape
from graphshape.cli import main

from .conftest import ROOT

README = os.path.join(ROOT, "README.md")


def blocks() -> list:
    """(language, first line number, text) of every fenced block."""
    out, lang, start, buf = [], None, 0, None
    with open(README, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if line.startswith("```"):
                if buf is None:
                    lang, start, buf = line[3:].strip(), i, []
                else:
                    out.append((lang, start, "".join(buf)))
                    buf = None
            elif buf is not None:
                buf.append(line)
    return out


def python_blocks() -> list:
    return [(n, t) for lang, n, t in blocks() if lang == "python"]


def command_lines() -> list:
    """(line number, command) for every `graphshape ...` line of a plain block, with its
    continuation lines (indented `[...]`) joined and comments dropped."""
    out = []
    for lang, start, text in blocks():
        if lang:
            continue
        cur = None
        for k, raw in enumerate(text.splitlines()):
            line = raw.split("#", 1)[0].rstrip()
            if line.startswith("graphshape "):
                if cur:
                    out.append(cur)
                cur = (start + 1 + k, line)
            elif cur and line.strip().startswith("["):
                cur = (cur[0], cur[1] + " " + line.strip())
            elif cur:
                out.append(cur)
                cur = None
        if cur:
            out.append(cur)
    return out


def output_blocks() -> list:
    return [(n, t) for lang, n, t in blocks()
            if not lang and ("valid sizes" in t or "verified:" in t)
            and not any(ln.startswith("graphshape ") for ln in t.splitlines())]


def test_the_readme_has_examples_of_every_kind():
    assert python_blocks() and command_lines() and output_blocks()


# ---- python blocks ---------------------------------------------------------------------

_ERR = re.compile(r"^#\s*([A-Z]\w*):\s*(.*)$")


def _is_error_name(name: str) -> bool:
    """SomeError, or an exception class graphshape exports (InvalidSizes)."""
    obj = getattr(graphshape, name, None)
    return name.endswith("Error") or (isinstance(obj, type) and issubclass(obj, Exception))


@pytest.mark.parametrize("line,code", python_blocks(), ids=lambda v: str(v)[:12])
def test_python_block_runs(line, code, toy_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = re.sub(r'\b(analyze|assert_accepts|assert_rejects)\("[^"]+\.onnx"',
                 lambda m: f"{m.group(1)}({toy_path!r}", code)
    expected = []
    for raw in code.splitlines():
        m = _ERR.match(raw.strip())
        if m and _is_error_name(m.group(1)):
            expected.append((m.group(1), m.group(2).split("...")[0].strip()))
    ns = {"__name__": f"readme_line_{line}"}
    if re.search(r"\bmodel\b", code) and re.search(r"\bx\b", code):
        import torch

        from models import toy

        ns["model"] = toy.build_module()
        ns["x"] = torch.randn(1, 3, 256, 256)
    if not expected:
        exec(compile(src, f"README.md:{line}", "exec"), ns)  # noqa: S102
        return
    with pytest.raises(Exception) as info:  # noqa: PT011  (the names come from the README)
        exec(compile(src, f"README.md:{line}", "exec"), ns)  # noqa: S102
    name = type(info.value).__name__
    assert name in {n for n, _ in expected}, (
        f"README.md:{line} shows {[n for n, _ in expected]}, the code raised {name}: "
        f"{info.value}")
    msgs = [m for n, m in expected if n == name]
    assert any(str(info.value).startswith(m) for m in msgs), (
        f"README.md:{line}: {name} says {str(info.value)[:300]!r}, the README shows {msgs}")


# ---- command lines ---------------------------------------------------------------------


def _split(cmd: str):
    """(base tokens, optional groups) of a synopsis line."""
    groups = re.findall(r"\[([^\]]*)\]", cmd)
    base = re.sub(r"\[[^\]]*\]", " ", cmd)
    return shlex.split(base)[1:], groups


_PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Za-z]*|GiB)$")


def _fill(tokens, toy, tmp):
    out = []
    for t in tokens:
        if t == "MODEL" or t.endswith(".onnx"):
            out.append(toy)
        elif t == "FILE":
            out.append(str(tmp / "out.txt"))
        elif t.endswith((".svg", ".png")):
            out.append(str(tmp / os.path.basename(t)))
        else:
            out.append(t)
    return out


def _runs(cmd: str) -> list:
    """The argument lists one synopsis line stands for (placeholders unfilled)."""
    base, groups = _split(cmd)
    runs = [base]
    for g in groups:
        if "..." in g:
            continue
        for alt in g.split("|"):
            toks = shlex.split(alt)
            if any(_PLACEHOLDER.match(t) and t not in ("FILE", "MODEL") for t in toks[1:]):
                continue
            runs.append(base + toks)
    return runs


def _cases():
    out = []
    for line, cmd in command_lines():
        for args in _runs(cmd):
            out.append(pytest.param(line, args, id=f"L{line}:" + " ".join(args)[:60]))
    return out


def _sizes(args) -> dict:
    out = {}
    for i, a in enumerate(args):
        if a == "--size":
            k, v = args[i + 1].split("=")
            out[k] = int(v)
    return out


@pytest.mark.parametrize("line,args", _cases())
def test_command_line_runs(line, args, toy_path, tmp_path):
    a = graphshape.analyze(toy_path)
    cmd = args[0]
    argv = _fill(args, toy_path, tmp_path)
    r = CliRunner().invoke(main, argv)
    sizes = _sizes(args)
    want = 0
    if cmd in ("check", "explain") and sizes:
        want = 0 if a.domain.contains(sizes) else 1
    assert r.exit_code == want, f"README.md:{line}: graphshape {' '.join(argv)}\n{r.output}"
    out = r.output
    if "-o" in args:
        out = open(argv[argv.index("-o") + 1]).read()
    if "--plot" in args:
        assert open(argv[argv.index("--plot") + 1]).read().startswith("<svg")
    if "--json" in args:
        json.loads(out)
        return
    if "--markdown" in args:
        if cmd == "analyze":
            assert out.startswith("# graphshape: toy.onnx"), out[:300]
        else:  # a heading or a table
            assert out.lstrip().startswith(("#", "|")), out[:300]
        return
    sz = ", ".join(f"{k}={v}" for k, v in sizes.items())
    first = {
        "analyze": "model: toy.onnx (7 nodes; opsets: ai.onnx 17)",
        "check": f"{'valid' if want == 0 else 'invalid'}: {sz}",
        "explain": f"{'valid' if want == 0 else 'invalid'}: {sz}" if sizes else
                   "(1 <= H <= 10 and 8187 <= W <= 8194) or",
        "verify": "onnxruntime check:",
        "fit": f"request {sizes.get('H')}x{sizes.get('W')} ({sz}):",
        "profiles": "range: H in 1..8194, W in 1..8194",
        "audit": "domain: (1 <= H <= 10 and 8187 <= W <= 8194) or",
        "ops": "ai.onnx",
    }.get(cmd)
    if first is not None:
        assert out.startswith(first), f"README.md:{line}: {out[:300]}"


# ---- shown output ----------------------------------------------------------------------


@pytest.mark.parametrize("line,shown", output_blocks(), ids=lambda v: str(v)[:12])
def test_shown_output_is_what_the_tool_prints(line, shown, toy_path):
    args = ["analyze", toy_path] + (["--verify"] if "verified:" in shown else [])
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    printed = [ln.strip() for ln in r.output.splitlines()]
    missing = []
    for ln in shown.splitlines():
        s = ln.strip()
        if not s or "..." in s:
            continue
        if not any(s in p for p in printed):
            missing.append(s)
    assert not missing, (f"README.md:{line} shows lines `graphshape analyze` no longer "
                         f"prints: {missing}")
