"""A Domain in words and in JSON: boxes and lattices where they read well, the binding
conditions where they do not, and what is checked point by point."""

from __future__ import annotations

import dataclasses
import re

import islpy as isl

from graphshape.arith.isl import readable
from graphshape.arith.terms import lower_bound
from graphshape.domain.periodic import runs

__all__ = ["describe", "domain_json", "MAX_READABLE_RESIDUES", "MAX_READABLE_RUNS"]

# past these a box's text (residue lists, runs of values) reads worse than the conditions
MAX_READABLE_RESIDUES = 8
MAX_READABLE_RUNS = 16
MAX_LISTED_CONDITIONS = 12
MAX_CONFLICT_SHOWN = 6


def describe(domain) -> str:
    floats = getattr(domain.solved, "floats", None)
    if floats is not None and not domain.impossible and domain.symbols:
        return _describe_floats(domain, floats)
    return _describe(domain)


def _describe_floats(domain, floats) -> str:
    """The sizes' own conditions (boxes, lattices), then the derived sizes' (float32
    programs of the sizes) in words: their real-arithmetic set and the boundary that
    float32 decides size by size (float_eval)."""
    if domain.isl_set.is_empty():
        return _describe(domain)
    plain = type(domain)(dataclasses.replace(domain.solved, isl_set=floats.plain,
                                             floats=None, raw=None),
                         domain.unproven, domain.dd_conditions, domain.impossible,
                         domain.requirements)
    words = floats.describe(domain.names, within=domain.isl_set)
    if floats.plain.is_equal(domain.universe()):
        return words
    return _describe(plain) + "\n  and " + words


def _describe(domain) -> str:
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
        # not a union of boxes: the set's own pieces when they are few and linear
        # ("P + S <= 64 or P = 63"), else the binding conditions themselves
        pieces = _linear_pieces(domain)
        conds = [str(c.constraint) for c, _ in domain.binding()]
        if pieces is not None and not domain.solved.inexact:
            text = pieces
        else:
            text = ("every one of:\n" + "\n".join(f"  {t}" for t in conds)) if conds and \
                len(conds) <= MAX_LISTED_CONDITIONS else readable(domain.isl_set, names)
    elif len(bx) == 1:
        text = _anyfy(bx[0].describe(names, sep="; "), _empty_ok(domain))
    else:
        text = " or\n".join(f"({_anyfy(b.describe(names, sep='; '), _empty_ok(domain))})"
                             .replace("; ", " and ") for b in bx)
    if domain.solved.inexact:
        text += "\n  and (checked point by point, not in closed form): " + "; ".join(
            str(c.constraint) for c in domain.solved.inexact)
    return text


MAX_PIECES = 4


def _linear_pieces(domain) -> str | None:
    """The domain as at most MAX_PIECES pieces joined by 'or', each a conjunction of linear
    (in)equalities between the sizes ('P + S <= 64', 'P = 63'), the universe's own bounds
    (each size >= 1, or >= 0) left out; None when a piece has a division or a modulus (then
    the conditions read better) or the text would run past two lines."""
    s = domain.isl_set.coalesce()
    names = domain.names
    least = [lower_bound(x) for x in domain.symbols]
    parts = []
    bsets = s.get_basic_sets()
    if not bsets or len(bsets) > MAX_PIECES:
        return None
    for bs in bsets:
        if bs.dim(isl.dim_type.div):
            return None
        terms = []
        for c in bs.get_constraints():
            coef = [int(c.get_coefficient_val(isl.dim_type.set, i).to_python())
                    for i in range(len(names))]
            const = int(c.get_constant_val().to_python())
            nz = [i for i, k in enumerate(coef) if k]
            if not c.is_equality() and len(nz) == 1 and coef[nz[0]] == 1 and \
                    -const <= least[nz[0]]:
                continue  # the universe's own bound (or weaker)
            terms.append(_linear_text(coef, const, names, c.is_equality()))
        parts.append(" and ".join(terms) if terms else "any size")
    text = " or ".join(f"({p})" if " and " in p and len(parts) > 1 else p for p in parts)
    return text if len(text) <= 200 else None


def _linear_text(coef, const, names, eq: bool) -> str:
    """sum(coef*name) + const (== or >=) 0, as 'a + b <= 64' (positive terms on the left,
    the constant on the right)."""
    pos = [(k, n) for k, n in zip(coef, names) if k > 0]
    neg = [(-k, n) for k, n in zip(coef, names) if k < 0]
    if not pos or (neg and len(neg) > len(pos)):
        pos, neg, const, flip = neg, pos, -const, True
    else:
        flip = False

    def side(ts):
        return " + ".join(n if k == 1 else f"{k}*{n}" for k, n in ts)

    lhs = side(pos)
    rhs = side(neg)
    rhs = (rhs + (f" + {-const}" if -const > 0 else f" - {const}" if const > 0 else "")) \
        if rhs else str(-const)
    op = "=" if eq else ("<=" if flip else ">=")
    return f"{lhs} {op} {rhs}"


def domain_json(domain) -> dict:
    bx = domain.boxes() if not domain.impossible and domain.symbols else None
    floats = getattr(domain.solved, "floats", None)
    if floats is not None and not floats.band().is_empty():
        bx = None  # the outer set's boxes hold band sizes float32 rejects: no exact boxes
    out = {
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
        "data_requirements": [str(c) for c in domain.requirements],
        "impossible": [str(e) for e in domain.impossible],
        "witness": domain.witness(),
    }
    if floats is not None:  # sizes computed in float32: what each is (float_eval)
        out["derived_sizes"] = [{"symbol": str(d.symbol), "formula": d.formula(),
                                 "node": d.node, "op": d.op} for d in floats.derived]
        out["isl_note"] = ("'isl' is the outer set: sizes on its float32 band are decided "
                           "size by size")
    return out


def _factor_json(f) -> dict:
    return {"finite": [list(r) for r in runs(f.finite)],
            "from": f.start if f.residues else None,
            "period": f.period if f.residues else None, "residues": f.residues,
            "text": None}


def _empty_ok(domain) -> set:
    """Names of the sizes that may be 0 (their 'any' says so: 'any P >= 0')."""
    return {s.name for s in domain.symbols if lower_bound(s) == 0}


def _anyfy(text: str, empty_ok: frozenset | set = frozenset()) -> str:
    """'N >= 1; H >= 32' reads better as 'any N; any H >= 32'; a size that may be 0 keeps
    its bound ('any P >= 0', 'any P >= 1')."""
    out = []
    for p in text.split("; "):
        m = re.fullmatch(r"(\w+) >= (\d+)", p)
        plain = m is not None and m[2] == "1" and m[1] not in empty_ok
        out.append((f"any {m[1]}" if plain else f"any {p}") if m else p)
    return "; ".join(out)
