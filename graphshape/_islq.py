"""Small exact isl queries shared by contract / fit / profiles / spec (sets over v0..vn-1 in
the order of Domain.names)."""

from __future__ import annotations

import math

import islpy as isl


def ival(v) -> int:
    return int(v.to_python())


def dims(s) -> int:
    return s.dim(isl.dim_type.set)


def vars_(n: int) -> str:
    return ", ".join(f"v{i}" for i in range(n))


def where(n: int, cond: str):
    return isl.Set(f"{{ [{vars_(n)}] : {cond} }}")


def fix(s, i: int, v: int):
    return s.intersect(where(dims(s), f"v{i} = {v}"))


def at_least(s, i: int, v: int):
    return s.intersect(where(dims(s), f"v{i} >= {v}"))


def at_most(s, i: int, v: int):
    return s.intersect(where(dims(s), f"v{i} <= {v}"))


def between(s, i: int, lo: int, hi: int | None):
    s = at_least(s, i, lo)
    return s if hi is None else at_most(s, i, hi)


def keep(s, idx: list):
    """Project ``s`` onto the coordinates ``idx`` (ascending), existentially over the rest."""
    n = dims(s)
    for i in reversed(range(n)):
        if i not in idx:
            s = s.project_out(isl.dim_type.set, i, 1)
    return s


def coord(s, i: int):
    """The 1-D projection of ``s`` onto coordinate i."""
    return keep(s, [i])


def point(p, n: int) -> tuple:
    return tuple(ival(p.get_coordinate_val(isl.dim_type.set, i)) for i in range(n))


def lexmin(s) -> tuple | None:
    if s.is_empty():
        return None
    return point(s.lexmin().sample_point(), dims(s))


def lexmax(s) -> tuple | None:
    if s.is_empty() or not s.is_bounded():
        return None
    return point(s.lexmax().sample_point(), dims(s))


def vmin(s1) -> int | None:
    p = lexmin(s1)
    return None if p is None else p[0]


def vmax(s1) -> int | None:
    """Largest member of a 1-D set (None when empty or unbounded above)."""
    if s1.is_empty():
        return None
    try:
        m = s1.dim_max_val(0)
    except isl.Error:
        return None
    if m.is_infty():
        return None
    return ival(m)


def next_at_or_above(s1, v: int) -> int | None:
    return vmin(at_least(s1, 0, v))


def next_at_or_below(s1, v: int) -> int | None:
    return vmax(at_most(s1, 0, v))


def count(s) -> int | None:
    if s.is_empty():
        return 0
    if not s.is_bounded():
        return None
    return ival(s.count_val())


def point_set(values) -> object:
    return isl.Set("{ [" + ", ".join(str(int(v)) for v in values) + "] }")


def product(sets: list):
    out = sets[0]
    for f in sets[1:]:
        out = out.flat_product(f)
    return out


def boxes(s, limit: int = 64) -> list | None:
    """``s`` as a union of product boxes (per box, one 1-D set per coordinate), or None
    when some piece of it is not a product (coupled coordinates)."""
    n = dims(s)
    s = s.coalesce()
    if s.is_empty():
        return []
    whole = [coord(s, i) for i in range(n)]
    if product(whole).is_equal(s):
        return [whole]
    out = []
    for bs in s.get_basic_sets():
        b = isl.Set.from_basic_set(bs).coalesce()
        if b.is_empty():
            continue
        fs = [coord(b, i) for i in range(n)]
        if not product(fs).is_equal(b):
            return None
        out.append(fs)
        if len(out) > limit:
            return None
    out.sort(key=lambda fs: tuple(vmin(f) or 0 for f in fs))
    return out


def lattice(s1) -> dict | None:
    """A bounded or unbounded 1-D set described as {"from", "to", "step"} when it is exactly
    an arithmetic progression (step 1: an interval); None when it is not."""
    lo = vmin(s1)
    if lo is None:
        return None
    hi = vmax(s1)
    nxt = vmin(at_least(s1, 0, lo + 1))
    if nxt is None:
        return {"from": lo, "to": lo, "step": 1}
    step = nxt - lo
    cond = f"v0 >= {lo} and (v0 - {lo}) mod {step} = 0" + (f" and v0 <= {hi}" if hi else "")
    if where(1, cond).is_equal(s1):
        return {"from": lo, "to": hi, "step": step}
    return None


def runs(s1, limit: int = 64) -> list | None:
    """A bounded 1-D set as maximal runs [lo, hi] (None when more than ``limit``)."""
    out = []
    cur = s1
    while not cur.is_empty():
        lo = vmin(cur)
        gap = vmin(where(1, f"v0 >= {lo}").subtract(cur))
        if gap is None:
            return None  # unbounded
        out.append((lo, gap - 1))
        cur = at_least(cur, 0, gap)
        if len(out) > limit:
            return None
    return out


def log_ratio(a: float, b: float) -> float:
    return abs(math.log(a / b))
