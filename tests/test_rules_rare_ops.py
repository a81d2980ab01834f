"""Rule table for graphshape/rules/newops.py and optional_scan.py. Ops onnxruntime 1.31
runs are checked on it at edges; SwiGLU (opset 28), LinearAttention and
CausalConvWithState (opset 27) and FlexAttention have no onnxruntime kernel, so their rows
check the spec's shapes only (no points). String ops are checked on onnxruntime directly
(the verifier feeds no strings)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import graphshape

from ._rule_rows import check_row, model_from_text

ROWS = [
    ("swish", 24, "(float[N, C] x) => (float y) { y = Swish <alpha = 2.0> (x) }",
     {"y": ["N", "C"]}, [{"N": 1, "C": 1}, {"N": 3, "C": 2}]),
    ("tensorscatter_linear", 24,
     ("(float[B, 2, M, 4] c, float[B, 2, S, 4] u) => (float y) "
      "{ y = TensorScatter (c, u) }"),
     {"y": ["B", 2, "M", 4]},
     [{"B": 1, "M": 5, "S": 5}, {"B": 1, "M": 5, "S": 6}, {"B": 2, "M": 5, "S": 1}]),
    ("tensorscatter_write_indices", 24,
     ("(float[2, M, 4] c, float[2, S, 4] u) => (float y) <int64[2] w = {0, 3}> "
      "{ y = TensorScatter <axis = 1> (c, u, w) }"),
     {"y": [2, "M", 4]},
     [{"M": 5, "S": 2}, {"M": 5, "S": 3}, {"M": 4, "S": 1}, {"M": 3, "S": 1}]),
    ("tensorscatter_dims_must_match", 24,
     ("(float[2, M, 4] c, float[2, 3, K] u) => (float y) "
      "{ y = TensorScatter <axis = 1> (c, u) }"),
     {"y": [2, "M", 4]}, [{"M": 3, "K": 4}, {"M": 3, "K": 5}, {"M": 2, "K": 4}]),
    ("dft_axis_input", 20,
     ("(float[1, N, 7, 1] x) => (float y) <int64 a = {1}> "
      "{ y = DFT <onesided = 1> (x, , a) }"),
     {"y": [1, "floor(N/2) + 1", 7, 2]}, [{"N": 1}, {"N": 6}, {"N": 7}]),
    ("dft_length", 20,
     ("(float[2, N, 2] x) => (float y) <int64 n = {8}> { y = DFT (x, n) }"),
     {"y": [2, 8, 2]}, [{"N": 3}, {"N": 8}, {"N": 11}]),
    ("stft_frames", 17,
     ("(float[1, L, 1] x) => (float y) <int64 step = {2}, float[4] w = {1, 1, 1, 1}> "
      "{ y = STFT (x, step, w) }"),
     {"y": [1, "floor(L/2) - 1", 3, 2]}, [{"L": 4}, {"L": 3}, {"L": 9}]),
    ("sce_loss_none", 13,
     ("(float[N, C, D] s, int64[N, D] l) => (float y, float lp) "
      "{ y, lp = SoftmaxCrossEntropyLoss <reduction = \"none\"> (s, l) }"),
     "unproven: labels index the classes", None),
    ("nll_loss_known_targets", 13,
     ("(float[2, C] x) => (float y) <int64[2] t = {0, 4}> "
      "{ y = NegativeLogLikelihoodLoss <reduction = \"none\"> (x, t) }"),
     {"y": [2]}, [{"C": 5}, {"C": 4}, {"C": 9}]),
    ("sce_loss_known_labels_weights", 13,
     ("(float[2, C] x) => (float y) <int64[2] t = {-2, 1}, float[3] w = {1, 1, 1}> "
      "{ y = SoftmaxCrossEntropyLoss (x, t, w) }"),
     {"y": []}, [{"C": 2}, {"C": 1}, {"C": 6}]),
    ("deformconv", 19,
     ("(float[1, 2, H, W] x, float[1, 18, P, Q] off) => (float y) "
      "<float[3, 2, 3, 3] w = {" + ", ".join(["0.1"] * 54) + "}> "
      "{ y = DeformConv <pads = [1, 1, 1, 1], strides = [2, 2]> (x, w, off) }"),
     {"y": [1, 3, "floor((H - 1)/2) + 1", "floor((W - 1)/2) + 1"]},
     [{"H": 5, "W": 4, "P": 3, "Q": 2}, {"H": 5, "W": 4, "P": 3, "Q": 3},
      {"H": 6, "W": 1, "P": 3, "Q": 1}, {"H": 1, "W": 1, "P": 1, "Q": 1}]),
    ("bitcast_same_width", 26,
     "(float[N, 3] x) => (int32 y) { y = BitCast <to = 6> (x) }",
     {"y": ["N", 3]}, [{"N": 1}, {"N": 4}]),
    ("bitcast_width_differs", 26,
     "(float[2, 3] x) => (int64 y) { y = BitCast <to = 7> (x) }",
     "impossible: one bit width", None),
    ("tfidf_2d", 9,
     ("(int64[N, C] x) => (float y) { y = TfIdfVectorizer <mode = \"TF\", "
      "min_gram_length = 1, max_gram_length = 1, max_skip_count = 0, "
      "ngram_counts = [0], ngram_indexes = [0, 1, 2], pool_int64s = [0, 1, 2]> (x) }"),
     {"y": ["N", 3]}, [{"N": 1, "C": 1}, {"N": 2, "C": 5}]),
    ("optional_has_element", 18,
     ("(float[N] x) => (bool y, float z) { o = Optional (x) y = OptionalHasElement (o) "
      "z = OptionalGetElement (o) }"),
     {"y": [], "z": ["N"]}, [{"N": 1}, {"N": 3}]),
    ("split_to_sequence_sizes_sum", 11,
     ("(float[N, W] x) => (float y) <int64[2] sp = {2, 2}> "
      "{ s = SplitToSequence <axis = 1> (x, sp) y = ConcatFromSequence <axis = 0> (s) }"),
     {"y": ["2*N", 2]}, [{"N": 1, "W": 4}, {"N": 3, "W": 5}, {"N": 2, "W": 3}]),
    ("sequence_construct_stack", 11,
     ("(float[N] a, float[M] b) => (float y, float z, int64 n) <int64 p = {-1}> "
      "{ s = SequenceConstruct (a, b) y = ConcatFromSequence <axis = 0, new_axis = 1> (s) "
      "z = SequenceAt (s, p) n = SequenceLength (s) }"),
     {"y": [2, "N"], "z": ["M"], "n": []}, [{"N": 3, "M": 3}, {"N": 3, "M": 2}]),
    ("sequence_insert_erase", 11,
     ("(float[N] a, float[M] b) => (float y) <int64 p = {0}> "
      "{ s = SequenceEmpty () t = SequenceInsert (s, a) u = SequenceInsert (t, b, p) "
      "v = SequenceErase (u) y = SequenceAt (v, p) }"),
     {"y": ["M"]}, [{"N": 3, "M": 2}]),
    ("sequence_at_out_of_range", 11,
     ("(float[2] a) => (float y) <int64 p = {1}> "
      "{ s = SequenceConstruct (a) y = SequenceAt (s, p) }"),
     "impossible: position 1 is out of range", [{}]),
    ("scan8_batched", 8,
     ("(float[B, 2] init, float[B, T, 2] xs) => (float last, float ys) "
      "{ last, ys = Scan <num_scan_inputs = 1, body = g (float[2] s, float[2] x) => "
      "(float[2] s2, float[2] y) { s2 = Add (s, x) y = Identity (s2) }> (, init, xs) }"),
     {"last": ["B", 2], "ys": ["B", "T", 2]}, [{"B": 1, "T": 1}, {"B": 2, "T": 3}]),
    ("scan8_body_without_output_shapes", 8,
     ("(float[B, 2] init, float[B, T, 2] xs) => (float last, float ys) "
      "{ last, ys = Scan <num_scan_inputs = 1, body = g (float[2] s, float[2] x) => "
      "(float s2, float y) { s2 = Add (s, x) y = Identity (s2) }> (, init, xs) }"),
     "unproven: does not declare a shape that agrees", None),
    # no onnxruntime kernel: the spec's shapes
    ("swiglu_same_shapes", 28,
     "(float[N, C] a, float[N, D] b) => (float y) { y = SwiGLU (a, b) }",
     {"y": ["N", "C"]}, None),
    ("linear_attention", 27,
     ("(float[B, T, 8] q, float[B, T, 4] k, float[B, T, 6] v) => (float o, float st) "
      "{ o, st = LinearAttention <q_num_heads = 2, kv_num_heads = 1, "
      "update_rule = \"linear\"> (q, k, v) }"),
     {"o": ["B", "T", 12], "st": ["B", 1, 4, 6]}, None),
    ("causal_conv_with_state", 27,
     ("(float[B, 4, T] x, float[4, 1, 3] w) => (float y, float st) "
      "{ y, st = CausalConvWithState (x, w) }"),
     {"y": ["B", 4, "T"], "st": ["B", 4, 2]}, None),
]


@pytest.mark.parametrize("opset,graph,expect,points",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_newops_rule(tmp_path, opset, graph, expect, points):
    check_row(tmp_path, opset, graph, expect, points)


def test_flex_attention_spec_shapes(tmp_path):
    text = ('<ir_version: 10, opset_import: ["" : 26, "ai.onnx.preview" : 1]>\n'
            "agraph (float[B, 4, L, 8] q, float[B, 2, S, 8] k, float[B, 2, S, 5] v) => "
            "(float y) { y = ai.onnx.preview.FlexAttention (q, k, v) }")
    m = onnx.parser.parse_model(text)
    path = str(tmp_path / "flex.onnx")
    onnx.save(m, path)
    assert graphshape.analyze(path).shapes["y"] == ["B", 4, "L", 5]


def _ort_shapes(path, feeds):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return [list(r.shape) for r in s.run(None, feeds)]


@pytest.mark.parametrize("graph,feeds,outs", [
    ("(string[2, 3] x, string[3] y) => (string z) { z = StringConcat (x, y) }",
     {"x": np.full((2, 3), "a", object), "y": np.full((3,), "b", object)}, ["z"]),
    ("(string[2, 3] x) => (bool y) { y = RegexFullMatch <pattern = \"a.*\"> (x) }",
     {"x": np.full((2, 3), "ab", object)}, ["y"]),
    ("(string[4] x) => (string y) { y = StringNormalizer "
     "<case_change_action = \"LOWER\", locale = \"C.utf8\"> (x) }",
     {"x": np.full((4,), "AB", object)}, ["y"]),
])
def test_string_ops_on_onnxruntime(tmp_path, graph, feeds, outs):
    path = model_from_text(20, graph, str(tmp_path / "s.onnx"))
    a = graphshape.analyze(path)
    assert not a.propagation.unproven
    assert [a.shapes[o] for o in outs] == _ort_shapes(path, feeds)


def test_string_concat_broadcast_mismatch_is_refused(tmp_path):
    path = model_from_text(
        20, "(string[2, 3] x, string[4] y) => (string z) { z = StringConcat (x, y) }",
        str(tmp_path / "s.onnx"))
    a = graphshape.analyze(path)
    assert a.domain.impossible
    with pytest.raises(Exception):  # noqa: B017  onnxruntime's error type varies
        _ort_shapes(path, {"x": np.full((2, 3), "a", object),
                           "y": np.full((4,), "b", object)})
