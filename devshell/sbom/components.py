"""A lock, for one platform, as what an SBOM lists: components and who needs whom.

Every tool is a component (its own artifact: the wheel of a Python
environment, the root package of an npm tree or of a Debian closure, a
vendor's archive), and so is every other file of its closure. The shell
depends on each tool; a tool on each part of its closure and on the tools it
runs on (`needs`). A file that two tools share (libc6 in two Debian
closures, one wheel in two environments) is one component both depend on.

Nothing here imports a format library: the writers (cyclonedx.py, spdx.py)
turn an Inventory into their documents. Everything comes from the lock
alone, so the same lock gives the same Inventory on any machine; licences
are not listed, since a lock records none (see the `sbom` command).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from devshell import integrity
from devshell import lock as lockfile
from devshell.lock import Artifact, Lock, LockedTool
from devshell.sbom import purls

__all__ = ["Component", "Inventory", "inventory", "lock_platforms"]


@dataclass(frozen=True)
class Component:
    """One file the lock pins: a tool's own artifact, or a part of a closure."""

    ref: str  # unique in the document: the purl, with a hash after `#` if two files share one
    name: str
    version: str
    purl: str
    hashes: tuple[tuple[str, str], ...]  # (algorithm, hex digest): sha256 or sha512
    url: str  # as the lock records it
    tool: str | None = None  # the tool this is the artifact of
    output: str | None = None  # that tool's store name


@dataclass(frozen=True)
class Inventory:
    shell: str
    platform: str
    lock_sha256: str  # of the lock's canonical bytes (devshell.lock.dumps)
    created: datetime | None  # from SOURCE_DATE_EPOCH; None: left out where a format allows
    components: tuple[Component, ...]  # sorted by ref
    tools: tuple[str, ...]  # refs of the tools' components: what the shell depends on
    depends: tuple[tuple[str, tuple[str, ...]], ...]  # ref → refs it depends on, both sorted
    missing: tuple[tuple[str, str], ...] = ()  # (tool, why) for tools not on this platform

    def component(self, ref: str) -> Component:
        return next(c for c in self.components if c.ref == ref)


def lock_platforms(lock: Lock) -> list[str]:
    """Every platform some tool of `lock` names, sorted."""
    return sorted({plat for tool in lock.tools for plat, _ in tool.platforms})


def _hashes(sri: str) -> tuple[tuple[str, str], ...]:
    algo, raw = integrity.parse(sri)
    return ((algo, raw.hex()),)


class _Collector:
    """Components by (purl, integrity), so a file shared by closures is one."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.found: dict[tuple[str, str], Component] = {}
        self.edges: dict[tuple[str, str], set[tuple[str, str]]] = {}

    def add(self, name: str, version: str, url: str, sri: str, tool: LockedTool | None = None,
            output: str | None = None) -> tuple[str, str]:
        purl = purls.purl(name, version, url, self.platform).to_string()
        key = (purl, sri)
        known = self.found.get(key)
        if known is None or (tool is not None and known.tool is None):
            # A tool's own artifact says which tool it is, even when a closure
            # listed the same file first (an npm tree lists its root package).
            self.found[key] = Component(
                ref="", name=name, version=version, purl=purl, hashes=_hashes(sri), url=url,
                tool=tool.name if tool else None, output=output)
        self.edges.setdefault(key, set())
        return key

    def depend(self, who: tuple[str, str], on: Iterable[tuple[str, str]]) -> None:
        self.edges[who].update(k for k in on if k != who)

    def refs(self) -> dict[tuple[str, str], str]:
        """Each component's ref: its purl, unless another file has the same
        purl; then the purl and `#` and the start of its hash."""
        by_purl: dict[str, int] = {}
        for purl, _ in self.found:
            by_purl[purl] = by_purl.get(purl, 0) + 1
        return {(purl, sri): purl if by_purl[purl] == 1
                else f"{purl}#{integrity.to_hex(sri)[:23]}"
                for purl, sri in self.found}


def inventory(lock: Lock, shell: str, platform: str, created: datetime | None) -> Inventory:
    """What `lock` pins for `platform`, for a shell named `shell`."""
    collector = _Collector(platform)
    tool_keys: dict[str, tuple[str, str]] = {}
    missing: list[tuple[str, str]] = []
    for tool in sorted(lock.tools, key=lambda t: t.name):
        artifact = tool.artifact(platform)
        if not isinstance(artifact, Artifact):
            missing.append((tool.name, artifact.reason if artifact is not None
                            else f"the lock has nothing for {platform}"))
            continue
        key = collector.add(tool.package or tool.name, tool.upstream_version, artifact.url,
                            artifact.integrity, tool, artifact.output)
        tool_keys[tool.name] = key
        collector.depend(key, [collector.add(p.name, p.version, p.url, p.integrity)
                               for p in artifact.closure])
    for tool in lock.tools:
        if tool.name in tool_keys:
            collector.depend(tool_keys[tool.name], [tool_keys[n] for n in tool.needs if n in tool_keys])
    refs = collector.refs()
    components = sorted((replace(c, ref=refs[k]) for k, c in collector.found.items()), key=lambda c: c.ref)
    depends = sorted((refs[k], tuple(sorted(refs[o] for o in on))) for k, on in collector.edges.items())
    return Inventory(
        shell=shell, platform=platform,
        lock_sha256=hashlib.sha256(lockfile.dumps(lock).encode()).hexdigest(),
        created=created, components=tuple(components),
        tools=tuple(sorted(refs[k] for k in tool_keys.values())),
        depends=tuple(depends), missing=tuple(missing),
    )
