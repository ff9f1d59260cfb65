"""The catalogue: friendly tool names → a source (or several routes, each a
way to an upstream), a package name pattern per platform, the programs to
expose and the environment each needs.

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

__all__ = ["ROUTES", "Entry", "RouteEntry", "entries", "get", "search", "suggest"]

#: The source of a tool with `routes`: devshell.sources.routes.
ROUTES = "routes"


@dataclass(frozen=True)
class RouteEntry:
    """One of a tool's routes, as the catalogue writes it: `kind` (a source's
    name, or a vendor's kind: devshell.sources.routes.KINDS), its package (or
    URL template), the vendor's index and checksum file, the name maps, and
    the programs and environment this route's layout gives."""

    kind: str
    package: str
    bin: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    os_names: tuple[tuple[str, str], ...] = ()
    arch_names: tuple[tuple[str, str], ...] = ()
    index: str | None = None
    checksums: str | None = None
    base: str | None = None  # vendor routes: the directory lock URLs are relative to
    # The glibc this route's Linux builds need from a version on, as
    # (first version, glibc) pairs: Node.js's official builds need 2.28 from 18.
    glibc: tuple[tuple[str, str], ...] = ()

    def glibc_for(self, version: str) -> tuple[int, int] | None:
        """The glibc this route's Linux build of `version` needs, where the
        catalogue says (None: the build's own tags say, or nothing needs saying)."""
        from packaging.version import InvalidVersion, Version

        from devshell import libc

        try:
            have = Version(version)
        except InvalidVersion:
            return None
        met = [libc.parse(g) for first, g in self.glibc if have >= Version(first)]
        return max(met) if met else None


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
    # "go": the package's versions are the repackager's own; the tool's is
    # read from its program's Go build information (devshell.sources.goversion)
    own_version: str | None = None
    checksums: str | None = None  # url tools: the vendor's SHA256SUMS template
    format: str | None = None
    strip: int | None = None
    #: url tools: the vendor's version index, and its kind (devshell.sources.vendor_index)
    index: str | None = None
    index_kind: str | None = None
    #: several ways to the tool, tried in this order (source = "routes")
    routes: tuple[RouteEntry, ...] = ()

    def package_for(self, platform: str) -> str:
        from devshell import platforms

        return platforms.fill(self.package, platform, dict(self.os_names), dict(self.arch_names))


def _route(data: dict[str, Any]) -> RouteEntry:
    return RouteEntry(
        kind=data["kind"],
        package=data["package"],
        bin=tuple(data.get("bin", ())),
        env=tuple(sorted(data.get("env", {}).items())),
        os_names=tuple(sorted(data.get("os", {}).items())),
        arch_names=tuple(sorted(data.get("arch", {}).items())),
        index=data.get("index"),
        checksums=data.get("checksums"),
        base=data.get("base"),
        glibc=tuple(sorted(data.get("glibc", {}).items())),
    )


def _entry(name: str, data: dict[str, Any]) -> Entry:
    routes = tuple(_route(r) for r in data.get("routes", ()))
    first = routes[0] if routes else None
    return Entry(
        name=name,
        source=ROUTES if routes else data["source"],
        package=first.package if first else data.get("package", name),
        description=data.get("description", ""),
        bin=first.bin if first else tuple(data.get("bin", ())),
        env=first.env if first else tuple(sorted(data.get("env", {}).items())),
        os_names=tuple(sorted(data.get("os", {}).items())),
        arch_names=tuple(sorted(data.get("arch", {}).items())),
        runtime=data.get("runtime"),
        checksums=data.get("checksums"),
        format=data.get("format"),
        strip=data.get("strip"),
        index=data.get("index", {}).get("url"),
        index_kind=data.get("index", {}).get("kind"),
        routes=routes,
        own_version=data.get("own-version"),
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
