"""The daemon's layers (issue 26): the service layer knows nothing of HTTP, the HTTP layer
nothing of the running application (tray, signals), and neither reaches into the core
past what ``shading`` exports."""

from __future__ import annotations

import ast
from pathlib import Path

DAEMON = Path(__file__).resolve().parents[2] / "shade_daemon"


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by ``path`` (relative imports resolved)."""
    package = ".".join(path.relative_to(DAEMON.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _layer(name: str) -> dict[Path, set[str]]:
    return {p: _imports(p) for p in sorted((DAEMON / name).rglob("*.py"))}


def test_the_service_layer_imports_no_http() -> None:
    for path, names in _layer("service").items():
        bad = {n for n in names if n.startswith(("aiohttp", "shade_daemon.http", "shade_daemon.app"))}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_http_layer_imports_no_application() -> None:
    for path, names in _layer("http").items():
        bad = {n for n in names if n.startswith("shade_daemon.app")}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_daemon_uses_only_what_shading_exports() -> None:
    import shading

    for path in sorted(DAEMON.rglob("*.py")):
        for name in _imports(path):
            if name.startswith("shading."):
                assert name.count(".") == 1 and name.split(".")[1] in shading.__all__, \
                    f"{path.relative_to(DAEMON)} imports {name}"


def test_no_dashboard_layer_and_no_server_package() -> None:
    assert not (DAEMON / "server").exists()
    assert not list(DAEMON.rglob("dashboard/*.py"))
