"""The library's import graph, read statically: no cycle, no import from a lower layer to a higher one.

Layers, lowest first (``docs/architecture.md``, section *Layers*):

    core (``semlink/*.py``) < ``phy`` < ``semantic`` < ``metrics`` < ``links``

A module may import its own layer and the layers below it, never one above,
not even lazily inside a function: a deferred import is still a dependency,
it only moves the failure to run time. The graph is built from the source
(``ast``), so it sees every ``import`` wherever it is written (module level,
functions, ``try`` blocks) and ``importlib.import_module("semlink...")``
with a literal name, without importing anything. Two things are not edges:

* the implicit import of a package's ``__init__`` when one of its submodules
  is imported (a package that re-exports its modules is the usual pattern);
  ``from pkg import name`` where ``name`` is not a submodule *is* an edge to
  ``pkg``;
* imports written inside ``if __name__ == "__main__":``: a module run as a
  command is an entry point, above every layer.

A module may import a private name (``_x``) only from a module of its own
package.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: (layer name, package prefix), lowest layer first
LAYERS = (("core", "semlink"), ("phy", "semlink.phy"), ("semantic", "semlink.semantic"),
          ("metrics", "semlink.metrics"), ("links", "semlink.links"))


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    where: str      # file:line
    lazy: bool      # written inside a function or class body


def package_dirs() -> dict[str, Path]:
    """Package -> folder, from ``pyproject.toml`` (``package-dir`` and ``packages``)."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = {pkg: ROOT / folder for pkg, folder in cfg["package-dir"].items()}
    out = {}
    for pkg in cfg["packages"]:
        if pkg in mapped:
            out[pkg] = mapped[pkg]
            continue
        parent = max((p for p in mapped if pkg.startswith(p + ".")), key=len)
        out[pkg] = mapped[parent].joinpath(*pkg[len(parent) + 1:].split("."))
    return out


def library_modules() -> dict[str, Path]:
    """Every module of the installed packages: dotted name -> file."""
    mods = {}
    for pkg, folder in package_dirs().items():
        assert folder.is_dir(), f"package {pkg} maps to {folder}, which does not exist"
        for path in folder.glob("*.py"):
            mods[pkg if path.stem == "__init__" else f"{pkg}.{path.stem}"] = path
    return mods


def layer_of(module: str) -> int:
    """Index in :data:`LAYERS` of the longest matching package prefix."""
    best = -1
    for i, (_, prefix) in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            if best < 0 or len(prefix) > len(LAYERS[best][1]):
                best = i
    assert best >= 0, f"{module} is in no layer of LAYERS"
    return best


def _is_main_guard(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return (isinstance(node, ast.If) and isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))


def _targets(module: str, is_pkg: bool, node: ast.AST, mods: dict) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for one import node; library modules only."""
    if isinstance(node, ast.Import):
        return [(a.name, []) for a in node.names if a.name in mods]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_pkg else module.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            src = ".".join(base + ([node.module] if node.module else []))
        else:
            src = node.module or ""
        out, names = [], []
        for alias in node.names:
            if f"{src}.{alias.name}" in mods:
                out.append((f"{src}.{alias.name}", []))
            else:
                names.append(alias.name)
        if names and src in mods:
            out.append((src, names))
        return out
    if (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in mods):
        return [(node.args[0].value, [])]
    return []


def import_graph() -> tuple[dict[str, Path], list[Edge], list[str]]:
    """Modules, import edges between library modules, private-name imports across packages."""
    mods = library_modules()
    edges, private = [], []
    for module, path in sorted(mods.items()):
        is_pkg = path.name == "__init__.py"
        rel = path.relative_to(ROOT)

        def visit(node: ast.AST, lazy: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if _is_main_guard(child):
                    continue
                for dst, names in _targets(module, is_pkg, child, mods):
                    if dst == module:
                        continue
                    edges.append(Edge(module, dst, f"{rel}:{child.lineno}", lazy))
                    home = module if is_pkg else module.rsplit(".", 1)[0]
                    dst_home = dst if mods[dst].name == "__init__.py" else dst.rsplit(".", 1)[0]
                    for name in names:
                        if name.startswith("_") and not name.startswith("__") and dst_home != home:
                            private.append(f"{rel}:{child.lineno}: {module} imports {dst}.{name}")
                inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                   ast.ClassDef, ast.Lambda))
                visit(child, inner)

        visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return mods, edges, private


def strongly_connected(nodes, edges: list[Edge]) -> list[list[str]]:
    """Components of more than one module (Tarjan, iterative)."""
    succ = {n: sorted({e.dst for e in edges if e.src == n}) for n in nodes}
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(succ[w])))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))
    return comps


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_every_package_folder_is_in_a_layer(graph):
    mods, _, _ = graph
    assert len(mods) > 50      # the whole library was read, not an empty glob
    for module in mods:
        layer_of(module)


def test_architecture_doc_states_these_layers():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    order = " < ".join(f"`{name}`" for name, _ in LAYERS)
    assert order in doc, f"docs/architecture.md should state the layers as: {order}"


def test_no_import_from_a_lower_layer_to_a_higher_one(graph):
    _, edges, _ = graph
    bad = [f"{e.where}: {e.src} ({LAYERS[layer_of(e.src)][0]}) imports {e.dst} "
           f"({LAYERS[layer_of(e.dst)][0]}){' lazily' if e.lazy else ''}"
           for e in edges if layer_of(e.dst) > layer_of(e.src)]
    assert not bad, "upward imports (move the shared thing down instead):\n" + "\n".join(bad)


def test_no_import_cycle(graph):
    mods, edges, _ = graph
    comps = strongly_connected(mods, edges)
    lines = []
    for comp in comps:
        inside = set(comp)
        lines.append(" <-> ".join(comp))
        lines += [f"    {e.where}: {e.src} -> {e.dst}{' (lazy)' if e.lazy else ''}"
                  for e in edges if e.src in inside and e.dst in inside]
    assert not comps, "import cycles:\n" + "\n".join(lines)


def test_no_private_name_from_another_package(graph):
    _, _, private = graph
    assert not private, "private names imported across packages (make them public):\n" + "\n".join(private)


def test_the_graph_sees_lazy_imports_and_cycles():
    """The checks can fail: a lazy upward import and a two-module cycle are found."""
    a = ast.parse("def f():\n    from semlink.links import cli\n")
    mods = {"semlink.links.cli": Path("x"), "semlink.device": Path("y")}
    node = a.body[0].body[0]
    assert _targets("semlink.device", False, node, mods) == [("semlink.links.cli", [])]
    edges = [Edge("a", "b", "a:1", False), Edge("b", "a", "b:3", True), Edge("b", "c", "b:4", False)]
    assert strongly_connected(["a", "b", "c"], edges) == [["a", "b"]]
    main = ast.parse("if __name__ == '__main__':\n    import x\n").body[0]
    assert _is_main_guard(main)
