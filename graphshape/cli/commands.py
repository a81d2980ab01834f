"""The analyst's commands: analyze, explain, verify, ops (registered on the group of
``graphshape.cli.app``; ``check`` is graphshape.cli.check's, ``audit`` graphshape.cli.fleet's)."""

from __future__ import annotations

import json
import shlex

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
    onnxruntime_started,
    output_option,
    parse_sizes,
    progress_bar,
    size_option,
    sizes_text,
)
from graphshape.errors import UsageError
from graphshape.render import markdown
from graphshape.results import Verdict
from graphshape.shapes.registry import claimed_ops

# the analysis and what answers and renders from it (sympy, isl, numpy: most of a second to
# import) are imported when a command runs, not for `--help` (arith/lazy.py)
fit_answers = lazy.module("graphshape.answers.fit")
layer_table = lazy.module("graphshape.answers.layers")
size_story = lazy.module("graphshape.answers.size_story")
html = lazy.module("graphshape.render.html")
report = lazy.module("graphshape.render.report")
render_plot = lazy.module("graphshape.render.plot")
verification = lazy.module("graphshape.runtime.verify")
rule_families = lazy.module("graphshape.rules")  # importing it registers every rule


@main.command(epilog=EPILOG)
@model_options
@format_option("text", "json", "markdown", "html")
@click.option("--verify", "do_verify", is_flag=True, help="Also run onnxruntime at the edges.")
@click.option("--all", "show_all", is_flag=True, help="List every condition, not only bounds.")
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Also write an SVG map of the valid region (two symbolic dims).")
@output_option
@guarded
def analyze(model, dims, fmt, do_verify, show_all, plot, output):
    """Derive the domain of valid input sizes, with the node behind every bound."""

    with onnxruntime_started(model, dims, do_verify) as early:
        a = analysed(model, dims)
        if plot:
            try:
                emit(render_plot.svg(a), plot)
            except ValueError as e:
                raise UsageError(f"--plot: {e}") from None
        ver = None
        if do_verify:
            ver = verification.verify(a, progress=progress_bar(), worker=early)
    render = {"json": report.to_json, "markdown": report.markdown}.get(fmt)
    if fmt == "html":
        emit(html.page(a, ver, model_arg=model, dims=dims), output)
    else:
        emit(render(a, ver) if render else report.text(a, ver, show_all), output)
    if ver is not None and (ver.interrupted or not ver.ok):
        finish(ver)
    finish(a)


def _nearest_lines(a, sizes: dict, model, dims) -> list:
    """What ``graphshape fit`` says for an invalid size, and the command that says more."""
    try:
        res = fit_answers.fit(a, sizes)
    except UsageError:
        return []
    lines = ["", "nearest valid sizes:"]
    lines += [f"  {ln}" for ln in res.text().splitlines()[1:] if not ln.startswith("  ")]
    cmd = ["graphshape", "fit", model]
    for d in dims:
        cmd += ["--dim", d]
    for k, v in sizes.items():
        cmd += ["--size", f"{k}={v}"]
    lines.append("more (policies, letterbox, JSON): " + " ".join(shlex.quote(c) for c in cmd))
    return lines


@main.command(epilog=EPILOG)
@model_options
@size_option(required=False)
@click.option("--all", "show_all", is_flag=True, help="Expand repeated blocks in the table.")
@format_option("text", "json", "markdown")
@output_option
@guarded
def explain(model, dims, sizes, show_all, fmt, output):
    """Why a size is rejected (every violated condition with its numbers) or the output shapes
    it produces, then the per-layer table: each node's output shape as a formula (and its
    numbers at --size), effective stride and receptive field, the first failing node marked
    '>>', and where the model absorbs, pins or changes the size. Without --size: the domain
    and its nearest valid sizes."""
    a = analysed(model, dims)
    s = parse_sizes(sizes) if sizes else None
    rows = layer_table.layers(a, s)
    shown = rows if show_all else layer_table.collapse(rows)
    where = size_story.story(a)  # a model that resizes its input inside: where the size goes
    if s is None:
        w = a.domain.witness()
        if fmt in ("json", "markdown"):
            d = json.loads(json.dumps({"domain": str(a.domain), "witness": w,
                                       "layers": layer_table.layers_json(shown)}, default=str))
            if where:
                d["size_story"] = where
            emit(json.dumps(d, indent=2) if fmt == "json" else markdown.domain_summary(d),
                 output)
        else:
            inv = w["smallest_invalid"]
            emit(f"{a.domain}\n" + (f"where the size goes: {where}\n" if where else "") +
                 f"smallest valid: {sizes_text(w['smallest_valid'])}\n"
                 f"smallest invalid per dim: {sizes_text(inv)}"
                 + (" (each with the other dims at the smallest valid size)" if inv else "")
                 + "\n\n" + "\n".join(layer_table.table_lines(shown)), output)
        finish(a)
    ex = a.explain(s)
    if fmt in ("json", "markdown"):
        d = json.loads(json.dumps(dict(ex.to_json(), layers=layer_table.layers_json(shown)),
                                  default=str))
        if where:
            d["size_story"] = where
        emit(json.dumps(d, indent=2) if fmt == "json" else markdown.explanation(d), output)
    else:
        lines = [f"{ex.verdict}: {sizes_text(s)}"]
        for v in ex.violations:
            lines.append(f"  {v.describe()}")
            lines += [f"      {t}" for t in v.detail_lines()]
        lines += [f"  output {k}: {v}" for k, v in ex.output_shapes.items()]
        lines += [f"  unproven because {u}" for u in ex.unproven]
        if where:
            lines.append(f"  where the size goes: {where}")
        lines += assumed_lines(ex)
        lines += [""] + layer_table.table_lines(shown, s)
        if ex.verdict == Verdict.INVALID:
            lines += _nearest_lines(a, s, model, dims)
        emit("\n".join(lines), output)
    finish(ex)


@main.command(epilog=EPILOG)
@model_options
@size_option(required=False)
@click.option("--random", "n_random", default=6, show_default=True,
              help="Random members and non-members to add to the edge points.")
@click.option("--seed", default=0, show_default=True)
@click.option("--timeout", default=120.0, show_default=True, help="Seconds per run.")
@click.option("--memory-budget", default=2.0, show_default=True,
              help="GiB; larger sizes are skipped with a reason.")
@click.option("--opt-level", type=click.Choice(["disable", "basic", "extended", "all"]),
              default="all", show_default=True, help="onnxruntime graph optimisation level.")
@click.option("--cpu", is_flag=True, help="Use the CPU provider even when a GPU is present.")
@click.option("--fill", "fills", multiple=True, default=("normal",), show_default=True,
              type=click.Choice(["normal", "zeros", "uniform", "huge"]),
              help="Input data for each run (repeatable: every size runs with each, and the "
                   "first that fails decides). A detector's counts depend on the data: "
                   "zeros or huge (1e30) values leave no detection or no proposal.")
@format_option("text", "json", "markdown")
@output_option
@guarded
def verify(model, dims, sizes, n_random, seed, timeout, memory_budget, opt_level, cpu,
           fills, fmt, output):
    """Run onnxruntime at the domain's edges and random points; exit 1 on any disagreement."""
    providers = ["CPUExecutionProvider"] if cpu else None
    with onnxruntime_started(model, dims, True, providers, opt_level) as early:
        a = analysed(model, dims)
        points = [parse_sizes(sizes)] if sizes else None
        rep = verification.verify(a, points, n_random=n_random, seed=seed, timeout=timeout,
                                  memory_budget=int(memory_budget * 2 ** 30),
                                  opt_level=opt_level, providers=providers,
                                  progress=progress_bar(), fills=tuple(fills), worker=early)
    if fmt in ("json", "markdown"):
        d = json.loads(json.dumps(rep.to_json(), default=str))
        emit(json.dumps(d, indent=2) if fmt == "json" else markdown.verification(d), output)
    else:
        emit("\n".join(report.verification_lines(rep)), output)
    finish(rep)


@main.command()
@format_option("text", "json")
@guarded
def ops(fmt):
    """The ops graphshape has rules for (domain, op, opset range)."""
    lazy.load(rule_families)
    rows = claimed_ops()
    if fmt == "json":
        click.echo(json.dumps([{"domain": d, "op": o, "since": s, "until": u}
                               for d, o, s, u in rows], indent=2))
        return
    for d, o, s, u in rows:
        click.echo(f"{d:<24} {o:<28} opset {s}" + (f"..{u}" if u else "+"))
