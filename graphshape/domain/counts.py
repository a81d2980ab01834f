"""Conditions on data-dependent counts (detections, proposals, NonZero and NMS results).

A detector's size is valid when the run succeeds for every count the graph allows, 0
included. A condition on counts that holds for every value of them (each count any
integer >= 0, the sizes and derived sizes any values) binds no size and is discharged.

A condition on the counts alone (no size in it) that some counts meet and others do not
(Faster R-CNN needs one region proposal to survive its filters, else a Reshape fails)
holds or fails the same at every size: it is the model's *requirement on the data*, not a
size condition. It is reported as such beside the domain (``Domain.requirements``), and the
sizes are decided under it. What is left (a condition tying counts to sizes) keeps the
answer unproven: graphshape does not know which counts the data can produce, so it never
claims a size invalid because of one."""

from __future__ import annotations

from graphshape import stats
from graphshape.arith.dims import rebuilt, to_str
from graphshape.arith.terms import norm
from graphshape.shapes.constraints import Constraint, Origin
from graphshape.shapes.tautology import always, same_sets, sometimes

__all__ = ["discharge", "requirements", "each_at_least_one", "read_requirements",
           "READ_BOUND", "is_read_requirement"]

# the integers read from data (box coordinates, a heatmap's side) are taken as mathematical
# integers: true while each stays within this bound, where float32 holds them exactly (a
# row index cast to float and back) and a few sums, differences and products of them
# cannot overflow int64 (a NaN or 1e30 coordinate cast to int64 breaks it: measured,
# onnxruntime then allocates a negative size)
READ_BOUND = 2 ** 24


def discharge(conditions: list, counts: dict | None = None) -> list:
    """The conditions (on counts) not proved to hold for every count. ``counts``: symbol
    -> engine.DataDependent; a count defined from other values (DataDependent.defined_by)
    takes only the values its definition allows."""
    definitions = {s: d.defined_by for s, d in (counts or {}).items()
                   if d.defined_by is not None}
    out = []
    for c in conditions:
        if always(c, definitions=definitions):
            stats.COUNTERS["count_conditions_discharged"] += 1
            continue
        out.append(c)
    return out


def read_requirements(counts: dict) -> list:
    """The data's requirement that the integers read from it (rules/_common.read_values)
    stay small, one per top-level node holding the reads: every proof about them treats
    them as integers, true only without overflow. The parts p, q >= 0 of each read value
    p - q: their sum at most READ_BOUND."""
    by_top: dict = {}
    for s, d in counts.items():
        if d.kind == "read":
            by_top.setdefault((d.top or d.node, d.top_op or d.op), []).append(s)
    out = []
    for (node, op), syms in by_top.items():
        total = norm(sum(sorted(syms, key=lambda x: x.name), 0))
        reads = sorted({f"{counts[s].op} '{counts[s].node}'" for s in syms})
        out.append(Constraint.ge(READ_BOUND, total, Origin(
            node, op, f"the integers read from data at run time ({', '.join(reads)}) must "
                      f"be finite and within +-2^24 (float32 holds them exactly and "
                      f"arithmetic on them cannot overflow)")))
    return out


def is_read_requirement(c, counts: dict) -> bool:
    """Whether requirement ``c`` is one of read_requirements'."""
    syms = c.symbols()
    return bool(syms) and all(s in counts and counts[s].kind == "read" for s in syms)


def requirements(conditions: list, counts: dict) -> tuple[list, list, list]:
    """(conditions that still tie counts to sizes, requirements on the data alone, size
    conditions they bring). ``counts``: symbol -> engine.DataDependent.

    A requirement is a condition on counts alone that says "each of these counts is at
    least 1" (each_at_least_one), each count with a known upper bound (the most a run can
    give: a NonZero's input's element count, ...). Where that bound is 0 no data can meet
    it and the node fails at that size whatever the data: "bound >= 1" is then a size
    condition like any other (so a size is never called valid on a requirement that cannot
    hold there). Anything else on counts stays unproven."""
    keep: list = []
    req: list = []
    sizes: list = []
    known: dict = {}  # count -> its bound, each worked out once
    for c in conditions:
        if not (c.symbols() <= set(counts) and sometimes(c) and each_at_least_one(c)):
            keep.append(c)
            continue
        bounds = [_size_bound(s, counts, known=known)
                  for s in sorted(c.symbols(), key=lambda x: x.name)]
        if any(b is None for b in bounds):
            keep.append(c)
            continue
        req.append(c)
        for s, b in zip(sorted(c.symbols(), key=lambda x: x.name), bounds):
            if isinstance(b, int) and b >= 1:
                continue
            d = counts[s]
            sizes.append(Constraint.ge(b, 1, Origin(
                c.origin.node if c.origin else d.node, c.origin.op if c.origin else d.op,
                lambda d=d, b=b: f"needs at least 1 {d.what.removeprefix('number of ')} at "
                                 f"{d.op} '{d.node}', and a run gives at most {to_str(b)} "
                                 f"there")))
    return keep, req, sizes


def _size_bound(s, counts: dict, depth: int = 0, known: dict | None = None):
    """The most count ``s`` can be, as a Dim of the sizes alone (counts in its bound
    replaced by their own bounds: every bound grows with the counts in it), or None.
    ``known``: bounds already worked out (a count's bound is the same wherever asked)."""
    if known is None:
        known = {}
    if s in known:
        return known[s]
    u = counts[s].upper if s in counts else None
    if u is None or depth > 16:
        return None  # not remembered: a shallower call may still reach it within the depth
    if isinstance(u, int):
        known[s] = u
        return u
    inner = {x: _size_bound(x, counts, depth + 1, known) for x in u.free_symbols
             if x in counts}
    if any(v is None for v in inner.values()):
        return None
    known[s] = out = rebuilt(u, inner) if inner else u
    return out


def each_at_least_one(c) -> bool:
    """Whether the requirement ``c`` says exactly "each of its counts is at least 1"
    (``min(1000, dd2, dd3) >= 1``, ``4*min(...) >= 1``), proved with isl."""
    syms = sorted(c.symbols(), key=lambda x: x.name)
    return bool(syms) and same_sets(c, " and ".join(f"{{{s.name}}} >= 1" for s in syms))
