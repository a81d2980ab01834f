"""The exact solver: each kind of condition real graphs produce, on small graphs, with
isl, the independent numeric sweep and onnxruntime agreeing point for point."""

from __future__ import annotations

import random

import pytest

import graphshape
from graphshape.arith import dims
from graphshape.domain import solve
from graphshape.domain.sets import Domain
from graphshape.runtime.verify import plan_points
from graphshape.shapes.constraints import Constraint
from tests.oracles.crosscheck import sweep

from .conftest import assert_agrees, text_model

H, W = dims.symbol("H"), dims.symbol("W")

HEADER = '<ir_version: 10, opset_import: ["" : 17]>'

GRAPHS = {
    # Flatten couples H and W: the head needs h*w == 12 for the pooled map.
    "flatten_couples": (HEADER + """
        g (float[1, 1, H, W] x) => (float[1, 4] y) <float[12, 4] b = {%s}> {
            p = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (x)
            f = Flatten (p)
            y = Gemm (f, b)
        }""" % ", ".join(["0.5"] * 48)),
    # A branch needs even sizes, but broadcasting in the Add lets size 1 through.
    "broadcast_tiny": (HEADER + """
        g (float[1, 1, H, W] x) => (float[1, 1, H2, W2] y) <float[1, 1, 2, 2] k = {1., 1., 1., 1.}> {
            p = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (x)
            u = ConvTranspose <strides = [2, 2]> (p, k)
            y = Add (x, u)
        }"""),
    # Product of two symbols equal to a constant: Reshape to a fixed element count.
    "product_eq": (HEADER + """
        g (float[1, H, W] x) => (float[1, 24] y) <int64[2] s = {1, 24}> {
            y = Reshape (x, s)
        }"""),
    # Three symbolic dims and the divisibility of a product (Reshape with -1).
    "three_dims": (HEADER + """
        g (float[N, 2, H, W] x) => (float[M, 8] y) <int64[2] s = {-1, 8}> {
            p = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (x)
            y = Reshape (p, s)
        }"""),
    # Two heads that can never agree: the empty domain names both nodes.
    "contradiction": (HEADER + """
        g (float[1, H] x) => (float[1, 4] y, float[1, 2] z)
          <float[3, 4] b1 = {%s}, float[5, 2] b2 = {%s}> {
            y = Gemm (x, b1)
            z = Gemm (x, b2)
        }""" % (", ".join(["1."] * 12), ", ".join(["1."] * 10))),
    # ceil_mode pooling, strided conv with SAME_UPPER and a Concat skip.
    "concat_skip": (HEADER + """
        g (float[1, 1, H, W] x) => (float[1, 2, A, B] y) <float[1, 1, 3, 3] k = {%s}> {
            c = Conv <auto_pad = "SAME_UPPER", strides = [2, 2]> (x, k)
            p = MaxPool <kernel_shape = [3, 3], strides = [2, 2], ceil_mode = 1> (x)
            y = Concat <axis = 1> (c, p)
        }""" % ", ".join(["1."] * 9)),
}

MIN_CLAMP = HEADER + """
    g (float[1, S, 4] x) => (float[1, S, 4] y) <float[1, 512, 4] pos = {%s},
        int64[1] one = {1}, int64[1] zero = {0}> {
        shp = Shape (x)
        n = Gather <axis = 0> (shp, one)
        p = Slice (pos, zero, n, one)
        y = Add (x, p)
    }""" % ", ".join(["0.25"] * 2048)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("solver")
    out = {k: text_model(v, str(d / f"{k}.onnx")) for k, v in GRAPHS.items()}
    out["min_clamp"] = text_model(MIN_CLAMP, str(d / "min_clamp.onnx"))
    return out


EXPECTED = {
    # closed forms confirmed on onnxruntime by test_domain_matches_onnxruntime below
    "broadcast_tiny": "(H = 1 or H = 2k, k >= 1); (W = 1 or W = 2k, k >= 1)",
    "min_clamp": "1 <= S <= 512",
    "contradiction": "no size is valid",
}


@pytest.mark.parametrize("name", list(GRAPHS) + ["min_clamp"])
def test_domain_matches_onnxruntime(built, name):
    a = graphshape.analyze(built[name])
    points = plan_points(a.domain, n_random=8, seed=5)
    if a.domain.is_empty():
        points = [{"H": h} for h in (1, 2, 3, 4, 5, 6)]
    assert_agrees(a, points[:160])
    if name in EXPECTED:
        assert EXPECTED[name] in str(a.domain), str(a.domain)


@pytest.mark.parametrize("name", list(GRAPHS) + ["min_clamp"])
def test_isl_agrees_with_periodic_enumeration(built, name):
    a = graphshape.analyze(built[name])
    r = sweep(a.domain)
    assert r.ok, r.mismatches[:5]
    if not a.domain.is_empty():
        assert r.points > 0


def test_flatten_coupling_is_a_union_of_boxes(built):
    a = graphshape.analyze(built["flatten_couples"])
    boxes = a.domain.boxes()
    assert boxes is not None and len(boxes) == 6  # divisor pairs of 12
    assert a.domain.contains({"H": 6, "W": 8}) and a.domain.contains({"H": 2, "W": 24})
    assert not a.domain.contains({"H": 6, "W": 6})


def test_product_equality_splits_into_divisor_pairs(built):
    a = graphshape.analyze(built["product_eq"])
    assert {(b.factors[0].min(), b.factors[1].min()) for b in a.domain.boxes()} == {
        (1, 24), (2, 12), (3, 8), (4, 6), (6, 4), (8, 3), (12, 2), (24, 1)}


def test_three_symbols(built):
    a = graphshape.analyze(built["three_dims"])
    assert a.domain.names == ["N", "H", "W"]
    # N*h*w must be a multiple of 4 with h = floor(H/2) etc. (H >= 2)
    assert a.domain.contains({"N": 4, "H": 2, "W": 2})
    assert not a.domain.contains({"N": 1, "H": 2, "W": 2})
    assert a.domain.contains({"N": 1, "H": 4, "W": 4})
    assert a.domain.contains({"N": 1, "H": 8, "W": 2})


def test_empty_domain_names_the_conflicting_nodes(built):
    a = graphshape.analyze(built["contradiction"])
    assert a.domain.is_empty()
    text = str(a.domain)
    assert "Gemm (node" in text
    core = a.domain.conflict()
    assert sorted(o.node for c in core for o in c.origins) == ["Gemm_0", "Gemm_1"] or \
        len(core) == 2


def test_explain_gives_numbers(built):
    a = graphshape.analyze(built["min_clamp"])
    ex = a.explain({"S": 513})
    assert ex.verdict == "invalid"
    assert any("513" in v.numbers for v in ex.violations)
    assert a.explain({"S": 7}).output_shapes == {"y": [1, 7, 4]}


def test_witness(built):
    a = graphshape.analyze(built["min_clamp"])
    w = a.domain.witness()
    assert w["smallest_valid"] == {"S": 1}
    assert w["smallest_invalid"] == {"S": 513}
    per_bound = w["per_condition"]
    assert any(x["smallest_rejected"] == {"S": 513} for x in per_bound)


# ---- property test: random condition sets, isl vs numeric evaluation ----------------------

def _rand_expr(rng, syms):
    s = rng.choice(syms)
    kind = rng.randrange(6)
    a = rng.randint(1, 3)
    b = rng.randint(-4, 4)
    m = rng.randint(2, 5)
    if kind == 0:
        return dims.add(dims.mul(a, s), b)
    if kind == 1:
        return dims.floordiv(dims.add(s, b), m)
    if kind == 2:
        return dims.ceildiv(dims.add(dims.mul(a, s), b), m)
    if kind == 3:
        return dims.dmin(s, rng.randint(3, 30))
    if kind == 4:
        return dims.dmax(dims.floordiv(dims.add(s, b), m), 0)
    return dims.mod(s, m)


def _rand_constraint(rng, syms):
    e1, e2 = _rand_expr(rng, syms), _rand_expr(rng, syms)
    k = rng.randrange(6)
    if k == 0:
        return Constraint.ge(e1, rng.randint(0, 10))
    if k == 1:
        return Constraint.eq(e1, e2)
    if k == 2:
        return Constraint.divides(rng.randint(2, 6), e1)
    if k == 3:
        return Constraint.any_of([Constraint.eq(e1, e2), Constraint.eq(e1, 1),
                                  Constraint.eq(e2, 1)])
    if k == 4:
        return Constraint.eq(dims.mul(dims.add(e1, 1), dims.add(e2, 1)),
                             rng.choice([6, 12, 16, 30]))
    return Constraint.divides(rng.choice([4, 6, 8]), dims.mul(dims.add(e1, 2), dims.add(e2, 2)))


@pytest.mark.parametrize("seed", range(40))
def test_random_condition_sets(seed):
    rng = random.Random(seed)
    syms = [H, W] if seed % 2 else [H]
    cons = [_rand_constraint(rng, syms) for _ in range(rng.randint(1, 3))]
    solved = solve.solve(cons, syms)
    d = Domain(solved)
    names = [s.name for s in syms]
    grid = range(1, 41)
    for h in grid:
        for w in (grid if len(syms) == 2 else [None]):
            p = {"H": h} if w is None else {"H": h, "W": w}
            expect = all(c.evaluate(p) for c in cons)
            assert d.contains(p) == expect, (p, [str(c) for c in cons])
    r = sweep(d, max_span=400)
    assert r.ok, (r.mismatches[:3], [str(c) for c in cons], names)
