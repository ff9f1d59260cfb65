"""What a platform looks like to a Python resolver: the wheel tags it runs,
and the values of the environment markers (PEP 508) its interpreter has.

A lock is shared by a team, so a platform is the oldest machine it may meet,
not this one. Linux: glibc GLIBC_FLOOR (devshell.libc.FLOOR, what
python-build-standalone's builds run on too); a wheel that asks for a newer
glibc is never chosen, musllinux ones neither (the pinned Pythons link
glibc). macOS: MACOS_FLOOR (11.0, the first release on Apple silicon), with
universal2 wheels as packaging.tags lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging import tags

from devshell import libc, platforms

__all__ = ["GLIBC_FLOOR", "MACOS_FLOOR", "Target", "python_version", "target"]

GLIBC_FLOOR = libc.FLOOR
MACOS_FLOOR = (11, 0)

# The architectures each older manylinux name (devshell.libc.LEGACY) was defined for.
_LEGACY_ARCHS = {"manylinux2014": ("x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x"),
                 "manylinux2010": ("x86_64", "i686"), "manylinux1": ("x86_64", "i686")}
_MAC_ARCH = {"x86_64": "x86_64", "aarch64": "arm64"}
_SYSTEM = {"linux": ("linux", "Linux"), "darwin": ("darwin", "Darwin")}
_VERSION = re.compile(r"(?:[0-9]+:)?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?")


@dataclass(frozen=True)
class Target:
    """One platform with one Python: what pip is told to resolve for."""

    platform: str
    python: tuple[int, int, int]
    platform_tags: tuple[str, ...]  # best first

    @property
    def short(self) -> str:
        """`3.13`, as lib/python3.13 and the markers' python_version write it."""
        return f"{self.python[0]}.{self.python[1]}"

    @property
    def full(self) -> str:
        return ".".join(map(str, self.python))

    @property
    def abi(self) -> str:
        return f"cp{self.python[0]}{self.python[1]}"

    def markers(self) -> dict[str, str]:
        """The marker environment a CPython of this version has on this
        platform. platform_release and platform_version name one machine's
        kernel, which a shared lock cannot know: empty, as pex leaves them."""
        arch, system = platforms.split(self.platform)
        sys_platform, platform_system = _SYSTEM[system]
        machine = _MAC_ARCH[arch] if system == "darwin" else arch
        return {
            "implementation_name": "cpython",
            "implementation_version": self.full,
            "os_name": "posix",
            "platform_machine": machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": platform_system,
            "platform_version": "",
            "python_full_version": self.full,
            "python_version": self.short,
            "sys_platform": sys_platform,
        }


def python_version(version: str) -> tuple[int, int, int] | None:
    """The CPython release a `python` tool's locked version names: `3.13.5`,
    `3.13`, or a Debian package's `3.11.2-6+deb12u6`; None for anything else."""
    found = _VERSION.match(version)
    if found is None:
        return None
    major, minor, micro = found.groups()
    return int(major), int(minor), int(micro or 0)


def target(platform: str, python: tuple[int, int, int], glibc: tuple[int, int] = GLIBC_FLOOR) -> Target | None:
    """The resolver's view of `platform` with that Python, on the glibc floor
    `glibc` (devshell.libc); None for a platform devshell has no wheel tags for."""
    arch, system = platforms.split(platform)
    if system == "linux":
        plats = [f"manylinux_2_{minor}_{arch}" for minor in range(glibc[1], 4, -1)]
        plats += [f"{name}_{arch}" for name, archs in _LEGACY_ARCHS.items()
                  if arch in archs and libc.LEGACY[name] <= glibc]
    elif system == "darwin" and arch in _MAC_ARCH:
        plats = list(tags.mac_platforms(MACOS_FLOOR, _MAC_ARCH[arch]))
    else:
        return None
    return Target(platform, python, tuple(plats))
