"""Differential fuzzer: seeded random conv/pool graphs, graphshape against onnxruntime.

``generate(seed)`` builds an ONNX model with 1-3 symbolic input dims (H, W, N or L; a batch
N that may be empty in some graphs, run from 0) from Conv / ConvTranspose / MaxPool /
AveragePool (random kernel, stride, padding, dilation, ceil_mode, auto_pad), TF 'same'
padded Convs (pads computed in float from the shape), Add / Concat skip connections between
branches of different
downsampling, Resize, Slice, and Flatten / Reshape / GlobalAveragePool + Gemm heads whose
fixed weights were traced at one size (so the head pins the sizes). ``fuzz_one(seed)``
analyses it, runs onnxruntime (in a child process, see verify.py) at every size 1..12 of
each symbolic axis, at the domain's edges and at random members and non-members, and
returns what disagreed; ``campaign(n)`` does that for n seeds over a few processes and
sums the figures (both in tests.oracles.fuzz_runner, shared with the second, independent
generator tests.oracles.fuzz_mixed).

Every disagreement on a proved answer is a graphshape bug; analyses that end 'unproven'
(an op without a rule, such as Resize today) are counted, and their 'invalid' verdicts
(proven even then) are still compared.

    python -m tests.oracles.fuzz_convpool --graphs 300 --seed 1 --jobs 2   (= fuzz_run --generator conv)
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.oracles import fuzz_runner as _run
from tests.oracles.fuzz_runner import MAX_EXTRA, CaseResult, Figures, pick_points  # noqa: F401  (API)

OPSET = 19  # AveragePool's dilations need 19
INT64_MAX = 2 ** 63 - 1


# ---- generation ------------------------------------------------------------------------

@dataclass
class _Val:
    name: str
    channels: int


class _Builder:
    def __init__(self, rng: random.Random, nsp: int):
        self.rng, self.nsp = rng, nsp
        self.nodes, self.inits, self.ops = [], [], []
        self._n = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def init(self, arr, prefix="c") -> str:
        n = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n

    def node(self, op, inputs, n_out=1, **attrs) -> list:
        outs = [self.name(op.lower() + "_") for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.name(op + "_n"),
                                           **attrs))
        self.ops.append(op + (f"{attrs}" if attrs else ""))
        return outs

    def weight(self, shape) -> str:
        w = np.random.default_rng(self.rng.randrange(1 << 30)).standard_normal(shape)
        return self.init((w * 0.3).astype(np.float32), "w")


def _window_attrs(rng, nsp, op):
    """kernel/stride/dilation/pads/auto_pad, per spatial axis."""
    k = [rng.randint(1, 5) for _ in range(nsp)]
    s = [rng.choice((1, 1, 2, 2, 3)) for _ in range(nsp)]
    d = [rng.choice((1, 1, 1, 2)) for _ in range(nsp)]
    a = {"kernel_shape": k}
    if any(x != 1 for x in s) or rng.random() < 0.3:
        a["strides"] = s
    if any(x != 1 for x in d) or rng.random() < 0.2:
        a["dilations"] = d
    ap = rng.choice(("NOTSET",) * 5 + ("VALID", "SAME_UPPER", "SAME_LOWER"))
    if op == "Conv" and ap.startswith("SAME") and "dilations" in a and rng.random() < 0.85:
        del a["dilations"]  # onnxruntime refuses it at every size: keep such graphs rare
    if ap != "NOTSET":
        a["auto_pad"] = ap
    else:
        pool = op in ("MaxPool", "AveragePool")
        hi = [(kk - 1) if pool else kk + 1 for kk in k]
        if rng.random() < 0.7:
            a["pads"] = [rng.randint(0, h) for h in hi] + [rng.randint(0, h) for h in hi]
    return a


def _conv(b: _Builder, x: _Val) -> _Val:
    rng = b.rng
    a = _window_attrs(rng, b.nsp, "Conv")
    cout = rng.randint(1, 4) if rng.random() < 0.92 else rng.choice((8, 16))  # NCHWc paths
    group = 1
    if x.channels > 1 and rng.random() < 0.25:
        group, cout = x.channels, x.channels
        a["group"] = group
    w = b.weight([cout, x.channels // group] + a["kernel_shape"])
    ins = [x.name, w]
    if rng.random() < 0.5:
        ins.append(b.init(np.zeros(cout, np.float32), "b"))
    if rng.random() < 0.3:
        del a["kernel_shape"]  # taken from the weight
    return _Val(b.node("Conv", ins, **a)[0], cout)


def _conv_transpose(b: _Builder, x: _Val) -> _Val:
    rng = b.rng
    nsp = b.nsp
    a = _window_attrs(rng, nsp, "ConvTranspose")
    a["kernel_shape"] = [min(k, 3) for k in a["kernel_shape"]]
    s = a.get("strides", [1] * nsp)
    d = a.get("dilations", [1] * nsp)
    if rng.random() < 0.4:
        a["output_padding"] = [rng.randint(0, max(ss, dd) - 1) for ss, dd in zip(s, d)]
    if "pads" in a:
        a["pads"] = [min(p, k - 1 if k > 1 else 0) for p, k in
                     zip(a["pads"], a["kernel_shape"] * 2)]
    cout = rng.randint(1, 3)
    w = b.weight([x.channels, cout] + a["kernel_shape"])
    return _Val(b.node("ConvTranspose", [x.name, w], **a)[0], cout)


def _pool(b: _Builder, x: _Val) -> _Val:
    rng = b.rng
    op = rng.choice(("MaxPool", "AveragePool"))
    a = _window_attrs(rng, b.nsp, op)
    if rng.random() < 0.35:
        a["ceil_mode"] = 1
    if op == "AveragePool" and rng.random() < 0.5:
        a["count_include_pad"] = 1
    return _Val(b.node(op, [x.name], **a)[0], x.channels)


def _merge(b: _Builder, x: _Val, y: _Val) -> _Val:
    rng = b.rng
    if (x.channels == y.channels or 1 in (x.channels, y.channels)) and rng.random() < 0.6:
        op = rng.choice(("Add", "Add", "Mul", "Sub"))
        return _Val(b.node(op, [x.name, y.name])[0], max(x.channels, y.channels))
    if x.channels == y.channels and rng.random() < 0.2:
        axis = rng.randint(2, 1 + b.nsp)  # along a spatial axis: the others must agree
        return _Val(b.node("Concat", [x.name, y.name], axis=axis)[0], x.channels)
    out = _Val(b.node("Concat", [x.name, y.name], axis=1)[0], x.channels + y.channels)
    if out.channels > 4:
        w = b.weight([2, out.channels] + [1] * b.nsp)
        out = _Val(b.node("Conv", [out.name, w])[0], 2)
    return out


def _resize(b: _Builder, x: _Val) -> _Val:
    rng = b.rng
    if rng.random() < 0.7:
        scales = b.init(np.array([1.0, 1.0] + [2.0] * b.nsp, np.float32), "sc")
        ins = [x.name, "", scales]
        a = {}
    else:
        sizes = b.init(np.array([rng.randint(4, 40) for _ in range(b.nsp)], np.int64), "sz")
        ins = [x.name, "", "", sizes]
        a = {"axes": list(range(2, 2 + b.nsp))}
    return _Val(b.node("Resize", ins, mode="nearest", **a)[0], x.channels)


def _slice(b: _Builder, x: _Val) -> _Val:
    rng = b.rng
    axis = rng.randint(2, 1 + b.nsp)
    step = rng.choice((1, 1, 1, 2, -1))
    if step > 0:
        start = rng.choice((0, 0, 1, 2, -3, -1))
        end = rng.choice((INT64_MAX, -1, -2, 5, 12, 1 << 31))
    else:
        start = rng.choice((-1, INT64_MAX, 3))
        end = rng.choice((-INT64_MAX, 0, -4))
    ins = [x.name, b.init(np.array([start], np.int64), "st"),
           b.init(np.array([end], np.int64), "en"), b.init(np.array([axis], np.int64), "ax")]
    if step != 1 or rng.random() < 0.3:
        ins.append(b.init(np.array([step], np.int64), "sp"))
    return _Val(b.node("Slice", ins)[0], x.channels)


def _tf_same_conv(b: _Builder, x: _Val, rng: random.Random) -> _Val:
    """TensorFlow 'same' padding computed in float from x.shape, as timm's Conv2dSame
    exports through the legacy exporter: pad = max((ceil(n / s) - 1)*s + (k - 1)*d + 1 -
    n, 0), half before (Cast of pad / 2), then Pad and a Conv with no padding of its own.
    Its own ``rng``: the other graphs of the tier keep their seeds' shapes."""
    f32 = TensorProto.FLOAT
    k = [rng.randint(1, 4) for _ in range(b.nsp)]
    st = [rng.choice((1, 2, 2, 3)) for _ in range(b.nsp)]
    dl = [rng.choice((1, 1, 2)) for _ in range(b.nsp)]

    def fconst(v):
        return b.init(np.array([float(v)], np.float32), "f")

    shape = b.node("Shape", [x.name])[0]
    before, after = [], []
    for i in range(b.nsp):
        n = b.node("Gather", [shape, b.init(np.array([2 + i], np.int64), "gi")], axis=0)[0]
        n = b.node("Cast", [n], to=f32)[0]
        c = b.node("Ceil", [b.node("Div", [n, fconst(st[i])])[0]])[0]
        need = b.node("Sub", [c, fconst(1)])[0]
        need = b.node("Add", [b.node("Mul", [need, fconst(st[i])])[0],
                              fconst((k[i] - 1) * dl[i] + 1)])[0]
        pad = b.node("Clip", [b.node("Sub", [need, n])[0],
                              b.init(np.array(0.0, np.float32), "z")])[0]
        half = b.node("Cast", [b.node("Div", [pad, fconst(2)])[0]], to=TensorProto.INT64)[0]
        before.append(half)
        after.append(b.node("Sub", [b.node("Cast", [pad], to=TensorProto.INT64)[0], half])[0])
    zero = b.init(np.array([0, 0], np.int64), "z2")
    pads = b.node("Concat", [zero] + before + [zero] + after, axis=0)[0]
    xp = b.node("Pad", [x.name, pads])[0]
    cout = rng.randint(1, 3)
    w = np.random.default_rng(rng.randrange(1 << 30)).standard_normal(
        [cout, x.channels] + k)
    w = b.init((w * 0.3).astype(np.float32), "w")
    return _Val(b.node("Conv", [xp, w], kernel_shape=k, strides=st, dilations=dl)[0], cout)


def _relu(b: _Builder, x: _Val) -> _Val:
    return _Val(b.node("Relu", [x.name])[0], x.channels)


def _features_at(model: onnx.ModelProto, value: str, trace: list):
    """The shape of ``value`` at the concrete input shape ``trace``, by onnx's own shape
    inference (independent of graphshape); None when it cannot tell."""
    return _shapes_at(model, trace).get(value)


def _shapes_at(model: onnx.ModelProto, trace: list) -> dict:
    """Every value's concrete shape at the input shape ``trace`` (onnx shape inference)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inp = m.graph.input[0].type.tensor_type.shape
    for d, v in zip(inp.dim, trace):
        d.Clear()
        d.dim_value = v
    try:
        m = onnx.shape_inference.infer_shapes(m)
    except Exception:  # noqa: BLE001  a generator heuristic, nothing more
        return {}
    out = {"X": list(trace)}
    for vi in list(m.graph.value_info) + list(m.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if len(dims) and all(d.HasField("dim_value") for d in dims):
            out[vi.name] = [d.dim_value for d in dims]
    return out


def _model(b, inp, outputs):
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs]
    g = helper.make_graph(b.nodes, "fuzz", [inp], outs, b.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="tests.oracles.fuzz_convpool")
    m.ir_version = 10
    return m


def generate(seed: int):
    """(ModelProto, description): a random graph for ``seed`` (deterministic)."""
    rng = random.Random(seed)
    nsp = 2 if rng.random() < 0.75 else 1
    n_sym = rng.choice((1, 2, 2, 3)) if nsp == 2 else rng.choice((1, 1, 2))
    cin = rng.randint(1, 3)
    spatial = ["H", "W"] if nsp == 2 else ["L"]
    dims: list = [1, cin] + spatial
    syms = {spatial[0]}
    order = (["W", "N"] if rng.random() < 0.7 else ["N", "W"]) if nsp == 2 else ["N"]
    for extra in order[:n_sym - 1]:
        syms.add(extra)
    if "N" in syms:
        dims[0] = "N"
    trace = [rng.randint(1, 3) if "N" in syms else 1, cin]
    for i, s in enumerate(spatial):
        if s not in syms:
            dims[2 + i] = rng.randint(6, 48)
        trace.append(dims[2 + i] if isinstance(dims[2 + i], int) else rng.randint(12, 80))
    inp = helper.make_tensor_value_info("X", TensorProto.FLOAT, dims)
    b = _Builder(rng, nsp)
    # issue 21's additions draw from their own stream, so the other graphs of a seed stay
    # as they were: TF 'same' padded convs, and a batch that may be empty (N >= 0)
    extra = random.Random(seed * 104729 + 3)
    empty_batch = "N" in syms and extra.random() < 0.3
    live = [_Val("X", cin)]
    kinds = ["conv"] * 5 + ["pool"] * 5 + ["convT"] * 2 + ["merge"] * 4 + ["slice"] * 2 + \
            ["relu"] + ["resize"]
    for _ in range(rng.randint(1, 7)):
        kind = rng.choice(kinds)
        src = live[-1] if rng.random() < 0.5 else rng.choice(live)
        if kind == "merge":
            if len(live) < 2:
                kind = "conv"
            else:
                # mostly a partner whose spatial dims agree with src's at the trace size (the
                # merge is then valid somewhere), sometimes any partner (narrow or empty
                # domains, e.g. only H = 1 where broadcasting lets 1 through)
                others = [v for v in live if v is not src] or live
                at = _shapes_at(_model(b, inp, [live[-1].name]), trace)
                here = at.get(src.name)
                fits = [v for v in others if here and at.get(v.name) and
                        at[v.name][2:] == here[2:]]
                if fits and rng.random() < 0.85:
                    other = rng.choice(fits)
                elif rng.random() < 0.4:
                    other = rng.choice(others)
                else:
                    live.append(_conv(b, src))
                    continue
                live.append(_merge(b, src, other))
                continue
        if kind == "conv" and extra.random() < 0.2:
            live.append(_tf_same_conv(b, src, extra))
            continue
        live.append({"conv": _conv, "pool": _pool, "convT": _conv_transpose,
                     "slice": _slice, "relu": _relu, "resize": _resize}[kind](b, src))
    last = live[-1]
    head = rng.choice(("plain", "plain", "flatten", "reshape", "gap"))
    outputs = [last.name]
    if head == "plain" and len(live) > 2 and rng.random() < 0.3:
        outputs.append(rng.choice(live[1:-1]).name)
    elif head in ("flatten", "reshape", "gap"):
        if head == "gap":
            g = b.node("GlobalAveragePool", [last.name])[0]
            flat = b.node("Flatten", [g])[0]
        elif head == "flatten":
            flat = b.node("Flatten", [last.name], axis=1)[0]
        else:
            target = [0, -1] if rng.random() < 0.7 else [1, -1]
            flat = b.node("Reshape", [last.name, b.init(np.array(target, np.int64), "shp")])[0]
        shape = _features_at(_model(b, inp, [flat]), flat, trace)
        if head == "gap":
            k = last.channels
        else:
            k = shape[1] if shape and shape[1] > 0 else rng.randint(1, 64)
        n_out = rng.randint(1, 3)
        trans = rng.random() < 0.5
        w = b.weight([n_out, k] if trans else [k, n_out])
        ins = [flat, w] + ([b.init(np.zeros(n_out, np.float32), "gb")] if rng.random() < 0.5
                           else [])
        outputs = [b.node("Gemm", ins, transB=int(trans))[0]]
    model = _model(b, inp, outputs)
    desc = {"seed": seed, "input": dims, "trace": trace, "head": head, "ops": b.ops}
    if empty_batch:
        desc["dims"] = ["X:0=N>=0"]
    return model, desc


# ---- running (tests.oracles.fuzz_runner, shared with tests.oracles.fuzz_mixed) ------------------------

def campaign(n_graphs: int, seed: int = 0, jobs: int = 2, workdir: str | None = None,
             max_points: int = MAX_EXTRA, progress=None):
    """This generator's campaign: every size 1..12 per symbolic axis plus ``max_points``
    edge and random points per graph (tests.oracles.fuzz_runner.campaign)."""
    return _run.campaign(n_graphs, seed, jobs, workdir, max_points, progress, gen="conv")


def fuzz_one(seed: int, workdir: str | None = None, max_points: int = MAX_EXTRA):
    return _run.fuzz_one(seed, "conv", workdir, max_points)


def main(argv=None) -> int:
    return _run.main(["--generator", "conv"] + list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
