"""The deployer's commands: fit, profiles, spec (registered on the group of
``graphshape.cli.app``); ``check --require`` lives in ``check.py``.

Exit codes: 0 ok / included, 1 not included / no valid size / a verification
disagreement, 2 bad usage, 3 unproven (``graphshape.results.ExitCode``)."""

from __future__ import annotations

import json
import sys

import click

from graphshape.arith import lazy
from graphshape.cli.app import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNPROVEN,
    analysed,
    emit,
    format_option,
    guarded,
    main,
    model_options,
    output_option,
    parse_sizes,
)
from graphshape.errors import UsageError
from graphshape.render import markdown
from graphshape.results import Verdict

# the analysis and the answers (sympy, isl, numpy: most of a second to import) are imported
# when a command runs, not for `--help` (arith/lazy.py)
P = lazy.module("graphshape.answers.profiles")
S = lazy.module("graphshape.answers.spec")
fit_answers = lazy.module("graphshape.answers.fit")

DEPLOY_EPILOG = """\b
Examples:
  graphshape fit model.onnx --size H=1080 --size W=1920
  graphshape fit model.onnx --size H=300 --size W=300 --policy crop --json
  graphshape fit bert.onnx --size S=700
  graphshape profiles model.onnx --range "H in 256..1024, W in 256..1024" --opt H=640,W=640
  graphshape profiles model.onnx --format polygraphy --verify
  graphshape spec model.onnx --for torch
  graphshape spec model.onnx --for static --size H=1080 --size W=1920
  graphshape check model.onnx --require "H in 224..640 step 32, W = H"
\b
Exit codes: 0 ok/included, 1 not included/no valid size/disagreement, 2 bad usage,
3 unproven."""


def _analyze(model, dims):
    return analysed(model, dims)


def _opt_sizes(items) -> dict:
    out = {}
    for item in items:
        for part in item.split(","):
            if part.strip():
                out.update(parse_sizes([part]))
    return out


# ---- fit ------------------------------------------------------------------------------------
@main.command(epilog=DEPLOY_EPILOG)
@model_options
@click.option("--size", "sizes", multiple=True, required=True, metavar="NAME=INT",
              help="The size you have (repeatable); symbols left out are free.")
@click.option("--policy", type=click.Choice(["any", "pad", "crop", "resize"]), default="any",
              show_default=True, help="How the input may be changed.")
@click.option("--letterbox", type=click.Choice(["center", "bottom-right"]), default="center",
              show_default=True, help="Where padding goes (and what a crop removes).")
@format_option("text", "json", "markdown")
@output_option
@guarded
def fit(model, dims, sizes, policy, letterbox, fmt, output):
    """The nearest valid size to the one you have: pad (letterbox), crop (or windows),
    resize; with the node that forces the change."""

    a = _analyze(model, dims)
    res = fit_answers.fit(a, parse_sizes(sizes), policy, letterbox)
    emit({"json": lambda: json.dumps(res.to_json(), indent=2),
          "markdown": lambda: markdown.fit(json.loads(json.dumps(res.to_json())))}.get(
        fmt, res.text)(), output)
    if not res.suggestions:
        sys.exit(EXIT_INVALID)
    sys.exit(EXIT_OK if res.proven else EXIT_UNPROVEN)


# ---- profiles -------------------------------------------------------------------------------
@main.command(epilog=DEPLOY_EPILOG)
@model_options
@click.option("--range", "range_spec", metavar="RANGE",
              help="Sizes to cover, e.g. \"H in 256..1024, W in 256..1024\" (default: the "
                   "domain's bounds; unbounded symbols up to 1024, a batch up to 32).")
@click.option("--opt", "opt", multiple=True, metavar="NAME=INT[,NAME=INT]",
              help="The size TensorRT tunes for, e.g. H=640,W=640.")
@click.option("--max-profiles", default=16, show_default=True,
              help="At most this many profiles (the boxes with the most valid sizes).")
@format_option("text", "trtexec", "polygraphy", "ort-trt", "json", "markdown")
@click.option("--verify", "do_verify", is_flag=True,
              help="Run every profile corner (and opt) on onnxruntime.")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds per run.")
@click.option("--cpu", is_flag=True, help="Use the CPU provider even when a GPU is present.")
@output_option
@guarded
def profiles(model, dims, range_spec, opt, max_profiles, fmt, do_verify, timeout, cpu,
             output):
    """TensorRT optimization profiles (min/opt/max per dynamic input, one per disjoint box
    of valid sizes, lattices named) for trtexec, Polygraphy, onnxruntime's TensorRT
    provider, or JSON."""

    if max_profiles < 1:
        raise UsageError("--max-profiles must be at least 1")
    a = _analyze(model, dims)
    try:
        res = P.profiles(a, range_spec, _opt_sizes(opt), max_profiles)
    except P.OptInvalid as e:
        click.echo(f"graphshape: {e}", err=True)
        sys.exit(EXIT_INVALID)
    res.model = model
    rep = None
    if do_verify and res.profiles:
        rep = P.verify_profiles(a, res, timeout=timeout,
                                providers=["CPUExecutionProvider"] if cpu else None)
    out = markdown.profiles(json.loads(json.dumps(res.to_json()))) if fmt == "markdown" \
        else P.render(res, fmt)
    if rep is not None and fmt == "text":
        out += "\n\nverified: " + rep.summary()
        for v in rep.disagreements[:5]:
            out += f"\n  DISAGREE at {v.sizes}: predicted {v.predicted}, onnxruntime " \
                   f"{v.observed} ({v.detail})"
    emit(out, output)
    if rep is not None:
        # verification lines go to stderr for the machine formats (stdout stays pasteable)
        if fmt != "text":
            click.echo("verified: " + rep.summary(), err=True)
        if rep.interrupted:
            sys.exit(EXIT_INTERRUPTED)
        if not rep.ok:
            sys.exit(EXIT_INVALID)
    if not res.profiles:
        sys.exit(EXIT_INVALID)
    sys.exit(EXIT_OK if res.exact else EXIT_UNPROVEN)


# ---- spec -----------------------------------------------------------------------------------
@main.command(epilog=DEPLOY_EPILOG)
@model_options
@click.option("--for", "target", type=click.Choice(["torch", "static", "json"]),
              required=True, help="torch: torch.export dynamic_shapes; static: the nearest "
              "valid fixed size and the command that fixes it; json: every condition with "
              "its provenance.")
@click.option("--size", "sizes", multiple=True, metavar="NAME=INT",
              help="The export (or wanted) size (repeatable).")
@click.option("--fixed-model", "fixed_model", type=click.Path(dir_okay=False),
              help="--for static: where the fixed model goes (default MODEL.fixed.onnx).")
@format_option("text", "json")
@output_option
@guarded
def spec(model, dims, target, sizes, fixed_model, fmt, output):
    """Specs for the tools around the model: torch.export dynamic_shapes, a static size for
    make_dynamic_shape_fixed, or the constraint list as JSON."""

    a = _analyze(model, dims)
    s = parse_sizes(sizes) if sizes else None
    try:
        if target == "torch":
            ts = S.torch_spec(a, s)
            emit(S.render_json(ts.to_json()) if fmt == "json" else ts.code(), output)
            exact = ts.proven
        elif target == "static":
            st = S.static_spec(a, s, model, fixed_model)
            emit(S.render_json(st.to_json()) if fmt == "json" else st.text(), output)
            exact = st.verdict == Verdict.VALID
        else:
            emit(S.render_json(S.json_spec(a)), output)
            exact = a.domain.exact
    except S.NoValidSize as e:
        click.echo(f"graphshape: {e}", err=True)
        sys.exit(EXIT_INVALID)
    sys.exit(EXIT_OK if exact else EXIT_UNPROVEN)
