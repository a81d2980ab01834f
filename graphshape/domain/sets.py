"""Domain: the set of valid input sizes, its membership and exactness.

The Presburger part lives in an isl set; conditions outside it (see solve.py) are checked
point by point, so membership is exact either way. The jobs around it live beside it:
``closed_form`` renders it (text, JSON), ``queries`` answers questions about it (edge
points, samples, witnesses, binding conditions, conflicts). The methods of the same names
here are the front door to those modules.
"""

from __future__ import annotations

import islpy as isl

from graphshape.arith.isl import Error as IslError
from graphshape.arith.isl import point_set, size_set
from graphshape.arith.terms import MAX_SIZE, lower_bound
from graphshape.domain import closed_form, queries
from graphshape.domain.periodic import decompose_boxes, lcm
from graphshape.errors import UsageError
from graphshape.results import Verdict

__all__ = ["Domain", "MAX_SIZE", "VALID", "INVALID", "UNPROVEN"]

VALID, INVALID, UNPROVEN = Verdict.VALID, Verdict.INVALID, Verdict.UNPROVEN


class Domain:
    def __init__(self, solved, unproven=(), dd_conditions=(), impossible=(), requirements=()):
        self.solved = solved
        self.symbols = list(solved.symbols)
        self.names = [s.name for s in self.symbols]
        self.unproven = list(unproven)  # engine.Unproven
        self.dd_conditions = list(dd_conditions)  # Constraints on data-dependent symbols
        self.impossible = list(impossible)  # ShapeErrors: no size can run
        # Constraints on data-dependent counts alone, the same at every size (counts.py):
        # what the data must give for the run to succeed; sizes are decided under them
        self.requirements = list(requirements)
        self._boxes = None
        self._boxes_done = False
        self._csets = None
        self._unconstrained = None

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
        """Every size (each symbol >= 1, or >= 0 where it may be empty), as an isl set in
        this domain's variable order."""
        return size_set(self.symbols)

    @property
    def unconstrained(self) -> list:
        """Symbols the domain does not constrain (any N): every value >= 1 gives the same
        verdict for the other symbols, so a size may leave them out (they are taken as 1)."""
        if self._unconstrained is None:
            loose = set()
            for c in list(self.solved.inexact) + list(self.dd_conditions):
                cons = getattr(c, "constraint", c)
                loose |= {s.name for s in cons.symbols()}
            out = []
            s = self.isl_set
            for i, n in enumerate(self.names):
                if n in loose or self.impossible:
                    continue
                # the set with coordinate i left free equals the set: i takes part in no bound
                free = s.eliminate(isl.dim_type.set, i, 1).intersect(self.universe())
                if free.is_equal(s):
                    out.append(n)
            self._unconstrained = out
        return self._unconstrained

    def assumed(self, sizes: dict) -> dict:
        """The unconstrained symbols ``sizes`` leaves out, at the value they are taken as."""
        return {n: 1 for n in self.unconstrained if n not in sizes}

    # ---- membership -----------------------------------------------------------------
    def env(self, sizes: dict) -> dict:
        """``sizes`` checked against the domain's symbols (one line of UsageError if not);
        symbols the domain does not constrain may be left out (taken as 1, see assumed())."""
        env = {}
        for k, v in sizes.items():
            if k not in self.names:
                raise UsageError(f"unknown dim '{k}'; the model's symbolic dims are "
                                 f"{', '.join(self.names) or '(none)'}")
            if isinstance(v, bool) or not isinstance(v, int):
                raise UsageError(f"size {k}={v!r} is not an integer")
            least = lower_bound(self.symbols[self.names.index(k)])  # 0: may be empty
            if v < least or v > MAX_SIZE:
                raise UsageError(f"size {k}={v} is out of range ({least} .. {MAX_SIZE})")
            env[k] = v
        env.update(self.assumed(env))
        missing = [n for n in self.names if n not in env]
        if missing:
            free = self.unconstrained
            raise UsageError(f"no size given for {', '.join(missing)}" + (
                f" ({', '.join(free)}, which the domain does not constrain, may be left out)"
                if free else ""))
        return {n: env[n] for n in self.names}

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
        floats = getattr(self.solved, "floats", None)
        if floats is not None and not floats.holds(env):  # float32 decides (float_eval)
            return False
        return all(c.constraint.evaluate(env) for c in self.solved.inexact)

    def contains(self, sizes: dict) -> bool:
        """True only for sizes proved valid."""
        return self.check(sizes) is Verdict.VALID

    def check(self, sizes: dict) -> Verdict:
        """VALID (proved), INVALID (proved), or UNPROVEN (passes every proven condition,
        but part of the model could not be analysed)."""
        if not self.satisfies(sizes):
            floats = getattr(self.solved, "floats", None)
            if floats is not None and floats.values(self.env(sizes)) is None:
                return Verdict.UNPROVEN  # a float32 value that is not finite
            return Verdict.INVALID
        return Verdict.VALID if self.exact else Verdict.UNPROVEN

    def violations(self, sizes: dict) -> list:
        """Every violated condition at ``sizes``: (Condition, numbers text)."""
        env = self._values(sizes)
        return [(c, c.constraint.numbers(env)) for c in self.violated(sizes, env)]

    def violated(self, sizes: dict, env: dict | None = None) -> list:
        """Every condition that fails at ``sizes`` (without the numbers text)."""
        env = self._values(sizes) if env is None else env
        return [c for c in self.solved.conditions if not c.constraint.evaluate(env)]

    def _values(self, sizes: dict) -> dict:
        env = self.env(sizes)
        floats = getattr(self.solved, "floats", None)
        if floats is not None:  # the derived sizes' values too (float_eval)
            env = floats.values(env) or env
        return env

    # ---- structure ------------------------------------------------------------------
    @property
    def period_hint(self) -> int:
        return lcm(self.solved.moduli) if self.solved.moduli else 1

    def checked_points(self):
        """The sizes (an isl set) that only a check one by one decides: every size when a
        condition is outside Presburger arithmetic, the float32 band when only conditions on
        derived sizes are (float_eval), None when isl alone decides membership."""
        if self.solved.inexact:
            return self.universe()
        floats = getattr(self.solved, "floats", None)
        return None if floats is None else floats.band()

    def point_checked(self) -> list:
        """The conditions checked one by one (Condition-like: constraint, origins)."""
        floats = getattr(self.solved, "floats", None)
        return list(self.solved.inexact) + ([] if floats is None else [floats.as_condition()])

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
