"""No import cycles inside ``src/procflow`` at run time (issue 18, item 1).

The graph is read from the source (``ast``), not from ``sys.modules``, so a cycle is found even when the
current import order happens to survive it. What counts as an edge, and why:

* imports that run when the module is imported: module level, inside module-level ``if``/``try``/``with``
  blocks and class bodies;
* not imports under ``if TYPE_CHECKING:`` (the issue's rule: they never run; their ``else`` branch does);
* not imports inside a function or method: they run when the function is first called, after both modules
  have finished loading, so they cannot meet a half-initialised module. They are the deliberate way to
  defer a dependency (the CLI's lazy imports keep ``procflow --help`` fast), and counting them would
  forbid that idiom rather than find cycles;
* ``from package import name`` points at ``package.name`` when that is a module, else at the package
  (its ``__init__`` must run to provide the name); ``import a.b`` points at ``a.b``;
* importing ``a.b.c`` also runs ``a.b``'s ``__init__``: an edge to ``a.b`` too, unless ``a.b`` contains
  the importing module (Python initialises a package before its submodules, so that ``__init__`` is
  already running or done; counting it would make every package that re-exports a submodule a cycle).
  Naming such a package explicitly (``from procflow import hookimpl`` inside procflow) is still an edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import procflow

SRC = Path(procflow.__file__).resolve().parent

Edge = tuple[str, int]  # (imported module, line of the import statement)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that execute while the module body runs (see the module docstring)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _runtime_imports(node.body)
            yield from _runtime_imports(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _runtime_imports(block)
        elif isinstance(node, ast.With | ast.AsyncWith | ast.For | ast.AsyncFor | ast.While | ast.ClassDef):
            yield from _runtime_imports(node.body)
            if isinstance(node, ast.For | ast.AsyncFor | ast.While):
                yield from _runtime_imports(node.orelse)


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def import_graph(root: Path) -> dict[str, list[Edge]]:
    """Module → the modules of the same top-level package it imports at run time (with line numbers)."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    top = root.name
    graph: dict[str, list[Edge]] = {}
    for module, path in files.items():
        edges: list[Edge] = []
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"), str(path)).body):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _base(module, path.name == "__init__.py", node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for target in targets:
                if target not in files or not (target == top or target.startswith(top + ".")):
                    continue
                edges.append((target, node.lineno))
                parts = target.split(".")
                for n in range(len(parts) - 1, 0, -1):  # the packages whose __init__ the import runs
                    package = ".".join(parts[:n])
                    if module != package and not module.startswith(package + "."):
                        edges.append((package, node.lineno))
        graph[module] = edges
    return graph


def strongly_connected(graph: Mapping[str, list[Edge]]) -> list[frozenset[str]]:
    """Components with a cycle (Tarjan, iterative): more than one module, or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted({t for t, _ in graph[start]})))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted({t for t, _ in graph[nxt]}))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1 or any(t == node for t, _ in graph[node]):
                        found.append(frozenset(component))
    return found


def _file(module: str, root: Path) -> str:
    path = module.replace(".", "/")
    return f"{path}/__init__.py" if (root.parent / path).is_dir() else f"{path}.py"


def describe(graph: Mapping[str, list[Edge]], component: frozenset[str], root: Path) -> str:
    """One concrete cycle through the component, each step with the file and line of its import."""
    start = min(component)
    paths: dict[str, list[str]] = {start: []}
    queue = [start]
    while queue:  # breadth-first inside the component: the shortest way back to ``start``
        node = queue.pop(0)
        for target, line in graph[node]:
            step = f"{node} -> {target}  ({_file(node, root)}:{line})"
            if target == start:
                return "\n    ".join([*paths[node], step])
            if target in component and target not in paths:
                paths[target] = [*paths[node], step]
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")  # unreachable for a component strongly_connected gave


def test_no_import_cycles_at_run_time() -> None:
    # No allow-list: there is no run-time cycle today (access <-> engine goes through TYPE_CHECKING and a
    # function-level import), so a new one is a regression to fix, not to list.
    graph = import_graph(SRC)
    assert len(graph) > 50 and sum(map(len, graph.values())) > 500  # the walk found the package's modules
    cycles = strongly_connected(graph)
    assert not cycles, "import cycles at run time in src/procflow:\n  " + "\n  ".join(
        f"{sorted(c)}:\n    {describe(graph, c, SRC)}" for c in cycles)


def _package(root: Path, files: Mapping[str, str]) -> Path:
    pkg = root / "pkg"
    for name, text in files.items():
        path = pkg / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return pkg


def test_the_graph_counts_run_time_imports_only(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {
        "__init__.py": "from pkg.a import A\n",
        "a.py": "from __future__ import annotations\nfrom typing import TYPE_CHECKING\nimport pkg.b\n"
                "if TYPE_CHECKING:\n    from pkg.c import C\nelse:\n    from pkg import d\nA = 1\n",
        "b.py": "def later():\n    from pkg import a\n    return a\nclass K:\n    from . import c\n",
        "c.py": "try:\n    from .sub import thing\nexcept ImportError:\n    thing = None\nimport pkg.a\n",
        "d.py": "",
        "sub/__init__.py": "from ..b import K\n",
        "sub/thing.py": "",
    })
    graph = {m: sorted(t for t, _ in edges) for m, edges in import_graph(pkg).items()}
    assert graph == {
        "pkg": ["pkg.a"],
        "pkg.a": ["pkg.b", "pkg.d"],  # not pkg.c: only under TYPE_CHECKING
        "pkg.b": ["pkg.c"],  # the class body runs at import; the function body does not
        "pkg.c": ["pkg.a", "pkg.sub", "pkg.sub.thing"],  # pkg.sub: importing pkg.sub.thing runs its __init__
        "pkg.d": [],
        "pkg.sub": ["pkg.b"],
        "pkg.sub.thing": [],
    }
    assert strongly_connected(import_graph(pkg)) == [frozenset({"pkg.a", "pkg.b", "pkg.c", "pkg.sub"})]


def test_a_cycle_is_printed_with_its_lines(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {"__init__.py": "", "x.py": "import os\nfrom pkg import y\n", "y.py": "from . import x\n"})
    graph = import_graph(pkg)
    [cycle] = strongly_connected(graph)
    assert describe(graph, cycle, pkg) == "pkg.x -> pkg.y  (pkg/x.py:2)\n    pkg.y -> pkg.x  (pkg/y.py:1)"


def test_a_name_taken_from_a_parent_package_is_an_edge(tmp_path: Path) -> None:
    # pkg/__init__ is half-run when pkg.m asks it for NAME: Python raises ImportError here, so it is a cycle
    pkg = _package(tmp_path, {"__init__.py": "from pkg.m import f\nNAME = 1\n", "m.py": "from pkg import NAME\n"})
    assert strongly_connected(import_graph(pkg)) == [frozenset({"pkg", "pkg.m"})]
