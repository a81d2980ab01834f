"""An independent second opinion on the solver: numeric evaluation of every condition
(sympy substitution, no isl) compared with isl membership and with the closed form.

A quasi-affine condition in one variable is eventually periodic, with a period dividing
the lcm of its moduli; sweeping each symbol over [1, start + 2*period] (start: where the
periodic part begins) with the others held at members of each box covers every residue
class twice past the threshold, so agreement there is agreement everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphshape.arith.isl import fix, project_1d
from graphshape.domain.periodic import points_in


@dataclass
class CrossCheck:
    points: int = 0
    mismatches: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def numeric_member(domain, sizes: dict) -> bool:
    env = dict(sizes)
    if domain.impossible:
        return False
    return all(c.constraint.evaluate(env) for c in domain.solved.conditions)


def closed_form_member(domain, sizes: dict) -> bool | None:
    """Membership according to the printed boxes (None when not box-shaped)."""
    bx = domain.boxes()
    if bx is None:
        return None
    return any(all(f.contains(sizes[n]) for f, n in zip(b.factors, domain.names)) for b in bx)


def sweep(domain, max_span: int = 20000) -> CrossCheck:
    out = CrossCheck()
    if not domain.symbols or domain.impossible:
        return out
    bx = domain.boxes()
    p = domain.period_hint
    bases = []
    if bx:
        for b in bx:
            m = [f.min() for f in b.factors]
            if None not in m:
                bases.append(dict(zip(domain.names, m)))
    bases += domain.sample_members(3, seed=11)
    if not bases:  # empty domain: sweep from all-ones
        bases = [{n: 1 for n in domain.names}]
    for base in bases:
        for i, name in enumerate(domain.names):
            hi = 1
            if bx:
                for b in bx:
                    f = b.factors[i]
                    top = f.max() if f.max() is not None else f.start
                    hi = max(hi, (top or 1) + 2 * max(f.period, p) + 2)
            else:
                hi = 4 * p + 64
            hi = min(hi, max_span)
            members = _isl_slice(domain, base, i, hi)
            for v in range(1, hi + 1):
                q = dict(base)
                q[name] = v
                out.points += 1
                a = v in members
                b2 = numeric_member(domain, q)
                c = closed_form_member(domain, q)
                if a != b2 or (c is not None and c != a):
                    out.mismatches.append((q, a, b2, c))
    return out


def _isl_slice(domain, base, i, hi) -> set:
    """Members v in [1, hi] of the domain with every other symbol fixed at ``base``."""
    s = domain.isl_set
    for j, n in enumerate(domain.names):
        if j != i:
            s = fix(s, j, base[n])
    return set(points_in(project_1d(s, i, len(domain.names)), 1, hi))
