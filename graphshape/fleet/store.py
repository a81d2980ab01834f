"""The audit store: one SQLite file (the standard library's sqlite3), embedded, no server.

Layout (schema version 1, in ``PRAGMA user_version``; the file is marked as graphshape's
with ``PRAGMA application_id``):

    runs        one row per `graphshape audit` run: when, where, version, options, status
    results     one row per computed result: key (content hash + version + options), the
                domain (closed form, isl set, conditions), findings, verification (every
                point's verdict), contract, the full analysis report (zlib JSON), timings
    entries     one row per model per run: path, content hash, which result, reused or
                computed, retries, worker
    file_hashes the stat signature and sha256 of each model file seen (identity.py)

A model whose key has a reusable result (status ok or error) is not analysed again: its
entry points at the earlier result. Every row is written in its own short transaction the
moment it arrives, so an interrupted run keeps what it finished. The database is in WAL
mode: readers never block the writer (the client of a run; workers never write), and two
runs on the same file queue for the write lock (busy timeout) instead of failing.

Reading (for reports and pages, without re-running anything): ``runs()``, ``run(id)``,
``rows(run_id)``, ``row(run_id, path)``, ``report(run_id, path)``, ``diff(a, b)``; see
records.py for what they return.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sqlite3
import zlib
from datetime import datetime, timezone

from graphshape.errors import UsageError
from graphshape.fleet import diff as diffs
from graphshape.fleet.records import REUSABLE, ModelRow, Run, RunDiff

__all__ = ["Store", "SCHEMA_VERSION", "APPLICATION_ID", "default_db"]

APPLICATION_ID = 0x67736864  # "gshd"
BUSY_TIMEOUT_S = 60.0

# Each entry migrates the schema from version i to i + 1, in one transaction.
MIGRATIONS: tuple = (
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started TEXT NOT NULL,
            finished TEXT,
            status TEXT NOT NULL,
            version TEXT NOT NULL,
            options TEXT NOT NULL,
            paths TEXT NOT NULL,
            location TEXT NOT NULL,
            host TEXT NOT NULL)""",
        """CREATE TABLE results (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            version TEXT NOT NULL,
            options TEXT NOT NULL,
            status TEXT NOT NULL,
            error TEXT NOT NULL DEFAULT '',
            inputs TEXT NOT NULL DEFAULT '{}',
            symbols TEXT NOT NULL DEFAULT '[]',
            domain TEXT NOT NULL DEFAULT '',
            domain_set TEXT NOT NULL DEFAULT '',
            period INTEGER NOT NULL DEFAULT 1,
            exact INTEGER NOT NULL DEFAULT 0,
            unproven TEXT NOT NULL DEFAULT '[]',
            conditions TEXT NOT NULL DEFAULT '[]',
            not_in_closed_form TEXT NOT NULL DEFAULT '[]',
            findings TEXT NOT NULL DEFAULT '[]',
            verification TEXT,
            contract TEXT,
            report BLOB,
            seconds REAL NOT NULL DEFAULT 0,
            created TEXT NOT NULL)""",
        "CREATE INDEX results_by_key ON results (key, status)",
        """CREATE TABLE entries (
            run_id INTEGER NOT NULL REFERENCES runs (id),
            path TEXT NOT NULL,
            result_id INTEGER NOT NULL REFERENCES results (id),
            content_hash TEXT NOT NULL,
            reused INTEGER NOT NULL,
            retries INTEGER NOT NULL DEFAULT 0,
            worker TEXT NOT NULL DEFAULT '',
            stored TEXT NOT NULL,
            PRIMARY KEY (run_id, path))""",
        """CREATE TABLE file_hashes (
            path TEXT PRIMARY KEY,
            signature TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            files TEXT NOT NULL,
            hashed_at INTEGER NOT NULL)""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_ROW_COLUMNS = ("e.run_id, e.path, e.content_hash, r.status, r.error, e.reused, e.retries, "
                "e.worker, r.seconds, r.inputs, r.symbols, r.domain, r.exact, r.unproven, "
                "r.findings, r.verification, r.contract, r.domain_set, r.period, "
                "r.conditions, r.not_in_closed_form")


def default_db(first_path: str) -> str:
    """``.graphshape/audit.sqlite`` in the folder that holds the first PATH (relative when
    the PATH is)."""
    return os.path.join(os.path.dirname(os.path.normpath(first_path)), ".graphshape",
                        "audit.sqlite")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """The audit store at ``path`` (created with its folder on first use unless
    ``readonly``). Use as a context manager, or call close()."""

    def __init__(self, path: str, readonly: bool = False):
        self.path = path
        self.readonly = readonly
        if readonly and not os.path.exists(path):
            raise UsageError(f"{path}: no audit store here (run `graphshape audit PATH...` "
                             "first, or give --db)")
        try:
            if readonly:
                self.db = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True,
                                          timeout=BUSY_TIMEOUT_S, isolation_level=None)
            else:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._prepare()
        except sqlite3.DatabaseError as e:
            raise UsageError(f"{path}: not a usable audit store ({e})") from None
        except OSError as e:
            raise UsageError(f"{path}: cannot open the audit store ({e.strerror})") from None

    # ---- opening, schema ----------------------------------------------------------------
    def _prepare(self) -> None:
        self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        app = self.db.execute("PRAGMA application_id").fetchone()[0]
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app not in (0, APPLICATION_ID) or (app == 0 and tables):
            raise UsageError(f"{self.path}: an SQLite file, but not a graphshape audit store")
        if version > SCHEMA_VERSION:
            raise UsageError(f"{self.path}: written by a newer graphshape (store schema "
                             f"{version}, this one knows up to {SCHEMA_VERSION})")
        if self.readonly:
            if version < SCHEMA_VERSION:
                raise UsageError(f"{self.path}: store schema {version} is older than "
                                 f"{SCHEMA_VERSION}; open it once for writing to migrate it")
            return
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA foreign_keys = ON")
        if version < SCHEMA_VERSION:
            self._migrate()

    def _migrate(self) -> None:
        # BEGIN IMMEDIATE takes the write lock first: of two processes opening a new file at
        # once, the second waits and then finds the schema already current
        self.db.execute("BEGIN IMMEDIATE")
        try:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for step in MIGRATIONS[version:]:
                for statement in step:
                    self.db.execute(statement)
            self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write(self, statements: list) -> list:
        """Run (sql, args) pairs in one transaction; the lastrowid of each."""
        ids = []
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for sql, args in statements:
                ids.append(self.db.execute(sql, args).lastrowid)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return ids

    # ---- writing (the client of a run) --------------------------------------------------
    def begin_run(self, paths: list, options: dict, where: str, version: str) -> int:
        return self._write([(
            "INSERT INTO runs (started, status, version, options, paths, location, host) "
            "VALUES (?, 'running', ?, ?, ?, ?, ?)",
            (_now(), version, json.dumps(options, sort_keys=True), json.dumps(list(paths)),
             where, socket.gethostname()))])[0]

    def finish_run(self, run_id: int, status: str) -> None:
        self._write([("UPDATE runs SET finished = ?, status = ? WHERE id = ?",
                      (_now(), status, run_id))])

    def find_result(self, key: str) -> int | None:
        """The newest reusable result stored under ``key``."""
        ph = ", ".join("?" for _ in REUSABLE)
        row = self.db.execute(f"SELECT id FROM results WHERE key = ? AND status IN ({ph}) "
                              "ORDER BY id DESC LIMIT 1", (key, *REUSABLE)).fetchone()
        return None if row is None else row[0]

    def record(self, run_id: int, path: str, content_hash: str, key: str, version: str,
               options: dict, result: dict, retries: int = 0, worker: str = "") -> int:
        """Store a computed result (task.execute's record; the report as ``report_z``,
        zlib-compressed JSON in base64) and this run's entry for it, in one transaction;
        the result's id."""
        blob = base64.b64decode(result["report_z"]) if result.get("report_z") else None
        cols = {
            "key": key, "content_hash": content_hash, "version": version,
            "options": json.dumps(options, sort_keys=True), "status": result["status"],
            "error": result.get("error") or "",
            "inputs": json.dumps(result.get("inputs") or {}),
            "symbols": json.dumps(result.get("symbols") or []),
            "domain": result.get("domain") or "", "domain_set": result.get("domain_set") or "",
            "period": int(result.get("period") or 1), "exact": int(bool(result.get("exact"))),
            "unproven": json.dumps(result.get("unproven") or []),
            "conditions": json.dumps(result.get("conditions") or []),
            "not_in_closed_form": json.dumps(result.get("not_in_closed_form") or []),
            "findings": json.dumps(result.get("findings") or []),
            "verification": _json_or_none(result.get("verification")),
            "contract": _json_or_none(result.get("contract")),
            "report": blob, "seconds": float(result.get("seconds") or 0.0), "created": _now(),
        }
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            rid = self.db.execute(f"INSERT INTO results ({names}) VALUES ({marks})",
                                  tuple(cols.values())).lastrowid
            self._entry(run_id, path, rid, content_hash, False, retries, worker)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return int(rid or 0)

    def reuse(self, run_id: int, path: str, content_hash: str, result_id: int) -> None:
        """This run's entry for ``path`` points at an earlier result."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._entry(run_id, path, result_id, content_hash, True, 0, "")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _entry(self, run_id, path, result_id, content_hash, reused, retries, worker) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO entries (run_id, path, result_id, content_hash, reused, "
            "retries, worker, stored) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, path, result_id, content_hash, int(reused), int(retries), worker,
             _now()))

    # the stat cache of identity.fingerprint
    def cached_hash(self, path: str):
        row = self.db.execute("SELECT signature, sha256, files, hashed_at FROM file_hashes "
                              "WHERE path = ?", (os.path.abspath(path),)).fetchone()
        if row is None:
            return None
        return json.loads(row[0]), row[1], json.loads(row[2]), row[3]

    def remember_hash(self, path: str, signatures: list, sha256: str, files: list,
                      hashed_at: int) -> None:
        if self.readonly:
            return
        self._write([("INSERT OR REPLACE INTO file_hashes (path, signature, sha256, files, "
                      "hashed_at) VALUES (?, ?, ?, ?, ?)",
                      (os.path.abspath(path), json.dumps(signatures), sha256,
                       json.dumps(files), hashed_at))])

    # ---- reading ------------------------------------------------------------------------
    def runs(self) -> list:
        """Every run, oldest first."""
        return [self._run(r) for r in self.db.execute(
            "SELECT id, started, finished, status, version, options, paths, location FROM runs "
            "ORDER BY id")]

    def run(self, run_id: int) -> Run:
        r = self.db.execute("SELECT id, started, finished, status, version, options, paths, "
                            "location FROM runs WHERE id = ?", (run_id,)).fetchone()
        if r is None:
            known = ", ".join(str(x.id) for x in self.runs()[-10:]) or "none yet"
            raise UsageError(f"{self.path}: no run {run_id} (runs: {known})")
        return self._run(r)

    def _run(self, r) -> Run:
        counts = self.db.execute(
            "SELECT count(*), coalesce(sum(1 - e.reused), 0), "
            "coalesce(sum(r.status != 'ok'), 0) FROM entries e JOIN results r "
            "ON r.id = e.result_id WHERE e.run_id = ?", (r[0],)).fetchone()
        return Run(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]), r[7],
                   counts[0], counts[1], counts[2])

    def rows(self, run_id: int) -> list:
        """Every model of a run, by path."""
        self.run(run_id)
        return [_model_row(r) for r in self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM entries e JOIN results r ON r.id = e.result_id "
            "WHERE e.run_id = ? ORDER BY e.path", (run_id,))]

    def row(self, run_id: int, path: str) -> ModelRow | None:
        r = self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM entries e JOIN results r ON r.id = e.result_id "
            "WHERE e.run_id = ? AND e.path = ?", (run_id, path)).fetchone()
        return None if r is None else _model_row(r)

    def report(self, run_id: int, path: str) -> dict | None:
        """The full analysis report (`graphshape analyze --json`'s document) of a model."""
        r = self.db.execute("SELECT r.report FROM entries e JOIN results r ON r.id = "
                            "e.result_id WHERE e.run_id = ? AND e.path = ?",
                            (run_id, path)).fetchone()
        if r is None or r[0] is None:
            return None
        return json.loads(zlib.decompress(r[0]))

    def last_runs(self, n: int = 2) -> list:
        """The ids of the last ``n`` runs, oldest first."""
        ids = [r[0] for r in self.db.execute("SELECT id FROM runs ORDER BY id DESC LIMIT ?",
                                             (n,))]
        return ids[::-1]

    def diff(self, a: int | None = None, b: int | None = None) -> RunDiff:
        """Run ``a`` against run ``b`` (default: the last two runs; with only ``a``, ``a``
        against the last run)."""
        if a is None or b is None:
            last = self.last_runs(2)
            if b is None and a is not None:
                b = last[-1] if last else None
            elif a is None and b is None and len(last) == 2:
                a, b = last
        if a is None or b is None:
            raise UsageError(f"{self.path}: a diff needs two runs (this store has "
                             f"{len(self.runs())})")
        return diffs.compare(self.run(a), self.rows(a), self.run(b), self.rows(b))


def _json_or_none(v) -> str | None:
    return None if v is None else json.dumps(v)


def _model_row(r) -> ModelRow:
    return ModelRow(
        run_id=r[0], path=r[1], content_hash=r[2], status=r[3], error=r[4],
        reused=bool(r[5]), retries=r[6], worker=r[7], seconds=r[8], inputs=json.loads(r[9]),
        symbols=json.loads(r[10]), domain=r[11], exact=bool(r[12]),
        unproven=json.loads(r[13]), findings=json.loads(r[14]),
        verification=None if r[15] is None else json.loads(r[15]),
        contract=None if r[16] is None else json.loads(r[16]), domain_set=r[17],
        period=r[18], conditions=json.loads(r[19]), not_in_closed_form=json.loads(r[20]))

