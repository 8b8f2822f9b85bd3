"""``shade install`` and ``shade uninstall``: per-user setup of autostart, browser
registration and the unpacked extension, recorded so uninstall removes exactly it."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from ..extension_ids import CHROME_ORIGIN
from ..install import InstallContext, InstallError, InstallOptions, install, uninstall
from ..install.browsers import BROWSERS
from ..install.installer import Report
from ..install.record import RecordError, atomic_write

UNDO = "shade uninstall"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "install", help="start Shade at login and register it with your browsers",
        description="Set Shade up for this user: start the daemon at login (restarting it if it crashes), "
                    "register the native-messaging host with Chrome, Chromium, Edge, Brave and Firefox, copy "
                    "the browser extension, and offer to download the models. Safe to run again. "
                    "`shade uninstall` removes exactly what this wrote.")
    p.add_argument("--no-autostart", action="store_true", help="do not start Shade at login")
    p.add_argument("--no-browsers", action="store_true", help="do not register the native-messaging host")
    p.add_argument("--browsers", default=",".join(BROWSERS), metavar="LIST",
                   help=f"comma-separated browsers to register (default: {','.join(BROWSERS)})")
    p.add_argument("--no-extension", action="store_true", help="do not copy the unpacked extension")
    p.add_argument("--extension-dir", type=Path, metavar="DIR",
                   help="the extension folder to copy (default: extension/ of the Shade checkout, if any)")
    p.add_argument("--no-start", action="store_true",
                   help="write everything but do not start the daemon now (it starts at the next login)")
    p.add_argument("--dry-run", action="store_true", help="show what would be done, change nothing")
    p.add_argument("--force", action="store_true", help="replace files at Shade's locations that Shade did not write")
    models = p.add_mutually_exclusive_group()
    models.add_argument("--pull-models", action="store_true", help="download missing models without asking")
    models.add_argument("--no-models", action="store_true", help="do not offer to download models")
    p.add_argument("--model-dir", type=Path, metavar="DIR",
                   help="use the models in DIR (offline install): recorded as model_dirs in the config file")
    p.add_argument("--open", action="store_true", help="open the browser's extensions page and Shade's options page")
    p.set_defaults(func=run_install)

    u = subparsers.add_parser(
        "uninstall", help="remove what `shade install` set up",
        description="Remove the autostart entries, browser registrations and copied extension that "
                    "`shade install` wrote, and nothing else: your images, the to-post / ready / originals "
                    "folders, settings and models stay.")
    u.add_argument("--dry-run", action="store_true", help="show what would be removed, change nothing")
    u.add_argument("--no-stop", action="store_true", help="do not stop the running daemon (files are still removed)")
    u.set_defaults(func=run_uninstall)


def _print_report(report: Report) -> None:
    for action in report.actions:
        print(action.line())
    for note in report.notes:
        print(f"note: {note}")


def _options_page(ext_dir: Path | None) -> str | None:
    try:
        manifest = json.loads((ext_dir / "manifest.json").read_text(encoding="utf-8")) if ext_dir else {}
    except (OSError, ValueError):
        return None
    page = (manifest.get("options_ui") or {}).get("page") or manifest.get("options_page")
    return f"{CHROME_ORIGIN}/{page.lstrip('/')}" if page else None


def extension_steps(ctx: InstallContext, copied: bool) -> str:
    folder = ctx.installed_extension_dir if copied else ctx.extension_src
    where = str(folder) if folder else "the extension/ folder of your Shade download"
    options = _options_page(folder)
    lines = [
        "Add the Shade extension to your browser (it is not in the browser stores yet):",
        "  Chrome, Chromium, Edge, Brave:",
        "    1. open chrome://extensions (edge://extensions, brave://extensions)",
        "    2. turn on \"Developer mode\"",
        f"    3. click \"Load unpacked\" and choose {where}",
    ]
    if options:
        lines.append(f"    4. open its options page ({options}) and click \"Pair automatically\"")
    lines += [
        "  Firefox:",
        "    1. open about:debugging#/runtime/this-firefox",
        f"    2. click \"Load Temporary Add-on...\" and choose {Path(where) / 'manifest.json'}",
        "       (Firefox forgets temporary add-ons when it restarts, until Shade is signed by Mozilla)",
        "  No automatic pairing? Paste the code from `shade token --pairing-code` into the extension's options.",
    ]
    return "\n".join(lines)


def _open_pages(ctx: InstallContext) -> None:
    """Best effort: open the extensions page (and options page) in a Chromium-family browser."""
    options = _options_page(ctx.installed_extension_dir)
    urls = ["chrome://extensions"] + ([options] if options else [])
    if ctx.os == "macos":
        for app in ("Google Chrome", "Chromium", "Microsoft Edge", "Brave Browser"):
            if subprocess.run(["open", "-Ra", app], capture_output=True).returncode == 0:
                subprocess.Popen(["open", "-a", app, *urls])
                return
    for exe in ("google-chrome", "google-chrome-stable", "chromium", "chromium-browser", "microsoft-edge",
                "brave-browser", "chrome", "msedge"):
        path = shutil.which(exe)
        if path:
            subprocess.Popen([path, *urls], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
            return
    print("note: no Chrome-family browser found to open; follow the steps above by hand")


def _missing_models(model_dirs: tuple[Path, ...], encoders: tuple[str, ...]) -> list[str]:
    try:
        from shading import missing_encoders
    except ImportError as exc:  # a broken torch install: say so, do not stop the install
        print(f"note: cannot check the models ({exc})")
        return []
    return missing_encoders(encoders, model_dirs)


def _use_model_dir(ctx: InstallContext, folder: Path, dry_run: bool) -> bool:
    """Record ``folder`` in the config file's model_dirs, once it holds the models."""
    import tomli_w

    from ..config import tomllib

    folder = folder.expanduser().resolve()
    missing = _missing_models((folder,), ctx.settings.encoders)
    if missing:
        print(f"shade install: {folder} does not hold {', '.join(missing)}; expected <folder>/<name>/ "
              "as `shade models pull` leaves it", file=sys.stderr)
        return False
    config = ctx.paths.config_file
    table = tomllib.loads(config.read_text(encoding="utf-8")) if config.exists() else {}
    dirs = [str(d) for d in table.get("model_dirs", [])]
    if str(folder) in dirs:
        print(f"      unchanged  model folder in {config}: {folder}")
        return True
    if dry_run:
        print(f"    would write  model folder in {config}: {folder}")
        return True
    # Keep the folder `shade models pull` writes to first; the given folder may be read-only.
    table["model_dirs"] = [*(dirs or [str(ctx.paths.data_dir / "models")]), str(folder)]
    config.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(config, tomli_w.dumps(table).encode("utf-8"), 0o644)
    print(f"          wrote  model folder in {config}: {folder} (kept by uninstall; edit the file to change)")
    return True


def _offer_models(ctx: InstallContext, args: argparse.Namespace) -> int:
    missing = _missing_models(ctx.settings.model_dirs, ctx.settings.encoders)
    if not missing:
        return 0
    shown = " && ".join(f"shade models pull {name}" for name in missing)
    if args.no_models or args.dry_run:
        print(f"Models missing: {', '.join(missing)}. Download them with `{shown}`, or re-run with --model-dir DIR.")
        return 0
    pull = args.pull_models
    if not pull and sys.stdin.isatty():
        answer = input(f"Shade needs the {', '.join(missing)} model(s). Download now? [Y/n] ").strip().lower()
        pull = answer in ("", "y", "yes")
    if not pull:
        print(f"Models missing: {', '.join(missing)}. Download them later with `{shown}`.")
        return 0
    for name in missing:
        print(f"Running `shade models pull {name}` ...")
        if subprocess.run([str(ctx.python), "-m", "shade_daemon", "models", "pull", name]).returncode == 0:
            continue
        print(f"shade install: downloading the models failed; run `{shown}` again, or use --model-dir DIR "
              "with a folder that already holds them", file=sys.stderr)
        return 1
    return 0


def _context(args: argparse.Namespace) -> InstallContext:
    ctx = InstallContext.for_this_machine()
    ctx.run_commands = not args.no_start
    if args.extension_dir is not None:
        folder = args.extension_dir.expanduser().resolve()
        if not (folder / "manifest.json").is_file():
            raise InstallError(f"{folder} is not an extension folder (no manifest.json in it)")
        ctx.extension_src = folder
    return ctx


def run_install(args: argparse.Namespace) -> int:
    browsers = () if args.no_browsers else tuple(b.strip() for b in args.browsers.split(",") if b.strip())
    opts = InstallOptions(autostart=not args.no_autostart, browsers=browsers,
                          extension=not args.no_extension, dry_run=args.dry_run, force=args.force)
    try:
        ctx = _context(args)
        if args.model_dir is not None and not _use_model_dir(ctx, args.model_dir, args.dry_run):
            return 2
        if args.model_dir is not None and not args.dry_run:
            ctx = _context(args)  # re-read the config with the new model folder
        print(f"Shade install for {ctx.os}{' (dry run: nothing is changed)' if args.dry_run else ''}:")
        report = install(ctx, opts)
    except (InstallError, RecordError, ValueError, OSError) as exc:
        print(f"shade install: {exc}", file=sys.stderr)
        return 2
    _print_report(report)
    print()
    if opts.extension or ctx.extension_src:
        print(extension_steps(ctx, copied=opts.extension and ctx.extension_src is not None))
        print()
    code = _offer_models(ctx, args)
    if args.open and not args.dry_run:
        _open_pages(ctx)
    failed = report.failed
    if failed:
        print(f"{len(failed)} step(s) failed (see above); the rest is in place. "
              "Autostart takes effect at your next login.")
    if not args.dry_run:
        print(f"Done. Check everything with `shade doctor`. To undo: `{UNDO}` "
              f"(it removes exactly what {report.record_path} lists).")
    return code


def run_uninstall(args: argparse.Namespace) -> int:
    try:
        ctx = InstallContext.for_this_machine()
        ctx.run_commands = not args.no_stop
        report = uninstall(ctx, dry_run=args.dry_run)
    except (InstallError, RecordError, OSError) as exc:
        print(f"shade uninstall: {exc}", file=sys.stderr)
        return 2
    _print_report(report)
    if not args.dry_run and report.actions:
        print("Shade no longer starts at login and the browsers no longer find its native host. "
              "Your images, the to-post / ready / originals folders, settings and models were left alone.")
    return 0
