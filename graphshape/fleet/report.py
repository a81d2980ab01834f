"""A registry audit's rows, its runs and a diff between runs, as text, Markdown and JSON
(what `graphshape audit`, `audit runs` and `audit diff` print)."""

from __future__ import annotations

import json
import os

from graphshape.fleet.records import Change, RunDiff

__all__ = ["rows_text", "rows_markdown", "rows_json", "runs_text", "runs_markdown",
           "diff_text", "diff_markdown", "diff_json"]


# ---- the rows of a run -----------------------------------------------------------------
def _head(r) -> str:
    bits = [f"{r.seconds:.2f} s"]
    if r.reused:
        bits.append("reused from an earlier run")
    if r.retries:
        bits.append(f"retried: a worker died {r.retries} time{'s' * (r.retries > 1)}")
    return f"== {r.path} ({', '.join(bits)})"


def rows_text(rows: list) -> str:
    lines = []
    for r in rows:
        lines.append(_head(r))
        if r.status != "ok":
            lines.append(f"{r.status}: {r.error}")
        if r.status in ("error",) or not r.domain:
            continue
        lines += [f"domain: {ln}" if i == 0 else f"        {ln}"
                  for i, ln in enumerate(r.domain.splitlines())]
        lines += [f"[{f['level']}] {f['title']}: {f['detail']}" for f in r.findings]
        if not r.findings:
            lines.append("no findings")
        if r.contract:
            lines.append(f"contract '{r.contract['spec']}' (from '{r.contract['glob']}'): "
                         + r.contract["text"].splitlines()[0])
        if r.verification:
            v = r.verification
            lines.append(("verified: " if v.get("ok") else "DISAGREEMENT: ") + v["summary"])
            for d in r.disagreements[:5]:
                sizes = ", ".join(f"{k}={n}" for k, n in d["sizes"].items())
                lines.append(f"  {sizes}: predicted {d['predicted']}, onnxruntime "
                             f"{d['observed']} {d.get('detail') or ''}".rstrip())
    return "\n".join(lines)


def rows_markdown(rows: list) -> str:
    lines = ["| model | status | inputs | valid sizes | unproven | verified | findings | s |",
             "| --- | --- | --- | --- | ---: | --- | --- | ---: |"]
    for r in rows:
        dom = f"{r.status}: {r.error}" if r.status != "ok" else r.domain.replace("\n", " ")
        ins = "; ".join(f"{k} {v}" for k, v in r.inputs.items())
        finds = "; ".join(f["title"] for f in r.findings)
        ver = r.verification["summary"] if r.verification else ""
        lines.append(f"| {os.path.basename(r.path)} | {r.status} | {ins} | {_cell(dom)} | "
                     f"{len(r.unproven)} | {_cell(ver)} | {_cell(finds)} | "
                     f"{r.seconds:.2f} |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rows_json(result) -> str:
    return json.dumps({"schema_version": 1, "run": result.run_id, "db": result.db,
                       "where": result.where, "interrupted": result.interrupted,
                       "seconds": round(result.seconds, 3),
                       "models": [r.to_json() for r in result.rows]}, indent=2)


# ---- runs --------------------------------------------------------------------------------
def runs_text(runs: list) -> str:
    lines = [f"{'run':>4}  {'started':<25}  {'status':<11}  {'models':>6}  {'analysed':>8}  "
             f"{'failed':>6}  where"]
    for r in runs:
        lines.append(f"{r.id:>4}  {r.started:<25}  {r.status:<11}  {r.models:>6}  "
                     f"{r.analysed:>8}  {r.failed:>6}  {r.where}")
    return "\n".join(lines)


def runs_markdown(runs: list) -> str:
    lines = ["| run | started | status | models | analysed | failed | where |",
             "| ---: | --- | --- | ---: | ---: | ---: | --- |"]
    lines += [f"| {r.id} | {r.started} | {r.status} | {r.models} | {r.analysed} | "
              f"{r.failed} | {r.where} |" for r in runs]
    return "\n".join(lines)


# ---- a diff ------------------------------------------------------------------------------
def _indent(text: str, first: str, rest: str) -> list:
    return [(first if i == 0 else rest) + ln for i, ln in enumerate(text.splitlines())]


def change_lines(c: Change) -> list:
    """One model's change, in words (the body under its path)."""
    out = []
    if c.content_changed:
        out.append("content changed")
    if c.stopped_loading:
        out.append(f"stopped loading: {c.stopped_loading} (every size is lost)")
    if c.loads_again:
        out.append("loads again")
    if c.status_changed:
        out.append(f"status: {c.status_changed}")
    if c.inputs_changed:
        out.append(f"inputs: {c.inputs_changed}")
    if c.before_domain != c.after_domain and c.after_status == c.before_status == "ok":
        out += _indent(c.before_domain, "before: ", "        ")
        out += _indent(c.after_domain, "after:  ", "        ")
    if c.lost:
        out += _indent(c.lost, "no longer valid: ", "  ")
        out += [f"  because {b}" for b in c.lost_because]
    if c.gained:
        out += _indent(c.gained, "newly valid: ", "  ")
    if c.newly_unproven:
        out.append("newly unproven:")
        out += [f"  because {u}" for u in c.newly_unproven]
    if c.no_longer_unproven:
        out.append("no longer unproven")
    if c.newly_failing_verification:
        out.append("newly failing verification:")
        out += [f"  {d}" for d in c.newly_failing_verification]
    if c.contract:
        out.append(f"contract: {c.contract}")
    out += c.notes
    if not out:
        out.append("the stored result changed (same content, same domain)")
    return out


def _run_head(r) -> str:
    return f"run {r.id} ({r.started}, {r.models} models, {r.status})"


def diff_text(d: RunDiff) -> str:
    lines = [f"{_run_head(d.a)} -> {_run_head(d.b)}"]
    for title, items in (("added", d.added), ("removed", d.removed)):
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines += [f"  {p}" for p in items]
    if d.moved:
        lines.append(f"moved ({len(d.moved)}, same content):")
        lines += [f"  {a} -> {b}" for a, b in d.moved]
    if d.changed:
        lines.append(f"changed ({len(d.changed)}):")
        for c in d.changed:
            lines.append(f"  {c.path}")
            lines += [f"    {ln}" for ln in change_lines(c)]
    lines.append(f"unchanged: {d.unchanged}")
    lines.append(_verdict(d))
    return "\n".join(lines)


def _verdict(d: RunDiff) -> str:
    bad = d.regressions
    if not bad:
        return "no model lost sizes or became unproven"
    n = len(bad)
    return (f"{n} model{'s' * (n > 1)} lost sizes or became unproven: "
            + ", ".join(c.path for c in bad))


def diff_markdown(d: RunDiff) -> str:
    lines = [f"# {_run_head(d.a)} -> {_run_head(d.b)}", ""]
    for title, items in (("Added", d.added), ("Removed", d.removed)):
        if items:
            lines += [f"## {title} ({len(items)})", ""] + [f"- `{p}`" for p in items] + [""]
    if d.moved:
        lines += [f"## Moved ({len(d.moved)})", ""]
        lines += [f"- `{a}` -> `{b}`" for a, b in d.moved] + [""]
    if d.changed:
        lines += [f"## Changed ({len(d.changed)})", ""]
        for c in d.changed:
            lines += [f"### `{c.path}`" + (" (regression)" if c.regression else ""), "",
                      "```"] + change_lines(c) + ["```", ""]
    lines += [f"Unchanged: {d.unchanged}.", "", f"**{_verdict(d)}**"]
    return "\n".join(lines)


def diff_json(d: RunDiff) -> str:
    return json.dumps(d.to_json(), indent=2)
