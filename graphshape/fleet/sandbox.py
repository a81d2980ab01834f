"""Each model of an audit runs in a process of its own, forked from a server that has
graphshape imported (forkserver.py): the client side of that server.

A process keeps its started servers in a pool; a task borrows one (a thread at a time) and
gives it back. ``prestart`` starts one ahead of the first task (a Dask worker does it when
the client connects, while the client is still hashing the registry). ``run_in_sandbox`` is
the function a Dask worker (or the in-process runner) calls for a task, and
``run_batch_in_sandbox`` for a batch of short ones (cluster.py); both are importable by
reference, so a worker needs graphshape installed and nothing else. Models sent as bytes
(--upload) are written to a private folder for the task first.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager

__all__ = ["Sandbox", "borrowed", "prestart", "prestart_soon", "run_in_sandbox",
           "run_batch_in_sandbox", "close_all", "SERVER_START_TIMEOUT_S"]

SERVER_START_TIMEOUT_S = 120.0
# past the task's own timeout and the server's grace, the server itself is declared stuck
_SERVER_SLACK_S = 60.0

_free: list = []  # this process's servers not lent to a task
_free_lock = threading.Lock()


class Sandbox:
    """A fork server and the pipe to it (started on first use, restarted if it died)."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.buf = b""
        # one start or one task at a time (a plain lock: prestart's thread releases it)
        self.lock = threading.Lock()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        with self.lock:
            if not self.alive:
                self._start()

    def _start(self) -> None:
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")  # one task, one core: parallelism is the scheduler's
        # run by name with the empty path entry dropped: a folder named graphshape in the
        # worker's current directory must not shadow the installed package
        boot = ("import runpy, sys; sys.path = [p for p in sys.path if p]; "
                "runpy.run_module('graphshape.fleet.forkserver', run_name='__main__')")
        self.proc = subprocess.Popen([sys.executable, "-c", boot], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env, start_new_session=True)
        self.buf = b""
        hello = self._readline(SERVER_START_TIMEOUT_S)
        if hello is None or not json.loads(hello).get("ready"):
            self.close()
            raise RuntimeError("the sandbox server did not start (is graphshape installed "
                               "for this Python?)")

    def run(self, request: dict, timeout: float, memory_limit: int | None) -> dict:
        """The record of one task (task.execute's), or a crash record when the server
        itself died."""
        with self.lock:
            return self._run(request, timeout, memory_limit)

    def _run(self, request: dict, timeout: float, memory_limit: int | None) -> dict:
        if not self.alive:
            try:
                self._start()
            except RuntimeError as e:
                return {"status": "crash", "error": str(e)}
        assert self.proc is not None and self.proc.stdin is not None
        line = json.dumps({"task": request, "timeout": timeout,
                           "memory_limit": memory_limit}) + "\n"
        try:
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
            reply = self._readline(timeout + _SERVER_SLACK_S)
        except BrokenPipeError:
            reply = None
        except BaseException:  # ctrl-c: the server kills the running child when we go
            self.close()
            raise
        if reply is None:
            self.close()
            return {"status": "crash", "error": "the sandbox server died (or stopped "
                                                "answering) while running this model"}
        return json.loads(reply)

    def _readline(self, timeout: float) -> str | None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return None
            data = os.read(fd, 1 << 20)
            if not data:
                return None
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def close(self) -> None:
        """Stop the server (closing its stdin makes it kill a running child and exit)."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


@contextmanager
def borrowed():
    """A server of this process's pool for the duration of one task (a new one when every
    server is lent)."""
    with _free_lock:
        box = _free.pop() if _free else Sandbox()
    try:
        yield box
    finally:
        with _free_lock:
            _free.append(box)


def prestart(background: bool = False) -> None:
    """Start a server for the next task, unless one is free already (``background``: in a
    thread of its own, so that a Dask worker's event loop is not held up)."""
    with _free_lock:
        if _free:
            return
        box = Sandbox()
        # pooled before it has started: a task that borrows it waits on its lock
        box.lock.acquire()
        _free.append(box)

    def start():
        try:
            box._start()
        except Exception:  # noqa: BLE001  the first task retries the start and reports it
            pass
        finally:
            box.lock.release()

    if background:
        threading.Thread(target=start, name="graphshape-sandbox-start", daemon=True).start()
    else:
        start()


async def prestart_soon() -> None:
    """prestart in the background, as a coroutine: what a Dask client can fire at every
    worker without waiting (Client.run(..., wait=False) takes coroutines only)."""
    prestart(background=True)


def close_all() -> None:
    """Stop this process's servers that no task is using."""
    with _free_lock:
        boxes = list(_free)
        _free.clear()
    for box in boxes:
        box.close()


def run_in_sandbox(task: dict) -> dict:
    """Run one task (``{"request", "timeout", "memory_limit"}``, plus ``files`` with
    --upload: relative path -> bytes, the model first) and return its record, with
    ``worker`` saying where it ran."""
    request = dict(task["request"])
    folder = None
    files = task.get("files")
    try:
        if files:
            folder = tempfile.mkdtemp(prefix="graphshape-upload-")
            for rel, data in files.items():
                dest = os.path.join(folder, rel)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with open(dest, "wb") as f:
                    f.write(data)
            request["path"] = os.path.join(folder, next(iter(files)))
        with borrowed() as box:
            out = box.run(request, task["timeout"], task["memory_limit"])
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    out["worker"] = _where()
    return out


def run_batch_in_sandbox(tasks: list, budget: float | None = None) -> list:
    """Several tasks one after another, each as ``run_in_sandbox`` (a process of its own, so
    a crash, a timeout or the memory limit is that model's record alone): their records, in
    order. Past ``budget`` seconds the tasks not yet started are None, for the client to
    submit again. What a Dask worker runs for a batch of small models (cluster.py)."""
    t0 = time.monotonic()
    out: list = []
    for task in tasks:
        if out and budget is not None and time.monotonic() - t0 >= budget:
            out.append(None)
        else:
            out.append(run_in_sandbox(task))
    return out


def _where() -> str:
    try:
        from distributed import get_worker  # noqa: PLC0415  dask: an optional extra

        return get_worker().address
    except (ImportError, ValueError):
        return "in process"
