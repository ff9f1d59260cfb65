"""The second route: Debian's `python3.X-venv` and its closure, on Linux,
handed to the deb source (so venv and ensurepip come with the interpreter).
The suite is `[sources.cpython] suite`, else `[sources.deb]`'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devshell import platforms
from devshell.errors import DevshellError, FetchError, IntegrityError
from devshell.lock import Unavailable
from devshell.sources import common
from devshell.sources.cpython.routes import (
    Entries,
    Route,
    Unreachable,
    layout,
    plain_version,
)
from devshell.spec import ToolSpec
from devshell.versions import Constraint

if TYPE_CHECKING:
    from devshell.context import Context

__all__ = ["route"]


def route(tool: ToolSpec, plats: tuple[str, ...], ctx: Context, suite: str | None, constraint: Constraint) -> Route:
    """Which CPython versions (Debian's upstream versions) the suite has."""
    from debian.debian_support import Version

    from devshell import sources

    deb = sources.get("deb")

    def handed(minor: str, version: str, bins: tuple[str, ...] | None = None,
               env: tuple[tuple[str, str], ...] = ()) -> ToolSpec:
        spec = ToolSpec(name=tool.name, constraint=version, source="deb", package=f"python{minor}-venv",
                        bin=bins, env=env, settings=ctx.settings("deb") or deb.settings({}))
        return deb.check(spec, {"suite": suite} if suite else {})

    upstream: dict[str, tuple[str, str]] = {}  # CPython version → (minor, newest Debian version)
    minors = _minors(constraint)
    for minor in minors:
        try:
            listed = deb.versions(handed(minor, "latest"), ctx)
        except DevshellError as exc:
            # Unreachable, or no archive configured (off Debian): skipped.
            # Anything else (a suite the archive lacks, a Release its keys did
            # not sign) is an error.
            if (isinstance(exc, FetchError) and not isinstance(exc, IntegrityError)) or type(exc) is DevshellError:
                raise Unreachable(exc.message) from None
            raise
        for debian in listed:
            up = (Version(debian).upstream_version or "").replace("~", "")
            if up.startswith(minor + ".") and plain_version(up) and (
                    up not in upstream or Version(debian) > Version(upstream[up][1])):
                upstream[up] = (minor, debian)
    linux = [p for p in plats if platforms.split(p)[1] == "linux"]
    offers = {p: dict(upstream) for p in linux}

    def fill(version: str, mine: tuple[str, ...]) -> Entries:
        minor, debian = upstream[version]
        bins, env = layout(tool, "usr", version)
        locked = deb.resolve(handed(minor, debian, bins, env), mine, ctx)
        # Named by the CPython version: one version on every platform, whichever route.
        return {p: a if isinstance(a, Unavailable) else common.artifact(
            tool.name, version, url=a.url, integrity=a.integrity, size=a.size, format=a.format,
            strip=a.strip, bin=a.bin, env=a.env, closure=a.closure, fixups=a.fixups,
            index_verified=a.index_verified,
        ) for p, a in locked.platforms}

    return Route(f"Debian ({suite})" if suite else "Debian", offers, fill,
                 {p: "Debian packages run on Linux only" for p in plats if p not in linux},
                 f"no python{minors[0]}-venv" if len(minors) == 1 else "no python3.X-venv")


def _minors(constraint: Constraint) -> list[str]:
    """The `3.X` series a constraint can mean: one for `3.13` or `3.12.7`,
    every one Debian could have otherwise."""
    if constraint.kind == "version":
        parts = constraint.text.split(".")
        if len(parts) >= 2 and parts[1].isdigit():
            return [f"{parts[0]}.{parts[1]}"]
    return [f"3.{n}" for n in range(6, 40)]
