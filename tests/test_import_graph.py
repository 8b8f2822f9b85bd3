"""The layering, read from the source: no import cycles between Shade's modules (deferred
imports inside functions count too), the core never imports the application, and nothing
outside the core reaches past its public face (``from shading import NAME``)."""

from __future__ import annotations

import ast
from pathlib import Path

from shadetest import REPO

PACKAGES = ("shading", "shade_daemon")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> list[tuple[str, int]]:
    """(absolute module imported, line) for every import in the file, at any depth, except
    those only a type checker runs. ``from X import name`` counts as X, and as X.name when
    X.name is a module of ours."""
    tree = ast.parse(path.read_text(), str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, node.lineno))
            found.extend((f"{module}.{alias.name}", node.lineno) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _our_modules() -> dict[str, Path]:
    return {_module_name(p): p for top in PACKAGES for p in sorted((REPO / top).rglob("*.py"))}


def _graph() -> dict[str, set[str]]:
    modules = _our_modules()
    return {name: {m for m, _ in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_the_core_never_imports_the_application():
    offenders = [(name, m) for name, path in _our_modules().items() if name.startswith("shading")
                 for m, _ in _imports(path) if m.split(".")[0] == "shade_daemon"]
    assert offenders == []


def test_outside_the_core_only_the_public_face_is_imported():
    """The daemon, the CLI, the installers and the scripts use ``from shading import NAME``;
    a ``shading.<submodule>`` import outside ``shading/`` and ``tests/`` fails here."""
    import shading

    offenders = []
    for path in [*sorted((REPO / "shade_daemon").rglob("*.py")), *sorted((REPO / "scripts").rglob("*.py"))]:
        for module, line in _imports(path):
            parts = module.split(".")
            if parts[0] != "shading" or len(parts) == 1:
                continue
            # ``from shading import NAME`` shows up as shading.NAME: fine when NAME is exported.
            if len(parts) == 2 and parts[1] in shading.__all__:
                continue
            offenders.append(f"{path.relative_to(REPO)}:{line}: {module}")
    assert offenders == [], "import these through `from shading import ...`:\n" + "\n".join(offenders)


def test_every_exported_name_resolves():
    import shading

    missing = [name for name in shading.__all__ if getattr(shading, name, None) is None]
    assert missing == [] and set(shading._LAZY) <= set(shading.__all__)
