"""The C library floor of Linux platforms.

A lock is shared by a team, so a Linux platform is the oldest glibc it may
meet: FLOOR (2.28, manylinux_2_28's: Debian 10, Ubuntu 20.04, RHEL 8 and
everything since, and what Node.js's own builds need from node 18) unless the
spec says otherwise (`[shell] glibc = "2.17"` down to manylinux2014's, for
RHEL 7 and its kin; higher to take newer builds). An artifact that needs a newer glibc is not chosen when locking;
the glibc an artifact needs is read from the manylinux tags of its wheels
(PEP 600 and its legacy aliases). Realising one on a host older than that is
refused in one line, before anything is fetched.
"""

from __future__ import annotations

import os
import re

__all__ = ["FLOOR", "LEGACY", "LOWEST", "host", "needs", "parse", "shown", "wheel_glibc"]

FLOOR = (2, 28)
#: The lowest floor a spec may ask for: manylinux2014's.
LOWEST = (2, 17)

#: PEP 600's aliases: the older manylinux names, and the glibc each means.
LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_TAG = re.compile(r"manylinux_(\d+)_(\d+)_[a-z0-9_]+|(manylinux1|manylinux2010|manylinux2014)_[a-z0-9_]+")
_VERSION = re.compile(r"2\.(\d{1,3})")


def parse(text: object) -> tuple[int, int]:
    """`"2.28"` → (2, 28); ValueError unless a glibc 2.N at or above LOWEST."""
    match = _VERSION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a glibc version such as \"2.28\"")
    version = (2, int(match[1]))
    if version < LOWEST:
        raise ValueError(f"{text!r} is below the lowest floor devshell supports ({shown(LOWEST)})")
    return version


def shown(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def wheel_glibc(platform_tag: str) -> tuple[int, int] | None:
    """The glibc one wheel platform tag asks for (None: not a manylinux tag)."""
    match = _TAG.fullmatch(platform_tag)
    if match is None:
        return None
    if match[3]:
        return LEGACY[match[3]]
    return int(match[1]), int(match[2])


def needs(url: str) -> tuple[int, int] | None:
    """The glibc the wheel at `url` needs: the least its tags ask for (a
    wheel runs where any of its tags does). None for anything else."""
    name = url.rsplit("/", 1)[-1]
    if not name.endswith(".whl"):
        return None
    parts = name[:-4].split("-")
    if len(parts) < 5:
        return None
    found = [g for tag in parts[-1].split(".") if (g := wheel_glibc(tag)) is not None]
    return min(found) if found else None


def host() -> tuple[int, int] | None:
    """This machine's glibc (DEVSHELL_HOST_GLIBC stands in for it in tests);
    None where there is none (macOS, musl)."""
    forced = os.environ.get("DEVSHELL_HOST_GLIBC")
    if forced:
        try:
            return parse(forced) if forced != "none" else None
        except ValueError:
            return None
    try:
        said = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):
        return None
    match = re.fullmatch(r"glibc (\d+)\.(\d+).*", said)
    return (int(match[1]), int(match[2])) if match else None
