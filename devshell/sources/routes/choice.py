"""Choosing among routes: one version on every platform, each platform filled
by the first route (in the catalogue's order) that has exactly that version.

A route is one way to an upstream (a package index's wheels, an npm
registry's platform packages, a vendor's download site). Each answers with a
`Route`: per platform, the versions it has and what filling one needs. The
version is the newest the constraint admits that some route has, preferring
one that covers most of the platforms any route serves; a route that could
not be reached is skipped with a note; a platform no route fills is
`Unavailable`, with what each route said. The cpython source and the routes
source both choose this way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devshell.errors import SpecError
from devshell.lock import Artifact, Unavailable
from devshell.versions import Constraint, choose

__all__ = ["Entries", "Route", "Unreachable", "fill", "pick", "version_key"]

Entries = dict[str, Artifact | Unavailable]


class Unreachable(Exception):
    """A route whose upstream did not answer: skipped, with this note."""


@dataclass
class Route:
    """One route's offer: per platform, the versions it has and what `fill`
    needs to pin one of them there."""

    label: str
    #: platform → {version: what `fill` needs}; a platform absent: not served
    offers: dict[str, dict[str, Any]]
    fill: Callable[[str, tuple[str, ...]], Entries]
    why_not: dict[str, str] = field(default_factory=dict)  # platform → why it is not served
    nothing: str = "no version"  # what it has when it lists nothing
    held: dict[str, str] = field(default_factory=dict)  # platform → versions it has but may not give there

    def has(self, plat: str, version: str) -> bool:
        return version in self.offers.get(plat, {})

    def says(self, plat: str | None = None) -> str:
        """What this route has (for `plat`, or anywhere), for an error."""
        if plat is not None and plat not in self.offers:
            return f"{self.label}: {self.why_not.get(plat, 'nothing for ' + plat)}"
        offers = [self.offers[plat]] if plat is not None else list(self.offers.values())
        listed = sorted({v for offer in offers for v in offer}, key=version_key)
        where = f" for {plat}" if plat is not None else ""
        held = [self.held[plat]] if plat in self.held else [] if plat is not None else sorted(set(self.held.values()))
        return (f"{self.label} has " + (", ".join(listed[-6:]) if listed else self.nothing) + where
                + "".join(f" ({note})" for note in held))


def version_key(version: str) -> Any:
    from packaging.version import Version

    return Version(version)


def pick(what: str, constraint: Constraint, plats: tuple[str, ...], routes: list[Route],
         skipped: list[tuple[str, str]], hint: str) -> str:
    """The newest admitted version that, on every platform some route serves
    with an admitted version, some route has; failing that, the one that
    covers most of them. `what` begins the error when there is none
    ("tools.node: no route has a Node.js matching '20'"), `hint` says what to do."""
    every = {v for r in routes for offer in r.offers.values() for v in offer}
    admitted = [v for v in every if choose(constraint, [v]) == v]
    if constraint.kind == "latest" and any(not version_key(v).is_prerelease for v in admitted):
        admitted = [v for v in admitted if not version_key(v).is_prerelease]
    servable = [p for p in plats if any(r.has(p, v) for r in routes for v in admitted)]
    if not servable:
        said = [r.says() for r in routes] + [f"{label} was not reached ({why})" for label, why in skipped]
        raise SpecError(f"{what}: " + "; ".join(said), hint=hint)

    def covered(v: str) -> int:
        return sum(any(r.has(p, v) for r in routes) for p in servable)

    return max(admitted, key=lambda v: (covered(v), version_key(v)))


def fill(version: str, plats: tuple[str, ...], routes: list[Route], skipped: list[tuple[str, str]],
         what: str) -> tuple[Entries, dict[str, str]]:
    """Every platform's entry at `version`, from the first route that has it
    there, and the label of the route that filled each. What a lock records
    stays the same wherever it is made: an Unavailable names no host and no
    error text, only which route could not be reached."""
    entries: Entries = {}
    by: dict[str, str] = {}
    for route in routes:
        mine = tuple(p for p in plats if not isinstance(entries.get(p), Artifact) and route.has(p, version))
        if mine:
            for plat, entry in route.fill(version, mine).items():
                if not isinstance(entries.get(plat), Artifact):
                    entries[plat] = entry
                    by[plat] = route.label
    for plat in plats:
        if plat not in entries:
            said = [r.says(plat) for r in routes] + [f"{label} could not be reached when this was locked"
                                                     for label, _ in skipped]
            entries[plat] = Unavailable(f"no route has {what} {version} for {plat}: " + "; ".join(said))
    return entries, by
