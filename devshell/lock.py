"""devshell.lock: typed values, and the byte-deterministic JSON of DESIGN.md."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devshell import atomic, integrity
from devshell.errors import LockStaleError

__all__ = [
    "LOCK_NAME",
    "LOCK_VERSION",
    "Artifact",
    "Lock",
    "LockedTool",
    "Part",
    "Unavailable",
    "artifact_from_json",
    "dumps",
    "load",
    "output_name",
    "program",
    "spec_hash",
    "write",
]

LOCK_NAME = "devshell.lock"
LOCK_VERSION = 1


@dataclass(frozen=True)
class Part:
    """One more file an artifact is made of (a .deb of a package's closure)."""

    name: str
    version: str
    url: str
    integrity: str
    size: int | None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "version": self.version, "url": self.url,
                                "integrity": self.integrity}
        if self.size is not None:
            data["size"] = self.size
        return data


@dataclass(frozen=True)
class Artifact:
    """One tool on one platform: where to get it, how to check it, what it exposes."""

    url: str
    integrity: str
    size: int | None
    format: str
    strip: int | str  # a number of leading directories, or "auto"
    bin: tuple[str, ...]  # "path" (named by its basename) or "name=path", inside the output
    env: tuple[tuple[str, str], ...]  # `{out}` stands for the output's store path
    output: str
    closure: tuple[Part, ...] = ()  # deb: every other package unpacked into the same output
    index_verified: bool | None = None  # deb: was the archive's Release signature checked?

    def programs(self) -> list[tuple[str, str]]:
        """(program name, path inside the output) for every `bin` entry."""
        return [program(entry) for entry in self.bin]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "url": self.url,
            "integrity": self.integrity,
            "unpack": {"format": self.format, "strip": self.strip},
            "bin": list(self.bin),
            "env": dict(self.env),
            "output": self.output,
        }
        if self.size is not None:
            data["size"] = self.size
        if self.closure:
            data["closure"] = [p.to_json() for p in self.closure]
        if self.index_verified is not None:
            data["index-verified"] = self.index_verified
        return data


def program(entry: str) -> tuple[str, str]:
    """A `bin` entry → (name, path): `"bin/node"` → node; `"prettier=bin/prettier.cjs"`."""
    name, sep, path = entry.partition("=")
    if sep:
        return name, path
    return entry.rsplit("/", 1)[-1], entry


@dataclass(frozen=True)
class Unavailable:
    """The upstream has nothing for this platform; entering there fails clearly."""

    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"unavailable": self.reason}


@dataclass(frozen=True)
class LockedTool:
    name: str
    constraint: str
    source: str
    version: str
    inputs: str  # hash of the tool's spec entry: a changed entry is re-resolved
    platforms: tuple[tuple[str, Artifact | Unavailable], ...]
    package: str | None = None  # the upstream's package name, when not the tool's
    needs: tuple[str, ...] = ()  # other tools of the spec it runs on (e.g. node)

    def artifact(self, platform: str) -> Artifact | Unavailable | None:
        return dict(self.platforms).get(platform)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "constraint": self.constraint,
            "source": self.source,
            "version": self.version,
            "inputs": self.inputs,
            "platforms": {p: a.to_json() for p, a in self.platforms},
        }
        if self.package is not None:
            data["package"] = self.package
        if self.needs:
            data["needs"] = list(self.needs)
        return data


@dataclass(frozen=True)
class Lock:
    spec_hash: str
    tools: tuple[LockedTool, ...]

    def tool(self, name: str) -> LockedTool | None:
        return next((t for t in self.tools if t.name == name), None)


def _sha256_sri(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return integrity.sri("sha256", hashlib.sha256(canonical.encode()).digest())


def spec_hash(resolution_inputs: dict[str, Any]) -> str:
    return _sha256_sri(resolution_inputs)


def tool_inputs_hash(inputs: dict[str, Any]) -> str:
    return _sha256_sri(inputs)


def output_name(name: str, version: str, shape: dict[str, Any]) -> str:
    """`<digest>-<name>-<version>`: digest over everything that shapes the output.

    A Debian epoch's `:` becomes `_`, so store paths can sit in `:`-separated
    variables (PATH, PERL5LIB, TERMINFO_DIRS)."""
    return f"{integrity.digest_of(shape)}-{name}-{version.replace(':', '_')}"


def dumps(lock: Lock) -> str:
    data = {
        "lock-version": LOCK_VERSION,
        "spec-hash": lock.spec_hash,
        "tools": {t.name: t.to_json() for t in lock.tools},
    }
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: Path, lock: Lock) -> None:
    atomic.write_text(path, dumps(lock))


def load(path: Path) -> Lock | None:
    """The lock at `path`, or None when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return _from_json(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LockStaleError(
            f"{path}: not a valid devshell lock ({exc.__class__.__name__}: {exc})",
            hint="if it was edited by hand or half-merged, delete it and run `devshell lock`",
        ) from None


def artifact_from_json(a: dict[str, Any]) -> Artifact:
    integrity.parse(a["integrity"])
    return Artifact(
        url=str(a["url"]),
        integrity=a["integrity"],
        size=a.get("size"),
        format=str(a["unpack"]["format"]),
        strip=a["unpack"]["strip"],
        bin=tuple(a["bin"]),
        env=tuple(sorted(a["env"].items())),
        output=str(a["output"]),
        closure=tuple(
            Part(str(p["name"]), str(p["version"]), str(p["url"]), str(p["integrity"]), p.get("size"))
            for p in a.get("closure", ())
        ),
        index_verified=a.get("index-verified"),
    )


def _from_json(data: dict[str, Any]) -> Lock:
    version = data["lock-version"]
    if version != LOCK_VERSION:
        raise ValueError(f"lock-version {version} is not supported (this devshell reads {LOCK_VERSION})")
    tools = []
    for name, t in data["tools"].items():
        plats: list[tuple[str, Artifact | Unavailable]] = []
        for plat, a in t["platforms"].items():
            if "unavailable" in a:
                plats.append((plat, Unavailable(str(a["unavailable"]))))
                continue
            plats.append((plat, artifact_from_json(a)))
        tools.append(LockedTool(
            name=name,
            constraint=str(t["constraint"]),
            source=str(t["source"]),
            version=str(t["version"]),
            inputs=str(t["inputs"]),
            platforms=tuple(plats),
            package=t.get("package"),
            needs=tuple(t.get("needs", ())),
        ))
    return Lock(spec_hash=str(data["spec-hash"]), tools=tuple(tools))
