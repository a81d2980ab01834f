"""Bugs the differential fuzzer (tests.oracles.fuzz_convpool) found, each kept as a small explicit model
checked against onnxruntime. Every bug the fuzzer finds stays here once fixed."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphshape
from graphshape.errors import InvalidModelError
from graphshape.runtime.verify import verify

from .conftest import assert_agrees

INT64_MAX = 2 ** 63 - 1


def _model(tmp_path, nodes, inits=(), dims=(1, 2, "L"), name="m.onnx", opset=19):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, list(dims))
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, "g", [x], [y], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    path = str(tmp_path / name)
    onnx.save(m, path)
    return path


def _weight(name, shape):
    return numpy_helper.from_array(np.ones(shape, np.float32) * 0.1, name)


def _ints(name, vals):
    return numpy_helper.from_array(np.array(vals, np.int64), name)


def _pts(lo=1, hi=16, name="L"):
    return [{name: v} for v in range(lo, hi + 1)]


def test_conv_same_padding_with_dilation_never_runs(tmp_path):
    # onnxruntime: "Dilation not supported for AutoPadType::SAME_UPPER or SAME_LOWER"
    p = _model(tmp_path, [helper.make_node("Conv", ["X", "w"], ["Y"], name="c",
                                           auto_pad="SAME_UPPER", dilations=[2])],
               [_weight("w", [2, 2, 3])])
    a = graphshape.analyze(p)
    assert a.domain.is_empty() and "dilation" in str(a.domain)
    assert_agrees(a, _pts(1, 8))


def test_maxpool_same_padding_negative_pad_is_refused(tmp_path):
    # k2 s3 SAME: pad_needed = (ceil(L/3)-1)*3 + 2 - L < 0 at L = 0 mod 3; MLAS refuses it
    p = _model(tmp_path, [helper.make_node("MaxPool", ["X"], ["Y"], name="p",
                                           auto_pad="SAME_UPPER", kernel_shape=[2],
                                           strides=[3])])
    a = graphshape.analyze(p)
    assert not a.domain.contains({"L": 3}) and a.domain.contains({"L": 4})
    assert_agrees(a, _pts(1, 13))


@pytest.mark.parametrize("op,attrs", [
    ("MaxPool", {"dilations": [2]}),  # the dilated path accepts negative pads
    ("AveragePool", {}),  # so does AveragePool
])
def test_other_pools_accept_negative_same_padding(tmp_path, op, attrs):
    p = _model(tmp_path, [helper.make_node(op, ["X"], ["Y"], name="p", auto_pad="SAME_LOWER",
                                           kernel_shape=[2], strides=[3], **attrs)])
    a = graphshape.analyze(p)
    assert a.domain.contains({"L": 3})
    assert_agrees(a, _pts(1, 13))


def test_maxpool_with_indices_output_accepts_negative_same_padding(tmp_path):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 2, "L"])
    outs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("I", TensorProto.INT64, None)]
    g = helper.make_graph([helper.make_node("MaxPool", ["X"], ["Y", "I"], name="p",
                                            auto_pad="SAME_UPPER", kernel_shape=[2],
                                            strides=[3])], "g", [x], outs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    m.ir_version = 10
    path = str(tmp_path / "idx.onnx")
    onnx.save(m, path)
    a = graphshape.analyze(path)
    assert a.domain.contains({"L": 3})
    assert_agrees(a, _pts(1, 10))


@pytest.mark.parametrize("k,s,op_pad", [(1, 2, 0), (1, 3, 1), (2, 3, 0), (3, 2, 0), (3, 2, 1)])
def test_conv_transpose_same_padding_output_size(tmp_path, k, s, op_pad):
    # onnxruntime: min(L*s, (L-1)*s + k + output_padding), not L*s
    p = _model(tmp_path, [helper.make_node("ConvTranspose", ["X", "w"], ["Y"], name="t",
                                           auto_pad="SAME_UPPER", kernel_shape=[k],
                                           strides=[s], output_padding=[op_pad])],
               [_weight("w", [2, 2, k])])
    a = graphshape.analyze(p)
    full = (5 - 1) * s + k + op_pad
    assert a.output_shapes_at({"L": 5})["Y"] == [1, 2, min(5 * s, full)]
    assert_agrees(a, _pts(1, 8))


def test_conv_transpose_output_padding_must_be_below_stride(tmp_path):
    # the spec allows output_padding < max(stride, dilation); onnxruntime needs < stride
    p = _model(tmp_path, [helper.make_node("ConvTranspose", ["X", "w"], ["Y"], name="t",
                                           kernel_shape=[1], dilations=[2],
                                           output_padding=[1])],
               [_weight("w", [2, 2, 1])])
    a = graphshape.analyze(p)
    assert a.domain.is_empty()
    assert_agrees(a, _pts(1, 6))


@pytest.mark.parametrize("out,k,s", [(7, 3, 2), (12, 2, 3), (3, 1, 2)])
def test_conv_transpose_output_shape_bound(tmp_path, out, k, s):
    # valid exactly when out <= L*s + (k-1)*d: onnxruntime recomputes the input size
    p = _model(tmp_path, [helper.make_node("ConvTranspose", ["X", "w"], ["Y"], name="t",
                                           kernel_shape=[k], strides=[s],
                                           output_shape=[out])],
               [_weight("w", [2, 2, k])])
    a = graphshape.analyze(p)
    for n in range(1, 9):
        assert a.domain.contains({"L": n}) == (out <= n * s + k - 1)
    assert_agrees(a, _pts(1, 8))


def test_pool_refuses_an_empty_input(tmp_path):
    # Slice [2:] is empty for L <= 2; the padded MaxPool would make 1 window of nothing,
    # but onnxruntime's pooling says "Invalid input shape. Only N can be zero"
    p = _model(tmp_path, [
        helper.make_node("Slice", ["X", "st", "en", "ax"], ["S"], name="s"),
        helper.make_node("MaxPool", ["S"], ["Y"], name="p", kernel_shape=[3], pads=[2, 2]),
    ], [_ints("st", [2]), _ints("en", [INT64_MAX]), _ints("ax", [2])])
    a = graphshape.analyze(p)
    assert not a.domain.contains({"L": 2}) and a.domain.contains({"L": 3})
    assert_agrees(a, _pts(1, 8))


def test_global_pool_refuses_an_empty_input(tmp_path):
    p = _model(tmp_path, [
        helper.make_node("Slice", ["X", "st", "en", "ax"], ["S"], name="s"),
        helper.make_node("GlobalAveragePool", ["S"], ["Y"], name="g"),
    ], [_ints("st", [2]), _ints("en", [INT64_MAX]), _ints("ax", [2])])
    a = graphshape.analyze(p)
    assert not a.domain.contains({"L": 2}) and a.domain.contains({"L": 3})
    assert_agrees(a, _pts(1, 6))


def test_verify_empty_output_at_a_predicted_invalid_size_agrees(tmp_path):
    # verify.py compared output dims even where the size was predicted invalid, so an
    # empty output (which makes the size invalid) was reported as a disagreement
    p = _model(tmp_path, [helper.make_node("MaxPool", ["X"], ["Y"], name="p",
                                           kernel_shape=[3], dilations=[2],
                                           auto_pad="VALID")])
    a = graphshape.analyze(p)
    assert not a.domain.contains({"L": 4})
    assert_agrees(a, _pts(1, 8))


def test_verify_empty_output_of_an_impossible_model_is_invalid(tmp_path):
    # the output's shape is unknown because the model can never run (ceil-mode output 0 on
    # a fixed axis); verify.py took 'unknown' for 'data-dependent' and so took the empty
    # output onnxruntime returns for a valid run
    p = _model(tmp_path, [helper.make_node("AveragePool", ["X"], ["Y"], name="p",
                                           kernel_shape=[3, 3], strides=[3, 3],
                                           dilations=[1, 2], pads=[2, 1, 2, 0], ceil_mode=1)],
               dims=(1, 2, "H", 1))
    a = graphshape.analyze(p)
    assert a.domain.is_empty()
    assert_agrees(a, _pts(1, 6, "H"))


@pytest.mark.parametrize("attrs", [{"kernel_shape": [0]}, {"kernel_shape": [3], "strides": [0]},
                                   {"kernel_shape": [3], "pads": [-1, 0]},
                                   {"kernel_shape": [3], "dilations": [-1]}])
def test_malformed_window_attributes_are_a_model_error(tmp_path, attrs):
    p = _model(tmp_path, [helper.make_node("MaxPool", ["X"], ["Y"], name="p", **attrs)])
    with pytest.raises(InvalidModelError, match="MaxPool \\(node 'p'\\)"):
        graphshape.analyze(p)



def test_broadcast_of_an_empty_dim_with_one(tmp_path):
    # Slice [2:] has length max(0, L - 2): 0 at L = 1, where X has 1: Add gives 0, not 1
    p = _model(tmp_path, [
        helper.make_node("Slice", ["X", "st", "en", "ax"], ["S"], name="s"),
        helper.make_node("Add", ["S", "X"], ["Y"], name="a"),
    ], [_ints("st", [2]), _ints("en", [INT64_MAX]), _ints("ax", [2])])
    a = graphshape.analyze(p)
    assert not a.domain.contains({"L": 1})  # the output is empty there
    assert_agrees(a, _pts(1, 6))



def test_output_with_a_constant_zero_dim_is_invalid(tmp_path):
    # Slice [-1:-1] is empty at every size; onnxruntime returns an empty output
    p = _model(tmp_path, [
        helper.make_node("Slice", ["X", "st", "en", "ax"], ["Y"], name="s"),
    ], [_ints("st", [-1]), _ints("en", [-1]), _ints("ax", [1])])
    a = graphshape.analyze(p)
    assert a.domain.is_empty()
    assert_agrees(a, _pts(1, 4))



def test_nodes_after_an_impossible_node_do_not_make_the_answer_unproven(tmp_path):
    m = onnx.parser.parse_model("""<ir_version: 10, opset_import: ["" : 19]>
        g (float[1,1,L,4] X, float[1,1,L,2] Z) => (float[1,1,L,2] Y) <float[1,1,1,1] w = {1.0}>
        { A = Add(X, Z)
          Y = Conv(A, w) }""")
    a = graphshape.analyze(m)
    assert a.domain.is_empty()
    assert a.domain.exact, [u.describe() for u in a.domain.unproven]



def test_concat_ignores_an_empty_input(tmp_path):
    # Slice [2:] is empty for L <= 2; Concat with a fixed [1, 2, 7] needs L - 2 == 7, but
    # onnxruntime also runs L = 1, 2 (the empty input is skipped)
    x2 = numpy_helper.from_array(np.ones((1, 2, 7), np.float32), "K")
    p = _model(tmp_path, [
        helper.make_node("Slice", ["X", "st", "en", "ax"], ["S"], name="s"),
        helper.make_node("Concat", ["S", "K"], ["Y"], name="cat", axis=1),
    ], [_ints("st", [2]), _ints("en", [INT64_MAX]), _ints("ax", [2]), x2])
    a = graphshape.analyze(p)
    assert a.domain.contains({"L": 1}) and a.domain.contains({"L": 9})
    assert_agrees(a, _pts(1, 10))


def test_resize_of_an_empty_axis_to_a_fixed_size(tmp_path):
    # Slice [2:] is empty for L <= 2; Resize to a fixed size 6 then fails in onnxruntime
    # ("Input dim is zero but required output dim is non-zero"); found by seed 500197
    p = _model(tmp_path, [
        helper.make_node("Slice", ["X", "st", "en", "ax"], ["S"], name="s"),
        helper.make_node("Resize", ["S", "", "", "sz"], ["Y"], name="r", mode="nearest",
                         axes=[2]),
    ], [_ints("st", [2]), _ints("en", [INT64_MAX]), _ints("ax", [2]), _ints("sz", [6])])
    a = graphshape.analyze(p)
    assert not a.domain.contains({"L": 2}) and a.domain.contains({"L": 3})
    assert_agrees(a, _pts(1, 8))


def _text_model(tmp_path, text, name="t.onnx"):
    m = onnx.parser.parse_model(text)
    m.ir_version = 10
    onnx.checker.check_model(m)
    path = str(tmp_path / name)
    onnx.save(m, path)
    return path


def _fuzz_mix(tmp_path, seed: int) -> str:
    """The mixed fuzzer's graph for ``seed``, saved: the model a regression is about."""
    from tests.oracles import fuzz_mixed

    model, _ = fuzz_mixed.generate(seed)
    path = str(tmp_path / f"fuzz-mix-{seed}.onnx")
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("attrs,first", [
    ("kernel_shape = [3], strides = [2], output_padding = [1]", 2),
    ("kernel_shape = [3], strides = [3], output_padding = [2]", 2),
    ("kernel_shape = [3], output_shape = [2]", 2),  # the input must not be empty either
    ("kernel_shape = [3], strides = [2]", 1),  # op = 0: an empty input gives 1 output
    ("kernel_shape = [3]", 1),
    ("kernel_shape = [3], pads = [1, 1]", 2),  # 0 + 3 - 1 - 2 = 0 outputs at L = 1
])
def test_conv_transpose_after_a_negative_pad(tmp_path, attrs, first):
    # issue 9 (a), an independent generator: Pad [-1] leaves the axis at 0 at L = 1; the
    # ConvTranspose after it re-derives its input size from its output size, which gives
    # 1, not 0, when 0 < output_padding < stride ("Computed output shape is inconsistent
    # with input spatial dimensions ... Expected input size 1 but got 0")
    p = _text_model(tmp_path, f"""<ir_version: 10, opset_import: ["" : 19]>
        g (float[1,2,L] X) => (float Y)
        <float[2,2,3] w = {{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}},
         int64[6] pads = {{0, 0, -1, 0, 0, 0}}>
        {{ P = Pad(X, pads)
           Y = ConvTranspose <{attrs}> (P, w) }}""")
    a = graphshape.analyze(p)
    assert a.domain.exact
    assert [n for n in range(1, 5) if a.domain.contains({"L": n})][0] == first
    assert_agrees(a, _pts(1, 12))


def test_conv_same_padding_of_an_empty_input(tmp_path):
    # SAME_UPPER gives ceil(0/s) = 0 outputs for an empty input: invalid (empty Conv output)
    p = _model(tmp_path, [
        helper.make_node("Slice", ["X", "st", "en", "ax"], ["S"], name="s"),
        helper.make_node("Conv", ["S", "w"], ["Y"], name="c", auto_pad="SAME_UPPER",
                         kernel_shape=[3], strides=[2]),
    ], [_ints("st", [2]), _ints("en", [INT64_MAX]), _ints("ax", [2]), _weight("w", [2, 2, 3])])
    a = graphshape.analyze(p)
    assert not a.domain.contains({"L": 2}) and a.domain.contains({"L": 3})
    assert_agrees(a, _pts(1, 12))


@pytest.mark.parametrize("channels", [8, 16, 32])
def test_maxpool_negative_same_padding_depends_on_the_cpu(tmp_path, channels):
    # with channels a multiple of the NCHWc block size (8 with AVX2, 16 with AVX-512) the
    # optimiser turns MaxPool into NchwcMaxPool, which accepts the negative SAME padding
    # that the MLAS MaxPool refuses (k1 s2 at even sizes): machine-dependent, so unproven
    p = _model(tmp_path, [helper.make_node("MaxPool", ["X"], ["Y"], name="p",
                                           auto_pad="SAME_UPPER", kernel_shape=[1, 1],
                                           strides=[2, 1])], dims=(1, channels, "H", 5))
    a = graphshape.analyze(p)
    assert not a.domain.exact and "CPU" in a.domain.unproven[0].reason
    # onnxruntime still runs: every size is 'unproven', none compared as proved
    rep = verify(a, _pts(1, 4, "H"), providers=["CPUExecutionProvider"])
    assert rep.verdicts and all(v.predicted == "unproven" for v in rep.verdicts)


def test_maxpool_negative_same_padding_with_other_channel_counts_is_refused(tmp_path):
    p = _model(tmp_path, [helper.make_node("MaxPool", ["X"], ["Y"], name="p",
                                           auto_pad="SAME_UPPER", kernel_shape=[1, 1],
                                           strides=[2, 1])], dims=(1, 4, "H", 5))
    a = graphshape.analyze(p)
    assert a.domain.exact and not a.domain.contains({"H": 2}) and a.domain.contains({"H": 3})
    assert_agrees(a, _pts(1, 12, "H"))


_W33 = ", ".join(["0.1"] * 36)


@pytest.mark.parametrize("pool,conv,valid", [
    # pool output H + 1: the Add broadcasts only where X's axis is 1, so only 1x1 runs
    ("kernel_shape = [2, 2], pads = [1, 1, 1, 1], ceil_mode = 1",
     "kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]", {(1, 1)}),
    # ceil mode drops the last window when it starts in the end padding
    ("kernel_shape = [2, 2], strides = [2, 2], pads = [1, 0, 1, 0], ceil_mode = 1, "
     "count_include_pad = 1", "kernel_shape = [3, 3], strides = [2, 2], pads = [2, 2, 2, 2]",
     {(1, 1), (1, 2), (2, 1), (2, 2)}),
    ("kernel_shape = [3, 3], strides = [2, 2], pads = [2, 1, 1, 2], ceil_mode = 1",
     "kernel_shape = [3, 3], strides = [2, 2], pads = [1, 0, 0, 1]",
     {(1, 2), (2, 2), (3, 2)}),
    ("kernel_shape = [3, 3], strides = [1, 2], pads = [2, 0, 0, 1], ceil_mode = 1",
     "kernel_shape = [3, 3], strides = [3, 2], pads = [1, 2, 2, 1]", None),
])
def test_ceil_mode_pool_with_asymmetric_pads_added_to_its_input(tmp_path, pool, conv, valid):
    # issue 9 (b), an independent generator: AveragePool ceil_mode = 1 with asymmetric pads,
    # added back to its own input (broadcasting), then a strided padded Conv, at H = W = 1;
    # every size 1..12 x 1..12 is checked against onnxruntime
    p = _text_model(tmp_path, f"""<ir_version: 10, opset_import: ["" : 19]>
        g (float[1,2,H,W] X) => (float Y) <float[2,2,3,3] w = {{{_W33}}}>
        {{ P = AveragePool <{pool}> (X)
           A = Add(P, X)
           Y = Conv <{conv}> (A, w) }}""")
    a = graphshape.analyze(p)
    assert a.domain.exact
    grid = [{"H": h, "W": w} for h in range(1, 13) for w in range(1, 13)]
    if valid is not None:
        assert {(q["H"], q["W"]) for q in grid if a.domain.contains(q)} == valid
    assert_agrees(a, grid)


def test_ceil_mode_window_dropped_on_a_fixed_axis_may_refuse_the_model_at_load(tmp_path):
    # fuzz2 seed 70261: W = 3, k1 s3 ceil mode: the kernel drops the last window (it starts
    # at 3, past the input): 1 output; onnx's shape inference (run at load) says 2, and the
    # Mul with X's 3 makes onnxruntime refuse the model; graphshape said 'H = 3 valid'
    p = _text_model(tmp_path, """<ir_version: 10, opset_import: ["" : 19]>
        g (float[1,1,H,3] X) => (float Y)
        { P = MaxPool <kernel_shape = [1, 1], strides = [1, 3], ceil_mode = 1> (X)
          Y = Mul(P, X) }""")
    a = graphshape.analyze(p)
    assert not a.domain.exact and "load" in a.domain.unproven[0].reason
    rep = verify(a, _pts(1, 4, "H"), providers=["CPUExecutionProvider"])
    assert all(v.observed == "invalid" and v.agree is None for v in rep.verdicts)
    # the same pool alone loads and runs: one output, as the kernel computes it
    q = _text_model(tmp_path, """<ir_version: 10, opset_import: ["" : 19]>
        g (float[1,1,H,3] X) => (float Y)
        { Y = MaxPool <kernel_shape = [1, 1], strides = [1, 3], ceil_mode = 1> (X) }""",
                    "alone.onnx")
    rep = verify(graphshape.analyze(q), _pts(1, 4, "H"), providers=["CPUExecutionProvider"])
    assert all(v.observed == "valid" for v in rep.verdicts)


def test_window_count_zero_in_an_unsure_reshape_target_is_not_proved(tmp_path):
    """Fuzz seed 6630992 (mix): a window partition reshaped back with Concat(Gather(Shape),
    Div(...), Gather(Shape), 4). The window count is 0 at L = 1, 2; whether onnxruntime's
    Reshape fusion infers that entry (after folding the Gathers) or reads the 0 and copies
    the input's dim decides the run, and it copies: the run fails. Every size was called
    valid; the node is now unproven, and no size is claimed valid or invalid where
    onnxruntime disagrees."""
    a = graphshape.analyze(_fuzz_mix(tmp_path, 6630992))
    assert not a.domain.exact
    assert any("may be 0" in u.describe() for u in a.domain.unproven)
    rep = verify(a, [{"L": v} for v in (1, 2, 3, 4, 8, 16)], providers=["CPUExecutionProvider"])
    assert [v.observed.value for v in rep.verdicts[:2]] == ["invalid", "invalid"]
    assert not rep.disagreements
    assert all(v.predicted.value == "unproven" for v in rep.verdicts)


def test_concat_of_two_different_fixed_dims_is_not_proved_where_one_input_is_empty(tmp_path):
    """Fuzz seed 7130094 (mix): Pad(X[1,2,H,6], ends -1 on H, +3 on W) concatenated with X
    on axis 1: W is 9 against 6. At H = 1 the padded input is empty, which onnxruntime's
    Concat kernel skips, and H = 1 was called valid; but onnxruntime's load-time shape
    inference knows both numbers and refuses the model at every size. Where an input is
    empty the size is now unproven; elsewhere it fails either way (invalid)."""
    a = graphshape.analyze(_fuzz_mix(tmp_path, 7130094))
    assert not a.domain.exact
    assert any("load-time shape inference" in u.describe() for u in a.domain.unproven)
    rep = verify(a, [{"H": v} for v in range(1, 7)], providers=["CPUExecutionProvider"])
    assert all(v.observed.value == "invalid" for v in rep.verdicts)  # refused at load
    assert not rep.disagreements
    assert rep.verdicts[0].predicted.value == "unproven"
    assert all(v.predicted.value == "invalid" for v in rep.verdicts[1:])


def test_resize_of_an_empty_axis_to_size_zero_runs(tmp_path):
    """Fuzz seed 7130251 (mix): a Resize whose sizes input is Div(W - 5, 4) on an axis of
    W - 5: at W = 5 both are 0, which onnxruntime runs (0 -> 0); graphshape required the
    target size >= 1 and called W = 5 invalid. Measured on every mode: 0 -> 0 runs,
    5 -> 0 and 0 -> 3 fail, and graphshape now says so, size by size."""
    a = graphshape.analyze(_fuzz_mix(tmp_path, 7130251))
    pts = [{"N": 1, "H": h, "W": w} for h in (4, 8) for w in range(1, 14)]
    rep = assert_agrees(a, pts)
    by_w = {v.sizes["W"]: v.observed.value for v in rep.verdicts if v.sizes["H"] == 4}
    # W - 5 and (W - 5) // 4 both 0 only at W = 5; at 6..8 a non-empty axis goes to 0
    assert [by_w[w] for w in (4, 5, 6, 8, 9)] == ["invalid", "valid", "invalid", "invalid",
                                                  "valid"]
    # a non-empty axis to 0 fails at every size, as before
    q = _text_model(tmp_path, """<ir_version: 10, opset_import: ["" : 19]>
        g (float[1,2,8,W] X) => (float Y)
        <int64[4] s = {1, 2, 8, 0}>
        { Y = Resize <mode = "linear"> (X, , , s) }""", "to0.onnx")
    b = graphshape.analyze(q)
    assert b.domain.is_empty()
    rep = verify(b, _pts(1, 4, "W"), providers=["CPUExecutionProvider"])
    assert all(v.observed.value == "invalid" and v.agree for v in rep.verdicts)


def test_conv_transpose_output_shape_below_a_fixed_input_size_may_be_refused_at_load(tmp_path):
    """Fuzz seed 7140905 (mix): ConvTranspose with output_shape [9, 5] on an input whose
    fixed width is 10, then a Pad of 8 pads. onnx's shape inference, which onnxruntime runs
    when it loads the model, stops at the output_shape entry below the input's size and
    gives the output 3 axes; the Pad's 8 pads then refuse the model at every size. H >= 5
    was called valid; the node is now unproven (the kernel itself runs: it alone loads)."""
    a = graphshape.analyze(_fuzz_mix(tmp_path, 7140905))
    assert not a.domain.exact
    assert any("output_shape 5 is below the input's 10" in u.describe()
               for u in a.domain.unproven)
    rep = verify(a, _pts(3, 8, "H"), providers=["CPUExecutionProvider"])
    assert all(v.observed.value == "invalid" for v in rep.verdicts) and not rep.disagreements
    assert [v.predicted.value for v in rep.verdicts] == ["invalid"] * 2 + ["unproven"] * 4


def test_an_output_whose_shape_may_be_wrong_is_not_called_empty(tmp_path):
    """Fuzz seeds 7150168 and 7150232 (mix): a Concat whose inputs may each be empty, then
    the graph output. Where the first input is empty onnxruntime's Concat takes the other's
    dims (H = 1: [1, 2, 1, 1]); graphshape's output shape there, an assumption it says it
    cannot prove, was empty, and "an output must not be empty" called the size invalid (11
    sizes each). An output whose shape rests on such an assumption is not held to it. Run
    as the fuzzer runs them (its own sizes and edge points)."""
    from tests.oracles import fuzz_runner

    for seed in (7150168, 7150232):
        r = fuzz_runner.fuzz_one(seed, "mix", str(tmp_path))
        assert r.error is None and r.compared > 100, (seed, r.error)
        assert not r.disagreements, (seed, r.disagreements[:3])


def test_reshape_minus_one_over_a_count_that_is_zero_at_small_sizes(tmp_path):
    """Fuzz seed 7160150 (mix): a TF-style SAME pad, a stride-2 Conv, a Slice [0:-3] of its
    height h = max(0, ceil(H/2) - 3) (empty up to H = 6), then Reshape(x, [-1, h]):
    onnxruntime infers no -1 from a product of 0 (reshape_helper.h: size != 0). The node
    was unproven ("cannot divide"); the quotient is now taken where h >= 1 (H >= 7), the
    minima and maxima of H settled there, and the domain is exact, size by size."""
    a = graphshape.analyze(_fuzz_mix(tmp_path, 7160150))
    assert a.domain.exact and not a.propagation.unproven
    rep = assert_agrees(a, [{"H": h} for h in range(1, 30)])
    assert [v.sizes["H"] for v in rep.verdicts if v.observed.value == "valid"] == \
        list(range(7, 30))
