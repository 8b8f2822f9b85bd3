"""Install, install again, change options, uninstall: exactly Shade's own things
are written and removed; the user's files are never touched."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shade_daemon.install import InstallError, InstallOptions, install, record_path, uninstall
from shade_daemon.install.autostart import systemd_unit_path
from shade_daemon.install.browsers import BROWSERS, manifest_path, registry_key
from shade_daemon.install.record import InstallRecord

REPO = Path(__file__).resolve().parents[2]


def _user_files(home: Path) -> dict[Path, bytes]:
    """Things a real user has that Shade must never touch."""
    files = {
        home / "shade-home/Pictures/Shade/to-post/dog.png": b"not really a png",
        home / "shade-home/Pictures/Shade/ready/dog.png": b"shaded dog",
        home / "shade-home/Pictures/Shade/originals/dog.png": b"original dog",
        home / ".config/google-chrome/Default/Preferences": b"{}",
        home / ".config/google-chrome/NativeMessagingHosts/com.other.app.json": b'{"name": "com.other.app"}',
        home / ".config/systemd/user/other.service": b"[Service]\nExecStart=/bin/true\n",
        home / "shade-home/config/config.toml": b'port = 47821\n',
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


@pytest.mark.parametrize("system", ["linux", "macos", "windows"])
def test_install_twice_then_uninstall_restores_the_home(make_ctx, home, snapshot, system):
    user = _user_files(home)
    before = snapshot(home)
    ctx = make_ctx(system, extension_src=REPO / "extension" if (REPO / "extension/manifest.json").exists() else None)

    first = install(ctx, InstallOptions())
    after_first = snapshot(home)
    assert after_first != before and record_path(ctx).is_file()
    registry_after_first = dict(ctx.registry.values) if ctx.registry else None

    second = install(ctx, InstallOptions())
    # Harmless: the second run changes nothing and says so.
    assert {a.verb for a in second.actions} <= {"unchanged", "skipped"}, [a.line() for a in second.actions]
    files_second = {k: v for k, v in snapshot(home).items() if not k.endswith("install-record.json")}
    files_first = {k: v for k, v in after_first.items() if not k.endswith("install-record.json")}
    assert files_second == files_first
    if ctx.registry:
        assert ctx.registry.values == registry_after_first and len(registry_after_first) == len(BROWSERS)

    report = uninstall(ctx)
    assert snapshot(home) == before, "uninstall must leave the home exactly as it was"
    assert all(p.read_bytes() == data for p, data in user.items())
    if ctx.registry:
        assert ctx.registry.values == {}
    removed = [a for a in report.actions if a.verb == "removed"]
    written = [a for a in first.actions if a.verb == "wrote"]
    assert len(removed) == len(written)


def test_uninstall_keeps_a_file_the_user_changed(make_ctx, home):
    ctx = make_ctx("linux")
    install(ctx, InstallOptions(extension=False))
    unit = systemd_unit_path(ctx)
    unit.write_text(unit.read_text() + "# my own tweak\n")
    report = uninstall(ctx)
    assert unit.is_file() and "my own tweak" in unit.read_text()
    assert any(a.verb == "kept" and a.target == str(unit) for a in report.actions)
    # The record still lists it, so nothing is forgotten; everything else is gone.
    record = InstallRecord.load(record_path(ctx), "linux")
    assert [i["path"] for i in record.items if i["kind"] == "file"] == [str(unit)]
    assert not manifest_path(ctx, BROWSERS["chrome"]).exists()


def test_install_refuses_to_overwrite_a_foreign_file(make_ctx, home):
    ctx = make_ctx("linux")
    foreign = manifest_path(ctx, BROWSERS["firefox"])
    foreign.parent.mkdir(parents=True)
    foreign.write_text('{"name": "someone else"}')
    with pytest.raises(InstallError, match="--force"):
        install(ctx, InstallOptions(extension=False))
    assert foreign.read_text() == '{"name": "someone else"}'
    assert not systemd_unit_path(ctx).exists(), "a refused install writes nothing"
    install(ctx, InstallOptions(extension=False, force=True))
    assert json.loads(foreign.read_text())["name"] == "org.shade_art.host"


def test_windows_refuses_a_foreign_registry_value(make_ctx):
    ctx = make_ctx("windows")
    key = registry_key(BROWSERS["edge"])
    ctx.registry.set_default(key, r"C:\Other\host.json")
    with pytest.raises(InstallError, match="HKCU"):
        install(ctx, InstallOptions(extension=False))
    assert ctx.registry.get_default(key) == r"C:\Other\host.json"


def test_fewer_parts_on_reinstall_removes_the_parts_left_out(make_ctx, home):
    ctx = make_ctx("linux")
    install(ctx, InstallOptions(extension=False))
    chrome = manifest_path(ctx, BROWSERS["chrome"])
    assert chrome.is_file()
    install(ctx, InstallOptions(extension=False, browsers=("firefox",)))
    assert not chrome.exists() and not chrome.parent.exists()  # the folder was Shade's too
    assert manifest_path(ctx, BROWSERS["firefox"]).is_file()
    assert systemd_unit_path(ctx).is_file()
    install(ctx, InstallOptions(extension=False, autostart=False, browsers=()))
    assert not systemd_unit_path(ctx).exists() and not manifest_path(ctx, BROWSERS["firefox"]).exists()
    uninstall(ctx)
    assert not record_path(ctx).exists()


def test_dry_run_changes_nothing(make_ctx, home, snapshot):
    before = snapshot(home)
    ctx = make_ctx("linux")
    report = install(ctx, InstallOptions(dry_run=True))
    assert snapshot(home) == before
    assert any(a.verb == "would write" and a.target == str(systemd_unit_path(ctx)) for a in report.actions)
    install(ctx, InstallOptions(extension=False))
    after = snapshot(home)
    uninstall(ctx, dry_run=True)
    assert snapshot(home) == after


def test_extension_copy_is_the_loadable_extension(make_ctx):
    src = REPO / "extension"
    if not (src / "manifest.json").exists():
        pytest.fail("extension/manifest.json is missing from the checkout")
    ctx = make_ctx("linux", extension_src=src)
    install(ctx, InstallOptions())
    copied = ctx.installed_extension_dir
    assert json.loads((copied / "manifest.json").read_text()) == json.loads((src / "manifest.json").read_text())
    manifest = json.loads((copied / "manifest.json").read_text())
    background = manifest.get("background", {})
    for script in [background.get("service_worker"), *background.get("scripts", [])]:
        if script:
            assert (copied / script).is_file()
    uninstall(ctx)
    assert not copied.exists()


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    """systemctl / launchctl / schtasks stand-ins that log their arguments."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    log = tmp_path / "tools.log"
    for tool in ("systemctl", "launchctl", "schtasks"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\n'
                          'if [ -n "$FAKE_TOOL_FAIL" ]; then echo "$FAKE_TOOL_FAIL" >&2; exit 1; fi\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    log.touch()

    def calls() -> list[str]:
        lines = log.read_text().splitlines()
        log.write_text("")
        return lines
    return calls


@pytest.mark.parametrize("system, first, again, undo", [
    ("linux", ["systemctl --user daemon-reload", "systemctl --user restart shade.service"],
     ["systemctl --user start shade.service"],
     ["systemctl --user stop shade.service", "systemctl --user daemon-reload"]),
    ("macos", ["launchctl bootout gui/{uid}/org.shade_art.daemon", "launchctl bootstrap gui/{uid} {plist}"],
     ["launchctl kickstart gui/{uid}/org.shade_art.daemon"],
     ["launchctl bootout gui/{uid}/org.shade_art.daemon"]),
    ("windows", ["schtasks /Create /TN Shade /XML {xml} /F", "schtasks /Run /TN Shade"],
     ["schtasks /Run /TN Shade"],
     ["schtasks /End /TN Shade", "schtasks /Delete /TN Shade /F"]),
])
def test_activation_commands(make_ctx, fake_tools, system, first, again, undo):
    from shade_daemon.install.autostart import launch_agent_path, task_xml_path

    ctx = make_ctx(system)
    ctx.run_commands = True
    fill = {"uid": ctx.uid, "plist": launch_agent_path(ctx), "xml": task_xml_path(ctx)}
    install(ctx, InstallOptions(extension=False))
    assert fake_tools() == [c.format(**fill) for c in first]
    install(ctx, InstallOptions(extension=False))  # nothing changed: no restart
    assert fake_tools() == [c.format(**fill) for c in again]
    uninstall(ctx)
    assert fake_tools() == [c.format(**fill) for c in undo]


def test_no_user_session_is_explained(make_ctx, fake_tools, monkeypatch):
    monkeypatch.setenv("FAKE_TOOL_FAIL", "Failed to connect to bus: No medium found")
    ctx = make_ctx("linux")
    ctx.run_commands = True
    report = install(ctx, InstallOptions(extension=False))
    assert not report.failed
    assert any(a.verb == "skipped" and "next login" in a.detail for a in report.actions)
    assert systemd_unit_path(ctx).is_file()


def test_windows_uninstall_removes_only_the_registry_keys_it_created(make_ctx):
    from shade_daemon.install.registry import MemoryRegistry

    ctx = make_ctx("windows")
    # Chrome is installed (its key exists, with a setting); Chromium, Edge, Brave, Firefox are not.
    ctx.registry = MemoryRegistry(existing_keys=(r"Software\Google\Chrome\PreferenceMACs",))
    ctx.registry.set_default(r"Software\Google\Chrome\PreferenceMACs", "x")
    keys_before = set(ctx.registry.keys)
    install(ctx, InstallOptions(extension=False))
    assert ctx.registry.exists(r"Software\Chromium\NativeMessagingHosts\org.shade_art.host")
    uninstall(ctx)
    assert set(ctx.registry.keys) == keys_before
    assert ctx.registry.values == {r"software\google\chrome\preferencemacs": "x"}


def test_interrupted_install_is_still_recorded(make_ctx, home, monkeypatch, snapshot):
    """Ctrl-C half way through writing: what was written is recorded, so uninstall
    removes it and a new install does not call it someone else's file."""
    import shade_daemon.install.installer as installer

    before = snapshot(home)
    ctx = make_ctx("linux")
    real_write, count = installer.atomic_write, {"n": 0}

    def flaky(path, content, mode):
        count["n"] += 1
        if count["n"] == 4:
            raise KeyboardInterrupt
        real_write(path, content, mode)

    monkeypatch.setattr(installer, "atomic_write", flaky)
    with pytest.raises(KeyboardInterrupt):
        install(ctx, InstallOptions(extension=False))
    monkeypatch.setattr(installer, "atomic_write", real_write)
    recorded = InstallRecord.load(record_path(ctx), "linux").items
    assert len([i for i in recorded if i["kind"] in ("file", "symlink")]) == 3 + 1  # 3 files and the wants link
    install(ctx, InstallOptions(extension=False))  # no "--force" needed
    uninstall(ctx)
    assert snapshot(home) == before
