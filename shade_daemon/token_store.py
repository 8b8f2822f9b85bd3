"""Where the daemon's API token lives.

The token is 32 random bytes, base64url without padding (43 characters), kept in
the OS keyring under service "Shade", username "api-token". When no secure keyring
is usable the user must opt into the documented fallback, ``token_store = "file"``
(a 0600 file in the config dir); Shade never falls back to plain text on its own,
and it refuses keyring backends that are themselves plain-text files.
"""

from __future__ import annotations

import base64
import re
import secrets
from pathlib import Path

import keyring
import keyring.errors

from .config import Paths, Settings
from .private import write_private

SERVICE = "Shade"
USERNAME = "api-token"
TOKEN_FILE_NAME = "api-token"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")

# Backends that "work" but keep secrets in plain text or nowhere: never used silently.
_INSECURE_BACKENDS = {
    "keyring.backends.fail.Keyring": "no keyring backend is available",
    "keyring.backends.null.Keyring": "the keyring is disabled (null backend)",
    "keyrings.alt.file.PlaintextKeyring": "the only keyring found stores secrets in a plain-text file",
    "keyrings.alt.file.EncryptedKeyring": "the only keyring found asks for a password on a terminal",
}


class TokenStoreError(RuntimeError):
    """The token cannot be read or stored; the message says how to fix it."""


def new_token() -> str:
    """32 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def _backend_name(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__name__}"


def _backends(backend: object) -> list[object]:
    """The concrete backends behind a chainer (or the backend itself)."""
    inner = getattr(backend, "backends", None)
    if inner is not None and type(backend).__name__ == "ChainerBackend":
        return list(inner)
    return [backend]


def keyring_status() -> tuple[bool, str, str]:
    """(usable, backend name, message) for the OS keyring keyring would use now."""
    backend = keyring.get_keyring()
    concrete = _backends(backend)
    if not concrete:
        return False, _backend_name(backend), "no keyring backend is available"
    # A chainer writes to its highest-priority backend: that one decides.
    name = _backend_name(concrete[0])
    reason = _INSECURE_BACKENDS.get(name)
    if reason:
        return False, name, reason
    return True, name, f"using the OS keyring ({name})"


def _fix_hint(paths: Paths) -> str:
    return (
        "Fix: start or unlock your desktop's keyring (GNOME Keyring or KWallet on Linux; "
        "macOS Keychain and Windows Credential Manager work out of the box), "
        f"or opt into the file fallback by adding  token_store = \"file\"  to {paths.config_file} "
        "(or setting SHADE_TOKEN_STORE=file); the token is then kept in a file only you can read: "
        f"{paths.config_dir / TOKEN_FILE_NAME}."
    )


def _check(token: str, where: str) -> str:
    token = token.strip()
    if not _TOKEN_RE.match(token):
        raise TokenStoreError(f"the API token stored in {where} is malformed; replace it with `shade token --rotate`")
    return token


# --- keyring store -------------------------------------------------------------------------

def _keyring_get(paths: Paths) -> str | None:
    ok, name, message = keyring_status()
    if not ok:
        raise TokenStoreError(f"No usable OS keyring for Shade's API token: {message} ({name}). {_fix_hint(paths)}")
    try:
        return keyring.get_password(SERVICE, USERNAME)
    except keyring.errors.KeyringError as exc:
        raise TokenStoreError(f"The OS keyring ({name}) failed to read Shade's API token: {exc}. {_fix_hint(paths)}") from None


def _keyring_set(paths: Paths, token: str) -> None:
    try:
        keyring.set_password(SERVICE, USERNAME, token)
    except keyring.errors.KeyringError as exc:
        name = _backend_name(keyring.get_keyring())
        raise TokenStoreError(f"The OS keyring ({name}) failed to store Shade's API token: {exc}. {_fix_hint(paths)}") from None


# --- file store (explicit opt-in) --------------------------------------------------------

def token_file(paths: Paths) -> Path:
    return paths.config_dir / TOKEN_FILE_NAME


def _file_get(paths: Paths) -> str | None:
    path = token_file(paths)
    try:
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TokenStoreError(f"cannot read the API token file {path}: {exc}") from None


def _file_set(paths: Paths, token: str) -> None:
    """Write atomically with mode 0600 from the first byte on."""
    path = token_file(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_private(path, token + "\n")
    except OSError as exc:
        raise TokenStoreError(f"cannot write the API token file {path}: {exc}") from None


# --- public API ----------------------------------------------------------------------------

def load_token(settings: Settings, paths: Paths, create: bool = True) -> str:
    """The API token; generated and stored on first use when ``create``."""
    if settings.token_store == "file":
        get, put, where = _file_get, _file_set, str(token_file(paths))
    else:
        get, put, where = _keyring_get, _keyring_set, f"the OS keyring (service {SERVICE!r})"
    token = get(paths)
    if token:
        return _check(token, where)
    if not create:
        raise TokenStoreError("no API token yet: start the daemon once (`shade daemon`) or run `shade token`")
    token = new_token()
    put(paths, token)
    return token


def rotate_token(settings: Settings, paths: Paths) -> str:
    """Replace the token; clients (the extension) need the new pairing code afterwards."""
    token = new_token()
    if settings.token_store == "file":
        _file_set(paths, token)
    else:
        _keyring_get(paths)  # raises with the fix when no keyring is usable
        _keyring_set(paths, token)
    return token


def pairing_code(port: int, token: str) -> str:
    """What the user pastes into the extension's options."""
    return f"shade:{port}:{token}"
