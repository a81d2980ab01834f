"""Models with local functions (FunctionProto; torch's export_modules_as_functions, hand-made
graphs): onnxruntime inlines them at load, and so does graphshape (onnx.inliner) instead of
calling each call an op without a rule. Checked on onnxruntime at every size 1..9."""

from __future__ import annotations

import itertools

import onnx
from onnx import TensorProto as T
from onnx import helper as h

import graphshape

from .conftest import assert_agrees


def _model(tmp_path, kernel_attr: bool):
    pool = h.make_node("MaxPool", ["a"], ["p"], strides=[2, 2])
    if kernel_attr:  # kernel_shape from the call's attribute 'k'
        ref = onnx.AttributeProto()
        ref.name, ref.ref_attr_name, ref.type = "kernel_shape", "k", onnx.AttributeProto.INTS
        pool.attribute.append(ref)
    else:
        pool.attribute.append(h.make_attribute("kernel_shape", [3, 3]))
    f = h.make_function("local", "Blk", ["a"], ["b"], [pool, h.make_node("Relu", ["p"], ["b"])],
                        [h.make_opsetid("", 17)], attributes=["k"] if kernel_attr else [])
    kw = {"k": [3, 3]} if kernel_attr else {}
    g = h.make_graph([h.make_node("Blk", ["x"], ["y"], domain="local", **kw),
                      h.make_node("Blk", ["y"], ["z"], domain="local", **kw)], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, [1, 1, "H", "W"])],
                     [h.make_tensor_value_info("z", T.FLOAT, None)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("local", 1)],
                     functions=[f])
    m.ir_version = 8
    path = str(tmp_path / "f.onnx")
    onnx.save(m, path)
    return path


def test_local_functions_are_inlined(tmp_path):
    for kernel_attr in (False, True):
        a = graphshape.analyze(_model(tmp_path, kernel_attr))
        assert not a.propagation.unproven, a.propagation.unproven
        assert not a.domain.contains({"H": 2, "W": 9})  # the first 3x3 pool refuses H = 2
        assert a.domain.contains({"H": 9, "W": 9})
        assert_agrees(a, [{"H": hh, "W": w} for hh, w in itertools.product(range(1, 10),
                                                                           (1, 3, 7))])
