"""Shade's native-messaging host: hands the daemon's URL and token to the Shade
extension, and to nothing else.

Browsers start this program (registered by ``shade install``) when the extension
calls ``runtime.connectNative`` / ``sendNativeMessage``. Requests: ``ping``, ``pair``
(the daemon's URL and token) and ``start`` (start the daemon if none answers, then pair). Messages travel both ways
as a 4-byte length in native byte order followed by that many bytes of UTF-8 JSON.

The browser names the caller on the command line: Chromium-family browsers pass
the caller's origin (``chrome-extension://ID/``) as the first argument (Windows
adds ``--parent-window=N``); Firefox passes the path of the host manifest, then
the add-on ID. Only the pinned Shade extension gets the token.

stdout carries frames only; diagnostics go to stderr, which browsers log.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Sequence
from urllib.parse import urlsplit

from . import __version__
from .extension_ids import CHROME_ORIGIN, FIREFOX_ADDON_ID

if TYPE_CHECKING:
    from .config import Paths

# Chrome refuses host->browser messages over 1 MiB; we never need more than a
# few hundred bytes either way, so anything big is a broken or hostile caller.
MAX_MESSAGE_BYTES = 1024 * 1024
_LENGTH = struct.Struct("=I")  # native byte order, as Chrome and Firefox use


class FramingError(ValueError):
    """The byte stream is not a valid native-messaging frame."""


def read_message(stream: BinaryIO) -> Any | None:
    """Read one framed JSON message; ``None`` at a clean end of input."""
    header = stream.read(_LENGTH.size)
    if not header:
        return None
    if len(header) < _LENGTH.size:
        raise FramingError("input ended inside a message length")
    (length,) = _LENGTH.unpack(header)
    if length > MAX_MESSAGE_BYTES:
        raise FramingError(f"message of {length} bytes is larger than the {MAX_MESSAGE_BYTES}-byte limit")
    body = stream.read(length)
    if len(body) < length:
        raise FramingError(f"input ended after {len(body)} of {length} message bytes")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FramingError(f"message is not UTF-8 JSON ({exc})") from None


def encode_message(message: Any) -> bytes:
    """Frame ``message`` as length + UTF-8 JSON."""
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_MESSAGE_BYTES:
        raise FramingError("reply is too large for native messaging")
    return _LENGTH.pack(len(body)) + body


def write_message(stream: BinaryIO, message: Any) -> None:
    stream.write(encode_message(message))
    stream.flush()


@dataclass(frozen=True)
class Caller:
    browser: str  # "chromium" | "firefox" | "unknown"
    identity: str  # the origin (Chromium) or add-on ID (Firefox); "" when unknown

    def describe(self) -> str:
        return self.identity or "an unidentified caller"


def identify_caller(argv: Sequence[str]) -> Caller:
    """Who started us, from the arguments the browser passed (argv without argv[0])."""
    args = [a for a in argv if not a.startswith("--parent-window=")]
    for arg in args:
        if arg.startswith("chrome-extension://"):
            return Caller("chromium", arg)
    if len(args) >= 2 and args[0].lower().endswith(".json"):
        return Caller("firefox", args[1])
    return Caller("unknown", "")


def _normal_origin(origin: str) -> str:
    return origin.rstrip("/").lower()


def is_shade_extension(caller: Caller, extra_origins: Sequence[str] = ()) -> bool:
    """True for the pinned Chrome origin, the Firefox add-on ID, or a
    chrome-extension:// origin the user added to ``allowed_origins``."""
    if caller.browser == "firefox":
        return caller.identity == FIREFOX_ADDON_ID
    if caller.browser == "chromium":
        allowed = {_normal_origin(CHROME_ORIGIN)}
        allowed |= {_normal_origin(o) for o in extra_origins if o.startswith("chrome-extension://")}
        return _normal_origin(caller.identity) in allowed
    return False


def daemon_url(paths: "Paths", port: int) -> tuple[str, bool]:
    """The daemon's URL from ``daemon.json`` (written while it runs), else the
    configured port. The flag says whether a running daemon was recorded."""
    from .runinfo import read_info

    info = read_info(paths)
    if info is not None:
        url = info.url.rstrip("/")
        parts = urlsplit(url)
        if parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.port:
            return url, True
    return f"http://127.0.0.1:{port}", False


def pairing_reply() -> dict[str, Any]:
    """Everything the extension needs to talk to the daemon."""
    from .config import Paths, load_settings
    from .token_store import load_token

    paths = Paths.resolve()
    settings = load_settings(paths=paths)
    url, running = daemon_url(paths, settings.port)
    token = load_token(settings, paths, create=True)
    port = urlsplit(url).port
    return {
        "ok": True, "url": url, "token": token, "pairing_code": f"shade:{port}:{token}",
        "daemon_running": running, "version": __version__,
    }


# How long "start" waits for a daemon it started to answer (it binds its port before it
# loads the model, so this is the interpreter's and the web stack's start-up).
START_WAIT_SECONDS = 30.0
START_LOG = "started-by-browser.log"


def _answers(url: str) -> bool:
    """Whether a Shade daemon answers at ``url`` (its unauthenticated health check)."""
    try:
        with urllib.request.urlopen(f"{url}/v1/health", timeout=2) as resp:      # noqa: S310 - loopback only
            return resp.status == 200
    except OSError:
        return False


def _spawn_daemon(log_path: "os.PathLike[str]") -> subprocess.Popen:
    """``shade daemon`` in its own session, so that it outlives this helper (the browser ends
    the helper once it has replied); its early output goes to a private log for the reason."""
    from .private import open_private

    log = open_private(log_path, exclusive=False)
    kwargs: dict[str, Any] = {"start_new_session": True}
    if os.name == "nt":
        kwargs = {"creationflags": subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP}
    with log:
        return subprocess.Popen([sys.executable, "-m", "shade_daemon", "daemon"], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, close_fds=True, **kwargs)


def start_reply(wait: float = START_WAIT_SECONDS) -> dict[str, Any]:
    """Start the daemon unless one answers, wait until it does, and pair with it (the
    extension's "Start Shade" button)."""
    from .config import Paths, load_settings
    from .runinfo import read_info

    paths = Paths.resolve().ensure()
    settings = load_settings(paths=paths)
    url, recorded = daemon_url(paths, settings.port)
    if recorded and _answers(url):
        return {**pairing_reply(), "started": False}
    log_path = paths.log_dir / START_LOG
    proc = _spawn_daemon(log_path)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        info = read_info(paths)
        if info is not None and info.pid == proc.pid and _answers(info.url.rstrip("/")):
            return {**pairing_reply(), "started": True}
        if proc.poll() is not None:
            said = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            return {"ok": False, "code": "start_failed",
                    "error": f"shade daemon exited with status {proc.returncode}: {said[-1] if said else 'no output'}"}
        time.sleep(0.2)
    return {"ok": False, "code": "start_failed",
            "error": f"shade daemon did not answer within {wait:g} s; its log is {paths.log_dir}"}


def handle(message: Any, caller: Caller, extra_origins: Sequence[str] = ()) -> dict[str, Any]:
    """The reply to one request from ``caller``."""
    if not is_shade_extension(caller, extra_origins):
        return {"ok": False, "error": f"Shade's native host only answers the Shade extension, not {caller.describe()}."}
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "ping":
        return {"ok": True, "type": "pong", "version": __version__}
    if kind not in ("pair", "start"):
        return {"ok": False, "error": f"unknown request type {kind!r}; this host understands 'pair', 'start' "
                                      "and 'ping'"}
    try:
        return pairing_reply() if kind == "pair" else start_reply()
    except Exception as exc:  # the reason goes to the extension, which shows it to the user
        return {"ok": False, "error": str(exc) or type(exc).__name__, "code": type(exc).__name__}


def _extra_origins() -> tuple[str, ...]:
    try:
        from .config import load_settings

        return tuple(load_settings().allowed_origins)
    except Exception:  # a broken config only loses the extra origins; pairing reports it
        return ()


def serve(argv: Sequence[str], stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Answer framed requests until the browser closes our input."""
    caller = identify_caller(argv)
    extra = _extra_origins() if caller.browser == "chromium" else ()
    while True:
        try:
            message = read_message(stdin)
        except FramingError as exc:
            print(f"shade-native-host: {exc}", file=sys.stderr)
            write_message(stdout, {"ok": False, "error": f"bad message: {exc}"})
            return 1
        if message is None:
            return 0
        write_message(stdout, handle(message, caller, extra))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    frames = sys.stdout.buffer
    # Anything else that prints (a library warning) must not corrupt the frames.
    sys.stdout = sys.stderr
    return serve(args, sys.stdin.buffer, frames)


if __name__ == "__main__":
    sys.exit(main())
