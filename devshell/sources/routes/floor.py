"""The glibc floor on routes whose builds carry no tag saying what they need.

A wheel's manylinux tag says which glibc it needs (the pypi route keeps to
the floor by it); a vendor's tarball says nothing, so the catalogue does
(`glibc = { "18.0.0" = "2.28" }` on node's official builds). A version whose
Linux build needs more than the spec's floor is not that route's to give
there; a later route may still have it, else the platform is unavailable and
says why. What a route does give records what it needs, so realising on an
older host is refused in one line (devshell.project), as for wheels.
"""

from __future__ import annotations

from dataclasses import replace

from devshell import catalog, libc, platforms
from devshell.lock import Artifact
from devshell.sources.routes.choice import Entries, Route, version_key
from devshell.spec import ToolSpec

__all__ = ["keep_to_floor"]


def keep_to_floor(tool: ToolSpec, entry: catalog.RouteEntry, route: Route) -> Route:
    if not entry.glibc:
        return route
    floor = tool.glibc or libc.FLOOR
    for plat, offer in list(route.offers.items()):
        if platforms.split(plat)[1] != "linux":
            continue
        past = {v: need for v in offer if (need := entry.glibc_for(v)) is not None and need > floor}
        if past:
            route.offers[plat] = {v: m for v, m in offer.items() if v not in past}
            ordered = sorted(past, key=version_key)
            which = (f"build of {ordered[0]} needs" if len(ordered) == 1
                     else f"builds of {ordered[0]} to {ordered[-1]} need")
            route.held[plat] = (f"its Linux {which} glibc {libc.shown(max(past.values()))}, past the floor "
                                f"{libc.shown(floor)}: raise [shell] glibc to take them")
    given = route.fill

    def fill(version: str, mine: tuple[str, ...]) -> Entries:
        out = given(version, mine)
        need = entry.glibc_for(version)
        if need is None:
            return out
        return {p: replace(a, glibc=libc.shown(need))
                if isinstance(a, Artifact) and platforms.split(p)[1] == "linux" else a for p, a in out.items()}

    route.fill = fill
    return route
