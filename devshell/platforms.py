"""Platform names, as Nix spells them: `<arch>-<os>`."""

from __future__ import annotations

import os
import sys

# Not `from typing import TYPE_CHECKING` (typing costs ~3 ms): this module is
# small enough for any path to import. Type checkers read the guarded import.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ALL", "fill", "host", "split"]

ALL = ("x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin")

_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def split(platform: str) -> tuple[str, str]:
    """`x86_64-linux` → (`x86_64`, `linux`)."""
    arch, _, system = platform.partition("-")
    return arch, system


def fill(template: str, platform: str, os_names: Mapping[str, str] | None = None,
         arch_names: Mapping[str, str] | None = None, **more: str) -> str:
    """`template` with `{os}`, `{arch}` (each through its name map: a vendor's
    `darwin`, npm's `x64`), `{platform}` and any `more` filled in; ValueError
    naming the first other `{placeholder}`."""
    arch, system = split(platform)
    values = {
        "os": (os_names or {}).get(system, system),
        "arch": (arch_names or {}).get(arch, arch),
        "platform": platform,
        **more,
    }
    out, rest = [], template
    while "{" in rest:
        before, _, after = rest.partition("{")
        key, closed, rest = after.partition("}")
        if not closed or key not in values:
            raise ValueError(f"unknown placeholder {{{key}}} in {template!r} "
                             f"(accepted: {', '.join('{' + k + '}' for k in values)})")
        out += [before, values[key]]
    out.append(rest)
    return "".join(out)


def host() -> str:
    """This machine's platform name, or `DEVSHELL_PLATFORM` when set (for tests
    and for preparing another platform's store)."""
    forced = os.environ.get("DEVSHELL_PLATFORM")
    if forced:
        return forced
    machine = os.uname().machine.lower()
    system = "darwin" if sys.platform == "darwin" else "linux"
    return f"{_ARCH.get(machine, machine)}-{system}"
