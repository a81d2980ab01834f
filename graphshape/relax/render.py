"""Text and JSON renderings of a RelaxResult."""

from __future__ import annotations

import json
import os


def _short(s: str, n: int = 110) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3] + "..."


def side_by_side(before: str, after: str | None, gap: int = 4) -> list:
    left = ["before:"] + ["  " + ln for ln in before.splitlines()]
    right = ["after:"] + ["  " + ln for ln in (after or "(not computed)").splitlines()]
    width = max(len(x) for x in left) + gap
    if width > 60:  # too wide for two columns: one above the other
        return left + right
    rows = []
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        rows.append((a.ljust(width) + b).rstrip())
    return rows


def text(res) -> str:
    out = []
    size = ", ".join(f"{k}={v}" for k, v in res.export_size.items())
    dest = "(dry run: nothing written)" if res.dry_run else (res.output or "")
    out.append(f"relax: {os.path.basename(res.model)} -> {dest}")
    out.append(f"export size: {size}")
    out.append("")
    out.append(f"rewrites ({len(res.rewrites)}"
               + (", listed only" if res.dry_run else "") + "):")
    for i, r in enumerate(res.rewrites, 1):
        out.append(f"  {i}. {r.op} '{r.node}' [{r.kind}]")
        out.append(f"       before: {r.before if len(r.before) < 140 else _short(r.before)}")
        out.append(f"       after:  {r.after}")
        out.append(f"       why:    {r.why}")
    if not res.rewrites:
        out.append("  none: no constant or op pins a freed dim in a way relax can undo")
    real = [x for x in res.left if x.why.startswith("real pin")]
    other = [x for x in res.left if not x.why.startswith("real pin")]
    if real:
        out.append("")
        out.append("real pins (left as they are):")
        for x in real:
            out.append(f"  {x.op} '{x.node}': {x.why[len('real pin: '):]}")
    if other:
        out.append("")
        out.append(f"other bounds and pins left ({len(other)}):")
        for x in other[:6]:
            out.append(f"  {x.op} '{x.node}': {_short(x.why, 150)}")
        if len(other) > 6:
            out.append(f"  ... {len(other) - 6} more (--format json lists them all)")
    for n in res.notes:
        out.append("")
        out.append(f"note: {n}")
    out.append("")
    out.append("valid sizes" + ("" if res.before_exact else " (before: UNPROVEN)")
               + ("" if res.after_exact in (True, None) else " (after: UNPROVEN)") + ":")
    out.extend("  " + ln for ln in side_by_side(res.before, res.after))
    if res.lost:
        out.append("  WARNING: sizes the original accepted and the relaxed model rejects: "
                   + "; ".join(", ".join(f"{k}={v}" for k, v in p.items())
                               for p in res.lost[:4]))
    if any(r.kind == "adapt-head" for r in res.rewrites):
        out.append("  (outputs at sizes other than the export size are the adapted model's, "
                   "not the original's: the original rejects them)")
    c = res.comparison
    if c is not None:
        out.append("")
        if "error" in c:
            out.append(f"at the export size: {c['error']}")
        else:
            out.append(f"at the export size ({size}), the same random input (seed "
                       f"{c['seed']}) into both models:")
            for name, row in c["outputs"].items():
                if row.get("missing"):
                    out.append(f"  output {name}: missing from the relaxed model")
                elif row["max_abs_diff"] is None:
                    out.append(f"  output {name}: shape {row['relaxed_shape']} != "
                               f"{row['shape']}")
                else:
                    out.append(f"  output {name} {row['shape']}: max abs difference "
                               f"{row['max_abs_diff']:.3g} (largest |value| "
                               f"{row['max_abs']:.3g})")
    v = res.verification
    if v is not None:
        out.append("")
        out.append("the relaxed model at the new domain's edges (onnxruntime):")
        for verdict in v.verdicts:
            sz = ", ".join(f"{k}={x}" for k, x in verdict.sizes.items())
            mark = {True: "agree", False: "DISAGREE", None: "-"}[verdict.agree]
            out.append(f"  {sz:<24} predicted {verdict.predicted:<8} observed "
                       f"{verdict.observed:<8} {mark}")
        out.append(("  verified: " if v.ok else "  DISAGREEMENT: ") + v.summary())
    if res.failure:
        out.append("")
        out.append(f"FAILED: {res.failure}; nothing written")
    elif res.written:
        out.append("")
        out.append("written: " + ", ".join(res.written))
    return "\n".join(out)


def to_json(res) -> str:
    return json.dumps(res.to_json(), indent=2, default=str)
