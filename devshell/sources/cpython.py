"""The `cpython` source: a complete CPython interpreter, from the first of its
routes that has the pinned version, tried in a fixed order per platform.

1. python-build-standalone's `install_only` builds (the releases uv, mise and
   rye use), on every platform: versions and hashes come from the release's
   own SHA256SUMS; the release is `[sources.cpython] release`, else the one the
   vendor's latest-release.json names. Every vendor URL is the catalogue's,
   reached through the user's `[mirrors]`; the lock records `cpython:<tag>/<file>`
   and each machine finds it through its own mirrors.
2. Debian's `python3.X-venv` and its closure (venv and ensurepip come with it),
   on Linux, handed to the deb source: `[sources.deb]`, or the suite
   `[sources.cpython] suite` names.

A tool has one version on every platform: the newest the constraint admits
that some route has for each platform any route serves, each platform then
filled by the first route with exactly that version. A route that cannot be
reached is skipped with a note; a platform no route has is `Unavailable`, with
what each route said.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from devshell import integrity, names, platforms
from devshell.errors import DevshellError, FetchError, IntegrityError, SpecError
from devshell.lock import Artifact, LockedTool, Unavailable, tool_inputs_hash
from devshell.sources import BadOption, SourceBase, common
from devshell.spec import ToolSpec
from devshell.versions import Constraint, choose, parse_constraint

if TYPE_CHECKING:
    from devshell.context import Context
    from devshell.sources.locate import Upstreams

__all__ = ["CpythonSettings", "CpythonSource", "Vendor", "vendor"]

_SETTINGS_KEYS = ("release", "suite")
Entries = dict[str, Artifact | Unavailable]


@dataclass(frozen=True)
class CpythonSettings:
    """`[sources.cpython]`: the python-build-standalone release to read (None:
    the latest) and the Debian suite of the Debian route (None: `[sources.deb]`'s)."""

    release: str | None = None
    suite: str | None = None

    def inputs(self) -> dict[str, Any]:
        return {"release": self.release, "suite": self.suite}


@dataclass(frozen=True)
class Vendor:
    """The catalogue's `python` entry: the vendor's URL templates and what an
    interpreter exposes ({python}, {x} and {version} filled per route)."""

    asset: str  # {tag}, {version}, {os}, {arch}
    sums: str  # {tag}
    latest: str
    os_names: tuple[tuple[str, str], ...]
    arch_names: tuple[tuple[str, str], ...]
    bin: tuple[str, ...]
    env: tuple[tuple[str, str], ...]

    @property
    def releases(self) -> str:
        """The directory every release's directory (`<tag>/`) sits in."""
        return self.asset.split("{tag}", 1)[0]

    def file_name(self, plat: str, tag: str, version: str) -> str:
        name = self.asset.rsplit("/", 1)[1]
        return platforms.fill(name, plat, dict(self.os_names), dict(self.arch_names), tag=tag, version=version)


def vendor() -> Vendor:
    import tomllib
    from pathlib import Path

    from devshell import catalog

    entry = catalog.get("python")
    assert entry is not None and entry.checksums is not None, "the catalogue has a python entry"
    # `latest-release` is this entry's own key, which catalog.Entry does not carry.
    table = tomllib.loads((Path(catalog.__file__).parent / "tools.toml").read_text(encoding="utf-8"))
    return Vendor(entry.package, entry.checksums, table["python"]["latest-release"], entry.os_names,
                  entry.arch_names, entry.bin, entry.env)


def _mirror(url: str) -> str:
    from devshell.config import rewrite

    return rewrite(url)


class _Unreachable(Exception):
    """A route whose upstream did not answer: skipped, with this note."""


@dataclass
class _Route:
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
        listed = sorted({v for offer in offers for v in offer}, key=_key)
        where = f" for {plat}" if plat is not None else ""
        return f"{self.label} has " + (", ".join(listed[-6:]) if listed else self.nothing) + where


def _key(version: str) -> Any:
    from packaging.version import Version

    return Version(version)


def _programs(vendor_: Vendor, tool: ToolSpec, home: str, version: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """bin and env for an interpreter installed at `home` inside the output
    ("" or "usr"), its program being `<home>/bin/python3.X`."""
    x = ".".join(version.split(".")[:2])
    python = "/".join(filter(None, (home, "bin", f"python{x}")))

    def fill(text: str) -> str:
        return (text.replace("{python}", python).replace("{home}", "/".join(filter(None, ("{out}", home))))
                .replace("{x}", x).replace("{version}", version))

    bins = tool.bin if tool.bin is not None else tuple(fill(b) for b in vendor_.bin)
    env = {k: fill(v) for k, v in vendor_.env} | dict(tool.env)
    return bins, tuple(sorted(env.items()))


def _vendor_route(tool: ToolSpec, plats: tuple[str, ...], ctx: Context, settings: CpythonSettings) -> _Route:
    """python-build-standalone: what the release's SHA256SUMS lists for each platform."""
    from devshell.net import http
    from devshell.sources.url import Checksums

    v = vendor()
    tag = settings.release or ctx.memo(("cpython-latest", _mirror(v.latest)), lambda: _latest_tag(v))
    sums_url = _mirror(v.sums.replace("{tag}", tag))
    try:
        text = ctx.memo(("cpython-sums", sums_url), lambda: http.get_text(sums_url))
    except FetchError as exc:
        raise _Unreachable(f"its release {tag} cannot be read: {exc.message}") from None
    sums = Checksums(text, sums_url)  # strict: a malformed file is an error, not a skip
    listed = [line.split(None, 1)[1].strip().lstrip("*") for line in text.splitlines()
              if line.strip() and not line.startswith("#") and len(line.split(None, 1)) == 2]
    offers: dict[str, dict[str, Any]] = {}
    for plat in plats:
        head, _, tail = v.file_name(plat, tag, "\0").partition("\0")
        found = offers.setdefault(plat, {})
        for name in listed:
            version = name[len(head):len(name) - len(tail)] if name.startswith(head) and name.endswith(tail) else ""
            if version and _plain_version(version):
                found[version] = (name, sums.get(name))

    def fill(version: str, mine: tuple[str, ...]) -> Entries:
        bins, env = _programs(v, tool, "", version)
        out: Entries = {}
        for plat in mine:
            name, digest = offers[plat][version]
            out[plat] = common.artifact(
                tool.name, version, url=f"cpython:{tag}/{name}", integrity=integrity.from_hex("sha256", digest),
                size=None, format="tar.gz", strip=1, bin=bins, env=env,
            )
        return out

    return _Route(f"python-build-standalone release {tag}", offers, fill)


def _latest_tag(v: Vendor) -> str:
    """The tag of the vendor's newest release, from its latest-release.json."""
    from devshell.net import http

    url = _mirror(v.latest)
    try:
        text = http.get_text(url)
    except FetchError as exc:
        raise _Unreachable(f"its latest release cannot be read: {exc.message}") from None
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("version", 1) != 1:
        raise FetchError(f"{url}: not a latest-release.json of format version 1",
                         hint="check [mirrors] in devshell's config, or pin a release: "
                         '[sources.cpython] release = "YYYYMMDD"')
    tag = doc.get("tag")
    if not names.is_plain(tag):
        raise FetchError(f"{url}: its tag {tag!r} is not a release tag",
                         hint='pin a release instead: [sources.cpython] release = "YYYYMMDD"')
    return str(tag)


def _plain_version(text: str) -> bool:
    """`3.13.1`, `3.14.0rc1`: a CPython version, never a build's other name parts."""
    import re

    return re.fullmatch(r"3\.\d+\.\d+(?:(?:a|b|rc)\d+)?", text) is not None


def _debian_route(tool: ToolSpec, plats: tuple[str, ...], ctx: Context, settings: CpythonSettings,
                  constraint: Constraint) -> _Route:
    """Debian's python3.X-venv (the interpreter, its standard library, venv and
    ensurepip): which CPython versions the suite has, by its upstream version."""
    from debian.debian_support import Version

    from devshell import sources

    deb = sources.get("deb")

    def handed(minor: str, version: str, bins: tuple[str, ...] | None = None,
               env: tuple[tuple[str, str], ...] = ()) -> ToolSpec:
        spec = ToolSpec(name=tool.name, constraint=version, source="deb", package=f"python{minor}-venv",
                        bin=bins, env=env, settings=ctx.settings("deb") or deb.settings({}))
        return deb.check(spec, {"suite": settings.suite} if settings.suite else {})

    upstream: dict[str, tuple[str, str]] = {}  # CPython version → (minor, newest Debian version)
    minors = _minors(constraint)
    for minor in minors:
        try:
            listed = deb.versions(handed(minor, "latest"), ctx)
        except DevshellError as exc:
            # Unreachable, or no archive configured (off Debian): skipped.
            # Anything else (a suite the archive lacks, a Release its keys did
            # not sign) is an error.
            if (isinstance(exc, FetchError) and not isinstance(exc, IntegrityError)) or type(exc) is DevshellError:
                raise _Unreachable(exc.message) from None
            raise
        for debian in listed:
            up = (Version(debian).upstream_version or "").replace("~", "")
            if up.startswith(minor + ".") and _plain_version(up) and (
                    up not in upstream or Version(debian) > Version(upstream[up][1])):
                upstream[up] = (minor, debian)
    linux = [p for p in plats if platforms.split(p)[1] == "linux"]
    offers = {p: dict(upstream) for p in linux}

    def fill(version: str, mine: tuple[str, ...]) -> Entries:
        minor, debian = upstream[version]
        bins, env = _programs(vendor(), tool, "usr", version)
        locked = deb.resolve(handed(minor, debian, bins, env), mine, ctx)
        return {p: a if isinstance(a, Unavailable) else common.artifact(
            tool.name, version, url=a.url, integrity=a.integrity, size=a.size, format=a.format,
            strip=a.strip, bin=a.bin, env=a.env, closure=a.closure, fixups=a.fixups,
            index_verified=a.index_verified,
        ) for p, a in locked.platforms}

    label = f"Debian ({settings.suite})" if settings.suite else "Debian"
    return _Route(label, offers, fill, {p: "Debian packages run on Linux only" for p in plats if p not in linux},
                  f"no python{minors[0]}-venv" if len(minors) == 1 else "no python3.X-venv")


def _minors(constraint: Constraint) -> list[str]:
    """The `3.X` series a constraint can mean: one for `3.13` or `3.12.7`,
    every one Debian could have otherwise."""
    if constraint.kind == "version":
        parts = constraint.text.split(".")
        if len(parts) >= 2 and parts[1].isdigit():
            return [f"{parts[0]}.{parts[1]}"]
    return [f"3.{n}" for n in range(6, 40)]


def _choose(tool: ToolSpec, constraint: Constraint, plats: tuple[str, ...], routes: list[_Route],
            skipped: list[str]) -> str:
    """The newest admitted version that, on every platform some route serves
    with an admitted version, some route has; failing that, the one that
    covers most of them."""
    every = {v for r in routes for offer in r.offers.values() for v in offer}
    admitted = [v for v in every if choose(constraint, [v]) == v]
    if constraint.kind == "latest" and any(not _key(v).is_prerelease for v in admitted):
        admitted = [v for v in admitted if not _key(v).is_prerelease]
    servable = [p for p in plats if any(r.has(p, v) for r in routes for v in admitted)]
    if not servable:
        said = [r.says() for r in routes] + skipped
        raise SpecError(
            f"tools.{tool.name}: no route has a CPython matching {tool.constraint!r}: " + "; ".join(said),
            hint="write a version one of them has; an older patch release may be in an older "
            'python-build-standalone release: [sources.cpython] release = "YYYYMMDD"',
        )

    def covered(v: str) -> int:
        return sum(any(r.has(p, v) for r in routes) for p in servable)

    return max(admitted, key=lambda v: (covered(v), _key(v)))


class CpythonSource(SourceBase):
    """A pinned CPython, from python-build-standalone or Debian."""

    name = "cpython"
    schemes = ("cpython",)

    def settings(self, table: Mapping[str, Any]) -> CpythonSettings:
        for key, value in table.items():
            if key not in _SETTINGS_KEYS:
                import difflib

                close = difflib.get_close_matches(key, _SETTINGS_KEYS, n=1)
                raise BadOption(key, f"unknown key (accepted: {', '.join(_SETTINGS_KEYS)})",
                                f"did you mean {close[0]!r}?" if close else None)
            if not names.is_plain(value):
                raise BadOption(key, f"{value!r} is not a {'release tag' if key == 'release' else 'Debian suite'}",
                                'e.g. release = "20241016" (a python-build-standalone release) or '
                                'suite = "trixie"')
        return CpythonSettings(table.get("release"), table.get("suite"))

    def inputs(self, tool: ToolSpec) -> dict[str, Any]:
        return {"cpython": _settings(tool).inputs()}

    def locate(self, rest: str, upstreams: Upstreams) -> str:
        tag, _, name = rest.partition("/")
        if not names.is_plain(tag) or not names.is_plain(name):
            raise FetchError(f"cpython:{rest}: not a python-build-standalone release file",
                             hint="the lock was edited; restore it or run `devshell lock --update python`")
        return _mirror(vendor().releases + tag + "/" + quote(name))

    def versions(self, tool: ToolSpec, ctx: Context) -> list[str]:
        routes, _ = self._routes(tool, (platforms.host(),), ctx, quiet=True)
        return sorted({v for r in routes for offer in r.offers.values() for v in offer}, key=_key)

    def resolve(self, tool: ToolSpec, plats: tuple[str, ...], ctx: Context) -> LockedTool:
        routes, skipped = self._routes(tool, plats, ctx)
        version = _choose(tool, parse_constraint(tool.constraint), plats, routes, skipped)
        entries: Entries = {}
        for route in routes:
            mine = tuple(p for p in plats if not isinstance(entries.get(p), Artifact) and route.has(p, version))
            if mine:
                entries |= route.fill(version, mine)
        for plat in plats:
            if plat not in entries:
                said = [r.says(plat) for r in routes] + skipped
                entries[plat] = Unavailable(f"no route has CPython {version} for {plat}: " + "; ".join(said))
        return LockedTool(
            name=tool.name, constraint=tool.constraint, source="cpython", version=version,
            inputs=tool_inputs_hash(tool.inputs()), platforms=tuple((p, entries[p]) for p in plats),
        )

    def _routes(self, tool: ToolSpec, plats: tuple[str, ...], ctx: Context,
                quiet: bool = False) -> tuple[list[_Route], list[str]]:
        """Every route that answered, in order, and a note for each that did not."""
        settings = _settings(tool)
        constraint = parse_constraint(tool.constraint)
        builders: list[tuple[str, Callable[[], _Route]]] = [
            ("python-build-standalone", lambda: _vendor_route(tool, plats, ctx, settings)),
            ("Debian", lambda: _debian_route(tool, plats, ctx, settings, constraint)),
        ]
        routes, skipped = [], []
        for label, build in builders:
            try:
                routes.append(build())
            except _Unreachable as exc:
                skipped.append(f"{label} was not reached ({exc})")
                if not quiet:
                    print(f"devshell: note: tools.{tool.name}: skipping {label}: {exc}", file=sys.stderr)
        return routes, skipped


def _settings(tool: ToolSpec) -> CpythonSettings:
    return tool.settings if isinstance(tool.settings, CpythonSettings) else CpythonSettings()
