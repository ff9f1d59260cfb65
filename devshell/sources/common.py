"""What every source does the same way: pick a version, shape an artifact."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from devshell.errors import SpecError
from devshell.lock import Artifact, Part, output_name, shape
from devshell.spec import ToolSpec
from devshell.versions import choose, parse_constraint

__all__ = ["artifact", "pick_version"]


def pick_version(tool: ToolSpec, candidates: Iterable[str], where: str) -> str:
    """The newest candidate the tool's constraint admits, or a SpecError that
    names the constraint, the upstream and the newest versions it has."""
    listed = list(candidates)
    chosen = choose(parse_constraint(tool.constraint), listed)
    if chosen is not None:
        return chosen
    newest = choose(parse_constraint("latest"), listed)
    raise SpecError(
        f"tools.{tool.name}: no version of {where} matches {tool.constraint!r}",
        hint=(f"the newest it has is {newest}; " if newest else "it lists no versions; ")
        + "change the version in devshell.toml",
    )


def artifact(
    name: str,
    version: str,
    *,
    url: str,
    integrity: str,
    size: int | None,
    format: str,
    strip: int | str,
    bin: tuple[str, ...],
    env: tuple[tuple[str, str], ...],
    closure: tuple[Part, ...] = (),
    fixups: tuple[str, ...] = (),
    index_verified: bool | None = None,
) -> Artifact:
    """An Artifact named by everything that shapes its output (with a closure,
    every part's integrity; the fix-ups applied, which the lock records) and by
    the rest of its name: the same rule the lock loader checks it against."""
    unnamed = Artifact(
        url=url, integrity=integrity, size=size, format=format, strip=strip, bin=bin,
        env=tuple(sorted(env)), output="", closure=closure, index_verified=index_verified,
        fixups=fixups,
    )
    return replace(unnamed, output=output_name(name, version, shape(unnamed)))
