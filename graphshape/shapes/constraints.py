"""Constraints: the conditions an op imposes on dims, each with the words it is reported in.

Kinds (JAX shape_poly style, few comparators, normalised):
    EQ   lhs == rhs
    GE   lhs >= rhs
    DIV  lhs % rhs == 0     (rhs a positive int)
    OR   any of parts       (broadcasting: a == b or a == 1 or b == 1)
    AND  all of parts       (only inside OR)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphshape.arith import lazy
from graphshape.arith.dims import (
    Dim,
    compile_dim,
    free_symbols,
    norm,
    rebuilt,
    substitute,
    to_str,
)
from graphshape.errors import located

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")


class Kind(str, enum.Enum):
    """What a condition says: lhs == rhs, lhs >= rhs, lhs divides rhs, or any/all of parts."""

    EQ = "EQ"
    GE = "GE"
    DIV = "DIV"
    OR = "OR"
    AND = "AND"

    def __str__(self) -> str:
        return self.value


EQ, GE, DIV, OR, AND = Kind.EQ, Kind.GE, Kind.DIV, Kind.OR, Kind.AND


class Origin:
    """Where a condition comes from: the node, its op and the reason in words. A rule may
    give the reason as a function that writes it: the text (which prints expressions, often
    dearer than the condition's own check) is made the first time it is read, and most
    conditions are never read (merged into an equal one, or implied)."""

    __slots__ = ("node", "op", "_reason")

    def __init__(self, node: str, op: str, reason) -> None:
        self.node = node
        self.op = op
        self._reason = reason

    @property
    def reason(self) -> str:
        r = self._reason
        if not isinstance(r, str):
            r = self._reason = str(r())
        return r

    def describe(self) -> str:
        return located(self.op, self.node, self.reason)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Origin):
            return NotImplemented
        return (self.node, self.op, self.reason) == (other.node, other.op, other.reason)

    def __hash__(self) -> int:
        return hash((self.node, self.op, self.reason))

    def __repr__(self) -> str:
        return f"Origin(node={self.node!r}, op={self.op!r}, reason={self.reason!r})"

    def __reduce__(self):  # the text travels, never the function that writes it
        return (Origin, (self.node, self.op, self.reason))


@dataclass(frozen=True)
class Constraint:
    kind: Kind
    lhs: Dim = 0
    rhs: Dim = 0
    parts: tuple = ()
    origin: Origin | None = field(default=None, compare=False, hash=False)

    # ---- construction -------------------------------------------------------------
    @staticmethod
    def eq(a: Dim, b: Dim, origin: Origin | None = None) -> Constraint:
        return Constraint(EQ, norm(a), norm(b), origin=origin)

    @staticmethod
    def ge(a: Dim, b: Dim, origin: Origin | None = None) -> Constraint:
        return Constraint(GE, norm(a), norm(b), origin=origin)

    @staticmethod
    def divides(m: int, a: Dim, origin: Origin | None = None) -> Constraint:
        return Constraint(DIV, norm(a), int(m), origin=origin)

    @staticmethod
    def any_of(parts, origin: Origin | None = None) -> Constraint:
        return Constraint(OR, parts=tuple(parts), origin=origin)

    @staticmethod
    def all_of(parts, origin: Origin | None = None) -> Constraint:
        return Constraint(AND, parts=tuple(parts), origin=origin)

    # ---- inspection -----------------------------------------------------------------
    def symbols(self) -> set:
        if self.kind in (OR, AND):
            out = set()
            for p in self.parts:
                out |= p.symbols()
            return out
        return free_symbols(self.lhs) | free_symbols(self.rhs)

    def key(self):
        """Canonical identity used to dedupe conditions before solving."""
        if self.kind in (OR, AND):
            return (self.kind, tuple(sorted((p.key() for p in self.parts), key=repr)))
        if self.kind == EQ:
            d = rebuilt(sympy.sympify(self.lhs) - self.rhs, expand=True)
            if not isinstance(d, int) and sympy.sympify(d).could_extract_minus_sign():
                d = norm(-d)
            return (EQ, d)
        if self.kind == GE:
            return (GE, rebuilt(sympy.sympify(self.lhs) - self.rhs, expand=True))
        return (self.kind, self.lhs, self.rhs)

    def evaluate(self, env: dict) -> bool:
        """Truth value when every symbol is given an int in ``env``."""
        if self.kind == OR:
            return any(p.evaluate(env) for p in self.parts)
        if self.kind == AND:
            return all(p.evaluate(env) for p in self.parts)
        fns = self.__dict__.get("_compiled")
        if fns is None:  # compiled once per condition (not a field: eq/hash ignore it)
            fns = (compile_dim(self.lhs), compile_dim(self.rhs))
            object.__setattr__(self, "_compiled", fns)
        try:
            a = fns[0](env)
            b = fns[1](env)
        except KeyError as e:
            raise ValueError(f"unbound symbol {e} in {self}") from None
        except ZeroDivisionError:
            # c // d where d is 0: only at sizes another condition (the one that proved
            # d >= 1, shapes/quotients.py) already rejects; the value does not exist there
            return False
        if not isinstance(a, int) or not isinstance(b, int):
            raise ValueError(f"unbound symbols in {self}")
        if self.kind == EQ:
            return a == b
        if self.kind == GE:
            return a >= b
        return a % b == 0

    def constant_truth(self) -> bool | None:
        """True/False when the condition has no symbols, else None; True also for an
        identity (a == a, or an OR/AND that one decides: Inception's broadcast of two
        equal branch maps, (h == h and w == w) or h == 0 or ...)."""
        if self.kind == EQ and self.lhs == self.rhs:
            return True
        if self.kind in (OR, AND):
            truths = [p.constant_truth() for p in self.parts]
            if self.kind == OR and any(t is True for t in truths):
                return True
            if self.kind == AND and truths and all(t is True for t in truths):
                return True
        if self.symbols():
            return None
        return self.evaluate({})

    def numbers(self, env: dict) -> str:
        """The condition with numbers filled in, for explanations: '2*floor(225/2)=224 != 225'."""
        if self.kind in (OR, AND):
            joiner = " or " if self.kind == OR else " and "
            return joiner.join(p.numbers(env) for p in self.parts)
        a, b = _value_at(self.lhs, env), _value_at(self.rhs, env)
        ok = self.evaluate(env)
        lhs = to_str(self.lhs, pretty=True)
        if self.kind == EQ:
            return f"{lhs} = {a} {'==' if ok else '!='} {b}"
        if self.kind == GE:
            return f"{lhs} = {a} {'>=' if ok else '<'} {b}"
        return f"{lhs} = {a} {'is' if ok else 'is not'} a multiple of {b}"

    def __str__(self) -> str:
        if self.kind == OR:
            return " or ".join(f"({p})" if p.kind == AND else str(p) for p in self.parts)
        if self.kind == AND:
            return " and ".join(str(p) for p in self.parts)
        lhs, rhs = to_str(self.lhs, pretty=True), to_str(self.rhs, pretty=True)
        if self.kind == EQ:
            return f"{lhs} == {rhs}"
        if self.kind == GE:
            return f"{lhs} >= {rhs}"
        return f"{lhs} mod {self.rhs} == 0"


def _value_at(x: Dim, env: dict):
    """x at env, or 'undefined' where it divides by 0 (c // d with d = 0)."""
    try:
        return substitute(x, env)
    except (ValueError, ZeroDivisionError):
        return "undefined (a division by 0)"


def simplify_or(parts) -> list | None:
    """Drop constant-false alternatives; None if some alternative is constant-true."""
    kept = []
    for p in parts:
        t = p.constant_truth()
        if t is True:
            return None
        if t is False:
            continue
        kept.append(p)
    return kept


def dedupe(constraints) -> list:
    """One entry per distinct condition; later duplicates add their origin to ``also``."""
    # structural duplicates first (hashing is cheap), then the canonical key (expand) on
    # the distinct ones only: a 10,000-node chain imposes the same condition thousands of times
    groups: dict = {}
    for c in constraints:
        g = groups.get(c)
        if g is None:
            groups[c] = [c]
        else:
            g.append(c)
    seen: dict = {}
    out = []
    for c, same in groups.items():
        k = c.key()
        extra = [x.origin for x in same[1:]]
        if k in seen:
            seen[k][1].extend([c.origin] + extra)
            continue
        entry = (c, extra)
        seen[k] = entry
        out.append(entry)
    return out
