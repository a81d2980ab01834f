"""An audit's tasks on a Dask cluster (dask.distributed): a scheduler given by address (or
DASK_SCHEDULER_ADDRESS / Dask's configuration), or a LocalCluster of ``-j N`` worker
processes on this machine.

Dask schedules, retries and moves the work; nothing here schedules. One task per model
(and per chunk of a long verification, nightly.py), each running ``run_in_sandbox`` on a
worker, so workers need graphshape installed and nothing else. Larger models get higher
priority, so the longest tasks start first. When a worker dies while running a task (killed,
out of memory), the scheduler runs the task again on another worker, up to Dask's
``distributed.scheduler.allowed-failures`` (3 by default); the scheduler's count of those
deaths (``TaskState.suspicious``) is read back and stored as the row's retries. A task that
exhausts them becomes a row with status ``lost``.

TLS: a ``tls://`` address uses Dask's security configuration (``distributed.comm.tls.*``),
or the certificates given as ``tls_ca``/``tls_cert``/``tls_key``. dask is an optional extra
(``pip install graphshape[fleet]``), imported only here, only when a cluster is asked for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from graphshape.errors import UsageError
from graphshape.fleet.nightly import Outcome
from graphshape.fleet.sandbox import prestart_soon, run_in_sandbox

__all__ = ["ClusterOptions", "DaskExecutor", "connect", "scheduler_address"]

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
        self.futures: dict = {}
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

    def submit(self, key: str, task: dict, priority: int = 0) -> None:
        self.start()
        assert self.client is not None and self.completed is not None
        fut = self.client.submit(run_in_sandbox, task, key=key, pure=False,
                                 priority=priority)
        self.futures[key] = fut
        self.completed.add(fut)

    def busy(self) -> int:
        return len(self.futures)

    def collect(self, block: bool) -> list:
        if not self.futures or self.completed is None:
            return []
        batch = self.completed.next_batch(block=block)
        if not batch:
            return []
        keys = [fut.key for fut, _ in batch]
        retries = self._retries(keys) if self.workers_lost != 0 else {}
        out = []
        for fut, result in batch:
            if fut.key not in self.futures or fut.status == "cancelled":
                continue
            if fut.status == "error":  # result: (type, exception, traceback)
                e = result[1] if isinstance(result, tuple) else result
                if isinstance(e, self.killed_worker):
                    rec = {"status": "lost", "error": "the task took down a worker each time "
                                                      f"it ran ({_first_line(e)})"}
                else:
                    rec = {"status": "crash",
                           "error": f"the task failed on its worker: {type(e).__name__}: "
                                    f"{_first_line(e)}"}
            else:
                rec = result
            out.append(Outcome(fut.key, rec, retries.get(fut.key, 0)))
            del self.futures[fut.key]
            fut.release()
        return out

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
