"""``shade doctor``: one screen that says whether Shade can work here, and for
each problem, the fix. Every check is independent: one failing (or crashing)
never hides the others."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Mapping

from . import __version__
from .config import ConfigError, Paths, Settings, load_settings
from .install import InstallContext, check_autostart, check_browsers
from .install.inspect import Finding

KEYRING_FIX = ("start or unlock your desktop's keyring (GNOME Keyring or KWallet on Linux), or opt into the "
               "file fallback: add  token_store = \"file\"  to {config} (or set SHADE_TOKEN_STORE=file)")


def _nvidia_smi() -> str | None:
    """The GPU name nvidia-smi reports, or None when there is no working driver."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        proc = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip().splitlines()[0] if proc.returncode == 0 and proc.stdout.strip() else None


def check_device(settings: Settings) -> Finding:
    import torch

    from shading import resolve_device

    try:
        device = resolve_device(settings.device)
    except Exception as exc:
        return Finding("fail", "device", str(exc), "set device = \"auto\" in the config, or install the matching torch build")
    if device != "cpu":
        name = torch.cuda.get_device_name(0) if device == "cuda" else "Apple GPU (MPS)"
        return Finding("ok", "device", f"{device}: {name}")
    if settings.device == "cpu":
        return Finding("ok", "device", f"cpu (chosen by the setting device = cpu, from {settings.sources.get('device', 'default')})")
    if sys.platform == "darwin":
        why = ("this PyTorch build has no MPS support" if not torch.backends.mps.is_built()
               else "MPS is unavailable (an Intel Mac, or macOS older than 12.3)")
        return Finding("ok", "device", f"cpu: {why}; shading works, more slowly")
    gpu = _nvidia_smi()
    if torch.version.cuda is None:
        if gpu:
            return Finding("warn", "device", f"cpu, although an NVIDIA GPU is present ({gpu}): this PyTorch "
                           f"({torch.__version__}) is a CPU-only build",
                           "re-run the installer: it picks the CUDA build when nvidia-smi works "
                           "(or set SHADE_TORCH_INDEX to a CUDA wheel index)")
        return Finding("ok", "device", "cpu: no NVIDIA GPU found (nvidia-smi missing or failing); shading works, more slowly")
    return Finding("warn", "device", f"cpu: this PyTorch is built for CUDA {torch.version.cuda} but sees no usable GPU"
                   + (f" (nvidia-smi shows {gpu})" if gpu else " (nvidia-smi finds no driver)"),
                   "install or update the NVIDIA driver so it supports CUDA " + str(torch.version.cuda))


def check_models(settings: Settings) -> Finding:
    from shading import ModelNotFound, available_encoders, expand_encoders, missing_encoders

    known = {info.name: info for info in available_encoders(settings.model_dirs)}
    missing = missing_encoders(settings.encoders, settings.model_dirs)
    try:
        wanted = list(expand_encoders(settings.encoders, settings.model_dirs))
    except ModelNotFound:
        wanted = []
    present = [f"{n} ({known[n].location})" for n in wanted if n in known and known[n].installed]
    if missing:
        where = ", ".join(str(d) for d in settings.model_dirs)
        return Finding("fail", "models", f"missing: {', '.join(missing)} "
                       + (f"(looked in {where})" if where else "(no model folder is set)")
                       + (f"; present: {', '.join(present)}" if present else ""),
                       f"run `shade models pull {' '.join(missing)}`, or point SHADE_MODEL_DIR (or model_dirs in "
                       "the config) at a folder that holds them")
    return Finding("ok", "models", "present: " + ", ".join(present or wanted))


def check_keyring(settings: Settings, paths: Paths) -> Finding:
    from .token_store import keyring_status, token_file

    if settings.token_store == "file":
        return Finding("ok", "keyring", f"not used: token_store = \"file\" keeps the token in {token_file(paths)}")
    ok, backend, message = keyring_status()
    if ok:
        return Finding("ok", "keyring", message)
    return Finding("fail", "keyring", f"no usable keyring for the API token: {message} ({backend})",
                   KEYRING_FIX.format(config=paths.config_file))


def _get_health(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/v1/health", timeout=2) as response:
            body = json.loads(response.read(65536).decode("utf-8"))
            return body if isinstance(body, dict) else {}
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _port_in_use(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def check_daemon(settings: Settings, paths: Paths) -> Finding:
    from .runinfo import read_info

    start_fix = "start it with `shade daemon` (it starts at login once `shade install` has run)"
    info = read_info(paths)
    if info is not None:
        health = _get_health(info.url)
        if health is not None:
            version = health.get("version", "?")
            return Finding("ok", "daemon", f"answers at {info.url} (version {version}, pid {info.pid})")
        return Finding("fail", "daemon", f"{paths.state_dir / 'daemon.json'} names {info.url} (pid {info.pid}) "
                       "but nothing answers there: it stopped without cleaning up", start_fix)
    url = f"http://127.0.0.1:{settings.port}"
    if _get_health(url) is not None:
        return Finding("ok", "daemon", f"answers at {url}")
    if _port_in_use(settings.port):
        return Finding("fail", "daemon", f"port {settings.port} is taken by another program, not Shade",
                       f"choose a free port: add  port = <number>  to {paths.config_file}")
    return Finding("fail", "daemon", f"not running (port {settings.port} is free)", start_fix)


def check_folders(settings: Settings, paths: Paths) -> Finding:
    problems = []
    for label, folder in (("config", paths.config_dir), ("data", paths.data_dir), ("state", paths.state_dir)):
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir() or not _writable(probe):
            problems.append(f"the {label} folder {folder} cannot be written")
    if problems:
        return Finding("fail", "folders", "; ".join(problems), "fix the folder's owner or permissions")
    watch = settings.watch_folder
    detail = f"watching {watch} (results in {watch.parent / 'ready'})"
    if not watch.exists():
        return Finding("ok", "folders", detail + "; created when the daemon starts")
    return Finding("ok", "folders", detail)


def _default_settings(env: Mapping[str, str], paths: Paths) -> Settings:
    """Built-in settings (the config file being unusable), with Shade's folders kept."""
    unread = Paths(paths.config_dir / "(unreadable config)", paths.data_dir, paths.cache_dir,
                   paths.state_dir, paths.log_dir)
    return load_settings({k: v for k, v in env.items() if k == "SHADE_HOME"}, unread)


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def run_checks(env: Mapping[str, str] | None = None) -> list[Finding]:
    """All checks, in display order."""
    source = os.environ if env is None else env
    paths = Paths.resolve(source)
    findings: list[Finding] = []
    try:
        settings = load_settings(source, paths)
    except ConfigError as exc:
        findings.append(Finding("fail", "config", str(exc), f"fix or remove {paths.config_file}"))
        settings = _default_settings(source, paths)
    ctx = InstallContext.for_this_machine(source, settings=settings, paths=paths)

    def guarded(name: str, fn: Callable[[], Finding | list[Finding]]) -> None:
        try:
            result = fn()
        except Exception as exc:  # one broken check must not hide the others
            result = Finding("fail", name, f"the check itself failed: {type(exc).__name__}: {exc}",
                             "report this with the output of `shade doctor`")
        findings.extend(result if isinstance(result, list) else [result])

    guarded("device", lambda: check_device(settings))
    guarded("models", lambda: check_models(settings))
    guarded("keyring", lambda: check_keyring(settings, paths))
    guarded("daemon", lambda: check_daemon(settings, paths))
    guarded("folders", lambda: check_folders(settings, paths))
    guarded("autostart", lambda: check_autostart(ctx))
    guarded("browsers", lambda: check_browsers(ctx))
    return findings


_MARK = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


def _merge_browsers(findings: list[Finding]) -> list[Finding]:
    """One line for the browsers when they are all in the same state and need no fix."""
    browsers = [f for f in findings if f.title.startswith("browser ")]
    states = {f.status for f in browsers}
    if not browsers or len(states) != 1 or states == {"fail"}:
        return findings
    names = ", ".join(f.title.split(" ", 1)[1] for f in browsers)
    status = states.pop()
    merged = Finding(status, "browsers", f"native host registered for {names}" if status == "ok"
                     else f"native host not registered for {names} (pairing by code still works)",
                     browsers[0].fix)
    at = findings.index(browsers[0])
    rest = [f for f in findings if f not in browsers]
    return rest[:at] + [merged] + rest[at:]


def render(findings: list[Finding]) -> str:
    lines = [f"Shade doctor (shade {__version__}, Python {sys.version.split()[0]}, {sys.platform})"]
    for f in _merge_browsers(findings):
        lines.append(f"  {_MARK[f.status]:<4}  {f.title:<16} {f.detail}")
        if f.fix and f.status != "ok":
            lines.append(f"  {'':<4}  {'':<16} fix: {f.fix}")
    broken = sum(f.status == "fail" for f in findings)
    warned = sum(f.status == "warn" for f in findings)
    if broken:
        lines.append(f"{broken} problem(s) stop Shade from working; fix them and run `shade doctor` again.")
    elif warned:
        lines.append(f"Shade can work; {warned} thing(s) could be better (see WARN).")
    else:
        lines.append("Everything looks right.")
    return "\n".join(lines)


def as_json(findings: list[Finding]) -> str:
    return json.dumps([asdict(f) for f in findings], indent=2)
