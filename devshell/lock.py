"""devshell.lock: typed values, and the byte-deterministic JSON of DESIGN.md.

A lock comes from a repository, so it is read as hostile: every field is
checked against devshell.names before it can become a path, and every
artifact's `output` must be the name its own fields give (a hand-edited lock
must not realise its bytes under the name of another, legitimate output).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from devshell import atomic, integrity, names
from devshell.errors import LockStaleError

__all__ = [
    "FORMATS",
    "LOCK_NAME",
    "LOCK_VERSION",
    "Artifact",
    "Lock",
    "LockedTool",
    "Part",
    "Unavailable",
    "artifact_from_json",
    "check_url",
    "dumps",
    "load",
    "output_name",
    "program",
    "shape",
    "spec_hash",
    "upstream_scheme",
    "write",
]

LOCK_NAME = "devshell.lock"
#: 2: output digests cover the name and version too, and deb artifacts record
#: their fix-ups. Version 1 locks are read and migrated in memory.
LOCK_VERSION = 2
#: How an artifact is unpacked: devshell.store.unpack's formats, and the deb closure.
FORMATS = ("tar.gz", "tgz", "tar.xz", "tar.bz2", "tar.zst", "zip", "binary", "deb")
# devshell.sources.deb.FIXUPS while lock-version 1 was current: what a v1 deb
# artifact's output had done to it, so its migrated name is the one a re-lock gives.
_V1_DEB_FIXUPS = ("relocate-elf-1",)
#: Lock URLs that name an upstream, not a host (devshell.sources.locate resolves them).
_SCHEME = re.compile(r"[a-z][a-z0-9-]{0,31}")


@dataclass(frozen=True)
class Part:
    """One more file an artifact is made of (a .deb of a package's closure, a
    wheel of an environment, a package of a node_modules tree)."""

    name: str
    version: str
    url: str
    integrity: str
    size: int | None
    path: str | None = None  # where in the output it is unpacked (an npm tree's `node_modules/…`)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "version": self.version, "url": self.url,
                                "integrity": self.integrity}
        if self.size is not None:
            data["size"] = self.size
        if self.path is not None:
            data["path"] = self.path
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
    fixups: tuple[str, ...] = ()  # what realising does beyond unpacking (deb: relocation)
    # The glibc it needs, where its URL does not say (a wheel's tags do):
    # a vendor build the catalogue knows is built on a newer glibc than the floor.
    glibc: str | None = None

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
        if self.fixups:
            data["fixups"] = list(self.fixups)
        if self.glibc is not None:
            data["glibc"] = self.glibc
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
    # The upstream package's version, when the tool's own differs (shfmt-py
    # 4.2.0 is shfmt 3.14.1): what the constraint and the upstream speak of.
    package_version: str | None = None

    def artifact(self, platform: str) -> Artifact | Unavailable | None:
        return dict(self.platforms).get(platform)

    @property
    def upstream_version(self) -> str:
        """The version as the upstream numbers it: what pins and constraints name."""
        return self.package_version or self.version

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
        if self.package_version is not None:
            data["package-version"] = self.package_version
        return data


@dataclass(frozen=True)
class Lock:
    spec_hash: str
    tools: tuple[LockedTool, ...]
    #: The lock-version of the file it was read from; `dumps` always writes LOCK_VERSION.
    lock_version: int = field(default=LOCK_VERSION, compare=False)

    def tool(self, name: str) -> LockedTool | None:
        return next((t for t in self.tools if t.name == name), None)


def _sha256_sri(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return integrity.sri("sha256", hashlib.sha256(canonical.encode()).digest())


def spec_hash(resolution_inputs: dict[str, Any]) -> str:
    return _sha256_sri(resolution_inputs)


def tool_inputs_hash(inputs: dict[str, Any]) -> str:
    return _sha256_sri(inputs)


def shape(artifact: Artifact) -> dict[str, Any]:
    """Everything of an artifact that decides the bytes of its output: its
    hashes (a closure's too), the unpack recipe, the programs and the fix-ups."""
    data: dict[str, Any] = {
        "integrity": artifact.integrity, "format": artifact.format, "strip": artifact.strip,
        "bin": list(artifact.bin), "fixups": list(artifact.fixups),
    }
    if artifact.closure:
        data["closure"] = [p.integrity for p in artifact.closure]
        if any(p.path is not None for p in artifact.closure):  # where each goes decides the bytes too
            data["closure-paths"] = [p.path for p in artifact.closure]
    return data


def output_name(name: str, version: str, shape: dict[str, Any]) -> str:
    """`<digest>-<name>-<version>`: the digest covers the shape of the output
    *and the rest of the name*, as Nix's store paths do, so two outputs that
    differ only by name (the same archive pinned as 1.0 and as 2.0) never share
    a digest, nor anything keyed by it.

    A Debian epoch's `:` becomes `_`, so store paths can sit in `:`-separated
    variables (PATH, PERL5LIB, TERMINFO_DIRS)."""
    digest = integrity.digest_of({"name": name, "version": version, "shape": shape})
    return f"{digest}-{name}-{version.replace(':', '_')}"


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
    """The lock at `path`, or None when there is none; every field checked."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockStaleError(f"{path}: cannot be read: {exc}") from None
    hint = ("if it was edited by hand or half-merged, restore it from version control, "
            "or delete it and run `devshell lock`")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LockStaleError(f"{path}: not a valid devshell lock (not JSON: {exc})", hint=hint) from None
    try:
        return _from_json(data)
    except _Invalid as exc:
        raise LockStaleError(f"{path}: not a valid devshell lock: {exc}", hint=hint) from None


class _Invalid(ValueError):
    """A field of a lock (or a manifest's artifact) that cannot be trusted:
    `where` is its key path (tools.NAME.platforms.PLATFORM.FIELD)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)


def _shown(key: str) -> str:
    """A key as it appears in a key path: plain keys as they are, others quoted."""
    return key if names.is_plain(key) else repr(key)


def _get(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise _Invalid(where, f"{key!r} is missing")
    return table[key]


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(where, f"want a table, found {type(value).__name__}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or "\0" in value:
        raise _Invalid(where, f"want a string without NUL, found {value!r}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid(where, f"want a list, found {type(value).__name__}")
    return value


def _size(value: Any, where: str) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise _Invalid(where, f"want a number of bytes (a whole number, at least 0), found {value!r}")
    return value


def _checked(where: str, check: Any, value: Any, *what: str) -> str:
    """`check(value, *what)` from devshell.names, its ValueError given a place."""
    try:
        result: str = check(value, *what)
    except ValueError as exc:
        raise _Invalid(where, str(exc)) from None
    return result


def _known_format(fmt: object) -> bool:
    """Whether the store has a filler for unpack format `fmt`: its table
    (devshell.store.formats, where `pyenv` and `cpython` sit beside the
    archives), or an installed package's entry point (`devshell.formats`)."""
    if not names.is_plain(fmt):
        return False
    from importlib.metadata import entry_points

    from devshell.store import formats

    return str(fmt) in formats.REGISTRY or any(
        True for _ in entry_points(group=formats.ENTRY_POINT_GROUP, name=str(fmt)))


def upstream_scheme(url: str) -> str | None:
    """`npm` for `npm:<path>`: a URL naming an upstream by the source that
    wrote it, not by a host (None for http(s))."""
    if url.startswith(("http://", "https://")):
        return None
    scheme, sep, _ = url.partition(":")
    return scheme if sep and _SCHEME.fullmatch(scheme) else None


def check_url(value: object, what: str = "url") -> str:
    """A lock URL: http(s), or `<source scheme>:` and a path that stays under
    the upstream (`npm:`, `deb:`, `pypi:`, a plug-in source's); never a control
    character, a space or NUL."""
    if not isinstance(value, str) or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"{what} {value!r} is not a URL (no spaces or control characters)")
    scheme = upstream_scheme(value)
    if scheme is not None:
        names.check_inner_path(value[len(scheme) + 1:], f"{what} {value!r}: the path")
        return value
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{what} {value!r} is not http(s) nor a source's own `NAME:path` form")
    return value


def artifact_from_json(a: Any) -> Artifact:
    """An Artifact from its JSON (a lock's, or a manifest's), every field checked;
    its `output` is only checked as a store name (the lock loader checks more)."""
    try:
        return _artifact(a, "artifact")
    except _Invalid as exc:
        raise ValueError(str(exc)) from None


def _artifact(a: Any, where: str) -> Artifact:
    a = _table(a, where)
    sri = _text(_get(a, "integrity", where), f"{where}.integrity")
    try:
        integrity.parse(sri)
    except ValueError as exc:
        raise _Invalid(f"{where}.integrity", str(exc)) from None
    recipe = _table(_get(a, "unpack", where), f"{where}.unpack")
    fmt = _get(recipe, "format", f"{where}.unpack")
    if fmt not in FORMATS and not _known_format(fmt):
        raise _Invalid(f"{where}.unpack.format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    strip = _get(recipe, "strip", f"{where}.unpack")
    if strip != "auto" and (not isinstance(strip, int) or isinstance(strip, bool) or strip < 0):
        raise _Invalid(f"{where}.unpack.strip", f'want "auto" or a whole number ≥ 0, found {strip!r}')
    bins = tuple(_text(e, f"{where}.bin") for e in _list(_get(a, "bin", where), f"{where}.bin"))
    for entry in bins:
        name, path = program(entry)
        _checked(f"{where}.bin", names.check_plain, name, "program name")
        _checked(f"{where}.bin", names.check_inner_path, path, "program path")
    env = []
    for key, value in _table(_get(a, "env", where), f"{where}.env").items():
        _checked(f"{where}.env", names.check_variable, key, "variable")
        env.append((key, _text(value, f"{where}.env.{key}")))
    closure = tuple(_part(p, f"{where}.closure[{i}]")
                    for i, p in enumerate(_list(a.get("closure", []), f"{where}.closure")))
    verified = a.get("index-verified")
    if verified is not None and not isinstance(verified, bool):
        raise _Invalid(f"{where}.index-verified", f"want true or false, found {verified!r}")
    fixups = tuple(_checked(f"{where}.fixups", names.check_plain, _text(f, f"{where}.fixups"), "fix-up")
                   for f in _list(a.get("fixups", []), f"{where}.fixups"))
    glibc = a.get("glibc")
    if glibc is not None:
        from devshell import libc

        try:
            libc.parse(glibc)
        except ValueError as exc:
            raise _Invalid(f"{where}.glibc", str(exc)) from None
    return Artifact(
        url=_checked(f"{where}.url", check_url, _get(a, "url", where)),
        integrity=sri,
        size=_size(a.get("size"), f"{where}.size"),
        format=fmt,
        strip=strip,
        bin=bins,
        env=tuple(sorted(env)),
        output=_checked(f"{where}.output", names.check_output_name, _get(a, "output", where)),
        closure=closure,
        index_verified=verified,
        fixups=fixups,
        glibc=glibc,
    )


def _part(p: Any, where: str) -> Part:
    p = _table(p, where)
    sri = _text(_get(p, "integrity", where), f"{where}.integrity")
    try:
        integrity.parse(sri)
    except ValueError as exc:
        raise _Invalid(f"{where}.integrity", str(exc)) from None
    path = p.get("path")
    if path is not None:
        _checked(f"{where}.path", names.check_tree_path, path, "path")
    return Part(
        name=_checked(f"{where}.name", names.check_package, _get(p, "name", where), "package name"),
        version=_checked(f"{where}.version", names.check_version, _get(p, "version", where)),
        url=_checked(f"{where}.url", check_url, _get(p, "url", where)),
        integrity=sri,
        size=_size(p.get("size"), f"{where}.size"),
        path=path,
    )


def _from_json(data: Any) -> Lock:
    top = _table(data, "")
    version = top.get("lock-version")
    if version not in (1, LOCK_VERSION) or isinstance(version, bool):
        raise _Invalid("lock-version", f"{version!r} is not supported (this devshell reads 1 and "
                       f"{LOCK_VERSION}); a newer devshell wrote it, or it was damaged")
    tools = tuple(_tool(name, t, version)
                  for name, t in _table(_get(top, "tools", ""), "tools").items())
    return Lock(spec_hash=_text(_get(top, "spec-hash", ""), "spec-hash"), tools=tools,
                lock_version=version)


def _tool(name: str, t: Any, lock_version: int) -> LockedTool:
    where = f"tools.{_shown(name)}"
    _checked(where, names.check_plain, name, "tool name")
    t = _table(t, where)
    version = _checked(f"{where}.version", names.check_version, _get(t, "version", where))
    package_version = t.get("package-version")
    if package_version is not None:
        _checked(f"{where}.package-version", names.check_version, package_version)
    plats: list[tuple[str, Artifact | Unavailable]] = []
    for plat, a in _table(_get(t, "platforms", where), f"{where}.platforms").items():
        pwhere = f"{where}.platforms.{_shown(plat)}"
        _checked(pwhere, names.check_plain, plat, "platform")
        if isinstance(a, dict) and "unavailable" in a:
            plats.append((plat, Unavailable(_text(a["unavailable"], f"{pwhere}.unavailable"))))
            continue
        plats.append((plat, _named(name, package_version or version, _artifact(a, pwhere), pwhere, lock_version)))
    package = t.get("package")
    return LockedTool(
        name=name,
        constraint=_text(_get(t, "constraint", where), f"{where}.constraint"),
        source=_checked(f"{where}.source", names.check_plain, _get(t, "source", where), "source"),
        version=version,
        inputs=_text(_get(t, "inputs", where), f"{where}.inputs"),
        platforms=tuple(plats),
        package=None if package is None else _text(package, f"{where}.package"),
        needs=tuple(_checked(f"{where}.needs", names.check_plain, n, "tool name")
                    for n in _list(t.get("needs", []), f"{where}.needs")),
        package_version=package_version,
    )


def _named(name: str, version: str, artifact: Artifact, where: str, lock_version: int) -> Artifact:
    """The artifact under the name its own fields give.

    A v1 lock's names left the name and version out of the digest; they are
    recomputed (and a deb artifact given the fix-ups v1 applied), so its pins
    stay where they are and only the store names move. A v2 lock's `output`
    must be that name already: anything else was edited, and could pass its
    bytes off under another output's name."""
    if lock_version == 1:
        if artifact.format == "deb" and not artifact.fixups:
            artifact = replace(artifact, fixups=_V1_DEB_FIXUPS)
        return replace(artifact, output=output_name(name, version, shape(artifact)))
    expected = output_name(name, version, shape(artifact))
    if artifact.output != expected:
        raise _Invalid(f"{where}.output",
                       f"{artifact.output!r} is not the name its tool, version and artifact give "
                       f"({expected!r})")
    return artifact
