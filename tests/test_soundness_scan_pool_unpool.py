"""Soundness: Scan bodies, auto_pad with pads, SAME pools, MaxUnpool, missing kernels. Each
case is a real model run on onnxruntime (CPU) at sizes around the boundary, and graphshape must agree (or say unproven, never a wrong claim).

1. Scan (opset 9+) bodies: onnxruntime allocates the outputs from the body's declared
   output shapes (scan_utils.cc AllocateOutput) and refuses an empty sequence.
2. Conv / ConvTranspose with auto_pad != NOTSET and pads: refused at load
   (conv_attributes.h), so every size is invalid.
3. MaxPool/AveragePool with auto_pad SAME_* and stride > kernel: MLAS refuses a negative
   pad_needed (float/float16; AveragePool up to opset 18; MaxPool without Indices,
   dilation or column-major storage); LpPool, AveragePool-19 and double run.
4. MaxUnpool (Unpool.cc): output_shape is checked by element count (batch and channels
   equal), inferred axes must be positive, indices must be below the output's size.
5. Sum/Mean/Max/Min with an element type the CPU provider has no kernel for: refused at
   load; graphshape says unproven (no element-type verdict exists), naming the type.
Extra: an empty ints attribute (pads = []) on Conv/ConvTranspose/pools is refused at load.
"""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import graphshape
from graphshape.domain.sets import INVALID, UNPROVEN, VALID
from graphshape.runtime.verify import verify

from .conftest import assert_agrees, text_model


def _save(graph, path, opset=16) -> str:
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 10
    # no onnx.checker: it wants shapes on value infos, and shapeless ones are the point
    onnx.save(m, str(path))
    return str(path)


def _ort_observed(a, points) -> list:
    """onnxruntime's verdicts at ``points``; none may contradict graphshape's prediction."""
    rep = verify(a, points, timeout=60, providers=["CPUExecutionProvider"])
    assert not rep.disagreements, [(v.sizes, v.predicted, v.observed, v.detail)
                                   for v in rep.disagreements]
    return rep.verdicts


# ---- 1. Scan ------------------------------------------------------------------------------

def _scan_model(path, out_shapes, in_shape=("N",), xs=None):
    """init [N], xs [S, N] (or ``xs`` given as (nodes, inputs, name)); the body adds the
    state and the element, its outputs declared with ``out_shapes`` (None: no shape; a
    single entry: no scan output)."""
    outs = [h.make_tensor_value_info(n, T.FLOAT, s) for n, s in zip(("so", "yo"), out_shapes)]
    body = h.make_graph(
        [h.make_node("Add", ["st", "xi"], ["so"])]
        + [h.make_node("Identity", ["so"], ["yo"])] * (len(outs) - 1),
        "body",
        [h.make_tensor_value_info("st", T.FLOAT, in_shape),
         h.make_tensor_value_info("xi", T.FLOAT, in_shape)], outs)
    pre, inputs, seq_name = xs or ([], [h.make_tensor_value_info("xs", T.FLOAT, ["S", "N"])],
                                   "xs")
    names = ["last", "ys"][:len(outs)]
    scan = h.make_node("Scan", ["init", seq_name], names, name="scan", body=body,
                       num_scan_inputs=1)
    g = h.make_graph(pre + [scan], "g",
                     [h.make_tensor_value_info("init", T.FLOAT, ["N"])] + inputs,
                     [h.make_tensor_value_info(n, T.FLOAT, None) for n in names])
    return _save(g, path)


SN = [{"S": s, "N": n} for s in (1, 3) for n in (1, 2, 3, 4)]


def test_scan_body_declares_fixed_dims_of_a_symbolic_size(tmp_path):
    """The body computes [N] but declares [2]: onnxruntime preallocates [2], so only N = 2
    runs (graphshape claimed every N)."""
    a = graphshape.analyze(_scan_model(tmp_path / "m.onnx", ([2], [2])))
    assert not a.propagation.unproven
    assert [a.check(p) for p in SN] == [VALID if p["N"] == 2 else INVALID for p in SN]
    assert_agrees(a, SN)


def test_scan_one_output_fixed_the_other_symbolic(tmp_path):
    a = graphshape.analyze(_scan_model(tmp_path / "m.onnx", (["M"], [2])))
    assert_agrees(a, SN)
    assert a.check({"S": 3, "N": 4}) == INVALID


def test_scan_body_declares_symbolic_dims(tmp_path):
    """Declared dim_params (even under another name) are filled in from the first
    iteration: every size runs."""
    a = graphshape.analyze(_scan_model(tmp_path / "m.onnx", (["M"], ["K"]), in_shape=["K"]))
    assert a.domain.exact
    assert_agrees(a, SN)
    assert all(a.check(p) == VALID for p in SN)


def test_scan_body_outputs_without_shape_are_unproven(tmp_path):
    """No declared output shape: onnxruntime's own inference decides (here it fills one in
    and every size runs); graphshape cannot know it in general, so unproven."""
    a = graphshape.analyze(_scan_model(tmp_path / "m.onnx", (None, None)))
    text = "; ".join(u.describe() for u in a.propagation.unproven)
    assert "scan" in text and "does not declare a shape" in text, text
    got = _ort_observed(a, SN)
    assert {v.predicted for v in got} == {UNPROVEN}
    assert {v.observed for v in got} == {VALID}


def test_scan_body_outputs_declared_scalar_text_syntax(tmp_path):
    """ONNX text 'float so' declares a scalar: the computed vector contradicts it and
    onnxruntime refuses every size ('Subgraph must have the shape set for all outputs');
    graphshape had claimed them valid, now unproven."""
    path = text_model("""
        <ir_version: 10, opset_import: ["" : 16]>
        agraph (float[N] init, float[S, N] xs) => (float last, float ys) {
            last, ys = Scan <num_scan_inputs = 1, body = b (float[N] st, float[N] xi)
                => (float so, float yo) { so = Add (st, xi) yo = Identity (so) }> (init, xs)
        }""", str(tmp_path / "m.onnx"))
    a = graphshape.analyze(path)
    assert a.propagation.unproven
    got = _ort_observed(a, SN)
    assert {v.predicted for v in got} == {UNPROVEN}
    assert {v.observed for v in got} == {INVALID}


def test_scan_body_input_declares_a_fixed_dim(tmp_path):
    """A body input declared [2] fixes the inferred output sizes inside onnxruntime (even
    with outputs declared [M]): N = 4 fails. graphshape says unproven."""
    a = graphshape.analyze(_scan_model(tmp_path / "m.onnx", (["M"], ["M"]), in_shape=[2]))
    text = "; ".join(u.describe() for u in a.propagation.unproven)
    assert "declares axis 0 as 2" in text, text
    got = _ort_observed(a, SN)
    assert {v.observed for v in got if v.sizes["N"] == 4} == {INVALID}
    assert {v.observed for v in got if v.sizes["N"] == 2} == {VALID}


def test_scan_empty_sequence_is_refused(tmp_path):
    """The sequence is xs[1:] of length H - 1 and the only output is the state [N]:
    onnxruntime's slicer refuses length 0, so H = 1 is invalid (graphshape claimed it)."""
    starts = h.make_tensor("one", T.INT64, [1], [1])
    ends = h.make_tensor("big", T.INT64, [1], [1 << 30])
    axes = h.make_tensor("zero", T.INT64, [1], [0])
    pre = [h.make_node("Slice", ["xs", "one", "big", "zero"], ["seq"], name="cut")]
    g_in = [h.make_tensor_value_info("xs", T.FLOAT, ["H", "N"])]
    path = _scan_model(tmp_path / "m.onnx", (["N"],), xs=(pre, g_in, "seq"))
    m = onnx.load(path)
    m.graph.initializer.extend([starts, ends, axes])
    onnx.save(m, path)
    a = graphshape.analyze(path)
    pts = [{"H": hh, "N": n} for hh in (1, 2, 3) for n in (1, 3)]
    assert [a.check(p) for p in pts] == [INVALID if p["H"] == 1 else VALID for p in pts]
    assert_agrees(a, pts)


# ---- 2. Conv / ConvTranspose: auto_pad and pads together ----------------------------------

def _conv_model(path, op, **attrs):
    w = h.make_tensor("w", T.FLOAT, [1, 1, 3, 3], [1.0] * 9)
    node = h.make_node(op, ["x", "w"], ["y"], name="c", **attrs)
    g = h.make_graph([node], "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 1, "H", "W"])],
                     [h.make_tensor_value_info("y", T.FLOAT, None)], [w])
    return _save(g, path, opset=17)


HW = [{"H": hh, "W": w} for hh in (1, 2, 3, 4, 7) for w in (3, 5)]


@pytest.mark.parametrize("op", ["Conv", "ConvTranspose"])
@pytest.mark.parametrize("auto_pad,pads", [("SAME_UPPER", [0, 0, 0, 0]),
                                           ("SAME_LOWER", [1, 1, 1, 1]),
                                           ("VALID", [0, 0, 0, 0])])
def test_conv_auto_pad_with_pads_is_refused_at_load(tmp_path, op, auto_pad, pads):
    """conv_attributes.h: ORT_ENFORCE(auto_pad == NOTSET) when pads are given; the session
    never loads, so no size is valid (graphshape claimed them all)."""
    a = graphshape.analyze(_conv_model(tmp_path / "m.onnx", op, auto_pad=auto_pad,
                                       pads=pads))
    assert a.domain.impossible and "auto_pad" in str(a.domain.impossible[0])
    rep = assert_agrees(a, HW)
    assert {v.observed for v in rep.verdicts} == {INVALID}


@pytest.mark.parametrize("op", ["Conv", "ConvTranspose"])
def test_conv_pads_with_auto_pad_notset_still_runs(tmp_path, op):
    a = graphshape.analyze(_conv_model(tmp_path / "m.onnx", op, auto_pad="NOTSET",
                                       pads=[1, 1, 1, 1]))
    assert not a.domain.impossible
    rep = assert_agrees(a, HW)
    assert VALID in {v.observed for v in rep.verdicts}


# ---- 3. Pools with auto_pad SAME_* and stride > kernel ------------------------------------

def _pool_model(path, op, opset, dtype=T.FLOAT, channels=1, nsp=1, **attrs):
    node = h.make_node(op, ["x"], ["y"], name="p", kernel_shape=[2] * nsp, strides=[3] * nsp,
                       **attrs)
    g = h.make_graph([node], "g", [h.make_tensor_value_info(
        "x", dtype, [1, channels, "H"] + [6] * (nsp - 1))],
        [h.make_tensor_value_info("y", dtype, None)])
    return _save(g, path, opset=opset)


H20 = [{"H": hh} for hh in range(1, 21)]


@pytest.mark.parametrize("op,opset,dtype,refused", [
    ("AveragePool", 11, T.FLOAT, True),     # Pool<float, AveragePool>: MLAS
    ("AveragePool", 7, T.FLOAT, True),
    ("AveragePool", 18, T.FLOAT16, True),
    ("AveragePool", 19, T.FLOAT, False),    # AveragePoolV19: a plain loop
    ("MaxPool", 12, T.FLOAT, True),
    ("MaxPool", 12, T.FLOAT16, True),
    ("MaxPool", 12, T.DOUBLE, False),       # no MLAS kernel for double
    ("LpPool", 11, T.FLOAT, False),
])
@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_pool_same_stride_above_kernel(tmp_path, op, opset, dtype, refused, auto_pad):
    """k 2, s 3: pad_needed = (ceil(H/3) - 1)*3 + 2 - H is -1 exactly when H = 0 mod 3, and
    MLAS refuses it ('padding values must be non-negative'); graphshape claimed AveragePool
    valid there."""
    a = graphshape.analyze(_pool_model(tmp_path / "m.onnx", op, opset, dtype,
                                       auto_pad=auto_pad))
    want = [INVALID if refused and p["H"] % 3 == 0 else VALID for p in H20]
    assert [a.check(p) for p in H20] == want
    assert_agrees(a, H20)


def test_pool_same_nchwc_channels_are_unproven(tmp_path):
    """2-D float with 16 channels: NCHWc (block 8 or 16 by CPU) accepts the negative padding
    on some machines: unproven, never a claim."""
    a = graphshape.analyze(_pool_model(tmp_path / "m.onnx", "AveragePool", 11, channels=16,
                                       nsp=2, auto_pad="SAME_UPPER"))
    text = "; ".join(u.describe() for u in a.propagation.unproven)
    assert "NCHWc" in text, text
    _ort_observed(a, H20[:7])


def test_pool_same_2d_three_channels(tmp_path):
    """2-D, 3 channels (no NCHWc): the fixed W = 6 has pad_needed -1 too, so every H fails
    for AveragePool-11, and nothing fails for AveragePool-19."""
    for opset, valid in ((11, False), (19, True)):
        a = graphshape.analyze(_pool_model(tmp_path / f"m{opset}.onnx", "AveragePool", opset,
                                           channels=3, nsp=2, auto_pad="SAME_UPPER"))
        assert {a.check(p) for p in H20[:8]} == {VALID if valid else INVALID}
        assert_agrees(a, H20[:8])


# ---- 4. MaxUnpool with output_shape: element counts, not per axis -------------------------

def _unpool_model(path, out_shape, pre=None, **attrs):
    inits, ins = [], ["x", "i"]
    if out_shape is not None:
        inits.append(h.make_tensor("os", T.INT64, [len(out_shape)], out_shape))
        ins.append("os")
    attrs = {"kernel_shape": [2, 2], "strides": [2, 2], **attrs}
    node = h.make_node("MaxUnpool", ins, ["y"], name="unpool", **attrs)
    xs = [1, 1, "H", "W"]
    g = h.make_graph([node], "g", [h.make_tensor_value_info("x", T.FLOAT, xs),
                                   h.make_tensor_value_info("i", T.INT64, xs)],
                     [h.make_tensor_value_info("y", T.FLOAT, None)], inits)
    return _save(g, path, opset=11)


HW5 = [{"H": hh, "W": w} for hh in range(1, 5) for w in range(1, 5)]


@pytest.mark.parametrize("out_shape,ok", [
    ([1, 1, 2, 8], lambda hh, w: hh * w <= 4),   # 16 >= 4HW though 2 < 2H at H = 2
    ([1, 1, 16, 1], lambda hh, w: hh * w <= 4),
    ([1, 1, 3, 3], lambda hh, w: hh * w <= 2),
    ([1, 1, 5, 5], lambda hh, w: hh * w <= 6),
    ([2, 1, 4, 4], lambda hh, w: False),          # batch must match
    ([1, 1, 0, 4], lambda hh, w: False),
])
def test_maxunpool_output_shape_counts_elements(tmp_path, out_shape, ok):
    """onnxruntime (Unpool.cc): given_shape.Size() >= inferred.Size(), batch and channels
    equal; graphshape compared axis by axis and called [1, 1, 2, 8] invalid at H = W = 2."""
    a = graphshape.analyze(_unpool_model(tmp_path / "m.onnx", out_shape))
    assert [a.check(p) for p in HW5] == [VALID if ok(p["H"], p["W"]) else INVALID
                                         for p in HW5]
    assert_agrees(a, HW5)


def test_maxunpool_inferred_axis_must_be_positive(tmp_path):
    """kernel 2, stride 1, pads 1/1: the inferred axis is (H - 1) + 2 - 2 = H - 1, which
    onnxruntime refuses at 0 ('Computed output dimension is not positive')."""
    a = graphshape.analyze(_unpool_model(tmp_path / "m.onnx", None, kernel_shape=[2, 2],
                                         strides=[1, 1], pads=[1, 1, 1, 1]))
    assert [a.check(p) for p in HW5] == [INVALID if 1 in (p["H"], p["W"]) else VALID
                                         for p in HW5]
    assert_agrees(a, HW5)


def test_maxpool_indices_into_maxunpool(tmp_path):
    """SegNet's pattern: MaxPool's Indices (flat positions in X) feed MaxUnpool with X's
    shape: proved in range (Indices are bounded by numel(X) - 1)."""
    nodes = [h.make_node("MaxPool", ["x"], ["y", "idx"], kernel_shape=[2, 2], strides=[2, 2]),
             h.make_node("Shape", ["x"], ["shp"]),
             h.make_node("MaxUnpool", ["y", "idx", "shp"], ["z"], kernel_shape=[2, 2],
                         strides=[2, 2])]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 2, "H", "W"])],
                     [h.make_tensor_value_info("z", T.FLOAT, None)])
    a = graphshape.analyze(_save(g, tmp_path / "m.onnx", opset=11))
    assert not a.propagation.unproven
    assert_agrees(a, [{"H": hh, "W": w} for hh in (1, 2, 3, 5) for w in (1, 2, 4)])


def test_maxpool_indices_beyond_the_unpooled_output_are_unproven(tmp_path):
    """MaxPool on 5x5 gives 2x2 with indices up to 24; MaxUnpool infers 4x4 = 16 elements:
    whether an index is >= 16 depends on the data, so unproven (graphshape claimed valid)."""
    nodes = [h.make_node("MaxPool", ["x"], ["y", "idx"], kernel_shape=[2, 2], strides=[2, 2]),
             h.make_node("MaxUnpool", ["y", "idx"], ["z"], kernel_shape=[2, 2], strides=[2, 2])]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 1, 5, "W"])],
                     [h.make_tensor_value_info("z", T.FLOAT, None)])
    a = graphshape.analyze(_save(g, tmp_path / "m.onnx", opset=11))
    text = "; ".join(u.describe() for u in a.propagation.unproven)
    assert "MaxUnpool" in text, text


# ---- 5. Sum / Mean / Max / Min: element types without a CPU kernel ------------------------

def _variadic_model(path, op, dtype, opset):
    node = h.make_node(op, ["a", "b"], ["y"], name="v")
    g = h.make_graph([node], "g", [h.make_tensor_value_info("a", dtype, ["N"]),
                                   h.make_tensor_value_info("b", dtype, [1])],
                     [h.make_tensor_value_info("y", dtype, None)])
    return _save(g, path, opset=opset)


NS = [{"N": n} for n in (1, 2, 5)]


@pytest.mark.parametrize("op,dtype,opset", [
    ("Sum", T.INT64, 13), ("Sum", T.INT32, 13), ("Mean", T.INT64, 13),
    ("Mean", T.DOUBLE, 13), ("Max", T.INT16, 13), ("Min", T.UINT16, 13),
    ("Max", T.INT64, 11), ("Min", T.DOUBLE, 7), ("Sum", T.BFLOAT16, 13),
])
def test_variadic_without_a_kernel_is_unproven(tmp_path, op, dtype, opset):
    """onnxruntime refuses the model at load (no kernel / not in the schema): graphshape
    claimed every N valid; now the node is unproven, naming the type."""
    a = graphshape.analyze(_variadic_model(tmp_path / "m.onnx", op, dtype, opset))
    text = "; ".join(u.describe() for u in a.propagation.unproven)
    assert f"no {op}-{opset} kernel" in text, text
    got = _ort_observed(a, NS)
    assert {v.observed for v in got} == {INVALID}
    # opset 7 (Min_6) also needs equal shapes: N != 1 is proved invalid, N = 1 unproven
    assert {v.predicted for v in got} == ({UNPROVEN, INVALID} if opset < 8 else {UNPROVEN})


@pytest.mark.parametrize("op,dtype,opset", [
    ("Sum", T.DOUBLE, 13), ("Sum", T.FLOAT16, 8), ("Mean", T.FLOAT, 13),
    ("Max", T.INT64, 13), ("Min", T.UINT8, 12), ("Max", T.DOUBLE, 8), ("Min", T.FLOAT, 8),
])
def test_variadic_with_a_kernel_still_proved(tmp_path, op, dtype, opset):
    a = graphshape.analyze(_variadic_model(tmp_path / "m.onnx", op, dtype, opset))
    assert not a.propagation.unproven
    assert_agrees(a, NS)


def test_variadic_opset_6_does_not_broadcast(tmp_path):
    """Opsets 6-7 run Sum_6/Max_6/Min_6/Mean_6, which refuse broadcasting ('All inputs must
    have the same shape', element_wise_ops.cc): [N] with [1] runs only at N = 1."""
    a = graphshape.analyze(_variadic_model(tmp_path / "m.onnx", "Min", T.FLOAT, 6))
    assert_agrees(a, NS)


# ---- extra (found with 2.): empty list attributes -----------------------------------------

def _empty_attr(node, name):
    node.attribute.append(h.make_attribute(name, [], attr_type=onnx.AttributeProto.INTS))
    return node


@pytest.mark.parametrize("op,name", [("Conv", "pads"), ("Conv", "strides"),
                                     ("Conv", "kernel_shape"), ("ConvTranspose", "dilations"),
                                     ("ConvTranspose", "output_padding"),
                                     ("MaxPool", "pads"), ("AveragePool", "strides"),
                                     ("LpPool", "pads")])
def test_empty_list_attribute_is_refused_at_load(tmp_path, op, name):
    """pads = [] is not 'no pads': onnx's inference in onnxruntime refuses it ('Attribute
    pads has incorrect size'); graphshape read it as the default and claimed every size."""
    if op.startswith("Conv"):
        w = h.make_tensor("w", T.FLOAT, [1, 1, 3, 3], [1.0] * 9)
        node, inits = h.make_node(op, ["x", "w"], ["y"], name="n"), [w]
    else:
        node, inits = h.make_node(op, ["x"], ["y"], name="n", kernel_shape=[2, 2]), []
    g = h.make_graph([_empty_attr(node, name)], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, [1, 1, "H", "W"])],
                     [h.make_tensor_value_info("y", T.FLOAT, None)], inits)
    a = graphshape.analyze(_save(g, tmp_path / "m.onnx", opset=17))
    assert a.domain.impossible and "empty list" in str(a.domain.impossible[0])
    assert_agrees(a, HW[:4])
