"""The first call's speed-ups keep every answer: sympy's Min/Max comparison remembered,
reasons written when read, maxima rebuilt without pairwise comparison, dims evaluated by
their compiled functions, the walk's alarm installed once, the script's prompt exit
(docs/performance.md). Each is held against the slow path it replaces."""

from __future__ import annotations

import json
import pickle
import random
import signal
import subprocess
import sys

import pytest
import sympy

import graphshape
from graphshape.arith import memo
from graphshape.arith.dims import factored, rebuilt, substitute, value_at
from graphshape.shapes.constraints import Origin
from tests.conftest import ROOT

H, W = sympy.symbols("H W", integer=True, positive=True)
K = sympy.Symbol("k", integer=True, nonnegative=True)


def _random_expr(rng: random.Random, depth: int = 3):
    """Sums, products by constants, floors, maxima and minima of H, W, k: the forms
    detectors' clamped boxes and strided chains build."""
    if depth == 0 or rng.random() < 0.2:
        return rng.choice([H, W, K, sympy.Integer(rng.randint(-3, 9))])
    kind = rng.choice(["add", "mul", "floor", "max", "min"])
    a, b = _random_expr(rng, depth - 1), _random_expr(rng, depth - 1)
    if kind == "add":
        return a + b
    if kind == "mul":
        return rng.randint(-3, 4) * a + (a * b if rng.random() < 0.3 else 0)
    if kind == "floor":
        return sympy.floor((a + rng.randint(-2, 5)) / rng.randint(2, 7))
    cls = sympy.Max if kind == "max" else sympy.Min
    return cls(a, b, _random_expr(rng, depth - 1))


def _points(rng: random.Random, n: int = 12):
    return [{"H": rng.randint(1, 60), "W": rng.randint(1, 60), "k": rng.randint(0, 30)}
            for _ in range(n)]


def test_remembered_minmax_comparison_is_sympys():
    memo.install()
    connected = sympy.functions.elementary.miscellaneous.MinMaxBase._is_connected
    own = connected.__func__.__wrapped__  # sympy's function, behind the memo
    rng = random.Random(5)
    pairs = 0
    for _ in range(150):
        x, y = _random_expr(rng), _random_expr(rng)
        for cls in (sympy.Max, sympy.Min):
            first = cls._is_connected(x, y)
            assert first == own(cls, x, y) == cls._is_connected(x, y), (cls, x, y)
            pairs += 1
    assert pairs == 300


def test_rebuilt_and_factored_keep_the_value():
    """rebuilt (substitution, expansion) and factored equal sympy's xreplace / expand /
    factor_terms in value at every point tried."""
    rng = random.Random(11)
    tried = 0
    for _ in range(200):
        x = _random_expr(rng)
        env = {K: rng.choice([H + 1, sympy.Max(H, W), 2 * W - 1, sympy.Integer(3)])}
        ours = [rebuilt(x), rebuilt(x, env), rebuilt(x, env, expand=True), factored(x)]
        theirs = [x, x.xreplace(env), sympy.expand(x.xreplace(env)), sympy.factor_terms(x)]
        for p in _points(rng, 4):
            for a, b in zip(ours, theirs):
                assert substitute(a, p) == substitute(b, p), (x, a, b, p)
                tried += 1
    assert tried == 200 * 4 * 4


def test_value_at_is_the_substitution(toy_path):
    """The compiled value of every tensor dim equals sympy's substitution; None where the
    dim has no value (a count not given, a division by zero)."""
    a = graphshape.analyze(toy_path)
    dims = {d for t in a.propagation.tensors.values() if t.shape for d in t.shape}
    rng = random.Random(3)
    rng_points = _points(rng, 20)
    extra = [sympy.floor(7 / (H - 3)), sympy.Max(H, K) - W]
    checked = 0
    for p in rng_points:
        env = {"H": p["H"], "W": p["W"]}
        for d in list(dims) + extra:
            try:
                want = substitute(d, env)
            except ValueError:  # no value: c // d with d == 0
                want = None
            assert value_at(d, env) == (want if isinstance(want, int) else None), (d, env)
            checked += 1
    assert checked >= 20 * 4
    assert value_at(sympy.floor(7 / (H - 3)), {"H": 3}) is None
    assert value_at(sympy.Max(H, K), {"H": 3}) is None  # k is not given


def test_a_reason_is_written_once_and_only_when_read():
    calls = []

    def why():
        calls.append(1)
        return "the input's 12 elements must be a multiple of 5"

    o = Origin("r", "Reshape", why)
    assert calls == []
    assert o.reason == o.reason == "the input's 12 elements must be a multiple of 5"
    assert calls == [1]
    again = pickle.loads(pickle.dumps(Origin("r", "Reshape", lambda: "text")))
    assert (again.node, again.op, again.reason) == ("r", "Reshape", "text")
    assert again == Origin("r", "Reshape", "text")
    assert hash(again) == hash(Origin("r", "Reshape", "text"))
    assert "Reshape" in o.describe() and "multiple of 5" in o.describe()


def test_reasons_still_name_the_reshape(tmp_path):
    """A Reshape whose condition is kept still says why, in full (the text is written when
    the analysis reads it)."""
    from tests.conftest import text_model
    path = text_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[N, 3] x) => (float[A, 5] y) {
            s = Constant <value = int64[2] {-1, 5}> ()
            y = Reshape(x, s)
        }""", str(tmp_path / "r.onnx"))
    a = graphshape.analyze(path)
    e = a.explain({"N": 4})
    assert e.verdict.value == "invalid"
    assert "multiple of 5" in e.violations[0].reason, e.violations[0].reason
    assert a.check({"N": 5}).value == "valid"


def test_the_walk_puts_the_callers_alarm_back(toy_path):
    fired = []

    def handler(*_):
        fired.append(1)

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        graphshape.analyze(toy_path)
        assert signal.getsignal(signal.SIGALRM) is handler
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 0 < left <= 100.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert not fired


def test_analysis_alone_imports_neither_numpy_nor_the_answers(toy_path):
    code = ("import sys, graphshape\n"
            f"graphshape.analyze({toy_path!r})\n"
            "print([m for m in ('numpy', 'graphshape.runtime.verify', "
            "'graphshape.answers.profiles', 'graphshape.answers.fit') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---- the script's prompt exit -----------------------------------------------------------------
def _script(*args, prelude: str = ""):
    code = (prelude + "import sys; sys.argv = ['graphshape'] + sys.argv[1:]\n"
            "from graphshape.cli import run\nrun()\n")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_the_script_flushes_its_output_and_keeps_the_exit_code(toy_path):
    p = _script("analyze", toy_path, "--format", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["nodes"] == 7
    p = _script("check", toy_path, "--size", "H=300", "--size", "W=300")
    assert p.returncode == 1 and p.stdout.startswith("invalid: H=300, W=300"), p
    p = _script("analyze", "/nonexistent/model.onnx")
    assert p.returncode == 2 and p.stdout == "" and p.stderr.count("\n") == 1, p


def test_the_script_runs_the_exit_handlers(toy_path):
    prelude = ("import atexit, sys\n"
               "atexit.register(lambda: sys.stderr.write('exit handler ran\\n'))\n")
    p = _script("analyze", toy_path, prelude=prelude)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("model: toy.onnx")
    assert p.stderr.strip() == "exit handler ran"


@pytest.mark.parametrize("command", ["analyze", "explain"])
def test_the_script_survives_a_reader_that_goes_away(toy_path, command):
    args = [command, toy_path] + (["--size", "H=256", "--size", "W=256"]
                                  if command == "explain" else [])
    code = ("import sys; sys.argv = ['graphshape'] + sys.argv[1:]\n"
            "from graphshape.cli import run\nrun()\n")
    p = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=ROOT)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()  # the reader is gone before the command writes
    err = p.stderr.read().decode()
    rc = p.wait(timeout=300)
    assert err == "", err  # no traceback, no internal error: the output had nowhere to go
    assert rc == 141, (rc, err)


# ---- tensor contents without numpy ----------------------------------------------------------
def test_value_operations_are_numpys():
    """Slicing, transposing, gathering and concatenating known contents in Python give
    numpy's elements, in numpy's order, on random shapes (empty axes included)."""
    import numpy as np

    from graphshape.loader.tensor import Tensor
    from graphshape.rules import shape_ops

    rng = random.Random(2)
    for _ in range(400):
        r = rng.randint(1, 4)
        shape = tuple(rng.randint(0, 4) for _ in range(r))
        n = int(np.prod(shape))
        arr = np.arange(n).reshape(shape)
        t = Tensor(shape, 7, tuple(range(n)))
        perm = list(range(r))
        rng.shuffle(perm)
        moved = shape_ops._picked(t, [range(n) for n in shape], perm)
        assert moved == tuple(arr.transpose(perm).reshape(-1))
        plan = {}
        for a in range(r):
            if rng.random() < 0.6:
                k, m = rng.choice([-2, -1, 1, 2, 3]), shape[a]
                s2, e2 = (rng.randint(0, m), rng.randint(0, m)) if k > 0 else \
                    (rng.randint(-1, m - 1), rng.randint(-1, m - 1))
                plan[a] = (s2, e2, k)
        sl = [slice(None)] * r
        for a, (s2, e2, k) in plan.items():
            sl[a] = slice(s2, e2, k) if k > 0 else slice(s2, e2 if e2 >= 0 else None, k)
        assert shape_ops._sliced_value(t, plan) == tuple(arr[tuple(sl)].reshape(-1))
        a = rng.randrange(r)
        if shape[a]:
            picks = [rng.randint(-shape[a], shape[a] - 1) for _ in range(rng.randint(0, 5))]
            want = tuple(np.take(arr, np.array(picks, dtype=np.int64), axis=a).reshape(-1))
            assert shape_ops._taken_value(t, picks, a) == want
        assert shape_ops._taken_value(t, [shape[a]], a) is None  # out of range: no value
        other = list(shape)
        other[a] = rng.randint(0, 3)
        m = int(np.prod(other))
        u = Tensor(tuple(other), 7, tuple(range(100, 100 + m)))
        want = tuple(np.concatenate([arr, np.arange(100, 100 + m).reshape(other)],
                                    axis=a).reshape(-1))
        assert shape_ops._joined_value([t, u], a) == want


def test_a_comparison_split_at_its_minima_is_the_same_set():
    """IslPrinter.relation takes the minima and maxima at the top of a comparison out
    (x + min(a, b) >= 0: x + a >= 0 and x + b >= 0): the set it writes is the plain
    comparison's, exactly (isl), and holds where sympy's substitution says so."""
    from graphshape.arith.isl import IslPrinter, NonPresburger, isl_names, point_set, size_set

    syms = [H, W, K]
    rng = random.Random(11)
    compared = split = 0
    for _ in range(200):
        lhs, rhs = _random_expr(rng, 2), _random_expr(rng, 2)
        if rng.random() < 0.3:
            lhs = sympy.Max(0, sympy.Min(rhs, lhs))  # the clamped slice length = its size
        for eq in (True, False):
            p = IslPrinter(isl_names(syms))
            try:
                plain = f"({p.expr(lhs)} {'=' if eq else '>='} {p.expr(rhs)})"
            except NonPresburger:
                continue
            text = p.relation(lhs, rhs, eq)
            split += text != plain
            assert size_set(syms, text).is_equal(size_set(syms, plain)), (lhs, rhs, eq)
            for pt in _points(rng, 3):
                at = {H: pt["H"], W: pt["W"], K: pt["k"]}
                a, b = lhs.subs(at), rhs.subs(at)
                holds = bool(a == b) if eq else bool(a >= b)
                inside = not size_set(syms, text).intersect(
                    point_set([pt["H"], pt["W"], pt["k"]])).is_empty()
                assert inside == holds, (lhs, rhs, eq, pt)
            compared += 1
    assert compared > 250 and split > 100, (compared, split)
