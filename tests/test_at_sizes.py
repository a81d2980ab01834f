"""The answer at concrete sizes without the domain (graphshape/answers/at_sizes.py) is the
analysis's answer: compared over the corpus models the walk admits and over every rule
table row, at many sizes (valid, invalid, edges, 1 and large), through the CLI too; and the
cases where the symbolic walk gives up while the concrete one would not are declined."""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import json
import os
import random
import subprocess
import sys

import onnx
import pytest
from click.testing import CliRunner

import graphshape
from graphshape.answers import at_sizes
from graphshape.answers.at_sizes import explain_at
from graphshape.cli import main
from graphshape.cli.app import COMMANDS
from graphshape.errors import UsageError
from graphshape.loader.wire import load_proto
from graphshape.shapes import registry
from models import registry as models_registry
from tests.oracles import fuzz_convpool, fuzz_mixed
from tests.oracles.fuzz_runner import small_grid

from ._rule_rows import model_from_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# corpus models (built on demand) whose every rule the walk admits, each answered at some
# of its sizes (measured: 8 to 15 of them)
ADMITTED_CORPUS = ["toy", "toy_dynamo", "resnet50_ts", "resnet50_dynamo",
                   "resnet50_avgpool7_ts", "mobilenet_v3_small_ts",
                   "mobilenet_v3_small_dynamo", "reshape_head_ts", "reshape_head_dynamo",
                   "vgg11_ts"]
RULE_TABLES = ["attention", "control_flow", "conv_pool", "data_dependent", "elementwise",
               "linalg", "misc", "rare_ops", "reduce_norm", "resize", "shape_ops"]


def _points(a, extra=()) -> list:
    """Sizes to compare at: the domain's smallest valid size and edges, members and
    non-members, every symbol at 1, 2, 3, 7, 224, 300, 513, and ``extra``."""
    names = a.domain.names
    pts = list(extra)
    try:
        w = a.domain.witness()
        if w.get("smallest_valid"):
            pts.append(w["smallest_valid"])
        pts += a.domain.edges(limit=10)
        pts += a.domain.sample_members(4, seed=3)
        pts += a.domain.sample_nonmembers(3, seed=3)
    except Exception:  # noqa: BLE001  a domain too complex to query: the fixed points do
        pass
    pts += [{n: v for n in names} for v in (1, 2, 3, 7, 224, 300, 513)]
    out, seen = [], set()
    for p in pts:
        p = {k: int(v) for k, v in p.items()}
        key = tuple(sorted(p.items()))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _compare(source, a, points, dims=()) -> int:
    """explain_at agrees with Analysis.explain wherever it answers; how often it did."""
    answered = 0
    for s in points:
        got = explain_at(source, list(dims), s)
        if got is None:
            continue
        answered += 1
        try:
            want = a.explain(s)
        except UsageError as e:
            pytest.fail(f"at {s} the analysis refuses the size ({e}), the walk says {got}")
        assert got == want, f"at {s}: walk {got}, analysis {want}"
    return answered


def _admitted_ops(source) -> bool:
    """Whether every node's rule is one at_sizes admits (else it declines at once)."""
    m, _ = load_proto(source, trim=True)
    opsets = {("" if i.domain == "ai.onnx" else i.domain): i.version for i in m.opset_import}
    for n in m.graph.node:
        d = registry.norm_domain(n.domain)
        e = registry.lookup(d, n.op_type, opsets.get(d, 1))
        if e is None or e.fn not in at_sizes.ADMITTED:
            return False
    return True


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.large]
                                               if n in models_registry.LARGE else [])
                                  for n in ADMITTED_CORPUS])
def test_corpus_walk_at_sizes_is_the_analysis(model_cache, name):
    """Corpus models whose every rule the walk admits: it answers at some sizes, and there
    it is the analysis's answer."""
    path = models_registry.build(name, model_cache)
    assert _admitted_ops(path)
    a = graphshape.analyze(path)
    assert _compare(path, a, _points(a)) > 0


def test_corpus_models_outside_the_walk_are_declined(model_cache):
    """A model with a rule the walk does not admit (the U-Net's Resize and Concat of
    computed shapes) is answered by the analysis alone."""
    path = models_registry.build("unet_ts", model_cache)
    a = graphshape.analyze(path)
    assert _compare(path, a, _points(a)) == 0
    assert a.domain.check({"N": 1, "H": 32, "W": 32}) == "valid"


def test_the_fast_answer_covers_the_plain_cnns(model_cache, toy_path):
    """Not a vacuous comparison: valid sizes of the toy and of ResNet-50 are answered."""
    a = graphshape.analyze(toy_path)
    assert _compare(toy_path, a, [{"H": 256, "W": 256}, {"H": 512, "W": 128}]) == 2
    resnet = models_registry.build("resnet50_ts", model_cache)
    r = graphshape.analyze(resnet)
    assert _compare(resnet, r, [{"N": 1, "H": 224, "W": 224}, {"N": 3, "H": 1, "W": 513}]) == 2


def test_resymbolised_fixed_model(model_cache):
    """--dim on a model exported at a fixed size (vgg11 at 224)."""
    path = models_registry.build("vgg11_ts", model_cache)
    name = load_proto(path)[0].graph.input[0].name
    dims = [f"{name}:2=H", f"{name}:3=W"]
    a = graphshape.analyze(path, dims=dims)
    assert _compare(path, a, _points(a, [{"N": 1, "H": 224, "W": 224}]), dims) > 0


def _rows():
    for table in RULE_TABLES:
        mod = importlib.import_module(f"tests.test_rules_{table}")
        for row in getattr(mod, "ROWS", []):
            yield pytest.param(*row[1:3], id=f"{table}:{row[0]}")


@pytest.mark.parametrize("opset,graph", list(_rows()))
def test_rule_rows_walk_at_sizes_is_the_analysis(opset, graph):
    """Every rule table row (the admitted rules' edge cases: empty axes, broadcasting,
    ceil-mode windows, copies in Reshape targets ...), at sizes around the edges."""
    m = model_from_text(opset, graph)
    a = graphshape.analyze(m)
    names = a.domain.names
    if not names or len(names) > 3:  # no size to give, or too many to grid: it declines
        assert explain_at(m, [], {}) is None
        return
    values = (1, 2, 3, 5, 8) if len(names) < 3 else (1, 3, 8)
    grid = [dict(zip(names, vs)) for vs in itertools.product(values, repeat=len(names))]
    _compare(m, a, _points(a, grid))


def _fuzz_compare(gen, seeds) -> int:
    """The random graphs of a fuzz generator (tests/oracles), on the small grid its tier
    checks on onnxruntime and at a few larger sizes."""
    answered = 0
    for seed in seeds:
        m, desc = gen.generate(seed)
        dims = desc.get("dims") or []
        a = graphshape.analyze(m, dims=dims or None)
        names = a.domain.names
        if not names:
            continue
        least = {s.name: 0 for s in a.domain.symbols if s.is_nonnegative and not s.is_positive}
        pts = small_grid(names, random.Random(seed), sample=40, least=least)
        answered += _compare(m, a, pts + [{n: v for n in names} for v in (31, 100, 257)], dims)
    return answered


@pytest.mark.parametrize("gen", [fuzz_convpool, fuzz_mixed], ids=["convpool", "mixed"])
def test_fuzz_graphs_walk_at_sizes_is_the_analysis(gen):
    assert _fuzz_compare(gen, range(24)) > 0


@pytest.mark.fuzz
@pytest.mark.parametrize("gen", [fuzz_convpool, fuzz_mixed], ids=["convpool", "mixed"])
def test_fuzz_tier_walk_at_sizes_is_the_analysis(gen):
    n = int(os.environ.get("GRAPHSHAPE_FUZZ_GRAPHS", "150"))
    assert _fuzz_compare(gen, range(1000, 1000 + n)) > 0


# ---- cases where the symbolic walk gives up and the concrete one would not ---------------
DECLINED = [
    # a pool with SAME padding and stride > kernel asks whether the channel count is a number
    ("pool_same_stride_above_kernel_symbolic_channels", 11,
     "(float[1, C, H, W] x) => (float y) "
     "{ y = MaxPool <kernel_shape = [2, 2], strides = [3, 3], auto_pad = \"SAME_UPPER\"> (x) }",
     {"C": 3, "H": 9, "W": 9}),
    # Squeeze without axes is unproven on a symbolic shape
    ("squeeze_without_axes", 11,
     "(float[N, 3] x) => (float y) { y = Squeeze (x) }", {"N": 1}),
    # Concat whose inputs may all be empty: the analysis decides what the runtime takes
    ("concat_of_computed_inputs", 13,
     "(float[N, 3] x) => (float y) { a = Relu (x) b = Sigmoid (x) y = Concat <axis = 0> (a, b) }",
     {"N": 2}),
    # shapes read as data
    ("shape_as_data", 13,
     "(float[N, 3] x) => (float y) { s = Shape (x) y = Reshape (x, s) }", {"N": 2}),
    # a Reshape target with a copied dim beside -1
    ("reshape_copy_beside_minus_one", 13,
     "(float[N, C, 4] x) => (float y) <int64[3] t = {0, -1, 2}> { y = Reshape (x, t) }",
     {"N": 2, "C": 3}),
    # a copy (0) in a target built by Concat, which onnxruntime's ReshapeFusion may rewrite
    ("reshape_copy_in_a_concatenated_target", 13,
     "(float[N, C, 4] x) => (float y) <int64[1] a = {0}, int64[1] b = {12}> "
     "{ t = Concat <axis = 0> (a, b) y = Reshape (x, t) }", {"N": 2, "C": 3}),
    # the weights depend on the sizes: their kernel size is not a number symbolically
    ("conv_weights_from_input", 11,
     "(float[1, 3, H, W] x, float[4, 3, K, K] w) => (float y) { y = Conv (x, w) }",
     {"H": 8, "W": 8, "K": 3}),
    # an invalid size: the analysis says why
    ("invalid_size", 11,
     "(float[1, 3, H, W] x, float[4, 3, 3, 3] w) => (float y) { y = Conv (x, w) }",
     {"H": 2, "W": 8}),
]


@pytest.mark.parametrize("opset,graph,sizes", [pytest.param(*r[1:], id=r[0]) for r in DECLINED])
def test_declined(opset, graph, sizes):
    assert explain_at(model_from_text(opset, graph), [], sizes) is None


def test_declined_sizes(toy_path, tmp_path):
    """A name left out, one the model lacks, a size that may be 0, a size below 1."""
    assert explain_at(toy_path, [], {"H": 256}) is None
    assert explain_at(toy_path, [], {"H": 256, "W": 256, "Q": 3}) is None
    assert explain_at(toy_path, [], {"H": 0, "W": 256}) is None
    m = model_from_text(17, "(float[1, 2, P, 4] past, float[1, 2, S, 4] x) => (float y) "
                            "{ k = Relu (x)  y = Concat <axis = 2> (past, k) }")
    assert explain_at(m, [], {"P": 3, "S": 2}) is None  # P may be 0 (inferred)


# ---- the command line: the same output either way ---------------------------------------
@pytest.mark.parametrize("sizes", [["H=256", "W=256"], ["H=251", "W=258"], ["H=300", "W=300"],
                                   ["H=256"], ["H=256", "W=256", "Q=1"], ["H=x", "W=1"]])
@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_check_prints_the_same_through_either_path(toy_path, monkeypatch, sizes, fmt):
    args = ["check", toy_path, "--format", fmt]
    for s in sizes:
        args += ["--size", s]
    runner = CliRunner()
    real, answers = at_sizes.explain_at, []

    def spy(*a, **k):
        answers.append(real(*a, **k))
        return answers[-1]

    monkeypatch.setattr(at_sizes, "explain_at", spy)
    fast = runner.invoke(main, args)
    if sizes[0] in ("H=256", "H=251") and len(sizes) == 2:
        assert answers and answers[-1] is not None  # the valid sizes: the walk answered
    monkeypatch.setattr(at_sizes, "explain_at", lambda *a, **k: None)
    slow = runner.invoke(main, args)
    assert (fast.exit_code, fast.output) == (slow.exit_code, slow.output)


# ---- what a fresh process imports -----------------------------------------------------------
HEAVY = ("sympy", "numpy", "islpy", "onnxruntime", "graphshape.analysis")


def _imports(*argv) -> set:
    code = ("import sys; sys.argv = ['graphshape'] + sys.argv[1:]\n"
            "from graphshape.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print('\\n'.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    p = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    return {ln for ln in p.stderr.splitlines() if ln in HEAVY}


def test_check_at_sizes_imports_nothing_heavy(toy_path):
    assert _imports("check", toy_path, "--size", "H=256", "--size", "W=256") == set()


@pytest.mark.parametrize("args", [["--help"]] + [[c, "--help"] for c in sorted(COMMANDS)])
def test_help_imports_nothing_heavy(args):
    assert _imports(*args) == set()


def test_import_graphshape_is_light():
    code = f"import sys, graphshape; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60).stdout
    assert out.strip() == "[]"


# ---- the lazy group ---------------------------------------------------------------------
def test_group_help_lists_what_the_commands_say():
    """`graphshape --help` from the table equals the listing once every command is loaded,
    at any width; and the table's help is each command's first paragraph."""
    runner = CliRunner()
    for width in (60, 80, 120, 200):
        lazy_help = runner.invoke(main, ["--help"], terminal_width=width).output
        for name in COMMANDS:
            main.get_command(None, name)
        assert set(main.commands) == set(COMMANDS)
        assert runner.invoke(main, ["--help"], terminal_width=width).output == lazy_help
    for name, (module, text) in COMMANDS.items():
        cmd = main.commands[name]
        assert cmd.callback.__module__ == module, name
        first = inspect.cleandoc(cmd.help).split("\n\n")[0]
        assert " ".join(first.split()) == " ".join(text.split()), name


def test_lazy_targets_keep_the_layers():
    """A module bound with lazy.module(...) is an import the layout test cannot see: each
    must still be a folder before its user (tests/test_layout.py's order)."""
    from tests import test_layout as L

    bad = []
    for mod, path in L.MODULES.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (getattr(node, "func", None) is not None and getattr(node.func, "attr", "")
                    == "module" and getattr(node.func.value, "id", "") == "lazy"):
                target = node.args[0].value
                if not target.startswith("graphshape"):
                    continue
                assert target in L.MODULES, target
                if L.LAYERS.index(L._layer(target)) > L.LAYERS.index(L._layer(mod)):
                    bad.append(f"{mod} binds {target}")
    assert not bad, bad


# ---- lazy.module ----------------------------------------------------------------------------
def test_lazy_module_rebinds_the_name():
    from graphshape.arith import lazy

    name = "colorsys"  # a module nothing here imports
    sys.modules.pop(name, None)
    ns: dict = {}
    exec(f"from graphshape.arith import lazy\nm = lazy.module({name!r})", ns)
    assert type(ns["m"]).__name__ == "_Lazy" and not lazy.loaded(name)
    assert ns["m"].rgb_to_hsv(1, 0, 0) == (0.0, 1.0, 1)
    assert ns["m"] is sys.modules[name]  # the name now holds the module itself
    assert lazy.module(name) is sys.modules[name]


def test_isl_budget_set_before_islpy_is_imported():
    """operations() entered before islpy is imported: the limit applies once a call in the
    block imports it (a fresh process: here islpy is imported already)."""
    code = ("import sys\nfrom graphshape.arith import isl, terms\n"
            "assert 'islpy' not in sys.modules\n"
            "H = terms.symbol('H')\n"
            "with isl.operations(5):\n"
            "    try:\n        isl.size_set([H], 'v0 >= 3 and v0 mod 7 = 2').is_empty()\n"
            "        print('no limit')\n"
            "    except Exception as e:\n        print('limited' if isl.is_error(e) else e)\n"
            "print(isl.isl.DEFAULT_CONTEXT.get_max_operations())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.stdout.split() == ["limited", "0"], out.stderr


def test_json_of_the_fast_answer_matches_the_schema_fields(toy_path):
    ex = explain_at(toy_path, [], {"H": 256, "W": 256})
    assert json.loads(json.dumps(ex.to_json())) == {
        "sizes": {"H": 256, "W": 256}, "verdict": "valid", "output_shapes": {"logits": [1, 10]}}


def test_onnx_model_proto_source(toy_path):
    m = onnx.load(toy_path)
    assert explain_at(m, [], {"H": 256, "W": 256}) == graphshape.analyze(toy_path).explain(
        {"H": 256, "W": 256})
