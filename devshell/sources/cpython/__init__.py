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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from devshell import names, platforms, say
from devshell.errors import FetchError
from devshell.lock import LockedTool, tool_inputs_hash
from devshell.sources import BadOption, SourceBase
from devshell.sources.cpython.routes import Route, Unreachable, version_key
from devshell.sources.routes import choice
from devshell.spec import ToolSpec
from devshell.versions import parse_constraint

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
        version = choice.pick(
            f"tools.{tool.name}: no route has a CPython matching {tool.constraint!r}",
            parse_constraint(tool.constraint), plats, list(routes), skipped,
            hint="write a version one of them has; an older patch release may be in an older "
            'python-build-standalone release: [sources.cpython] release = "YYYYMMDD"',
        )
        entries, _ = choice.fill(version, plats, list(routes), skipped, "CPython")
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
                say.line(f"devshell: note: tools.{tool.name}: skipping {label}: {exc}")
    return routes, skipped
