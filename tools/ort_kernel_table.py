"""Measure which element types onnxruntime's CPU provider loads each ONNX op with.

    .venv/bin/python tools/ort_kernel_table.py [--ops Conv,Relu] [--out graphshape/data/ort_cpu_kernels.json]
    .venv/bin/python tools/ort_kernel_table.py --check-source cpu_execution_provider.cc

The table is measured, not transcribed: for every default-domain op of onnx's schema list, at
every opset from 1 to the newest onnxruntime loads, and for each common element type, it
builds a one-node model whose *first* input has that type (the inputs that share its type
constraint too; every other input a fixed type, recorded) and creates an InferenceSession
(CPUExecutionProvider, default options). Each try ends in one of
    ok       the session is created
    refused  'Could not find an implementation' (no kernel: NOT_IMPLEMENTED; not counted for
             ops whose output type is an attribute, _ATTR_TYPED), or the schema's 'Type Error'
             on the first input (the type is not in the op's constraint)
    other    anything else (the synthetic model is not right for the op): nothing recorded
An (op, opset) is kept only when at least one type loads (the synthetic model is then known to
be acceptable, so a refusal is the type's doing). Why measured: the kernels that matter most
(Conv, ConvTranspose, the pools, ...) are registered with ONNX_OPERATOR_KERNEL_CLASS_NAME, so
cpu_execution_provider.cc does not name their types, and float16 inputs load wherever a float
kernel exists (onnxruntime's InsertCastTransformer wraps the node in casts), which no source
listing shows. --check-source compares the measurement with the typed registrations
(ONNX_OPERATOR_[VERSIONED_]TYPED_KERNEL_CLASS_NAME) of a given cpu_execution_provider.cc.

Each op is measured in up to two contexts: every input outside the first input's constraint
a fixed type (float, else int64, ...), and every input with a type parameter of its own the
first input's type (BatchNormalization-15 all double, Attention all bfloat16).
An (op, opset) where no type loads is kept when some type passes the schema and finds no
kernel (RoiAlign-22: no CPU kernel at that opset for any type).

Output (JSON): {"onnxruntime": version, "ops": {op: [[since, until, refused_dtypes,
other_inputs], ...]}} where the dtypes are onnx TensorProto numbers and other_inputs maps an
input index to the dtype it had in the measurement, 0 meaning the first input's (the check
applies only when a node's inputs agree with them).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

import onnx
import onnx.defs
import onnx.helper as h
from onnx import TensorProto as T

DTYPES = [T.FLOAT, T.DOUBLE, T.FLOAT16, T.BFLOAT16, T.INT8, T.INT16, T.INT32, T.INT64,
          T.UINT8, T.UINT16, T.UINT32, T.UINT64, T.BOOL, T.STRING]
_NAME = {v: k for k, v in T.DataType.items()}
_STR = {f"tensor({n})": v for n, v in [
    ("float", T.FLOAT), ("double", T.DOUBLE), ("float16", T.FLOAT16), ("bfloat16", T.BFLOAT16),
    ("int8", T.INT8), ("int16", T.INT16), ("int32", T.INT32), ("int64", T.INT64),
    ("uint8", T.UINT8), ("uint16", T.UINT16), ("uint32", T.UINT32), ("uint64", T.UINT64),
    ("bool", T.BOOL), ("string", T.STRING)]}
# the fixed type of an input that does not share the first input's constraint: the most
# common one in real models
_PREFER = [T.FLOAT, T.INT64, T.INT32, T.BOOL, T.UINT8, T.DOUBLE, T.FLOAT16, T.STRING]
# ops whose output type is an attribute (set here to an arbitrary value): a missing kernel may
# be the attribute's doing, so only the schema's refusal of the first input is recorded
_ATTR_TYPED = {"Cast", "BitCast", "EyeLike", "RandomNormalLike", "RandomUniformLike",
               "Multinomial", "Bernoulli"}
_ATTR = {
    onnx.AttributeProto.INT: 1, onnx.AttributeProto.INTS: [1], onnx.AttributeProto.FLOAT: 1.0,
    onnx.AttributeProto.FLOATS: [1.0], onnx.AttributeProto.STRING: "a",
    onnx.AttributeProto.STRINGS: ["a"],
}
_SKIP_ATTR = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS, onnx.AttributeProto.TENSOR,
              onnx.AttributeProto.SPARSE_TENSOR, onnx.AttributeProto.TYPE_PROTO)


def _fixed_type(schema, type_str):
    if type_str in _STR:
        return _STR[type_str]
    for tc in schema.type_constraints:
        if tc.type_param_str == type_str:
            allowed = {_STR[s] for s in tc.allowed_type_strs if s in _STR}
            for t in _PREFER:
                if t in allowed:
                    return t
    return None


def _variants(schema):
    """Input lists to try: required inputs only; every input; required plus the last one."""
    ins = list(schema.inputs)
    opt = onnx.defs.OpSchema.FormalParameterOption
    req = [i if (p.option != opt.Optional or i == 0) else None for i, p in enumerate(ins)]
    while req and req[-1] is None:
        req.pop()
    yield req
    yield list(range(len(ins)))
    if len(ins) > 1:
        last = req + [None] * (len(ins) - len(req))
        last[-1] = len(ins) - 1
        yield last


def _model(schema, opset, dtype, used, same=False):
    ins = list(schema.inputs)
    t0 = ins[0].type_str
    names, vis, fixed = [], [], {}
    for i, p in enumerate(ins):
        if i >= len(used) or used[i] is None:
            names.append("")
            continue
        if p.type_str == t0:
            t = dtype
        elif same and p.type_str not in _STR:
            t, fixed[i] = dtype, 0  # 0: the first input's type
        else:
            t = _fixed_type(schema, p.type_str)
            if t is None:
                return None, None
            fixed[i] = t
        names.append(f"x{i}")
        vis.append(h.make_tensor_value_info(f"x{i}", t, None))
    while names and names[-1] == "":
        names.pop()
    opt = onnx.defs.OpSchema.FormalParameterOption
    outs = [f"y{i}" if (p.option != opt.Optional or i == 0) else ""
            for i, p in enumerate(schema.outputs)]
    while outs and outs[-1] == "":
        outs.pop()
    attrs = {}
    for a in schema.attributes.values():
        if a.required:
            if a.type in _SKIP_ATTR or a.type not in _ATTR:
                return None, None
            attrs[a.name] = _ATTR[a.type]
    node = h.make_node(schema.name, names, outs, **attrs)
    g = h.make_graph([node], "g", vis, [onnx.ValueInfoProto(name=o) for o in outs if o])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)], ir_version=10)
    return m, fixed


def _try(model, first_input_names) -> str:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    try:
        ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        return "ok"
    except Exception as e:  # noqa: BLE001
        msg = str(e)
    if "Could not find an implementation" in msg:
        return "nokernel"
    m = re.search(r"Type Error: Type '[^']*' of input parameter \(([^)]*)\)", msg)
    if m and m.group(1) in first_input_names:
        return "refused"
    return "other"


def probe(op: str, max_opset: int):
    """[(opset, refused dtypes, fixed other inputs)] for the opsets where some type loads."""
    rows = []
    for opset in range(1, max_opset + 1):
        try:
            schema = onnx.defs.get_schema(op, opset, "")
        except onnx.defs.SchemaError:
            continue
        if schema.deprecated or not schema.inputs or any(
                a.type in _SKIP_ATTR and a.required for a in schema.attributes.values()):
            continue
        t0 = schema.inputs[0].type_str
        no = ("refused",) if op in _ATTR_TYPED else ("refused", "nokernel")
        for used in _variants(schema):
            first = {f"x{i}" for i, p in enumerate(schema.inputs)
                     if p.type_str == t0 and i < len(used) and used[i] is not None}
            found = []
            for same in (False, True):
                # same=False: every other input a fixed type (the context recorded);
                # same=True: every other input of a type parameter takes the first input's
                # type (recorded as 0; a schema refusal of another input counts as 'other')
                res, fixed = {}, None
                for dt in DTYPES:
                    m, fx = _model(schema, opset, dt, used, same)
                    if m is None:
                        break
                    if same and 0 not in fx.values():
                        break  # no input takes the first one's type: the first context
                    res[dt] = _try(m, first)
                    fixed = fx
                if fixed is None:
                    continue
                # kept when the model is right up to the kernel lookup for some type: one
                # loads, or one passes the schema and finds no kernel (none at this opset)
                if any(r == "ok" or (r == "nokernel" and "nokernel" in no)
                       for r in res.values()):
                    row = (opset, sorted(d for d, r in res.items() if r in no), fixed)
                    if not any(f[2] == fixed for f in found):
                        found.append(row)
            if found:
                rows.extend(found)
                break
    return rows


def _ranges(rows):
    """Merge consecutive opsets with the same result and context into
    [since, until, refused, fixed], one run per context."""
    out, last = [], {}
    for opset, refused, fixed in rows:
        fx = {str(k): v for k, v in sorted(fixed.items())}
        key = json.dumps(fx, sort_keys=True)
        r = last.get(key)
        if r is not None and r[1] == opset - 1 and r[2] == refused:
            r[1] = opset
        else:
            last[key] = r = [opset, opset, refused, fx]
            out.append(r)
    return sorted(out, key=lambda r: (r[0], json.dumps(r[3], sort_keys=True)))


def _max_opset() -> int:
    """The newest default-domain opset onnxruntime loads (a model with only Identity)."""
    import onnxruntime as ort

    best = 1
    for v in range(1, onnx.defs.onnx_opset_version() + 1):
        g = h.make_graph([h.make_node("Identity", ["x"], ["y"])], "g",
                         [h.make_tensor_value_info("x", T.FLOAT, None)],
                         [h.make_tensor_value_info("y", T.FLOAT, None)])
        m = h.make_model(g, opset_imports=[h.make_opsetid("", v)], ir_version=10)
        try:
            ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            best = v
        except Exception:  # noqa: BLE001
            pass
    return best


# ---- the cross-check with cpu_execution_provider.cc --------------------------------------
_CPP = {"float": T.FLOAT, "double": T.DOUBLE, "MLFloat16": T.FLOAT16, "BFloat16": T.BFLOAT16,
        "int8_t": T.INT8, "int16_t": T.INT16, "int32_t": T.INT32, "int64_t": T.INT64,
        "uint8_t": T.UINT8, "uint16_t": T.UINT16, "uint32_t": T.UINT32, "uint64_t": T.UINT64,
        "bool": T.BOOL, "string": T.STRING, "std::string": T.STRING}
_TYPED = re.compile(
    r"ONNX_OPERATOR_(VERSIONED_)?TYPED_KERNEL_CLASS_NAME\(\s*kCpuExecutionProvider,\s*"
    r"kOnnxDomain,\s*(\d+),\s*(?:(\d+),\s*)?([\w:]+),\s*(\w+)\)")


def source_table(text: str) -> dict:
    """{(op, opset): set of dtypes} from the typed registrations of cpu_execution_provider.cc
    (forward declarations and BuildKernelCreateInfo lines alike; opsets up to 30)."""
    out: dict = {}
    for m in _TYPED.finditer(text):
        versioned, since, until, ctype, op = m.groups()
        if ctype not in _CPP:
            continue  # compound names (OneHot's int64_t_int64_t_int64_t ...)
        hi = int(until) if versioned else 30
        for v in range(int(since), hi + 1):
            out.setdefault((op, v), set()).add(_CPP[ctype])
    return out


def check_source(table: dict, path: str) -> None:
    """Agreement of the measurement with the source's typed registrations: a type the source
    registers must load; a numeric type it does not register (float16 excepted: the cast
    insertion) should be refused, unless the op also has an untyped kernel at that opset."""
    src = source_table(open(path, encoding="utf-8").read())
    agree = disagree = 0
    notes = []
    for (op, v), types in sorted(src.items()):
        rows = table["ops"].get(op)
        if not rows:
            continue
        row = next((r for r in rows if r[0] <= v <= r[1]), None)
        if row is None:
            continue
        refused = set(row[2])
        for dt in DTYPES:
            if dt == T.FLOAT16 and T.FLOAT in types:
                continue
            registered = dt in types
            loaded = dt not in refused
            if registered and not loaded:
                disagree += 1
                notes.append(f"{op}-{v} {_NAME[dt]}: registered, refused")
            elif not registered and loaded:
                # another registration (untyped, or a templated list) may provide it
                notes.append(f"{op}-{v} {_NAME[dt]}: not in a typed line, loads")
            else:
                agree += 1
    print(f"source check: {agree} agree, {disagree} registered-but-refused, "
          f"{len(notes) - disagree} loaded-without-a-typed-line", file=sys.stderr)
    bad = [n for n in notes if n.endswith("refused")]
    for n in bad:
        print("  " + n, file=sys.stderr)
    per: dict = {}
    for n in notes:
        if not n.endswith("refused"):
            per[n.split("-")[0]] = per.get(n.split("-")[0], 0) + 1
    print("  loaded without a typed line, per op: "
          + ", ".join(f"{op} {k}" for op, k in sorted(per.items())), file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", help="comma-separated op names (default: every default-domain op)")
    ap.add_argument("--out", default=None, help="write the JSON table here (default: stdout)")
    ap.add_argument("--check-source", metavar="CC", help="compare with cpu_execution_provider.cc")
    ap.add_argument("--table", help="use this JSON table instead of measuring (with --check-source)")
    args = ap.parse_args(argv)
    import onnxruntime as ort

    ort.set_default_logger_severity(3)

    if args.table:
        table = json.load(open(args.table, encoding="utf-8"))
    else:
        max_opset = _max_opset()
        ops = args.ops.split(",") if args.ops else sorted(
            {s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == ""})
        table = {"onnxruntime": ort.__version__, "onnx": onnx.__version__,
                 "max_opset": max_opset, "dtype_names": {d: _NAME[d] for d in DTYPES},
                 "ops": {}}
        t0 = time.time()
        for op in ops:
            rows = probe(op, max_opset)
            if rows:
                table["ops"][op] = _ranges(rows)
            print(f"{op}: {len(rows)} opsets ({time.time() - t0:.0f} s)", file=sys.stderr)
        text = json.dumps(table, indent=None, separators=(",", ":"), sort_keys=True)
        text = text.replace('],"', '],\n"')  # one op a line: readable diffs
        if args.out:
            with open(args.out, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        else:
            print(text)
    if args.check_source:
        check_source(table, args.check_source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
