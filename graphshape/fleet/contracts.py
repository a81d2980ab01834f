"""A registry's size contracts, from one TOML file (``--require-from pyproject.toml``): the
same tables the pre-commit hook reads, with globs relative to that file's folder.

    [tool.graphshape.require]          # one --require contract per model glob
    "models/detector*.onnx" = "H in 320..640, W = H"

    [tool.graphshape.dims]             # optional: --dim specs per glob (fixed zoo files)
    "zoo/*.onnx" = ["input:2=H", "input:3=W"]

The first glob that matches a model's path (relative to the file's folder) applies.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field

from graphshape.errors import UsageError

try:
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["Contracts", "load_contracts"]


@dataclass(frozen=True)
class Contracts:
    source: str  # the TOML file
    root: str  # its folder: globs are relative to it
    require: dict = field(default_factory=dict)  # glob -> contract text
    dims: dict = field(default_factory=dict)  # glob -> [--dim spec, ...]

    def _rel(self, path: str) -> str:
        return os.path.relpath(os.path.abspath(path), self.root).replace(os.sep, "/")

    def contract_for(self, path: str) -> dict | None:
        """``{"glob", "spec"}`` of the first glob matching ``path``, or None."""
        rel = self._rel(path)
        for glob, spec in self.require.items():
            if fnmatch.fnmatch(rel, glob):
                return {"glob": glob, "spec": spec}
        return None

    def dims_for(self, path: str) -> list:
        rel = self._rel(path)
        for glob, specs in self.dims.items():
            if fnmatch.fnmatch(rel, glob):
                return list(specs)
        return []


def load_contracts(path: str) -> Contracts:
    """Read ``[tool.graphshape.require]`` (and ``dims``) from ``path``; UsageError (one
    line) when the file or its tables are not usable."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise UsageError(f"--require-from {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"--require-from {path}: {e}") from None
    cfg = data.get("tool", {}).get("graphshape", {})
    require = cfg.get("require") if isinstance(cfg, dict) else None
    if not isinstance(require, dict) or not require:
        raise UsageError(f"--require-from {path}: no [tool.graphshape.require] table "
                         "(glob = \"H in 224..640, W = H\")")
    for glob, spec in require.items():
        if not isinstance(spec, str):
            raise UsageError(f"--require-from {path}: [tool.graphshape.require] '{glob}': "
                             "the contract must be a string")
    dims = cfg.get("dims", {})
    if not isinstance(dims, dict) or any(
            not isinstance(v, list) or not all(isinstance(x, str) for x in v)
            for v in dims.values()):
        raise UsageError(f"--require-from {path}: [tool.graphshape.dims] maps a glob to a "
                         "list such as [\"input:2=H\"]")
    return Contracts(os.path.abspath(path), os.path.dirname(os.path.abspath(path)),
                     dict(require), dict(dims))
