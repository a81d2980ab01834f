"""Value ranges of tensors too long to hold (issue 9): Range(0, S) has values 0..S - 1, and a
Gather on it is bounded by its table; indices nobody can bound make the answer unproven.
Every expectation is checked on onnxruntime."""

from __future__ import annotations

import pytest

import graphshape
from graphshape.runtime.verify import verify
from models import registry

from ._rule_rows import check_row
from .conftest import assert_agrees


def agrees_at(a, points, level):
    """Like conftest.assert_agrees, at one onnxruntime optimisation level."""
    rep = verify(a, points, timeout=60, providers=["CPUExecutionProvider"], opt_level=level)
    bad = [(v.sizes, v.predicted, v.observed, v.detail) for v in rep.disagreements]
    assert not bad, f"graphshape and onnxruntime disagree at level {level!r}: {bad[:5]}"
    assert rep.compared

# a 40-row table and Range(start, S + shift) of positions, as a GPT-2 position lookup
POSITIONS = """(float[S] x) => (float y)
<int64 zero = {{0}}, int64 one = {{1}}, int64 start = {{{start}}}, int64 shift = {{{shift}}},
 int64 c39 = {{39}}, int64[2] ts = {{40, 3}}>
{{
  shp = Shape(x)
  s = Gather<axis=0>(shp, zero)
  lim = Add(s, shift)
  r = Range(start, lim, one)
  {post}
  table = ConstantOfShape<value=float[1] {{1.0}}>(ts)
  y = Gather<axis=0>(table, ids)
}}"""


def _rows(start=0, shift=0, post="ids = Identity(r)"):
    return POSITIONS.format(start=start, shift=shift, post=post)


S_POINTS = [{"S": s} for s in (1, 2, 38, 39, 40, 41, 42, 60)]

ROWS = [
    # Range(0, S) feeding only the Gather (through an Identity onnxruntime removes): fused
    # into Slice(table, 0, S) by onnxruntime's default optimisations, which clamps: any S,
    # [min(S, 40), 3]; the Gather's own S <= 40 is a spec note
    ("range_fused", _rows(), None),
    # Range(0, S) also feeding a second output: not fused, 0..S - 1 within 40 rows: S <= 40
    ("range", _rows(post="ids = Identity(r)\n  z = Identity(r)").replace(
        "=> (float y)", "=> (float y, int64 z)"), 40),
    # ids + 1: 1..S, S <= 39
    ("range_plus_one", _rows(post="ids = Add(r, one)"), 39),
    # Range(0, S - 1) + 0: still fused (onnxruntime drops the + 0): S = 1 gives an empty
    # output, every other S runs
    ("range_shift_fused", _rows(shift=-1, post="ids = Add(r, zero)"), None),
    # Unsqueeze / Cast keep the range
    ("unsqueeze_cast", _rows(post="u = Unsqueeze(r, zero)\n  ids = Cast<to=6>(u)"), 40),
    # negative indices count from the end: -S..-1 needs S <= 40
    ("negated", _rows(post="n = Neg(r)\n  ids = Sub(n, one)"), 40),
    # Range(0, S) * 2: 0..2S - 2 within 40 rows: S <= 20
    ("doubled", _rows(post="two = Add(one, one)\n  ids = Mul(r, two)"), 20),
    # Min with a constant: clamped at 39, in range at every S
    ("clamped", _rows(post="ids = Min(r, c39)"), None),
]


@pytest.mark.parametrize("name, graph, limit", ROWS, ids=[r[0] for r in ROWS])
def test_position_gather_is_bounded_by_its_table(tmp_path, name, graph, limit):
    a = check_row(tmp_path, 18, graph, {}, S_POINTS)  # onnxruntime at its default level
    assert a.domain.exact, [u.describe() for u in a.propagation.unproven]
    valid = [p["S"] for p in S_POINTS if a.domain.contains(p)]
    lo = 2 if name == "range_shift_fused" else 1  # S = 1: an empty gather, empty output
    if limit is None:
        assert valid == [p["S"] for p in S_POINTS if p["S"] >= lo], valid
        notes = " ".join(c.origin.describe() for c in a.propagation.spec_notes)
        if name == "range_fused":
            assert "fuses this Range -> Gather into a Slice" in notes, notes
    else:
        assert valid == [s for s in (1, 2, 38, 39, 40, 41, 42, 60) if lo <= s <= limit], valid
        text = " ".join(c.origin.describe() for c in a.propagation.constraints if c.origin)
        assert "must be within the 40 rows of the table" in text, text
        agrees_at(a, S_POINTS, "basic")  # unfused: the same at every level


def test_computed_indices_without_bounds_are_unproven(tmp_path):
    # ids * ids: graphshape carries no bound through a product of two unknowns
    graph = _rows(post="ids = Mul(r, r)")
    check_row(tmp_path, 18, graph, "unproven: cannot bound them", None)


def test_input_indices_are_assumed_in_range(tmp_path):
    # token ids straight from a graph input: the caller's promise (README), not unproven
    graph = """(int64[S] ids) => (float y) <int64[2] ts = {40, 3}> {
      table = ConstantOfShape<value=float[1] {1.0}>(ts)
      y = Gather<axis=0>(table, ids)
    }"""
    a = check_row(tmp_path, 18, graph, {"y": ["S", 3]}, None)
    assert a.domain.exact
    # but arithmetic on them is not "straight from the input"
    graph2 = graph.replace("y = Gather<axis=0>(table, ids)",
                           "j = Add(ids, ids)\n      y = Gather<axis=0>(table, j)")
    check_row(tmp_path, 18, graph2, "unproven: cannot bound them", None)


def test_slice_of_range_is_an_enclosure(tmp_path):
    # Range(0, 50)[:S] lies within 0..49 but need not reach 49: not a tight bound, so a
    # 40-row table gives 'unproven' while a 50-row table is proved for every S
    base = """(float[S] x) => (float y)
    <int64 zero = {0}, int64 one = {1}, int64 n = {50}, int64[2] ts = {ROWS, 3}> {
      shp = Shape(x)
      s = Gather<axis=0>(shp, zero)
      r = Range(zero, n, one)
      ss = Unsqueeze(s, zero)
      z1 = Unsqueeze(zero, zero)
      ids = Slice(r, z1, ss)
      table = ConstantOfShape<value=float[1] {1.0}>(ts)
      y = Gather<axis=0>(table, ids)
    }"""
    a = check_row(tmp_path, 18, base.replace("ROWS", "50"), {},
                  [{"S": s} for s in (1, 40, 50, 51, 80)])
    assert a.domain.exact
    check_row(tmp_path, 18, base.replace("ROWS", "40"), "unproven: not which of these occur",
              None)


def test_expand_of_a_known_vector_keeps_its_elements(tmp_path):
    # [0, 1, 2, 3] expanded to [S, 4]: index 3 has no row in a 3-row table at any S
    graph = """(float[S] x) => (float y)
    <int64 zero = {0}, int64 four = {4}, int64[4] v = {0, 1, 2, 3}, int64[2] ts = {3, 2}> {
      shp = Shape(x)
      s = Gather(shp, zero)
      s1 = Unsqueeze(s, zero)
      f1 = Unsqueeze(four, zero)
      tgt = Concat<axis=0>(s1, f1)
      ids = Expand(v, tgt)
      table = ConstantOfShape<value=float[1] {1.0}>(ts)
      y = Gather<axis=0>(table, ids)
    }"""
    check_row(tmp_path, 18, graph, "impossible: index values 0..3 must be within the 3 rows",
              [{"S": 1}, {"S": 70}])


def test_scatter_and_gather_elements_check_their_indices(tmp_path):
    # GatherElements along axis 1 of a [2, 40] table with Range(0, S) broadcast to [2, S]
    graph = """(float[S] x) => (float y)
    <int64 zero = {0}, int64 one = {1}, int64 two = {2}, int64[2] ts = {2, 40}> {
      shp = Shape(x)
      s = Gather(shp, zero)
      r = Range(zero, s, one)
      t2 = Unsqueeze(two, zero)
      s1 = Unsqueeze(s, zero)
      tgt = Concat<axis=0>(t2, s1)
      ids = Expand(r, tgt)
      table = ConstantOfShape<value=float[1] {1.0}>(ts)
      y = GatherElements<axis=1>(table, ids)
    }"""
    a = check_row(tmp_path, 18, graph, {}, S_POINTS)
    assert a.domain.exact
    assert [s for s in (1, 40, 41) if a.domain.contains({"S": s})] == [1, 40]
    assert_agrees(a, [{"S": s} for s in (1, 2, 40, 41, 45)])


def test_gather_of_range_fusion(tmp_path):
    """onnxruntime 1.31 at its default level fuses Range -> Gather into a Slice
    (GatherToSliceFusion, measured) when the Range feeds only that Gather: the Slice clamps
    where the Gather would fail, and counts negative starts from the end. graphshape
    follows it: Range(-2, 3S) over 20 rows is rows 18..19 then nothing (empty at S <= 6),
    where the unfused Gather reads 3S + 2 rows for S <= 6."""
    graph = """(float[S] x) => (float y)
    <int64 zero = {0}, int64 one = {1}, int64 m2 = {-2}, int64 three = {3},
     int64[2] ts = {20, 2}>
    {
      shp = Shape(x)
      s = Gather<axis=0>(shp, zero)
      lim = Mul(s, three)
      r = Range(m2, lim, one)
      table = ConstantOfShape<value=float[1] {1.0}>(ts)
      y = Gather<axis=0>(table, r)
    }"""
    pts = [{"S": n} for n in (1, 2, 6, 7, 8, 12)]
    a = check_row(tmp_path, 18, graph, {}, pts)
    assert [p["S"] for p in pts if a.domain.contains(p)] == [7, 8, 12]


# ---- the corpus models ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(model_cache):
    def get(name):
        return graphshape.analyze(registry.build(name, model_cache))

    return get


def _names(a):
    return [str(x) for x in a.graph.symbols]  # S; or H, W (dynamo: s70; s53, s0)


@pytest.mark.parametrize("name", ["gpt2_tiny_ts", "gpt2_tiny_dynamo"])
def test_gpt2_position_limit_is_proved(built, name):
    a = built(name)
    assert a.domain.exact, [u.describe() for u in a.propagation.unproven]
    (s,) = _names(a)
    assert [n for n in range(1, 60) if a.domain.contains({s: n})] == list(range(1, 41))
    text = " ".join(c.origin.describe() for c in a.propagation.constraints if c.origin)
    assert f"index values 0..{s} - 1 must be within the 40 rows of the table" in text, text
    assert_agrees(a, [{s: n} for n in (1, 2, 39, 40, 41, 42, 64, 100)])


@pytest.mark.parametrize("name", ["window_attn_ts", "window_attn_dynamo"])
def test_window_attention_padding_is_proved(built, name):
    a = built(name)
    assert a.domain.exact, [u.describe() for u in a.propagation.unproven]
    h, w = _names(a)
    # the stride-4 patch embedding needs 4 pixels; the padding makes every size >= 4 fit
    assert a.domain.contains({h: 4, w: 4}) and not a.domain.contains({h: 3, w: 9})
    pts = [{h: i, w: j} for i in range(1, 13) for j in range(1, 13)]
    pts += [{h: i, w: 2 * i + 1} for i in range(13, 40, 5)]
    assert_agrees(a, pts)


@pytest.mark.parametrize("name", ["tf_same_pad_ts", "tf_same_pad_dynamo"])
def test_tf_same_padding_is_proved(built, name):
    a = built(name)
    assert a.domain.exact, [u.describe() for u in a.propagation.unproven]
    h, w = _names(a)
    assert a.shapes["out"][2:] == [f"-floor(-{h}/2)", f"-floor(-{w}/2)"]  # ceil(H / 2)
    pts = [{h: i, w: j} for i in range(1, 13) for j in range(1, 13)]
    assert_agrees(a, pts)


@pytest.mark.parametrize("exclusive, reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumsum_facts(exclusive, reverse):
    """The helper misc.py's CumSum rule is to call: exact sums of known contents (as
    onnxruntime computes them: CumSum<exclusive=1, reverse=1>([1, 1, 1, 1]) = [3, 2, 1, 0],
    measured), and tight bounds for a cumulative sum of ones too long to hold."""
    import numpy as np

    from graphshape.arith.dims import symbol
    from graphshape.loader.tensor import Bounds, Tensor
    from graphshape.rules._ranges import cumsum_facts

    x = Tensor((2, 3), 7, (1, 2, 3, 4, 5, 6))
    arr = np.arange(1, 7).reshape(2, 3)
    want = np.flip(arr, 1) if reverse else arr
    want = np.cumsum(want, axis=1) - (want if exclusive else 0)
    want = np.flip(want, 1) if reverse else want
    assert cumsum_facts(None, x, 1, exclusive, reverse)["value"] == tuple(want.reshape(-1))
    ones = cumsum_facts(None, Tensor((1, 4), 7, (1, 1, 1, 1)), 1, 1, 1)["value"]
    assert ones == (3, 2, 1, 0)
    S = symbol("S")
    b = cumsum_facts(None, Tensor((1, S), 7, None, Bounds(1, 1, True)), 1, exclusive,
                     reverse)["bounds"]
    assert (b.lo, b.hi, b.tight) == ((0, S - 1, True) if exclusive else (1, S, True))
