"""A detector's per-class post-processing, written with onnx.helper (no torch needed): the
structure torchvision's SSD exports, once per class, then the "is the result empty" test.

For each of ``classes`` classes: Gather the class's scores, Greater(score, 0.5), NonZero
(twice, as torchvision's export does: once for the scores, once for the boxes), GatherND,
TopK with k = min(count, 300), Gather the kept boxes. Then Concat of every class's boxes and
scores, Shape -> ReduceProd -> Equal(., 0) -> If: an empty index list, or
NonMaxSuppression on the concatenated boxes; the kept boxes are the output.

Input ``scores`` [A, classes + 1] and ``boxes`` [A, 4]: A (the anchor count) is the one
symbolic size, valid at every A >= 1 (the graph runs for every count, 0 included).
"""

from __future__ import annotations

import os

__all__ = ["build", "model"]


def model(classes: int):
    """The ModelProto with ``classes`` branches."""
    from onnx import TensorProto as T  # noqa: PLC0415  onnx: only the builder needs it
    from onnx import helper as h  # noqa: PLC0415

    nodes, inits = [], []

    def const(name, dtype, dims, vals):
        inits.append(h.make_tensor(name, dtype, dims, vals))
        return name

    const("thresh", T.FLOAT, [], [0.5])
    const("k_max", T.INT64, [1], [300])
    const("one", T.INT64, [1], [1])
    const("zero", T.INT64, [], [0])
    const("ax0", T.INT64, [1], [0])
    box_parts, score_parts = [], []
    for c in range(1, classes + 1):
        p = f"c{c}_"
        idx = const(p + "idx", T.INT64, [], [c])
        nodes += [
            h.make_node("Gather", ["scores", idx], [p + "score"], axis=1),
            h.make_node("Greater", [p + "score", "thresh"], [p + "mask"]),
            h.make_node("NonZero", [p + "mask"], [p + "nz"]),
            h.make_node("Transpose", [p + "nz"], [p + "nzt"], perm=[1, 0]),
            h.make_node("GatherND", [p + "score", p + "nzt"], [p + "sel"]),
            h.make_node("NonZero", [p + "mask"], [p + "nz2"]),
            h.make_node("Transpose", [p + "nz2"], [p + "nzt2"], perm=[1, 0]),
            h.make_node("GatherND", ["boxes", p + "nzt2"], [p + "bsel"]),
            h.make_node("Shape", [p + "sel"], [p + "n"]),
            h.make_node("Concat", ["k_max", p + "n"], [p + "kk"], axis=0),
            h.make_node("ReduceMin", [p + "kk"], [p + "kmin"], keepdims=0),
            h.make_node("Reshape", [p + "kmin", "one"], [p + "k"]),
            h.make_node("TopK", [p + "sel", p + "k"], [p + "top", p + "topi"], axis=-1),
            h.make_node("Gather", [p + "bsel", p + "topi"], [p + "btop"], axis=0),
        ]
        box_parts.append(p + "btop")
        score_parts.append(p + "top")
    nodes += [
        h.make_node("Concat", box_parts, ["all_boxes"], axis=0),
        h.make_node("Concat", score_parts, ["all_scores"], axis=0),
        h.make_node("Shape", ["all_boxes"], ["shp"]),
        h.make_node("ReduceProd", ["shp"], ["numel"], keepdims=0),
        h.make_node("Equal", ["numel", "zero"], ["is_empty"]),
        h.make_node("Cast", ["is_empty"], ["cond"], to=T.BOOL),
    ]
    then_g = h.make_graph(
        [h.make_node("Constant", [], ["keep_none"],
                     value=h.make_tensor("e", T.INT64, [0], []))],
        "no_boxes", [], [h.make_tensor_value_info("keep_none", T.INT64, [0])])
    else_nodes = [
        h.make_node("Unsqueeze", ["all_boxes", "ax0"], ["b3"]),
        h.make_node("Unsqueeze", ["all_scores", "ax0"], ["s2"]),
        h.make_node("Unsqueeze", ["s2", "ax0"], ["s3"]),
        h.make_node("NonMaxSuppression", ["b3", "s3", "max_out", "iou"], ["sel3"]),
        h.make_node("Gather", ["sel3", "two"], ["keep_col"], axis=1),
        h.make_node("Squeeze", ["keep_col", "one"], ["keep_nms"]),
    ]
    else_g = h.make_graph(
        else_nodes, "nms", [], [h.make_tensor_value_info("keep_nms", T.INT64, ["K"])],
        [h.make_tensor("max_out", T.INT64, [1], [100]),
         h.make_tensor("iou", T.FLOAT, [1], [0.5]),
         h.make_tensor("two", T.INT64, [1], [2])])
    nodes += [
        h.make_node("If", ["cond"], ["keep"], then_branch=then_g, else_branch=else_g),
        h.make_node("Gather", ["all_boxes", "keep"], ["detections"], axis=0),
    ]
    g = h.make_graph(
        nodes, f"postprocess_{classes}",
        [h.make_tensor_value_info("scores", T.FLOAT, ["A", classes + 1]),
         h.make_tensor_value_info("boxes", T.FLOAT, ["A", 4])],
        [h.make_tensor_value_info("detections", T.FLOAT, ["D", 4])], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def build(out_dir: str, classes: int) -> str:
    """The model with ``classes`` branches, saved (and reused) under ``out_dir``."""
    import onnx  # noqa: PLC0415  onnx: only the builder needs it

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"postprocess_{classes}.onnx")
    if not os.path.exists(path):
        tmp = path + ".tmp"
        onnx.save(model(classes), tmp)
        os.replace(tmp, path)
    return path
