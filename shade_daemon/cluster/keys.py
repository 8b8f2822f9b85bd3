"""API keys for ``shade serve``: from a file (one a line, ``#`` comments) and/or
``SHADE_API_KEYS`` (comma-separated). Only their SHA-256 digests leave this process, and a
request's key is checked against every digest in constant time."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Iterable, Mapping, Optional

from . import ClusterError

ENV_KEYS = "SHADE_API_KEYS"
MIN_KEY_LENGTH = 16


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def load_key_digests(keys_file: Optional[Path], env: Optional[Mapping[str, str]] = None) -> tuple[str, ...]:
    """Digests of every configured key; ClusterError when there is none (no anonymous access) or one is weak."""
    env = os.environ if env is None else env
    keys: list[str] = [k.strip() for k in env.get(ENV_KEYS, "").split(",") if k.strip()]
    if keys_file is not None:
        try:
            lines = Path(keys_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ClusterError(f"cannot read the API keys file {keys_file}: {exc.strerror or exc}") from None
        keys += [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not keys:
        raise ClusterError(f"shade serve needs API keys (it never serves anonymously): give --keys-file FILE "
                           f"(one key a line) or {ENV_KEYS}=KEY1,KEY2")
    short = [k for k in keys if len(k) < MIN_KEY_LENGTH]
    if short:
        raise ClusterError(f"{len(short)} API key(s) shorter than {MIN_KEY_LENGTH} characters; use long random ones "
                           "(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return tuple(sorted({digest(k) for k in keys}))


def key_allowed(given: Optional[str], digests: Iterable[str]) -> bool:
    """Whether ``given`` is one of the keys: every digest is compared, each in constant time."""
    if not given:
        return False
    mine = digest(given)
    found = False
    for d in digests:
        found |= hmac.compare_digest(mine, d)
    return found
