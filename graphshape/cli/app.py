"""The graphshape command: analyze, check, explain, verify, audit, ops.

Data goes to stdout, logs and errors to stderr (one line, never a traceback). Exit codes
are decided here and only here (EXIT_*)."""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib
import inspect
import os
import sys
import tempfile
import threading

import click

from graphshape.arith import lazy
from graphshape.errors import GraphShapeError, UsageError
from graphshape.loader.graph import input_shape_dims, model_input_names
from graphshape.loader.wire import load_proto
from graphshape.results import ExitCode, return_code

# ---- one analysis per file and process ----------------------------------------------------
# A process that runs several commands on one file (a notebook or a test driving the command
# group, the pytest plugin) analyses it once: the Analysis is kept per (file identity, dims,
# the settings that bound the walk), the last few files only. A file rewritten in place has
# another size, mtime or inode, and is analysed again.
_KEPT: dict = {}
_KEEP = 4
# heavy (sympy, isl, numpy): imported when a command first analyses (lazy.py)
analysis = lazy.module("graphshape.analysis")
engine = lazy.module("graphshape.shapes.engine")
runner = lazy.module("graphshape.runtime.runner")  # light: starts onnxruntime's worker


@contextlib.contextmanager
def onnxruntime_started(model, dims, wanted: bool, providers=None, opt_level: str = "all"):
    """verify's worker for ``model``, started before the analysis so that onnxruntime's
    import and session overlap it (None where not ``wanted``, or where --dim overrides make
    verify run a rewritten copy); stopped at the end unless verify took it."""
    early = runner.prestart(model, providers, opt_level) if wanted and not dims else None
    try:
        yield early
    finally:
        if early is not None:
            early.stop()


def analysed(model: str, dims):
    """graphshape.analysis.analyze(model, dims), reused within the process (see above)."""
    try:
        st = os.stat(model)
    except (OSError, TypeError, ValueError):
        return analysis.analyze(model, dims=list(dims))
    key = (os.path.realpath(model), st.st_size, st.st_mtime_ns, st.st_ino, tuple(dims),
           engine.NODE_SECONDS, engine.NODE_ISL_OPERATIONS, engine.MEMORY_MB,
           tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("GRAPHSHAPE_"))))
    hit = _KEPT.pop(key, None)
    if hit is None:
        hit = analysis.analyze(model, dims=list(dims))
    _KEPT[key] = hit  # most recent last
    while len(_KEPT) > _KEEP:
        _KEPT.pop(next(iter(_KEPT)))
    return hit

# the one exit-code table is results.ExitCode; these names are its members
EXIT_OK, EXIT_INVALID, EXIT_USAGE = ExitCode.OK, ExitCode.INVALID, ExitCode.USAGE
EXIT_UNPROVEN, EXIT_INTERNAL = ExitCode.UNPROVEN, ExitCode.INTERNAL
EXIT_INTERRUPTED, EXIT_READER_GONE = ExitCode.INTERRUPTED, ExitCode.READER_GONE

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
3 unproven, 4 internal error, 130 interrupted, 141 stdout's reader went away."""


def _fail(msg: str, code: int) -> None:
    click.echo(f"graphshape: {msg}", err=True)
    sys.exit(code)


def _reader_gone() -> None:
    """The reader of stdout went away (``graphshape analyze m | head -1``): no message, the
    rest of the output discarded, exit 141 as a process that SIGPIPE ends (what the shell
    and ``set -o pipefail`` expect)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(EXIT_READER_GONE)


def guarded(fn):
    """Map every failure to one line on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except GraphShapeError as e:
            _fail(f"error: {e}", e.exit_code)
        except BrokenPipeError:
            _reader_gone()
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
            dims = tuple(dims) + tuple(guarded(input_shape_specs)(model, input_shapes))
        return fn(*a, model=model, dims=dims, **kw)

    out = click.option("--input-shape", "input_shapes", multiple=True,
                       metavar="[NAME:]1,3,H,W",
                       help="Re-symbolise by shape, onnxsim style: names become symbols, "
                            "numbers keep the model's sizes; the first input, or NAME; "
                            "NAME>=0 for a size that may be 0.")(wrapper)
    out = click.option("--dim", "dims", multiple=True, metavar="INPUT:AXIS=NAME",
                       help="Make a fixed input axis symbolic, e.g. input:2=H (repeatable); "
                            "NAME>=0 lets it be 0 (a KV cache's past length: "
                            "past_key:2=P>=0), NAME>=1 keeps it >= 1.")(out)
    return click.argument("model", type=click.Path(dir_okay=True))(out)


def input_shape_specs(model, input_shapes) -> list:
    """--input-shape specs as --dim specs for this model (an unknown input is an error)."""

    names = model_input_names(load_proto(model)[0])
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
        if n < 0:  # 0 only for a size that may be empty (the domain says which)
            raise UsageError(f"bad --size {k}={n}: sizes start at 0")
        if n > 2 ** 31 - 1:
            raise UsageError(f"bad --size {k}={n}: larger than any tensor dim onnxruntime "
                             "can allocate (2**31 - 1)")
        out[k] = n
    return out


def sizes_text(s) -> str:
    """H=256, W=256 (or 'none')."""
    return ", ".join(f"{k}={v}" for k, v in s.items()) if s else "none"


def assumed_lines(ex) -> list:
    """Which symbols a size left out were taken as what (the domain does not constrain
    them, so the verdict holds for every value)."""
    if not ex.assumed:
        return []
    names = ", ".join(ex.assumed)
    return [f"  ({sizes_text(ex.assumed)} assumed: the domain does not constrain {names}, so "
            "the verdict holds for every value)"]


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


def progress_bar(what: str = "verifying"):
    """A progress bar on stderr (only when stderr is a terminal, or GRAPHSHAPE_PROGRESS=1)."""
    if not sys.stderr.isatty() and not os.environ.get("GRAPHSHAPE_PROGRESS"):
        return None
    try:
        from tqdm import tqdm  # noqa: PLC0415  tqdm: only for a progress bar
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


# command -> (the module that defines it, the first paragraph of its help). A command's
# module is imported only when that command runs or shows its own --help: `check` at
# concrete sizes never imports what `report` or `audit` need (docs/performance.md).
# `graphshape --help` lists the commands from this table (tests/test_at_sizes.py keeps it
# equal to each command's own help).
COMMANDS = {
    "analyze": ("graphshape.cli.commands", "Derive the domain of valid input sizes, with the "
                "node behind every bound."),
    "audit": ("graphshape.cli.fleet", "Audit one model, or every model of a registry (files, "
              "folders searched for *.onnx): domain, fixed sizes, exporter claims, "
              "spec/runtime differences, internal resizing, clamping slices, unproven parts; "
              "with --verify, checked on onnxruntime."),
    "check": ("graphshape.cli.check", "Exit 0 if the size is valid, 1 if not (saying which "
              "node rejects it), 3 if unproven; with --require, whether every size of a "
              "contract is valid (one exact set query)."),
    "explain": ("graphshape.cli.commands", "Why a size is rejected (every violated condition "
                "with its numbers) or the output shapes it produces, then the per-layer "
                "table: each node's output shape as a formula (and its numbers at --size), "
                "effective stride and receptive field, the first failing node marked '>>', "
                "and where the model absorbs, pins or changes the size. Without --size: the "
                "domain and its nearest valid sizes."),
    "fit": ("graphshape.cli.deploy", "The nearest valid size to the one you have: pad "
            "(letterbox), crop (or windows), resize; with the node that forces the change."),
    "ops": ("graphshape.cli.commands", "The ops graphshape has rules for (domain, op, opset "
            "range)."),
    "plot": ("graphshape.cli.reports", "Draw the valid region in the plane of two symbolic "
             "dims (or a strip of one): boxes and lattices drawn exactly at every integer "
             "size, verified sizes marked. Prints what it drew."),
    "profiles": ("graphshape.cli.deploy", "TensorRT optimization profiles (min/opt/max per "
                 "dynamic input, one per disjoint box of valid sizes, lattices named) for "
                 "trtexec, Polygraphy, onnxruntime's TensorRT provider, or JSON."),
    "relax": ("graphshape.cli.relax", "Rewrite size-pinning constants and ops so the model "
              "accepts every size its layers allow, keeping the outputs at the export size."),
    "report": ("graphshape.cli.reports", "One self-contained HTML page for the model: the "
               "verdict in a sentence, the valid region (point at it, or type a size), the "
               "per-layer table, the deployer's answers."),
    "spec": ("graphshape.cli.deploy", "Specs for the tools around the model: torch.export "
             "dynamic_shapes, a static size for make_dynamic_shape_fixed, or the constraint "
             "list as JSON."),
    "verify": ("graphshape.cli.commands", "Run onnxruntime at the domain's edges and random "
               "points; exit 1 on any disagreement."),
}


class LazyGroup(click.Group):
    """A group whose commands are registered by their modules, each imported by name from
    COMMANDS when the command is first looked up."""

    def list_commands(self, ctx) -> list:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx, cmd_name: str):
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(COMMANDS[cmd_name][0])  # registers it on this group
        return self.commands.get(cmd_name)

    def format_commands(self, ctx, formatter) -> None:
        """The listing of ``graphshape --help`` without importing the commands' modules:
        a command not imported yet is described by its COMMANDS help, shortened by click
        as its own help would be."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.commands.get(name)
            if cmd is None:
                cmd = click.Command(name, help=inspect.cleandoc(COMMANDS[name][1]))
            if not cmd.hidden:
                rows.append((name, cmd))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit))
                                    for name, cmd in rows])


@click.group(cls=LazyGroup, epilog=EPILOG,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="graphshape")
def main():
    """Prove which input sizes an ONNX model accepts, and why."""


def run() -> None:
    """The ``graphshape`` script: the command line, then a prompt exit. A command that
    analysed a model leaves sympy's and isl's objects in memory, and the interpreter's
    teardown of them costs 0.07 s of every call (docs/performance.md); once the command has
    finished, its output is flushed and the exit handlers run (temporary files, logging,
    child processes), the process ends without that teardown. Where another thread still
    runs, the usual exit waits for it as before."""
    try:
        main.main(prog_name="graphshape")
        code = 0
    except SystemExit as e:
        code = e.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None or any(
            t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a reader that went away (_reader_gone)
        _reader_gone()
    run_exit_handlers()
    os._exit(code)
