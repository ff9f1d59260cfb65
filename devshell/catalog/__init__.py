"""The catalogue: friendly tool names → a source, a package name pattern per
platform, the programs to expose and the environment each needs.

It holds no hashes: those come from the upstream at lock time. The entries
live in `tools.toml` beside this file; adding a tool is adding a table there.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["Entry", "entries", "get", "search", "suggest"]


@dataclass(frozen=True)
class Entry:
    name: str
    source: str  # "pypi" | "npm" | "url"
    package: str  # may hold {os}/{arch} (npm platform packages) or be a url template
    description: str
    bin: tuple[str, ...] = ()  # paths in the output; {data} = a wheel's .data dir
    env: tuple[tuple[str, str], ...] = ()  # {out} = the output's store path
    os_names: tuple[tuple[str, str], ...] = ()
    arch_names: tuple[tuple[str, str], ...] = ()
    runtime: str | None = None  # "node": a JavaScript tool run by the pinned node
    checksums: str | None = None  # url tools: the vendor's SHA256SUMS template
    format: str | None = None
    strip: int | None = None

    def package_for(self, platform: str) -> str:
        from devshell import platforms

        return platforms.fill(self.package, platform, dict(self.os_names), dict(self.arch_names))


def _entry(name: str, data: dict[str, Any]) -> Entry:
    return Entry(
        name=name,
        source=data["source"],
        package=data.get("package", name),
        description=data.get("description", ""),
        bin=tuple(data.get("bin", ())),
        env=tuple(sorted(data.get("env", {}).items())),
        os_names=tuple(sorted(data.get("os", {}).items())),
        arch_names=tuple(sorted(data.get("arch", {}).items())),
        runtime=data.get("runtime"),
        checksums=data.get("checksums"),
        format=data.get("format"),
        strip=data.get("strip"),
    )


@cache
def entries() -> dict[str, Entry]:
    data = tomllib.loads((Path(__file__).parent / "tools.toml").read_text(encoding="utf-8"))
    return {name: _entry(name, table) for name, table in sorted(data.items())}


def get(name: str) -> Entry | None:
    return entries().get(name)


def suggest(name: str) -> list[str]:
    return difflib.get_close_matches(name, list(entries()), n=3)


def search(text: str) -> list[Entry]:
    """Entries whose name, package or description mention `text`."""
    needle = text.lower()
    return [
        e for e in entries().values()
        if needle in e.name.lower() or needle in e.package.lower() or needle in e.description.lower()
    ]
