"""Markdown for the commands whose JSON is their structured answer (check, explain, verify,
fit, profiles): each renderer reads the same dict the JSON output prints, so the two formats
cannot say different things. analyze and audit have their own (report.markdown, cli.audit)."""

from __future__ import annotations

__all__ = ["explanation", "contract", "domain_summary", "verification", "fit", "profiles"]


def _cell(x) -> str:
    """A table cell: pipes escaped, newlines folded, lists as a shape."""
    if isinstance(x, (list, tuple)):
        x = "[" + ", ".join(str(v) for v in x) + "]"
    elif isinstance(x, dict):
        x = ", ".join(f"{k}={v}" for k, v in x.items())
    elif x is None:
        x = ""
    return str(x).replace("|", "\\|").replace("\n", " ")


def _table(header: list, rows: list) -> list:
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out


def _sizes(s: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in s.items())


def _violations(vs: list) -> list:
    if not vs:
        return []
    return _table(["node", "op", "reason", "at this size"],
                  [[f"`{v['node']}`", v["op"], v["reason"], v.get("readable") or
                    v.get("numbers", "")] for v in vs])


def explanation(d: dict) -> str:
    """check/explain --size: the verdict, the violated conditions, output shapes, layers."""
    lines = [f"## {d['verdict']}: {_sizes(d['sizes'])}", ""]
    lines += _violations(d.get("violations", []))
    if d.get("output_shapes"):
        lines += _table(["output", "shape"], list(d["output_shapes"].items()))
    for u in d.get("unproven", []):
        lines.append(f"- unproven because {u}")
    if d.get("layers"):
        lines += ["", "### Layers", ""] + layers(d["layers"])
    return "\n".join(lines)


def layers(rows: list) -> list:
    return _table(["#", "node", "op", "output shape", "at size", "stride", "field", "note"],
                  [[("**>>** " if r.get("failing") else "") + str(r["index"]) +
                    (f" (x{r['repeat']})" if r.get("repeat", 1) > 1 else ""),
                    f"`{r['node']}`", r["op"], r["shape"], r.get("numbers"), r.get("stride"),
                    r.get("receptive_field"),
                    " ".join(x for x in (r.get("role"), r.get("note")) if x)] for r in rows])


def domain_summary(d: dict) -> str:
    """explain without --size: the domain, the nearest valid sizes, the layers."""
    w = d.get("witness", {})
    lines = ["## Valid sizes", "", "```", d["domain"], "```", "",
             f"- smallest valid: {_cell(w.get('smallest_valid'))}",
             f"- smallest invalid per dim: {_cell(w.get('smallest_invalid'))}"]
    if d.get("layers"):
        lines += ["", "### Layers", ""] + layers(d["layers"])
    return "\n".join(lines)


def contract(d: dict) -> str:
    lines = [f"## `{d['require']}`: {d['verdict']}", "",
             f"{d.get('failing_sizes', 0)} of {d.get('required_sizes', '?')} required sizes "
             "fail.", ""]
    for f in d.get("first_failing", []):
        lines += [f"### {_sizes(f['sizes'])}", ""] + _violations(f.get("violations", []))
        lines.append("")
    return "\n".join(lines).rstrip()


def verification(d: dict) -> str:
    lines = [f"## {d['summary']}", ""]
    lines += _table(["sizes", "predicted", "onnxruntime", "agree", "detail"],
                    [[v["sizes"], v["predicted"], v["observed"],
                      "yes" if v["agree"] else "**NO**", v.get("detail", "")]
                     for v in d.get("verdicts", [])])
    return "\n".join(lines)


def fit(d: dict) -> str:
    lines = [f"## {_sizes(d['request'])}: {d['verdict']}", ""]
    lines += _violations(d.get("violations", []))
    rows = []
    for s in d.get("suggestions", []):
        how = s.get(s["policy"], "")
        rows.append([s["policy"], s["sizes"], s.get("overhead"), s.get("verdict"),
                     how if not isinstance(how, dict) else
                     "; ".join(f"{k}: {_cell(v)}" for k, v in how.items())])
    if rows:
        lines += ["", "### Suggestions", ""]
        lines += _table(["policy", "sizes", "overhead %", "verdict", "how"], rows)
    return "\n".join(lines)


def profiles(d: dict) -> str:
    lines = [f"## TensorRT profiles ({'exact' if d.get('exact') else 'not proven'})", ""]
    lines += _table(["#", "min", "opt", "max", "lattice"],
                    [[i, p["min"], p["opt"], p["max"], p.get("lattice")]
                     for i, p in enumerate(d.get("profiles", []))])
    if not d.get("profiles"):
        lines.append(f"no profile: {d.get('reason', '')}")
    return "\n".join(lines)
