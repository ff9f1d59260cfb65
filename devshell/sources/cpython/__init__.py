"""The `cpython` source: a complete CPython interpreter, from the first of its
routes that has the pinned version, tried in a fixed order per platform.

1. python-build-standalone's `install_only` builds, on every platform
   (.vendor): the release's SHA256SUMS, through the user's `[mirrors]`.
2. Debian's `python3.X-venv` and its closure, on Linux (.debian), handed to
   the deb source.

A tool has one version on every platform: the newest the constraint admits
that some route has for each platform any route serves, each platform then
filled by the first route with exactly that version. A route that cannot be
reached is skipped with a note; a platform no route has is `Unavailable`, with
what each route said. The programs and environment every route exposes are
.routes; how a python-build-standalone output is filled, .fill.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from devshell import names, platforms
from devshell.errors import FetchError, SpecError
from devshell.lock import Artifact, LockedTool, Unavailable, tool_inputs_hash
from devshell.sources import BadOption, SourceBase
from devshell.sources.cpython.routes import Entries, Route, Unreachable, version_key
from devshell.spec import ToolSpec
from devshell.versions import Constraint, choose, parse_constraint

if TYPE_CHECKING:
    from devshell.context import Context
    from devshell.sources.locate import Upstreams

__all__ = ["CpythonSettings", "CpythonSource"]

_SETTINGS_KEYS = ("release", "suite")


@dataclass(frozen=True)
class CpythonSettings:
    """`[sources.cpython]`: the python-build-standalone release to read (None:
    the latest) and the Debian suite of the Debian route (None: `[sources.deb]`'s)."""

    release: str | None = None
    suite: str | None = None

    def inputs(self) -> dict[str, Any]:
        return {"release": self.release, "suite": self.suite}


class CpythonSource(SourceBase):
    """A pinned CPython, from python-build-standalone or Debian."""

    name = "cpython"
    schemes = ("cpython",)

    def settings(self, table: Mapping[str, Any]) -> CpythonSettings:
        for key, value in table.items():
            if key not in _SETTINGS_KEYS:
                import difflib

                close = difflib.get_close_matches(key, _SETTINGS_KEYS, n=1)
                raise BadOption(key, f"unknown key (accepted: {', '.join(_SETTINGS_KEYS)})",
                                f"did you mean {close[0]!r}?" if close else None)
            if not names.is_plain(value):
                raise BadOption(key, f"{value!r} is not a {'release tag' if key == 'release' else 'Debian suite'}",
                                'e.g. release = "20241016" (a python-build-standalone release) or '
                                'suite = "trixie"')
        return CpythonSettings(table.get("release"), table.get("suite"))

    def inputs(self, tool: ToolSpec) -> dict[str, Any]:
        return {"cpython": _settings(tool).inputs()}

    def locate(self, rest: str, upstreams: Upstreams, scheme: str = "cpython") -> str:
        from devshell.sources.cpython.vendor import mirror, vendor

        tag, _, name = rest.partition("/")
        if not names.is_plain(tag) or not names.is_plain(name):
            raise FetchError(f"cpython:{rest}: not a python-build-standalone release file",
                             hint="the lock was edited; restore it or run `devshell lock --update python`")
        return mirror(vendor().releases + tag + "/" + quote(name))

    def versions(self, tool: ToolSpec, ctx: Context) -> list[str]:
        routes, _ = _routes(tool, (platforms.host(),), ctx, quiet=True)
        return sorted({v for r in routes for offer in r.offers.values() for v in offer}, key=version_key)

    def resolve(self, tool: ToolSpec, plats: tuple[str, ...], ctx: Context) -> LockedTool:
        routes, skipped = _routes(tool, plats, ctx)
        version = _choose(tool, parse_constraint(tool.constraint), plats, routes, skipped)
        entries: Entries = {}
        for route in routes:
            mine = tuple(p for p in plats if not isinstance(entries.get(p), Artifact) and route.has(p, version))
            if mine:
                entries |= route.fill(version, mine)
        for plat in plats:
            if plat not in entries:
                # What a lock records stays the same wherever it is made: no
                # host, no error text, only which route could not be reached.
                said = [r.says(plat) for r in routes] + [f"{label} could not be reached when this was locked"
                                                         for label, _ in skipped]
                entries[plat] = Unavailable(f"no route has CPython {version} for {plat}: " + "; ".join(said))
        return LockedTool(
            name=tool.name, constraint=tool.constraint, source="cpython", version=version,
            inputs=tool_inputs_hash(tool.inputs()), platforms=tuple((p, entries[p]) for p in plats),
        )


def _settings(tool: ToolSpec) -> CpythonSettings:
    return tool.settings if isinstance(tool.settings, CpythonSettings) else CpythonSettings()


def _routes(tool: ToolSpec, plats: tuple[str, ...], ctx: Context,
            quiet: bool = False) -> tuple[list[Route], list[tuple[str, str]]]:
    """Every route that answered, in order, and (route, why) for each that did not."""
    from devshell.sources.cpython import debian, vendor

    settings = _settings(tool)
    constraint = parse_constraint(tool.constraint)
    builders: list[tuple[str, Callable[[], Route]]] = [
        ("python-build-standalone", lambda: vendor.route(tool, plats, ctx, settings.release)),
        ("Debian", lambda: debian.route(tool, plats, ctx, settings.suite, constraint)),
    ]
    routes: list[Route] = []
    skipped: list[tuple[str, str]] = []
    for label, build in builders:
        try:
            routes.append(build())
        except Unreachable as exc:
            skipped.append((label, str(exc)))
            if not quiet:
                print(f"devshell: note: tools.{tool.name}: skipping {label}: {exc}", file=sys.stderr)
    return routes, skipped


def _choose(tool: ToolSpec, constraint: Constraint, plats: tuple[str, ...], routes: list[Route],
            skipped: list[tuple[str, str]]) -> str:
    """The newest admitted version that, on every platform some route serves
    with an admitted version, some route has; failing that, the one that
    covers most of them."""
    every = {v for r in routes for offer in r.offers.values() for v in offer}
    admitted = [v for v in every if choose(constraint, [v]) == v]
    if constraint.kind == "latest" and any(not version_key(v).is_prerelease for v in admitted):
        admitted = [v for v in admitted if not version_key(v).is_prerelease]
    servable = [p for p in plats if any(r.has(p, v) for r in routes for v in admitted)]
    if not servable:
        said = [r.says() for r in routes] + [f"{label} was not reached ({why})" for label, why in skipped]
        raise SpecError(
            f"tools.{tool.name}: no route has a CPython matching {tool.constraint!r}: " + "; ".join(said),
            hint="write a version one of them has; an older patch release may be in an older "
            'python-build-standalone release: [sources.cpython] release = "YYYYMMDD"',
        )

    def covered(v: str) -> int:
        return sum(any(r.has(p, v) for r in routes) for p in servable)

    return max(admitted, key=lambda v: (covered(v), version_key(v)))
