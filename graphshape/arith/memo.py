"""A memo of one pure sympy function the analysis calls thousands of times.

sympy builds ``Max(a, b, ...)`` and ``Min(...)`` by comparing every pair of arguments
(``MinMaxBase._is_connected``: ``a >= b``, ``a <= b``, then the same on ``factor_terms(a -
b)``), and it rebuilds the Max each time an expression holding it is expanded, replaced into
or factored. A detector's boxes are clamped sums of maxima, so the same few dozen pairs are
compared again and again: on Mask R-CNN 63 distinct pairs cost 0.85 s of a 2.9 s analysis
(docs/performance.md).

The comparison is a function of its two arguments alone (a symbol's assumptions are part of
its identity, so equal arguments are the same mathematical objects), so its result is
remembered per pair: sympy's own answer, never a different one, only computed once.
``install()`` is idempotent and is called where an analysis starts; it leaves sympy
untouched where a later sympy has no such method. The memo is bounded (least recently used
answers go first).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from graphshape.arith import lazy

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")

__all__ = ["install"]

_installed = False


def install() -> None:
    """Remember ``Min``/``Max``'s pairwise comparison (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    base = sympy.functions.elementary.miscellaneous.MinMaxBase
    original = base.__dict__.get("_is_connected")
    if not isinstance(original, classmethod):
        return  # a sympy without it: nothing to remember
    remembered = functools.lru_cache(maxsize=1 << 16)(original.__func__)
    base._is_connected = classmethod(remembered)  # type: ignore[arg-type]
