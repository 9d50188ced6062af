"""The package's shape cannot rot: no import cycles among Cove's modules, not even ones
hidden inside functions, and the layers import only downwards.

Every module's imports are read with `ast`, at module level and inside functions alike, so
a cycle broken by an import inside a function still counts as a cycle. Imports under
`if TYPE_CHECKING:` are left out: they never run, they only name a type for the checker.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The source folder of each package (pyproject's `package-dir`).
PACKAGES = {
    "cove.daemon": ROOT / "daemon",
    "cove.index": ROOT / "index",
    "cove.finetune": ROOT / "finetune",
    "cove.tui": ROOT / "tui",
}
# What the TUI may use of the daemon: the one HTTP client, which imports no project code.
TUI_MAY_IMPORT = ("cove.daemon.client",)


def module_files() -> dict[str, Path]:
    """Every cove.* module, by dotted name, to its file."""
    modules = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


MODULES = module_files()


def resolve(name: str) -> str | None:
    """The longest cove.* module `name` names (a module, or a name inside one)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def type_checking_only(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_nodes(tree: ast.AST):
    """Every node of `tree` but the bodies of `if TYPE_CHECKING:` blocks (their `else` runs)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if type_checking_only(node):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))


def imports_of(module: str, path: Path) -> dict[str, int]:
    """The cove.* modules `module` imports, each with the line of its first import."""
    is_package = path.name == "__init__.py"
    found: dict[str, int] = {}
    for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from cove.x import y` imports the module cove.x.y when y is one
            names = [f"{source}.{alias.name}" for alias in node.names] + [source]
        for name in names:
            target = resolve(name) if name.startswith("cove.") else None
            if target and target != module:
                found.setdefault(target, node.lineno)
    return found


GRAPH = {module: imports_of(module, path) for module, path in MODULES.items()}


def find_cycle(graph: dict[str, dict[str, int]], within: set[str] | None = None):
    """One import cycle in `graph` (among the modules `within`), as the modules around it,
    or None."""
    nodes = set(graph) if within is None else within
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(set(graph.get(node, {})) & nodes):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(nodes):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def tangles(graph: dict[str, dict[str, int]]) -> list[set[str]]:
    """The strongly connected groups of more than one module: each holds a cycle."""
    reach = {node: reachable(graph, node) for node in graph}
    groups: list[set[str]] = []
    for node in sorted(graph):
        group = {other for other in reach[node] if node in reach.get(other, ())}
        if node in group and group not in groups:
            groups.append(group)
    return groups


def reachable(graph: dict[str, dict[str, int]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(start, {}))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, {}))
    return seen


def describe(cycle: list[str]) -> str:
    steps = [f"{a} (line {GRAPH[a][b]}) -> {b}" for a, b in zip(cycle, cycle[1:], strict=False)]
    return "\n  ".join(steps)


def test_every_module_is_read():
    # guards the walk itself: all four packages and nested subpackages are there
    assert "cove.daemon.api.routes" in MODULES and "cove.index.loaders" in MODULES
    assert "cove.daemon.client" in GRAPH["cove.tui.app"]


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}}) is None
    assert tangles(graph) == [{"a", "b", "c"}]


def test_no_import_cycles():
    cycles = [
        f"{describe(find_cycle(GRAPH, group))}\n  (tangled together: {', '.join(sorted(group))})"
        for group in tangles(GRAPH)
    ]
    assert not cycles, "import cycles:\n  " + "\n\n  ".join(cycles)


def breaches(importer: str, allowed) -> list[str]:
    return [
        f"{module} (line {line}) imports {target}"
        for module, targets in GRAPH.items()
        if module.startswith(importer + ".") or module == importer
        for target, line in targets.items()
        if not allowed(target)
    ]


@pytest.mark.parametrize("package", ["cove.index", "cove.finetune"])
def test_libraries_import_neither_the_daemon_nor_the_tui(package):
    found = breaches(package, lambda target: not target.startswith(("cove.daemon", "cove.tui")))
    assert not found, "\n".join(found)


def test_the_tui_uses_only_the_daemon_s_client():
    found = breaches(
        "cove.tui",
        lambda target: (
            not target.startswith("cove.daemon")
            or target == "cove.daemon"
            or target in TUI_MAY_IMPORT
            or target.startswith(tuple(name + "." for name in TUI_MAY_IMPORT))
        ),
    )
    assert not found, "\n".join(found)


def test_the_client_imports_no_project_code():
    found = [
        target
        for module, targets in GRAPH.items()
        if module in TUI_MAY_IMPORT or module.startswith(tuple(n + "." for n in TUI_MAY_IMPORT))
        for target in targets
        if not target.startswith(TUI_MAY_IMPORT)
    ]
    assert not found, found
