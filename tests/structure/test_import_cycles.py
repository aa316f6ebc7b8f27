"""No import cycles among the product's modules, and the wizard never imports the monitor.

The graph is built with ``ast`` from the files of ``wizard``, ``monitor`` and ``s2svpn``. Every
``import`` counts, also the ones inside functions: a deferred import hides a cycle from Python at
start-up but not from the reader, and the cycle this test guards against (the wizard's steps
importing the monitor's tasks to poll after a run) was exactly such an import. Imports under
``if TYPE_CHECKING:`` do not count (they never run). ``from package import name`` is an edge to
``package.name`` when that is a module, else to the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("wizard", "monitor", "s2svpn")


def module_files(root: Path = REPO) -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    names: list[str] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                pending.extend(child.orelse)
                continue
            if isinstance(child, ast.Import):
                names.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = module.split(".")
                    anchor = anchor[: len(anchor) - child.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, base] if base else anchor)
                names.extend(f"{base}.{alias.name}" for alias in child.names)
                names.append(base)
            pending.append(child)
    return names


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    files = module_files(root)
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        for target in _imported_names(tree, name, path.name == "__init__.py"):
            # the longest known module the name lies in ("wizard.models.Site" -> wizard.models)
            while target and target not in files:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    for name in list(graph):
        # ``from wizard.steps import x`` names the module, not its package: drop edges to
        # packages that were only the parent of a name (their __init__ imports nothing here)
        graph[name] = {t for t in graph[name] if graph.get(t) or not _is_package(files[t])}
    return graph


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_product_modules_and_their_imports():
    graph = import_graph()
    assert "wizard.engine" in graph["wizard.steps"]
    assert "monitor.storage" in graph["monitor.poller"]
    assert "wizard.services" in graph["monitor.poller"], "imports inside functions count"


def test_there_is_no_import_cycle_among_the_product_modules():
    assert cycles(import_graph()) == []


def test_the_wizard_never_imports_the_monitor():
    graph = import_graph()
    offenders = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if name.split(".")[0] == "wizard"
        for target in targets
        if target.split(".")[0] == "monitor"
    )
    assert offenders == []


def test_a_cycle_is_found_when_one_module_imports_back(tmp_path):
    for package, source in {
        "wizard": {"__init__": "", "steps": "def f():\n    from monitor import tasks\n"},
        "monitor": {"__init__": "", "tasks": "from wizard.steps import f\n"},
        "s2svpn": {
            "__init__": "",
            "typed": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from wizard import steps\n",
        },
    }.items():
        (tmp_path / package).mkdir()
        for name, text in source.items():
            (tmp_path / package / f"{name}.py").write_text(text)
    assert cycles(import_graph(tmp_path)) == [["monitor.tasks", "wizard.steps"]]
    assert import_graph(tmp_path)["s2svpn.typed"] == set(), "TYPE_CHECKING imports do not count"
