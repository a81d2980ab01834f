"""The size a model was exported at, where the file or the domain says it.

Per symbol, the first of these that applies:

  given     the caller says so (``relax --size``)
  declared  the file declares a number on an axis re-symbolised with ``--dim``
  free      neither domain (onnxruntime's, the spec's) constrains the symbol (any N): every
            value runs; 1 is taken
  pinned    the sizes the exporter's framework accepts (the ONNX spec's domain, which PyTorch
            follows) allow one value only
  inferred  the same, once every pooling window that yields one output
            at every such size is made to cover its map exactly (an ``AvgPool2d(7)`` head
            covers the whole map only where h = 7) and, where that still leaves a range,
            the value is a multiple of the network's effective stride on that axis (224 is
            the one multiple of 32 among 193..224)

``guess=True`` (pages, never rewrites) adds ``likely``: the one square size (the spatial
symbols equal) that is a multiple of the effective stride (the toy: 256 x 256 among eleven
boxes of valid sizes), reported as a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphshape.answers.audit import export_sizes
from graphshape.answers.layers import layers
from graphshape.arith.isl import Error as IslError
from graphshape.arith.isl import (
    IslPrinter,
    NonPresburger,
    fix,
    isl_names,
    project_1d,
    size_set,
    vmax,
    vmin,
)
from graphshape.loader.contents import attribute_values

__all__ = ["ExportSize", "infer", "HOW"]

HOW = {"given": "given", "declared": "declared in the file", "free": "any value runs",
       "pinned": "the only size the domain allows",
       "inferred": "the only size where each pooling head's window covers its map and the "
                   "network's stride divides it",
       "likely": "a guess: the one square size the network's stride divides"}
_POOLS = ("AveragePool", "MaxPool", "LpPool")


@dataclass
class ExportSize:
    """Symbol -> size, for the symbols whose export size is known, and how it is known."""

    sizes: dict = field(default_factory=dict)
    how: dict = field(default_factory=dict)  # symbol -> a key of HOW

    def describe(self) -> str:
        """``H=224, W=224 (the only size the domain allows); N=1 (any value runs)``."""
        groups: dict = {}
        for n, v in self.sizes.items():
            groups.setdefault(self.how[n], []).append(f"{n}={v}")
        return "; ".join(f"{', '.join(v)} ({HOW[k]})" for k, v in groups.items())

    def to_json(self) -> dict:
        return {"sizes": dict(self.sizes), "how": dict(self.how)}


def infer(analysis, given: dict | None = None, guess: bool = False) -> ExportSize:
    """What is known of ``analysis``'s export size (see the module doc); symbols left out
    of the result are not known."""
    d = analysis.domain
    out = ExportSize()
    if not d.names or d.is_empty():
        return out
    declared = export_sizes(analysis)
    for n in d.names:
        for how, src in (("given", given or {}), ("declared", declared)):
            if n in src and n not in out.sizes:
                out.sizes[n], out.how[n] = int(src[n]), how
    spec = getattr(analysis, "spec_domain", None)
    for n in d.unconstrained:
        if n not in out.sizes and (spec is None or n in spec.unconstrained):
            out.sizes[n], out.how[n] = 1, "free"
    rest = [n for n in d.names if n not in out.sizes]
    if not rest:
        return _ordered(out, d.names)
    try:
        _pin(analysis, out, rest, guess)
    except (IslError, NonPresburger, ValueError):
        pass  # an illustration: where isl cannot say, the size stays unknown
    return _ordered(out, d.names)


def _ordered(out: ExportSize, names: list) -> ExportSize:
    out.sizes = {n: out.sizes[n] for n in names if n in out.sizes}
    out.how = {n: out.how[n] for n in out.sizes}
    return out


def _pin(analysis, out: ExportSize, rest: list, guess: bool) -> None:
    d = analysis.domain
    names, syms = d.names, d.symbols
    spec = getattr(analysis, "spec_domain", None)
    base = spec.isl_set if spec is not None and not spec.isl_set.is_empty() else d.isl_set
    for n, v in out.sizes.items():
        base = fix(base, names.index(n), v)
    if base.is_empty():
        return
    if _take_single(base, names, rest, out, "pinned"):
        return
    covered = base.intersect(_windows_cover(analysis, base))
    if not covered.is_empty():
        base = covered
    if _take_single(base, names, rest, out, "inferred"):
        return
    strides = _strides(analysis)
    aligned = base
    for n in rest:
        if strides.get(n, 1) > 1:
            aligned = aligned.intersect(_where(syms, f"({_v(syms, n)}) mod {strides[n]} = 0"))
    if aligned.is_empty():
        return
    if _take_single(aligned, names, rest, out, "inferred") or not guess:
        return
    spatial = [n for n in rest if n in strides]
    if len(spatial) >= 2:
        square = aligned
        for a, b in zip(spatial, spatial[1:]):
            square = square.intersect(_where(syms, f"{_v(syms, a)} = {_v(syms, b)}"))
        if not square.is_empty():
            _take_single(square, names, spatial, out, "likely")


def _take_single(s, names: list, rest: list, out: ExportSize, how: str) -> bool:
    """Record every symbol of ``rest`` whose projection of ``s`` is one value; True when
    that leaves none unknown."""
    n_all = len(names)
    for n in rest:
        if n in out.sizes:
            continue
        p = project_1d(s, names.index(n), n_all)
        lo, hi = vmin(p), vmax(p)
        if lo is not None and lo == hi:
            out.sizes[n], out.how[n] = lo, how
    return all(n in out.sizes for n in rest)


def _v(syms, name: str) -> str:
    return isl_names(syms)[next(s for s in syms if s.name == name)]


def _where(syms, cond: str):
    return size_set(syms, cond)


def _windows_cover(analysis, base):
    """Sizes where every pooling window that yields one output everywhere in ``base``
    covers its map exactly (map == kernel on each spatial axis)."""
    syms = analysis.domain.symbols
    printer = IslPrinter(isl_names(syms))
    tensors = analysis.propagation.tensors
    conds = []
    for node in analysis.graph.nodes:
        if node.op_type not in _POOLS or not node.input or not node.output:
            continue
        a = attribute_values(node)
        k = list(a.get("kernel_shape") or [])
        if any(a.get("pads") or []) or a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID") \
                or any(x != 1 for x in a.get("dilations") or []):
            continue
        src, dst = tensors.get(node.input[0]), tensors.get(node.output[0])
        if src is None or dst is None or src.shape is None or dst.shape is None:
            continue
        maps, outs = list(src.shape[2:]), list(dst.shape[2:])
        if len(maps) != len(k) or len(outs) != len(k) or all(isinstance(m, int) for m in maps):
            continue
        try:
            one = " and ".join(f"{printer.expr(o)} = 1" for o in outs)
            if not base.subtract(size_set(syms, one)).is_empty():
                continue  # more than one output somewhere: not a head's pooling
            conds += [f"{printer.expr(m)} = {kk}" for m, kk in zip(maps, k)]
        except NonPresburger:
            continue
    return size_set(syms, " and ".join(conds) or "1 = 1")


def _strides(analysis) -> dict:
    """Symbol -> the largest effective stride on its axis (the first input of rank >= 3)."""
    g = analysis.graph
    first = next((t for t in g.inputs.values() if t.shape is not None and len(t.shape) >= 3),
                 None)
    if first is None:
        return {}
    axis_of = {}
    for j, dim in enumerate(first.shape[2:]):
        if getattr(dim, "is_Symbol", False):
            axis_of[dim.name] = j
    out: dict = {}
    for row in layers(analysis):
        for n, j in axis_of.items():
            if row.stride and j < len(row.stride) and isinstance(row.stride[j], int):
                out[n] = max(out.get(n, 1), row.stride[j])
    return out
