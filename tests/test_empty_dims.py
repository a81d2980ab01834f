"""Sizes that may be 0 (issue 21): a decoder's KV cache has past length P = 0 at its first
step, and onnxruntime runs it. A size is declared >= 0 (``--dim NAME:AXIS=P>=0``,
``--input-shape 1,2,P>=0,16``, ``dims={"past:2": "P>=0"}``) or inferred so where the
model makes it plain (an input axis read only by a Concat along it next to computed
tokens, or by Shape). Every row is checked on onnxruntime (CPU) at every size of its grid,
0 included, and at the domain's own edges.

What onnxruntime 1.31.1 does at 0 (measured, tests/test_empty_dims.py rows): Concat skips
the empty input; MatMul/Gemm with K = 0 give zeros; Softmax, Transpose, Slice, Reduce*
take an empty axis; Reshape infers a -1 from an empty input, but never from other entries
multiplying to 0; LayerNormalization fails on an empty normalised size; ArgMax fails on
an empty axis; Pad edge/reflect fail where an empty axis grows, wrap on any empty input.
"""

from __future__ import annotations

import itertools
import json

import onnx
import pytest
from click.testing import CliRunner

import graphshape
from graphshape.cli import main as cli_main
from graphshape.runtime.verify import plan_points

from ._rule_rows import model_from_text
from .conftest import assert_agrees

ONES4 = ", ".join(["1.0"] * 4)

# (name, opset, graph, dims, expected domain, grid sizes per symbol (0 included))
ROWS = [
    ("concat_past_inferred", 17,
     """(float[1, 2, P, 4] past, float[1, 2, S, 4] x) => (float y)
        { k = Relu (x)  y = Concat <axis = 2> (past, k) }""",
     None, "any P >= 0; any S"),
    ("matmul_inner_zero", 17,
     "(float[S, P] a, float[P, 5] b) => (float y) { y = MatMul (a, b) }",
     {"a:1": "P>=0", "b:0": "P>=0"}, "any S; any P >= 0"),
    ("softmax_empty_axis_output_empty", 17,
     "(float[S, P] a) => (float y) { y = Softmax <axis = -1> (a) }",
     {"a:1": "P>=0"}, "any S; any P >= 1"),
    ("attention_with_empty_cache", 17,
     """(float[P, 4] pk, float[P, 4] pv, float[S, 4] x) => (float y)
        <int64[2] perm = {1, 0}>
        { k0 = Relu (x)
          k = Concat <axis = 0> (pk, k0)
          v = Concat <axis = 0> (pv, k0)
          kt = Transpose <perm = [1, 0]> (k)
          s = MatMul (x, kt)
          p = Softmax <axis = -1> (s)
          y = MatMul (p, v) }""",
     None, "any P >= 0; any S"),
    ("reshape_minus_one_of_empty", 17,
     f"""(float[P, 4] x) => (float y) <int64[2] s = {{-1, 4}}, float[1, 4] one = {{{ONES4}}}>
        {{ r = Reshape (x, s)  y = Concat <axis = 0> (r, one) }}""",
     {"x:0": "P>=0"}, "any P >= 0"),
    ("reshape_minus_one_next_to_zero_product", 17,
     """(float[3, P, 4] x) => (float y)
        <int64[1] m1 = {-1}, int64[1] f = {4}, int64[1] ax = {1}>
        { sh = Shape <start = 1, end = 2> (x)
          t = Concat <axis = 0> (m1, sh, f)
          r = Reshape (x, t)
          y = ReduceSum <keepdims = 1> (r, ax) }""",
     {"x:1": "P>=0"}, "any P >= 1"),
    ("layer_norm_empty_axis", 17,
     """(float[S, P] a, float[P] g) => (float y) <int64[1] ax = {1}>
        { n = LayerNormalization <axis = -1> (a, g)  y = ReduceSum <keepdims = 1> (n, ax) }""",
     {"a:1": "P>=0", "g:0": "P>=0"}, "any S; any P >= 1"),
    ("reduce_over_empty_axis", 18,
     """(float[S, P] a) => (float y) <int64[1] ax = {1}>
        { y = ReduceSum <keepdims = 1> (a, ax) }""",
     {"a:1": "P>=0"}, "any S; any P >= 0"),
    ("argmax_empty_axis", 13,
     "(float[S, P] a) => (int64 y) { y = ArgMax <axis = 1> (a) }",
     {"a:1": "P>=0"}, "any S; any P >= 1"),
    ("pad_edge_empty_axis_grows", 18,
     """(float[P, 3] a) => (float y) <int64[4] p = {1, 0, 1, 0}>
        { y = Pad <mode = "edge"> (a, p) }""",
     {"a:0": "P>=0"}, "any P >= 1"),
    ("pad_edge_other_axis_grows", 18,
     """(float[P, 3] a) => (float y) <int64[4] p = {0, 1, 0, 1}, float[1, 5] one = {1, 1, 1, 1, 1}>
        { q = Pad <mode = "edge"> (a, p)  y = Concat <axis = 0> (q, one) }""",
     {"a:0": "P>=0"}, "any P >= 0"),
    ("pad_wrap_empty_input", 19,
     """(float[P, 3] a) => (float y) <int64[4] p = {0, 1, 0, 1}, float[1, 5] one = {1, 1, 1, 1, 1}>
        { q = Pad <mode = "wrap"> (a, p)  y = Concat <axis = 0> (q, one) }""",
     {"a:0": "P>=0"}, "any P >= 1"),
    ("attention_op_empty_past", 23,
     """(float[1, 2, S, 4] q, float[1, 2, S, 4] k, float[1, 2, S, 4] v, float[1, 2, P, 4] pk,
         float[1, 2, P, 4] pv) => (float y, float pko, float pvo)
        { y, pko, pvo = Attention (q, k, v, , pk, pv) }""",
     {"pk:2": "P>=0", "pv:2": "P>=0"}, "any S; any P >= 0"),
    ("broadcast_zero_with_one", 17,
     """(float[P, 3] a, float[1, 3] b, float[1, 3] one) => (float y)
        { s = Add (a, b)  y = Concat <axis = 0> (s, one) }""",
     {"a:0": "P>=0"}, "any P >= 0"),
]


def _grid(a, hi=5):
    names = a.domain.names
    pts = [dict(zip(names, v)) for v in itertools.product(range(0, hi + 1), repeat=len(names))]
    lows = {s.name: (0 if not s.is_positive else 1) for s in a.domain.symbols}
    return [p for p in pts if all(p[n] >= lows[n] for n in names)]


@pytest.mark.parametrize("name,opset,graph,dims,domain", ROWS, ids=[r[0] for r in ROWS])
def test_rules_at_zero(tmp_path, name, opset, graph, dims, domain):
    path = model_from_text(opset, graph, str(tmp_path / f"{name}.onnx"))
    a = graphshape.analyze(path, dims=dims)
    assert a.domain.exact, [u.describe() for u in a.domain.unproven]
    assert str(a.domain) == domain
    pts = _grid(a)
    for p in plan_points(a.domain, 3, 0):
        if max(p.values()) <= 1000 and p not in pts:
            pts.append(p)
    assert any(0 in p.values() for p in pts)
    assert_agrees(a, pts)


# ---- declaring and inferring ---------------------------------------------------------------

CACHE = """(float[1, 2, P, 4] past, float[1, 2, S, 4] x) => (float y)
    { k = Relu (x)  y = Concat <axis = 2> (past, k) }"""
TWO_INPUTS = "(float[A, 3] a, float[B, 3] b) => (float y) { y = Concat <axis = 0> (a, b) }"


def test_inferred_only_where_plain(tmp_path):
    a = graphshape.analyze(model_from_text(17, CACHE, str(tmp_path / "c.onnx")))
    assert a.domain.contains({"P": 0, "S": 1})
    # two graph inputs concatenated: nothing says either may be empty
    b = graphshape.analyze(model_from_text(17, TWO_INPUTS, str(tmp_path / "t.onnx")))
    assert str(b.domain) == "any A; any B"
    # declared >= 1: the inference is overridden
    c = graphshape.analyze(str(tmp_path / "c.onnx"), dims={"past:2": "P>=1"})
    assert str(c.domain) == "any P; any S"
    with pytest.raises(graphshape.errors.UsageError, match="out of range"):
        c.check({"P": 0, "S": 1})


def test_declared_by_dim_spec_input_shape_and_api(tmp_path):
    p = model_from_text(17, TWO_INPUTS, str(tmp_path / "t.onnx"))
    a = graphshape.analyze(p, dims={"a:0": "A>=0"})
    assert str(a.domain) == "any A >= 0; any B"
    assert a.domain.contains({"A": 0, "B": 2})
    assert_agrees(a, [{"A": 0, "B": 1}, {"A": 0, "B": 3}, {"A": 2, "B": 1}])
    r = CliRunner().invoke(cli_main, ["check", p, "--dim", "a:0=A>=0", "--size", "A=0",
                                      "--size", "B=2"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli_main, ["check", p, "--input-shape", "a:A>=0,3", "--size", "A=0",
                                      "--size", "B=2"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli_main, ["check", p, "--size", "A=0", "--size", "B=2"])
    assert r.exit_code == 2 and "out of range (1 .." in r.output
    r = CliRunner().invoke(cli_main, ["analyze", p, "--dim", "a:0=A>=0", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["domain"]["closed_form"] == "any A >= 0; any B"
    assert doc["domain"]["witness"]["smallest_valid"] == {"A": 0, "B": 1}


def test_bad_bound_is_usage_error(tmp_path):
    p = model_from_text(17, TWO_INPUTS, str(tmp_path / "t.onnx"))
    with pytest.raises(graphshape.errors.UsageError, match="bad dim spec"):
        graphshape.analyze(p, dims={"a:0": "A>=2"})


def test_fit_and_profiles_reach_zero(tmp_path):
    p = model_from_text(17, CACHE, str(tmp_path / "c.onnx"))
    a = graphshape.analyze(p)
    lows = [b["min"] for b in a.profiles().to_json()["profiles"]]
    assert lows and all(m["P"] == 0 for m in lows), lows
    best = a.fit({"P": 0, "S": 3}).suggestions[0]
    assert best.policy == "as-is" and best.sizes == {"P": 0, "S": 3}
    # a model whose empty cache fails: padded up to one cached entry
    sm = model_from_text(17, "(float[S, P] a) => (float y) { y = Softmax <axis = -1> (a) }",
                         str(tmp_path / "s.onnx"))
    b = graphshape.analyze(sm, dims={"a:1": "P>=0"})
    pad = next(x for x in b.fit({"S": 2, "P": 0}).suggestions if x.policy == "pad")
    assert pad.sizes == {"S": 2, "P": 1}
    assert_agrees(b, [{"S": 2, "P": 0}, pad.sizes])


def test_onnx_declared_zero_input_runs(tmp_path):
    """The model file's own dim_param, without any declaration: inferred."""
    m = onnx.parser.parse_model(
        '<ir_version: 10, opset_import: ["" : 17]>\nagraph ' + CACHE)
    a = graphshape.analyze(m)
    assert [s.name for s in a.domain.symbols] == ["P", "S"]
    assert a.domain.witness()["smallest_valid"] == {"P": 0, "S": 1}


def test_torch_spec_keeps_zero(tmp_path):
    from graphshape.answers.spec import torch_spec

    p = model_from_text(17, CACHE, str(tmp_path / "c.onnx"))
    spec = torch_spec(graphshape.analyze(p))
    assert spec.dims["P"].lo == 0 and spec.exact
    assert "P = Dim('P', min=0)" in spec.code()
