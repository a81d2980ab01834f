"""An audit's tasks on a Dask cluster (dask.distributed): a scheduler given by address (or
DASK_SCHEDULER_ADDRESS / Dask's configuration), or a LocalCluster of ``-j N`` worker
processes on this machine.

Dask schedules, retries and moves the work; nothing here decides where a task runs. One
task per model (and per chunk of a long verification, nightly.py; short models several to
a task, below), each running ``run_in_sandbox`` on a worker, so workers need graphshape
installed and nothing else. Larger models get higher priority, so the longest tasks start
first. When a worker dies while running a task (killed, out of memory), the scheduler runs
the task again on another worker, up to Dask's ``distributed.scheduler.allowed-failures``
(3 by default); the scheduler's count of those deaths (``TaskState.suspicious``) is read
back and stored as the row's retries. A task that exhausts them becomes a row with status
``lost``.

Batches: a model without verification takes tens to hundreds of milliseconds, and Dask's
own work for a task (the client's submission, the scheduler's transitions, the worker's
bookkeeping, the result's round trip) costs milliseconds of CPU on each side, 10 to 15% of
such a model on one worker (bench/audit.py's overhead figures). So such models
(``batchable``) wait on the client while every worker has two tasks in flight, and go as
one task of up to BATCH_MODELS models (``run_batch_in_sandbox``: still a process of their
own each, so a crash, timeout or memory limit is one model's row). A batch starts no model
after BATCH_SECONDS and hands those back, to go again: a batch holds its models no longer
than that plus one model's time. A batch whose worker died is retried by Dask as any task
is (each of its rows counts the retries); one that exhausts them runs again as one task
per model, so that only the model that takes down workers is ``lost``.

TLS: a ``tls://`` address uses Dask's security configuration (``distributed.comm.tls.*``),
or the certificates given as ``tls_ca``/``tls_cert``/``tls_key``. dask is an optional extra
(``pip install graphshape[fleet]``), imported only here, only when a cluster is asked for.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from graphshape.errors import UsageError
from graphshape.fleet.nightly import Outcome
from graphshape.fleet.sandbox import prestart_soon, run_batch_in_sandbox, run_in_sandbox

__all__ = ["ClusterOptions", "DaskExecutor", "connect", "scheduler_address", "BATCH_MODELS",
           "BATCH_SECONDS"]

BATCH_MODELS = 32  # models in one batch task at most
BATCH_SECONDS = 2.0  # a batch starts no model past this (the rest go back to the client)
_WORKERS_TTL_S = 2.0  # how long the scheduler's count of workers is taken as current

_MISSING = ("the Dask cluster needs dask's distributed scheduler: pip install "
            "'graphshape[fleet]'")


@dataclass(frozen=True)
class ClusterOptions:
    scheduler: str | None = None  # an address; None: Dask's configuration, else LocalCluster
    jobs: int = 2  # LocalCluster worker processes
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    connect_timeout: float = 30.0
    upload: bool = False


def _distributed():
    try:
        import distributed  # noqa: PLC0415  dask: an optional extra
    except ImportError:
        raise UsageError(_MISSING) from None
    return distributed


def scheduler_address(opts: ClusterOptions) -> str | None:
    """The address to connect to: the option, else Dask's configuration (which reads
    DASK_SCHEDULER_ADDRESS), else None (start a LocalCluster)."""
    if opts.scheduler:
        return opts.scheduler
    try:
        import dask  # noqa: PLC0415  dask: an optional extra
    except ImportError:
        return None
    return dask.config.get("scheduler-address", None) or None


def _security(opts: ClusterOptions):
    given = [opts.tls_ca, opts.tls_cert, opts.tls_key]
    if not any(given):
        return None  # Dask's configuration decides (distributed.comm.tls.*)
    if not all(given):
        raise UsageError("TLS needs all of --tls-ca, --tls-cert and --tls-key")
    from distributed.security import Security  # noqa: PLC0415  dask: an optional extra

    return Security(tls_ca_file=opts.tls_ca, tls_client_cert=opts.tls_cert,
                    tls_client_key=opts.tls_key, require_encryption=True)


def connect(opts: ClusterOptions, on_start=None) -> DaskExecutor:
    """An executor on the scheduler at the given (or configured) address, or on a new
    LocalCluster of ``opts.jobs`` worker processes. It connects (or starts the cluster)
    with its first task, so a night with nothing to compute starts no cluster; the options
    are checked now. ``on_start(executor)`` is called once connected."""
    _distributed()
    address = scheduler_address(opts)
    security = _security(opts)
    if address and address.startswith("tls://"):
        _check_tls(address, security)
    return DaskExecutor(opts, address, security, on_start)


def _check_tls(address: str, security) -> None:
    """A tls:// address needs certificates: from the options or Dask's configuration.
    Checked before connecting, because a client that fails its TLS set-up leaves a
    half-made object behind that blocks the interpreter's exit for a minute."""
    from distributed.security import Security  # noqa: PLC0415  dask: an optional extra

    try:
        args = (security or Security()).get_connection_args("client")
    except Exception as e:  # noqa: BLE001  unreadable certificate files: one line
        raise UsageError(f"cannot use TLS for {address}: {_first_line(e)}") from None
    if args.get("ssl_context") is None:
        raise UsageError(f"{address} is a TLS address: give --tls-ca, --tls-cert and "
                         "--tls-key, or set Dask's distributed.comm.tls configuration")


class DaskExecutor:
    """submit / collect / cancel over a Dask client (the executor interface of
    nightly.py)."""

    splits = True

    def __init__(self, opts: ClusterOptions, address: str | None = None, security=None,
                 on_start=None):
        distributed = _distributed()
        self.opts, self.address, self.security = opts, address, security
        self.where = address or f"LocalCluster ({opts.jobs} workers)"
        self.upload = opts.upload
        self.on_start = on_start
        self.client: Any = None  # distributed.Client, once started
        self.cluster: Any = None  # the LocalCluster this executor started, if any
        self.completed: Any = None  # distributed.as_completed over the futures
        self.futures: dict = {}  # Dask key -> future
        self.batches: dict = {}  # Dask key of a batch -> its models, [(key, task, priority)]
        self.waiting: list = []  # batchable models not yet submitted: (key, task, priority)
        self.carried: dict = {}  # key -> retries of a batch it was in before (lost batches)
        self.outstanding = 0  # models submitted whose outcome has not been collected
        self.batch_seq = 0
        self._workers_seen = (0.0, 1)  # (when, the scheduler's count of workers)
        self.killed_worker = distributed.KilledWorker
        # the scheduler's count of worker deaths per task is asked for only once a worker
        # has gone (its "remove-worker" event), not once per task
        self.workers_lost: int | None = 0

    def start(self) -> None:
        """Connect (or start the LocalCluster), and have every worker start its sandbox
        server in the background."""
        if self.client is not None:
            return
        distributed = _distributed()
        try:
            if self.address:
                self.client = distributed.Client(self.address, security=self.security,
                                                 timeout=self.opts.connect_timeout,
                                                 set_as_default=False)
            else:
                self.cluster = distributed.LocalCluster(
                    n_workers=self.opts.jobs, threads_per_worker=1, processes=True,
                    dashboard_address=":0", silence_logs=logging.ERROR,
                    # the sandbox limits each task's memory (--memory-limit); a second
                    # limit on the worker process would only restart workers that wait
                    memory_limit=0)
                self.client = distributed.Client(self.cluster, set_as_default=False)
        except Exception as e:  # noqa: BLE001  unreachable, refused, TLS: one line
            if self.cluster is not None:
                self.cluster.close()
                self.cluster = None
            what = f"the Dask scheduler at {self.address}" if self.address else \
                "a LocalCluster"
            raise UsageError(f"cannot reach {what}: {_first_line(e)}") from None
        # results are fetched by the client's event loop as tasks finish, not one round
        # trip per result from this thread
        self.completed = distributed.as_completed([], loop=self.client.loop,
                                                  with_results=True, raise_errors=False)
        try:
            self.client.subscribe_topic("all", self._event)
        except Exception:  # noqa: BLE001  no events from this scheduler: ask every time
            self.workers_lost = None
        try:
            self.client.run(prestart_soon, wait=False)
        except Exception:  # noqa: BLE001  a worker that refuses it starts one with its task
            pass
        if self.on_start is not None:
            self.on_start(self)

    def _event(self, event) -> None:
        _, msg = event
        if isinstance(msg, dict) and msg.get("action") == "remove-worker" and \
                self.workers_lost is not None:
            self.workers_lost += 1

    def warm(self) -> None:
        """Nothing before the first task: start() warms the workers when it connects."""

    @property
    def dashboard(self) -> str | None:
        if self.client is None:
            return None
        try:
            return self.client.dashboard_link
        except Exception:  # noqa: BLE001  no dashboard (bokeh missing): nothing to print
            return None

    @property
    def workers(self) -> int:
        if self.client is None:
            return self.opts.jobs
        return len(self.client.scheduler_info().get("workers", {}))

    @property
    def window(self) -> int | None:
        # models sent as bytes are held in this process until their task runs: keep only a
        # couple per worker in flight
        return 2 * max(1, self.workers) if self.upload else None

    def submit(self, key: str, task: dict, priority: int = 0,
               batchable: bool = False) -> None:
        """Submit one model's task; a ``batchable`` one (short: no verification) may wait
        here to go with others as one batch task."""
        self.start()
        self.outstanding += 1
        if not batchable:
            self._submit_one(key, task, priority)
            return
        self.waiting.append((key, task, priority))
        if len(self.waiting) >= BATCH_MODELS or self._starved():
            self._flush()

    def _submit_one(self, key: str, task: dict, priority: int) -> None:
        assert self.client is not None and self.completed is not None
        fut = self.client.submit(run_in_sandbox, task, key=key, pure=False,
                                 priority=priority)
        self.futures[key] = fut
        self.completed.add(fut)

    def _flush(self) -> None:
        """The waiting models as one batch task (one model: a task of its own)."""
        assert self.client is not None and self.completed is not None
        items, self.waiting = self.waiting, []
        if len(items) == 1:
            self._submit_one(*items[0])
        elif items:
            self.batch_seq += 1
            key = f"{items[0][0]}+{len(items) - 1}#{self.batch_seq}"
            fut = self.client.submit(run_batch_in_sandbox, [t for _, t, _ in items],
                                     BATCH_SECONDS, key=key, pure=False,
                                     priority=max(p for _, _, p in items))
            self.futures[key] = fut
            self.batches[key] = items
            self.completed.add(fut)

    def _starved(self) -> bool:
        """Fewer tasks in flight than two per worker: a worker may soon have none."""
        return len(self.futures) < 2 * self._worker_count()

    def _worker_count(self) -> int:
        """The scheduler's count of workers, asked for at most every _WORKERS_TTL_S."""
        when, count = self._workers_seen
        now = time.monotonic()
        if now - when > _WORKERS_TTL_S:
            try:
                count = max(1, self.workers)
            except Exception:  # noqa: BLE001  the scheduler did not answer: the last count
                pass
            self._workers_seen = (now, count)
        return count

    def busy(self) -> int:
        return self.outstanding

    def collect(self, block: bool) -> list:
        if self.waiting and (block or self._starved()):
            self._flush()
        if not self.futures or self.completed is None:
            return []
        batch = self.completed.next_batch(block=block)
        if not batch:
            return []
        keys = [fut.key for fut, _ in batch]
        retries = self._retries(keys) if self.workers_lost != 0 else {}
        out: list = []
        for fut, result in batch:
            if fut.key in self.futures:  # else cancelled here (cancel)
                out += self._finished(fut, result, retries.get(fut.key, 0))
        if self.waiting and self._starved():
            self._flush()
        return out

    def _finished(self, fut, result, died: int) -> list:
        """The outcomes of one finished task: its model's, or its batch's (less the models
        the batch did not start, which wait to go again)."""
        status = fut.status  # before the release, which forgets it
        del self.futures[fut.key]
        fut.release()
        items = self.batches.pop(fut.key, None)
        if status not in ("error", "cancelled"):
            if items is None:
                return [self._outcome(fut.key, result, died)]
            out = []
            for (key, task, priority), rec in zip(items, result):
                if rec is None:
                    self.waiting.append((key, task, priority))
                else:
                    out.append(self._outcome(key, rec, died))
            return out
        e = result[1] if isinstance(result, tuple) else result  # (type, exception, traceback)
        if isinstance(e, self.killed_worker) and items is not None:
            # one task per model now: only the model that takes down workers is lost
            for key, task, priority in items:
                self.carried[key] = self.carried.get(key, 0) + died
                self._submit_one(key, task, priority)
            return []
        if status == "cancelled":  # by the cluster (its scheduler restarted, say)
            rec = {"status": "crash", "error": "the cluster cancelled the task"}
        elif isinstance(e, self.killed_worker):
            rec = {"status": "lost", "error": "the task took down a worker each time it ran "
                                              f"({_first_line(e)})"}
        else:
            rec = {"status": "crash", "error": "the task failed on its worker: "
                                               f"{type(e).__name__}: {_first_line(e)}"}
        keys = [key for key, _, _ in items] if items is not None else [fut.key]
        return [self._outcome(key, dict(rec), died) for key in keys]

    def _outcome(self, key: str, rec: dict, died: int) -> Outcome:
        self.outstanding -= 1
        return Outcome(key, rec, died + self.carried.pop(key, 0))

    def _retries(self, keys: list) -> dict:
        """How often a worker died while running each task (the scheduler's count)."""

        # a closure, so that it travels by value: the scheduler needs no graphshape
        def suspicious(dask_scheduler=None, keys=()):
            tasks = dask_scheduler.tasks
            return {k: tasks[k].suspicious for k in keys if k in tasks}

        try:
            return self.client.run_on_scheduler(suspicious, keys=keys)
        except Exception:  # noqa: BLE001  a scheduler that refuses it: retries unknown (0)
            return {}

    def cancel(self) -> None:
        if self.futures and self.client is not None:
            self.client.cancel(list(self.futures.values()))
        self.futures.clear()
        self.batches.clear()
        self.waiting.clear()
        self.carried.clear()
        self.outstanding = 0

    def close(self) -> None:
        if self.client is None:
            return
        try:  # first: else the scheduler logs a failed send of this client's own removal
            self.client.unsubscribe_topic("all")
        except Exception:  # noqa: BLE001  closing anyway
            pass
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None


def _first_line(e: BaseException) -> str:
    text = str(e)
    return text.splitlines()[0] if text else type(e).__name__
