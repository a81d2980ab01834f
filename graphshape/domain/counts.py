"""Conditions on data-dependent counts (detections, proposals, NonZero and NMS results).

A detector's size is valid when the run succeeds for every count the graph allows, 0
included. A condition on counts that holds for every value of them (each count any
integer >= 0, the sizes and derived sizes any values) binds no size and is discharged;
what is left keeps the answer unproven (graphshape does not know which counts the data can
produce, so it never claims a size invalid because of one)."""

from __future__ import annotations

from graphshape import stats
from graphshape.shapes.tautology import always

__all__ = ["discharge"]


def discharge(conditions: list) -> list:
    """The conditions (on counts) not proved to hold for every count."""
    out = []
    for c in conditions:
        if always(c):
            stats.COUNTERS["count_conditions_discharged"] += 1
            continue
        out.append(c)
    return out
