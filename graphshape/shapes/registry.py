"""Rule registration: @rule("Conv", since=1, domain="") and lookup by opset (dispatch only;
what onnxruntime refuses whatever the sizes lives in ort_compat)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

_RULES: dict = {}


@dataclass
class RuleEntry:
    op: str
    domain: str
    since: int
    until: int | None
    fn: Callable
    params: frozenset
    var_keyword: bool
    min_inputs: int = 0
    max_inputs: int | None = None  # None: any number (*inputs)


def norm_domain(d: str) -> str:
    """The canonical name of an operator domain: "" for the default (also spelled ai.onnx)."""
    return "" if d in ("", "ai.onnx") else d


def rule(*ops: str, since: int = 1, until: int | None = None, domain: str = ""):
    """Register ``fn`` as the shape rule of ``ops`` for opsets since..until (inclusive)."""

    def deco(fn):
        sig = inspect.signature(fn)
        params = frozenset(
            n for n, p in sig.parameters.items() if p.kind == inspect.Parameter.KEYWORD_ONLY)
        var_kw = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
        positional = [p for p in list(sig.parameters.values())[1:]
                      if p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD]
        var_pos = any(p.kind == inspect.Parameter.VAR_POSITIONAL
                      for p in sig.parameters.values())
        lo = sum(1 for p in positional if p.default is inspect.Parameter.empty)
        hi = None if var_pos else len(positional)
        for op in ops:
            _RULES.setdefault((norm_domain(domain), op), []).append(
                RuleEntry(op, norm_domain(domain), since, until, fn, params, var_kw, lo, hi))
        return fn

    return deco


def lookup(domain: str, op: str, opset: int) -> RuleEntry | None:
    entries = _RULES.get((norm_domain(domain), op))
    if not entries:
        return None
    best = None
    for e in entries:
        if e.since <= opset and (e.until is None or opset <= e.until):
            if best is None or e.since > best.since:
                best = e
    return best


def claimed_ops() -> list:
    """(domain, op, since, until) for every registered rule, sorted."""
    out = []
    for (d, op), entries in _RULES.items():
        for e in entries:
            out.append((d or "ai.onnx", op, e.since, e.until))
    return sorted(out)
