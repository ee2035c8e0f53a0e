"""The package's layers, read from its import statements: what may import what, and no cycle.

docs/architecture.md draws the layers: the sans-I/O core (``_core``), the
call driver (``_call``), the clients (``_clients``), then the feedback links
with their outbox (``links``), the testing kit (``testing``) and the CLI. A
layer imports only the layers before it; ``LAYERS`` below is that rule as a
table. Every import statement counts, a function's deferred import included
(it runs sooner or later); only imports under ``if TYPE_CHECKING:`` do not,
as they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import pytest

import cognito_raw

PACKAGE: Final = Path(cognito_raw.__file__).resolve().parent
NAME: Final = "cognito_raw"

# Layer (a package or module of cognito_raw) -> the parts of cognito_raw it may
# import, itself included. A module not under any layer here (the package's
# __init__, __main__, _version, the re-exports stdlib and fetch, cli) may
# import anything of cognito_raw.
LAYERS: Final[Mapping[str, tuple[str, ...]]] = {
    "_core": ("_core", "_version"),
    "_call": ("_call", "_core"),
    "_clients": ("_clients", "_call", "_core", "_version"),
    "_asgi": ("_asgi", "_call", "_core"),
    "links": ("links", "_asgi", "_clients", "_call", "_core"),
    "testing": ("testing", "_asgi", "_clients", "_call", "_core"),
}


def module_name(path: Path) -> str:
    parts = (NAME, *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


class _Imports(ast.NodeVisitor):
    """The absolute names a module's import statements name, TYPE_CHECKING blocks aside."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.names: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            source = f"{base}.{node.module}" if node.module else base
        else:
            source = node.module or ""
        self.names.add(source)
        # ``from package import submodule`` imports the submodule.
        self.names.update(f"{source}.{alias.name}" for alias in node.names)


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of cognito_raw it imports (the module itself aside)."""
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        visitor = _Imports(module, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        graph[module] = {name for name in visitor.names if name in modules} - {module}
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_of(module: str) -> str | None:
    part = module.split(".")[1] if "." in module else ""
    return part if part in LAYERS else None


def forbidden(graph: Mapping[str, set[str]]) -> Iterator[tuple[str, str]]:
    """Every (importer, imported) pair the layer table does not allow."""
    for module, targets in sorted(graph.items()):
        layer = layer_of(module)
        if layer is None:
            continue
        for target in sorted(targets):
            if target.split(".")[1] not in LAYERS[layer]:
                yield module, target


GRAPH: Final = import_graph(package_modules())


def test_the_graph_is_read() -> None:
    # Every layer is there, and imports are seen both ways: relative, absolute
    # and deferred into a function.
    assert {layer_of(m) for m in GRAPH} >= set(LAYERS)
    assert "cognito_raw._core.errors" in GRAPH["cognito_raw._core.model"]
    assert "cognito_raw._call.driver" in GRAPH["cognito_raw._clients.shell"]
    assert "cognito_raw.links._app_outbox" in GRAPH["cognito_raw.links._app"]  # deferred


def test_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_layer_imports_only_the_layers_before_it(layer: str) -> None:
    assert [pair for pair in forbidden(GRAPH) if layer_of(pair[0]) == layer] == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("cognito_raw._core.model", "cognito_raw._call.config"),
        ("cognito_raw._call.driver", "cognito_raw._clients.shell"),
        ("cognito_raw._clients.shell", "cognito_raw.links._app"),
        ("cognito_raw._clients.stdlib_client", "cognito_raw.testing._fake"),
        ("cognito_raw._clients.httpx_client", "cognito_raw.cli"),
        ("cognito_raw.links._url", "cognito_raw.testing._fake"),
    ],
)
def test_the_checker_sees_a_forbidden_import(importer: str, imported: str) -> None:
    graph = {module: set(targets) for module, targets in GRAPH.items()}
    graph[importer].add(imported)
    assert list(forbidden(graph)) == [(importer, imported)]


def test_the_checker_sees_a_cycle() -> None:
    graph = {module: set(targets) for module, targets in GRAPH.items()}
    graph["cognito_raw._core.errors"].add("cognito_raw._core.model")
    assert cycles(graph) == [["cognito_raw._core.errors", "cognito_raw._core.model"]]
