"""``audit ... --html DIR``: an audit run as pages, from the store (render.html draws them).

``DIR/index.html`` has one row per model of the run (name, status, the domain in one line,
nodes, seconds, the change since the previous run in the store; regressions on top), and
``DIR/models/NAME.html`` one page per model that analysed: each model is analysed again
in this process for its page (the page needs the analysis itself, not only the stored
closed form; models are read from the paths the run stored), with the run's verification
table where the run verified it. Every file is written atomically.
"""

from __future__ import annotations

import os
import re
import tempfile

from graphshape.analysis import analyze
from graphshape.errors import GraphShapeError
from graphshape.fleet.run import model_dims
from graphshape.fleet.store import Store
from graphshape.render import html
from graphshape.runtime.verify import Verdict, VerificationReport

__all__ = ["write_pages", "index_rows"]


def _status(r) -> str:
    """valid / invalid / unproven / error, as the index filters them."""
    if r.status != "ok":
        return "error"
    if r.disagreements or (r.contract and r.contract.get("included") is False):
        return "invalid"
    if r.domain.startswith("no size") or r.domain == "":
        return "invalid" if r.exact else "unproven"
    return "valid" if r.exact else "unproven"


def _change(path: str, diff) -> tuple:
    """(words, regression?) for one model against the previous run."""
    if diff is None:
        return "", False
    if path in diff.added:
        return "new since the last run", False
    for old, new in diff.moved:
        if new == path:
            return f"moved from {old}", False
    c = next((c for c in diff.changed if c.path == path), None)
    if c is None:
        return "unchanged", False
    if c.stopped_loading:
        return f"stopped loading: {c.stopped_loading}", True
    parts = []
    if c.lost:
        parts.append(f"lost {c.lost}" + (f" ({'; '.join(c.lost_because[:1])})"
                                          if c.lost_because else ""))
    if c.newly_unproven:
        parts.append("became unproven: " + c.newly_unproven[0])
    if c.gained:
        parts.append(f"gained {c.gained}")
    if c.loads_again:
        parts.append("loads again")
    if c.no_longer_unproven:
        parts.append("now proved")
    if c.status_changed:
        parts.append(c.status_changed)
    if c.contract:
        parts.append(f"contract: {c.contract}")
    if c.newly_failing_verification:
        parts.append("verification now disagrees")
    if not parts:
        parts.append("content changed, same answer" if c.content_changed else "changed")
    return "; ".join(parts), c.regression


def _page_name(path: str, taken: set) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.splitext(os.path.basename(path))[0])
    name, k = base or "model", 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name + ".html"


def _verification(row):
    """The stored verification as the page draws it (None where the run did not verify)."""
    v = row.verification
    if not v or not v.get("verdicts"):
        return None
    try:
        return VerificationReport([Verdict(**x) for x in v["verdicts"]],
                                  v.get("providers", []), v.get("opt_level", "all"),
                                  bool(v.get("interrupted")))
    except TypeError:  # a record written by another version: the page goes without it
        return None


def index_rows(rows: list, diff=None, root: str = "") -> list:
    """The index's rows for a run's ModelRows (render.html.index reads them)."""
    out = []
    for r in rows:
        change, regression = _change(r.path, diff)
        one_line = r.error if r.status != "ok" else " ".join(r.domain.split())
        if r.status not in ("ok", "error"):
            one_line = f"{r.status}: {r.error}" if r.error else r.status
        out.append({"name": os.path.relpath(r.path, root) if root else r.path,
                    "path": r.path, "status": _status(r), "domain": one_line, "nodes": None,
                    "seconds": r.seconds, "change": change, "regression": regression})
    return out


def write_pages(out_dir: str, db: str, run_id: int, dims=(), input_shapes=(),
                progress=None) -> str:
    """Write the run's index and pages under ``out_dir``; the index's path."""
    with Store(db, readonly=True) as store:
        rows = store.rows(run_id)
        before = [r.id for r in store.runs() if r.id < run_id]
        diff = store.diff(before[-1], run_id) if before else None
    root = os.path.commonpath([os.path.dirname(os.path.abspath(r.path)) for r in rows]) \
        if rows else ""
    entries = index_rows(rows, diff, root)
    os.makedirs(os.path.join(out_dir, "models"), exist_ok=True)
    taken: set = set()
    for i, (r, entry) in enumerate(zip(rows, entries)):
        if progress:
            progress(i, len(rows), r.path)
        if r.status != "ok":
            continue
        try:
            a = analyze(r.path, dims=model_dims(r.path, dims, input_shapes))
        except (GraphShapeError, OSError) as e:
            entry["change"] = (entry["change"] + "; " if entry["change"] else "") + \
                f"no page: {str(e).splitlines()[0]}"
            continue
        entry["nodes"] = a.propagation.node_count
        name = _page_name(r.path, taken)
        _write(os.path.join(out_dir, "models", name),
               html.page(a, _verification(r), model_arg=r.path, dims=model_dims(
                   r.path, dims, input_shapes)))
        entry["href"] = f"models/{name}"
    if progress:
        progress(len(rows), len(rows), None)
    regressions = sum(e["regression"] for e in entries)
    note = (f"Run {run_id}" + (f" against run {before[-1]}: {regressions} "
                               f"regression{'' if regressions == 1 else 's'}" if diff else "")
            + ".")
    path = os.path.join(out_dir, "index.html")
    _write(path, html.index(entries, f"graphshape audit: {os.path.basename(root) or root}",
                            note))
    return path


def _write(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                               prefix=".graphshape-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
