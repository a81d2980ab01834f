"""Nodes whose attributes break their op's schema: onnxruntime 1.31.1 refuses to load such a
model at every size ('Unrecognized attribute', 'Mismatched attribute type', 'Required
attribute ... is missing'; each checked here on a real session). graphshape claimed some of
them valid at every size (Add-13 with the legacy 'broadcast' attribute); now each is
unproven with the reason. Names starting with '__' are let through by onnxruntime, and by
graphshape."""

from __future__ import annotations

import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import graphshape
from graphshape.domain.sets import UNPROVEN, VALID

from .conftest import assert_agrees


def _save(tmp_path, node, opset=13, n_inputs=2, body=None):
    ins = [h.make_tensor_value_info(n, T.FLOAT, ["N", 2]) for n in ("x", "y")[:n_inputs]]
    nodes = [node] if body is None else body
    g = h.make_graph(nodes, "g", ins, [h.make_tensor_value_info("z", T.FLOAT, None)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    path = str(tmp_path / "m.onnx")
    onnx.save(m, path)
    return path


def _loads(path) -> bool:
    try:
        ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        return True
    except Exception:  # noqa: BLE001  (onnxruntime's load errors have no common type)
        return False


CASES = [
    ("unknown attribute", h.make_node("Add", ["x", "y"], ["z"], broadcast=1), 2,
     "attribute 'broadcast' is not in the Add-13 schema"),
    ("unknown attribute, unary", h.make_node("Relu", ["x"], ["z"], foo=1), 1,
     "attribute 'foo' is not in the Relu-13 schema"),
    ("attribute of another type", h.make_node("Concat", ["x", "y"], ["z"], axis=1.0), 2,
     "attribute 'axis' is FLOAT where the Concat-13 schema wants INT"),
    ("ints for an int", h.make_node("Concat", ["x", "y"], ["z"], axis=[1]), 2,
     "attribute 'axis' is INTS where the Concat-13 schema wants INT"),
    ("missing required attribute", h.make_node("Concat", ["x", "y"], ["z"]), 2,
     "the Concat-13 schema requires attribute 'axis'"),
    ("missing 'to'", h.make_node("Cast", ["x"], ["z"]), 1,
     "the Cast-13 schema requires attribute 'to'"),
]


@pytest.mark.parametrize("why,node,n_inputs,reason", CASES, ids=[c[0] for c in CASES])
def test_a_schema_breaking_node_never_loads_and_is_unproven(tmp_path, why, node, n_inputs,
                                                            reason):
    path = _save(tmp_path, node, n_inputs=n_inputs)
    assert not _loads(path)
    a = graphshape.analyze(path)
    reasons = [u.reason for u in a.propagation.unproven]
    assert any(r.startswith(reason) and "refuses to load" in r for r in reasons), reasons
    assert a.check({"N": 3}) == UNPROVEN


def test_inside_a_subgraph_too(tmp_path):
    bad = h.make_graph([h.make_node("Relu", ["x"], ["o"], foo=1)], "then", [],
                       [h.make_tensor_value_info("o", T.FLOAT, None)])
    good = h.make_graph([h.make_node("Identity", ["x"], ["o"])], "else", [],
                        [h.make_tensor_value_info("o", T.FLOAT, None)])
    c = h.make_tensor("c", T.BOOL, [], [True])
    body = [h.make_node("Constant", [], ["c"], value=c),
            h.make_node("If", ["c"], ["z"], then_branch=bad, else_branch=good)]
    path = _save(tmp_path, None, n_inputs=1, body=body)
    assert not _loads(path)
    a = graphshape.analyze(path)
    assert a.check({"N": 3}) == UNPROVEN
    assert any("refuses to load" in u.reason for u in a.propagation.unproven)


def test_internal_names_and_schema_attributes_still_run(tmp_path):
    path = _save(tmp_path, h.make_node("Relu", ["x"], ["z"], __graphshape_note=1),
                 n_inputs=1)
    assert _loads(path)
    a = graphshape.analyze(path)
    assert not a.propagation.unproven and a.check({"N": 3}) == VALID
    assert_agrees(a, [{"N": 1}, {"N": 3}])
    path = _save(tmp_path, h.make_node("Concat", ["x", "y"], ["z"], axis=0))
    a = graphshape.analyze(path)
    assert not a.propagation.unproven
    assert_agrees(a, [{"N": 1}, {"N": 4}])


def _graph(tmp_path, nodes, ins, outs=(("z", T.FLOAT),), opsets=(("", 13),), value_info=()):
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info(n, t, s) for n, t, s in ins],
                     [h.make_tensor_value_info(n, t, None) for n, t in outs],
                     value_info=list(value_info))
    m = h.make_model(g, opset_imports=[h.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = 10
    path = str(tmp_path / "g.onnx")
    onnx.save(m, path)
    return path


F, X, Y = T.FLOAT, ("x", T.FLOAT, ["N", 2]), ("y", T.FLOAT, ["N", 2])

REFUSED = [
    ("too many inputs", [h.make_node("Add", ["x", "y", "x"], ["z"])], [X, Y], {},
     "3 inputs where the Add-13 schema takes 2"),
    ("too many outputs", [h.make_node("Relu", ["x"], ["z", "w"])], [X], {},
     "2 outputs where the Relu-13 schema has 1"),
    ("one type parameter, two types", [h.make_node("Add", ["x", "y"], ["z"])],
     [X, ("y", T.INT64, ["N", 2])], {},
     "inputs 0 and 1 are tensor(float) and tensor(int64), but the Add-13 schema binds both"),
    ("variadic, two types", [h.make_node("Concat", ["x", "y"], ["z"], axis=0)],
     [X, ("y", T.INT32, ["N", 2])], {}, "inputs 0 and 1 are tensor(float) and tensor(int32)"),
    ("a type the schema does not allow", [h.make_node("Gather", ["x", "y"], ["z"])],
     [X, ("y", T.FLOAT, [1])], {},
     "input 1 ('y') is tensor(float), which the Gather-13 schema does not allow"),
    ("an opset newer than onnxruntime's", [h.make_node("Relu", ["x"], ["z"])], [X],
     {"opsets": (("", 27),)},
     "the model imports ai.onnx opset 27; onnxruntime 1.31.1 loads ai.onnx opsets up to 26"),
    ("a declared output type of another kind", [h.make_node("Relu", ["x"], ["z"])], [X],
     {"outs": (("z", T.INT32),)},
     "the model declares 'z' as tensor(int32) where the node produces tensor(float)"),
    ("a declared value_info type of another kind",
     [h.make_node("Cast", ["x"], ["c"], to=T.INT64), h.make_node("Cast", ["c"], ["z"], to=F)],
     [X], {"value_info": [h.make_tensor_value_info("c", T.FLOAT, None)]},
     "the model declares 'c' as tensor(float) where the node produces tensor(int64)"),
]


@pytest.mark.parametrize("why,nodes,ins,kw,reason", REFUSED, ids=[c[0] for c in REFUSED])
def test_what_onnxruntime_refuses_at_load_is_unproven(tmp_path, why, nodes, ins, kw, reason):
    path = _graph(tmp_path, nodes, ins, **kw)
    assert not _loads(path)
    a = graphshape.analyze(path)
    reasons = [u.reason for u in a.propagation.unproven]
    assert any(r.startswith(reason) for r in reasons), reasons
    assert a.check({"N": 3}) == UNPROVEN


def test_the_newest_opset_onnxruntime_loads_is_judged_as_usual(tmp_path):
    path = _graph(tmp_path, [h.make_node("Relu", ["x"], ["z"])], [X], opsets=(("", 26),))
    assert _loads(path)
    a = graphshape.analyze(path)
    assert not a.propagation.unproven
    assert_agrees(a, [{"N": 1}, {"N": 5}])


@pytest.mark.parametrize("nodes,ins", [
    ([h.make_node("Relu", ["x"], ["z"]), h.make_node("Relu", ["x"], ["z"])], [X]),
    ([h.make_node("Relu", ["x"], ["x"]), h.make_node("Relu", ["x"], ["z"])], [X]),
], ids=["two nodes", "a node and a graph input"])
def test_a_value_defined_twice_is_a_one_line_load_error(tmp_path, nodes, ins):
    from click.testing import CliRunner

    from graphshape.cli import main

    path = _graph(tmp_path, nodes, ins)
    assert not _loads(path)
    r = CliRunner().invoke(main, ["analyze", path])
    assert r.exit_code == 2, r.output
    err = r.output.strip().splitlines()
    assert len(err) == 1 and "defined twice" in err[0] and "Traceback" not in r.output, err


def _with_initializer(tmp_path, w):
    g = h.make_graph([h.make_node("Add", ["x", "w"], ["z"])], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, ["N", len(w.dims) and w.dims[-1]])],
                     [h.make_tensor_value_info("z", T.FLOAT, None)], initializer=[w])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    m.ir_version = 8
    path = str(tmp_path / "w.onnx")
    onnx.save(m, path)
    return path


def _tensor(n, raw=None, floats=None):
    w = onnx.TensorProto()
    w.name, w.data_type = "w", T.FLOAT
    w.dims.extend([n])
    if raw is not None:
        w.raw_data = raw
    if floats is not None:
        w.float_data.extend(floats)
    return w


@pytest.mark.parametrize("w,words", [
    (_tensor(4, raw=b"\0" * 8), "raw_data is 8 bytes where its shape [4] needs 16"),
    (_tensor(4, raw=b"\0" * 20), "raw_data is 20 bytes where its shape [4] needs 16"),
    (_tensor(4, floats=[1, 2, 3]), "3 values where its shape [4] needs 4"),
    (_tensor(4), "0 values where its shape [4] needs 4"),
    # over the trimming threshold: the float bytes are never read, their length still counts
    (_tensor(3_000_000, raw=b"\0" * 11_999_996),
     "raw_data is 11999996 bytes where its shape [3000000] needs 12000000"),
], ids=["raw short", "raw long", "typed short", "no data", "large, trimmed, short"])
def test_an_initializer_whose_data_does_not_fit_its_shape(tmp_path, w, words):
    from click.testing import CliRunner

    from graphshape.cli import main

    path = _with_initializer(tmp_path, w)
    assert not _loads(path)
    r = CliRunner().invoke(main, ["analyze", path])
    assert r.exit_code == 2, r.output
    err = r.output.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "Traceback" not in r.output, err


def test_initializers_that_fit_still_run(tmp_path):
    for w in (_tensor(4, raw=b"\0" * 16, floats=[1, 2, 3, 4]),  # raw_data wins, as on ort
              _tensor(3_000_000, raw=b"\0" * 12_000_000)):
        path = _with_initializer(tmp_path, w)
        assert _loads(path)
        a = graphshape.analyze(path)
        assert not a.propagation.unproven
        assert_agrees(a, [{"N": 1}, {"N": 2}])


def test_a_model_without_any_opset_import_is_a_load_error(tmp_path):
    from click.testing import CliRunner

    from graphshape.cli import main

    path = _graph(tmp_path, [h.make_node("Relu", ["x"], ["z"])], [X])
    m = onnx.load(path)
    del m.opset_import[:]
    onnx.save(m, path)
    assert not _loads(path)
    r = CliRunner().invoke(main, ["analyze", path])
    assert r.exit_code == 2 and "imports no opset" in r.output, r.output


def test_a_negative_declared_size_is_an_unknown_one(tmp_path):
    """Converters that write -1 for a dynamic axis: onnxruntime runs every size there."""
    path = _graph(tmp_path, [h.make_node("Relu", ["x"], ["z"])], [("x", T.FLOAT, [-1, 2])])
    assert _loads(path)
    a = graphshape.analyze(path)
    assert [str(s) for s in a.graph.symbols] == ["x_0"]
    assert_agrees(a, [{"x_0": n} for n in (1, 3, 7)])


def test_an_input_without_rank_is_unproven_not_a_bad_file(tmp_path):
    """onnxruntime loads it and runs any rank; graphshape cannot reason: exit 3, one line."""
    from click.testing import CliRunner

    from graphshape.cli import main

    vi = onnx.ValueInfoProto()
    vi.name, vi.type.tensor_type.elem_type = "x", T.FLOAT
    g = h.make_graph([h.make_node("Relu", ["x"], ["z"])], "g", [vi],
                     [h.make_tensor_value_info("z", T.FLOAT, None)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    m.ir_version = 8
    path = str(tmp_path / "r.onnx")
    onnx.save(m, path)
    assert _loads(path)
    r = CliRunner().invoke(main, ["analyze", path])
    assert r.exit_code == 3 and "has no declared rank" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


def test_an_analysis_never_imports_the_onnx_package(toy_path):
    """The loader reads protobuf without onnx (its import costs about 0.6 s); the schema
    checks read graphshape/data/onnx_schemas.json. Run in a fresh interpreter."""
    import subprocess
    import sys

    code = ("import sys, graphshape; a = graphshape.analyze(sys.argv[1]); "
            "a.domain.contains({'H': 256, 'W': 256}); print('onnx' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, toy_path], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False", r.stdout


def test_the_schema_table_is_what_onnx_says():
    """graphshape/data/onnx_schemas.json against the installed onnx, on a sample of ops."""
    import onnx.defs

    from graphshape.shapes import ort_compat

    for op, opset in [("Concat", 13), ("Add", 14), ("Resize", 19), ("Gather", 13),
                      ("Cast", 21), ("LayerNormalization", 17), ("Attention", 23)]:
        ref = onnx.defs.get_schema(op, opset, "")
        row = ort_compat.schema_of("", op, opset)
        assert row["since"] == ref.since_version
        assert set(row["attrs"]) == set(ref.attributes)
        assert row["inputs"] == [ref.min_input, ref.max_input]
        assert [f[1] for f in row["formals"]] == [f.type_str for f in ref.inputs]


def _bad_constant():
    w = onnx.TensorProto()
    w.name, w.data_type = "c", T.INT64
    w.dims.extend([2])
    w.raw_data = b"\0" * 8
    return w


@pytest.mark.parametrize("where", ["main graph", "If branch"])
def test_a_constant_whose_data_does_not_fit_its_shape(tmp_path, where):
    """onnxruntime turns Constant nodes into initializers and checks them alike, in
    subgraphs too (measured: 'Deserialize tensor o failed')."""
    from click.testing import CliRunner

    from graphshape.cli import main

    if where == "main graph":
        nodes = [h.make_node("Constant", [], ["s"], value=_bad_constant()),
                 h.make_node("Reshape", ["x", "s"], ["z"])]
        ins = [X]
    else:
        then = h.make_graph([h.make_node("Constant", [], ["o"], value=_bad_constant())], "t",
                            [], [h.make_tensor_value_info("o", T.INT64, None)])
        other = h.make_graph([h.make_node("Constant", [], ["o"],
                                          value=h.make_tensor("d", T.INT64, [2], [3, 2]))],
                             "e", [], [h.make_tensor_value_info("o", T.INT64, None)])
        nodes = [h.make_node("If", ["b"], ["s"], then_branch=then, else_branch=other),
                 h.make_node("Reshape", ["x", "s"], ["z"])]
        ins = [X, ("b", T.BOOL, [])]
    path = _graph(tmp_path, nodes, ins)
    assert not _loads(path)
    r = CliRunner().invoke(main, ["analyze", path])
    assert r.exit_code == 2, r.output
    assert "raw_data is 8 bytes where its shape [2] needs 16" in r.output, r.output
