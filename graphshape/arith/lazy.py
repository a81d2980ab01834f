"""Modules imported on first use: ``sympy = lazy.module("sympy")`` at module level reads like
``import sympy`` and behaves like it, but sympy (a quarter of a second to import, cold),
numpy and islpy are imported only when code first reaches into them.

A check at concrete sizes walks the graph with plain ints and never touches sympy, isl or
numpy (docs/performance.md): the rule modules bind those names lazily so that importing the
rules costs only the rules; the command line binds its commands' heavy modules the same way,
so that ``--help`` imports none of them. Type checkers see the real module (``if
TYPE_CHECKING: import sympy``). At run time the name holds a stand-in until the first
attribute access imports the module; the name is then rebound to the real module in the
namespace that made the stand-in, so every later access is a plain module attribute (a
stand-in's own lookups cost ten times as much).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable

__all__ = ["module", "load", "loaded"]


class _Lazy(types.ModuleType):
    """A stand-in for a module not imported yet (its name is the real module's)."""

    def __getattr__(self, attr: str):
        return getattr(_load(self), attr)

    def __dir__(self) -> list:
        return dir(_load(self))


def _load(stand_in: _Lazy) -> types.ModuleType:
    real = importlib.import_module(stand_in.__name__)
    state = stand_in.__dict__
    if state.get("__lazy_real__") is not real:
        users = state.pop("__lazy_users__", ())
        on_import = state.pop("__lazy_on_import__", None)
        state.update(real.__dict__)  # for whoever still holds the stand-in
        state["__lazy_real__"] = real
        for namespace in users:
            for key, value in list(namespace.items()):
                if value is stand_in:
                    namespace[key] = real
        if on_import is not None:
            on_import(real)
    return real


def module(name: str, on_import: Callable | None = None) -> types.ModuleType:
    """The module ``name`` (itself, when something has imported it already), else a
    stand-in that imports it on first attribute access, then rebinds the caller's global
    names that hold it to the module and runs ``on_import(module)``."""
    if name in sys.modules:
        return sys.modules[name]
    stand_in = _Lazy(name)
    stand_in.__dict__["__lazy_users__"] = [sys._getframe(1).f_globals]
    if on_import is not None:
        stand_in.__dict__["__lazy_on_import__"] = on_import
    return stand_in


def loaded(name: str) -> bool:
    """Whether the module ``name`` has been imported (by anyone)."""
    return name in sys.modules


def load(stand_in: types.ModuleType) -> types.ModuleType:
    """The real module behind a stand-in, imported now (for a module imported for its side
    effects: importing graphshape.rules registers every rule)."""
    return _load(stand_in) if isinstance(stand_in, _Lazy) else stand_in
