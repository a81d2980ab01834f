"""The deployer's commands: fit, profiles, spec (registered on cli.main); ``check --require``
lives in cli.py.

Exit codes: 0 ok / included, 1 not included / no valid size / a verification
disagreement, 2 bad usage, 3 unproven (cli.EXIT_*)."""

from __future__ import annotations

import json
import sys

import click

from . import cli
from . import markdown
from .cli import emit, format_option, guarded, model_options, output_option, parse_sizes
from .errors import UsageError

EXIT_OK = getattr(cli, "EXIT_OK", 0)
EXIT_INVALID = getattr(cli, "EXIT_INVALID", 1)
EXIT_USAGE = getattr(cli, "EXIT_USAGE", 2)
EXIT_UNPROVEN = getattr(cli, "EXIT_UNPROVEN", 3)

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
    from . import analyze

    return analyze(model, dims=list(dims))


def _opt_sizes(items) -> dict:
    out = {}
    for item in items:
        for part in item.split(","):
            if part.strip():
                out.update(parse_sizes([part]))
    return out


# ---- fit ------------------------------------------------------------------------------------
@click.command(epilog=DEPLOY_EPILOG)
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
    from .fit import fit as run_fit

    a = _analyze(model, dims)
    res = run_fit(a, parse_sizes(sizes), policy, letterbox)
    emit({"json": lambda: json.dumps(res.to_json(), indent=2),
          "markdown": lambda: markdown.fit(json.loads(json.dumps(res.to_json())))}.get(
        fmt, res.text)(), output)
    if not res.suggestions:
        sys.exit(EXIT_INVALID)
    sys.exit(EXIT_OK if res.proven else EXIT_UNPROVEN)


# ---- profiles -------------------------------------------------------------------------------
@click.command(epilog=DEPLOY_EPILOG)
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
    from . import profiles as P

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
            sys.exit(getattr(cli, "EXIT_INTERRUPTED", 130))
        if not rep.ok:
            sys.exit(EXIT_INVALID)
    if not res.profiles:
        sys.exit(EXIT_INVALID)
    sys.exit(EXIT_OK if res.exact else EXIT_UNPROVEN)


# ---- spec -----------------------------------------------------------------------------------
@click.command(epilog=DEPLOY_EPILOG)
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
    from . import spec as S

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
            exact = st.verdict == "valid"
        else:
            emit(S.render_json(S.json_spec(a)), output)
            exact = a.domain.exact
    except S.NoValidSize as e:
        click.echo(f"graphshape: {e}", err=True)
        sys.exit(EXIT_INVALID)
    sys.exit(EXIT_OK if exact else EXIT_UNPROVEN)


def _groups():
    yield cli.main
    # `python -m graphshape.cli` runs cli.py as __main__, a second copy of the module
    # with its own group: register there too
    m = sys.modules.get("__main__")
    spec_ = getattr(m, "__spec__", None)
    if spec_ is not None and spec_.name == "graphshape.cli" and hasattr(m, "main"):
        yield m.main


for _group in _groups():
    for _cmd in (fit, profiles, spec):
        if _cmd.name not in _group.commands:
            _group.add_command(_cmd)
