"""Running the differential fuzzers: graphshape against onnxruntime, graph by graph.

Two generators write the graphs, independently of each other: ``tests.oracles.fuzz_convpool``
(Conv/Pool/ConvTranspose stacks with skips and Gemm heads) and ``tests.oracles.fuzz_mixed``
(negative pads, ConvTranspose after shrinking ops, ceil-mode pools, broadcasting of size-1
axes in every binary op, Where/Mul/Concat merges, shape arithmetic feeding Pad/Reshape/
Resize/Slice). ``fuzz_one(seed, generator)`` analyses one graph and runs onnxruntime (in a
child process, see verify.py) at

* every size 1..12 of every symbolic axis, 0..12 for one that may be empty (the
  generator declares it in its description's "dims", as --dim NAME>=0 does): the whole
  grid for one or two axes, 144 points of it for three; small sizes are where runtime
  quirks live;
* the domain's edges (within the caps), random members and random non-members.

Every disagreement on a proved answer is a graphshape bug; 'unproven' verdicts are
counted, not compared. A failing case keeps its model file and its ONNX text.

    python -m tests.oracles.fuzz_runner --generator mix --graphs 300 --seed 1 --jobs 2
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import random
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

import onnx

SIZE_CAP = 300  # spatial sizes tried stay at or below this
BATCH_CAP = 4  # and a symbolic batch at or below this
SMALL = 12  # every size 1..SMALL of each symbolic axis is run
GRID_SAMPLE = 144  # points of the small grid kept when it has more (3 axes)
MAX_EXTRA = 16  # edges and random points per graph, on top of the small grid

GENERATORS = {"conv": "tests.oracles.fuzz_convpool", "mix": "tests.oracles.fuzz_mixed"}


def generator(name: str):
    return importlib.import_module(GENERATORS[name]).generate


# ---- points ----------------------------------------------------------------------------

def _caps(names):
    return {n: (BATCH_CAP if n == "N" else SIZE_CAP) for n in names}


def small_grid(names, rng: random.Random, sample: int = GRID_SAMPLE,
               least: dict | None = None) -> list:
    """Every combination of sizes 1..SMALL (1..BATCH_CAP for a batch N; from 0 for a size
    that may be empty, ``least``); when that is more than ``sample`` points, the corners,
    the diagonal and a random rest of it."""
    caps = _caps(names)
    least = least or {}
    ranges = [range(least.get(n, 1), min(SMALL, caps[n]) + 1) for n in names]
    total = 1
    for r in ranges:
        total *= len(r)
    if total <= sample:
        return [dict(zip(names, v)) for v in itertools.product(*ranges)]
    keep = {tuple(r[0] if c == 0 else r[-1] for r, c in zip(ranges, corner))
            for corner in itertools.product((0, 1), repeat=len(names))}
    keep |= {tuple(min(max(i, r[0]), r[-1]) for r in ranges) for i in range(0, SMALL + 1)}
    while len(keep) < sample:
        keep.add(tuple(rng.choice(r) for r in ranges))
    return [dict(zip(names, v)) for v in sorted(keep)]


def pick_points(domain, rng: random.Random, max_extra: int = MAX_EXTRA) -> list:
    """The small grid, then edge points (within the caps), random members and
    non-members: up to ``max_extra`` points beyond the grid."""
    names = domain.names
    if not names:
        return [{}]
    caps = _caps(names)
    least = {s.name: (0 if s.is_nonnegative and not s.is_positive else 1)
             for s in domain.symbols}  # 0: a size declared or inferred to may be empty
    pts = small_grid(names, rng, least=least)
    seen = {tuple(p[n] for n in names) for p in pts}

    def ok(p):
        return all(least[n] <= p[n] <= caps[n] for n in names)

    edges = [p for p in domain.edges() if ok(p)]
    rng.shuffle(edges)
    members = []
    for p in domain.sample_members(6, seed=rng.randrange(1 << 20), hi=SIZE_CAP):
        members.append({n: (min(v, caps[n]) if n == "N" else v) for n, v in p.items()})
    tries = [{n: rng.randint(least[n], caps[n]) for n in names} for _ in range(40)]
    nonmembers = [p for p in tries if not domain.contains(p)]
    members += [p for p in tries if domain.contains(p)]
    extra = []
    for group, k in ((edges, max_extra // 2), (members, max_extra // 4),
                     (nonmembers, max_extra // 4), (edges + members + nonmembers, max_extra)):
        taken = 0
        for p in group:
            if len(extra) >= max_extra or taken >= k:
                break
            key = tuple(p[n] for n in names)
            if key in seen or not ok(p):
                continue
            seen.add(key)
            extra.append(p)
            taken += 1
    return pts + extra


# ---- one graph -------------------------------------------------------------------------

@dataclass
class CaseResult:
    seed: int
    desc: dict
    generator: str = "conv"
    domain: str = ""
    exact: bool = True
    points: int = 0
    compared: int = 0
    compared_zero: int = 0  # of them, sizes with an empty axis (a size that may be 0)
    skipped: int = 0
    skip_notes: list = field(default_factory=list)  # why (timeout, memory budget), first few
    disagreements: list = field(default_factory=list)
    unproven: list = field(default_factory=list)  # "Op: reason" of each unproven node
    error: str | None = None  # analysis crashed or hung: a bug too
    session_failed: str | None = None  # onnxruntime refused the model (every size invalid)
    onnx_text: str = ""  # the failing model, in ONNX text (kept only when something failed)
    seconds: float = 0.0


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _text(model) -> str:
    try:
        return onnx.printer.to_text(model)
    except Exception as e:  # noqa: BLE001  the file is kept anyway
        return f"(no ONNX text: {e})"


def fuzz_one(seed: int, gen: str = "conv", workdir: str | None = None,
             max_extra: int = MAX_EXTRA, analysis_timeout: int = 60) -> CaseResult:
    import graphshape
    from graphshape.domain.sets import VALID
    from graphshape.errors import VerificationError
    from graphshape.runtime.verify import verify

    t0 = time.perf_counter()
    model, desc = generator(gen)(seed)
    res = CaseResult(seed, desc, gen)
    workdir = workdir or tempfile.gettempdir()
    path = os.path.join(workdir, f"fuzz-{gen}-{seed}.onnx")
    onnx.save(model, path)

    def done():
        res.seconds = time.perf_counter() - t0
        if res.disagreements or res.error:
            res.onnx_text = _text(model)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass
        return res

    try:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(analysis_timeout)
        try:
            a = graphshape.analyze(path, dims=desc.get("dims"))
            res.domain = str(a.domain)
            res.exact = a.domain.exact
            res.unproven = [f"{u.op}: {u.reason}"[:160] for u in a.domain.unproven]
            pts = pick_points(a.domain, random.Random(seed), max_extra)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
    except _Timeout:
        res.error = f"analysis took more than {analysis_timeout} s"
        return done()
    except Exception as e:  # noqa: BLE001  reported as a failure of the tier
        res.error = f"{type(e).__name__}: {e}"
        return done()
    res.points = len(pts)
    try:
        rep = verify(a, pts, timeout=30, providers=["CPUExecutionProvider"])
    except VerificationError as e:
        # onnxruntime refuses the model at load time: every size is invalid
        res.session_failed = str(e)[:300]
        for p in pts:
            res.compared += 1
            if a.domain.check(p) == VALID:
                res.disagreements.append({"sizes": p, "predicted": VALID,
                                          "observed": "invalid", "detail": str(e)[:300]})
        return done()
    res.compared = len(rep.compared)
    res.compared_zero = sum(1 for v in rep.compared if 0 in v.sizes.values())
    res.skipped = len(rep.verdicts) - len(rep.compared)
    if rep.verdicts and all(v.detail.startswith("onnxruntime cannot load")
                            for v in rep.verdicts):
        res.session_failed = rep.verdicts[0].detail[:300]
    res.skip_notes = [f"{v.sizes}: {v.observed} {v.detail[:120]}" for v in rep.verdicts
                      if v.agree is None and v.predicted != "unproven"][:3]
    for v in rep.disagreements:
        res.disagreements.append({"sizes": v.sizes, "predicted": v.predicted,
                                  "observed": v.observed, "detail": v.detail[:300]})
    return done()


def _one_job(args):
    seed, gen, workdir, max_extra = args
    try:
        return fuzz_one(seed, gen, workdir, max_extra)
    except Exception as e:  # noqa: BLE001  the generator itself failed
        return CaseResult(seed, {"seed": seed}, gen, error=f"generator: {type(e).__name__}: {e}")


# ---- campaigns -------------------------------------------------------------------------

@dataclass
class Figures:
    generator: str = "conv"
    graphs: int = 0
    points: int = 0
    compared: int = 0
    compared_zero: int = 0
    skipped: int = 0
    disagreements: int = 0
    unproven_graphs: int = 0
    session_failures: int = 0
    errors: int = 0
    seconds: float = 0.0
    unproven_reasons: dict = field(default_factory=dict)  # "Op: reason" -> graphs
    failing: list = field(default_factory=list)  # CaseResults (as dicts) that disagreed

    def summary(self) -> str:
        return (f"fuzz ({self.generator}): {self.graphs} graphs, {self.compared} sizes "
                f"compared ({self.compared_zero} with an empty axis, {self.skipped} skipped), "
                f"{self.disagreements} disagreements, "
                f"{self.unproven_graphs} graphs unproven, {self.session_failures} refused by "
                f"onnxruntime at load, {self.errors} analysis errors, {self.seconds:.0f} s")

    def to_json(self) -> dict:
        d = asdict(self)
        d["summary"] = self.summary()
        return d

    def report(self, limit: int = 8, text: bool = True) -> str:
        """The failing cases: seed, generator, model file, disagreements, ONNX text."""
        lines = []
        for case in self.failing[:limit]:
            lines.append(f"seed {case['seed']} (python -m tests.oracles.fuzz_runner --generator "
                         f"{case['generator']} --seed {case['seed']} --graphs 1; model "
                         f"{case.get('model')}): {case['error'] or ''} ops "
                         f"{case['desc'].get('ops')}; domain {case['domain']!r}")
            for d in case["disagreements"][:3]:
                lines.append(f"    {d['sizes']}: predicted {d['predicted']}, onnxruntime "
                             f"{d['observed']} {d['detail'][:200]}")
            if text and case.get("onnx_text"):
                lines.append("    " + case["onnx_text"].replace("\n", "\n    "))
        return "\n".join(lines)


# one graph's generation, analysis (60 s at most) and runs (30 s each)
JOB_SECONDS = int(os.environ.get("GRAPHSHAPE_FUZZ_JOB_SECONDS", "900"))


def campaign(n_graphs: int, seed: int = 0, jobs: int = 2, workdir: str | None = None,
             max_extra: int = MAX_EXTRA, progress=None, gen: str = "conv") -> Figures:
    """Fuzz seeds seed .. seed + n_graphs - 1 of generator ``gen`` over ``jobs`` processes."""
    import multiprocessing as mp

    os.environ.setdefault("GRAPHSHAPE_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    workdir = workdir or tempfile.mkdtemp(prefix="graphshape-fuzz-")
    os.makedirs(workdir, exist_ok=True)
    figs = Figures(gen)
    t0 = time.perf_counter()
    args = [(seed + i, gen, workdir, max_extra) for i in range(n_graphs)]
    ctx = mp.get_context("fork" if sys.platform != "win32" else "spawn")
    with ctx.Pool(max(1, jobs)) as pool:
        # one task a graph, each waited for at most JOB_SECONDS: a process that dies (a
        # native abort: onnx's C++ shape inference in the conv generator asserts on seed
        # 7151843) loses its task, which a plain imap waits for forever
        pending = [(a[0], pool.apply_async(_one_job, (a,))) for a in args]
        for s, job in pending:
            try:
                r = job.get(timeout=JOB_SECONDS)
            except mp.TimeoutError:
                r = CaseResult(s, {"seed": s}, gen, error=f"no result in {JOB_SECONDS} s: its "
                               "process died (a native abort) or hung")
            figs.graphs += 1
            figs.points += r.points
            figs.compared += r.compared
            figs.compared_zero += r.compared_zero
            figs.skipped += r.skipped
            figs.disagreements += len(r.disagreements)
            figs.unproven_graphs += 0 if r.exact else 1
            for why in sorted(set(r.unproven)):
                figs.unproven_reasons[why] = figs.unproven_reasons.get(why, 0) + 1
            figs.session_failures += 1 if r.session_failed else 0
            figs.errors += 1 if r.error else 0
            if r.disagreements or r.error:
                d = asdict(r)
                d["model"] = os.path.join(workdir, f"fuzz-{gen}-{r.seed}.onnx")
                figs.failing.append(d)
            if progress:
                progress(figs, r)
    figs.seconds = time.perf_counter() - t0
    figs.failing.sort(key=lambda d: d["seed"])
    return figs


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--generator", choices=sorted(GENERATORS), default="conv")
    ap.add_argument("--graphs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--points", type=int, default=MAX_EXTRA,
                    help="edge and random points per graph, beyond the 1..12 grid")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", default=None, help="write the figures here")
    ns = ap.parse_args(argv)

    def show(figs, r):
        if r.disagreements or r.error:
            print(f"seed {r.seed} ({r.generator}): {r.error or ''} {r.desc.get('ops')} | "
                  f"domain {r.domain!r}", file=sys.stderr)
            for d in r.disagreements[:3]:
                print(f"    {d}", file=sys.stderr)
            print("    " + r.onnx_text.replace("\n", "\n    "), file=sys.stderr)

    figs = campaign(ns.graphs, ns.seed, ns.jobs, ns.workdir, ns.points, show, ns.generator)
    print(figs.summary())
    if ns.json:
        with open(ns.json, "w") as f:
            json.dump(figs.to_json(), f, indent=2, default=str)
    return 0 if not figs.disagreements and not figs.errors else 1


if __name__ == "__main__":
    sys.exit(main())
