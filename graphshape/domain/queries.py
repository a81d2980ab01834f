"""Questions about a Domain: the points a verifier must try, random members and
non-members, the conditions that bind, a minimal conflict, witnesses."""

from __future__ import annotations

import random

from graphshape.arith.isl import Error as IslError
from graphshape.arith.isl import box_set, coords, fix, point_set, project_1d
from graphshape.arith.terms import MAX_SIZE

__all__ = ["edges", "sample_members", "sample_nonmembers", "binding", "conflict",
           "smallest_valid", "witness", "MAX_WITNESS_CONDITIONS"]

# witness() compares every bounding condition with all the others (quadratic)
MAX_WITNESS_CONDITIONS = 40
# smallest_valid skips at most this many band sizes that float32 rejects (float_eval)
MAX_BAND_SKIPS = 64
# isl operations one witness difference may take: the complement of a condition split into
# many divisor cases (reshape_head's ceil(H/16)*ceil(W/16) multiple of 11648) grows without
# bound, and a witness is an illustration, not a proof: past the budget it is left out
WITNESS_ISL_OPERATIONS = 200_000


def edges(domain, limit: int = 400) -> list:
    """Points a verifier must try: per box and symbol, min/min-1/max/max+1, one member
    of each residue class and its neighbours; other symbols held at members."""
    names = domain.names
    pts = []
    seen = set()

    def add(p):
        key = tuple(p[n] for n in names)
        if key not in seen and all(1 <= v <= MAX_SIZE for v in key):
            seen.add(key)
            pts.append(dict(p))

    if not domain.symbols:
        return [{}]
    bx = domain.boxes()
    if bx:
        for b in bx:
            members = [f.min() for f in b.factors]
            if any(m is None for m in members):
                continue
            highs = [f.max() or f.min() for f in b.factors]
            for i, f in enumerate(b.factors):
                for e in f.edges():
                    for hold in (members, highs):
                        p = {n: hold[j] for j, n in enumerate(names)}
                        p[names[i]] = e
                        add(p)
    else:
        for p in sample_members(domain, 8, seed=1):
            for n in names:
                for d in (-1, 0, 1):
                    q = dict(p)
                    q[n] = p[n] + d
                    add(q)
    floats = getattr(domain.solved, "floats", None)
    if floats is not None:
        # the band that float32 decides size by size (W = 1333*H for Faster R-CNN): its
        # smallest sizes and their neighbours, which the closed form alone misses
        for p in floats.band_points(within=domain.isl_set):
            add(p)
            for n in names:
                for d in (-1, 1):
                    q = dict(p)
                    q[n] = p[n] + d
                    add(q)
        pts = pts[:limit]
        return pts
    return pts[:limit]


def _default_hi(domain) -> int:
    # keep the product of sizes modest: 1024 for one symbol, 256 for two, 64 beyond
    return {0: 1, 1: 1024, 2: 256}.get(len(domain.symbols), 64)


def sample_members(domain, k: int, seed: int = 0, hi: int | None = None) -> list:
    """Up to k random sizes, each <= hi, where every proven condition holds
    (deterministic for a seed)."""
    hi = hi or _default_hi(domain)
    rng = random.Random(seed)
    names = domain.names
    n = len(names)
    part = domain.isl_set.intersect(box_set(n, 1, hi))
    out: list = []
    if part.is_empty():
        return out
    for _ in range(k * 4):
        chosen = {}
        cur = part
        for i in range(n):
            proj = project_1d(cur, i, n)
            lo = coords(proj.lexmin().sample_point(), 1)[0]
            hi2 = coords(proj.lexmax().sample_point(), 1)[0]
            for _t in range(20):
                v = rng.randint(lo, hi2)
                if not fix(cur, i, v).is_empty():
                    break
            else:
                v = lo
            chosen[names[i]] = v
            cur = fix(cur, i, v)
        if chosen not in out:
            out.append(chosen)
        if len(out) >= k:
            break
    return out


def sample_nonmembers(domain, k: int, seed: int = 0, hi: int | None = None) -> list:
    hi = hi or _default_hi(domain)
    rng = random.Random(seed + 7)
    out = []
    for _ in range(k * 50):
        p = {n: rng.randint(1, hi) for n in domain.names}
        if not domain.satisfies(p) and p not in out:
            out.append(p)
        if len(out) >= k:
            break
    return out


def binding(domain) -> list:
    """(Condition, its set) for conditions that exclude some size on their own."""
    u = domain.universe()
    return [(c, s) for c, s in domain.condition_sets() if not u.is_subset(s)]


def conflict(domain) -> list:
    """For an empty domain: a minimal set of conditions that cannot hold together."""
    if not domain.symbols or not domain.isl_set.is_empty():
        return []
    sets = binding(domain)
    # shortest prefix that is already empty, then drop every member not needed
    cur = domain.universe()
    prefix = []
    for c, s in sets:
        prefix.append((c, s))
        cur = cur.intersect(s)
        if cur.is_empty():
            break
    core = list(prefix)
    for item in list(prefix):
        trial = [x for x in core if x is not item]
        acc = domain.universe()
        for _, s in trial:
            acc = acc.intersect(s)
        if acc.is_empty():
            core = trial
    return [c for c, _ in core]


def smallest_valid(domain) -> dict | None:
    """The lexicographically smallest size where every proven condition holds."""
    if domain.is_empty() or not domain.symbols:
        return None
    floats = getattr(domain.solved, "floats", None)
    s = domain.isl_set
    for _ in range(MAX_BAND_SKIPS):
        if s.is_empty():
            return None
        pt = coords(s.lexmin().sample_point(), len(domain.names))
        out = dict(zip(domain.names, pt))
        if floats is None or floats.holds(out) is not False:
            return out
        s = s.subtract(point_set(pt))  # a band size float32 rejects: the next one
    return None


def _minus(a, b):
    """a - b, intersecting first (isl then drops the pieces of b far from a, which a direct
    subtraction takes apart one by one: reshape_head's 32-piece domain minus a line took
    minutes), within WITNESS_ISL_OPERATIONS; None past it."""
    ctx = a.get_ctx()
    ctx.set_max_operations(WITNESS_ISL_OPERATIONS)
    ctx.reset_operations()
    try:
        return a.subtract(b.intersect(a).coalesce())
    except IslError:
        return None
    finally:
        ctx.set_max_operations(0)


def witness(domain) -> dict:
    """The smallest valid size (lexicographic); per symbol, the smallest invalid size
    with the others held at the smallest valid one; per bounding condition, the smallest
    size that only it rejects."""
    names = domain.names
    smallest_invalid: dict = {}
    per_condition: list = []
    out: dict = {"smallest_valid": None, "smallest_invalid": smallest_invalid,
                 "per_condition": per_condition}
    best = smallest_valid(domain)
    if best is None:
        return out
    out["smallest_valid"] = best
    for i, n in enumerate(names):
        line = domain.universe()
        for j, m in enumerate(names):
            if j != i:
                line = fix(line, j, best[m])
        outside = _minus(line, domain.isl_set)
        if outside is not None and not outside.is_empty():
            smallest_invalid[n] = coords(outside.lexmin().sample_point(), len(names))[i]
    bind = binding(domain)
    if len(bind) <= MAX_WITNESS_CONDITIONS:
        for c, s in bind:
            others = domain.universe()
            for c2, s2 in bind:
                if c2 is not c:
                    others = others.intersect(s2)
            rejected = _minus(others, s)
            if rejected is None or rejected.is_empty():
                continue
            pt = rejected.lexmin().sample_point()
            o = c.origins[0]
            per_condition.append({
                "node": o.node, "op": o.op, "condition": str(c.constraint),
                "smallest_rejected": dict(zip(names, coords(pt, len(names))))})
    return out
