"""The API token: keyring under service "Shade" / "api-token", explicit file fallback,
clear refusal when no secure keyring is usable (never a silent plain-text file)."""

from __future__ import annotations

import base64
import os
import stat
import sys

import keyring
import pytest
from keyring.backends import fail

from shade_daemon.token_store import (
    SERVICE,
    USERNAME,
    TokenStoreError,
    keyring_status,
    load_token,
    pairing_code,
    rotate_token,
    token_file,
)


def test_token_created_once_in_keyring(settings_paths, memory_keyring):
    settings, paths = settings_paths()
    token = load_token(settings, paths)
    assert len(token) == 43 and "=" not in token
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    assert memory_keyring.secrets[(SERVICE, USERNAME)] == token
    assert load_token(settings, paths) == token           # same one next time
    assert not token_file(paths).exists()                 # nothing written in plain text


def test_rotate_replaces_token(settings_paths, memory_keyring):
    settings, paths = settings_paths()
    old = load_token(settings, paths)
    new = rotate_token(settings, paths)
    assert new != old and load_token(settings, paths) == new


def test_no_create_says_how(settings_paths):
    settings, paths = settings_paths()
    with pytest.raises(TokenStoreError, match="shade daemon"):
        load_token(settings, paths, create=False)


def test_no_keyring_is_a_clear_error(settings_paths):
    keyring.set_keyring(fail.Keyring())
    ok, name, message = keyring_status()
    assert not ok and "fail" in name
    settings, paths = settings_paths()
    with pytest.raises(TokenStoreError) as err:
        load_token(settings, paths)
    text = str(err.value)
    assert 'token_store = "file"' in text and "SHADE_TOKEN_STORE=file" in text
    assert not token_file(paths).exists()


def test_plaintext_keyring_is_refused(settings_paths, tmp_path):
    from keyrings.alt.file import PlaintextKeyring

    kr = PlaintextKeyring()
    kr.file_path = str(tmp_path / "plain.cfg")
    keyring.set_keyring(kr)
    assert keyring_status()[0] is False
    settings, paths = settings_paths()
    with pytest.raises(TokenStoreError, match="plain-text"):
        load_token(settings, paths)
    assert not (tmp_path / "plain.cfg").exists()


def test_file_fallback_when_opted_in(settings_paths, memory_keyring):
    keyring.set_keyring(fail.Keyring())                   # no keyring at all: the file still works
    settings, paths = settings_paths(token_store="file")
    token = load_token(settings, paths)
    path = token_file(paths)
    assert path.read_text().strip() == token
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert rotate_token(settings, paths) != token
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 or sys.platform == "win32"


def test_malformed_token_is_reported(settings_paths, memory_keyring):
    memory_keyring.secrets[(SERVICE, USERNAME)] = "short"
    settings, paths = settings_paths()
    with pytest.raises(TokenStoreError, match="rotate"):
        load_token(settings, paths)


def test_pairing_code_format():
    assert pairing_code(47821, "a" * 43) == "shade:47821:" + "a" * 43


def test_chained_keyrings_judged_by_where_they_write(tmp_path):
    from keyring.backend import KeyringBackend
    from keyrings.alt.file import PlaintextKeyring

    from shadetest import MemoryKeyring

    plain = PlaintextKeyring()
    plain.file_path = str(tmp_path / "plain.cfg")

    class ChainerBackend(KeyringBackend):        # the shape of keyring.backends.chainer's
        priority = 10
        backends: list = []

        def get_password(self, service, username):
            return None

        def set_password(self, service, username, password):
            raise NotImplementedError

    secure_first = ChainerBackend()
    secure_first.backends = [MemoryKeyring(), plain]
    keyring.set_keyring(secure_first)
    ok, name, _ = keyring_status()
    assert ok and name.endswith("MemoryKeyring")
    plain_first = ChainerBackend()
    plain_first.backends = [plain, MemoryKeyring()]
    keyring.set_keyring(plain_first)
    ok, name, message = keyring_status()
    assert not ok and "plain-text" in message
