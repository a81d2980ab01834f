"""What onnxruntime refuses whatever the sizes: element types its CPU provider has no kernel
for, opsets above the ones it loads, and nodes that break their op's schema (attributes,
arity, type constraints). Read from two tables measured on onnxruntime 1.31.1 and onnx
1.23.2 (graphshape/data/, written by tools/)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from graphshape.dtypes import DataType, words

_DATA = Path(__file__).resolve().parents[1] / "data"


# ---- element types onnxruntime's CPU provider has no kernel for ----------------------------
# graphshape/data/ort_cpu_kernels.json, measured by tools/ort_kernel_table.py on onnxruntime
# 1.31.1 (a one-node model per op x opset x element type; docs/kernels.md): per default-domain
# op, rows [since, until, refused element types of input 0, {input index: dtype}] where the
# last maps the other inputs to the types they had in the measurement (0: input 0's type).
_KERNELS: dict | None = None


def _kernel_table() -> dict:
    global _KERNELS
    if _KERNELS is None:
        raw = json.loads((_DATA / "ort_cpu_kernels.json").read_text())
        _KERNELS = {op: [(a, b, frozenset(ref), tuple((int(i), t) for i, t in fx.items()))
                         for a, b, ref, fx in rows] for op, rows in raw["ops"].items()}
    return _KERNELS


def missing_kernel(domain: str, op: str, opset: int, inputs: list) -> str | None:
    """Why onnxruntime's CPU provider cannot load this node (no kernel, or the schema refuses
    the element type of its first input), or None when it can or the table does not say.
    ``inputs`` are the node's Tensors (None for a missing input, dtype 0 when unknown)."""
    if domain or not inputs or inputs[0] is None:
        return None
    rows = _kernel_table().get(op)
    if not rows:
        return None
    dt = inputs[0].dtype
    for since, until, refused, fixed in rows:
        # rows of one opset differ in the other inputs' types they were measured with (0:
        # the first input's); a node is checked against those its inputs agree with
        if since <= opset <= until and dt in refused and all(
                i >= len(inputs) or inputs[i] is None or inputs[i].dtype in (0, t or dt)
                for i, t in fixed):
            return (f"onnxruntime's CPU provider has no {op}-{opset} kernel for "
                    f"{words(dt)} inputs (it refuses the "
                    "model when loading it)")
    return None


_SCHEMA_DOMAINS = {"": "", "ai.onnx": "", "ai.onnx.ml": "ai.onnx.ml",
                   "ai.onnx.preview.training": "ai.onnx.preview.training"}
_ATTR_TYPE_WORDS = {1: "FLOAT", 2: "INT", 3: "STRING", 4: "TENSOR", 5: "GRAPH", 6: "FLOATS",
                    7: "INTS", 8: "STRINGS", 9: "TENSORS", 10: "GRAPHS",
                    11: "SPARSE_TENSOR", 12: "SPARSE_TENSORS", 13: "TYPE_PROTO",
                    14: "TYPE_PROTOS", 0: "UNDEFINED"}


# the newest opset of each domain onnxruntime 1.31.1 loads (measured: ai.onnx 27 and
# ai.onnx.ml 6 are refused by ValidateOpsetForDomain)
ORT_MAX_OPSET = {"": 26, "ai.onnx.ml": 5}


def opset_refusal(domain: str, opset: int) -> str | None:
    """Why onnxruntime refuses a model importing this opset of a domain, or None."""
    top = ORT_MAX_OPSET.get(domain)
    if top is not None and opset > top:
        name = domain or "ai.onnx"
        return (f"the model imports {name} opset {opset}; onnxruntime 1.31.1 loads {name} "
                f"opsets up to {top} and refuses the model")
    return None




@functools.cache
def type_words(dtype: int) -> str:
    t = DataType.of(dtype)
    return f"tensor({t.onnx_name})" if t else f"tensor(element type {dtype})"


# graphshape/data/onnx_schemas.json, written by tools/onnx_schema_table.py from the installed
# onnx: per domain and op, each schema version's attributes, arity, formal inputs and type
# constraints (a table, so that no analysis imports the onnx package)
_SCHEMAS: dict | None = None


def schema_of(domain: str, op: str, opset: int) -> dict | None:
    """The op's schema in force at ``opset`` (the newest version <= opset), or None."""
    global _SCHEMAS
    if _SCHEMAS is None:
        _SCHEMAS = json.loads((_DATA / "onnx_schemas.json").read_text())
    best = None
    for e in _SCHEMAS["ops"].get(domain, {}).get(op, ()):
        if e["since"] <= opset:
            best = e
    return best


def schema_refusal(domain: str, op: str, opset: int, node, inputs=()) -> str | None:
    """Why onnxruntime refuses to load a model with this node whatever the sizes, or None:
    the node breaks its op's schema at that opset, which onnxruntime's graph resolution
    checks (measured on 1.31.1): an attribute the schema does not name ('Unrecognized
    attribute'), one of another type ('Mismatched attribute type'), a required one missing,
    input or output counts outside the schema's, input element types the schema does not
    allow or that one type parameter binds to two types. Names starting with '__' are let
    through, as onnxruntime does; no schema (an op graphshape has a rule for but onnx does
    not know) is not this check's business."""
    sd = _SCHEMA_DOMAINS.get(domain)
    schema = schema_of(sd, op, opset) if sd is not None else None
    if schema is None:
        return None
    want = schema["attrs"]
    where = f"{op}-{schema['since']}"
    seen = set()
    for a in node.attribute:
        seen.add(a.name)
        if a.name.startswith("__") or a.ref_attr_name:
            continue
        spec = want.get(a.name)
        if spec is None:
            return (f"attribute '{a.name}' is not in the {where} schema: onnxruntime refuses "
                    "to load the model ('Unrecognized attribute')")
        if int(a.type) != spec[0]:
            return (f"attribute '{a.name}' is {_ATTR_TYPE_WORDS.get(int(a.type), a.type)} "
                    f"where the {where} schema wants {_ATTR_TYPE_WORDS.get(spec[0], spec[0])}"
                    ": onnxruntime refuses to load the model ('Mismatched attribute type')")
    for name, (_, required) in want.items():
        if required and name not in seen:
            return (f"the {where} schema requires attribute '{name}', which the node lacks: "
                    "onnxruntime refuses to load the model")
    (lo_in, hi_in), (lo_out, hi_out) = schema["inputs"], schema["outputs"]
    if not lo_in <= len(node.input) <= hi_in:
        return (f"{len(node.input)} inputs where the {where} schema takes "
                f"{_arity(lo_in, hi_in)}: onnxruntime refuses to load the model")
    if not lo_out <= len(node.output) <= hi_out:
        return (f"{len(node.output)} outputs where the {where} schema has "
                f"{_arity(lo_out, hi_out)}: onnxruntime refuses to load the model")
    return _type_refusal(schema, where, node, inputs)


def _arity(lo: int, hi: int) -> str:
    if lo == hi:
        return str(lo)
    return f"at least {lo}" if hi >= 2 ** 31 - 1 else f"{lo} to {hi}"


def _type_refusal(schema: dict, where: str, node, inputs) -> str | None:
    """The schema's type constraints on the node's inputs of known element type: each must
    be allowed, and the inputs bound to one type parameter must agree (onnxruntime: 'Type
    Error: Type ... of input parameter ... is invalid', 'Type parameter (T) ... bound to
    different types'). Sequences, optionals and unknown types are not judged."""
    formals = schema["formals"]
    if not formals:
        return None
    allowed = schema.get("allowed")
    if allowed is None:  # each schema's sets made once, on the first node that needs them
        assert _SCHEMAS is not None  # schema_of loaded the table before its row came here
        lists = _SCHEMAS["type_lists"]
        allowed = schema["allowed"] = {p: set(lists[k]) for p, k in schema["types"].items()}
    variadic = schema["variadic"]
    bound: dict = {}
    for i, t in enumerate(inputs):
        if i >= len(node.input) or not node.input[i]:
            continue
        if t is None or not isinstance(getattr(t, "dtype", None), int) or t.dtype <= 0:
            continue
        if i >= len(formals) and not variadic:
            continue
        k = min(i, len(formals) - 1)
        fname, ftype, homogeneous = formals[k]
        ts = type_words(t.dtype)
        ok = allowed.get(ftype, {ftype})
        if any(a.startswith("tensor(") for a in ok) and ts not in ok:
            return (f"input {i} ('{node.input[i]}') is {ts}, which the {where} schema does not "
                    f"allow for {fname}: onnxruntime refuses to load the model")
        if ftype in allowed and not (variadic and k == len(formals) - 1 and not homogeneous):
            first = bound.setdefault(ftype, (i, ts))
            if first[1] != ts:
                return (f"inputs {first[0]} and {i} are {first[1]} and {ts}, but the {where} "
                        f"schema binds both to one type {ftype}: onnxruntime refuses to "
                        "load the model")
    return None
