"""The parent's side of onnxruntime's child process (worker.py): start it, send it sizes,
read its replies. Imports nothing heavy, so that a command can start the child (which
imports onnxruntime and loads the model) before it imports sympy and analyses the model."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

from graphshape.errors import VerificationError

__all__ = ["LoadRefused", "Worker", "WINDOW", "pipelined", "prestart"]


class LoadRefused(VerificationError):
    """onnxruntime refuses the model when loading it (or its worker never starts): no size
    can run."""


# requests the worker holds at once: replies are read while it runs the next ones (the
# parent judges one size while onnxruntime runs another); small enough that neither pipe
# fills (a request is ~150 bytes, a reply at most ~1 KB)
WINDOW = 16


class Worker:
    """One onnxruntime session in a child process, reused across sizes. ``providers`` None:
    the worker picks them (CUDA where a GPU is present) and reports them in its hello."""

    def __init__(self, path, providers, opt_level):
        # run worker.py by path, not with -m: -m imports the graphshape package first
        worker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
        boot = ("import runpy, sys; sys.path = [p for p in sys.path if p]; "
                f"runpy.run_path({worker!r}, run_name='__main__')")
        self.args = [sys.executable, "-c", boot, path, ",".join(providers or ["auto"]),
                     opt_level]
        self.proc = None
        self._pending = b""  # what the worker wrote past the last reply read
        self.providers = providers or []

    def spawn(self):
        """Start the process; it imports onnxruntime and loads the model while the caller
        goes on (ready() waits for it)."""
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        self._pending = b""
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env,
                                     start_new_session=True)

    def ready(self):
        hello = self.receive(300)
        if not isinstance(hello, dict) or not hello.get("ready"):
            self.stop()
            hello = hello if isinstance(hello, dict) else {}
            self.providers = hello.get("providers") or self.providers
            if hello.get("missing"):
                raise VerificationError(hello["error"])
            msg = hello.get("error", "the onnxruntime worker did not start")
            raise LoadRefused(f"onnxruntime cannot load the model: {msg}")
        self.providers = hello["providers"]

    def start(self):
        self.spawn()
        self.ready()

    def send(self, request: dict) -> bool:
        """False when the worker is gone (what it answered before is still to be read)."""
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def receive(self, timeout):
        """The next reply, "timeout", or None when the worker ended. Read from the pipe's
        descriptor into our own buffer: several replies may arrive at once, and a buffered
        readline would hide the later ones from select."""
        deadline = time.perf_counter() + max(timeout, 0)
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" not in self._pending:
                r, _, _ = select.select([fd], [], [], max(deadline - time.perf_counter(), 0))
                if not r:
                    return "timeout"
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return None
                self._pending += chunk
            line, self._pending = self._pending.split(b"\n", 1)
            try:
                reply = json.loads(line)
            except ValueError:
                continue  # not ours: a native library printing to the worker's stdout
            if isinstance(reply, dict):
                return reply

    def run(self, inputs, timeout, fill: str = "normal"):
        """One size, one fill, waited for."""
        return pipelined(self, [{"inputs": inputs, "fills": [fill]}], timeout)[0]

    def died(self):
        rc = self.proc.wait()
        self.proc = None
        sig = -rc if rc < 0 else None
        name = signal.Signals(sig).name if sig else f"exit code {rc}"
        return {"ok": False, "crash": True, "error": f"onnxruntime died ({name})"}

    def stop(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            self.proc = None


def pipelined(worker, requests: list, timeout: float, on_reply=None) -> list:
    """Every request's reply, in order, up to WINDOW of them sent ahead. ``timeout``: the
    seconds each request may run, counted from when the worker can start it (the previous
    reply, or its sending). A request that times out or takes the worker down gets that
    reply; those sent after it go to a fresh worker. ``on_reply(i, reply)`` as each comes."""
    replies: list = []
    sent_at: list = []
    done = 0
    last = 0.0
    refused = 0  # fresh workers in a row that would not take the next request
    while done < len(requests):
        if worker.proc is None or (worker.proc.poll() is not None and len(sent_at) == done):
            worker.stop()  # gone between requests: nothing of ours was running
            worker.start()
            last = time.perf_counter()
        while len(sent_at) < len(requests) and len(sent_at) - done < WINDOW:
            if not worker.send(requests[len(sent_at)]):
                break  # gone: read what it answered, then its end
            sent_at.append(time.perf_counter())
        if len(sent_at) == done:
            # the worker went before taking this request: it never ran, so it is sent to
            # a fresh one; a third worker in a row that will not take it is its reply
            refused += 1
            if refused < 3:
                worker.stop()
                continue
            reply = worker.died()
        else:
            limit = timeout * len(requests[done].get("fills", [1]))
            began = max(last, sent_at[done])
            reply = worker.receive(began + limit - time.perf_counter())
            if reply == "timeout":
                worker.stop()
                reply = {"ok": False, "timeout": True, "error": f"no answer within {limit:g} s"}
            elif reply is None:
                reply = worker.died()
        refused = 0
        last = time.perf_counter()
        if worker.proc is None:
            del sent_at[done + 1:]  # resent to the next worker
        replies.append(reply)
        if on_reply is not None:
            on_reply(done, reply)
        done += 1
    return replies


def prestart(path: str, providers=None, opt_level: str = "all") -> Worker | None:
    """A worker for ``path`` started now (it imports onnxruntime and loads the model while
    the caller analyses it), to hand to verify(worker=...); None where ``path`` is not a
    file. The caller stops it if verify is never called (stop() is idempotent)."""
    if not isinstance(path, str) or not os.path.isfile(path):
        return None
    w = Worker(os.path.abspath(path), providers, opt_level)
    w.spawn()
    return w
