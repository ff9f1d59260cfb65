"""Spec (+ the previous lock) → Lock. The only step, with `fetch`, that talks
to the network; pins in the previous lock never move on their own."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from devshell import lock as lockfile
from devshell import sources
from devshell.errors import SpecError, UsageError
from devshell.home import Home
from devshell.lock import Lock, LockedTool, Unavailable
from devshell.spec import Spec, ToolSpec

if TYPE_CHECKING:
    from devshell.context import Context

__all__ = ["Change", "on_platforms", "resolve"]


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
        if self.old == self.new:
            return f"{self.tool}: {self.new}, with new artifacts"
        return f"{self.tool}: {self.old} → {self.new}"


def resolve(
    spec: Spec, previous: Lock | None, home: Home, update: Collection[str] = ()
) -> tuple[Lock, list[Change], list[str]]:
    """Lock every tool of `spec`; re-resolve only new or changed tools and the
    ones named in `update`. Returns the lock, what moved, and warnings.

    A tool whose spec entry did not change keeps its lock entry as it is, on
    whatever platforms both the spec and the lock name, and no upstream is
    asked about it: a platform the spec gained is resolved at the version
    already pinned; one it dropped is simply left out."""
    unknown = [name for name in update if spec.tool(name) is None]
    if unknown:
        raise UsageError(
            f"cannot update {', '.join(unknown)}: not in {spec.path.name}",
            hint="tools in the spec: " + (", ".join(t.name for t in spec.tools) or "none"),
        )
    from devshell import context

    ctx = context.for_spec(spec, home)  # this run's upstreams and caches
    plats = spec.shell.platforms
    done: dict[str, LockedTool] = {}
    started: list[str] = []

    def lock_one(name: str) -> LockedTool | None:
        """`name` locked (once): a tool another runs on (python, for a Python
        tool) is locked when that other first asks for it, so before it."""
        tool = spec.tool(name)
        if tool is None:
            return None
        if name in done:
            return done[name]
        if name in started:
            raise SpecError(f"{spec.path}: tools {' → '.join([*started[started.index(name):], name])} "
                            "run on each other", hint="remove one of them from [tools]")
        started.append(name)
        done[name] = _lock_tool(tool, previous, plats, update, ctx, lock_one)
        started.remove(name)
        return done[name]

    ctx.lock_with(lock_one)
    locked = [_sure(lock_one(t.name)) for t in spec.tools]
    _check_somewhere(spec, locked)
    _check_needs(spec, locked)
    _check_conflicts(spec, locked)
    new = Lock(lockfile.spec_hash(spec.resolution_inputs()), tuple(sorted(locked, key=lambda t: t.name)))
    return new, _changes(previous, new), _warnings(new)


def _lock_tool(tool: ToolSpec, previous: Lock | None, plats: tuple[str, ...],
               update: Collection[str], ctx: Context,
               lock_one: Callable[[str], LockedTool | None]) -> LockedTool:
    """One tool: resolved if it is new, changed, named in `update`, or runs
    on a tool whose lock entry moved (a Python tool whose python did); else
    its old entry, widened to platforms the spec gained."""
    old = previous.tool(tool.name) if previous else None
    if (old is None or tool.name in update
            or old.inputs != lockfile.tool_inputs_hash(tool.inputs())
            or any(_moved(previous.tool(need) if previous else None, lock_one(need))
                   for need in old.needs)):
        return on_platforms(sources.get(tool.source).resolve(tool, plats, ctx), plats)
    missing = tuple(p for p in plats if old.artifact(p) is None)
    if missing:
        old = _widen(tool, old, missing, ctx)
    return on_platforms(old, plats)


def _moved(before: LockedTool | None, now: LockedTool | None) -> bool:
    """Whether a tool's lock entry is not what the previous lock had, on a
    platform both name (one the spec gained is widened, not moved)."""
    if before is None or now is None:
        return before is not now
    return before.version != now.version or any(
        before.artifact(p) not in (None, a) for p, a in now.platforms)


def _sure(tool: LockedTool | None) -> LockedTool:
    assert tool is not None  # every tool of the spec is locked
    return tool


def on_platforms(tool: LockedTool, plats: tuple[str, ...]) -> LockedTool:
    """`tool` with exactly `plats`, in their order: the one place the lock's
    platform order (sorted, as read back from JSON) meets the spec's."""
    have = dict(tool.platforms)
    return replace(tool, platforms=tuple((p, have[p]) for p in plats))


def _widen(tool: ToolSpec, old: LockedTool, missing: tuple[str, ...], ctx: Context) -> LockedTool:
    """`old`, plus `missing` platforms resolved at the version it pins."""
    from devshell.errors import DevshellError

    pinned = replace(tool, constraint=old.upstream_version)
    try:
        more = sources.get(tool.source).resolve(pinned, missing, ctx)
    except DevshellError as exc:
        raise type(exc)(
            f"tools.{tool.name}: the lock pins {tool.name} {old.upstream_version}, which cannot be resolved "
            f"for {', '.join(missing)}: {exc.message}",
            hint=f"`devshell lock --update {tool.name}` moves it to the newest version "
            f"{tool.constraint!r} allows",
        ) from None
    if more.upstream_version != old.upstream_version:  # a source that does not honour an exact pin
        raise SpecError(
            f"tools.{tool.name}: the lock pins {tool.name} {old.upstream_version}, but "
            f"{', '.join(missing)} resolved to {more.upstream_version}",
            hint=f"`devshell lock --update {tool.name}` resolves every platform again",
        )
    return replace(old, platforms=old.platforms + more.platforms)


def _check_somewhere(spec: Spec, tools: list[LockedTool]) -> None:
    """A tool with nothing on any of the spec's platforms is not a lock, whatever
    the upstream said: fail with each platform's reason."""
    nowhere = [t for t in tools if all(isinstance(a, Unavailable) for _, a in t.platforms)]
    if not nowhere:
        return
    lines = [
        f"tools.{t.name}: {t.name} {t.version} runs on none of shell.platforms: "
        + "; ".join(a.reason if isinstance(a, Unavailable) else p for p, a in t.platforms)
        for t in nowhere
    ]
    raise SpecError(
        f"{spec.path}: " + "\n  ".join(lines),
        hint="add a platform it supports to shell.platforms, choose another version, "
        f"or remove it (`devshell remove {' '.join(t.name for t in nowhere)}`)",
    )


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
    """Every tool added, removed, moved to another version, or kept at its
    version with other artifacts (an upload replaced, a platform gained)."""
    before = {t.name: t for t in previous.tools} if previous else {}
    after = {t.name: t for t in new.tools}
    changes = []
    for name in sorted(before.keys() | after.keys()):
        old, now = before.get(name), after.get(name)
        if old is not None and now is not None and old.version == now.version:
            if _replaced(old, now):
                changes.append(Change(name, old.version, now.version))
            continue
        changes.append(Change(name, old.version if old else None, now.version if now else None))
    return changes


def _replaced(old: LockedTool, now: LockedTool) -> bool:
    """Does a platform both name get another artifact? (Platforms gained or
    dropped follow the spec's own edit, not the upstream.)"""
    before = dict(old.platforms)
    return any(p in before and before[p] != a for p, a in now.platforms)


def _warnings(new: Lock) -> list[str]:
    return [
        f"{tool.name} {tool.version} has nothing for {plat}: {artifact.reason}; "
        f"entering on {plat} will fail"
        for tool in new.tools
        for plat, artifact in tool.platforms
        if isinstance(artifact, Unavailable)
    ]
