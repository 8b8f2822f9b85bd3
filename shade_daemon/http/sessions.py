"""One-time login links and the dashboard's cookie sessions.

A link carries a random one-time code (never the API token); redeeming it on the Host it
was issued for creates a session: a random id sent back as an HttpOnly, SameSite=Strict,
host-only cookie, and a CSRF token the page gets inside its HTML and sends back in a
header with every state change. Codes live ``link_seconds``; sessions ``session_hours``.
Only hashes of codes and session ids are kept, in memory: a restart logs everyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

COOKIE = "shade_session"
CSRF_HEADER = "X-Shade-CSRF"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Session:
    key: str            # sha256 of the cookie value
    host: str           # the Host it was created on (127.0.0.1:PORT): it is valid there only
    csrf: str
    expires: float

    def csrf_ok(self, presented: Optional[str]) -> bool:
        return bool(presented) and hmac.compare_digest(presented.encode("utf-8", "surrogatepass"),
                                                        self.csrf.encode())


class Sessions:
    def __init__(self, link_seconds: float = 60.0, session_hours: float = 12.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.link_seconds = float(link_seconds)
        self.session_seconds = float(session_hours) * 3600
        self._clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[str, float]] = {}      # digest -> (host, expiry)
        self._sessions: dict[str, Session] = {}

    def _sweep(self, now: float) -> None:
        self._codes = {k: v for k, v in self._codes.items() if v[1] > now}
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}

    def issue_code(self, host: str) -> str:
        """A new one-time login code for ``host`` (any thread: the tray asks from its own)."""
        code = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._sweep(now)
            self._codes[_digest(code)] = (host.lower(), now + self.link_seconds)
        return code

    def redeem(self, code: str, host: str) -> Optional[tuple[str, Session]]:
        """(cookie value, session) for a live code presented on its own Host; the code is
        spent either way (a second use, an expired code or another Host gives None)."""
        with self._lock:
            now = self._clock()
            entry = self._codes.pop(_digest(code), None)
            if entry is None or entry[1] <= now or entry[0] != host.lower():
                return None
            value = secrets.token_urlsafe(32)
            session = Session(_digest(value), host.lower(), secrets.token_urlsafe(24), now + self.session_seconds)
            self._sessions[session.key] = session
            return value, session

    def find(self, cookie: Optional[str], host: str) -> Optional[Session]:
        """The live session this cookie names, when it was made on this Host."""
        if not cookie:
            return None
        with self._lock:
            session = self._sessions.get(_digest(cookie))
            if session is None or session.expires <= self._clock() or session.host != host.lower():
                return None
            return session

    def end(self, cookie: Optional[str]) -> None:
        if cookie:
            with self._lock:
                self._sessions.pop(_digest(cookie), None)

    def end_all(self) -> None:
        """Log everyone out and void unused login links (the API token was rotated: whatever
        was opened with the old one goes with it)."""
        with self._lock:
            self._sessions.clear()
            self._codes.clear()
