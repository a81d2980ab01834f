"""The graphshape command: analyze, check, explain, verify, audit, ops.

Data goes to stdout, logs and errors to stderr (one line, never a traceback). Exit codes
are decided here and only here (EXIT_*)."""

from __future__ import annotations

import functools
import os
import sys
import tempfile

import click

from .errors import GraphShapeError, UsageError
from .results import ExitCode, return_code

# the one exit-code table is results.ExitCode; these names are its members
EXIT_OK, EXIT_INVALID, EXIT_USAGE = ExitCode.OK, ExitCode.INVALID, ExitCode.USAGE
EXIT_UNPROVEN, EXIT_INTERNAL = ExitCode.UNPROVEN, ExitCode.INTERNAL
EXIT_INTERRUPTED = ExitCode.INTERRUPTED

EPILOG = """\b
Examples:
  graphshape analyze model.onnx
  graphshape analyze resnet.onnx --dim input:2=H --dim input:3=W --verify
  graphshape check model.onnx --size H=300 --size W=300
  graphshape explain model.onnx --size H=225 --size W=225
  graphshape verify model.onnx --random 20
  graphshape audit model.onnx --json
\b
Exit codes: 0 valid/agree, 1 invalid/disagree, 2 bad usage or unreadable model,
3 unproven, 4 internal error, 130 interrupted."""


def _fail(msg: str, code: int) -> None:
    click.echo(f"graphshape: {msg}", err=True)
    sys.exit(code)


def guarded(fn):
    """Map every failure to one line on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except GraphShapeError as e:
            _fail(f"error: {e}", e.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_INTERRUPTED)
        except RecursionError:
            _fail("error: the model's shape expressions nest too deeply to analyse",
                  EXIT_INTERNAL)
        except MemoryError:
            _fail("error: out of memory while analysing the model", EXIT_INTERNAL)
        except Exception as e:  # noqa: BLE001  never a traceback
            if os.environ.get("GRAPHSHAPE_DEBUG"):
                raise
            _fail(f"internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                  " (set GRAPHSHAPE_DEBUG=1 for a traceback)", EXIT_INTERNAL)

    return wrapper


def model_options(fn):
    """MODEL, --dim and --input-shape, shared by every command; the command receives the
    --input-shape specs already turned into --dim specs."""

    @functools.wraps(fn)
    def wrapper(*a, model, dims, input_shapes=(), **kw):
        if input_shapes:
            dims = tuple(dims) + tuple(guarded(_input_shape_specs)(model, input_shapes))
        return fn(*a, model=model, dims=dims, **kw)

    out = click.option("--input-shape", "input_shapes", multiple=True,
                       metavar="[NAME:]1,3,H,W",
                       help="Re-symbolise by shape, onnxsim style: names become symbols, "
                            "numbers keep the model's sizes; the first input, or NAME.")(wrapper)
    out = click.option("--dim", "dims", multiple=True, metavar="INPUT:AXIS=NAME",
                       help="Make a fixed input axis symbolic, e.g. input:2=H (repeatable).")(out)
    return click.argument("model", type=click.Path(dir_okay=True))(out)


def _input_shape_specs(model, input_shapes) -> list:
    """--input-shape specs as --dim specs for this model (an unknown input is an error)."""
    from .audit import _input_names, input_shape_dims
    from .model import load_proto

    names = _input_names(load_proto(model)[0])
    out = []
    for spec in input_shapes:
        target = spec.rpartition(":")[0]
        if target and target not in names:
            raise UsageError(f"--input-shape '{spec}': the model has no input '{target}' "
                             f"(inputs: {', '.join(names) or 'none'})")
        out += input_shape_dims(spec, names)
    return out


def format_option(*choices: str, default: str = "text"):
    """``--format CHOICE`` with ``--json`` (and ``--markdown`` where offered) as aliases;
    the command receives one ``fmt`` argument."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*a, fmt, as_json=False, as_markdown=False, **kw):
            if as_json:
                fmt = "json"
            elif as_markdown:
                fmt = "markdown"
            return fn(*a, fmt=fmt, **kw)

        out = wrapper
        if "markdown" in choices:
            out = click.option("--markdown", "as_markdown", is_flag=True,
                               help="Same as --format markdown.")(out)
        if "json" in choices:
            out = click.option("--json", "as_json", is_flag=True,
                               help="Same as --format json.")(out)
        return click.option("--format", "fmt", type=click.Choice(list(choices)),
                            default=default, show_default=True, help="Output format.")(out)

    return deco


def finish(result) -> None:
    """Exit with the code results.return_code gives ``result``."""
    sys.exit(int(return_code(result)))


def size_option(required: bool):
    return click.option("--size", "sizes", multiple=True, required=required,
                        metavar="NAME=INT", help="A value for a symbolic dim (repeatable).")


def output_option(fn):
    return click.option("-o", "--output", type=click.Path(dir_okay=False),
                        help="Write the report here (atomically) instead of stdout.")(fn)


def parse_sizes(items) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"bad --size '{item}': expected NAME=INT, e.g. H=300")
        k, v = item.split("=", 1)
        k, v = k.strip(), v.strip()
        try:
            n = int(v, 10)
        except ValueError:
            raise UsageError(f"bad --size {k}={v!r}: not an integer") from None
        if n < 1:
            raise UsageError(f"bad --size {k}={n}: sizes start at 1")
        if n > 2 ** 31 - 1:
            raise UsageError(f"bad --size {k}={n}: larger than any tensor dim onnxruntime "
                             "can allocate (2**31 - 1)")
        out[k] = n
    return out


def emit(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text)
        return
    d = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".graphshape-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text if text.endswith("\n") else text + "\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for the temp file, not the report
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _progress(what: str = "verifying"):
    """A progress bar on stderr (only when stderr is a terminal, or GRAPHSHAPE_PROGRESS=1)."""
    if not sys.stderr.isatty() and not os.environ.get("GRAPHSHAPE_PROGRESS"):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        bar = {}

        def show_tqdm(i, n, p):
            if "bar" not in bar:
                bar["bar"] = tqdm(total=n, desc=what, unit="model" if what == "auditing"
                                  else "size", file=sys.stderr, leave=False)
            b = bar["bar"]
            if p is None:
                b.close()
                return
            b.n = i
            b.set_postfix_str(os.path.basename(str(p)), refresh=True)

        return show_tqdm

    def show(i, n, p):
        if p is None:
            click.echo("\r" + " " * 60 + "\r", err=True, nl=False)
            return
        width = 30
        done = int(width * i / max(n, 1))
        click.echo(f"\r{what} [{'#' * done}{'.' * (width - done)}] {i}/{n}", err=True,
                   nl=False)

    return show


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="graphshape")
def main():
    """Prove which input sizes an ONNX model accepts, and why."""


@main.command(epilog=EPILOG)
@model_options
@format_option("text", "json", "markdown")
@click.option("--verify", "do_verify", is_flag=True, help="Also run onnxruntime at the edges.")
@click.option("--all", "show_all", is_flag=True, help="List every condition, not only bounds.")
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Also write an SVG map of the valid region (two symbolic dims).")
@output_option
@guarded
def analyze(model, dims, fmt, do_verify, show_all, plot, output):
    """Derive the domain of valid input sizes, with the node behind every bound."""
    from . import analyze as run, report

    a = run(model, dims=list(dims))
    if plot:
        from .plot import svg

        try:
            emit(svg(a), plot)
        except ValueError as e:
            raise UsageError(f"--plot: {e}") from None
    ver = None
    if do_verify:
        from .verify import verify

        ver = verify(a, progress=_progress())
    render = {"json": report.to_json, "markdown": report.markdown}.get(fmt)
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
    import json

    from . import analyze as run, markdown

    if bool(sizes) == bool(require):
        raise UsageError("give either --size NAME=INT ... or --require CONTRACT")
    a = run(model, dims=list(dims))
    if require:
        from .contract import require as decide

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
    if ex.verdict == "valid":
        shapes = "; ".join(f"{k}: {v}" for k, v in ex.output_shapes.items())
        lines = [f"valid: {_sizes(s)} -> {shapes}"]
    elif ex.verdict == "unproven":
        lines = [f"unproven: {_sizes(s)} passes every proven condition, but:"]
        lines += [f"  because {u}" for u in ex.unproven]
    else:
        lines = [f"invalid: {_sizes(s)}"]
        for v in ex.violations:
            lines.append(f"  {v.describe()}")
            lines += [f"      {t}" for t in v.detail_lines()]
    emit("\n".join(lines), output)
    finish(ex)


def _sizes(s):
    return ", ".join(f"{k}={v}" for k, v in s.items())


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
    import json

    from . import analyze as run, markdown
    from .layers import collapse, layers, layers_json, table_lines

    a = run(model, dims=list(dims))
    s = parse_sizes(sizes) if sizes else None
    rows = layers(a, s)
    shown = rows if show_all else collapse(rows)
    if s is None:
        w = a.domain.witness()
        if fmt in ("json", "markdown"):
            d = json.loads(json.dumps({"domain": str(a.domain), "witness": w,
                                       "layers": layers_json(shown)}, default=str))
            emit(json.dumps(d, indent=2) if fmt == "json" else markdown.domain_summary(d),
                 output)
        else:
            emit(f"{a.domain}\nsmallest valid: {w['smallest_valid']}\n"
                 f"smallest invalid per dim: {w['smallest_invalid']}\n\n"
                 + "\n".join(table_lines(shown)), output)
        finish(a)
    ex = a.explain(s)
    if fmt in ("json", "markdown"):
        d = json.loads(json.dumps(dict(ex.to_json(), layers=layers_json(shown)), default=str))
        emit(json.dumps(d, indent=2) if fmt == "json" else markdown.explanation(d), output)
    else:
        lines = [f"{ex.verdict}: {_sizes(s)}"]
        for v in ex.violations:
            lines.append(f"  {v.describe()}")
            lines += [f"      {t}" for t in v.detail_lines()]
        lines += [f"  output {k}: {v}" for k, v in ex.output_shapes.items()]
        lines += [f"  unproven because {u}" for u in ex.unproven]
        lines += [""] + table_lines(shown, s)
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
    import json

    from . import analyze as run, report
    from .verify import verify as run_verify

    a = run(model, dims=list(dims))
    points = [parse_sizes(sizes)] if sizes else None
    rep = run_verify(a, points, n_random=n_random, seed=seed, timeout=timeout,
                     memory_budget=int(memory_budget * 2 ** 30), opt_level=opt_level,
                     providers=["CPUExecutionProvider"] if cpu else None,
                     progress=_progress())
    if fmt in ("json", "markdown"):
        from . import markdown

        d = json.loads(json.dumps(rep.to_json(), default=str))
        emit(json.dumps(d, indent=2) if fmt == "json" else markdown.verification(d), output)
    else:
        emit("\n".join(report.verification_lines(rep)), output)
    finish(rep)


@main.command(epilog=EPILOG)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--dim", "dims", multiple=True, metavar="INPUT:AXIS=NAME",
              help="Make a fixed input axis symbolic, e.g. input:2=H (repeatable).")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="[NAME:]1,3,H,W",
              help="Re-symbolise by shape, onnxsim style: the first input, or the input NAME "
                   "(models without that input ignore it). Repeatable.")
@click.option("-j", "--jobs", default=1, show_default=True, help="Models analysed in parallel.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@format_option("text", "json", "markdown")
@output_option
@guarded
def audit(paths, dims, input_shapes, jobs, quiet, fmt, output):
    """Framework-agnostic audit of one model or many (files, directories searched for
    *.onnx): domain, fixed sizes, exporter claims, spec/runtime differences, internal
    resizing, clamping slices, unproven parts. A model that fails to load is a row with its
    error."""
    import json

    from .audit import audit_many, audit_one

    single = len(paths) == 1 and not os.path.isdir(paths[0])
    if single:  # one file: its load errors are the command's (one line, exit 2)
        rows = [audit_one(paths[0], dims, input_shapes)]
    else:
        rows = audit_many(paths, dims, input_shapes, jobs=max(1, jobs),
                          progress=None if quiet else _progress("auditing"))
    if not rows:
        raise UsageError("no .onnx file found in " + ", ".join(paths))
    if fmt == "json":
        emit(json.dumps({"schema_version": 1, "domain": rows[0].domain,
                         "findings": rows[0].findings} if single else
                        {"schema_version": 1, "models": [r.to_json() for r in rows]},
                        indent=2), output)
    elif fmt == "markdown":
        lines = ["| model | inputs | valid sizes | unproven | findings | s |",
                 "| --- | --- | --- | ---: | --- | ---: |"]
        for r in rows:
            dom = r.error and f"error: {r.error}" or r.domain.replace("\n", " ")
            ins = "; ".join(f"{k} {v}" for k, v in r.inputs.items())
            finds = "; ".join(f"{f['title']}" for f in r.findings)
            lines.append(f"| {os.path.basename(r.path)} | {ins} | {dom} | {r.unproven} | "
                         f"{finds} | {r.seconds:.2f} |".replace("\n", " "))
        emit("\n".join(lines), output)
    else:
        lines = []
        for r in rows:
            if len(rows) > 1:
                lines.append(f"== {r.path} ({r.seconds:.2f} s)")
            if r.error:
                lines.append(f"error: {r.error}")
                continue
            lines += [f"domain: {ln}" if i == 0 else f"        {ln}"
                      for i, ln in enumerate(r.domain.splitlines())]
            lines += [f"[{f['level']}] {f['title']}: {f['detail']}" for f in r.findings]
            if not r.findings:
                lines.append("no findings")
        emit("\n".join(lines), output)
    if any(r.error for r in rows):
        finish(ExitCode.UNPROVEN)  # some model could not be analysed
    finish(ExitCode.OK if all(r.exact for r in rows) else ExitCode.UNPROVEN)


@main.command()
@format_option("text", "json")
@guarded
def ops(fmt):
    """The ops graphshape has rules for (domain, op, opset range)."""
    import json

    from .registry import claimed_ops

    rows = claimed_ops()
    if fmt == "json":
        click.echo(json.dumps([{"domain": d, "op": o, "since": s, "until": u}
                               for d, o, s, u in rows], indent=2))
        return
    for d, o, s, u in rows:
        click.echo(f"{d:<24} {o:<28} opset {s}" + (f"..{u}" if u else "+"))


from . import cli_relax  # noqa: E402,F401  (registers relax)


from . import cli_deploy  # noqa: E402,F401  (registers fit, profiles, spec)

from . import cli_reports  # noqa: E402,F401  (registers plot)
if __name__ == "__main__":
    main()
