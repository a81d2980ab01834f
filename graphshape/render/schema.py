"""The JSON Schema of graphshape's JSON outputs, shipped in the package
(graphshape/schemas/graphshape.schema.json); ``validate(obj, kind)`` checks one output
(``kind`` one of its $defs: analysis, explanation, domain_summary, verification, audit,
contract, ops; the registry audit's audit_registry, audit_runs and audit_diff). Validation
needs the ``jsonschema`` package (the ``test`` extra)."""

from __future__ import annotations

import json
import os

__all__ = ["SCHEMA_PATH", "load", "validate", "KINDS"]

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schemas",
                           "graphshape.schema.json")
KINDS = ("analysis", "explanation", "domain_summary", "verification", "audit", "contract",
         "ops", "audit_registry", "audit_runs", "audit_diff")


def load() -> dict:
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        return json.load(f)


def validate(obj, kind: str) -> None:
    """Raise jsonschema.ValidationError when ``obj`` is not a valid ``kind`` output."""
    import jsonschema  # noqa: PLC0415  jsonschema: an optional extra

    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}; one of {', '.join(KINDS)}")
    schema = load()
    sub = dict(schema, **{"$ref": f"#/$defs/{kind}"})
    jsonschema.validate(obj, sub)
