"""The package's layout, read from its imports (no module is executed): no import cycle, no
private name imported across modules, no function-level import but of an optional
dependency (marked why), and each folder importing only the folders before it."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "graphshape"

# The layers, first to last: a module may import its own folder and the folders before it.
# The face's leaves (errors, results, stats, dtypes) come first: every folder may use them;
# analysis.py (analyze, the front object) comes after the folders it combines; the face's
# integrations (export, testing, the package's __init__ ...) come last.
LAYERS = ["leaves", "arith", "loader", "shapes", "rules", "domain", "runtime", "answers",
          "render", "analysis", "relax", "fleet", "cli", "face"]
LEAVES = {"errors", "results", "stats", "dtypes"}
# Function-level imports allowed: optional or heavy third-party packages, each marked with a
# comment on its line saying why (torch, matplotlib, dask, onnx, ...).
OPTIONAL = {"torch", "torchvision", "matplotlib", "dask", "distributed", "onnx", "onnx_ir",
            "onnxruntime", "tensorflow", "tf2onnx", "keras", "transformers", "onnxscript",
            "tqdm", "numpy", "tomllib", "tomli", "jsonschema", "islpy", "playwright"}
# Our own subpackages that need an optional dependency (relax: onnx-ir).
OPTIONAL_OWN = {"graphshape.relax"}


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        rel = p.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _layer(mod: str) -> str:
    parts = mod.split(".")
    if len(parts) == 1:
        return "face"
    if len(parts) == 2 and parts[1] in LEAVES:
        return "leaves"
    if len(parts) == 2 and parts[1] == "analysis":
        return "analysis"
    if parts[1] in LAYERS:
        return parts[1]
    return "face"


def _resolve(mod: str, node: ast.ImportFrom, is_pkg: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".")
    if not is_pkg:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(mod: str, path: pathlib.Path):
    """(target module, names, lines, at module level?) per import statement."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    for stmt in tree.body:  # `if TYPE_CHECKING:` / try blocks at module level count as top
        if isinstance(stmt, (ast.If, ast.Try)):
            top.update(id(n) for n in ast.walk(stmt))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(mod, node, path.name == "__init__.py")
            names = [a.name for a in node.names]
            subs = [n for n in names if f"{target}.{n}" in MODULES]
            if subs:
                for n in subs:
                    yield f"{target}.{n}", [], (node.lineno, node.end_lineno), id(node) in top
                names = [n for n in names if n not in subs]
                if not names:
                    continue
            yield target, names, (node.lineno, node.end_lineno), id(node) in top
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, [], (node.lineno, node.end_lineno), id(node) in top


def _edges():
    for mod, path in MODULES.items():
        for target, names, line, top in _imports(mod, path):
            yield mod, path, target, names, line, top


def test_no_import_cycle():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for mod, _, target, _, _, top in _edges():
        if top and target in MODULES and target != mod and not mod.startswith(target + "."):
            graph[mod].add(target)
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_no_private_name_across_modules():
    bad = [f"{path.relative_to(ROOT.parent)}:{line[0]} imports {n} from {target}"
           for mod, path, target, names, line, _ in _edges()
           if target.startswith("graphshape") and target != mod
           for n in names if n.startswith("_") and not n.startswith("__")]
    bad += [f"{path.relative_to(ROOT.parent)}:{line[0]} imports private module {target}"
            for mod, path, target, _, line, _ in _edges()
            if target.startswith("graphshape") and any(
                p.startswith("_") and not p.startswith("__") for p in target.split("."))
            and target.rsplit(".", 1)[0] != mod.rsplit(".", 1)[0]]
    assert not bad, "\n".join(bad)


def test_function_level_imports_are_optional_dependencies_marked_why():
    bad = []
    for _mod, path, target, _, line, top in _edges():
        if top:
            continue
        text = "\n".join(path.read_text().splitlines()[line[0] - 1:line[1]])
        optional = target.split(".")[0] in OPTIONAL or target.rpartition(".")[0] in \
            OPTIONAL_OWN or target in OPTIONAL_OWN
        if not optional or "#" not in text:
            bad.append(f"{path.relative_to(ROOT.parent)}:{line[0]}: {text.strip()}")
    assert not bad, "\n".join(bad)


def test_folders_import_only_the_folders_before_them():
    order = {name: i for i, name in enumerate(LAYERS)}
    bad = []
    for mod, path, target, _, line, _top in _edges():
        if not target.startswith("graphshape") or target not in MODULES and \
                target.rsplit(".", 1)[0] not in MODULES:
            continue
        tgt = target if target in MODULES else target.rsplit(".", 1)[0]
        if order[_layer(tgt)] > order[_layer(mod)]:
            bad.append(f"{path.relative_to(ROOT.parent)}:{line[0]} ({_layer(mod)}) imports "
                       f"{tgt} ({_layer(tgt)})")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("folder", [f for f in LAYERS if (ROOT / f).is_dir()])
def test_each_folder_says_what_lives_there(folder):
    doc = ast.get_docstring(ast.parse((ROOT / folder / "__init__.py").read_text()))
    first = (doc or "").split("\n\n")[0]
    assert first and len(first.splitlines()) <= 2 and "import" in first.lower(), \
        f"graphshape/{folder}/__init__.py: two lines, what lives there and what it may import"
