"""Per-user Windows registry access, behind a small interface so the installer's
Windows logic can be tested anywhere: ``WinregWriter`` uses ``winreg`` on Windows,
``MemoryRegistry`` keeps the keys in memory (tests, planning on other systems).

Keys are paths under HKEY_CURRENT_USER; only a key's default value is used, which
is all that native-messaging registration needs. ``set_default`` reports the keys
it had to create, so uninstall can remove those (when empty) and no others.
"""

from __future__ import annotations

from typing import Protocol


def _parts(key: str) -> list[str]:
    return [p for p in key.strip("\\").split("\\") if p]


def _prefixes(key: str) -> list[str]:
    parts = _parts(key)
    return ["\\".join(parts[: i + 1]) for i in range(len(parts))]


class RegistryWriter(Protocol):
    def get_default(self, key: str) -> str | None:
        """The key's default value, or None when the key or value does not exist."""

    def set_default(self, key: str, value: str) -> list[str]:
        """Create the key (and parents) and set its default value; return the keys created."""

    def delete_key(self, key: str) -> None:
        """Delete the key (it has no subkeys); no error when it is already gone."""

    def is_empty(self, key: str) -> bool:
        """True when the key exists with no subkeys and no values."""

    def exists(self, key: str) -> bool:
        """True when the key exists."""


class MemoryRegistry:
    """An in-memory HKCU for tests and for planning on a non-Windows machine."""

    def __init__(self, existing_keys: tuple[str, ...] = ()) -> None:
        self.keys: set[str] = set()
        self.values: dict[str, str] = {}
        for key in existing_keys:
            self.keys.update(self._norm(p) for p in _prefixes(key))

    @staticmethod
    def _norm(key: str) -> str:
        return key.strip("\\").lower()

    def get_default(self, key: str) -> str | None:
        return self.values.get(self._norm(key))

    def set_default(self, key: str, value: str) -> list[str]:
        created = [p for p in _prefixes(key) if self._norm(p) not in self.keys]
        self.keys.update(self._norm(p) for p in created)
        self.values[self._norm(key)] = value
        return created

    def delete_key(self, key: str) -> None:
        self.keys.discard(self._norm(key))
        self.values.pop(self._norm(key), None)

    def exists(self, key: str) -> bool:
        return self._norm(key) in self.keys

    def is_empty(self, key: str) -> bool:
        k = self._norm(key)
        return k in self.keys and k not in self.values and not any(o.startswith(k + "\\") for o in self.keys)


class WinregWriter:
    """The real per-user registry (Windows only)."""

    def __init__(self) -> None:
        import importlib

        importlib.import_module("winreg")  # fails early, and clearly, off Windows

    def get_default(self, key: str) -> str | None:
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
                value, _kind = winreg.QueryValueEx(handle, "")
                return str(value)
        except FileNotFoundError:
            return None

    def set_default(self, key: str, value: str) -> list[str]:
        import winreg

        created = []
        for prefix in _prefixes(key):
            try:
                winreg.OpenKey(winreg.HKEY_CURRENT_USER, prefix).Close()
            except FileNotFoundError:
                winreg.CreateKey(winreg.HKEY_CURRENT_USER, prefix).Close()
                created.append(prefix)
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE) as handle:
            winreg.SetValueEx(handle, "", 0, winreg.REG_SZ, value)
        return created

    def delete_key(self, key: str) -> None:
        import winreg

        try:
            winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)
        except FileNotFoundError:
            pass

    def exists(self, key: str) -> bool:
        import winreg

        try:
            winreg.OpenKey(winreg.HKEY_CURRENT_USER, key).Close()
            return True
        except FileNotFoundError:
            return False

    def is_empty(self, key: str) -> bool:
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
                subkeys, values, _modified = winreg.QueryInfoKey(handle)
                return subkeys == 0 and values == 0
        except FileNotFoundError:
            return False
