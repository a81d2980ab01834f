"""`graphshape relax`: rewrite a model pinned to its export size so that it accepts every
size its layers allow (registered on the group of ``graphshape.cli.app``)."""

from __future__ import annotations

import sys

import click

from graphshape.cli.app import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNPROVEN,
    emit,
    guarded,
    main,
    model_options,
    parse_sizes,
)
from graphshape.errors import UsageError

RELAX_EPILOG = """\b
Examples:
  graphshape relax resnet.onnx -o resnet_any.onnx --dim data_0:2=H --dim data_0:3=W
  graphshape relax vgg.onnx -o vgg_any.onnx --dim data_0:2=H --dim data_0:3=W --adapt-head
  graphshape relax model.onnx -o out.onnx --size H=224 --size W=224 --dry-run
\b
The export size is the size the file declares on the --dim axes; for axes the file already
leaves symbolic give it with --size. Every rewrite keeps the outputs at the export size;
--adapt-head also inserts an adaptive average pool in front of a classifier whose weights
pin the map (outputs at other sizes are then the adapted model's).
\b
Exit codes: 0 written (or listed), 1 outputs differ or graphshape and onnxruntime disagree
(nothing written), 2 bad usage or unreadable model, 3 the new domain is unproven,
4 internal error, 130 interrupted."""


@main.command("relax", epilog=RELAX_EPILOG)
@model_options
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write the relaxed model (atomically; external data beside it).")
@click.option("--size", "sizes", multiple=True, metavar="NAME=INT",
              help="The export size of a dim the file leaves symbolic (repeatable).")
@click.option("--dry-run", is_flag=True, help="Only list the rewrites and the new domain.")
@click.option("--adapt-head", is_flag=True,
              help="Insert an adaptive average pool in front of a classifier whose weights "
                   "pin the feature map.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--points", default=8, show_default=True,
              help="Sizes to run on onnxruntime: the export size, then the new edges.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random input.")
@guarded
def relax(model, dims, output, sizes, dry_run, adapt_head, fmt, points, seed):
    """Rewrite size-pinning constants and ops so the model accepts every size its layers
    allow, keeping the outputs at the export size."""

    try:  # onnx-ir is optional (the torch extra brings it): import the rewriter only here
        from graphshape.relax import relax as run  # noqa: PLC0415  optional: needs onnx-ir
        from graphshape.relax import render  # noqa: PLC0415  optional: needs onnx-ir
    except ImportError as e:
        raise UsageError(f"relax needs onnx-ir ({e}): pip install 'graphshape[relax]'") from None

    if not dry_run and not output:
        raise UsageError("relax needs -o OUT (or --dry-run)")
    res = run(model, output, dims=list(dims), sizes=parse_sizes(sizes), dry_run=dry_run,
              adapt_head=adapt_head, max_points=points, seed=seed)
    emit(render.to_json(res) if fmt == "json" else render.text(res), None)
    if res.failure == "interrupted":
        sys.exit(EXIT_INTERRUPTED)
    if res.failure:
        sys.exit(EXIT_INVALID)
    if res.after_exact is False:
        sys.exit(EXIT_UNPROVEN)
    sys.exit(EXIT_OK)


