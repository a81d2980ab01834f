"""The analyst's commands: analyze, check, explain, verify, ops (registered on the group of
``graphshape.cli.app``; ``audit`` is graphshape.cli.fleet's)."""

from __future__ import annotations

import json
import shlex

import click

from graphshape.analysis import analyze as run
from graphshape.answers.contract import require as decide
from graphshape.answers.fit import fit as fit_sizes
from graphshape.answers.layers import collapse, layers, layers_json, table_lines
from graphshape.answers.size_story import story
from graphshape.cli.app import (
    EPILOG,
    emit,
    finish,
    format_option,
    guarded,
    main,
    model_options,
    output_option,
    parse_sizes,
    progress_bar,
    size_option,
)
from graphshape.errors import UsageError
from graphshape.render import html, markdown, report
from graphshape.render.plot import svg
from graphshape.results import Verdict
from graphshape.runtime.verify import verify as run_verify
from graphshape.shapes.registry import claimed_ops


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

    a = run(model, dims=list(dims))
    if plot:
        try:
            emit(svg(a), plot)
        except ValueError as e:
            raise UsageError(f"--plot: {e}") from None
    ver = None
    if do_verify:
        ver = run_verify(a, progress=progress_bar())
    render = {"json": report.to_json, "markdown": report.markdown}.get(fmt)
    if fmt == "html":
        emit(html.page(a, ver, model_arg=model, dims=dims), output)
    else:
        emit(render(a, ver) if render else report.text(a, ver, show_all), output)
    if ver is not None and (ver.interrupted or not ver.ok):
        finish(ver)
    finish(a)


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
    a = run(model, dims=list(dims))
    if require:
        res = decide(a, require)
        emit({"json": lambda: json.dumps(res.to_json(), indent=2),
              "markdown": lambda: markdown.contract(res.to_json())}.get(fmt, res.text)(),
             output)
        finish(res)
    s = parse_sizes(sizes)
    ex = a.explain(s)
    if fmt in ("json", "markdown"):
        d = json.loads(json.dumps(ex.to_json(), default=str))
        emit(json.dumps(d, indent=2) if fmt == "json" else markdown.explanation(d), output)
        finish(ex)
    if ex.verdict == Verdict.VALID:
        shapes = "; ".join(f"{k}: {v}" for k, v in ex.output_shapes.items())
        lines = [f"valid: {_sizes(s)} -> {shapes}"]
        lines += [f"  (at every size the run also needs {r})" for r in ex.requires]
    elif ex.verdict == Verdict.UNPROVEN:
        lines = [f"unproven: {_sizes(s)} passes every proven condition, but:"]
        lines += [f"  because {u}" for u in ex.unproven]
    else:
        lines = [f"invalid: {_sizes(s)}"]
        for v in ex.violations:
            lines.append(f"  {v.describe()}")
            lines += [f"      {t}" for t in v.detail_lines()]
    lines += _assumed_lines(ex)
    emit("\n".join(lines), output)
    finish(ex)


def _sizes(s):
    return ", ".join(f"{k}={v}" for k, v in s.items()) if s else "none"


def _assumed_lines(ex) -> list:
    """Which symbols a size left out were taken as what (the domain does not constrain
    them, so the verdict holds for every value)."""
    if not ex.assumed:
        return []
    names = ", ".join(ex.assumed)
    return [f"  ({_sizes(ex.assumed)} assumed: the domain does not constrain {names}, so "
            "the verdict holds for every value)"]


def _nearest_lines(a, sizes: dict, model, dims) -> list:
    """What ``graphshape fit`` says for an invalid size, and the command that says more."""
    try:
        res = fit_sizes(a, sizes)
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


    a = run(model, dims=list(dims))
    s = parse_sizes(sizes) if sizes else None
    rows = layers(a, s)
    shown = rows if show_all else collapse(rows)
    where = story(a)  # a model that resizes its input inside: where the size goes
    if s is None:
        w = a.domain.witness()
        if fmt in ("json", "markdown"):
            d = json.loads(json.dumps({"domain": str(a.domain), "witness": w,
                                       "layers": layers_json(shown)}, default=str))
            if where:
                d["size_story"] = where
            emit(json.dumps(d, indent=2) if fmt == "json" else markdown.domain_summary(d),
                 output)
        else:
            inv = w["smallest_invalid"]
            emit(f"{a.domain}\n" + (f"where the size goes: {where}\n" if where else "") +
                 f"smallest valid: {_sizes(w['smallest_valid'])}\n"
                 f"smallest invalid per dim: {_sizes(inv)}"
                 + (" (each with the other dims at the smallest valid size)" if inv else "")
                 + "\n\n" + "\n".join(table_lines(shown)), output)
        finish(a)
    ex = a.explain(s)
    if fmt in ("json", "markdown"):
        d = json.loads(json.dumps(dict(ex.to_json(), layers=layers_json(shown)), default=str))
        if where:
            d["size_story"] = where
        emit(json.dumps(d, indent=2) if fmt == "json" else markdown.explanation(d), output)
    else:
        lines = [f"{ex.verdict}: {_sizes(s)}"]
        for v in ex.violations:
            lines.append(f"  {v.describe()}")
            lines += [f"      {t}" for t in v.detail_lines()]
        lines += [f"  output {k}: {v}" for k, v in ex.output_shapes.items()]
        lines += [f"  unproven because {u}" for u in ex.unproven]
        if where:
            lines.append(f"  where the size goes: {where}")
        lines += _assumed_lines(ex)
        lines += [""] + table_lines(shown, s)
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
@format_option("text", "json", "markdown")
@output_option
@guarded
def verify(model, dims, sizes, n_random, seed, timeout, memory_budget, opt_level, cpu,
           fmt, output):
    """Run onnxruntime at the domain's edges and random points; exit 1 on any disagreement."""


    a = run(model, dims=list(dims))
    points = [parse_sizes(sizes)] if sizes else None
    rep = run_verify(a, points, n_random=n_random, seed=seed, timeout=timeout,
                     memory_budget=int(memory_budget * 2 ** 30), opt_level=opt_level,
                     providers=["CPUExecutionProvider"] if cpu else None,
                     progress=progress_bar())
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


    rows = claimed_ops()
    if fmt == "json":
        click.echo(json.dumps([{"domain": d, "op": o, "since": s, "until": u}
                               for d, o, s, u in rows], indent=2))
        return
    for d, o, s, u in rows:
        click.echo(f"{d:<24} {o:<28} opset {s}" + (f"..{u}" if u else "+"))
