"""Typed results: verdicts, violations, explanations, and the one exit-code table.

Every command's exit status is decided by ``return_code`` from one of these results (as
black's ``Report.return_code``); the CLI never spells a number itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from graphshape.errors import located

__all__ = ["Verdict", "ExitCode", "Violation", "Explanation", "return_code"]


class Verdict(str, enum.Enum):
    """Whether a size runs: proved valid, proved invalid, or not proved either way."""

    VALID = "valid"
    INVALID = "invalid"
    UNPROVEN = "unproven"

    def __str__(self) -> str:
        return self.value


class ExitCode(enum.IntEnum):
    OK = 0  # valid / agree / included
    INVALID = 1  # invalid / disagree / not included
    USAGE = 2  # bad usage or an unreadable model
    UNPROVEN = 3  # the answer depends on something graphshape could not prove
    INTERNAL = 4  # a bug in graphshape
    INTERRUPTED = 130
    READER_GONE = 141  # stdout's reader went away (`| head -1`): as a process SIGPIPE ends


_BY_VERDICT = {Verdict.VALID: ExitCode.OK, Verdict.INVALID: ExitCode.INVALID,
               Verdict.UNPROVEN: ExitCode.UNPROVEN}


def return_code(result) -> ExitCode:
    """The exit status for a result: a Verdict, an Explanation, a size contract
    (``.included``), a verification report (``.ok``, ``.interrupted``), or an Analysis
    (exact or not)."""
    if isinstance(result, ExitCode):
        return result
    if isinstance(result, Verdict):
        return _BY_VERDICT[result]
    if isinstance(result, Explanation):
        return _BY_VERDICT[result.verdict]
    if hasattr(result, "included"):  # a size contract: True, False, or None (unproven)
        return {True: ExitCode.OK, False: ExitCode.INVALID}.get(result.included,
                                                                ExitCode.UNPROVEN)
    if getattr(result, "interrupted", False):
        return ExitCode.INTERRUPTED
    if hasattr(result, "ok"):
        return ExitCode.OK if result.ok else ExitCode.INVALID
    if hasattr(result, "domain"):
        return ExitCode.OK if result.domain.exact else ExitCode.UNPROVEN
    raise TypeError(f"no exit code for {type(result).__name__}")


@dataclass(frozen=True)
class Violation:
    """One condition a size breaks: where, why, and the numbers at that size."""

    node: str
    op: str
    reason: str
    numbers: str = ""
    condition: str | None = None
    also: tuple = ()  # other nodes that impose the same condition
    readable: str = ""  # the condition in words, intermediate sizes named (reasons.readable)

    def describe(self) -> str:
        return located(self.op, self.node, self.reason)

    def detail_lines(self) -> list:
        """What to print under describe(): the condition in words at this size, else the
        raw numbers."""
        return [self.readable or self.numbers] if (self.readable or self.numbers) else []

    def to_json(self) -> dict:
        out = {"node": self.node, "op": self.op, "reason": self.reason,
               "numbers": self.numbers}
        if self.condition is not None:
            out["condition"] = self.condition
            out["also"] = list(self.also)
        if self.readable:
            out["readable"] = self.readable
        return out


@dataclass(frozen=True)
class Explanation:
    """The answer for one size: the verdict, and either the violated conditions or the
    output shapes it produces (with what is unproven, when it is)."""

    sizes: dict
    verdict: Verdict
    violations: tuple = ()
    output_shapes: dict = field(default_factory=dict)
    unproven: tuple = ()  # plain-words reasons
    assumed: dict = field(default_factory=dict)  # symbols left out (unconstrained) -> value
    requires: tuple = ()  # plain words: what the data must give, the same at every size

    def to_json(self) -> dict:
        out = {"sizes": dict(self.sizes), "verdict": self.verdict.value}
        if self.assumed:
            out["assumed"] = dict(self.assumed)
        if self.requires and self.verdict is Verdict.VALID:
            out["requires"] = list(self.requires)
        if self.verdict is Verdict.INVALID:
            out["violations"] = [v.to_json() for v in self.violations]
        else:
            out["output_shapes"] = self.output_shapes
            if self.verdict is Verdict.UNPROVEN:
                out["unproven"] = list(self.unproven)
        return out
