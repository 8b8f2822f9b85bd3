"""Per-user Windows registry access, behind a small interface so the installer's
Windows logic can be tested anywhere: ``WinregWriter`` uses ``winreg`` on Windows,
``MemoryRegistry`` keeps the keys in a dict (tests, dry runs on other systems).

Keys are paths under HKEY_CURRENT_USER; only a key's default value is used, which
is all that native-messaging registration needs.
"""

from __future__ import annotations

from typing import Protocol


class RegistryWriter(Protocol):
    def get_default(self, key: str) -> str | None:
        """The key's default value, or None when the key does not exist."""

    def set_default(self, key: str, value: str) -> None:
        """Create the key (and its parents) and set its default value."""

    def delete_key(self, key: str) -> None:
        """Delete the key (it has no subkeys); no error when it is already gone."""


class MemoryRegistry:
    """An in-memory HKCU for tests and for planning on a non-Windows machine."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    @staticmethod
    def _norm(key: str) -> str:
        return key.strip("\\").lower()

    def get_default(self, key: str) -> str | None:
        return self.values.get(self._norm(key))

    def set_default(self, key: str, value: str) -> None:
        self.values[self._norm(key)] = value

    def delete_key(self, key: str) -> None:
        self.values.pop(self._norm(key), None)


class WinregWriter:
    """The real per-user registry (Windows only)."""

    def __init__(self) -> None:
        import winreg  # noqa: F401  (fails early off Windows)

    def get_default(self, key: str) -> str | None:
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
                value, _kind = winreg.QueryValueEx(handle, "")
                return str(value)
        except FileNotFoundError:
            return None

    def set_default(self, key: str, value: str) -> None:
        import winreg

        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE) as handle:
            winreg.SetValueEx(handle, "", 0, winreg.REG_SZ, value)

    def delete_key(self, key: str) -> None:
        import winreg

        try:
            winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)
        except FileNotFoundError:
            pass
