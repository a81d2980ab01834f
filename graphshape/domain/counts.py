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
from graphshape.shapes.tautology import always, same_sets, sometimes

__all__ = ["discharge", "requirements", "each_at_least_one"]


def discharge(conditions: list) -> list:
    """The conditions (on counts) not proved to hold for every count."""
    out = []
    for c in conditions:
        if always(c):
            stats.COUNTERS["count_conditions_discharged"] += 1
            continue
        out.append(c)
    return out


def requirements(conditions: list, counts: set) -> tuple[list, list]:
    """(conditions that still tie counts to sizes, requirements on the data alone): a
    condition whose every symbol is a count and that some counts satisfy (proved with isl)."""
    keep: list = []
    req: list = []
    for c in conditions:
        (req if c.symbols() <= counts and sometimes(c) else keep).append(c)
    return keep, req


def each_at_least_one(c) -> bool:
    """Whether the requirement ``c`` says exactly "each of its counts is at least 1"
    (``min(1000, dd2, dd3) >= 1``, ``4*min(...) >= 1``), proved with isl."""
    syms = sorted(c.symbols(), key=lambda x: x.name)
    return bool(syms) and same_sets(c, " and ".join(f"{{{s.name}}} >= 1" for s in syms))
