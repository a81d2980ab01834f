"""Work counters (rule calls, isl calls, expressions built): what the scaling tests
compare across graph sizes instead of wall time. Cheap increments, read as deltas."""

from __future__ import annotations

from collections import Counter

__all__ = ["COUNTERS", "snapshot", "since"]

COUNTERS: Counter = Counter()


def snapshot() -> dict:
    return dict(COUNTERS)


def since(before: dict) -> dict:
    """The work done since ``before`` (a snapshot)."""
    return {k: v - before.get(k, 0) for k, v in COUNTERS.items() if v - before.get(k, 0)}
