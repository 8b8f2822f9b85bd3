"""Install and uninstall: write the planned artifacts, record them, activate them,
and later remove exactly what the record lists.

Install converges: running it again with the same options changes nothing;
running it with fewer parts (``--no-browsers``) removes the parts left out. A
file Shade did not write (or that the user changed since) is never overwritten
or removed without ``--force``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .artifacts import Artifact, CommandStep, FileArtifact, RegistryArtifact, SymlinkArtifact, sha256
from .autostart import autostart_artifacts
from .browsers import BROWSERS, browser_artifacts
from .context import InstallContext
from .record import RECORD_NAME, InstallRecord, atomic_write, item_id

# Files of the extension folder that the browser does not need.
_EXTENSION_SKIP = {"node_modules", "tests", "test", "web-ext-artifacts", "package.json", "package-lock.json"}


class InstallError(RuntimeError):
    """Install or uninstall cannot go on; the message says what to do."""


@dataclass(frozen=True)
class InstallOptions:
    autostart: bool = True
    browsers: tuple[str, ...] = tuple(BROWSERS)
    extension: bool = True  # copy the unpacked extension into the data dir
    dry_run: bool = False
    force: bool = False


@dataclass
class Action:
    verb: str  # wrote, unchanged, removed, kept, ran, failed, skipped (or "would …" in a dry run)
    what: str
    target: str
    detail: str = ""

    def line(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.verb:>15}  {self.what}: {self.target}{extra}"


@dataclass
class Report:
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    record_path: Path | None = None
    extension_changed: int = 0
    groups: dict[str, str] = field(default_factory=dict)  # action target -> artifact group

    def add(self, verb: str, what: str, target: Any, detail: str = "") -> None:
        self.actions.append(Action(verb, what, str(target), detail))

    @property
    def failed(self) -> list[Action]:
        return [a for a in self.actions if a.verb == "failed"]


def record_path(ctx: InstallContext) -> Path:
    return ctx.paths.data_dir / RECORD_NAME


def extension_artifacts(ctx: InstallContext) -> list[Artifact]:
    src = ctx.extension_src
    if src is None:
        return []
    out: list[Artifact] = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if any(part.startswith(".") or part in _EXTENSION_SKIP for part in rel.parts) or not path.is_file():
            continue
        out.append(FileArtifact(ctx.installed_extension_dir / rel, path.read_bytes(),
                                "browser extension (unpacked)", "extension"))
    return out


def plan(ctx: InstallContext, opts: InstallOptions) -> list[Artifact]:
    artifacts: list[Artifact] = []
    if opts.autostart:
        artifacts += autostart_artifacts(ctx)
    artifacts += browser_artifacts(ctx, opts.browsers)
    if opts.extension:
        artifacts += extension_artifacts(ctx)
    return artifacts


# Inspecting what is there ----------------------------------------------------
def _file_sha(path: Path) -> str | None:
    try:
        return sha256(path.read_bytes()) if path.is_file() and not path.is_symlink() else None
    except OSError:
        return None


def _conflict(ctx: InstallContext, art: Artifact, record: InstallRecord) -> str | None:
    """Why writing ``art`` would clobber something that is not ours, if it would."""
    if isinstance(art, FileArtifact):
        if not (art.path.exists() or art.path.is_symlink()):
            return None
        current = _file_sha(art.path)
        if current == art.sha256:
            return None
        known = record.find("file", str(art.path))
        if known and current == known["sha256"]:
            return None
        return f"{art.path} exists and was not written by this Shade install (or was changed since)"
    if isinstance(art, SymlinkArtifact):
        if not (art.path.exists() or art.path.is_symlink()):
            return None
        if art.path.is_symlink() and os.readlink(art.path) == art.target:
            return None
        return f"{art.path} exists and is not Shade's link"
    if isinstance(art, RegistryArtifact):
        current = ctx.registry.get_default(art.key) if ctx.registry else None
        known = record.find("registry", art.key.lower())
        if current is None or current == art.value or (known and known["value"] == current):
            return None
        return f"HKCU\\{art.key} exists and points at {current}"
    return None


# Writing and removing ----------------------------------------------------------
def _make_parents(path: Path, created: list[str]) -> None:
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        folder.mkdir()
        created.append(str(folder))


def _apply(ctx: InstallContext, art: Artifact, created_dirs: list[str], created_keys: list[str],
           report: Report) -> dict[str, Any]:
    """Write one artifact (not commands); return its record item."""
    if isinstance(art, FileArtifact):
        unchanged = _file_sha(art.path) == art.sha256 and (art.path.stat().st_mode & 0o777) == art.mode
        if not unchanged:
            _make_parents(art.path, created_dirs)
            atomic_write(art.path, art.content, art.mode)
        report.groups[str(art.path)] = art.group
        if art.group == "extension":
            report.extension_changed += 0 if unchanged else 1
        else:
            report.add("unchanged" if unchanged else "wrote", art.what, art.path)
        return {"kind": "file", "path": str(art.path), "sha256": art.sha256, "what": art.what, "group": art.group}
    if isinstance(art, SymlinkArtifact):
        unchanged = art.path.is_symlink() and os.readlink(art.path) == art.target
        report.groups[str(art.path)] = art.group
        if not unchanged:
            _make_parents(art.path, created_dirs)
            if art.path.is_symlink() or art.path.exists():
                art.path.unlink()
            art.path.symlink_to(art.target)
        report.add("unchanged" if unchanged else "wrote", art.what, art.path)
        return {"kind": "symlink", "path": str(art.path), "target": art.target, "what": art.what, "group": art.group}
    if isinstance(art, RegistryArtifact):
        if ctx.registry is None:
            raise InstallError("no registry access on this system")
        unchanged = ctx.registry.get_default(art.key) == art.value
        report.groups[f"HKCU\\{art.key}"] = art.group
        if not unchanged:
            new_keys = ctx.registry.set_default(art.key, art.value)
            created_keys += [k for k in new_keys if k.lower() != art.key.lower()]
        report.add("unchanged" if unchanged else "wrote", art.what, f"HKCU\\{art.key}")
        return {"kind": "registry", "key": art.key, "value": art.value, "what": art.what, "group": art.group}
    raise TypeError(art)


def _remove(ctx: InstallContext, item: dict[str, Any], report: Report, dry_run: bool) -> bool:
    """Remove one recorded thing if it is still what we wrote. True when it is gone."""
    kind, quiet = item["kind"], item.get("group") == "extension"
    verb = "would remove" if dry_run else "removed"
    if kind == "file":
        path = Path(item["path"])
        if not path.exists() and not path.is_symlink():
            return True
        if _file_sha(path) != item["sha256"]:
            report.add("kept", item["what"], path, "changed since Shade wrote it; remove it yourself if unwanted")
            return False
        if not dry_run:
            path.unlink()
        if not quiet:
            report.add(verb, item["what"], path)
        return True
    if kind == "symlink":
        path = Path(item["path"])
        if not path.is_symlink():
            return not path.exists()
        if os.readlink(path) != item["target"]:
            report.add("kept", item["what"], path, "points elsewhere now")
            return False
        if not dry_run:
            path.unlink()
        report.add(verb, item["what"], path)
        return True
    if kind == "registry":
        if ctx.registry is None:
            report.add("kept", item["what"], f"HKCU\\{item['key']}", "no registry access here")
            return False
        current = ctx.registry.get_default(item["key"])
        if current is None:
            return True
        if current != item["value"]:
            report.add("kept", item["what"], f"HKCU\\{item['key']}", "changed since Shade wrote it")
            return False
        if not dry_run:
            ctx.registry.delete_key(item["key"])
        report.add(verb, item["what"], f"HKCU\\{item['key']}")
        return True
    if kind in ("dir", "regkey", "command"):
        return True
    raise InstallError(f"unknown item kind {kind!r} in the install record")


def _run(ctx: InstallContext, commands: Iterable[Iterable[str]], what: str, report: Report,
         quiet_failures: bool = False) -> bool:
    """Run OS commands (systemctl, launchctl, schtasks) when this is a real install."""
    ok = True
    for command in commands:
        command = list(command)
        shown = " ".join(command)
        if not ctx.run_commands:
            report.add("skipped", what, shown, "not run now")
            continue
        if shutil.which(command[0]) is None:
            report.add("skipped", what, shown, f"{command[0]} not found")
            return False
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            report.add("failed", what, shown, str(exc))
            return False
        if proc.returncode != 0 and "Failed to connect to bus" in proc.stderr:
            report.add("skipped", what, shown, "no systemd user session now; the service starts at your next login")
            return False
        if proc.returncode != 0 and not quiet_failures:
            message = (proc.stderr or proc.stdout).strip().splitlines()
            report.add("failed", what, shown, message[-1] if message else f"exit {proc.returncode}")
            ok = False
        elif proc.returncode == 0:
            report.add("ran", what, shown)
    return ok


def _prune_keys(ctx: InstallContext, keys: list[str], in_use: set[str], dry_run: bool) -> list[str]:
    """Delete registry keys we created that are now empty; return those left."""
    left = []
    for key in sorted(set(keys), key=lambda k: k.count("\\"), reverse=True):
        used = any(u.lower() == key.lower() or u.lower().startswith(key.lower() + "\\") for u in in_use)
        if ctx.registry is not None and not used and ctx.registry.is_empty(key):
            if not dry_run:
                ctx.registry.delete_key(key)
            continue
        if ctx.registry is not None and ctx.registry.exists(key):
            left.append(key)
    return sorted(left)


def _prune_dirs(dirs: list[str], keep_under: set[Path], dry_run: bool) -> list[str]:
    """Remove folders we created that are now empty and unused; return those left."""
    left = []
    for folder in sorted(set(dirs), key=lambda d: d.count(os.sep), reverse=True):
        path = Path(folder)
        in_use = any(p == path or path in p.parents for p in keep_under)
        if not in_use and path.is_dir() and not any(path.iterdir()):
            if not dry_run:
                path.rmdir()
            continue
        if path.exists():
            left.append(folder)
    return sorted(left)


# The two operations ----------------------------------------------------------------
def install(ctx: InstallContext, opts: InstallOptions) -> Report:
    report = Report(record_path=record_path(ctx))
    record = InstallRecord.load(record_path(ctx), ctx.os)
    artifacts = plan(ctx, opts)
    if opts.extension and ctx.extension_src is None:
        report.notes.append("The extension folder was not found next to Shade, so it was not copied; "
                            "load it from your Shade checkout's extension/ folder.")

    conflicts = [c for c in (_conflict(ctx, a, record) for a in artifacts) if c]
    if conflicts and not opts.force:
        raise InstallError("Shade would overwrite files it did not write:\n  " + "\n  ".join(conflicts)
                           + "\nMove them aside, or run `shade install --force` to replace them.")

    planned_ids = {str(a.path) if isinstance(a, (FileArtifact, SymlinkArtifact)) else
                   (a.key.lower() if isinstance(a, RegistryArtifact) else a.what) for a in artifacts}
    stale = [i for i in record.items if i["kind"] not in ("dir", "regkey") and item_id(i) not in planned_ids]
    commands = [a for a in artifacts if isinstance(a, CommandStep)]

    if opts.dry_run:
        for art in artifacts:
            if isinstance(art, CommandStep):
                for command in art.run:
                    report.add("would run", art.what, " ".join(command))
            elif not (isinstance(art, FileArtifact) and art.group == "extension"):
                target = f"HKCU\\{art.key}" if isinstance(art, RegistryArtifact) else art.path
                report.add("would write", art.what, target)
        extension = [a for a in artifacts if isinstance(a, FileArtifact) and a.group == "extension"]
        if extension:
            report.add("would write", "browser extension (unpacked)", ctx.installed_extension_dir, f"{len(extension)} files")
        for item in stale:
            _remove(ctx, item, report, dry_run=True)
        return report

    # Undo activation of parts left out this time, then remove their files.
    for item in stale:
        if item["kind"] == "command":
            _run(ctx, item.get("undo", []), item["what"] + " (undo)", report, quiet_failures=True)
    kept_stale = [i for i in stale if not _remove(ctx, i, report, dry_run=False)]
    for item in stale:
        if item["kind"] == "command":
            _run(ctx, item.get("after_undo", []), item["what"] + " (undo)", report, quiet_failures=True)

    created_dirs = [i["path"] for i in record.items if i["kind"] == "dir"]
    created_keys = [i["key"] for i in record.items if i["kind"] == "regkey"]
    items: list[dict[str, Any]] = []
    try:
        for art in artifacts:
            if isinstance(art, CommandStep):
                items.append({"kind": "command", "what": art.what, "group": art.group,
                              "undo": [list(c) for c in art.undo], "after_undo": [list(c) for c in art.after_undo]})
            else:
                items.append(_apply(ctx, art, created_dirs, created_keys, report))
    except BaseException:
        # Interrupted (Ctrl-C, a full disk): record what is on disk now, so uninstall
        # and the next install still know every file Shade wrote.
        done = {item_id(i) for i in items}
        record.items = items + [i for i in record.items if i["kind"] not in ("dir", "regkey") and item_id(i) not in done] \
            + [{"kind": "dir", "path": d} for d in sorted(set(created_dirs))] \
            + [{"kind": "regkey", "key": k} for k in sorted(set(created_keys))]
        record.save()
        raise
    extension = [a for a in artifacts if isinstance(a, FileArtifact) and a.group == "extension"]
    if extension:
        changed = report.extension_changed
        report.add("wrote" if changed else "unchanged", "browser extension (unpacked)", ctx.installed_extension_dir,
                   f"{changed} of {len(extension)} files written" if changed else f"{len(extension)} files")

    current = items + kept_stale
    keep = {Path(i["path"]) for i in current if "path" in i} | {record.path}
    left_dirs = _prune_dirs(created_dirs, keep, dry_run=False)
    left_keys = _prune_keys(ctx, created_keys, {i["key"] for i in current if i["kind"] == "registry"}, dry_run=False)
    record.items = current + [{"kind": "dir", "path": d} for d in left_dirs] \
        + [{"kind": "regkey", "key": k} for k in left_keys]
    record.options = {"autostart": opts.autostart, "browsers": list(opts.browsers), "extension": opts.extension}
    record.save()  # before activation: an interrupted activation is still undoable

    changed_groups = {_group_of(report, a) for a in report.actions if a.verb == "wrote"}
    for step in commands:
        if step.group in changed_groups:
            _run(ctx, step.prepare, step.what, report, quiet_failures=True)
            _run(ctx, step.run, step.what, report)
        else:
            _run(ctx, step.run_unchanged, step.what, report)
    return report


def _group_of(report: Report, action: Action) -> str:
    return report.groups.get(action.target, "")


def uninstall(ctx: InstallContext, dry_run: bool = False) -> Report:
    report = Report(record_path=record_path(ctx))
    record = InstallRecord.load(record_path(ctx), ctx.os)
    if not record.exists:
        report.notes.append(f"No install record at {record.path}: nothing that `shade install` wrote is here "
                            "(if you installed with SHADE_HOME set, set it again).")
        return report
    commands = [i for i in record.items if i["kind"] == "command"]
    if not dry_run:
        for item in commands:
            _run(ctx, item.get("undo", []), item["what"] + " (undo)", report, quiet_failures=True)
    kept = [i for i in record.items if i["kind"] not in ("dir", "command") and not _remove(ctx, i, report, dry_run)]
    extension = [i for i in record.items if i.get("group") == "extension"]
    if extension:
        verb = "would remove" if dry_run else "removed"
        report.add(verb, "browser extension (unpacked)", ctx.installed_extension_dir, f"{len(extension)} files")
    if not dry_run:
        for item in commands:
            _run(ctx, item.get("after_undo", []), item["what"] + " (undo)", report, quiet_failures=True)
    dirs = [i["path"] for i in record.items if i["kind"] == "dir"]
    keys = [i["key"] for i in record.items if i["kind"] == "regkey"]
    keep = {Path(i["path"]) for i in kept if "path" in i}
    if dry_run:
        return report
    left_keys = _prune_keys(ctx, keys, {i["key"] for i in kept if i["kind"] == "registry"}, dry_run=False)
    if kept:
        left = _prune_dirs(dirs, keep | {record.path}, dry_run=False)
        record.items = kept + [{"kind": "dir", "path": d} for d in left] + [{"kind": "regkey", "key": k} for k in left_keys]
        record.save()
        report.notes.append(f"Some things were kept (listed above); {record.path} still lists them.")
    else:
        record.delete()
        _prune_dirs(dirs, keep, dry_run=False)
    return report
