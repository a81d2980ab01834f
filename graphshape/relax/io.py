"""Saving the relaxed model: atomically, keeping external data, opsets, names, metadata.

The model (and its external data file, when the original had one) is written into a
private temporary folder beside the output, checked there, and only then moved into place
with os.replace; on any failure the folder is removed and no output appears.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import onnx_ir as ir

from graphshape.arith.dims import to_str


def has_external_data(model: ir.Model) -> bool:
    for v in model.graph.initializers.values():
        if isinstance(v.const_value, ir.ExternalTensor):
            return True
    for node in model.graph.all_nodes():
        for a in node.attributes.values():
            if isinstance(getattr(a, "value", None), ir.ExternalTensor):
                return True
    return False


class Staging:
    """A temporary folder beside ``output`` holding the files until commit()."""

    def __init__(self, output: str):
        self.output = os.path.abspath(output)
        self.dir = tempfile.mkdtemp(prefix=".graphshape-relax-",
                                    dir=os.path.dirname(self.output))
        self.name = os.path.basename(self.output)
        self.data_name = None

    def path(self, tag: str | None = None) -> str:
        return os.path.join(self.dir, self.name if tag is None else f"{tag}-{self.name}")

    def save(self, model: ir.Model, external: bool, tag: str | None = None) -> str:
        path = self.path(tag)
        if external:
            # the data file's name is recorded in the model: give it its final name
            data = self.name + ".data"
            if tag is None:
                self.data_name = data
            ir.save(model, path, external_data=data if tag is None else f"{tag}-{data}")
        else:
            ir.save(model, path)
        return path

    def commit(self) -> list:
        written = []
        if self.data_name:
            src = os.path.join(self.dir, self.data_name)
            dst = os.path.join(os.path.dirname(self.output), self.data_name)
            _publish(src, dst)
            written.append(dst)
        _publish(self.path(), self.output)
        written.append(self.output)
        return written

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def _publish(src: str, dst: str):
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(src, 0o666 & ~umask)
    os.replace(src, dst)


def set_input_dims(model: ir.Model, names: dict) -> int:
    """Give the freed input axes their symbol names ({(input, axis): name})."""
    n = 0
    for v in model.graph.inputs:
        if v.shape is None:
            continue
        dims = list(v.shape)
        changed = False
        for axis in range(len(dims)):
            name = names.get((v.name, axis)) or names.get((v.name, axis - len(dims)))
            if name:
                dims[axis] = ir.SymbolicDim(name)
                changed = True
        if changed:
            v.shape = ir.Shape(dims)
            n += 1
    return n


def clear_fixed_dims(model: ir.Model, analysis) -> list:
    """Fixed dims in value_info and graph outputs that now vary: a plain symbol becomes
    that dim_param, anything else an unknown dim; a named dim the graph now computes as a
    number becomes that number. Returns [(value, old, new)]."""
    changes = []
    names = {sym.name for sym in analysis.graph.symbols}
    inputs = {id(v) for v in model.graph.inputs}
    values = [v for n in model.graph for v in n.outputs if v is not None]
    values += [v for v in model.graph.outputs if v not in values]
    for v in values:
        if id(v) in inputs or v.shape is None:
            continue
        old = list(v.shape)
        t = analysis.propagation.tensors.get(v.name)
        new_shape = None if t is None or t.shape is None else list(t.shape)
        if new_shape is not None and len(new_shape) != len(old):
            new_shape = None
        dims, changed = [], False
        for axis, d in enumerate(old):
            nd = None if new_shape is None else new_shape[axis]
            if not isinstance(d, int):
                # a named claim where the graph now computes a number (an adapted head's
                # flatten): the number; any other name stays
                if isinstance(nd, int) and nd >= 0:
                    dims.append(nd)
                    changed = True
                elif _input_symbol(nd, names) and getattr(d, "value", None) != nd.name:
                    dims.append(ir.SymbolicDim(nd.name))  # an input axis renamed by --dim
                    changed = True
                else:
                    dims.append(d)
                continue
            if isinstance(nd, int) and nd == d:
                dims.append(d)
            elif _input_symbol(nd, names):
                dims.append(ir.SymbolicDim(nd.name))
                changed = True
            else:
                dims.append(ir.SymbolicDim(None))
                changed = True
        if changed:
            v.shape = ir.Shape(dims)
            changes.append((v.name, _txt(old), _txt(dims)))
    return changes


def _input_symbol(nd, names) -> bool:
    return getattr(nd, "is_Symbol", False) and nd.name in names


def _txt(dims) -> str:
    out = []
    for d in dims:
        if isinstance(d, int):
            out.append(str(d))
        elif isinstance(d, ir.SymbolicDim):
            out.append(d.value or "?")
        else:
            out.append(to_str(d))
    return "[" + ", ".join(out) + "]"
