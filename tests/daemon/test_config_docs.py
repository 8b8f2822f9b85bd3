"""docs/configuration.md is generated from the one settings table (shade_daemon/config.py);
these tests fail when a setting is added, removed or re-documented without regenerating it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from shade_daemon.config import Settings, env_name, settings_markdown, settings_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_doc_is_generated_from_the_settings_table() -> None:
    assert DOC.read_text(encoding="utf-8") == settings_markdown(), (
        "docs/configuration.md is stale; regenerate it: "
        ".venv/bin/python -m shade_daemon.config --markdown > docs/configuration.md")


def test_every_setting_has_a_meaning_and_a_variable() -> None:
    names = [f.name for f in dataclasses.fields(Settings) if f.name != "sources"]
    rows = settings_table()
    assert [r[0] for r in rows] == names
    for name, _default, var, _choices, doc in rows:
        assert doc.strip(), f"setting {name} has no meaning in the table"
        assert var == env_name(name) and var.startswith("SHADE_")
        assert f"`{name}`" in settings_markdown()


async def test_config_answer_and_the_daemon_doc_agree_about_absolute_paths(make_client, settings_paths) -> None:
    """docs/daemon.md: answers name folders as the user knows them, except GET /v1/config (the
    user's own settings page), which shows the real paths; the daemon does what the doc says."""
    from shadetest import auth

    doc = (DOC.parent / "daemon.md").read_text(encoding="utf-8")
    assert "never by the\ndaemon's absolute paths" in doc and "`GET /v1/config`" in doc and "real path" in doc
    client, token, _ = await make_client(watch=True)
    _, paths = settings_paths()
    config = await (await client.get("/v1/config", headers=auth(token))).json()
    home = str(Path.home())
    shown = str(paths.data_dir).replace(home, "~") if str(paths.data_dir).startswith(home + "/") else str(paths.data_dir)
    assert config["paths"]["data_dir"] == shown
    status = await (await client.get("/v1/status", headers=auth(token))).json()
    assert status["watched_folders"] and not any(f.startswith("/") for f in status["watched_folders"])
