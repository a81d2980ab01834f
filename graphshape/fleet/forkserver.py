"""The sandbox's server: a Python process with graphshape imported once, that forks a fresh
child for every task (sandbox.py starts it and talks to it).

Forking costs milliseconds where a new interpreter costs the imports (about 0.6 s), and each
child is a process of its own: a model that crashes graphshape (a signal), hangs, or takes
too much memory ends that child, never the worker or the run. This process is single
threaded, so fork() is safe here (a Dask worker, with its threads, does not fork).

Protocol: one JSON request per stdin line, ``{"task": {...}, "timeout": S,
"memory_limit": BYTES or null}``; one JSON reply per stdout line, the task's record
(task.execute) plus ``peak_rss``. A first line ``{"ready": true}`` says the imports worked.
The child stops itself at ``timeout`` (SIGALRM, so verification stops its onnxruntime
worker cleanly); past ``timeout + GRACE_S`` this process kills it. The memory limit counts
the resident memory of the child and every process under it (onnxruntime's workers),
sampled every POLL_S seconds; pages shared with this process count too. When stdin closes
(the client went away), the running child is killed and this process exits.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import sys
import time

from graphshape.analysis import analyze
from graphshape.fleet import task as tasks
from graphshape.loader.wire import onnx_pb
from graphshape.render import report

GRACE_S = 5.0
POLL_S = 0.05
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Deadline(BaseException):
    """Raised in the child at its timeout; a BaseException, so no `except Exception` in the
    analysis swallows it."""


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ctrl-c is the client's to handle
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever a task prints goes to stderr, never into the protocol
    sys.stdout = sys.stderr
    _become_subreaper()
    _warm_up()
    proto.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    proto.flush()
    reader = _LineReader(0)
    while True:
        line = reader.readline()
        if line is None:
            return 0
        req = json.loads(line)
        reply = _serve(req, proto.fileno())
        proto.write(json.dumps(reply) + "\n")
        proto.flush()


def _warm_up() -> None:
    """Analyse and report a small Conv/Pool/Flatten/Gemm graph once, so that what the first
    analysis loads lazily (the protobuf module, expression caches, isl) is loaded here and
    shared by every forked child: it halves a small model's time in its child."""
    pb = onnx_pb()
    m = pb.ModelProto(ir_version=8, producer_name="graphshape warm-up")
    m.opset_import.add(domain="", version=17)
    g = m.graph
    g.name = "warm_up"
    x = g.input.add()
    x.name = "X"
    x.type.tensor_type.elem_type = 1  # FLOAT
    for d in (1, 1, "H", "W"):
        dim = x.type.tensor_type.shape.dim.add()
        if isinstance(d, int):
            dim.dim_value = d
        else:
            dim.dim_param = d
    for name, dims in (("w", [1, 1, 3, 3]), ("b", [16, 2])):
        t = g.initializer.add()
        t.name, t.data_type = name, 1
        t.dims.extend(dims)
        t.float_data.extend([0.5] * (dims[0] * dims[1] * (dims[2] * dims[3] if len(dims) > 2
                                                          else 1)))
    for op, ins, out, attrs in (("Conv", ["X", "w"], "c", {"kernel_shape": [3, 3]}),
                                ("MaxPool", ["c"], "p", {"kernel_shape": [2, 2],
                                                         "strides": [2, 2]}),
                                ("Flatten", ["p"], "f", {}), ("Gemm", ["f", "b"], "Y", {})):
        n = g.node.add(op_type=op, name=op.lower(), input=ins, output=[out])
        for k, v in attrs.items():
            a = n.attribute.add(name=k, type=7)  # INTS
            a.ints.extend(v)
    y = g.output.add()
    y.name = "Y"
    y.type.tensor_type.elem_type = 1
    try:
        a = analyze(m)
        report.to_json(a)
        a.domain.condition_sets()
    except Exception:  # noqa: BLE001  a warm-up only: a failure costs time, not results
        pass


class _LineReader:
    """Lines from a file descriptor, read with os.read (select() on the same descriptor
    then sees exactly what is unread)."""

    def __init__(self, fd: int):
        self.fd, self.buf = fd, b""

    def readline(self) -> str | None:
        while b"\n" not in self.buf:
            data = os.read(self.fd, 1 << 16)
            if not data:
                return None
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()


def _serve(req: dict, proto_fd: int) -> dict:
    t0 = time.monotonic()
    out = _watch(req, proto_fd, t0)
    out.setdefault("seconds", time.monotonic() - t0)  # a timeout, crash or memory row's
    return out


def _watch(req: dict, proto_fd: int, t0: float) -> dict:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(r)
        _child(req, w, proto_fd)
    os.close(w)
    timeout, limit = float(req["timeout"]), req.get("memory_limit")
    hard = t0 + timeout + GRACE_S
    chunks: list = []
    peak, why = 0, None
    while True:
        left = hard - time.monotonic()
        if left <= 0:
            why = "timeout"
            break
        ready, _, _ = select.select([r, 0], [], [], min(POLL_S, left) if limit else left)
        if 0 in ready:  # stdin is readable only when the client has gone away
            _kill_tree(pid)
            os._exit(0)
        if r in ready:
            data = os.read(r, 1 << 20)
            if not data:
                break
            chunks.append(data)
        if limit:
            rss = _tree_rss(pid)
            peak = max(peak, rss)
            if rss > limit:
                why = "memory"
                break
    if why:
        _kill_tree(pid)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    _reap_orphans()
    if why == "memory":
        return {"status": "memory", "peak_rss": peak,
                "error": f"its processes used {peak / 2**20:,.0f} MiB, past the memory limit "
                         f"of {(limit or 0) / 2**20:,.0f} MiB (stopped)"}
    if why == "timeout":
        return {"status": "timeout", "peak_rss": peak,
                "error": f"no result within {timeout:g} s (did not stop at the deadline: "
                         "killed)"}
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return {"status": "crash", "peak_rss": peak,
                "error": f"graphshape's process for this model died ({name})"}
    try:
        out = json.loads(b"".join(chunks))
    except ValueError:
        return {"status": "crash", "peak_rss": peak,
                "error": "graphshape's process for this model ended without a result"}
    out["peak_rss"] = peak
    return out


def _child(req: dict, w: int, proto_fd: int):
    os.close(proto_fd)  # the client must see this server's end alone
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    timeout = float(req["timeout"])

    def deadline(signum, frame):
        raise _Deadline

    try:
        signal.signal(signal.SIGALRM, deadline)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        out = tasks.execute(req["task"])
        signal.setitimer(signal.ITIMER_REAL, 0)
    except _Deadline:
        out = {"status": "timeout",
               "error": f"no result within {timeout:g} s (stopped while "
                        f"{tasks.STAGE['now']})"}
    except MemoryError:
        out = {"status": "memory", "error": f"out of memory while {tasks.STAGE['now']}"}
    except BaseException as e:  # noqa: BLE001  reported as this model's row
        first = str(e).splitlines()[0] if str(e) else ""
        out = {"status": "crash", "error": f"internal error: {type(e).__name__}: {first}"}
    signal.setitimer(signal.ITIMER_REAL, 0)
    data = json.dumps(out, default=str).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(w, view):]
    os._exit(0)


def _become_subreaper() -> None:
    """Linux: processes orphaned under this one (an onnxruntime worker whose parent, the
    task's child, was killed mid-run) are re-parented here instead of to init, so that
    _reap_orphans can end them after every task."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _reap_orphans() -> None:
    """Kill and reap whatever a finished task left running (between tasks this process
    has no children of its own)."""
    me = os.getpid()
    for p in _children(me):
        for q in reversed(_tree(p)):
            try:
                os.kill(q, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            # killed children not yet reaped: wait for them (they are dying)
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return


def _children(pid: int) -> list:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _tree(pid: int) -> list:
    """``pid`` and every process under it (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += _children(p)
    return out


def _tree_rss(pid: int) -> int:
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            pass
    return total


def _kill_tree(pid: int) -> None:
    for p in _tree(pid):
        try:
            os.kill(p, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


if __name__ == "__main__":
    sys.exit(main())
