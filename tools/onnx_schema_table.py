"""Writes graphshape/data/onnx_schemas.json: what ort_compat.schema_refusal checks of each op
schema (attributes with type and required flag, input/output arity, formal inputs and their
type constraints), for every op and version of the ai.onnx, ai.onnx.ml and
ai.onnx.preview.training domains known to the installed onnx. A table, so that an analysis
never imports the onnx package (about 0.6 s). Run: python tools/onnx_schema_table.py"""

from __future__ import annotations

import json
import os

import onnx
import onnx.defs

DOMAINS = ("", "ai.onnx.ml", "ai.onnx.preview.training")
OUT = os.path.join(os.path.dirname(__file__), "..", "graphshape", "data", "onnx_schemas.json")


def main() -> None:
    type_lists: list = []
    index: dict = {}

    def intern(types) -> int:
        key = tuple(sorted(types))
        if key not in index:
            index[key] = len(type_lists)
            type_lists.append(list(key))
        return index[key]

    ops: dict = {}
    for s in onnx.defs.get_all_schemas_with_history():
        if s.domain not in DOMAINS:
            continue
        last = s.inputs[-1] if s.inputs else None
        entry = {
            "since": s.since_version,
            "attrs": {n: [int(a.type), bool(a.required)] for n, a in s.attributes.items()},
            "inputs": [s.min_input, s.max_input], "outputs": [s.min_output, s.max_output],
            "formals": [[f.name, f.type_str, f.is_homogeneous] for f in s.inputs],
            "variadic": bool(last is not None and
                             last.option == onnx.defs.OpSchema.FormalParameterOption.Variadic),
            "types": {c.type_param_str: intern(c.allowed_type_strs) for c in s.type_constraints},
        }
        ops.setdefault(s.domain, {}).setdefault(s.name, []).append(entry)
    for dom in ops.values():
        for versions in dom.values():
            versions.sort(key=lambda e: e["since"])
    data = {"onnx": onnx.__version__, "type_lists": type_lists, "ops": ops}
    with open(OUT + ".tmp", "w") as f:
        json.dump(data, f, separators=(",", ":"), sort_keys=True)
    os.replace(OUT + ".tmp", OUT)
    print(f"{OUT}: {sum(len(v) for d in ops.values() for v in d.values())} schemas, "
          f"{len(type_lists)} type lists, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
