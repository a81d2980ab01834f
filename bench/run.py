"""Benchmarks (not tests), measured the way users pay: the first analysis in a fresh process.

    .venv/bin/python bench/run.py [--models NAME ...] [--chains N ...] [--json PATH]
                                  [--repeats 3] [--verify-models NAME ...] [--quick]

For every corpus model (models/registry.py, built on demand with `python -m models build
NAME` into .cache/models), for Conv/Relu chains of 1,000 to 10,000 nodes and for a 32-layer
Llama-style decoder from a transformers config via dynamo (models/hf.build_llama_decoder,
--llama-layers):

* graphshape FIRST: `python -c` in a fresh process times `import graphshape`, then
  graphshape.analyze(path); FIRST is the two together (what a CLI call, a CI step or an
  audit worker's first model pays, less the interpreter's own start and exit, which are the
  same for every tool), median of --repeats fresh processes. CALL is the analysis alone,
  after the import: not comparable across tools (graphshape imports sympy and isl on the
  first call, onnxruntime's tool imports sympy with itself), so it is kept for reference.
  The whole process wall (interpreter start, imports, analysis, exit) and the process's
  peak memory (VmHWM) are measured too.
* graphshape WARM: the same call repeated in one process (expression caches warm).
* the peers, each in fresh processes the same way (its imports, then the call from the
  file's path to its result, load included, as graphshape.analyze includes its load):
  - onnxruntime's symbolic_shape_infer (SymbolicShapeInference.infer_shapes, auto_merge=True);
  - onnx-shape-inference 0.4.0 (onnx_ir.load + infer_symbolic_shapes, default policy);
  - onnx's C++ infer_shapes(data_prop=True), no symbolic arithmetic: the physical anchor.
  A peer whose first cold call takes over --slow-s seconds gets one process, not three (the
  table says n=1).
* FIRST ratios graphshape / peer (the goal: at most 0.5 against ort and osi).

Then `verify` (edge points; onnxruntime's worker started before the analysis, as the
command does; timed from that start to the last verdict, in this process; the command's
whole wall in a fresh process is kept beside it) against a brute-force onnxruntime sweep
over 1..1024 per symbol on --verify-models: each symbol is swept with the others at the
domain's smallest valid point, in full (k x 1024 runs) when a sampled sweep says that fits
--sweep-cap-s, else its time is extrapolated (per-symbol: k x 1024 runs; grid: 1024^k runs)
from the mean onnxruntime run time of the sampled points. The table says which figures are
extrapolated. Verdicts are compared on every point actually run.

Last, the CLI start: `graphshape check toy.onnx --size H=256 --size W=256`, wall, median of 3.

Figures go to stdout as a table (with the machine it ran on) and to bench/results/bench.json.
Bench-only dependencies are in bench/requirements.txt; a missing one is installed with the
pip command printed first (or reported, when pip cannot reach it).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
REQUIREMENTS = os.path.join(ROOT, "bench", "requirements.txt")
DEFAULT_JSON = os.path.join(ROOT, "bench", "results", "bench.json")
PY = sys.executable
OSI_VERSION = "0.4.0"
PEER_TIMEOUT_S = 60  # a peer still running then is reported as "timeout" (fasterrcnn)

# -- fresh-process probes ---------------------------------------------------------------------
# Each probe runs as `python -c CODE PATH WARM`; the tool is imported before the clock starts.
_PROBE = r'''
import json, sys, time
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
PATH, WARM = sys.argv[1], int(sys.argv[2])

def call():
{call}

res = {{"import_s": t1 - t0, "cold_s": None, "warm_s": [], "error": None, "info": {{}}}}
try:
    t = time.perf_counter()
    out = call()
    res["cold_s"] = time.perf_counter() - t
    res["info"] = info(out)
    for _ in range(WARM):
        t = time.perf_counter()
        call()
        res["warm_s"].append(time.perf_counter() - t)
except Exception as e:  # the peer's failure is a row in the table, not a crash
    res["error"] = type(e).__name__ + ": " + " ".join(str(e).split())[:160]
try:  # this process's own peak (ru_maxrss would also count the parent's pages before exec)
    with open("/proc/self/status") as f:
        res["peak_mb"] = next(int(l.split()[1]) // 1024 for l in f if l.startswith("VmHWM:"))
except (OSError, StopIteration, ValueError):
    res["peak_mb"] = None
sys.stdout.flush()
print("BENCH_JSON " + json.dumps(res))
'''

PROBES = {
    "graphshape": (
        "import graphshape",
        "    return graphshape.analyze(PATH)",
        "def info(a):\n"
        "    d = {'exact': a.domain.exact, 'nodes': a.propagation.node_count,\n"
        "         'constraints': len(a.propagation.constraints),\n"
        "         'unproven': len(a.propagation.unproven),\n"
        "         'phases': {k: round(v, 4) for k, v in getattr(a, 'timings', {}).items()}}\n"
        "    st = getattr(a, 'stats', None)\n"
        "    if isinstance(st, dict):\n"
        "        d['stats'] = st\n"
        "    return d\n"),
    "ort_symbolic": (
        "import onnx\nfrom onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference",
        "    return SymbolicShapeInference.infer_shapes(onnx.load(PATH), auto_merge=True)",
        "def info(m):\n    return {}\n"),
    "onnx_shape_inference": (
        "import onnx_ir as ir\nfrom onnx_shape_inference import infer_symbolic_shapes",
        "    return infer_symbolic_shapes(ir.load(PATH))",
        "def info(m):\n    return {}\n"),
    "onnx_cpp": (
        "import onnx",
        "    return onnx.shape_inference.infer_shapes(onnx.load(PATH), data_prop=True)",
        "def info(m):\n    return {}\n"),
}
PEERS = ["ort_symbolic", "onnx_shape_inference", "onnx_cpp"]
SHORT = {"graphshape": "gs", "ort_symbolic": "ort", "onnx_shape_inference": "osi",
         "onnx_cpp": "onnx"}


def probe_code(tool: str) -> str:
    imports, call, info = PROBES[tool]
    return _PROBE.format(imports=imports, call=call).replace(
        "res = {", info + "\nres = {", 1)


def run_probe(tool: str, path: str, warm: int = 0, timeout: float = 300) -> dict:
    """One fresh process: its own timings plus the whole process wall seen from here."""
    t = time.perf_counter()
    try:
        p = subprocess.run([PY, "-c", probe_code(tool), path, str(warm)], capture_output=True,
                           text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"cold_s": None, "error": f"timeout after {timeout:.0f} s",
                "process_s": time.perf_counter() - t}
    wall = time.perf_counter() - t
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("BENCH_JSON "):
            res = json.loads(line[len("BENCH_JSON "):])
            res["process_s"] = wall
            return res
    tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
    return {"cold_s": None, "error": f"exit {p.returncode}: {tail[:160]}", "process_s": wall}


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def measure(name: str, path: str, repeats: int, warm: int, slow_s: float, tools) -> dict:
    """Cold runs round-robin across the tools (load drift hits them alike)."""
    runs = {t: [] for t in tools}
    for r in range(repeats):
        for tool in tools:
            if r > 0 and tool != "graphshape":
                first = runs[tool][0]
                if first.get("cold_s") is None or first["cold_s"] > slow_s:
                    continue  # failed or slow peer: one process is enough
            runs[tool].append(run_probe(tool, path, warm if (tool == "graphshape" and r == 0)
                                        else 0, timeout=300 if tool == "graphshape" else
                                        PEER_TIMEOUT_S))
    row = {"model": name, "path": os.path.relpath(path, ROOT)}
    for tool in tools:
        rs = runs[tool]
        cold = _median([x.get("cold_s") for x in rs])
        first = [x["import_s"] + x["cold_s"] if x.get("cold_s") is not None and
                 x.get("import_s") is not None else None for x in rs]
        d = {"first_s": _median(first), "first_runs_s": first,
             "cold_s": cold, "cold_runs_s": [x.get("cold_s") for x in rs],
             "process_s": _median([x.get("process_s") for x in rs]),
             "import_s": _median([x.get("import_s") for x in rs]), "n": len(rs),
             "peak_mb": max((x.get("peak_mb") or 0 for x in rs), default=None) or None}
        errs = [x["error"] for x in rs if x.get("error")]
        if errs:
            d["error"] = errs[0]
        if tool == "graphshape":
            d["warm_s"] = _median(rs[0].get("warm_s") or [None])
            d.update(rs[0].get("info") or {})
        row[tool] = d
    gs, gs_call = row["graphshape"]["first_s"], row["graphshape"]["cold_s"]
    for peer in tools:
        if peer == "graphshape":
            continue
        pf, pc = row[peer]["first_s"], row[peer]["cold_s"]
        row[peer]["ratio"] = gs / pf if gs is not None and pf else None
        row[peer]["call_ratio"] = gs_call / pc if gs_call is not None and pc else None
    row["nodes"] = row["graphshape"].get("nodes") or _node_count(path)
    return row


def _node_count(path) -> int:
    from graphshape.loader.wire import load_proto

    return len(load_proto(path)[0].graph.node)


# -- models -----------------------------------------------------------------------------------
def chain(n_nodes: int, cache: str) -> str:
    """A chain of Conv(3x3, pad 1) + Relu pairs on [1, 4, H, W], a MaxPool(1x1) every 50
    nodes, ir_version 10."""
    path = os.path.join(cache, f"chain_{n_nodes}.onnx")
    if os.path.exists(path):
        return path
    from onnx import TensorProto, helper, save

    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 4, 3, 3], [0.01] * 144)
    nodes, cur = [], "x"
    for i in range(n_nodes // 2):
        nodes.append(helper.make_node("Conv", [cur, "w"], [f"c{i}"], pads=[1, 1, 1, 1]))
        nxt = f"r{i}"
        if i % 25 == 24:
            nodes.append(helper.make_node("MaxPool", [f"c{i}"], [nxt], kernel_shape=[1, 1]))
        else:
            nodes.append(helper.make_node("Relu", [f"c{i}"], [nxt]))
        cur = nxt
    g = helper.make_graph(nodes, "chain",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                         [1, 4, "H", "W"])],
                          [helper.make_tensor_value_info(cur, TensorProto.FLOAT, None)], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 10
    os.makedirs(cache, exist_ok=True)
    tmp = path + f".tmp{os.getpid()}"
    save(m, tmp)
    os.replace(tmp, path)
    return path


def build_model(name: str, cache: str) -> str | None:
    path = os.path.join(cache, f"{name}.onnx")
    if os.path.exists(path):
        return path
    print(f"building {name}: {PY} -m models build {name}", file=sys.stderr, flush=True)
    p = subprocess.run([PY, "-m", "models", "build", name], capture_output=True, text=True,
                       cwd=ROOT)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        print(f"{name}: not built ({tail[:200]})", file=sys.stderr)
        return None
    return p.stdout.strip().splitlines()[-1]


# -- verify vs a brute-force sweep ------------------------------------------------------------
def _spread(k: int, lo: int = 1, hi: int = 1024) -> list:
    return sorted({round(lo + (hi - lo) * i / (k - 1)) for i in range(k)})


def verify_vs_sweep(name, path, per_symbol: int, cap_s: float) -> dict:
    import graphshape
    from graphshape.runtime.runner import prestart
    from graphshape.runtime.verify import verify

    row = {"model": name}
    t = time.perf_counter()
    early = prestart(path)  # as `graphshape verify` does: onnxruntime starts meanwhile
    a = graphshape.analyze(path)
    rep = verify(a, worker=early)
    row["verify_s"] = time.perf_counter() - t  # analysis + edge-point verification, wall
    exe = os.path.join(os.path.dirname(PY), "graphshape")
    t = time.perf_counter()
    subprocess.run([exe, "verify", path, "--json"], capture_output=True, check=False)
    row["verify_cli_s"] = time.perf_counter() - t  # the command, fresh process, imports too
    row["verify_points"] = len(rep.verdicts)
    # onnxruntime's run time within verify_s; the rest is the analysis, the worker's start
    # (onnxruntime's import, the session) and the parent's share
    row["verify_runs_s"] = sum(v.seconds or 0 for v in rep.verdicts)
    row["verify_compared"] = len(rep.compared)
    row["verify_ok"] = rep.ok
    names = list(a.domain.names)
    row["symbols"] = names
    if not names:
        row["note"] = "no symbolic size: nothing to sweep"
        return row
    base = a.domain.smallest_valid() or {}
    base = {n: int(base.get(n, 1)) for n in names}
    row["base"] = base
    pts = []
    for s in names:
        for v in _spread(per_symbol):
            p = dict(base)
            p[s] = v
            if p not in pts:
                pts.append(p)
    budget = 8 << 30
    t = time.perf_counter()
    sweep = verify(a, points=pts, memory_budget=budget)
    sampled_wall = time.perf_counter() - t
    ran = [v for v in sweep.verdicts if v.observed in ("valid", "invalid")]
    mean_run = statistics.mean(v.seconds for v in ran) if ran else None
    full = False
    if mean_run is not None and mean_run * 1024 * len(names) <= cap_s:
        # every size 1..1024 of each symbol, the others held: measured, not extrapolated
        rest = []
        for s in names:
            for v in range(1, 1025):
                p = dict(base)
                p[s] = v
                if p not in pts and p not in rest:
                    rest.append(p)
        t = time.perf_counter()
        more = verify(a, points=rest, memory_budget=budget)
        sampled_wall += time.perf_counter() - t
        sweep.verdicts.extend(more.verdicts)
        ran = [v for v in sweep.verdicts if v.observed in ("valid", "invalid")]
        full = True
    compared = [v for v in sweep.verdicts if v.agree is not None]
    bad = [v for v in compared if v.agree is False]
    row.update({
        "sweep_points_run": len(ran), "sweep_compared": len(compared),
        "sweep_disagree": len(bad),
        "sweep_skipped": len(sweep.verdicts) - len(ran),
        "sweep_disagreements": [{"sizes": v.sizes, "predicted": v.predicted,
                                 "observed": v.observed, "detail": v.detail[:200]}
                                for v in bad[:5]],
        "same_verdicts": not bad,
        "sweep_measured_wall_s": sampled_wall,
        "mean_ort_run_s": mean_run,
        "sweep_full": full})
    if full:
        row["sweep_1d_s"] = sum(v.seconds for v in ran)
        row["sweep_1d_how"] = ("measured: every size 1..1024 of each symbol run, the others "
                               "held (sum of onnxruntime run times)")
    elif mean_run is not None:
        row["sweep_1d_s"] = mean_run * 1024 * len(names)
        row["sweep_1d_how"] = (f"extrapolated: {len(names)} x 1024 runs x mean run time of "
                               f"{len(ran)} sampled sizes (others at the smallest valid point)")
    if mean_run is not None and len(names) > 1:
        row["sweep_grid_s"] = mean_run * 1024 ** len(names)
        row["sweep_grid_how"] = f"extrapolated: 1024^{len(names)} runs x the same mean"
    if row.get("sweep_1d_s"):
        row["ratio_1d"] = row["sweep_1d_s"] / row["verify_s"]
    if row.get("sweep_grid_s"):
        row["ratio_grid"] = row["sweep_grid_s"] / row["verify_s"]
    return row


# -- the CLI start ----------------------------------------------------------------------------
def cli_start(toy: str, repeats: int = 3) -> dict:
    exe = os.path.join(os.path.dirname(PY), "graphshape")
    args = ["check", toy, "--size", "H=256", "--size", "W=256"]
    cmd = [exe] + args if os.path.exists(exe) else [PY, "-m", "graphshape.cli"] + args
    walls, rc, out = [], None, ""
    for _ in range(repeats):
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        walls.append(time.perf_counter() - t)
        rc, out = p.returncode, (p.stdout.strip() or p.stderr.strip())[:200]
    return {"command": "graphshape check " + os.path.relpath(toy, ROOT) +
            " --size H=256 --size W=256", "wall_s": statistics.median(walls),
            "walls_s": walls, "rc": rc, "output": out, "target_s": 0.35}


# -- machine and setup ------------------------------------------------------------------------
def cpu_and_memory() -> tuple:
    """The processor's name and the memory in GiB (None where /proc cannot say)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = round(int(f.readline().split()[1]) / 2 ** 20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return cpu, mem


def machine() -> dict:
    cpu, mem = cpu_and_memory()
    vers = {}
    for mod in ("onnx", "onnxruntime", "onnx_ir", "onnx_shape_inference", "sympy", "islpy",
                "numpy", "google.protobuf"):
        try:
            from importlib.metadata import version

            dist = {"onnxruntime": "onnxruntime-gpu", "onnx_ir": "onnx-ir",
                    "onnx_shape_inference": "onnx-shape-inference",
                    "google.protobuf": "protobuf"}.get(mod, mod)
            try:
                vers[mod] = version(dist)
            except Exception:  # noqa: BLE001
                vers[mod] = version(mod)
        except Exception:  # noqa: BLE001
            vers[mod] = None
    return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem,
            "os": platform.platform(), "python": platform.python_version(),
            "load_avg_start": os.getloadavg(), "versions": vers}


def ensure_requirements() -> list:
    """The peers bench/requirements.txt names; installs a missing one (printing the pip
    command). Returns the peers that cannot run."""
    missing = []
    try:
        import onnx_shape_inference

        if onnx_shape_inference.__version__ != OSI_VERSION:
            raise ImportError(onnx_shape_inference.__version__)
    except ImportError:
        cmd = [PY, "-m", "pip", "install", "-q", "-r", REQUIREMENTS]
        print("onnx-shape-inference==0.4.0 missing; installing: " + " ".join(cmd),
              file=sys.stderr, flush=True)
        if subprocess.run(cmd).returncode != 0:
            print("  pip failed: onnx_shape_inference is left out of this run",
                  file=sys.stderr)
            missing.append("onnx_shape_inference")
    return missing


# -- output -----------------------------------------------------------------------------------
def _f(x, nd=3):
    return "-" if x is None else f"{x:.{nd}f}"


def print_table(result: dict) -> None:
    m = result["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, "
          f"Python {m['python']}; load average {m['load_avg_start'][0]:.1f} at start, "
          f"{result['load_avg_end'][0]:.1f} at end")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    print(f"first = import + first call in a fresh process (what a CLI call or a worker's first "
          f"model pays, less the interpreter's own start), median of up to "
          f"{result['settings']['repeats']} processes (n = how many); call = the first call "
          "after the import; warm = the call again; peak = the process's peak memory; seconds")
    hdr = (f"{'model':<24}{'nodes':>6} {'gs first':>9}{'call':>7}{'warm':>7}{'peak MB':>8}"
           f" {'ort':>7}{'osi':>7}{'C++':>7}  {'gs/ort':>6}{'gs/osi':>7}{'gs/C++':>7}"
           f"  {'n ort/osi/C++':>13}")
    print(hdr)
    print("-" * len(hdr))
    notes = []
    for r in result["rows"]:
        g = r["graphshape"]
        cells = []
        for p in PEERS:
            d = r.get(p) or {}
            cells.append(_f(d.get("first_s"), 2) if d.get("first_s") is not None else "fail")
            if d.get("error"):
                notes.append(f"{r['model']}: {p}: {d['error']}")
        ratios = [_f((r.get(p) or {}).get("ratio"), 2) for p in PEERS]
        ns = "/".join(str((r.get(p) or {}).get("n", 0)) for p in PEERS)
        print(f"{r['model']:<24}{r['nodes']:>6} {_f(g.get('first_s'), 2):>9}"
              f"{_f(g['cold_s'], 2):>7}{_f(g.get('warm_s'), 3):>7}{g.get('peak_mb') or '-':>8} "
              f"{cells[0]:>7}{cells[1]:>7}{cells[2]:>7}  "
              f"{ratios[0]:>6}{ratios[1]:>7}{ratios[2]:>7}  {ns:>13}")
        if g.get("error"):
            notes.append(f"{r['model']}: graphshape: {g['error']}")
    over = [r["model"] for r in result["rows"] if any(
        ((r.get(p) or {}).get("ratio") or 0) > 0.5 for p in ("ort_symbolic",
                                                              "onnx_shape_inference"))]
    print(f"first-call ratio above 0.5 against ort or osi: {', '.join(over) or 'none'}")
    slow = [r["model"] for r in result["rows"] if (r["graphshape"].get("first_s") or 0) > 2]
    print(f"graphshape's first call above 2 s: {', '.join(slow) or 'none'}")
    big = [r["model"] for r in result["rows"] if (r["graphshape"].get("peak_mb") or 0) > 300]
    print(f"graphshape's peak above 300 MB: {', '.join(big) or 'none'}")
    for n in notes:
        print("  note: " + n)
    if result.get("verify"):
        print()
        print("verify (analysis + edge points, wall; cmd: `graphshape verify`, fresh process) vs "
              "brute-force onnxruntime sweep 1..1024 per symbol")
        print(f"{'model':<24}{'syms':>5}{'verify s':>9}{'runs s':>7}{'cmd s':>7}{'pts':>5}"
              f"{'sweep 1-D s':>12}{'x faster':>9}{'grid s':>10}{'x faster':>10}"
              "  same verdicts (compared)")
        for v in result["verify"]:
            if "sweep_1d_s" not in v:
                print(f"{v['model']:<24}{len(v.get('symbols', [])):>5}{_f(v.get('verify_s')):>9}"
                      f"{_f(v.get('verify_runs_s')):>7}{_f(v.get('verify_cli_s')):>7}"
                      f"{v.get('verify_points', 0):>5}  {v.get('note', v.get('error', '-'))}")
                continue
            grid = v.get("sweep_grid_s")
            print(f"{v['model']:<24}{len(v['symbols']):>5}{v['verify_s']:>9.2f}"
                  f"{_f(v.get('verify_runs_s')):>7}{_f(v.get('verify_cli_s')):>7}"
                  f"{v['verify_points']:>5}{v['sweep_1d_s']:>12.1f}{v['ratio_1d']:>9.0f}"
                  f"{(format(grid, '.2e') if grid else '-'):>10}"
                  f"{(format(v['ratio_grid'], '.1e') if grid else '-'):>10}  "
                  f"{'yes' if v['same_verdicts'] else 'NO'} ({v['sweep_compared']}"
                  f"{', verify ' + ('ok' if v['verify_ok'] else 'DISAGREES')})")
            print(f"{'':<29}1-D: {v['sweep_1d_how']}" +
                  (f"; grid: {v['sweep_grid_how']}" if grid else ""))
    c = result.get("cli")
    if c:
        print()
        print(f"CLI start: `{c['command']}`: {c['wall_s']:.2f} s wall (median of "
              f"{len(c['walls_s'])}; target {c['target_s']} s), exit {c['rc']}: {c['output']}")
    print(f"\nbench wall {result['bench_s']:.0f} s")


def main(argv=None) -> int:
    from models import registry

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", default=None, help="corpus models (default: all)")
    ap.add_argument("--chains", nargs="*", type=int, default=[1000, 3000, 5000, 10000])
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per tool")
    ap.add_argument("--warm", type=int, default=3, help="warm repeats in graphshape's first")
    ap.add_argument("--slow-s", type=float, default=1.0,
                    help="a peer whose first cold call takes longer runs once")
    ap.add_argument("--verify-models", nargs="*",
                    default=["toy", "reshape_head_ts", "fpn_ts", "unet_ts", "bert_tiny_ts",
                             "mobilenet_v3_small_ts"])
    ap.add_argument("--per-symbol", type=int, default=12, help="sampled sweep sizes a symbol")
    ap.add_argument("--sweep-cap-s", type=float, default=30.0,
                    help="a 1-D model is swept in full when that is estimated under this")
    ap.add_argument("--llama-layers", type=int, default=32,
                    help="a Llama-style decoder of this many layers via dynamo (0: none)")
    ap.add_argument("--quick", action="store_true", help="1 process per tool, no verify")
    ap.add_argument("--json", default=DEFAULT_JSON)
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.verify_models = 1, []
    t_start = time.perf_counter()
    # byte-compile graphshape as `pip install` does for the peers' packages (an editable
    # install compiles on first import, unless PYTHONDONTWRITEBYTECODE forbids it)
    compileall.compile_dir(os.path.join(ROOT, "graphshape"), quiet=1)
    missing = ensure_requirements()
    tools = ["graphshape"] + [p for p in PEERS if p not in missing]
    mach = machine()
    cache = registry.DEFAULT_CACHE
    names = args.models if args.models is not None else list(registry.BUILDERS)
    rows = []

    def save(**extra):  # after every row: a run cut short still leaves its figures
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"machine": mach, "rows": rows, "complete": False, **extra}, f,
                      indent=1, default=str)

    for name in names:
        path = build_model(name, cache)
        if path is None:
            continue
        rows.append(measure(name, path, args.repeats, args.warm, args.slow_s, tools))
        save()
        print(f"measured {name} ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr,
              flush=True)
    for n in args.chains:
        rows.append(measure(f"chain_{n}", chain(n, cache), args.repeats, args.warm,
                            args.slow_s, tools))
        save()
        print(f"measured chain_{n} ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr,
              flush=True)
    if args.llama_layers:
        from models import hf

        name = f"llama{args.llama_layers}_dynamo"
        rows.append(measure(name, hf.build_llama_decoder(cache, args.llama_layers),
                            args.repeats, args.warm, args.slow_s, tools))
        save()
        print(f"measured {name} ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr,
              flush=True)
    ver = []
    for name in args.verify_models:
        path = build_model(name, cache)
        if path is None:
            continue
        try:
            ver.append(verify_vs_sweep(name, path, args.per_symbol, args.sweep_cap_s))
        except Exception as e:  # noqa: BLE001  a failing model is a row, not a crash
            ver.append({"model": name, "error": f"{type(e).__name__}: {e}"[:200]})
        save(verify=ver)
        print(f"verified {name} ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr,
              flush=True)
    toy = build_model("toy", cache)
    cli = cli_start(toy) if toy else None
    result = {"machine": mach, "load_avg_end": os.getloadavg(),
              "settings": {"repeats": args.repeats, "warm": args.warm, "slow_s": args.slow_s,
                           "per_symbol": args.per_symbol, "sweep_cap_s": args.sweep_cap_s,
                           "tools_missing": missing},
              "rows": rows, "verify": ver, "cli": cli, "complete": True,
              "bench_s": time.perf_counter() - t_start}
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1, default=str)
    print_table(result)
    print(f"JSON: {os.path.relpath(args.json, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
