"""The small reproductions of issue 21 (model classes that ended in "unproven"), each
exact now and checked on onnxruntime (CPU) at every size of its grid, plus the domain's
own edges (plan_points):

1. wav2vec2-style front-end: x[1, 1, T] -> Conv k5 -> Slice [:-1] -> Shape(start=2) ->
   Concat([-1], .) -> Reshape. The Reshape entry T - 5 "may be 0 next to a -1" only at
   T = 5; there onnxruntime copies the input's dim (4) and infers 0 for the -1, so the
   output is [0, 4]: empty, invalid. Both readings are exact (T <= 4 fails at the Conv).
2. dynamo's attention reshape Reshape(q, Concat([-1], Shape(q)[-2:-1], Shape(q)[-1:]))
   with dim -2 the flattened map h*w of a stride-16 Conv: h*w >= 1 follows from the
   Conv's own condition (its output is not empty), factor by factor.
3. relative-position indices Cast(Cast(Range(0, q), float) * (float(q) / float(q)),
   int64) into a 16-row table: q / q is exactly 1, so the indices are 0..q - 1.
4. TensorFlow 'same' padding (timm's Conv2dSame, legacy exporter): the pads are computed
   in float from x.shape (ceil, Clip at 0, / 2, Cast to int64) and fed to Pad.
5. T5's relative-position buckets (encoder and decoder): Where(|r| < 8, |r|, Min(8 +
   int(log(|r| / 8) / log(16) * 8), 15)) into a 32-row table: each branch bounded where
   Where takes it.
"""

from __future__ import annotations

import itertools

import pytest

import graphshape
from graphshape.runtime.verify import plan_points, verify

from ._rule_rows import model_from_text
from .conftest import assert_agrees

W5 = ", ".join(["0.1"] * 20)
W16 = ", ".join(["0.01"] * (8 * 3 * 16 * 16))
TABLE = ", ".join(["0.5"] * 64)

ROWS = [
    ("wav2vec2_front_end", 17, f"""(float[1, 1, T] x) => (float y)
        <float[4, 1, 5] w = {{{W5}}}, int64[1] st = {{0}}, int64[1] en = {{-1}},
         int64[1] ax = {{2}}, int64[1] m1 = {{-1}}>
        {{ c = Conv <kernel_shape = [5]> (x, w)
           s = Slice (c, st, en, ax)
           sh = Shape <start = 2> (s)
           t = Concat <axis = 0> (m1, sh)
           y = Reshape (s, t) }}""",
     "any T >= 6", None, [{"T": t} for t in range(1, 15)]),
    ("dynamo_attention_reshape", 17, f"""(float[N, 3, H, W] x) => (float y)
        <float[8, 3, 16, 16] w = {{{W16}}}, int64[4] s0 = {{0, 2, 4, -1}},
         int64[1] m1 = {{-1}}>
        {{ c = Conv <kernel_shape = [16, 16], strides = [16, 16]> (x, w)
           f = Reshape (c, s0)
           q = Transpose <perm = [0, 1, 3, 2]> (f)
           sh = Shape <start = -2, end = -1> (q)
           sl = Shape <start = -1> (q)
           t = Concat <axis = 0> (m1, sh, sl)
           y = Reshape (q, t) }}""",
     "any N; any H >= 16; any W >= 16", {"y": ["2*N", "floor(H/16)*floor(W/16)", 4]},
     [{"N": n, "H": h, "W": w} for n in (1, 2) for h in (1, 15, 16, 17, 31, 32, 48)
      for w in (1, 15, 16, 33)]),
    ("relative_positions_float_ratio", 17, f"""(float[1, C, H, W] x) => (float y)
        <float[16, 4] tab = {{{TABLE}}}, int64[1] i2 = {{2}}, int64 z = {{0}},
         int64 one = {{1}}>
        {{ sh = Shape (x)
           q0 = Gather <axis = 0> (sh, i2)
           q = Squeeze (q0)
           r = Range (z, q, one)
           rf = Cast <to = 1> (r)
           qf = Cast <to = 1> (q)
           ratio = Div (qf, qf)
           m = Mul (rf, ratio)
           idx = Cast <to = 7> (m)
           y = Gather <axis = 0> (tab, idx) }}""",
     "any C; 1 <= H <= 16; any W", {"y": ["H", 4]},
     [{"C": c, "H": h, "W": w} for c in (1, 3) for h in range(1, 20) for w in (1, 2)]),
]


def _with_edges(a, grid, n_random=3):
    pts = list(grid)
    for p in plan_points(a.domain, n_random, 0):
        if max(p.values(), default=0) <= 4096 and p not in pts:
            pts.append(p)
    return pts


@pytest.mark.parametrize("name,opset,graph,domain,shapes,grid", ROWS, ids=[r[0] for r in ROWS])
def test_reproduction_exact_and_agrees(tmp_path, name, opset, graph, domain, shapes, grid):
    a = graphshape.analyze(model_from_text(opset, graph, str(tmp_path / f"{name}.onnx")))
    assert a.domain.exact, [u.describe() for u in a.domain.unproven]
    assert str(a.domain) == domain
    for k, dims in (shapes or {}).items():
        assert a.shapes[k] == dims, k
    assert_agrees(a, _with_edges(a, grid))


def test_wav2vec2_reshape_reads_both_cases(tmp_path):
    """At T = 5 the 0 entry is a copy: the output is [0, 4] (onnxruntime's own shape),
    at T >= 6 it is [4, T - 5]; both predicted exactly."""
    name, opset, graph = ROWS[0][:3]
    a = graphshape.analyze(model_from_text(opset, graph, str(tmp_path / "w.onnx")))
    assert a.output_shapes_at({"T": 5}) == {"y": [0, 4]}
    assert a.output_shapes_at({"T": 9}) == {"y": [4, 4]}
    assert not a.domain.contains({"T": 5})
    assert a.explain({"T": 5}).violations[0].op == "graph output"


# ---- exported with torch: timm's Conv2dSame, T5's buckets ----------------------------------

def _export(module, x, path, axes, names=("x",)):
    import torch

    torch.onnx.export(module.eval(), (x,), path, dynamo=False, input_names=list(names),
                      output_names=["y"], dynamic_axes=axes, opset_version=17)
    return path


@pytest.mark.parametrize("k,s,d", [(3, 2, 1), (5, 2, 1), (3, 1, 2), (4, 3, 1)])
def test_tf_same_padding_timm_conv2d_same(tmp_path, k, s, d):
    torch = pytest.importorskip("torch")
    layers = pytest.importorskip("timm.layers")
    torch.manual_seed(0)
    m = layers.Conv2dSame(1, 2, k, stride=s, dilation=d)
    p = _export(m, torch.randn(1, 1, 9, 10), str(tmp_path / "same.onnx"),
                {"x": {2: "H", 3: "W"}})
    a = graphshape.analyze(p)
    assert a.domain.exact, [u.describe() for u in a.domain.unproven]
    assert str(a.domain) == "any H; any W"  # 'same' padding: out = ceil(H / s) >= 1
    grid = [{"H": h, "W": w} for h, w in itertools.product(range(1, 13), (1, 2, 7, 8, 9))]
    rep = assert_agrees(a, _with_edges(a, grid))
    assert all(v.observed == "valid" for v in rep.verdicts)
    for v in rep.verdicts:  # TF 'same': the output is ceil(size / stride)
        h, w = v.sizes["H"], v.sizes["W"]
        assert a.output_shapes_at(v.sizes)["y"] == [1, 2, -(-h // s), -(-w // s)]


@pytest.mark.parametrize("decoder", [False, True], ids=["encoder", "decoder"])
def test_t5_relative_position_buckets(tmp_path, decoder):
    torch = pytest.importorskip("torch")
    tr = pytest.importorskip("transformers")
    from transformers.models.t5.modeling_t5 import T5Attention

    torch.manual_seed(0)
    cfg = tr.T5Config(d_model=8, d_kv=4, num_heads=2, relative_attention_num_buckets=32,
                      relative_attention_max_distance=128, is_decoder=decoder)
    att = T5Attention(cfg, has_relative_attention_bias=True)

    class Bias(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.att = att

        def forward(self, x):
            return self.att.compute_bias(x.shape[1], x.shape[1])

    p = _export(Bias(), torch.zeros(1, 6), str(tmp_path / "t5.onnx"), {"x": {1: "S"}})
    a = graphshape.analyze(p)
    assert a.domain.exact, [u.describe() for u in a.domain.unproven]
    assert str(a.domain) == "any S"  # every bucket lies in 0..31 whatever S
    pts = [{"S": s} for s in (*range(1, 20), 31, 32, 33, 100, 127, 128, 129, 130, 257, 600)]
    assert_agrees(a, pts)


# ---- the open items ------------------------------------------------------------------

def _ap(ceil: int, cip: int, k: int = 3, s: int = 4, pad: str = "SAME_UPPER") -> str:
    return (f'(float[1, 2, H] x) => (float y) {{ y = AveragePool <kernel_shape = [{k}], '
            f'strides = [{s}], auto_pad = "{pad}", ceil_mode = {ceil}, '
            f'count_include_pad = {cip}> (x) }}')


LOOP_ZERO = """(float[P, 3] x) => (float y, int64 w) <int64[1] i0 = {0}, int64[1] i1 = {1}> {
  s = Shape (x)
  m = Gather <axis = 0> (s, i0)
  ms = Squeeze (m)
  t = Constant <value = bool {1}> ()
  c = Gather <axis = 0> (s, i1)
  one = ConstantOfShape (c)
  y, z = Loop (ms, t, one) <body = g (int64 it, bool cc, float[3] acc) => (bool co,
      float[3] acco, float%s so) { co = Identity (cc)  acco = Identity (acc)
      so = Identity (acc) }>
  w = Shape (z)
}"""

# (name, opset, graph, dims, expected domain or "unproven: words")
OPEN_ITEMS = [
    # AveragePool 10-18 with ceil_mode runs a plain loop: a negative SAME padding (k3 s4 at
    # H = 4: -1) runs with count_include_pad=1 and fails without, as with ceil_mode=0
    ("avgpool_ceil_same_negative_pad_counted", 10, _ap(1, 1), None, "any H"),
    ("avgpool_ceil_same_negative_pad_uncounted", 10, _ap(1, 0), None,
     "H mod 4 in {1, 2, 3}, H >= 1"),
    ("avgpool_floor_same_negative_pad", 11, _ap(0, 1, 2, 5, "SAME_LOWER"), None,
     "H mod 5 in {1, 2}, H >= 1"),
    # a Loop whose trip count is a size that may be 0: its scan output is then shaped from
    # the body output's declared shape (symbolic dims as 0, rank 1 without one)
    ("loop_trips_may_be_0_undeclared", 17, LOOP_ZERO % "", {"x:0": "P>=0"},
     "unproven: may run no iteration"),
    ("loop_trips_may_be_0_declared", 17, LOOP_ZERO % "[3]", {"x:0": "P>=0"}, "any P >= 0"),
]


@pytest.mark.parametrize("name,opset,graph,dims,expect", OPEN_ITEMS,
                         ids=[r[0] for r in OPEN_ITEMS])
def test_open_items(tmp_path, name, opset, graph, dims, expect):
    a = graphshape.analyze(model_from_text(opset, graph, str(tmp_path / f"{name}.onnx")),
                           dims=dims)
    lo = 0 if dims else 1
    grid = [{a.domain.names[0]: n} for n in range(lo, 13)]
    if expect.startswith("unproven: "):
        text = "; ".join(u.describe() for u in a.domain.unproven)
        assert expect[len("unproven: "):] in text, text
        rep = verify(a, grid, timeout=60, providers=["CPUExecutionProvider"])
        assert not rep.disagreements  # nothing claimed, nothing contradicted
        return
    assert a.domain.exact, [u.describe() for u in a.domain.unproven]
    assert str(a.domain) == expect
    assert_agrees(a, grid)


# ---- the solver's new closed forms, against direct evaluation ----------------------------------

def _closed_form_matches(constraints, symbols, lo=1, hi=130):
    from graphshape.domain.sets import Domain
    from graphshape.domain.solve import solve

    d = Domain(solve(constraints, symbols))
    assert not d.solved.inexact, [str(c.constraint) for c in d.solved.inexact]
    names = [s.name for s in symbols]
    for v in itertools.product(range(lo, hi, 7), repeat=len(symbols)):
        env = dict(zip(names, v))
        want = all(c.evaluate(env) for c in constraints)
        assert d.contains(env) == want, env
    return d


def test_product_equal_to_product_pairs_its_factors():
    """MobileViT's fold: C*h*w == 4*C*ceil(h/2)*ceil(w/2), h and w each a size of H, W."""
    from graphshape.arith.dims import ceildiv, floordiv, mul, symbol
    from graphshape.shapes.constraints import Constraint

    H, W, N = symbol("H"), symbol("W"), symbol("N")
    h, w = floordiv(H, 3), floordiv(W, 5)
    c = Constraint.eq(mul(mul(32, N), mul(h, w)),
                      mul(mul(128, N), mul(ceildiv(h, 2), ceildiv(w, 2))))
    d = _closed_form_matches([c, Constraint.ge(h, 1), Constraint.ge(w, 1)], [N, H, W], 1, 60)
    assert d.contains({"N": 2, "H": 6, "W": 10}) and not d.contains({"N": 1, "H": 9, "W": 10})


def test_constant_over_a_size_is_linear_in_it():
    """Swin's 6272 // (49*n) == 128 (n a product of window counts): n == 1 exactly."""
    from graphshape.arith.dims import ceildiv, mul, symbol
    from graphshape.shapes.constraints import Constraint
    from graphshape.shapes.quotients import quotient

    H, W = symbol("H"), symbol("W")
    n = mul(ceildiv(H, 28), ceildiv(W, 28))
    q = quotient(6272, mul(49, n))
    c = Constraint.eq(mul(mul(49, n), q), mul(6272, n))
    d = _closed_form_matches([c], [H, W], 1, 120)
    assert str(d) == "1 <= H <= 28; 1 <= W <= 28"
