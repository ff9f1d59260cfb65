"""What every route of the cpython source answers with, and the interpreter's
layout in an output (its programs, its environment), the same for all routes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devshell.lock import Artifact, Unavailable
from devshell.spec import ToolSpec

__all__ = ["Entries", "Route", "Unreachable", "layout", "plain_version", "version_key"]

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
    nothing: str = "no CPython"  # what it has when it lists nothing

    def has(self, plat: str, version: str) -> bool:
        return version in self.offers.get(plat, {})

    def says(self, plat: str | None = None) -> str:
        """What this route has (for `plat`, or anywhere), for an error."""
        if plat is not None and plat not in self.offers:
            return f"{self.label}: {self.why_not.get(plat, 'nothing for ' + plat)}"
        offers = [self.offers[plat]] if plat is not None else list(self.offers.values())
        listed = sorted({v for offer in offers for v in offer}, key=version_key)
        where = f" for {plat}" if plat is not None else ""
        return f"{self.label} has " + (", ".join(listed[-6:]) if listed else self.nothing) + where


def version_key(version: str) -> Any:
    from packaging.version import Version

    return Version(version)


def plain_version(text: str) -> bool:
    """`3.13.1`, `3.14.0rc1`: a CPython version, never a build's other name parts."""
    return re.fullmatch(r"3\.\d+\.\d+(?:(?:a|b|rc)\d+)?", text) is not None


def layout(tool: ToolSpec, prefix: str, version: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(bin, env) of an interpreter installed at `prefix` of its output ("" for
    python-build-standalone's, "usr" for Debian's), from the catalogue's python
    entry ({python}, {x} and {version} filled), the tool's own bin and env
    over it."""
    from devshell.sources.cpython.vendor import vendor

    x = ".".join(version.split(".")[:2])
    program = "/".join(filter(None, (prefix, "bin", f"python{x}")))

    def fill(text: str) -> str:
        return text.replace("{python}", program).replace("{x}", x).replace("{version}", version)

    entry = vendor()
    bins = tool.bin if tool.bin is not None else tuple(fill(b) for b in entry.bin)
    env = {k: fill(v) for k, v in entry.env} | dict(tool.env)
    return bins, tuple(sorted(env.items()))
