"""Patterns from transformers models the corpus had not seen (RoBERTa/DistilBERT/ALBERT/
ELECTRA/CLIP/Llama/Mistral/T5/BART/Swin/DeiT/DINOv2, TorchScript and dynamo exports), each
cut down to a tiny graph and run on onnxruntime 1.31 (CPU) at every size of a small grid:
graphshape must agree, or say unproven (never a wrong claim).

1. transformers 5's padding-mask lookup ``mask.flatten()[b * S + s]``: the index bounds
   need a product with a symbolic factor (Mul by a dim read by Shape) and a proof that
   ``S*(B - 1) + S - 1 <= B*S - 1``, which holds only once multiplied out. Every text
   model of the library was unproven at every size because of it.
2. Integer Div by a symbolic divisor that divides exactly (Swin's ``(B*nW) / nW``): the
   quotient is a value (the window-mask Expand target was untracked).
3. Float Pow of constants with an exact result (``num_positions ** 0.5`` in
   interpolate_pos_encoding): the value feeds a Reshape target.
4. Broadcasting [S] with [min(16, S)] is S (not max(S, min(16, S)), which a later
   Reshape could not divide): dynamo's position-table Add.
5. GatherND index tuples built by Concat(axis=-1) of one-wide parts (dynamo's mask
   lookup ``mask[b, s]``): each component keeps its own bounds, so the mask's batch must
   be at least the ids' batch, exactly.
   DETR's version looks up a [B, h*w] mask with h = ceil(H/32): the factor is a product of
   two sizes, whose sign is proved factor by factor.
6. Integer Mod of a constant by a symbolic size (dynamo's torch.roll: shift % size, Swin's
   shifted windows): the shift itself (or size + shift when negative) where the size
   exceeds |shift| at every size with a non-zero divisor.
"""

from __future__ import annotations

import itertools

import graphshape
from graphshape.domain.sets import INVALID, UNPROVEN, VALID
from graphshape.runtime.verify import verify

from ._rule_rows import model_from_text


def _analyze(tmp_path, opset, graph):
    return graphshape.analyze(model_from_text(opset, graph, str(tmp_path / "m.onnx")))


def _grid(names, lo=1, hi=4):
    return [dict(zip(names, v)) for v in itertools.product(range(lo, hi + 1), repeat=len(names))]


def _ort(a, points) -> dict:
    """onnxruntime's verdict at each point; none may contradict graphshape's prediction."""
    rep = verify(a, points, timeout=60, providers=["CPUExecutionProvider"])
    bad = [(v.sizes, v.predicted, v.observed, v.detail) for v in rep.disagreements]
    assert not bad, bad
    return {tuple(v.sizes.values()): v.observed for v in rep.verdicts}


def _unproven(a) -> str:
    return "; ".join(u.describe() for u in a.propagation.unproven)


# ---- 1. mask.flatten()[b * S + s] -----------------------------------------------------------

MASK_LOOKUP = """(int64[B, S] ids, int64[B, M] mask) => (int64[B, S] y) {
    shp = Shape (ids)
    z = Constant <value = int64 {0}> ()
    one = Constant <value = int64 {1}> ()
    B = Gather <axis = 0> (shp, z)
    S = Gather <axis = 0> (shp, one)
    rb = Range (z, B, one)
    rs = Range (z, S, one)
    ax = Constant <value = int64[1] {1}> ()
    rb2 = Unsqueeze (rb, ax)
    bs = Mul (rb2, S)
    idx = Add (bs, rs)
    flat = Flatten <axis = 2> (mask)
    g = Gather <axis = 0> (flat, idx)
    ax2 = Constant <value = int64[1] {2}> ()
    y = Squeeze (g, ax2)
}"""


def test_mask_lookup_is_proved_in_range(tmp_path):
    """mask [B, S]: b*S + s <= B*S - 1 for every B, S (it used to be unproven)."""
    a = _analyze(tmp_path, 17, MASK_LOOKUP.replace("int64[B, M] mask", "int64[B, S] mask"))
    assert a.domain.exact, _unproven(a)
    pts = _grid(["B", "S"])
    assert all(a.check(p) is VALID for p in pts)
    assert set(_ort(a, pts).values()) == {"valid"}


def test_mask_lookup_on_another_width_stays_unproven(tmp_path):
    """mask [B, M]: b*S + s stays in the B*M rows iff B*S <= B*M, but the bounds of a sum
    of two ranges are not known to be attained together: unproven, never a claim. The
    runtime refuses S > M at B = 1."""
    a = _analyze(tmp_path, 17, MASK_LOOKUP)
    assert not a.domain.exact
    pts = _grid(["B", "S", "M"], 1, 3)
    obs = _ort(a, pts)
    assert all(a.check(p) is UNPROVEN for p in pts)
    assert obs[(1, 3, 2)] == "invalid" and obs[(2, 2, 3)] == "valid"


def test_mask_lookup_over_a_product_of_sizes(tmp_path):
    """DETR: the mask is [B, h*w] after a stride-32 conv (h = floor((H - 1)/32) + 1); the
    lookup b*h*w + s needs h*w >= 0 (a product: proved per factor) and the bound
    (B - 1)*h*w + h*w - 1 <= B*h*w - 1 (multiplied out with floor terms as atoms)."""
    a = _analyze(tmp_path, 17, """(float[B, 1, H, W] x, float[1, 1, 1, 1] k) => (float y) {
        c = Conv <strides = [32, 32]> (x, k)
        f = Flatten <axis = 1> (c)
        shp = Shape (f)
        z = Constant <value = int64 {0}> ()
        one = Constant <value = int64 {1}> ()
        B = Gather <axis = 0> (shp, z)
        P = Gather <axis = 0> (shp, one)
        rb = Range (z, B, one)
        rs = Range (z, P, one)
        ax = Constant <value = int64[1] {1}> ()
        rb2 = Unsqueeze (rb, ax)
        bs = Mul (rb2, P)
        idx = Add (bs, rs)
        flat = Flatten <axis = 2> (f)
        y = Gather <axis = 0> (flat, idx)
    }""")
    assert a.domain.exact, _unproven(a)
    pts = [{"B": b, "H": h, "W": w} for b in (1, 2) for h in (1, 32, 33, 65) for w in (1, 40)]
    assert all(a.check(p) is VALID for p in pts)
    assert set(_ort(a, pts).values()) == {"valid"}


def test_symbolic_factor_keeps_tight_bounds(tmp_path):
    """Range(0, N) * K indexes a table of M rows: the largest index (N - 1)*K is attained,
    so the condition (N - 1)*K <= M - 1 is exact (K > 0), and so is -(N - 1)*K >= -M for
    the negated factor."""
    for sign, ok in (("", lambda n, k, m: (n - 1) * k <= m - 1),
                     ("neg", lambda n, k, m: (n - 1) * k <= m)):
        factor = "kk = Neg (k)" if sign else "kk = Identity (k)"
        a = _analyze(tmp_path, 17, f"""(float[N] x, float[K] w, float[M, 2] t) => (float y) {{
            z = Constant <value = int64 {{0}}> ()
            one = Constant <value = int64 {{1}}> ()
            n = Size (x)
            k = Size (w)
            {factor}
            r = Range (z, n, one)
            idx = Mul (r, kk)
            y = Gather <axis = 0> (t, idx)
        }}""")
        assert a.domain.exact, _unproven(a)
        pts = _grid(["N", "K", "M"], 1, 4)
        assert [a.check(p) for p in pts] == [VALID if ok(p["N"], p["K"], p["M"]) else INVALID
                                            for p in pts], sign
        _ort(a, pts)


# ---- 2. integer Div by a symbolic divisor ---------------------------------------------------

def _div_model(num: str, den: str) -> str:
    return f"""(float[N, M] x) => (float y) {{
        shp = Shape (x)
        z = Constant <value = int64 {{0}}> ()
        one = Constant <value = int64 {{1}}> ()
        n = Gather <axis = 0> (shp, z)
        m = Gather <axis = 0> (shp, one)
        nm = Mul (n, m)
        m1 = Sub (m, one)
        nm1 = Mul (n, m1)
        nm2 = Add (nm, one)
        q = Div ({num}, {den})
        ax = Constant <value = int64[1] {{0}}> ()
        qq = Unsqueeze (q, ax)
        minus = Constant <value = int64[1] {{-1}}> ()
        tgt = Concat <axis = 0> (qq, minus)
        y = Reshape (x, tgt)
    }}"""


def test_exact_symbolic_division_is_a_value(tmp_path):
    """(N*M) / M == N: Reshape(x, [N, -1]) runs at every size (was unproven)."""
    a = _analyze(tmp_path, 17, _div_model("nm", "m"))
    assert a.domain.exact, _unproven(a)
    assert a.output_shapes["y"] == ["N", "M"]
    pts = _grid(["N", "M"])
    assert all(a.check(p) is VALID for p in pts)
    _ort(a, pts)


def test_exact_symbolic_division_by_zero_divisor(tmp_path):
    """(N*(M - 1)) / (M - 1): the divisor is 0 at M = 1, where onnxruntime fails."""
    a = _analyze(tmp_path, 17, _div_model("nm1", "m1"))
    assert a.domain.exact, _unproven(a)
    pts = _grid(["N", "M"])
    assert [a.check(p) for p in pts] == [VALID if p["M"] >= 2 else INVALID for p in pts]
    _ort(a, pts)


def test_inexact_symbolic_division_stays_unproven(tmp_path):
    """(N*M + 1) / M truncates to N at M >= 2 and is N + 1 at M = 1: no single value."""
    a = _analyze(tmp_path, 17, _div_model("nm2", "m"))
    assert not a.domain.exact
    _ort(a, _grid(["N", "M"], 1, 3))


# ---- 3. float Pow of constants --------------------------------------------------------------

def _pow_model(base: str, exponent: str) -> str:
    return f"""(float[N] x) => (float y) {{
        b = Constant <value = float {{{base}}}> ()
        e = Constant <value = float {{{exponent}}}> ()
        p = Pow (b, e)
        c = Cast <to = 7> (p)
        ax = Constant <value = int64[1] {{0}}> ()
        cc = Unsqueeze (c, ax)
        minus = Constant <value = int64[1] {{-1}}> ()
        tgt = Concat <axis = 0> (cc, minus)
        y = Reshape (x, tgt)
    }}"""


def test_float_pow_square_root_is_a_value(tmp_path):
    """sqrt(16.0) == 4: Reshape(x[N], [4, -1]) runs exactly at N = 4k."""
    for base, exponent, k in (("16.0", "0.5", 4), ("3.0", "2.0", 9)):
        a = _analyze(tmp_path, 17, _pow_model(base, exponent))
        assert a.domain.exact, _unproven(a)
        pts = [{"N": n} for n in range(1, 2 * k + 2)]
        assert [a.check(p) for p in pts] == [VALID if p["N"] % k == 0 else INVALID for p in pts]
        _ort(a, pts)


def test_float_pow_that_rounds_has_no_value(tmp_path):
    """2.0 ** 0.5 is irrational: no value, unproven (never a guess)."""
    a = _analyze(tmp_path, 17, _pow_model("2.0", "0.5"))
    assert not a.domain.exact
    _ort(a, [{"N": n} for n in range(1, 4)])


# ---- 4. broadcasting against a sliced position table ----------------------------------------

def test_broadcast_with_min_is_the_larger_dim(tmp_path):
    """x[S, 4] + table[16, 4][:S]: the output is [S, 4], so Reshape to [S*4] by its own
    Shape product is exact; S <= 16 (broadcasting 16 with S > 16 fails)."""
    a = _analyze(tmp_path, 17, """(float[S, 4] x, float[16, 4] t) => (float y) {
        shp = Shape (x)
        z = Constant <value = int64[1] {0}> ()
        one = Constant <value = int64[1] {1}> ()
        s = Slice (shp, z, one)
        p = Slice (t, z, s, z)
        q = Add (x, p)
        four = Constant <value = int64[1] {4}> ()
        n = Mul (s, four)
        y = Reshape (q, n)
    }""")
    assert a.domain.exact, _unproven(a)
    assert a.output_shapes["y"] == ["4*S"]
    pts = [{"S": s} for s in range(1, 20)]
    assert [a.check(p) for p in pts] == [VALID if p["S"] <= 16 else INVALID for p in pts]
    _ort(a, pts)


# ---- 5. GatherND on Concat(axis=-1) index tuples --------------------------------------------

def test_gather_nd_components_keep_their_own_bounds(tmp_path):
    """mask[M, S] looked up at (b, s) for b < B, s < S: valid exactly when B <= M (it used
    to be unproven: one bound max(B, S) - 1 for both components)."""
    a = _analyze(tmp_path, 17, """(int64[B, S] ids, int64[M, S] mask) => (int64 y) {
        shp = Shape (ids)
        z = Constant <value = int64 {0}> ()
        one = Constant <value = int64 {1}> ()
        B = Gather <axis = 0> (shp, z)
        S = Gather <axis = 0> (shp, one)
        rb = Range (z, B, one)
        rs = Range (z, S, one)
        a1 = Constant <value = int64[1] {1}> ()
        a0 = Constant <value = int64[1] {0}> ()
        rb2 = Unsqueeze (rb, a1)
        rs2 = Unsqueeze (rs, a0)
        eb = Expand (rb2, shp)
        es = Expand (rs2, shp)
        m1 = Constant <value = int64[1] {-1}> ()
        ib = Unsqueeze (eb, m1)
        is = Unsqueeze (es, m1)
        idx = Concat <axis = -1> (ib, is)
        y = GatherND (mask, idx)
    }""")
    assert a.domain.exact, _unproven(a)
    pts = _grid(["B", "S", "M"], 1, 3)
    assert [a.check(p) for p in pts] == [VALID if p["B"] <= p["M"] else INVALID for p in pts]
    _ort(a, pts)


# ---- 6. Mod of a constant by a symbolic size ------------------------------------------------

def _roll_model(shift: int, fmod: int, pad: int) -> str:
    """r = shift mod (W + pad); x[W] is sliced at [r:] and the slice's length checked by a
    Reshape to [W - r]."""
    return f"""(float[W] x) => (float y) {{
        shp = Shape (x)
        sh = Constant <value = int64[1] {{{shift}}}> ()
        p = Constant <value = int64[1] {{{pad}}}> ()
        w2 = Add (shp, p)
        r = Mod <fmod = {fmod}> (sh, w2)
        big = Constant <value = int64[1] {{1000}}> ()
        z = Constant <value = int64[1] {{0}}> ()
        s = Slice (x, r, big, z)
        n = Sub (shp, r)
        y = Reshape (s, n)
    }}"""


def _roll_valid(shift: int, fmod: int, w: int, pad: int) -> bool:
    """What onnxruntime does with _roll_model at size w (the model's arithmetic in Python)."""
    d = w + pad
    r = (abs(shift) % d) * (1 if shift >= 0 else -1) if fmod else shift % d
    start = min(max(r + w if r < 0 else r, 0), w)
    return w - start == w - r and w - r >= 1


def test_mod_of_a_shift_by_a_size(tmp_path):
    """2 mod (W + 2) is 2 at every W; -2 mod (W + 2) is W (Python sign), -2 fmod (W + 2) is
    -2: each is a value, so the Slice/Reshape conditions are exact."""
    for shift, fmod in ((2, 0), (-2, 0), (-2, 1), (1, 1)):
        a = _analyze(tmp_path, 17, _roll_model(shift, fmod, 2))
        assert a.domain.exact, (shift, fmod, _unproven(a))
        pts = [{"W": w} for w in range(1, 8)]
        assert [a.check(p) for p in pts] == [
            VALID if _roll_valid(shift, fmod, p["W"], 2) else INVALID for p in pts], (shift, fmod)
        _ort(a, pts)


def test_mod_by_a_size_that_may_be_small_has_no_value(tmp_path):
    """3 mod W is 3 only for W > 3 (0 at W = 3, 1 at W = 2): no single value, unproven."""
    a = _analyze(tmp_path, 17, _roll_model(3, 0, 0))
    assert not a.domain.exact
    _ort(a, [{"W": w} for w in range(1, 7)])
