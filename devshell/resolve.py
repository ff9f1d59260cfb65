"""Spec (+ the previous lock) → Lock. The only step, with `fetch`, that talks
to the network; pins in the previous lock never move on their own."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from devshell import lock as lockfile
from devshell import sources
from devshell.errors import SpecError, UsageError
from devshell.home import Home
from devshell.lock import Lock, LockedTool, Unavailable
from devshell.spec import Spec

__all__ = ["Change", "resolve"]


@dataclass(frozen=True)
class Change:
    tool: str
    old: str | None  # None: newly added
    new: str | None  # None: removed

    def describe(self) -> str:
        if self.old is None:
            return f"{self.tool}: added {self.new}"
        if self.new is None:
            return f"{self.tool}: removed {self.old}"
        return f"{self.tool}: {self.old} → {self.new}"


def resolve(
    spec: Spec, previous: Lock | None, home: Home, update: Collection[str] = ()
) -> tuple[Lock, list[Change], list[str]]:
    """Lock every tool of `spec`; re-resolve only new or changed tools and the
    ones named in `update`. Returns the lock, what moved, and warnings."""
    unknown = [name for name in update if spec.tool(name) is None]
    if unknown:
        raise UsageError(
            f"cannot update {', '.join(unknown)}: not in {spec.path.name}",
            hint="tools in the spec: " + (", ".join(t.name for t in spec.tools) or "none"),
        )
    locked: list[LockedTool] = []
    for tool in spec.tools:
        old = previous.tool(tool.name) if previous else None
        fresh = (
            old is not None
            and tool.name not in update
            and old.inputs == lockfile.tool_inputs_hash(tool.inputs())
            and tuple(p for p, _ in old.platforms) == spec.shell.platforms
        )
        if fresh and old is not None:
            locked.append(old)
        else:
            locked.append(sources.get(tool.source).resolve(tool, spec.shell.platforms, home))
    _check_needs(spec, locked)
    _check_conflicts(spec, locked)
    new = Lock(lockfile.spec_hash(spec.resolution_inputs()), tuple(sorted(locked, key=lambda t: t.name)))
    return new, _changes(previous, new), _warnings(new)


def _check_needs(spec: Spec, tools: list[LockedTool]) -> None:
    names = {t.name for t in tools}
    for tool in tools:
        for need in tool.needs:
            if need not in names:
                raise SpecError(
                    f"{spec.path}: tools.{tool.name}: {tool.name} runs on {need}, "
                    f"which the spec does not pin",
                    hint=f'add {need} to [tools], e.g. `devshell add {need}` or {need} = "latest"',
                )


def _check_conflicts(spec: Spec, tools: list[LockedTool]) -> None:
    for plat in spec.shell.platforms:
        owner: dict[str, str] = {}
        for tool in tools:
            artifact = tool.artifact(plat)
            if artifact is None or isinstance(artifact, Unavailable):
                continue
            for prog, _ in artifact.programs():
                if prog in owner and owner[prog] != tool.name:
                    raise SpecError(
                        f"{spec.path}: tools {owner[prog]} and {tool.name} both expose "
                        f"the program {prog!r} ({plat})",
                        hint=f"narrow one of them with bin = [...] so only one provides {prog!r}",
                    )
                owner[prog] = tool.name


def _changes(previous: Lock | None, new: Lock) -> list[Change]:
    before = {t.name: t.version for t in previous.tools} if previous else {}
    after = {t.name: t.version for t in new.tools}
    changes = []
    for name in sorted(before.keys() | after.keys()):
        if before.get(name) != after.get(name):
            changes.append(Change(name, before.get(name), after.get(name)))
    return changes


def _warnings(new: Lock) -> list[str]:
    return [
        f"{tool.name} {tool.version} has nothing for {plat}: {artifact.reason}; "
        f"entering on {plat} will fail"
        for tool in new.tools
        for plat, artifact in tool.platforms
        if isinstance(artifact, Unavailable)
    ]
