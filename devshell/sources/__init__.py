"""Sources: one module per kind of upstream, behind one protocol, in one table.

A source owns everything about its upstream: the keys of its `[tools]`
tables and of `[sources.NAME]`, its version syntax, listing versions,
resolving one version to per-platform artifacts, and turning the lock URLs it
writes (`NAME:<path>`) into fetchable ones. The spec parser, the spec editor
and the store know no source by name: they ask this table.

Adding a source is one module and one line in `REGISTRY`; a third-party
package adds one through the entry-point group `devshell.sources`
(`mysource = "my_package.module:MySource"`), with a class built on
`SourceBase`. Modules are imported only when their source is used.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from devshell.context import Context
    from devshell.lock import LockedTool
    from devshell.sources.locate import Upstreams
    from devshell.spec import ToolSpec

__all__ = [
    "ENTRY_POINT_GROUP",
    "REGISTRY",
    "BadOption",
    "Source",
    "SourceBase",
    "direct_names",
    "each_name",
    "for_scheme",
    "get",
    "known",
    "names",
    "owner_of_key",
]

ENTRY_POINT_GROUP = "devshell.sources"

#: source name → "module:Class"; modules are imported only when used.
REGISTRY = {
    "url": "devshell.sources.url:UrlSource",
    "pypi": "devshell.sources.pypi:PypiSource",
    "npm": "devshell.sources.npm:NpmSource",
    "deb": "devshell.sources.deb:DebSource",
    "cpython": "devshell.sources.cpython:CpythonSource",
    "routes": "devshell.sources.routes:RoutesSource",
}


class BadOption(ValueError):
    """A source's word on its part of the spec: the key under the tool (or
    under `[sources.NAME]`), what is wrong, and what would be right. The spec
    parser adds the file and the rest of the key path."""

    def __init__(self, key: str, what: str, hint: str | None = None) -> None:
        super().__init__(what)
        self.key = key
        self.what = what
        self.hint = hint


class Source(Protocol):
    """What every source is, as the rest of devshell sees it."""

    name: str
    #: whether a `[tools]` key `NAME:package` names this source's package
    direct: bool
    #: the keys of a tool's table this source reads, beyond the generic ones
    keys: tuple[str, ...]
    #: keys whose presence alone says a tool is this source's (url: "url")
    claims: tuple[str, ...]
    #: lock URL prefixes this source writes and `locate`s (`npm` for `npm:…`)
    schemes: tuple[str, ...]
    #: one line for the spec `devshell init` writes: how to name its packages
    example: str | None

    def check_version(self, constraint: str) -> None:
        """Raise BadOption("version", …) unless the constraint is one this
        source understands."""

    def check(self, tool: ToolSpec, table: Mapping[str, Any]) -> ToolSpec:
        """The tool with this source's options read from its table (raise
        BadOption for anything wrong)."""

    def settings(self, table: Mapping[str, Any]) -> Any:
        """`[sources.NAME]` as this source reads it (a frozen value with
        `inputs()`); called with {} when the spec has no such table."""

    def inputs(self, tool: ToolSpec) -> dict[str, Any]:
        """This source's part of what resolving `tool` reads (for hashing)."""

    def versions(self, tool: ToolSpec, ctx: Context) -> list[str]:
        """Every version the upstream offers for this tool, in any order."""

    def resolve(self, tool: ToolSpec, platforms: tuple[str, ...], ctx: Context) -> LockedTool:
        """Pick one version and pin it, with an artifact per platform."""

    def locate(self, rest: str, upstreams: Upstreams, scheme: str) -> str:
        """The URL to fetch for the lock URL `<scheme>:<rest>` (`scheme` is
        one of `schemes`: a source may write several, as deb does)."""


class SourceBase:
    """Defaults for a source: no options of its own, PEP 440-like versions,
    no settings, lock URLs that are plain http(s)."""

    name: ClassVar[str] = ""
    direct: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...]] = ()
    claims: ClassVar[tuple[str, ...]] = ()
    schemes: ClassVar[tuple[str, ...]] = ()
    example: ClassVar[str | None] = None

    def check_version(self, constraint: str) -> None:
        from devshell.versions import parse_constraint

        try:
            kind = parse_constraint(constraint).kind
        except ValueError as exc:
            raise BadOption(
                "version", str(exc),
                'accepted: an exact version "1.2.3", a prefix "20", a specifier ">=1.22,<1.24", '
                'or "latest"',
            ) from None
        if kind == "tag":
            raise BadOption("version", f"{constraint!r} is not a version",
                            "tags like this exist only on npm; write a version, a prefix or a range")

    def check(self, tool: ToolSpec, table: Mapping[str, Any]) -> ToolSpec:
        return tool

    def settings(self, table: Mapping[str, Any]) -> Any:
        if table:
            raise BadOption(next(iter(table)), f"the {self.name} source takes no settings")
        return None

    def inputs(self, tool: ToolSpec) -> dict[str, Any]:
        return {}

    def locate(self, rest: str, upstreams: Upstreams, scheme: str) -> str:
        raise NotImplementedError(f"the {self.name} source writes no {self.name}: URLs")


@functools.cache
def _entry_points() -> dict[str, str]:
    """Installed plug-in sources, read once per process (it is a table of
    what is installed, not per-run state)."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    """Every source this installation knows: the built-in ones in the
    table's order, then plug-ins (a built-in wins over a plug-in of its name)."""
    return list(each_name())


def each_name() -> Iterator[str]:
    """`names()`, one at a time: the installed packages are asked for
    plug-ins (about 15 ms) only once every built-in source has been passed."""
    yield from REGISTRY
    yield from sorted(n for n in _entry_points() if n not in REGISTRY)


def known(name: str) -> bool:
    """Whether a source called `name` exists (a built-in one costs no look at the plug-ins)."""
    return name in REGISTRY or name in _entry_points()


def get(name: str) -> Source:
    """The source called `name`; KeyError when there is none."""
    target = REGISTRY.get(name) or _entry_points()[name]
    module, _, cls = target.partition(":")
    source: Source = getattr(importlib.import_module(module), cls)()
    if not getattr(source, "name", ""):
        source.name = name
    return source


def direct_names() -> list[str]:
    """Sources whose packages a `[tools]` key may name directly (`pypi:NAME`)."""
    return [n for n in names() if get(n).direct]


def owner_of_key(key: str) -> str | None:
    """The source that reads tool key `key` (for "only url tools take …")."""
    return next((n for n in each_name() if key in get(n).keys), None)


def for_scheme(scheme: str) -> Source | None:
    """The source that writes lock URLs `scheme:…`, if any."""
    for name in each_name():
        source = get(name)
        if scheme in source.schemes:
            return source
    return None
