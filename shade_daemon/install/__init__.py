"""Per-user installation of Shade: autostart at login, native-messaging host
registration for the browsers, the unpacked extension, and a record of exactly
what was written so ``shade uninstall`` can remove it.

The per-OS logic takes the OS as data (``InstallContext.os``), so the Linux,
macOS and Windows layouts are all tested on one machine in a temporary HOME.
"""

from .context import OS_NAMES, InstallContext, current_os
from .inspect import Finding, check_autostart, check_browsers
from .installer import InstallError, InstallOptions, Report, install, plan, record_path, uninstall

__all__ = [
    "OS_NAMES", "InstallContext", "current_os", "InstallError", "InstallOptions", "Report",
    "install", "plan", "record_path", "uninstall", "Finding", "check_autostart", "check_browsers",
]
