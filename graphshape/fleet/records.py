"""What the audit store holds, as plain dataclasses: a run, one model's row in a run, and
the difference between two runs. ``Store.runs()``, ``Store.rows()`` and ``Store.diff()``
return these; a page (or any report) is rendered from them without re-running anything.

Statuses of a row:
    ok           analysed (and verified, with --verify); the domain and findings are stored
    error        the model could not be analysed (unreadable file, bad --dim, a graphshape
                 error); the one-line error is stored. Deterministic: reused on later runs
    timeout      no result within --timeout seconds
    memory       the model's processes went past --memory-limit
    crash        graphshape's process for the model died (a signal), or the task raised
    lost         the model's task took down workers more often than the scheduler allows
    interrupted  the run was stopped (ctrl-c) before this model's verification finished
Only ``ok`` and ``error`` rows are reused by a later run of the same content, version and
options; the others are computed again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["Run", "ModelRow", "Change", "RunDiff", "REUSABLE", "STATUSES"]

STATUSES = ("ok", "error", "timeout", "memory", "crash", "lost", "interrupted")
REUSABLE = ("ok", "error")


@dataclass(frozen=True)
class Run:
    """One invocation of ``graphshape audit`` on a registry."""

    id: int
    started: str  # ISO 8601, UTC
    finished: str | None  # None while running (or when the process died)
    status: str  # running / done / interrupted
    version: str  # graphshape's version
    options: dict  # the options that decide results (dims, verification, contracts ...)
    paths: list  # the PATHs given
    where: str  # "in process", "LocalCluster (2 workers)", or the scheduler's address
    models: int = 0  # rows stored
    analysed: int = 0  # rows computed in this run (the rest were reused)
    failed: int = 0  # rows whose status is not ok

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ModelRow:
    """One model in one run. ``domain_set`` is the domain's isl set over v0, v1, ... in the
    order of ``symbols`` ("" when there is none); ``conditions`` are the domain's conditions
    in closed form, each ``{"set", "where", "condition"}`` (its isl set, the node and reason
    in words, the condition as text): what a diff needs to name the node behind lost sizes."""

    run_id: int
    path: str
    content_hash: str  # sha256 of the model file and its external data
    status: str
    error: str = ""
    reused: bool = False  # an earlier result with the same key (an earlier run's, or this
    # run's for the same content under another name), not computed for this entry
    retries: int = 0  # times a worker died while running this model's tasks
    worker: str = ""  # where it ran ("in process", a worker's address)
    seconds: float = 0.0  # analysis + verification when it was computed
    inputs: dict = field(default_factory=dict)  # input name -> dims (ints and symbols)
    symbols: list = field(default_factory=list)
    domain: str = ""  # the closed form, as `graphshape analyze` prints it
    exact: bool = False
    unproven: list = field(default_factory=list)  # reasons, in words
    findings: list = field(default_factory=list)  # audit findings: {level, title, detail}
    verification: dict | None = None  # {summary, ok, providers, opt_level, verdicts, ...}
    contract: dict | None = None  # {glob, spec, verdict, text}
    domain_set: str = ""
    period: int = 1
    conditions: list = field(default_factory=list)
    not_in_closed_form: list = field(default_factory=list)

    @property
    def disagreements(self) -> list:
        """Verification points where onnxruntime disagreed with the prediction."""
        if not self.verification:
            return []
        return [v for v in self.verification.get("verdicts", []) if v.get("agree") is False]

    def to_json(self) -> dict:
        """The row as `graphshape audit --json` prints it (without the isl sets): the same
        keys for every row, ``verification`` and ``contract`` null when there is none
        (the schema's ``audit_row``)."""
        ver = None
        if self.verification is not None:
            ver = {k: v for k, v in self.verification.items() if k != "verdicts"}
            ver["verdicts"] = self.verification.get("verdicts", [])
        return {"path": self.path, "status": self.status, "inputs": self.inputs,
                "domain": self.domain, "exact": self.exact,
                "unproven": len(self.unproven), "unproven_reasons": self.unproven,
                "findings": self.findings, "seconds": round(self.seconds, 3),
                "error": self.error or None, "content_hash": self.content_hash,
                "reused": self.reused, "retries": self.retries, "worker": self.worker,
                "verification": ver, "contract": self.contract}


@dataclass(frozen=True)
class Change:
    """What changed for one model present in both runs (same path)."""

    path: str
    content_changed: bool
    before_status: str
    after_status: str
    before_domain: str
    after_domain: str
    lost: str | None = None  # sizes valid before and not after, in closed form
    lost_because: list = field(default_factory=list)  # the nodes (in words) that reject them
    gained: str | None = None  # sizes valid after and not before
    newly_unproven: list = field(default_factory=list)  # reasons, when it became unproven
    no_longer_unproven: bool = False
    newly_failing_verification: list = field(default_factory=list)  # disagreements, in words
    stopped_loading: str | None = None  # the error, when it stopped loading
    loads_again: bool = False
    inputs_changed: str | None = None  # "x [1, 3, H, W] -> [1, 3, 256, 256]"
    contract: str | None = None  # "included -> not included"
    status_changed: str | None = None  # "ok -> timeout", for other status changes
    notes: list = field(default_factory=list)

    @property
    def regression(self) -> bool:
        """The model lost sizes or became unproven (what a nightly job gates on)."""
        return bool(self.lost or self.newly_unproven or self.stopped_loading)

    def to_json(self) -> dict:
        return dict(asdict(self), regression=self.regression)


@dataclass(frozen=True)
class RunDiff:
    """Run ``a`` against run ``b``: models added, removed, moved (same content, new path),
    and the changes of those present in both."""

    a: Run
    b: Run
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    moved: list = field(default_factory=list)  # (old path, new path)
    changed: list = field(default_factory=list)  # Change, by path
    unchanged: int = 0

    @property
    def regressions(self) -> list:
        return [c for c in self.changed if c.regression]

    @property
    def ok(self) -> bool:
        """No model lost sizes or became unproven (results.return_code: 0, else 1)."""
        return not self.regressions

    def to_json(self) -> dict:
        return {"schema_version": 1, "run_a": self.a.to_json(), "run_b": self.b.to_json(),
                "added": self.added, "removed": self.removed,
                "moved": [list(m) for m in self.moved],
                "changed": [c.to_json() for c in self.changed], "unchanged": self.unchanged,
                "regressions": [c.path for c in self.regressions], "ok": self.ok}
