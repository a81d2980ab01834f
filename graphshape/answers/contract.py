"""Size contracts: "H in 224..640 step 32, W = H" as an isl set, and whether the model's
domain includes it, decided as one exact set operation (``req.is_subset(domain)``).

Language (comma-separated clauses, symbols are the model's symbolic dims):
    SYM = INT            pinned
    SYM = SYM            equal dims (W = H)
    SYM in A..B          every size from A to B
    SYM in A..B step K   A, A+K, ... up to B
    SYM in A..           every size from A on (no upper end)
A symbol no clause mentions is required for every size >= 1.

Verdicts: "included" (every required size is valid, proved), "not included" (some required
size is invalid, proved, with the first failing sizes and the node and reason for each),
"unproven" (inclusion depends on a part of the model graphshape could not analyse, or on a
condition outside the closed form at too many sizes to check one by one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graphshape.arith import isl as Q
from graphshape.arith.terms import lower_bound
from graphshape.errors import GraphShapeError, UsageError
from graphshape.results import Verdict

INCLUDED, NOT_INCLUDED, UNPROVEN = "included", "not included", "unproven"
STATIC_HINT = " (--dim input:2=H makes a fixed axis symbolic)"
POINT_CHECK_LIMIT = 20_000  # required sizes checked one by one against non-closed-form parts

_SYM = r"[A-Za-z_][A-Za-z0-9_]*"
_INT = r"[0-9]+"
_CLAUSES = [
    ("pin", re.compile(rf"^({_SYM})\s*=\s*({_INT})$")),
    ("same", re.compile(rf"^({_SYM})\s*=\s*({_SYM})$")),
    ("range", re.compile(rf"^({_SYM})\s+in\s+({_INT})\s*\.\.\s*({_INT})?"
                         rf"(?:\s+step\s+({_INT}))?$", re.IGNORECASE)),
]


@dataclass
class Clause:
    kind: str  # pin / same / range
    sym: str
    lo: int | None = None
    hi: int | None = None  # None: no upper end
    step: int = 1
    other: str | None = None  # for "same"

    def __str__(self) -> str:
        if self.kind == "pin":
            return f"{self.sym} = {self.lo}"
        if self.kind == "same":
            return f"{self.sym} = {self.other}"
        hi = "" if self.hi is None else str(self.hi)
        return f"{self.sym} in {self.lo}..{hi}" + (f" step {self.step}" if self.step > 1 else "")


def parse(spec: str, names: list) -> list:
    """Parse a --require text into Clauses; UsageError (one line) on anything else."""
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError("empty --require: expected clauses such as 'H in 224..640 step 32, "
                         "W = H'")
    known = set(names)
    out = []
    for raw in spec.split(","):
        text = " ".join(raw.split())
        if not text:
            raise UsageError(f"bad --require '{spec}': empty clause")
        for kind, rx in _CLAUSES:  # noqa: B007  the matching clause's kind is read after the loop
            m = rx.match(text)
            if m:
                break
        else:
            raise UsageError(f"bad --require clause '{text}': expected 'SYM = INT', "
                             "'SYM = SYM', 'SYM in A..B' or 'SYM in A..B step K'")
        sym = m[1]
        c = Clause(kind, sym)
        if kind == "pin":
            c.lo = c.hi = int(m[2])
        elif kind == "same":
            c.other = m[2]
            if c.other not in known:
                raise UsageError(_unknown(c.other, names))
        else:
            c.lo = int(m[2])
            c.hi = int(m[3]) if m[3] is not None else None
            c.step = int(m[4]) if m[4] is not None else 1
            if c.step < 1:
                raise UsageError(f"bad --require clause '{text}': step must be >= 1")
            if c.hi is not None and c.hi < c.lo:
                raise UsageError(f"bad --require clause '{text}': empty range ({c.lo} > {c.hi})")
        if sym not in known:
            raise UsageError(_unknown(sym, names))
        for v in (c.lo, c.hi):
            if v is not None and v < 0:
                raise UsageError(f"bad --require clause '{text}': sizes start at 0 (at 1 "
                                 "unless the size may be empty)")
            if v is not None and v > 2 ** 31 - 1:
                raise UsageError(f"bad --require clause '{text}': larger than any tensor dim "
                                 "(2**31 - 1)")
        out.append(c)
    return out


def least_sizes(domain) -> dict:
    """Each symbol's smallest size: 0 where it may be empty, else 1."""
    return {s.name: lower_bound(s) for s in getattr(domain, "symbols", [])}


def _unknown(sym, names) -> str:
    return (f"unknown dim '{sym}' in --require; the model's symbolic dims are "
            f"{', '.join(names) or '(none)'}")


def requirement_set(clauses: list, names: list, least: dict | None = None):
    """The isl set of required sizes over v0, v1, ... in the order of ``names`` (the
    order of Domain.names / solve.isl_names); ``least``: each name's smallest size (1, or 0
    for a size that may be empty; default 1)."""
    least = least or {}
    var = {n: Q.var(i) for i, n in enumerate(names)}
    for c in clauses:
        lo = least.get(c.sym, 1)
        if c.lo is not None and c.lo < lo:
            raise UsageError(f"bad --require clause '{c}': {c.sym}={c.lo} is out of range "
                             f"({lo} ..)")
    conds = [f"{var[n]} >= {least.get(n, 1)}" for n in names]
    for c in clauses:
        v = var[c.sym]
        if c.kind == "pin":
            conds.append(f"{v} = {c.lo}")
        elif c.kind == "same":
            conds.append(f"{v} = {var[c.other]}")
        else:
            conds.append(f"{v} >= {c.lo}")
            if c.hi is not None:
                conds.append(f"{v} <= {c.hi}")
            if c.step > 1:
                conds.append(f"({v} - {c.lo}) mod {c.step} = 0")
    return Q.where(len(names), " and ".join(conds) or "1 = 1")


@dataclass
class ContractResult:
    spec: str
    clauses: list
    names: list
    verdict: str
    required: int | None  # how many sizes the contract names (None: infinitely many)
    failing_count: int | None = None  # how many of them fail (None: infinitely many)
    failing: list = field(default_factory=list)  # {"sizes", "violations"} first few
    unproven: list = field(default_factory=list)  # reasons, when verdict is unproven
    free: list = field(default_factory=list)  # symbols the contract leaves at "any"

    @property
    def included(self) -> bool | None:
        return {INCLUDED: True, NOT_INCLUDED: False}.get(self.verdict)

    def to_json(self) -> dict:
        return {"require": self.spec, "clauses": [str(c) for c in self.clauses],
                "symbols": self.names, "verdict": self.verdict, "included": self.included,
                "required_sizes": self.required, "failing_sizes": self.failing_count,
                "any": self.free, "first_failing": self.failing, "unproven": self.unproven}

    def text(self) -> str:
        req = ", ".join(str(c) for c in self.clauses)
        if self.free:
            req += "; any " + ", ".join(self.free)
        n = "infinitely many" if self.required is None else f"{self.required:,}"
        lines = []
        if self.verdict == INCLUDED:
            lines.append(f"included: every required size is valid ({n} sizes: {req})")
        elif self.verdict == UNPROVEN:
            lines.append(f"unproven: {n} required sizes ({req}) pass every proven "
                         "condition, but:")
            lines += [f"  because {u}" for u in self.unproven]
        else:
            bad = "infinitely many" if self.failing_count is None else f"{self.failing_count:,}"
            lines.append(f"not included: {bad} of {n} required sizes are invalid ({req})")
            lines.append("first failing sizes:")
            for f in self.failing:
                lines.append("  " + ", ".join(f"{k}={v}" for k, v in f["sizes"].items()))
                for v in f["violations"]:
                    lines.append(f"    {v['op']} (node '{v['node']}'): {v['reason']}")
                    if v.get("numbers"):
                        lines.append(f"        {v['numbers']}")
        return "\n".join(lines)


def _count(s) -> int | None:
    if s.is_empty():
        return 0
    if not s.is_bounded():
        return None
    return int(s.count_val().to_python())


def _point(s, names) -> dict:
    p = s.lexmin().sample_point()
    return dict(zip(names, Q.coords(p, len(names))))


def _point_set(pt: dict, names):
    return Q.point_set([pt[n] for n in names])


def _inexact(domain) -> list:
    if hasattr(domain, "point_checked"):
        return domain.point_checked()
    solved = getattr(domain, "solved", None)
    return list(getattr(solved, "inexact", []) or [])


def require(analysis, spec: str, first: int = 5) -> ContractResult:
    """Decide whether every size the contract ``spec`` names is valid for ``analysis``."""
    d = analysis.domain
    names = list(d.names)
    if not names:
        raise UsageError("the model has no symbolic dims: there is nothing to --require"
            + STATIC_HINT)
    clauses = parse(spec, names)
    req = requirement_set(clauses, names, least_sizes(d))
    mentioned = {c.sym for c in clauses} | {c.other for c in clauses if c.other}
    free = [n for n in names if n not in mentioned]
    total = _count(req)
    res = ContractResult(spec, clauses, names, INCLUDED, total, 0, free=free)
    if req.is_empty():
        return res  # nothing is required (e.g. 'H = 3, H = 4'): vacuously included
    impossible = list(getattr(d, "impossible", []) or [])
    if impossible:
        outside = req
    else:
        # the one exact query: every required size inside the Presburger part of the domain
        # (req <= D as req <= D & req: intersecting first lets isl drop the pieces of D
        # far from the requirement, which a direct subset test subtracts one by one)
        inside = d.isl_set.intersect(req).coalesce()
        if req.is_subset(inside):
            outside = None
        else:
            outside = req.subtract(inside).coalesce()
    inexact = _inexact(d)
    if outside is None and inexact:
        # conditions outside the closed form hold or not point by point: check every
        # required size when there are few enough, else the answer is unproven
        checked = d.checked_points() if hasattr(d, "checked_points") else None
        part = req if checked is None else req.intersect(checked)  # the float32 band only
        n_part = _count(part)
        if n_part is not None and n_part <= POINT_CHECK_LIMIT:
            bad = []
            part.foreach_point(lambda p: bad.append(dict(zip(names, Q.coords(p, len(names))))))
            bad = [p for p in bad if not d.contains(p)]
            if bad:
                res.verdict, res.failing_count = NOT_INCLUDED, len(bad)
                res.failing = [_failure(analysis, p) for p in sorted(
                    bad, key=lambda p: [p[n] for n in names])[:first]]
                return res
        else:
            res.verdict = UNPROVEN
            res.unproven = [f"{c.constraint} ({c.origins[0].describe()}) is outside the "
                            f"closed form and {'infinitely many' if total is None else total}"
                            f" sizes are too many to check one by one" for c in inexact]
            return res
    if outside is not None:
        res.verdict = NOT_INCLUDED
        res.failing_count = _count(outside)
        cur = outside
        while len(res.failing) < first and not cur.is_empty():
            p = _point(cur, names)
            res.failing.append(_failure(analysis, p))
            cur = cur.subtract(_point_set(p, names))
        return res
    if not d.exact:
        res.verdict = UNPROVEN
        res.unproven = explain_json(analysis, _point(req, names))["unproven"] or [
            "part of the model could not be analysed"]
    return res


def explain_json(analysis, sizes: dict) -> dict:
    """analysis.explain(sizes) as a plain dict (an Explanation or the older dict form)."""
    ex = analysis.explain(sizes)
    if hasattr(ex, "to_json"):
        ex = ex.to_json()
    out = dict(ex)
    out["verdict"] = str(out["verdict"])
    out["violations"] = [{"node": v["node"], "op": v["op"], "reason": v["reason"],
                          "numbers": v.get("numbers", "")} for v in out.get("violations", [])]
    out["unproven"] = [str(u) for u in out.get("unproven", [])]
    return out


def _failure(analysis, sizes: dict) -> dict:
    return {"sizes": dict(sizes), "violations": explain_json(analysis, sizes)["violations"]}


# ---- failures as the export hook and the testing helpers report them -------------------
@dataclass
class SizeFailure:
    """A required size (or, for a contract with ranges, its first failing sizes) that is not
    valid: the sizes, the verdict, and (op, node, reason, numbers) for each cause."""

    sizes: dict
    verdict: str  # invalid / unproven
    reasons: list  # [(op, node, reason, numbers)]
    spec: str | None = None  # the contract clause text this came from
    count: int | None = None  # how many required sizes fail (None: infinitely many)
    total: int | None = None  # how many sizes the contract names (None: infinitely many)
    more: list = field(default_factory=list)  # further failing sizes of the same contract

    def text(self) -> str:
        s = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        why = "; ".join(f"{op} (node '{node}'): {reason}" + (f" [{nums}]" if nums else "")
                        for op, node, reason, nums in self.reasons[:3]) or "no reason given"
        if self.spec is None or self.total == 1:
            return f"{s} is {self.verdict}: {why}"
        n = lambda v: "infinitely many" if v is None else f"{v:,}"  # noqa: E731
        if self.verdict == Verdict.UNPROVEN:
            return f"'{self.spec}' is unproven: {why}"
        return (f"'{self.spec}': {n(self.count)} of {n(self.total)} required sizes are "
                f"{self.verdict}, first {s}: {why}")


class InvalidSizes(GraphShapeError):
    """Sizes the pipeline requires are outside the proved domain (or not proven)."""

    exit_code = 1

    def __init__(self, failures, analysis=None, spec=None):
        self.failures = list(failures)
        self.analysis = analysis
        self.spec = spec
        n = len(self.failures)
        parts = "; ".join(f.text() for f in self.failures[:4])
        more = f"; and {n - 4} more" if n > 4 else ""
        dom = ""
        if analysis is not None:
            d = " ".join(str(analysis.domain).split())
            dom = "; valid sizes: " + (d if len(d) <= 240 else d[:237] + "...")
        super().__init__(f"{n} required size{'s' if n != 1 else ''} not valid: "
                         f"{parts}{more}{dom}")



def explain_dict(analysis, sizes) -> dict:
    """analysis.explain() as a plain dict (an Explanation, or the older dict form)."""
    ex = analysis.explain(sizes)
    return ex.to_json() if hasattr(ex, "to_json") else ex


def require_failures(analysis, spec) -> list:
    """Every required size (or contract) that is not valid, as SizeFailures.

    ``spec`` is one --require text ("H in 224..640 step 32, W = H"), a dict {"H": 300, ...},
    or a list of these (each checked on its own)."""
    if spec is None:
        return []
    items = [spec] if isinstance(spec, (str, dict)) else list(spec)
    out = []
    for item in items:
        if isinstance(item, dict):
            item = ", ".join(f"{k} = {int(v)}" for k, v in item.items())
        out += _from_contract(analysis, require(analysis, str(item)))
    return out


def _from_contract(analysis, result) -> list:
    """graphshape.contract.require's ContractResult -> SizeFailures."""
    verdict = str(getattr(result, "verdict", ""))
    if verdict == "included":
        return []
    spec = getattr(result, "spec", None)
    total = getattr(result, "required", None)
    if verdict == Verdict.UNPROVEN:
        return [SizeFailure({}, "unproven", [("unproven", "-", u, "")
                                            for u in result.unproven], spec, None, total)]
    out = []
    for f in result.failing[:1]:
        reasons = [(v["op"], v["node"], v["reason"], v.get("numbers", ""))
                   for v in f["violations"]]
        out.append(SizeFailure(dict(f["sizes"]), "invalid", reasons, spec,
                               result.failing_count, total,
                               [dict(g["sizes"]) for g in result.failing[1:]]))
    return out


def check_required(analysis, spec) -> None:
    """Raise InvalidSizes when ``spec`` names a size outside the domain."""
    fails = require_failures(analysis, spec)
    if fails:
        raise InvalidSizes(fails, analysis, spec)


