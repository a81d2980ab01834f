"""The graphshape command: analyze, check, explain, verify, audit, ops.

Data goes to stdout, logs and errors to stderr (one line, never a traceback). Exit codes
are decided here and only here (EXIT_*)."""

from __future__ import annotations

import functools
import os
import sys
import tempfile

import click

from graphshape.errors import GraphShapeError, UsageError
from graphshape.fleet.run import input_shape_dims, model_input_names
from graphshape.loader.wire import load_proto
from graphshape.results import ExitCode, return_code

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


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="graphshape")
def main():
    """Prove which input sizes an ONNX model accepts, and why."""
