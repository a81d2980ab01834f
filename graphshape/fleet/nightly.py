"""The registry audit: every model of a registry analysed (and verified), one row per model
stored the moment it arrives, reusing what an earlier run already computed.

For each model, in order of size (largest first, so the longest task does not start last):
its content hash, then its key (content, version, options); a key with a reusable result
is recorded at once, any other model becomes a task. Tasks go to an executor: in process
(one at a time) or a Dask cluster (cluster.py, which may send several models without
verification as one task); either way each model runs in its own forked process
(sandbox.py). A model whose verification runs past ``split_after`` seconds hands its
remaining points back, and they run as tasks of their own, sized from the time one point
took; its row is stored when the last of them arrives. Ctrl-C stops the run: what was
stored stays, a model whose points were still running is stored as interrupted, the run is
marked interrupted.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from graphshape.errors import UsageError
from graphshape.fleet.contracts import Contracts
from graphshape.fleet.identity import Fingerprint, fingerprint, graphshape_version, result_key
from graphshape.fleet.run import find_models
from graphshape.fleet.sandbox import close_all, prestart, run_in_sandbox
from graphshape.fleet.store import Store
from graphshape.fleet.task import merge_verification

__all__ = ["AuditOptions", "AuditResult", "Executor", "Outcome", "SerialExecutor",
           "audit_registry"]

GiB = 1 << 30


@dataclass(frozen=True)
class AuditOptions:
    """How a registry is audited. ``result_options`` are the ones that decide a model's
    result (they are part of its key); the others say how hard to try."""

    dims: tuple = ()
    input_shapes: tuple = ()
    verify: bool = False
    n_random: int = 6
    seed: int = 0
    opt_level: str = "all"
    memory_budget: int = 2 * GiB  # verification skips sizes estimated to need more
    timeout: float = 600.0  # seconds per task
    memory_limit: int | None = 8 * GiB  # resident memory of one task's processes
    split_after: float | None = 60.0  # seconds of verification before the rest is split
    force: bool = False
    upload: bool = False
    contracts: Contracts | None = None

    def result_options(self, path: str) -> dict:
        contract = self.contracts.contract_for(path) if self.contracts else None
        dims = list(self.dims) + (self.contracts.dims_for(path) if self.contracts else [])
        verify = None
        if self.verify:
            verify = {"n_random": self.n_random, "seed": self.seed, "opt_level": self.opt_level,
                      "memory_budget": self.memory_budget}
        return {"dims": dims, "input_shapes": list(self.input_shapes), "verify": verify,
                "contract": contract}

    def to_json(self) -> dict:
        return {"dims": list(self.dims), "input_shapes": list(self.input_shapes),
                "verify": self.verify, "n_random": self.n_random, "seed": self.seed,
                "opt_level": self.opt_level, "memory_budget": self.memory_budget,
                "timeout": self.timeout, "memory_limit": self.memory_limit,
                "split_after": self.split_after, "force": self.force, "upload": self.upload,
                "require_from": self.contracts.source if self.contracts else None}


@dataclass
class AuditResult:
    run_id: int
    rows: list  # ModelRow, by path
    interrupted: bool
    seconds: float
    where: str
    db: str

    @property
    def reused(self) -> int:
        return sum(r.reused for r in self.rows)


class Executor(Protocol):
    """Where tasks run: SerialExecutor (here) or cluster.DaskExecutor."""

    where: str  # said in the run's row
    splits: bool  # whether a long verification is split into tasks

    @property
    def dashboard(self) -> str | None: ...

    @property
    def window(self) -> int | None: ...  # tasks in flight at most (None: no bound)

    @property
    def workers(self) -> int: ...

    def warm(self) -> None: ...

    def submit(self, key: str, task: dict, priority: int = 0,
               batchable: bool = False) -> None: ...  # batchable: short, may go with others

    def busy(self) -> int: ...  # models submitted and not collected

    def collect(self, block: bool) -> list: ...  # Outcomes of finished tasks

    def cancel(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """A finished task: its key, its record, and how often a worker died running it."""

    key: str
    record: dict
    retries: int = 0


class SerialExecutor:
    """Tasks one after another in this process's sandbox (``-j 1``: no cluster)."""

    where = "in process"
    dashboard = None
    window: int | None = 1  # tasks in flight at most (None: no bound)
    splits = False  # split a long verification into tasks (pointless one at a time)
    workers = 1

    def __init__(self):
        self.queue: deque = deque()

    def warm(self) -> None:
        """Start the sandbox server now rather than with the first task."""
        prestart()

    def submit(self, key: str, task: dict, priority: int = 0,
               batchable: bool = False) -> None:
        self.queue.append((key, task))

    def busy(self) -> int:
        return len(self.queue)

    def collect(self, block: bool) -> list:
        if not block or not self.queue:
            return []
        key, task = self.queue.popleft()
        return [Outcome(key, run_in_sandbox(task))]

    def cancel(self) -> None:
        self.queue.clear()
        close_all()  # a task interrupted mid-run leaves its server unusable

    def close(self) -> None:
        close_all()


@dataclass
class _Job:
    path: str
    fp: Fingerprint
    key: str
    options: dict
    kind: str = "model"
    group: _Group | None = None
    part: int = 0


@dataclass
class _Group:
    """A model whose verification points were split into tasks: its parts as they come."""

    job: _Job
    record: dict
    parts: list
    retries: int = 0
    failed: dict | None = None
    workers: set = field(default_factory=set)


def audit_registry(paths, store: Store, options: AuditOptions, executor: Executor,
                   progress=None) -> AuditResult:
    """Audit every model under ``paths`` into ``store`` (a new run); the rows of the run."""
    t0 = time.perf_counter()
    models = find_models(paths)
    if not models:
        raise UsageError("no .onnx file found in " + ", ".join(paths))
    version = graphshape_version()
    executor.warm()
    run_id = store.begin_run(list(paths), options.to_json(), executor.where, version)
    night = _Night(store, run_id, options, executor, version, progress, len(models))
    interrupted = False
    try:
        night.go(models)
        store.finish_run(run_id, "done")
    except KeyboardInterrupt:
        interrupted = True
        night.stop()
        store.finish_run(run_id, "interrupted")
    if progress:
        progress(len(models), len(models), None)
    return AuditResult(run_id, store.rows(run_id), interrupted, time.perf_counter() - t0,
                       executor.where, store.path)


class _Night:
    def __init__(self, store, run_id, options, executor, version, progress, total):
        self.store, self.run_id, self.options = store, run_id, options
        self.executor, self.version = executor, version
        self.progress, self.total, self.done = progress, total, 0
        self.jobs: dict = {}
        self.groups: list = []
        # key -> paths waiting for a result computed in this run (the same content under
        # several names is analysed once)
        self.twins: dict = {}

    def go(self, models: list) -> None:
        listing: dict = {}
        sizes = {p: _size(p) for p in models}
        for n, path in enumerate(sorted(models, key=lambda p: (-sizes[p], p))):
            fp = fingerprint(path, self.store, listing)
            opts = self.options.result_options(path)
            key = result_key(fp.sha256, self.version, opts)
            reuse = None if self.options.force else self.store.find_result(key)
            if reuse is not None:
                self.store.reuse(self.run_id, path, fp.sha256, reuse)
                self._stored(path)
            elif key in self.twins:
                self.twins[key].append(path)
            else:
                self.twins[key] = []
                job = _Job(path, fp, key, opts)
                self._submit(f"audit-{self.run_id}-{n}-{os.path.basename(path)}", job,
                             self._request(job), sizes[path])
            self._collect(block=False)
            window = self.executor.window
            while window is not None and self.executor.busy() >= window:
                self._collect(block=True)
        while self.executor.busy():
            self._collect(block=True)

    def _request(self, job: _Job, points: list | None = None) -> dict:
        o = self.options
        req = {"kind": "points" if points is not None else "model", "path": job.path,
               "display": job.path, "dims": job.options["dims"],
               "input_shapes": job.options["input_shapes"], "contract": job.options["contract"],
               "split_after": o.split_after if self.executor.splits else None,
               "verify": None}
        if o.verify:
            req["verify"] = dict(job.options["verify"], timeout=o.timeout)
        if points is not None:
            req["points"] = points
        return req

    def _submit(self, key: str, job: _Job, request: dict, priority: int) -> None:
        task = {"request": request, "timeout": self.options.timeout,
                "memory_limit": self.options.memory_limit}
        if self.options.upload:
            folder = os.path.dirname(job.path)
            task["files"] = {os.path.basename(job.path): _read(job.path)}
            for rel in job.fp.files:
                task["files"][rel] = _read(os.path.join(folder, rel))
        self.jobs[key] = job
        # a model without verification is short (tens of milliseconds to seconds): the
        # executor may send several as one task; not with --upload, whose bytes wait here
        batchable = job.kind == "model" and request["verify"] is None and \
            not self.options.upload
        self.executor.submit(key, task, priority, batchable)

    def _collect(self, block: bool) -> None:
        for out in self.executor.collect(block):
            job = self.jobs.pop(out.key)
            if job.kind == "model":
                self._model_arrived(out.key, job, out.record, out.retries)
            else:
                self._points_arrived(job, out.record, out.retries)

    def _model_arrived(self, key: str, job: _Job, rec: dict, retries: int) -> None:
        pending = rec.pop("pending_points", None)
        per_point = rec.pop("seconds_per_point", None) or 1.0
        if not pending:
            self._store(job, rec, retries, rec.get("worker", ""))
            return
        # as many tasks as the points' time is worth split_after seconds each, but not more
        # than two per worker: each task pays the analysis and an onnxruntime session again
        worth = per_point * len(pending) / (self.options.split_after or 60.0)
        count = max(1, min(math.ceil(worth), 2 * max(1, self.executor.workers)))
        size = math.ceil(len(pending) / count)
        chunks = [pending[i:i + size] for i in range(0, len(pending), size)]
        group = _Group(job, rec, [rec["verification"]] + [None] * len(chunks), retries)
        group.workers.add(rec.get("worker", ""))
        self.groups.append(group)
        for k, pts in enumerate(chunks, start=1):
            part = _Job(job.path, job.fp, job.key, job.options, "points", group, k)
            self._submit(f"{key}-points{k}", part, self._request(job, pts), 0)

    def _points_arrived(self, job: _Job, rec: dict, retries: int) -> None:
        group = job.group
        assert group is not None
        group.retries += retries
        group.workers.add(rec.get("worker", ""))
        if rec.get("status") == "ok":
            group.parts[job.part] = rec["verification"]
        else:
            group.parts[job.part] = {"verdicts": []}
            if group.failed is None:
                group.failed = {"status": rec.get("status", "crash"),
                                "error": f"verification task {job.part}: "
                                         f"{rec.get('error', 'failed')}"}
        if all(p is not None for p in group.parts):
            self._finish_group(group, interrupted=group.failed is not None)

    def _finish_group(self, group: _Group, interrupted: bool) -> None:
        self.groups.remove(group)
        parts = [p for p in group.parts if p is not None]
        rec = dict(group.record, verification=merge_verification(parts, interrupted))
        rec["seconds"] = float(group.record.get("seconds", 0.0)) + sum(
            p.get("seconds", 0.0) for p in parts[1:])
        if group.failed is not None:
            rec.update(group.failed)
        elif interrupted:
            rec.update(status="interrupted", error="the run was stopped before every "
                                                   "verification task of this model finished")
        workers = sorted(w for w in group.workers if w)
        self._store(group.job, rec, group.retries, ", ".join(workers))

    def _store(self, job: _Job, rec: dict, retries: int, worker: str) -> None:
        rid = self.store.record(self.run_id, job.path, job.fp.sha256, job.key, self.version,
                                job.options, rec, retries, worker)
        self._stored(job.path)
        for twin in self.twins.pop(job.key, []):
            self.store.reuse(self.run_id, twin, job.fp.sha256, rid)
            self._stored(twin)

    def _stored(self, path: str) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total, path)

    def stop(self) -> None:
        """After ctrl-c: no more tasks; a split model with parts done is stored as
        interrupted (its analysis and the points that ran are kept)."""
        self.executor.cancel()
        for group in list(self.groups):
            self._finish_group(group, interrupted=True)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""  # the worker's analysis reports the file as unreadable
