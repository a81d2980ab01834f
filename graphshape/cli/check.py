"""``graphshape check``: the verdict at one size, or whether a size contract holds.

At concrete sizes the walk at those ints answers where it provably gives the analysis's
answer (answers/at_sizes.py: a valid size of a plain convolutional model, in a tenth of the
time); every other answer is the analysis's, imported only then (docs/performance.md)."""

from __future__ import annotations

import json
import os

import click

from graphshape.arith import lazy
from graphshape.cli.app import (
    EPILOG,
    analysed,
    assumed_lines,
    emit,
    finish,
    format_option,
    guarded,
    main,
    model_options,
    output_option,
    parse_sizes,
    sizes_text,
)
from graphshape.errors import UsageError
from graphshape.render import markdown
from graphshape.results import Verdict

# the walk at the sizes (the rules: a tenth of a second to import) when the command runs,
# not for its --help; the analysis (sympy, isl, the solver: most of a second) only where
# that walk cannot answer (a contract, an invalid or unproven size, a model outside its cases)
at_sizes = lazy.module("graphshape.answers.at_sizes")


@main.command(epilog=EPILOG)
@model_options
@click.option("--size", "sizes", multiple=True, metavar="NAME=INT",
              help="A value for a symbolic dim (repeatable).")
@click.option("--require", "require", metavar="CONTRACT",
              help='A size contract, e.g. "H in 224..640 step 32, W = H": exit 0 when every '
                   "size it names is valid, 1 when not (with the first failing sizes), 3 when "
                   "unproven.")
@format_option("text", "json", "markdown")
@output_option
@guarded
def check(model, dims, sizes, require, fmt, output):
    """Exit 0 if the size is valid, 1 if not (saying which node rejects it), 3 if unproven;
    with --require, whether every size of a contract is valid (one exact set query)."""

    if bool(sizes) == bool(require):
        raise UsageError("give either --size NAME=INT ... or --require CONTRACT")
    ex = _at_sizes(model, dims, sizes) if sizes else None
    if ex is None:
        a = analysed(model, dims)
        if require:
            res = a.require(require)
            emit({"json": lambda: json.dumps(res.to_json(), indent=2),
                  "markdown": lambda: markdown.contract(res.to_json())}.get(fmt, res.text)(),
                 output)
            finish(res)
        ex = a.explain(parse_sizes(sizes))
    s = ex.sizes
    if fmt in ("json", "markdown"):
        d = json.loads(json.dumps(ex.to_json(), default=str))
        emit(json.dumps(d, indent=2) if fmt == "json" else markdown.explanation(d), output)
        finish(ex)
    if ex.verdict == Verdict.VALID:
        shapes = "; ".join(f"{k}: {v}" for k, v in ex.output_shapes.items())
        lines = [f"valid: {sizes_text(s)} -> {shapes}"]
        lines += [f"  (at every size the run also needs {r})" for r in ex.requires]
    elif ex.verdict == Verdict.UNPROVEN:
        lines = [f"unproven: {sizes_text(s)} passes every proven condition, but:"]
        lines += [f"  because {u}" for u in ex.unproven]
    else:
        lines = [f"invalid: {sizes_text(s)}"]
        for v in ex.violations:
            lines.append(f"  {v.describe()}")
            lines += [f"      {t}" for t in v.detail_lines()]
    lines += assumed_lines(ex)
    emit("\n".join(lines), output)
    finish(ex)


def _at_sizes(model, dims, sizes):
    """The walk's answer at the sizes, or None: the analysis answers (and reports a bad
    size or model its own way, model first)."""
    try:
        s = parse_sizes(sizes)
    except UsageError:
        return None
    try:
        return at_sizes.explain_at(model, list(dims), s)
    except Exception:  # noqa: BLE001  the analysis is the answer of record; it runs instead
        if os.environ.get("GRAPHSHAPE_DEBUG"):
            raise
        return None
