"""Domain: the set of valid input sizes. Exact membership, closed-form text, edge points
for verification, witnesses, explanations and a JSON form.

The Presburger part lives in an isl set; conditions outside it (see solve.py) are checked
point by point, so ``contains`` is exact either way. The closed form says which part is
exact and lists any condition it could not put in closed form.
"""

from __future__ import annotations

import random
from typing import Optional

import islpy as isl

from .dims import to_str
from .errors import UsageError
from .periodic import _lcm, _runs, _val, decompose_boxes, isl_text

MAX_SIZE = 2 ** 31 - 1
VALID, INVALID, UNPROVEN = "valid", "invalid", "unproven"


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

    # ---- membership -----------------------------------------------------------------
    def _env(self, sizes: dict) -> dict:
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

    def contains(self, sizes: dict) -> bool:
        """True when every proven condition holds at ``sizes`` (see check() for 'unproven')."""
        env = self._env(sizes)
        if self.impossible:
            return False
        if self.symbols:
            pt = "{ [" + ", ".join(str(env[n]) for n in self.names) + "] }"
            if not isl.Set(pt).is_subset(self.isl_set):
                return False
        elif self.isl_set.is_empty():
            return False
        return all(c.constraint.evaluate(env) for c in self.solved.inexact)

    def check(self, sizes: dict) -> str:
        ok = self.contains(sizes)
        if not ok:
            return INVALID
        return VALID if self.exact else UNPROVEN

    def violations(self, sizes: dict) -> list:
        """Every violated condition at ``sizes``: (Condition, numbers text)."""
        env = self._env(sizes)
        out = []
        for cond in self.solved.conditions:
            if not cond.constraint.evaluate(env):
                out.append((cond, cond.constraint.numbers(env)))
        return out

    # ---- closed form ----------------------------------------------------------------
    @property
    def period_hint(self) -> int:
        return _lcm(self.solved.moduli) if self.solved.moduli else 1

    def boxes(self):
        """Union of product boxes, or None when coupled in a way boxes cannot state."""
        if not self._boxes_done:
            self._boxes_done = True
            try:
                self._boxes = decompose_boxes(self.isl_set, len(self.symbols), self.period_hint,
                                             self.solved.raw)
            except (ValueError, isl.Error):
                self._boxes = None
        return self._boxes

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        if self.impossible:
            return "no size is valid: " + "; ".join(str(e) for e in self.impossible)
        if not self.symbols:
            return "the model has no symbolic dims" + (
                "" if not self.isl_set.is_empty() else " and cannot run")
        if self.isl_set.is_empty():
            core = self.conflict() or self.solved.conditions
            parts = [f"{c.origins[0].describe()} [{c.constraint}]" for c in core[:6]]
            return "no size is valid: these conditions contradict each other: " + "; ".join(
                parts) + ("; ..." if len(core) > 6 else "")
        bx = self.boxes()
        if bx is not None and any(len(f.residues) > 8 or len(_runs(f.finite)) > 16
                                  for b in bx for f in b.factors):
            bx = None  # a long residue list reads worse than the condition that makes it
        if bx is None:
            # not a union of boxes: the binding conditions themselves read best
            conds = [str(c.constraint) for c, _ in self.binding()]
            text = ("every one of:\n" + "\n".join(f"  {t}" for t in conds)) if conds and \
                len(conds) <= 12 else isl_text(self.isl_set, self.names)
        elif len(bx) == 1:
            text = _anyfy(bx[0].describe(self.names, sep="; "))
        else:
            text = " or\n".join(f"({_anyfy(b.describe(self.names, sep='; '))})"
                                 .replace("; ", " and ") for b in bx)
        if self.solved.inexact:
            text += "\n  and (checked point by point, not in closed form): " + "; ".join(
                str(c.constraint) for c in self.solved.inexact)
        return text

    # ---- points ---------------------------------------------------------------------
    def edges(self, limit: int = 400) -> list:
        """Points a verifier must try: per box and symbol, min/min-1/max/max+1, one member
        of each residue class and its neighbours; other symbols held at members."""
        pts = []
        seen = set()

        def add(p):
            key = tuple(p[n] for n in self.names)
            if key not in seen and all(1 <= v <= MAX_SIZE for v in key):
                seen.add(key)
                pts.append(dict(p))

        if not self.symbols:
            return [{}]
        bx = self.boxes()
        if bx:
            for b in bx:
                members = [f.min() for f in b.factors]
                if any(m is None for m in members):
                    continue
                highs = [f.max() or f.min() for f in b.factors]
                for i, f in enumerate(b.factors):
                    for e in f.edges():
                        for hold in (members, highs):
                            p = {n: hold[j] for j, n in enumerate(self.names)}
                            p[self.names[i]] = e
                            add(p)
        else:
            for p in self.sample_members(8, seed=1):
                for n in self.names:
                    for d in (-1, 0, 1):
                        q = dict(p)
                        q[n] = p[n] + d
                        add(q)
        return pts[:limit]

    def _default_hi(self) -> int:
        # keep the product of sizes modest: 1024 for one symbol, 256 for two, 64 beyond
        return {0: 1, 1: 1024, 2: 256}.get(len(self.symbols), 64)

    def sample_members(self, k: int, seed: int = 0, hi: int | None = None) -> list:
        """Up to k random members with every size <= hi (deterministic for a seed)."""
        hi = hi or self._default_hi()
        rng = random.Random(seed)
        names = self.names
        box = isl.Set("{ [" + ", ".join(f"v{i}" for i in range(len(names))) + "] : " +
                      " and ".join(f"1 <= v{i} <= {hi}" for i in range(len(names))) + " }")
        part = self.isl_set.intersect(box)
        out = []
        if part.is_empty():
            return out
        for _ in range(k * 4):
            fix = {}
            cur = part
            for i in range(len(names)):
                proj = _project_keep(cur, i, len(names))
                lo = _val(proj.lexmin().sample_point().get_coordinate_val(isl.dim_type.set, 0))
                hi2 = _val(proj.lexmax().sample_point().get_coordinate_val(isl.dim_type.set, 0))
                for _t in range(20):
                    v = rng.randint(lo, hi2)
                    if not _fix(cur, i, v).is_empty():
                        break
                else:
                    v = lo
                fix[names[i]] = v
                cur = _fix(cur, i, v)
            if fix not in out:
                out.append(fix)
            if len(out) >= k:
                break
        return out

    def sample_nonmembers(self, k: int, seed: int = 0, hi: int | None = None) -> list:
        hi = hi or self._default_hi()
        rng = random.Random(seed + 7)
        out = []
        for _ in range(k * 50):
            p = {n: rng.randint(1, hi) for n in self.names}
            if not self.contains(p) and p not in out:
                out.append(p)
            if len(out) >= k:
                break
        return out

    # ---- per-condition sets ------------------------------------------------------------
    def _condition_sets(self):
        from .solve import condition_set

        if getattr(self, "_csets", None) is None:
            self._csets = [(c, condition_set(c, self.symbols)) for c in self.solved.conditions
                           if c.isl_text is not None]
        return self._csets

    def _universe(self):
        from .solve import size_set

        return size_set(self.symbols)

    def binding(self) -> list:
        """(Condition, its set) for conditions that exclude some size on their own."""
        u = self._universe()
        return [(c, s) for c, s in self._condition_sets() if not u.is_subset(s)]

    def conflict(self) -> list:
        """For an empty domain: a minimal set of conditions that cannot hold together."""
        if not self.symbols or not self.isl_set.is_empty():
            return []
        sets = self.binding()
        # shortest prefix that is already empty, then drop every member not needed
        cur = self._universe()
        prefix = []
        for c, s in sets:
            prefix.append((c, s))
            cur = cur.intersect(s)
            if cur.is_empty():
                break
        core = list(prefix)
        for item in list(prefix):
            trial = [x for x in core if x is not item]
            acc = self._universe()
            for _, s in trial:
                acc = acc.intersect(s)
            if acc.is_empty():
                core = trial
        return [c for c, _ in core]

    def smallest_valid(self) -> dict | None:
        """The lexicographically smallest valid size (None when there is none)."""
        if self.is_empty() or not self.symbols:
            return None
        p = self.isl_set.lexmin().sample_point()
        return {n: _val(p.get_coordinate_val(isl.dim_type.set, i))
                for i, n in enumerate(self.names)}

    def witness(self) -> dict:
        """The smallest valid size (lexicographic); per symbol, the smallest invalid size
        with the others held at the smallest valid one; per bounding condition, the smallest
        size that only it rejects."""
        out = {"smallest_valid": None, "smallest_invalid": {}, "per_condition": []}
        best = self.smallest_valid()
        if best is None:
            return out
        out["smallest_valid"] = best
        for i, n in enumerate(self.names):
            line = self._universe()
            for j, m in enumerate(self.names):
                if j != i:
                    line = _fix(line, j, best[m])
            outside = line.subtract(self.isl_set)
            if not outside.is_empty():
                pt = outside.lexmin().sample_point()
                out["smallest_invalid"][n] = _val(pt.get_coordinate_val(isl.dim_type.set, i))
        binding = self.binding()
        if len(binding) <= 40:
            for c, s in binding:
                others = self._universe()
                for c2, s2 in binding:
                    if c2 is not c:
                        others = others.intersect(s2)
                rejected = others.subtract(s)
                if rejected.is_empty():
                    continue
                pt = rejected.lexmin().sample_point()
                o = c.origins[0]
                out["per_condition"].append({
                    "node": o.node, "op": o.op, "condition": str(c.constraint),
                    "smallest_rejected": {n: _val(pt.get_coordinate_val(isl.dim_type.set, i))
                                          for i, n in enumerate(self.names)}})
        return out

    def to_json(self) -> dict:
        bx = self.boxes() if not self.impossible and self.symbols else None
        return {
            "symbols": self.names,
            "closed_form": self.describe(),
            "exact": self.exact,
            "empty": self.is_empty(),
            "isl": isl_text(self.isl_set, self.names),
            "boxes": None if bx is None else [
                {n: _factor_json(f) for n, f in zip(self.names, b.factors)} for b in bx],
            "not_in_closed_form": [str(c.constraint) for c in self.solved.inexact],
            "unproven": [u.describe() for u in self.unproven],
            "data_dependent_conditions": [str(c) for c in self.dd_conditions],
            "impossible": [str(e) for e in self.impossible],
            "witness": self.witness(),
        }


def _factor_json(f) -> dict:
    return {"finite": _runs_json(f.finite), "from": f.start if f.residues else None,
            "period": f.period if f.residues else None, "residues": f.residues,
            "text": None}


def _runs_json(xs):
    from .periodic import _runs

    return [list(r) for r in _runs(xs)]


def _anyfy(text: str) -> str:
    """'N >= 1; H >= 32' reads better as 'any N; any H >= 32'."""
    import re

    parts = text.split("; ")
    out = []
    for p in parts:
        m = re.fullmatch(r"(\w+) >= (\d+)", p)
        out.append((f"any {m[1]}" if m[2] == "1" else f"any {p}") if m else p)
    return "; ".join(out)


def _project_keep(s, i, n):
    from .periodic import project_1d

    return project_1d(s, i, n)


def _fix(s, i, v):
    n = s.dim(isl.dim_type.set)
    cond = isl.Set("{ [" + ", ".join(f"v{j}" for j in range(n)) + f"] : v{i} = {v} }}")
    return s.intersect(cond)


_ = (Optional, to_str)
