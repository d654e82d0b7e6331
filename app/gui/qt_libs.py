"""Before QApplication exists: are the system libraries of Qt's xcb (X11) plugin installed?

Without them Qt prints a plugin message and aborts the process, with no hint
of what to install. This check loads the same shared libraries first and names
the Debian/Ubuntu packages that provide the missing ones, in one line.
"""

from __future__ import annotations

import ctypes
import os
import sys

# soname -> Debian/Ubuntu package; what libqxcb.so and libQt6XcbQpa link or dlopen (Qt >= 6.5)
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
}


def needs_xcb(platform: str = sys.platform, environ: dict[str, str] | None = None) -> bool:
    """True when Qt will try the xcb plugin: Linux, and QT_QPA_PLATFORM unset or naming xcb."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux"):
        return False
    wanted = env.get("QT_QPA_PLATFORM", "").strip().lower()
    if wanted:
        return wanted.split(":")[0].split(";")[0] == "xcb"
    # unset: Qt 6 picks wayland under a Wayland session, else xcb
    return env.get("XDG_SESSION_TYPE", "").lower() != "wayland"


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_xcb_packages(loads=_loads) -> list[str]:
    """Debian/Ubuntu packages whose libraries cannot be loaded, in a stable order."""
    return [package for soname, package in XCB_LIBRARIES.items() if not loads(soname)]


def missing_libraries_message(platform: str = sys.platform, environ: dict[str, str] | None = None,
                              loads=_loads) -> str | None:
    """One line naming what to install, or None when nothing is missing (or xcb is not used)."""
    if not needs_xcb(platform, environ):
        return None
    missing = missing_xcb_packages(loads)
    if not missing:
        return None
    return (f"LiveMatte cannot open a window: Qt's X11 (xcb) plugin needs system libraries that are not installed. "
            f"On Debian/Ubuntu: sudo apt-get install {' '.join(missing)}")
