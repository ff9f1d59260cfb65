"""Platform names, as Nix spells them: `<arch>-<os>`."""

from __future__ import annotations

import os
import sys

__all__ = ["ALL", "host", "split"]

ALL = ("x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin")

_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def split(platform: str) -> tuple[str, str]:
    """`x86_64-linux` → (`x86_64`, `linux`)."""
    arch, _, system = platform.partition("-")
    return arch, system


def host() -> str:
    """This machine's platform name, or `DEVSHELL_PLATFORM` when set (for tests
    and for preparing another platform's store)."""
    forced = os.environ.get("DEVSHELL_PLATFORM")
    if forced:
        return forced
    machine = os.uname().machine.lower()
    system = "darwin" if sys.platform == "darwin" else "linux"
    return f"{_ARCH.get(machine, machine)}-{system}"
