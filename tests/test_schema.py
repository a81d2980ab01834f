"""Every JSON output is valid against the schema shipped in the package."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from graphshape.cli import main
from graphshape.render import schema

CASES = [
    ("analysis", ["analyze", "{toy}", "--format", "json"], 0),
    ("analysis", ["analyze", "{toy}", "--json"], 0),
    ("explanation", ["check", "{toy}", "--size", "H=300", "--size", "W=300", "--format", "json"], 1),
    ("explanation", ["check", "{toy}", "--size", "H=256", "--size", "W=256", "--json"], 0),
    ("explanation", ["explain", "{toy}", "--size", "H=300", "--size", "W=300", "--json"], 1),
    ("domain_summary", ["explain", "{toy}", "--json"], 0),
    ("verification", ["verify", "{toy}", "--size", "H=256", "--size", "W=256", "--json"], 0),
    ("audit", ["audit", "{toy}", "--format", "json"], 0),
    ("contract", ["check", "{toy}", "--require", "H in 250..260, W = H", "--json"], 1),
    ("ops", ["ops", "--json"], 0),
]


@pytest.mark.parametrize("kind,args,code", CASES, ids=[" ".join(c[1][:1] + c[1][2:]) for c in CASES])
def test_json_output_matches_schema(toy_path, kind, args, code):
    r = CliRunner().invoke(main, [a.format(toy=toy_path) for a in args])
    assert r.exit_code == code, r.output
    schema.validate(json.loads(r.output), kind)


def test_schema_rejects_a_wrong_output():
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        schema.validate({"sizes": {"H": 1}, "verdict": "maybe"}, "explanation")
