"""The registry audit: ``audit`` (one model, or a registry into the store, in process or on a
Dask cluster), ``audit runs`` and ``audit diff`` (registered on the group of
``graphshape.cli.app``)."""

from __future__ import annotations

import json
import os
import re

import click

from graphshape.arith import lazy
from graphshape.cli.app import (
    emit,
    finish,
    format_option,
    guarded,
    main,
    output_option,
    progress_bar,
)
from graphshape.errors import UsageError
from graphshape.fleet import report
from graphshape.fleet.contracts import load_contracts
from graphshape.results import ExitCode

# the audit's machinery (the analysis, isl, sympy, Dask: most of a second to import) is
# imported when a command runs, not for `--help` (arith/lazy.py)
clusters = lazy.module("graphshape.fleet.cluster")
nightly = lazy.module("graphshape.fleet.nightly")
pages = lazy.module("graphshape.fleet.pages")
fleet_run = lazy.module("graphshape.fleet.run")
stores = lazy.module("graphshape.fleet.store")

AUDIT_EPILOG = """\b
Examples:
  graphshape audit model.onnx --json                   # one model, nothing stored
  graphshape audit models/ --verify -j 2               # a registry, stored, 2 workers
  graphshape audit models/ --verify --scheduler tcp://scheduler:8786
  graphshape audit models/ --require-from pyproject.toml
  graphshape audit runs                                # the runs in the store
  graphshape audit diff                                # the last two runs: what changed
  graphshape audit diff 3 5 --format markdown
  graphshape audit models/ --html audit-html/          # index.html + a page per model
\b
Exit codes: 0 every model proved (and verified) and every contract met, 1 a verification
disagreement or a contract not met (audit diff: a model lost sizes or became unproven),
2 bad usage, 3 some model unproven or not analysed, 130 interrupted (rows stored so far
are kept)."""

# options that make `audit` the registry audit even for one file
REGISTRY_ONLY = ("db", "verify", "jobs", "scheduler", "upload", "force", "timeout",
                 "memory_limit", "require_from", "split_after", "tls_ca", "tls_cert",
                 "tls_key", "n_random", "seed", "opt_level", "memory_budget", "html_dir")
_UNITS = {"": 2 ** 30, "b": 1, "k": 2 ** 10, "kb": 10 ** 3, "kib": 2 ** 10, "m": 2 ** 20,
          "mb": 10 ** 6, "mib": 2 ** 20, "g": 2 ** 30, "gb": 10 ** 9, "gib": 2 ** 30}


def parse_bytes(text: str, what: str) -> int | None:
    """``8GiB``, ``600MB``, ``1.5`` (GiB) -> bytes; ``0`` or ``none`` -> None (no limit)."""
    t = text.strip().lower()
    if t in ("0", "none", "off"):
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]*)", t)
    if not m or m[2] not in _UNITS:
        raise UsageError(f"bad {what} '{text}': expected a size such as 8GiB, 600MB or 1.5 "
                         "(GiB), or 0 for none")
    return int(float(m[1]) * _UNITS[m[2]])


class _AuditCommand(click.Command):
    """``audit PATH...`` with sub-commands ``audit runs`` and ``audit diff``: a first
    argument naming a sub-command hands the rest to it (a model path spelled like one is
    written ./diff)."""

    def __init__(self, *a, subcommands: dict, **kw):
        super().__init__(*a, **kw)
        self.subcommands = subcommands

    def parse_args(self, ctx, args):
        if args and args[0] in self.subcommands:
            ctx.meta["graphshape.audit.sub"] = (args[0], list(args[1:]))
            return []
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        sub = ctx.meta.get("graphshape.audit.sub")
        if sub is None:
            return super().invoke(ctx)
        name, rest = sub
        cmd = self.subcommands[name]
        # the group's context as parent: usage reads "graphshape audit diff", without
        # audit's own PATHS in between
        with cmd.make_context(f"{ctx.info_name} {name}", rest, parent=ctx.parent) as sub_ctx:
            return cmd.invoke(sub_ctx)

    def format_usage(self, ctx, formatter):
        super().format_usage(ctx, formatter)
        for name in self.subcommands:
            formatter.write_usage(f"{ctx.command_path} {name}", "[OPTIONS] ...",
                                  prefix="   or: ")

    def format_options(self, ctx, formatter):
        super().format_options(ctx, formatter)
        with formatter.section("Commands"):
            formatter.write_dl([(n, c.get_short_help_str()) for n, c in
                                self.subcommands.items()])


def _db_option(default_help: str):
    return click.option("--db", type=click.Path(dir_okay=False), default=None,
                        help=f"The audit store (SQLite). Default: {default_help}.")


@click.command(epilog=AUDIT_EPILOG)
@_db_option("./.graphshape/audit.sqlite")
@format_option("text", "json", "markdown")
@output_option
@guarded
def runs(db, fmt, output):
    """The runs in the store: when, where, how many models, how many analysed afresh."""
    with stores.Store(db or os.path.join(".graphshape", "audit.sqlite"), readonly=True) as store:
        all_runs = store.runs()
    if fmt == "json":
        emit(json.dumps({"schema_version": 1, "runs": [r.to_json() for r in all_runs]},
                        indent=2), output)
    else:
        emit((report.runs_markdown if fmt == "markdown" else report.runs_text)(all_runs),
             output)


@click.command(epilog=AUDIT_EPILOG)
@click.argument("run_a", type=int, required=False)
@click.argument("run_b", type=int, required=False)
@_db_option("./.graphshape/audit.sqlite")
@format_option("text", "json", "markdown")
@output_option
@guarded
def diff(run_a, run_b, db, fmt, output):
    """What changed from RUN_A to RUN_B (default: the last two runs; RUN_A alone: against
    the last run): models added, removed, moved; per model the sizes lost and gained in
    closed form with the nodes behind them, newly unproven, stopped loading, newly failing
    verification. Exit 1 when a model lost sizes or became unproven."""
    with stores.Store(db or os.path.join(".graphshape", "audit.sqlite"), readonly=True) as store:
        d = store.diff(run_a, run_b)
    render = {"json": report.diff_json, "markdown": report.diff_markdown}.get(
        fmt, report.diff_text)
    emit(render(d), output)
    finish(d)


@main.command(cls=_AuditCommand, subcommands={"runs": runs, "diff": diff},
              epilog=AUDIT_EPILOG)
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--dim", "dims", multiple=True, metavar="INPUT:AXIS=NAME",
              help="Make a fixed input axis symbolic, e.g. input:2=H (repeatable).")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="[NAME:]1,3,H,W",
              help="Re-symbolise by shape, onnxsim style: the first input, or the input NAME "
                   "(models without that input ignore it). Repeatable.")
@click.option("--verify", is_flag=True,
              help="Also run onnxruntime at every model's edges (a child process per run).")
@click.option("--random", "n_random", default=6, show_default=True,
              help="With --verify: random members and non-members per model.")
@click.option("--seed", default=0, show_default=True, help="With --verify: sampling seed.")
@click.option("--opt-level", type=click.Choice(["disable", "basic", "extended", "all"]),
              default="all", show_default=True, help="onnxruntime graph optimisation level.")
@click.option("--memory-budget", default=2.0, show_default=True,
              help="With --verify: GiB; sizes estimated to need more are skipped.")
@click.option("-j", "--jobs", default=1, show_default=True,
              help="Workers: 1 runs in this process (no cluster); N > 1 starts a Dask "
                   "LocalCluster of N worker processes.")
@click.option("--scheduler", metavar="ADDRESS",
              help="A Dask scheduler to run on (tcp://host:8786, tls://...); default: "
                   "DASK_SCHEDULER_ADDRESS when set.")
@click.option("--upload", is_flag=True,
              help="Send each model (and its external data) to the workers as bytes, for "
                   "workers that do not share this machine's storage.")
@click.option("--tls-ca", type=click.Path(exists=True, dir_okay=False),
              help="TLS: the CA certificate that signed the scheduler's.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False),
              help="TLS: this client's certificate.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False),
              help="TLS: this client's private key.")
@_db_option("<folder of the first PATH>/.graphshape/audit.sqlite")
@click.option("--force", is_flag=True,
              help="Analyse every model again, even those whose result is stored.")
@click.option("--timeout", default=600.0, show_default=True,
              help="Seconds per task (a model's analysis and verification).")
@click.option("--memory-limit", default="8GiB", show_default=True,
              help="Resident memory of one model's processes (graphshape and onnxruntime); "
                   "past it the model's row says so. 0: no limit.")
@click.option("--split-after", default=60.0, show_default=True,
              help="On a cluster: seconds of verification after which a model's remaining "
                   "points run as tasks of their own.")
@click.option("--require-from", type=click.Path(exists=True, dir_okay=False),
              help="Apply the [tool.graphshape.require] contracts of this TOML file "
                   "(pyproject.toml) to every model they match.")
@click.option("--html", "html_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Also write DIR/index.html (one row per model, sortable and filtered, "
                   "regressions on top) and a page per model (graphshape report's).")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bar, dashboard link or summary line on stderr.")
@format_option("text", "json", "markdown")
@output_option
@click.pass_context
@guarded
def audit(ctx, paths, dims, input_shapes, verify, n_random, seed, opt_level, memory_budget,
          jobs, scheduler, upload, tls_ca, tls_cert, tls_key, db, force, timeout,
          memory_limit, split_after, require_from, html_dir, quiet, fmt, output):
    """Audit one model, or every model of a registry (files, folders searched for *.onnx):
    domain, fixed sizes, exporter claims, spec/runtime differences, internal resizing,
    clamping slices, unproven parts; with --verify, checked on onnxruntime.

    One file without registry options: its report, nothing stored. Otherwise every model
    is a row of a new run in the store (--db), written as it arrives; a model whose content,
    graphshape version and options are already stored is not analysed again. A model that
    fails to load, crashes, hangs past --timeout or passes --memory-limit is a row that
    says so. `audit runs` lists the runs, `audit diff` says what changed."""

    if not paths:
        raise UsageError("give PATH... (model files or folders), or a sub-command: "
                         "audit runs, audit diff")
    registry = len(paths) > 1 or os.path.isdir(paths[0]) or any(
        ctx.get_parameter_source(p) != click.core.ParameterSource.DEFAULT
        for p in REGISTRY_ONLY)
    if not registry:
        _one_model(paths[0], dims, input_shapes, fmt, output)
        return
    options = nightly.AuditOptions(
        dims=tuple(dims), input_shapes=tuple(input_shapes), verify=verify, n_random=n_random,
        seed=seed, opt_level=opt_level, memory_budget=int(memory_budget * 2 ** 30),
        timeout=timeout, memory_limit=parse_bytes(memory_limit, "--memory-limit"),
        split_after=split_after, force=force, upload=upload,
        contracts=load_contracts(require_from) if require_from else None)
    if jobs < 1:
        raise UsageError(f"bad -j {jobs}: at least 1")
    cluster = clusters.ClusterOptions(scheduler=scheduler, jobs=jobs, tls_ca=tls_ca,
                                      tls_cert=tls_cert, tls_key=tls_key, upload=upload)
    with stores.Store(db or stores.default_db(paths[0])) as store:
        executor: nightly.Executor
        if jobs == 1 and not clusters.scheduler_address(cluster):
            executor = nightly.SerialExecutor()
        else:
            executor = clusters.connect(cluster, on_start=None if quiet else _say_dashboard)
        try:
            res = nightly.audit_registry(paths, store, options, executor,
                                         progress=None if quiet else progress_bar("auditing"))
        finally:
            executor.close()
    rows = res.rows
    if html_dir and rows:
        index = pages.write_pages(html_dir, res.db, res.run_id, dims, input_shapes)
        if not quiet:
            click.echo(f"wrote {index} and {sum(r.status == 'ok' for r in rows)} pages",
                       err=True)
    render = {"json": lambda: report.rows_json(res),
              "markdown": lambda: report.rows_markdown(rows)}.get(
        fmt, lambda: report.rows_text(rows))
    emit(render(), output)
    computed = sum(not r.reused for r in rows)
    if not quiet:
        click.echo(f"run {res.run_id}: {len(rows)} models ({computed} analysed, "
                   f"{len(rows) - computed} reused) in {res.seconds:.1f} s on {res.where}; "
                   f"stored in {res.db}", err=True)
    if res.interrupted:
        click.echo(f"graphshape: interrupted: {len(rows)} rows stored in run {res.run_id} "
                   "(marked interrupted)", err=True)
        finish(ExitCode.INTERRUPTED)
    finish(_exit_code(rows))


def _say_dashboard(executor) -> None:
    """Once the cluster is reached (with the first model to compute)."""
    if executor.dashboard:
        click.echo(f"dashboard: {executor.dashboard}", err=True)


def _exit_code(rows: list) -> ExitCode:
    if any(r.disagreements or (r.contract and r.contract.get("included") is False)
           for r in rows):
        return ExitCode.INVALID
    if any(r.status != "ok" or not r.exact for r in rows):
        return ExitCode.UNPROVEN
    return ExitCode.OK


def _one_model(path, dims, input_shapes, fmt, output) -> None:
    """One file: its audit in this process, its load errors the command's (exit 2)."""
    r = fleet_run.audit_one(path, dims, input_shapes)
    if fmt == "json":
        emit(json.dumps({"schema_version": 1, "domain": r.domain, "findings": r.findings},
                        indent=2), output)
    elif fmt == "markdown":
        lines = ["| model | inputs | valid sizes | unproven | findings | s |",
                 "| --- | --- | --- | ---: | --- | ---: |"]
        ins = "; ".join(f"{k} {v}" for k, v in r.inputs.items())
        finds = "; ".join(f"{f['title']}" for f in r.findings)
        lines.append(f"| {os.path.basename(r.path)} | {ins} | {r.domain} | {r.unproven} | "
                     f"{finds} | {r.seconds:.2f} |".replace("\n", " "))
        emit("\n".join(lines), output)
    else:
        lines = [f"domain: {ln}" if i == 0 else f"        {ln}"
                 for i, ln in enumerate(r.domain.splitlines())]
        lines += [f"[{f['level']}] {f['title']}: {f['detail']}" for f in r.findings]
        if not r.findings:
            lines.append("no findings")
        emit("\n".join(lines), output)
    finish(ExitCode.OK if r.exact else ExitCode.UNPROVEN)

