"""The shape of the imports, read from the source (nothing is imported): one way down
`bot → pipeline → recommender → sql`, and no cycle among the modules that import each
other when loaded (imports under `if TYPE_CHECKING:` and inside functions run later, or
never, so they cannot form one)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support.environment import ROOT

LAYERS = ("bot", "pipeline", "recommender", "sql")  # each may import those after it


def _modules() -> dict[str, Path]:
    found = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _loaded_with(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run when the module is loaded (not in functions or classes'
    methods, not under `if TYPE_CHECKING:`)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and not _type_checking(node.test):
            yield from _loaded_with(node.body)
            yield from _loaded_with(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse):
                yield from _loaded_with(block)
            yield from _loaded_with(node.finalbody)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _loaded_with(node.body)


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The project modules an import statement loads (`from package import submodule`
    names the submodule; a name defined in a package names the package)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parts, base] if base else parts)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    found = set()
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)
    return found


def _graph(imports: str) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if imports == "loaded":
            nodes: list[ast.Import | ast.ImportFrom] = list(_loaded_with(tree.body))
        else:
            nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
        graph[module] = {t for node in nodes for t in _targets(module, node)}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_checker_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    assert _cycles(_graph("loaded")) == []


def test_imports_run_one_way_down_the_layers() -> None:
    """Every import, lazy and type-only ones included: `sql` knows nothing above it."""
    layer = {name: LAYERS.index(name.split(".")[0]) for name in MODULES}
    upward = [
        f"{module} imports {target}"
        for module, targets in _graph("all").items()
        for target in targets
        if layer[target] < layer[module]
    ]
    assert upward == []


def test_every_module_in_cogs_is_an_extension() -> None:
    """The bot loads every module of bot/cogs/ as a discord.py extension: each needs
    its `setup(bot)` (a helper shared by cogs belongs in bot/, beside checks.py)."""
    cogs = [name for name in MODULES if name.startswith("bot.cogs.")]
    assert cogs
    for name in cogs:
        tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
        setups = [n for n in tree.body if isinstance(n, ast.AsyncFunctionDef) and n.name == "setup"]
        assert setups, f"{name} has no `async def setup(bot)`"
