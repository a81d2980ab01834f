"""Detectors (issue 20): float32 size conditions decided exactly, data-dependent counts
quantified, budgets that hold, and the torchvision family + a YOLO head proved.

Every expected answer is checked on onnxruntime (CPU) at the domain's edges: for the float32
conditions that includes the band that only evaluation decides (W = 1333*H: H = 7,
W = 9331 fails, H = 1, W = 1333 runs). Detector runs use several input fills (normal,
uniform, zeros): a detector's counts depend on the data, and a size is valid only when the
run succeeds for every count the graph allows.
"""

from __future__ import annotations

import islpy as isl
import numpy as np
import pytest

import graphshape
from graphshape import stats
from graphshape.arith import float32 as f32
from graphshape.arith.dims import nonneg_symbol, symbol
from graphshape.arith.isl import operations
from graphshape.arith.prove import nonneg
from graphshape.runtime.verify import plan_points, verify
from graphshape.shapes import engine
from models import postprocess, registry

from ._rule_rows import model_from_text
from .conftest import assert_agrees

FILLS = ("normal", "uniform", "zeros")

# torchvision's GeneralizedRCNNTransform size arithmetic, as its TorchScript export writes
# it (Shape -> Slice -> ReduceMin/Max -> Cast -> Reciprocal -> Mul -> Min -> Mul -> Floor ->
# Cast), ending in a tensor of the resized size: the graph output must not be empty
TRANSFORM = (
    "(float[3, H, W] image) => (float y) "
    "<int64[1] lo = {-2}, int64[1] hi = {9223372036854775807}, float short = {800.0}, "
    "float long = {1333.0}, int64 one = {1}, int64 two = {2}, int64[1] ax = {0}> {"
    " s = Shape (image) hw = Slice (s, lo, hi) mn = ReduceMin <keepdims = 0> (hw)"
    " mx = ReduceMax <keepdims = 0> (hw) fmn = Cast <to = 1> (mn) fmx = Cast <to = 1> (mx)"
    " rmn = Reciprocal (fmn) rmx = Reciprocal (fmx) a = Mul (rmn, short) b = Mul (rmx, long)"
    " scale = Min (a, b) h = Gather (s, one) w = Gather (s, two) fh = Cast <to = 1> (h)"
    " fw = Cast <to = 1> (w) th = Mul (fh, scale) tw = Mul (fw, scale)"
    " flh = Floor (th) flw = Floor (tw) ih = Cast <to = 7> (flh) iw = Cast <to = 7> (flw)"
    " uh = Unsqueeze (ih, ax) uw = Unsqueeze (iw, ax) sz = Concat <axis = 0> (uh, uw)"
    " y = ConstantOfShape (sz) }")


def _float_resize(h: int, w: int) -> tuple:
    """The resized sides as numpy float32 computes them (the test's own oracle)."""
    f = np.float32
    s = min(f(f(1) / f(min(h, w))) * f(800), f(f(1) / f(max(h, w))) * f(1333))
    return int(np.floor(f(f(h) * s))), int(np.floor(f(f(w) * s)))


@pytest.fixture(scope="module")
def transform(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("transform") / "transform.onnx")
    model_from_text(17, TRANSFORM, path)
    return graphshape.analyze(path)


def test_transform_resize_is_a_derived_size_with_an_exact_domain(transform):
    a = transform
    assert a.output_shapes["y"] == ["fl1", "fl2"]
    assert [d.formula() for d in a.propagation.derived] == [
        "floor(H*min(1333/max(H, W), 800/min(H, W)))",
        "floor(W*min(1333/max(H, W), 800/min(H, W)))"]
    assert a.domain.exact and a.domain.solved.floats.closed
    text = str(a.domain)
    assert text.startswith("W <= 1333*H and 1333*W >= H"), text
    assert "H = 7, W = 9331 fails" in text and "H = 1, W = 1333 runs" in text
    # membership is exact everywhere: inside, outside, and on the band float32 decides
    for h, w in [(1, 1), (320, 480), (7, 9330), (7, 9331), (1, 1333), (1, 1334), (9331, 7),
                 (13, 17329), (2, 2666), (46, 61318), (10000, 7)]:
        fh, fw = _float_resize(h, w)
        assert a.domain.contains({"H": h, "W": w}) == (fh >= 1 and fw >= 1), (h, w)
    # the band is the line W = 1333*H (and its mirror) for these sizes
    band = a.domain.solved.floats.band_points()
    assert {"H": 7, "W": 9331} in band or any(p["W"] == 1333 * p["H"] for p in band)


def test_transform_on_onnxruntime_at_every_edge_and_the_band(transform):
    a = transform
    pts = a.domain.edges() + [{"H": 7, "W": 9331}, {"H": 9331, "W": 7}, {"H": 13, "W": 17329},
                              {"H": 7, "W": 9330}, {"H": 320, "W": 480}]
    pts += [{"H": h, "W": 1333 * h} for h in range(1, 31)]  # the band, both outcomes
    rep = assert_agrees(a, pts)
    got = {(v.predicted, v.observed) for v in rep.verdicts}
    assert ("invalid", "invalid") in got and ("valid", "valid") in got
    # the output's shape is the derived size itself: compared at every valid point
    assert all(v.shapes_ok for v in rep.verdicts if v.observed == "valid")


def test_transform_explain_fit_contract_and_profiles(transform):
    a = transform
    ex = a.explain({"H": 7, "W": 9331})
    assert ex.verdict == "invalid"
    assert any("fl1 = floor(H*min(1333/max(H, W), 800/min(H, W))) = 0 in float32" in
               v.readable for v in ex.violations)
    # contract: the band inside the requirement is checked size by size
    assert a.require("H in 1..10, W = 1333").verdict == "included"
    res = a.require("H = 7, W in 9300..9331")
    assert res.verdict == "not included" and res.failing_count == 1
    # fit: the nearest valid size to a failing band size
    best = a.fit({"H": 7, "W": 9331})
    assert best.suggestions and all(a.domain.contains(s.sizes) for s in best.suggestions)
    assert best.proven
    # profiles: a box whose band sizes are checked one by one
    prof = a.profiles("H in 1..8, W in 1..12000")
    assert prof.profiles
    for p in prof.profiles:
        for corner in ({"H": p.min["H"], "W": p.min["W"]}, {"H": p.max["H"], "W": p.max["W"]}):
            assert a.domain.contains(corner)


def test_float_programs_round_as_onnxruntime():
    """The evaluator's float32 operations against numpy (which the onnxruntime sweep above
    also matches): int -> float rounding above 2**24, correctly rounded products."""
    H, W = symbol("H"), symbol("W")
    p = f32.combine("mul", H, f32.combine("min", f32.combine("mul", f32.unary("recip", W), 800.0),
                                          1.5))
    for h, w in [(1, 1), (7, 9331), (2 ** 24 + 1, 3), (123457, 99991)]:
        want = np.float32(np.float32(h) * min(np.float32(np.float32(1) / np.float32(w)) *
                                              np.float32(800), np.float32(1.5)))
        assert f32.evaluate(p, {"H": h, "W": w}) == want


# ---- the repeated post-processing: 12 and 90 branches ------------------------------------
@pytest.mark.parametrize("classes", [12, 90])
def test_postprocess_branches_cost_no_set_operation_per_branch(tmp_path, classes):
    before = stats.snapshot()
    a = graphshape.analyze(postprocess.build(str(tmp_path), classes))
    work = stats.since(before)
    assert a.domain.exact and str(a.domain) == "any A"
    # 'is the result empty' (Equal(ReduceProd(Shape), 0)) and every count condition: the
    # sums of per-class counts are decided without isl growing with the branch count
    assert work.get("isl_proofs", 0) <= 4, work
    assert work.get("isl_sets", 0) <= 6, work
    assert not work.get("isl_budget_exhausted"), work
    assert work["count_conditions_discharged"] == classes
    assert work["rule_calls"] < 16 * classes + 20


def test_postprocess_on_onnxruntime_with_counts_from_zero_up(tmp_path):
    a = graphshape.analyze(postprocess.build(str(tmp_path), 12))
    rep = verify(a, [{"A": 1}, {"A": 2}, {"A": 7}, {"A": 300}, {"A": 3000}], timeout=120,
                 providers=["CPUExecutionProvider"], fills=FILLS)
    assert not rep.disagreements and len(rep.compared) == 5


# ---- budgets --------------------------------------------------------------------------
def test_sign_of_twelve_counts_is_refuted_without_isl():
    """The seed's 289 s Equal node: is sum(min(dd_i, 300)) >= 1 at every count? No (all 0):
    refuted by evaluation before isl is asked."""
    dds = [nonneg_symbol(f"dd{i}") for i in range(1, 13)]
    e = sum(f32_min(d, 300) for d in dds) - 1
    before = stats.snapshot()
    assert not nonneg(e)
    assert not stats.since(before).get("isl_proofs"), stats.since(before)


def f32_min(a, b):
    from graphshape.arith.dims import dmin

    return dmin(a, b)


def test_isl_operation_limit_stops_the_call():
    n = 12
    names = ", ".join(f"v{i}" for i in range(n))
    body = " + ".join(f"min(v{i}, 100)" for i in range(n))
    text = ("{ [" + names + "] : " + " and ".join(f"v{i} >= 0" for i in range(n)) +
            f" and {body} < 1 }}")
    before = stats.snapshot()
    with pytest.raises(isl.Error), operations(100_000):
        isl.Set(text).is_empty()
    assert stats.since(before)["isl_budget_exhausted"] == 1
    assert isl.Set("{ [x] : x > 3 }").is_empty() is False  # the limit is put back


def test_node_budget_bounds_isl_and_the_answer_stays_sound(tmp_path, monkeypatch):
    """With almost no isl operations allowed per node, proofs fail: the analysis is weaker
    (more unproven), never wrong."""
    monkeypatch.setattr(engine, "NODE_ISL_OPERATIONS", 1)
    a = graphshape.analyze(postprocess.build(str(tmp_path), 12))
    for p in ({"A": 1}, {"A": 5}):
        assert a.domain.check(p) in ("valid", "unproven")
    monkeypatch.setattr(engine, "NODE_ISL_OPERATIONS", 2_000_000)


def test_memory_budget_makes_nodes_unproven_and_the_walk_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "MEMORY_MB", 1)
    monkeypatch.setattr(engine, "MEMORY_EVERY", 1)
    # the budget is the growth during the walk: the process reads as growing 64 MB a reading
    growth = iter(range(0, 1 << 40, 64))
    monkeypatch.setattr(engine, "_resident_mb", lambda: float(next(growth)))
    a = graphshape.analyze(postprocess.build(str(tmp_path), 12))
    assert not a.domain.exact
    assert all("memory budget of 1 MB" in u.reason for u in a.domain.unproven)
    assert a.domain.check({"A": 3}) == "unproven"


# ---- a requirement on the data, and where no data can meet it --------------------------------
NEEDS_ONE_ENTRY = (
    "(float[1, P] x) => (float y) <int64[1] s0 = {0}, int64[1] s1 = {1}, int64[1] m1 = {-1}> "
    "{ nz = NonZero (x) t = Transpose <perm = [1, 0]> (nz) sh = Shape (t) "
    "n = Slice (sh, s0, s1) tgt = Concat <axis = 0> (n, m1) r = Reshape (t, tgt) "
    "y = Cast <to = 1> (r) }")


def test_a_requirement_is_never_leaned_on_where_no_data_can_meet_it(tmp_path):
    """Faster R-CNN's shape in five nodes: Reshape(t, [n, -1]) with n a NonZero count fails
    at n = 0. That is a requirement on the data (at least one non-zero entry), not a size
    condition, except where the count cannot reach 1: at P = 0 the input is empty, every
    run fails, and the answer says invalid (it once said valid)."""
    path = model_from_text(17, NEEDS_ONE_ENTRY, str(tmp_path / "m.onnx"))
    a = graphshape.analyze(path, dims={"x:1": "P>=0"})
    assert a.domain.exact and str(a.domain) == "any P >= 1"
    assert [str(c) for c in a.domain.requirements] and not a.domain.dd_conditions
    assert a.check({"P": 0}) == "invalid"
    (v,) = a.explain({"P": 0}).violations
    assert v.node == "Reshape_5" and "at most P" in v.reason
    assert a.explain({"P": 3}).requires == (
        "at least 1 non-zero entries at NonZero 'NonZero_0'; else Reshape 'Reshape_5' fails",)
    # onnxruntime: P = 0 fails with any data; P >= 1 runs unless every entry is 0, which
    # the requirement names (an agreement)
    rep = verify(a, [{"P": p} for p in (0, 1, 2, 5)], timeout=60,
                 providers=["CPUExecutionProvider"], fills=("normal", "zeros"))
    assert not rep.disagreements, [(v.sizes, v.detail) for v in rep.disagreements]
    assert [v.observed for v in rep.verdicts] == ["invalid"] * 4  # zeros: no entry at all
    rep = verify(a, [{"P": p} for p in (0, 1, 5)], timeout=60,
                 providers=["CPUExecutionProvider"], fills=("normal",))
    assert [v.observed for v in rep.verdicts] == ["invalid", "valid", "valid"]
    assert not rep.disagreements


def test_verify_fill_on_the_command_line(tmp_path):
    """`verify --fill`: the data each run gets. With zeros the requirement (one non-zero
    entry) fails, and onnxruntime's failure at the node it names is an agreement."""
    import json

    from click.testing import CliRunner

    from graphshape.cli import main

    path = model_from_text(17, NEEDS_ONE_ENTRY, str(tmp_path / "m.onnx"))
    args = ["verify", path, "--dim", "x:1=P>=0", "--size", "P=3", "--cpu", "--json"]
    for fills, observed in (((), "valid"), (("--fill", "zeros"), "invalid"),
                            (("--fill", "normal", "--fill", "zeros"), "invalid")):
        r = CliRunner().invoke(main, args + list(fills))
        assert r.exit_code == 0, r.output
        (v,) = json.loads(r.output)["verdicts"]
        assert (v["predicted"], v["observed"], v["agree"]) == ("valid", observed, True), v
    r = CliRunner().invoke(main, args + ["--fill", "sideways"])
    assert r.exit_code == 2 and "sideways" in r.output


# ---- the detectors (built on demand, large) -----------------------------------------------
@pytest.fixture(scope="module")
def detector(model_cache):
    done = {}

    def get(name):
        if name not in done:
            done[name] = graphshape.analyze(registry.build(name, model_cache))
        return done[name]

    return get


def _runs(a, points, fills=FILLS, timeout=300):
    rep = verify(a, points, timeout=timeout, memory_budget=4 << 30,
                 providers=["CPUExecutionProvider"], fills=fills)
    bad = [(v.sizes, v.predicted, v.observed, v.detail[:200]) for v in rep.disagreements]
    assert not bad, bad
    return rep


@pytest.mark.large
def test_fasterrcnn_sizes_proved_and_the_zero_proposal_failure_named(detector):
    a = detector("fasterrcnn_ts")
    d = a.domain
    assert not d.unproven, [u.describe() for u in d.unproven]
    assert str(d).startswith("W <= 1333*H and 1333*W >= H")
    # what is left is a requirement on the data alone (at least one region proposal, else
    # Reshape fails), the same at every size: the sizes are decided under it, exactly
    assert d.exact and not d.dd_conditions
    assert {c.origin.node for c in d.requirements} == {"/roi_heads/Reshape",
                                                       "/roi_heads/Reshape_1"}
    assert d.check({"H": 7, "W": 9331}) == "invalid"
    assert d.check({"H": 320, "W": 480}) == "valid"
    ex = a.explain({"H": 320, "W": 480})
    assert ex.requires == ("at least 1 each: non-zero entries at NonZero '/rpn/NonZero_1', "
                           "boxes NonMaxSuppression selects at NonMaxSuppression "
                           "'NonMaxSuppression_2129'; else Reshape '/roi_heads/Reshape' and "
                           "'/roi_heads/Reshape_1' fail",)
    assert ex.to_json()["requires"] == list(ex.requires)
    from graphshape.answers.size_story import story
    s = story(a)
    assert s.startswith("resized inside the model to 800 on the short side (at most 1333 on "
                        "the long side), then padded to a multiple of 32: every size with "
                        "W <= 1333*H and 1333*W >= H")
    assert "the model sees a resized image" in s
    rep = _runs(a, [{"H": 7, "W": 9331}, {"H": 9331, "W": 7}, {"H": 1, "W": 1333},
                    {"H": 1, "W": 1334}, {"H": 320, "W": 480}], fills=("normal",))
    assert [v.observed for v in rep.verdicts] == ["invalid", "invalid", "valid", "invalid",
                                                  "valid"]
    # the requirement is real: an image of 1e30s leaves no proposal, and the Reshape
    # graphshape names fails (the requirement says so: an agreement)
    rep = _runs(a, [{"H": 320, "W": 480}], fills=("huge",))
    (v,) = rep.verdicts
    assert v.observed == "invalid" and v.blamed_node == "/roi_heads/Reshape" and v.agree


@pytest.mark.large
@pytest.mark.parametrize("name", ["ssdlite_ts", "ssd300_ts"])
def test_ssd_family_runs_at_every_size(detector, name):
    a = detector(name)
    assert a.domain.exact and str(a.domain) == "any H; any W"
    from graphshape.answers.size_story import story
    side = 320 if name == "ssdlite_ts" else 300
    assert story(a) == (f"resized inside the model to {side} x {side} (Resize "
                        "'/transform/Resize'): every size runs; the model sees a resized image")
    _runs(a, [{"H": 1, "W": 1}, {"H": 1, "W": 3000}, {"H": 477, "W": 33}])


@pytest.mark.large
@pytest.mark.parametrize("name", ["retinanet_ts", "fcos_ts"])
def test_retinanet_and_fcos_proved(detector, name):
    a = detector(name)
    assert a.domain.exact, [u.describe() for u in a.domain.unproven]
    assert str(a.domain).startswith("W <= 1333*H and 1333*W >= H")
    _runs(a, [{"H": 7, "W": 9331}, {"H": 1, "W": 1333}, {"H": 64, "W": 80}],
          fills=("normal", "zeros"))


@pytest.mark.large
def test_yolo_head_domain(detector):
    a = detector("yolo_head_ts")
    assert a.domain.exact
    assert str(a.domain) == ("H mod 32 in {0, 25, 26, 27, 28, 29, 30, 31}, H >= 25; "
                             "W mod 32 in {0, 25, 26, 27, 28, 29, 30, 31}, W >= 25")
    pts = [p for p in plan_points(a.domain, 2, 0) if max(p.values()) <= 700]
    assert_agrees(a, pts[:40])


@pytest.mark.large
@pytest.mark.parametrize("name, loop, outputs", [
    ("maskrcnn_ts", "Loop_3186", {"masks": [1, 320, 480]}),
    ("keypointrcnn_ts", "Loop_3077", {"keypoints": [17, 3], "keypoints_scores": [17]})])
def test_mask_and_keypoint_rcnn_proved_with_their_loops(detector, name, loop, outputs):
    """Mask R-CNN's paste Loop (each mask resized to its box, cut back to the image,
    concatenated) and Keypoint R-CNN's decoding Loop (each heatmap resized to its box, whose
    sides the graph clamps to at least 1, the argmax turned into a row and a column by mod
    and division by the width) are proved for any boxes: exact, with the data's requirement
    that the values read stay small."""
    a = detector(name)
    d = a.domain
    assert d.exact and not d.unproven and not d.dd_conditions, \
        [u.describe() for u in d.unproven] + [str(c) for c in d.dd_conditions]
    assert str(d).startswith("W <= 1333*H and 1333*W >= H")
    assert d.check({"H": 7, "W": 9331}) == "invalid"
    assert d.check({"H": 320, "W": 480}) == "valid"
    shapes = a.output_shapes_at({"H": 320, "W": 480})
    assert {k: shapes[k][1:] for k in outputs} == outputs
    from graphshape.answers.size_story import requirement_words
    assert any("integers read from data at run time" in w and f"Loop '{loop}'" in w
               for w in requirement_words(a))
    rep = _runs(a, [{"H": 7, "W": 9331}, {"H": 9331, "W": 7}, {"H": 1, "W": 1333},
                    {"H": 320, "W": 480}], fills=("normal",))
    assert [v.observed for v in rep.verdicts] == ["invalid", "invalid", "valid", "valid"]


def test_heatmap_keypoints_proved_for_any_boxes(model_cache):
    """torchvision's heatmaps_to_keypoints alone: [N, 17, 3] and [N, 17] for any boxes
    (inverted, degenerate, outside the image), checked on onnxruntime; a 1e30 box breaks
    the data's requirement (its side cast to int64 overflows)."""
    import onnxruntime as ort

    path = registry.build("heatmap_keypoints_ts", model_cache)
    a = graphshape.analyze(path)
    d = a.domain
    assert d.exact and str(d) == "any N"
    (req,) = d.requirements
    assert req.origin.op == "Loop"
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(20261208)
    for t in range(150):
        n = int(rng.integers(1, 4))
        s = float(rng.choice([1, 20, 300]))
        boxes = rng.uniform(-s, s, size=(n, 4)).astype(np.float32)
        if t % 3 == 0:
            boxes = np.sort(boxes.reshape(n, 2, 2), axis=1).reshape(n, 4)
        k, sc = sess.run(None, {"heatmaps": rng.standard_normal((n, 17, 56, 56),
                                                                dtype=np.float32),
                                "boxes": boxes})
        want = a.output_shapes_at({"N": n})
        assert [list(k.shape), list(sc.shape)] == [want["keypoints"], want["scores"]]
    rep = _runs(a, [{"N": 1}, {"N": 3}], fills=("normal", "zeros", "uniform"))
    assert all(v.observed == "valid" for v in rep.verdicts)


def test_paste_masks_proved_for_any_boxes_and_sizes(model_cache):
    """torchvision's paste_masks_in_image alone: [N, 1, H, W] at every N, H, W whatever the
    boxes (inside, across, outside the image, inverted, degenerate), checked on
    onnxruntime with boxes drawn to break it; the proof needs the boxes finite and small
    (a 1e30 coordinate cast to int64 overflows: the data's requirement, and verify says
    so)."""
    import onnxruntime as ort

    path = registry.build("paste_masks_ts", model_cache)
    a = graphshape.analyze(path)
    d = a.domain
    assert d.exact and str(d) == "any N; any H; any W"
    assert a.output_shapes_at({"N": 3, "H": 5, "W": 7})["masks_in_image"] == [3, 1, 5, 7]
    (req,) = d.requirements
    assert req.origin.node == "Loop_113"
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(20261207)
    ran = 0
    for t in range(300):
        h, w, n = (int(x) for x in rng.integers(1, 48, size=3) % [48, 48, 4] + [0, 0, 1])
        s = float(rng.choice([1, 3, 50]))
        boxes = rng.uniform(-s * max(h, w), s * max(h, w), size=(n, 4)).astype(np.float32)
        if t % 3 == 0:  # well-ordered boxes (x0 <= x1, y0 <= y1)
            boxes = np.sort(boxes.reshape(n, 2, 2), axis=1).reshape(n, 4)
        if t % 5 == 0:
            boxes = np.round(boxes)
        sizes = {"N": n, "H": h, "W": w}
        assert d.check(sizes) == "valid"
        (out,) = sess.run(None, {"masks": rng.random((n, 1, 28, 28), dtype=np.float32),
                                 "boxes": boxes, "image": np.zeros((3, h, w), np.float32)})
        assert list(out.shape) == a.output_shapes_at(sizes)["masks_in_image"], (sizes, boxes)
        ran += 1
    assert ran == 300
    rep = _runs(a, [{"N": 1, "H": 1, "W": 1}, {"N": 3, "H": 40, "W": 13}],
                fills=("normal", "zeros", "uniform"))
    assert all(v.observed == "valid" for v in rep.verdicts)
    rep = _runs(a, [{"N": 2, "H": 9, "W": 4}], fills=("huge",))
    (v,) = rep.verdicts
    assert v.observed == "invalid" and v.agree and v.blamed_node == "Loop_113"
