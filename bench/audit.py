"""Benchmark of the nightly registry audit (`make bench-audit`): figures, not tests.

    .venv/bin/python bench/audit.py [--fuzz 180] [--names 3] [--corpus NAME ...]
                                    [--jobs 2] [--no-verify] [--json PATH]

The registry (.cache/bench-audit/registry, rebuilt each time): corpus models (built on
demand with `python -m models build NAME`), each under --names names (each copy with its
own doc_string, so each is a distinct file, as exports from several teams are), the toy
pinned at three sizes, and --fuzz random Conv/Pool graphs (tests/oracles/fuzz_convpool,
seeds 0..N-1). Measured, one after another on this machine:

* throughput without verification: in process (-j 1), a Dask LocalCluster of --jobs
  workers, and the ProcessPoolExecutor of --jobs processes that `audit -j` used before
  (kept below as the baseline, as it was); best of --rounds each (this machine is shared:
  one round's figure moves by tens of percent). Two more split the difference between
  the old pool and the new audit into its parts: the new per-model work (task.execute:
  the findings and the full report each row stores) on the same pool, and in this process
  without a sandbox (what forking a process per model costs);
* with --verify: in process and on the LocalCluster (the old pool did not verify), one
  round each (minutes);
* the second night: the same registry again into the same store (every result reused);
* Dask's overhead per model: the corpus files and the fuzz graphs each run as the audit's
  tasks in process and on a LocalCluster of one worker (the same tasks in the same sandbox,
  one core each; no hashing, no store), submitted as the audit does (models without
  verification may go several to a task) and, for comparison, one task per model; the
  rounds taken in turn, the best of --rounds each (as bench/run.py: this machine is
  shared), the difference per model against the in-process time per model;
* the store: seconds per row written, bytes per row;
* then, on paper, the 10,000-model night.

Each figure is the audit call alone; starting workers (cluster, pool, sandbox servers) is
reported on its own. Models per hour per core = models / seconds * 3600 / workers.
Results: stdout and bench/results/audit.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import logging
import math
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import onnx  # noqa: E402
from run import cpu_and_memory  # noqa: E402  (bench/run.py, beside this file)

from graphshape.errors import GraphShapeError  # noqa: E402
from graphshape.fleet.cluster import ClusterOptions, connect  # noqa: E402
from graphshape.fleet.nightly import AuditOptions, SerialExecutor, audit_registry  # noqa: E402
from graphshape.fleet.run import audit_one, find_models  # noqa: E402
from graphshape.fleet.sandbox import close_all, prestart  # noqa: E402
from graphshape.fleet.store import Store  # noqa: E402
from graphshape.fleet.task import execute  # noqa: E402

WORK = os.path.join(ROOT, ".cache", "bench-audit")
DEFAULT_JSON = os.path.join(ROOT, "bench", "results", "audit.json")
CORPUS = ["toy", "fpn_ts", "unet_ts", "reshape_head_ts", "bert_tiny_ts", "vit_tiny_ts",
          "mobilenet_v3_small_ts"]
NIGHT_HOURS = 8
FLEET = 10_000


# ---- the registry ---------------------------------------------------------------------------
def build_registry(corpus: list, names: int, n_fuzz: int) -> tuple:
    from models import registry
    from tests.oracles.fuzz_convpool import generate

    reg = os.path.join(WORK, "registry")
    shutil.rmtree(reg, ignore_errors=True)
    os.makedirs(os.path.join(reg, "corpus"))
    os.makedirs(os.path.join(reg, "fuzz"))
    for name in corpus:
        src = registry.build(name, registry.DEFAULT_CACHE)
        m = onnx.load(src)
        for i in range(names):
            m.doc_string = f"{name}, export {i} (graphshape bench)"
            onnx.save(m, os.path.join(reg, "corpus", f"{name}_v{i}.onnx"))
    toy = onnx.load(registry.build("toy", registry.DEFAULT_CACHE))
    for size in (251, 256, 258):
        m = onnx.ModelProto()
        m.CopyFrom(toy)
        for d in m.graph.input[0].type.tensor_type.shape.dim:
            if d.dim_param in ("H", "W"):
                d.Clear()
                d.dim_value = size
        onnx.save(m, os.path.join(reg, "corpus", f"toy_pinned_{size}.onnx"))
    for seed in range(n_fuzz):
        model, _ = generate(seed)
        onnx.save(model, os.path.join(reg, "fuzz", f"fuzz_{seed:04d}.onnx"))
    warm_up = os.path.join(WORK, "warm_up.onnx")
    onnx.save(generate(10 ** 6)[0], warm_up)
    return reg, os.path.join(reg, "corpus"), os.path.join(reg, "fuzz"), warm_up


# ---- the baseline: `audit -j N` before this issue, as it was ------------------------------
def _old_audit_one(path):
    t0 = time.perf_counter()
    try:
        row = audit_one(path)
        return path, row.seconds, ""
    except GraphShapeError as e:
        return path, time.perf_counter() - t0, str(e).splitlines()[0]
    except Exception as e:  # noqa: BLE001  as the old audit_many did: a row, not a crash
        return path, time.perf_counter() - t0, f"internal error: {type(e).__name__}"


def _execute(path):
    """The new audit's per-model work (task.execute), without the sandbox around it."""
    t0 = time.perf_counter()
    rec = execute(_task(path)["request"])
    return path, time.perf_counter() - t0, rec.get("error", "")


def old_pool(paths: list, jobs: int, warm_up: str, work=_old_audit_one) -> dict:
    ctx = multiprocessing.get_context("spawn")
    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        # the spawned workers import graphshape with their first task: start-up, as the
        # sandbox servers' start is for the new audit (a model outside the registry)
        list(pool.map(work, [warm_up] * (2 * jobs)))
        started = time.perf_counter() - t0
        t1 = time.perf_counter()
        rows = list(pool.map(work, paths))
        seconds = time.perf_counter() - t1
    return {"seconds": seconds, "start_s": started, "models": len(rows),
            "errors": sum(1 for r in rows if r[2])}


# ---- the new audit ---------------------------------------------------------------------------
def night(paths: list, db: str, options: AuditOptions, jobs: int) -> dict:
    """One audit: jobs 0 in process, else a LocalCluster of ``jobs`` workers; the sandbox
    servers are started before the clock starts (start_s), as the pool's workers are."""
    t0 = time.perf_counter()
    ex = SerialExecutor() if jobs == 0 else connect(ClusterOptions(jobs=jobs))
    if jobs == 0:
        prestart()
    else:
        ex.start()
        ex.client.run(prestart)
    started = time.perf_counter() - t0
    try:
        with Store(db) as store:
            t1 = time.perf_counter()
            res = audit_registry(paths, store, options, ex)
            seconds = time.perf_counter() - t1
    finally:
        t2 = time.perf_counter()
        ex.close()
        close_all()
        closing = time.perf_counter() - t2
    rows = res.rows
    task = [r.seconds for r in rows if not r.reused]
    return {"seconds": seconds, "start_s": started, "close_s": closing, "models": len(rows),
            "analysed": sum(not r.reused for r in rows), "reused": res.reused,
            "status": _count(r.status for r in rows),
            "disagreeing_models": sum(bool(r.disagreements) for r in rows),
            "task_s_mean": statistics.mean(task) if task else 0.0,
            "task_s_max": max(task) if task else 0.0,
            "slowest": max(rows, key=lambda r: r.seconds).path if rows else None}


def _task(path: str) -> dict:
    """The task the audit submits for a model without verification (nightly._Night)."""
    return {"request": {"kind": "model", "path": path, "display": path, "dims": [],
                        "input_shapes": [], "contract": None, "split_after": None,
                        "verify": None},
            "timeout": 600.0, "memory_limit": 4 << 30}


def in_process(paths: list, warm_up: str) -> dict:
    """task.execute for every model in this process, one after another (no sandbox)."""
    _execute(warm_up)
    t = time.perf_counter()
    rows = [_execute(p) for p in paths]
    return {"seconds": time.perf_counter() - t, "start_s": 0.0, "models": len(rows),
            "errors": sum(1 for r in rows if r[2])}


def executor_overhead(paths: list, rounds: int = 3) -> dict:
    """The same tasks in process and on one Dask worker, as the audit submits them (models
    without verification may go several to a task) and one task per model; both executors
    started first and their rounds taken in turn, so that each sees the same load on a
    shared machine; the best of ``rounds`` each, and the median of the paired differences."""
    times: dict = {"serial": [], "dask": [], "dask_one_task_per_model": []}
    ex = SerialExecutor()
    prestart()
    dx = connect(ClusterOptions(jobs=1))
    try:
        dx.start()
        dx.client.run(prestart)
        for i, p in enumerate(paths[:3]):  # both sandboxes warm
            ex.submit(f"warm-{i}", _task(p))
            ex.collect(True)
            dx.submit(f"warm-{i}", _task(p))
            while dx.busy():
                dx.collect(True)
        for r in range(rounds):
            for mode, run in (("serial", ex), ("dask", dx), ("dask_one_task_per_model", dx)):
                batchable = mode == "dask"
                t = time.perf_counter()
                for i, p in enumerate(paths):  # as the audit: submit, collect what is done
                    run.submit(f"overhead-{mode}-{r}-{i}", _task(p), 0, batchable)
                    run.collect(False)
                while run.busy():
                    run.collect(True)
                times[mode].append(time.perf_counter() - t)
    finally:
        dx.close()
        ex.close()
        close_all()
    n = len(paths)
    per = min(times["serial"]) / n
    out = {"models": n, "rounds_serial_s": times["serial"],
           "rounds_dask_1_worker_s": times["dask"],
           "rounds_dask_1_worker_one_task_per_model_s": times["dask_one_task_per_model"],
           "serial_per_model_s": per}
    for mode, name in (("dask", "dask_overhead_per_model_s"),
                       ("dask_one_task_per_model", "dask_overhead_one_task_per_model_s")):
        extra = min(times[mode]) / n - per
        out[name] = extra
        out[name[:-2] + "_paired_median_s"] = statistics.median(
            (a - b) / n for a, b in zip(times[mode], times["serial"]))
    out["overhead_fraction"] = out["dask_overhead_per_model_s"] / per if per else None
    return out


def part_costs(db: str, run: int, corpus_dir: str) -> dict:
    """Mean and max seconds per model of one run, corpus files and fuzz graphs apart."""
    with Store(db, readonly=True) as store:
        rows = [r for r in store.rows(run) if not r.reused]
    out = {}
    for part, keep in (("corpus", lambda r: r.path.startswith(corpus_dir)),
                       ("fuzz", lambda r: not r.path.startswith(corpus_dir))):
        secs = [r.seconds for r in rows if keep(r)]
        out[part] = {"models": len(secs), "mean_s": statistics.mean(secs) if secs else 0.0,
                     "max_s": max(secs) if secs else 0.0}
    return out


def _count(xs) -> dict:
    out: dict = {}
    for x in xs:
        out[x] = out.get(x, 0) + 1
    return out


def store_costs(db: str) -> dict:
    """Seconds per row written (a run recorded again, row by row) and bytes per row."""
    with Store(db) as store:
        run = store.runs()[-1].id
        rows = store.rows(run)
        new = store.begin_run(["bench"], {}, "bench", "bench")
        results = store.db.execute("SELECT id FROM results").fetchall()
        t = time.perf_counter()
        for r, (rid,) in zip(rows, results):
            store.reuse(new, r.path + "#again", r.content_hash, rid)
        per_reuse = (time.perf_counter() - t) / max(1, len(rows))
        n_results = store.db.execute("SELECT count(*) FROM results").fetchone()[0]
    size = os.path.getsize(db) + (os.path.getsize(db + "-wal") if os.path.exists(db + "-wal")
                                  else 0)
    return {"row_write_s": per_reuse, "results": n_results,
            "bytes_per_result": size / max(1, n_results)}


def per_hour_per_core(models: int, seconds: float, workers: int) -> float:
    return models / seconds * 3600 / workers if seconds > 0 else 0.0


def machine() -> dict:
    cpu, mem = cpu_and_memory()
    versions = {}
    for mod in ("dask", "distributed", "onnxruntime", "onnx"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem,
            "os": platform.platform(), "python": platform.python_version(),
            "load_avg_start": list(os.getloadavg()), "versions": versions}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fuzz", type=int, default=180)
    ap.add_argument("--names", type=int, default=3)
    ap.add_argument("--corpus", nargs="*", default=CORPUS)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=DEFAULT_JSON)
    args = ap.parse_args(argv)
    logging.getLogger("distributed").setLevel(logging.ERROR)

    info = {"machine": machine()}
    reg, corpus_dir, fuzz_dir, warm_up = build_registry(args.corpus, args.names, args.fuzz)
    files = find_models([reg])
    corpus_files, fuzz_files = find_models([corpus_dir]), find_models([fuzz_dir])
    info["registry"] = {"files": len(files), "corpus_files": len(corpus_files),
                        "fuzz_graphs": len(fuzz_files), "corpus": args.corpus,
                        "names": args.names}
    print(f"registry: {len(files)} files ({len(corpus_files)} corpus, {len(fuzz_files)} "
          f"fuzz graphs) on {info['machine']['cpu']}, {info['machine']['cores']} cores")
    j = args.jobs
    dbs = os.path.join(WORK, "stores")
    shutil.rmtree(dbs, ignore_errors=True)
    os.makedirs(dbs)
    plain = AuditOptions(memory_limit=4 << 30)
    checked = AuditOptions(verify=True, memory_limit=4 << 30, timeout=600)
    figures: dict = {}

    def show(name, fig, workers):
        fig["per_hour_per_core"] = per_hour_per_core(fig["models"] if "analysed" not in fig
                                                     else fig["analysed"], fig["seconds"],
                                                     workers)
        fig["load_avg_1min_after"] = os.getloadavg()[0]  # the machine is shared
        figures[name] = fig
        print(f"  {name:<34} {fig['seconds']:8.1f} s  start {fig['start_s']:5.1f} s  "
              f"{fig['per_hour_per_core']:9.0f} models/h/core  load {os.getloadavg()[0]:4.1f}"
              f"  {fig.get('status', '')}")

    def best(run):
        figs = [run(k) for k in range(args.rounds)]
        out = min(figs, key=lambda f: f["seconds"])
        out["rounds_s"] = [f["seconds"] for f in figs]
        return out

    again = AuditOptions(memory_limit=4 << 30, force=True)
    print(f"without verification (best of {args.rounds}):")
    show("serial", best(lambda k: night([reg], os.path.join(dbs, "serial.sqlite"),
                                        again if k else plain, 0)), 1)
    show(f"dask_j{j}", best(lambda k: night([reg], os.path.join(dbs, "dask.sqlite"),
                                            again if k else plain, j)), j)
    show(f"old_pool_j{j}", best(lambda k: old_pool(files, j, warm_up)), j)
    show(f"pool_j{j}_new_work", best(lambda k: old_pool(files, j, warm_up, _execute)), j)
    show("serial_new_work_no_sandbox", best(lambda k: in_process(files, warm_up)), 1)
    print("second night (the same registry into the same store):")
    show(f"second_night_dask_j{j}", night([reg], os.path.join(dbs, "dask.sqlite"), plain, j), j)
    show("second_night_serial", night([reg], os.path.join(dbs, "serial.sqlite"), plain, 0), 1)
    print("Dask's overhead per model (the same tasks on one worker against in process):")
    for part, paths in (("corpus", corpus_files), ("fuzz", fuzz_files)):
        o = figures[f"overhead_{part}"] = executor_overhead(paths, args.rounds)
        per, extra = o["serial_per_model_s"], o["dask_overhead_per_model_s"]
        single = o["dask_overhead_one_task_per_model_s"]
        print(f"  {part:<8} in process {per * 1000:7.1f} ms/model, Dask {extra * 1000:+6.1f} "
              f"ms/model ({100 * extra / per:+.1f}%; one task per model {single * 1000:+6.1f} "
              f"ms, {100 * single / per:+.1f}%)")
    if not args.no_verify:
        print("with --verify:")
        show("serial_verify", night([reg], os.path.join(dbs, "v-serial.sqlite"), checked, 0), 1)
        show(f"dask_j{j}_verify", night([reg], os.path.join(dbs, "v-dask.sqlite"), checked, j),
             j)
        show(f"second_night_dask_j{j}_verify",
             night([reg], os.path.join(dbs, "v-dask.sqlite"), checked, j), j)
    measured = os.path.join(dbs, "v-serial.sqlite" if not args.no_verify else "serial.sqlite")
    figures["per_model"] = part_costs(measured, 1, corpus_dir)
    costs = store_costs(measured)
    figures["store"] = costs
    info["figures"] = figures
    info["fleet_night"] = paper_night(figures, costs, j, args.no_verify)
    info["machine"]["load_avg_end"] = list(os.getloadavg())
    print(json.dumps(info["fleet_night"], indent=2))
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(info, f, indent=1, default=str)
    print(f"written: {os.path.relpath(args.json, ROOT)}")
    return 0


def paper_night(fig: dict, costs: dict, jobs: int, no_verify: bool) -> dict:
    """The 10,000-model night from the measured costs per model: this registry's mix, and
    a registry of corpus-sized models only (the costlier, and the likelier)."""
    tag = "" if no_verify else "_verify"
    serial, dask = fig["serial" + tag], fig[f"dask_j{jobs}" + tag]
    efficiency = min(1.0, (serial["seconds"] / dask["seconds"]) / jobs)
    overhead = max(fig["overhead_corpus"]["dask_overhead_per_model_s"],
                   fig["overhead_fuzz"]["dask_overhead_per_model_s"], 0.0)
    second = fig[f"second_night_dask_j{jobs}" + tag]
    out = {"models": FLEET, "hours": NIGHT_HOURS, "parallel_efficiency": efficiency,
           "scheduler_seconds": FLEET * overhead,
           "store_seconds": FLEET * costs["row_write_s"],
           "store_gib_per_changed_night": FLEET * costs["bytes_per_result"] / 2 ** 30,
           "second_night_seconds": second["seconds"] * FLEET / second["models"],
           "longest_model_s": serial["task_s_max"], "longest_model": serial["slowest"]}
    mixes = {"this_registry": serial["seconds"] / serial["analysed"],
             "corpus_models": fig["per_model"]["corpus"]["mean_s"]}
    for mix, per_model in mixes.items():
        core_seconds = FLEET * per_model / efficiency
        out[mix] = {"core_seconds_per_model": per_model, "core_hours": core_seconds / 3600,
                    "cores_for_8h": math.ceil(core_seconds / (NIGHT_HOURS * 3600))}
    return out


if __name__ == "__main__":
    sys.exit(main())
