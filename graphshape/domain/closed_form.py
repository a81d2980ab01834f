"""A Domain in words and in JSON: boxes and lattices where they read well, the binding
conditions where they do not, and what is checked point by point."""

from __future__ import annotations

import re

from graphshape.arith.isl import readable
from graphshape.domain.periodic import runs

__all__ = ["describe", "domain_json", "MAX_READABLE_RESIDUES", "MAX_READABLE_RUNS"]

# past these a box's text (residue lists, runs of values) reads worse than the conditions
MAX_READABLE_RESIDUES = 8
MAX_READABLE_RUNS = 16
MAX_LISTED_CONDITIONS = 12
MAX_CONFLICT_SHOWN = 6


def describe(domain) -> str:
    if domain.impossible:
        return "no size is valid: " + "; ".join(str(e) for e in domain.impossible)
    if not domain.symbols:
        return "the model has no symbolic dims" + (
            "" if not domain.isl_set.is_empty() else " and cannot run")
    names = domain.names
    if domain.isl_set.is_empty():
        core = domain.conflict() or domain.solved.conditions
        parts = [f"{c.origins[0].describe()} [{c.constraint}]"
                 for c in core[:MAX_CONFLICT_SHOWN]]
        return "no size is valid: these conditions contradict each other: " + "; ".join(
            parts) + ("; ..." if len(core) > MAX_CONFLICT_SHOWN else "")
    bx = domain.boxes()
    if bx is not None and any(len(f.residues) > MAX_READABLE_RESIDUES
                              or len(runs(f.finite)) > MAX_READABLE_RUNS
                              for b in bx for f in b.factors):
        bx = None
    if bx is None:
        # not a union of boxes: the binding conditions themselves read best
        conds = [str(c.constraint) for c, _ in domain.binding()]
        text = ("every one of:\n" + "\n".join(f"  {t}" for t in conds)) if conds and \
            len(conds) <= MAX_LISTED_CONDITIONS else readable(domain.isl_set, names)
    elif len(bx) == 1:
        text = _anyfy(bx[0].describe(names, sep="; "))
    else:
        text = " or\n".join(f"({_anyfy(b.describe(names, sep='; '))})"
                             .replace("; ", " and ") for b in bx)
    if domain.solved.inexact:
        text += "\n  and (checked point by point, not in closed form): " + "; ".join(
            str(c.constraint) for c in domain.solved.inexact)
    return text


def domain_json(domain) -> dict:
    bx = domain.boxes() if not domain.impossible and domain.symbols else None
    return {
        "symbols": domain.names,
        "closed_form": describe(domain),
        "exact": domain.exact,
        "empty": domain.is_empty(),
        "isl": readable(domain.isl_set, domain.names),
        "boxes": None if bx is None else [
            {n: _factor_json(f) for n, f in zip(domain.names, b.factors)} for b in bx],
        "not_in_closed_form": [str(c.constraint) for c in domain.solved.inexact],
        "unproven": [u.describe() for u in domain.unproven],
        "data_dependent_conditions": [str(c) for c in domain.dd_conditions],
        "impossible": [str(e) for e in domain.impossible],
        "witness": domain.witness(),
    }


def _factor_json(f) -> dict:
    return {"finite": [list(r) for r in runs(f.finite)],
            "from": f.start if f.residues else None,
            "period": f.period if f.residues else None, "residues": f.residues,
            "text": None}


def _anyfy(text: str) -> str:
    """'N >= 1; H >= 32' reads better as 'any N; any H >= 32'."""
    out = []
    for p in text.split("; "):
        m = re.fullmatch(r"(\w+) >= (\d+)", p)
        out.append((f"any {m[1]}" if m[2] == "1" else f"any {p}") if m else p)
    return "; ".join(out)
