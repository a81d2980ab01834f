"""Domain: the set of valid input sizes, its membership and exactness.

The Presburger part lives in an isl set; conditions outside it (see solve.py) are checked
point by point, so membership is exact either way. The jobs around it live beside it:
``closed_form`` renders it (text, JSON), ``queries`` answers questions about it (edge
points, samples, witnesses, binding conditions, conflicts). The methods of the same names
here are the front door to those modules.
"""

from __future__ import annotations

from graphshape.arith.isl import Error as IslError
from graphshape.arith.isl import point_set, size_set
from graphshape.arith.terms import MAX_SIZE
from graphshape.domain import closed_form, queries
from graphshape.domain.periodic import decompose_boxes, lcm
from graphshape.errors import UsageError
from graphshape.results import Verdict

__all__ = ["Domain", "MAX_SIZE", "VALID", "INVALID", "UNPROVEN"]

VALID, INVALID, UNPROVEN = Verdict.VALID, Verdict.INVALID, Verdict.UNPROVEN


class Domain:
    def __init__(self, solved, unproven=(), dd_conditions=(), impossible=()):
        self.solved = solved
        self.symbols = list(solved.symbols)
        self.names = [s.name for s in self.symbols]
        self.unproven = list(unproven)  # engine.Unproven
        self.dd_conditions = list(dd_conditions)  # Constraints on data-dependent symbols
        self.impossible = list(impossible)  # ShapeErrors: no size can run
        self._boxes = None
        self._boxes_done = False
        self._csets = None

    # ---- status ---------------------------------------------------------------------
    @property
    def exact(self) -> bool:
        """True when every node was analysed and no condition depends on data."""
        return not self.unproven and not self.dd_conditions

    @property
    def isl_set(self):
        return self.solved.isl_set

    def is_empty(self) -> bool:
        return bool(self.impossible) or self.isl_set.is_empty()

    def universe(self):
        """Every size (each symbol >= 1), as an isl set in this domain's variable order."""
        return size_set(self.symbols)

    # ---- membership -----------------------------------------------------------------
    def env(self, sizes: dict) -> dict:
        """``sizes`` checked against the domain's symbols (one line of UsageError if not)."""
        env = {}
        for k, v in sizes.items():
            if k not in self.names:
                raise UsageError(f"unknown dim '{k}'; the model's symbolic dims are "
                                 f"{', '.join(self.names) or '(none)'}")
            if isinstance(v, bool) or not isinstance(v, int):
                raise UsageError(f"size {k}={v!r} is not an integer")
            if v < 1 or v > MAX_SIZE:
                raise UsageError(f"size {k}={v} is out of range (1 .. {MAX_SIZE})")
            env[k] = v
        missing = [n for n in self.names if n not in env]
        if missing:
            raise UsageError(f"no size given for {', '.join(missing)}")
        return env

    def satisfies(self, sizes: dict) -> bool:
        """Whether every proven condition holds at ``sizes`` (the size may still be
        unproven: see check())."""
        env = self.env(sizes)
        if self.impossible:
            return False
        if self.symbols:
            if not point_set(env[n] for n in self.names).is_subset(self.isl_set):
                return False
        elif self.isl_set.is_empty():
            return False
        return all(c.constraint.evaluate(env) for c in self.solved.inexact)

    def contains(self, sizes: dict) -> bool:
        """True only for sizes proved valid."""
        return self.check(sizes) is Verdict.VALID

    def check(self, sizes: dict) -> Verdict:
        """VALID (proved), INVALID (proved), or UNPROVEN (passes every proven condition,
        but part of the model could not be analysed)."""
        if not self.satisfies(sizes):
            return Verdict.INVALID
        return Verdict.VALID if self.exact else Verdict.UNPROVEN

    def violations(self, sizes: dict) -> list:
        """Every violated condition at ``sizes``: (Condition, numbers text)."""
        env = self.env(sizes)
        out = []
        for cond in self.solved.conditions:
            if not cond.constraint.evaluate(env):
                out.append((cond, cond.constraint.numbers(env)))
        return out

    # ---- structure ------------------------------------------------------------------
    @property
    def period_hint(self) -> int:
        return lcm(self.solved.moduli) if self.solved.moduli else 1

    def boxes(self):
        """Union of product boxes, or None when coupled in a way boxes cannot state."""
        if not self._boxes_done:
            self._boxes_done = True
            try:
                self._boxes = decompose_boxes(self.isl_set, len(self.symbols), self.period_hint,
                                             self.solved.raw)
            except (ValueError, IslError):
                self._boxes = None
        return self._boxes

    def condition_sets(self) -> list:
        """(Condition, its isl set alone) for every condition in closed form."""
        if self._csets is None:
            self._csets = [(c, size_set(self.symbols, c.isl_text))
                           for c in self.solved.conditions if c.isl_text is not None]
        return self._csets

    # ---- rendering and queries (closed_form.py, queries.py) --------------------------
    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        return closed_form.describe(self)

    def to_json(self) -> dict:
        return closed_form.domain_json(self)

    def edges(self, limit: int = 400) -> list:
        return queries.edges(self, limit)

    def sample_members(self, k: int, seed: int = 0, hi: int | None = None) -> list:
        return queries.sample_members(self, k, seed, hi)

    def sample_nonmembers(self, k: int, seed: int = 0, hi: int | None = None) -> list:
        return queries.sample_nonmembers(self, k, seed, hi)

    def binding(self) -> list:
        return queries.binding(self)

    def conflict(self) -> list:
        return queries.conflict(self)

    def smallest_valid(self) -> dict | None:
        return queries.smallest_valid(self)

    def witness(self) -> dict:
        return queries.witness(self)
