"""``graphshape plot``: a picture of the valid region; ``graphshape report``: the model's
page, one self-contained HTML file (registered on cli.main)."""

from __future__ import annotations

import json
import os
import tempfile

import click

from graphshape.arith import lazy
from graphshape.cli.app import (
    analysed,
    emit,
    finish,
    format_option,
    guarded,
    main,
    model_options,
    onnxruntime_started,
    parse_sizes,
    progress_bar,
)
from graphshape.errors import UsageError

# the analysis, the renderers and onnxruntime's runs (sympy, isl, numpy: most of a second to
# import) are imported when a command runs, not for `--help` (arith/lazy.py)
html = lazy.module("graphshape.render.html")
P = lazy.module("graphshape.render.plot")
verification = lazy.module("graphshape.runtime.verify")


def _write_bytes(data: bytes, output: str) -> None:
    """Atomically, as cli.emit does for text."""
    d = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".graphshape-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@main.command()
@model_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The picture: .svg (no dependency) or .png (needs graphshape[plot]).")
@click.option("--x", "x_name", metavar="NAME", help="The dim on the horizontal axis.")
@click.option("--y", "y_name", metavar="NAME", help="The dim on the vertical axis.")
@click.option("--strip", "strip", metavar="NAME",
              help="A strip for one dim instead of a plane (the others held).")
@click.option("--size", "sizes", multiple=True, metavar="NAME=INT",
              help="Hold another dim at this size (default: the smallest valid size).")
@click.option("--max", "maxes", multiple=True, metavar="NAME=INT",
              help="The largest size shown on that dim's axis.")
@click.option("--scale", type=click.Choice(["auto", "linear", "log"]), default="auto",
              show_default=True)
@click.option("--verify", "do_verify", is_flag=True,
              help="Run onnxruntime at the domain's edges and mark the sizes it ran.")
@click.option("--random", "n_random", default=6, show_default=True,
              help="With --verify: random members and non-members added to the edges.")
@format_option("text", "json")
@guarded
def plot(model, dims, output, x_name, y_name, strip, sizes, maxes, scale, do_verify,
         n_random, fmt):
    """Draw the valid region in the plane of two symbolic dims (or a strip of one): boxes
    and lattices drawn exactly at every integer size, verified sizes marked. Prints what
    it drew."""

    ext = os.path.splitext(output)[1].lower()
    if ext not in (".svg", ".png"):
        raise UsageError(f"-o {output}: write a .svg or a .png file")
    if ext == ".png":
        try:
            import matplotlib  # noqa: F401, PLC0415  matplotlib: an optional extra
        except ImportError:
            raise UsageError(P.MPL_HINT) from None
    with onnxruntime_started(model, dims, do_verify) as early:
        a = analysed(model, dims)
        log = {"auto": None, "linear": False, "log": True}[scale]
        try:
            r = P.region(a, strip or x_name, y_name, held=parse_sizes(sizes),
                         ranges=parse_sizes(maxes), strip=bool(strip), log=log)
        except ValueError as e:
            raise UsageError(str(e)) from None
        ver = None
        if do_verify:
            ver = verification.verify(a, n_random=n_random, progress=progress_bar(),
                                      worker=early)
            P.add_points(r, ver)
    if ext == ".png":
        _write_bytes(P.png(a, r), output)
    else:
        emit(P.svg(a, r=r), output)
    info = dict(r.to_json(), output=output)
    if fmt == "json":
        click.echo(json.dumps(info, indent=2))
    else:
        plane = f"{r.x_name} x {r.y_name}" if r.y_name else f"a strip of {r.x_name}"
        held = ", ".join(f"{k}={v}" for k, v in r.held.items())
        rng = f"{r.x_name} 1..{r.x_hi}" + (f", {r.y_name} 1..{r.y_hi}" if r.y_name else "")
        click.echo(f"wrote {output}: {plane} ({rng}{'; ' + held if held else ''}), "
                   f"{len(r.rects)} valid runs, "
                   + ("exact at every integer size" if r.exact else r.note))
        if ver is not None:
            p = info["points"]
            click.echo(f"marked {p['valid'] + p['invalid']} verified sizes: {p['valid']} ran, "
                       f"{p['invalid']} rejected, {p['disagree']} disagree")
    if ver is not None and (ver.interrupted or not ver.ok):
        finish(ver)
    finish(a)


REPORT_EPILOG = """\b
Examples:
  graphshape report model.onnx -o model.html
  graphshape report resnet.onnx --dim input:2=H --dim input:3=W --verify -o resnet.html
  graphshape report model.onnx --size H=300 --size W=300 -o model.html
\b
The page is one file (styles and scripts inline, no network): open it from disk, mail it,
print it. Exit codes as for analyze: 0 exact, 3 unproven (or 1 when --verify disagrees)."""


@main.command(epilog=REPORT_EPILOG)
@model_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The page (.html), written atomically.")
@click.option("--size", "sizes", multiple=True, metavar="NAME=INT",
              help="The size the page opens at (default: the export size where known).")
@click.option("--verify", "do_verify", is_flag=True,
              help="Also run onnxruntime at the edges: the table, and the sizes on the map.")
@click.option("--random", "n_random", default=6, show_default=True,
              help="With --verify: random members and non-members added to the edges.")
@guarded
def report(model, dims, output, sizes, do_verify, n_random):
    """One self-contained HTML page for the model: the verdict in a sentence, the valid
    region (point at it, or type a size), the per-layer table, the deployer's answers."""

    with onnxruntime_started(model, dims, do_verify) as early:
        a = analysed(model, dims)
        start = parse_sizes(sizes) if sizes else None
        if start:
            a.domain.env(start)  # an unknown dim or a missing one: one line, exit 2
        ver = verification.verify(a, n_random=n_random, progress=progress_bar(),
                                  worker=early) if do_verify else None
    emit(html.page(a, ver, model_arg=model, dims=dims, sizes=start), output)
    click.echo(f"wrote {output}: {html.verdict_sentence(a)}")
    if ver is not None and (ver.interrupted or not ver.ok):
        finish(ver)
    finish(a)
