"""The `deb` source: a Debian package and its whole dependency closure, pinned
by the SHA256 sums of the archive's signed indexes.

The archive comes from devshell's config, the spec's `[sources.deb]` or apt's
sources; the suite from the tool's `suite`, else `[sources.deb]`, which also
names the components. As apt does, the suite's `-updates` and `-security`
suites are read with it (devshell.debian.suites). Per Linux platform the lock
holds one artifact: the package's .deb as `deb:<pool path>` (or
`deb-security:<pool path>`, from the security archive; format "deb") and, in
`closure`, every other package it needs down to libc6, so the output needs
nothing from the host. Realising unpacks them all into one output
and relocates its ELF files (the fix-up "relocate-elf"). `index-verified`
records whether the suite's Release signature was checked.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devshell import config, integrity, names, platforms, say
from devshell.debian import pyconfig
from devshell.debian.closure import (
    Package,
    TooTangled,
    Unsatisfiable,
    closure,
    matching,
)
from devshell.debian.index import debian_arch, default_suite, triplet
from devshell.debian.programs import PROGRAM_DIRS, known_env, programs
from devshell.debian.relocate import RELOCATE_VERSION
from devshell.debian.suites import MAIN, SECURITY, Archive, Suites, read_suites
from devshell.errors import DevshellError, FetchError, SpecError
from devshell.home import Home
from devshell.lock import Artifact, LockedTool, Part, Unavailable, tool_inputs_hash
from devshell.python import bytecode
from devshell.sources import BadOption, SourceBase, common
from devshell.spec import ToolSpec

if TYPE_CHECKING:
    from devshell.context import Context
    from devshell.sources.locate import Upstreams

__all__ = ["FIXUPS", "PROGRAM_DIRS", "DebOptions", "DebSource", "DebSources", "known_env", "programs"]

#: What realising does to the unpacked tree beyond unpacking (part of the output's name).
FIXUPS = (f"relocate-elf-{RELOCATE_VERSION}",)  # a new relocation scheme renames outputs
_SETTINGS_KEYS = ("suite", "components", "archive", "updates", "security")


@dataclass(frozen=True)
class DebSources:
    """`[sources.deb]`: which Debian suite and components the deb source reads.
    None for suite and components: what apt reads from the archive when it
    comes from apt's sources (see `where`); None for archive: devshell's config
    or the machine's apt sources. `updates` and `security`: whether the
    suite's -updates and -security suites are read with it."""

    suite: str | None = None
    components: tuple[str, ...] | None = None
    archive: str | None = None
    updates: bool = True
    security: bool = True

    def inputs(self) -> dict[str, Any]:
        # Each of updates and security is hashed only when turned off: the
        # pins made before they existed keep their hash.
        off = {k: False for k in ("updates", "security") if not getattr(self, k)}
        # Components left unset hash as ["main"], their value before apt's
        # own were read, so those pins keep their hash too.
        return {"suite": self.suite, "components": list(self.components or ("main",)), "archive": self.archive,
                **off}


def where(settings: DebSources, main: config.Upstream, tool_suite: str | None = None) -> tuple[str, tuple[str, ...]]:
    """The suite and components to read from `main`: the tool's or the spec's;
    else, when the archive comes from apt's sources, what apt reads there (on
    Ubuntu, "noble" with main, restricted, universe and multiverse); else the
    host's Debian release (index.default_suite) and main."""
    suite = tool_suite or settings.suite or main.suite or default_suite()
    return suite, settings.components or main.components or ("main",)


@dataclass(frozen=True)
class DebOptions:
    """A deb tool's own keys: the suite it comes from, when not `[sources.deb]`'s
    (so one spec takes Python from one suite and everything else from another)."""

    suite: str | None = None


def _suite_name(value: Any) -> str:
    """A suite as the spec names it: it becomes a path of the archive (dists/<suite>/)."""
    if not isinstance(value, str):
        raise BadOption("suite", "must be a string", 'e.g. suite = "trixie"')
    if not names.is_plain(value):
        raise BadOption("suite", f"{value!r} is not a Debian suite",
                        "a codename (trixie, bookworm) or stable, testing, unstable")
    return value


def _suites(ctx: Context, tool: ToolSpec) -> Suites:
    """The tool's suite with what apt reads with it, opened once per run
    however many tools use it."""
    settings = _settings(tool, ctx)
    main = config.debian_archive(settings.archive)
    security = config.debian_security_archive(settings.archive) if settings.security else None
    suite, components = where(settings, main, _options(tool).suite)
    key = ("deb-suites", main.url, main.keyring, security, suite, components,
           settings.updates, settings.security)
    return ctx.memo(key, lambda: read_suites(
        ctx.home, Archive(MAIN, main.url, main.keyring),
        Archive(SECURITY, security.url, security.keyring) if security else None,
        suite, components, updates=settings.updates, with_security=settings.security,
        security_unset=f"the Debian archive is {main.origin}'s; set `upstreams.deb-security` in "
        f"{config.devshell_config_path()}, or [sources.deb] security = false"))


def _settings(tool: ToolSpec, ctx: Context | None = None) -> DebSources:
    """`[sources.deb]` as the tool carries it; for a tool another source hands
    over (a Python from Debian), the spec's own `[sources.deb]`."""
    if isinstance(tool.settings, DebSources):
        return tool.settings
    found = ctx.settings("deb") if ctx is not None else None
    return found if isinstance(found, DebSources) else DebSources()


def _options(tool: ToolSpec) -> DebOptions:
    return tool.options if isinstance(tool.options, DebOptions) else DebOptions()


class DebSource(SourceBase):
    """Any Debian package with its whole dependency closure, relocated into the store."""

    name = "deb"
    direct = True
    keys = ("suite",)
    schemes = (MAIN, SECURITY)
    example = '"deb:NAME" = "latest" a Debian package and all it needs, from the Debian archive'

    def check_version(self, constraint: str) -> None:
        """"latest" or a Debian version ([epoch:]upstream[-revision]): dpkg's
        syntax, not PEP 440."""
        if constraint.strip() == "latest":
            return
        from debian.debian_support import Version

        try:
            Version(constraint)
        except ValueError:
            raise BadOption(
                "version", f"{constraint!r} is not a Debian version (e.g. \"1.6-2.1\", \"1:2.39.2-1\")",
                'accepted: a Debian version "1.6-2.1" (or its upstream part "1.6"), or "latest"',
            ) from None

    def settings(self, table: Mapping[str, Any]) -> DebSources:
        for key in table:
            if key not in _SETTINGS_KEYS:
                import difflib

                close = difflib.get_close_matches(key, _SETTINGS_KEYS, n=1)
                raise BadOption(key, f"unknown key (accepted: {', '.join(_SETTINGS_KEYS)})",
                                f"did you mean {close[0]!r}?" if close else None)
        suite, archive = table.get("suite"), table.get("archive")
        components = table.get("components")
        if suite is not None:
            suite = _suite_name(suite)
        if components is not None and (not isinstance(components, list)
                                       or not all(isinstance(c, str) for c in components)):
            raise BadOption("components", "must be a list of strings", 'e.g. ["main"]')
        if components == []:
            raise BadOption("components", "must name at least one component", 'e.g. ["main"]')
        if archive is not None and (not isinstance(archive, str)
                                    or not archive.startswith(("http://", "https://"))):
            raise BadOption("archive", f"{archive!r} is not an http(s) URL",
                            "the archive's base URL, the directory that holds dists/ and pool/")
        for key in ("updates", "security"):
            if not isinstance(table.get(key, True), bool):
                raise BadOption(key, "must be true or false",
                                f"{key} = false reads the suite without its -{key} suite")
        return DebSources(suite, tuple(components) if components else None, archive.rstrip("/") + "/" if archive else None,
                          updates=table.get("updates", True), security=table.get("security", True))

    def check(self, tool: ToolSpec, table: Mapping[str, Any]) -> ToolSpec:
        if table.get("suite") is None:
            return tool
        return replace(tool, options=DebOptions(_suite_name(table["suite"])))

    def inputs(self, tool: ToolSpec) -> dict[str, Any]:
        # A suite change re-resolves deb tools; a tool without a suite of its
        # own hashes as it always did, so no pin moves.
        own = {"suite": _options(tool).suite} if _options(tool).suite else {}
        return {"deb": _settings(tool).inputs(), **own}

    def locate(self, rest: str, upstreams: Upstreams, scheme: str = MAIN) -> str:
        """`deb:<path>` under the archive, `deb-security:<path>` under the
        security archive, wherever this machine has them."""
        settings = upstreams.settings.get("deb")
        archive = settings.archive if isinstance(settings, DebSources) else None
        if scheme == SECURITY:
            return upstreams.base(SECURITY, lambda: _security_url(archive)) + rest
        return upstreams.base(MAIN, lambda: config.debian_archive(archive).url) + rest

    def versions(self, tool: ToolSpec, ctx: Context) -> list[str]:
        index = _suites(ctx, tool).index(debian_arch(platforms.host()))
        return [p.version for p in index.packages(tool.package or tool.name)] if index else []

    def resolve(self, tool: ToolSpec, plats: tuple[str, ...], ctx: Context) -> LockedTool:
        home = ctx.home
        name = tool.package or tool.name
        archive = _suites(ctx, tool)
        linux = [p for p in plats if platforms.split(p)[1] == "linux"]
        primary = platforms.host() if platforms.host() in linux else (linux[0] if linux else "x86_64-linux")
        root = _pick(tool, name, archive, debian_arch(primary))
        entries: dict[str, Artifact | Unavailable] = {}
        closures: dict[str, list[Package]] = {}
        for plat in plats:
            found = _closure(tool, archive, root, plat, fatal=plat == primary)
            if isinstance(found, Unavailable):
                entries[plat] = found
            else:
                closures[plat] = found
        for plat, pkgs in closures.items():
            # Each architecture's own: `{debarch}` and `{triplet}` in a written
            # bin, or the programs its own .deb ships (openjdk's live under an
            # arch-specific path).
            arch = debian_arch(plat)
            bins = tuple(b.replace("{debarch}", arch).replace("{triplet}", triplet(arch)) for b in tool.bin) \
                if tool.bin is not None else _listed_programs(tool, home, archive, name, pkgs, plat)
            main = next(p for p in pkgs if p.name == name)
            parts = tuple(
                Part(p.name, p.version, p.url, integrity.from_hex("sha256", p.sha256), p.size)
                for p in pkgs if p is not main
            )
            env = known_env(pkgs, debian_arch(plat)) | dict(tool.env)
            entries[plat] = common.artifact(
                tool.name, root.version, url=main.url,
                integrity=integrity.from_hex("sha256", main.sha256), size=main.size,
                format="deb", strip=0, bin=bins, env=tuple(env.items()),
                closure=parts, fixups=_fixups(pkgs), index_verified=archive.verified,
            )
        return LockedTool(
            name=tool.name, constraint=tool.constraint, source="deb", version=root.version,
            inputs=tool_inputs_hash(tool.inputs()),
            platforms=tuple((p, entries[p]) for p in plats), package=name,
        )


def _fixups(pkgs: list[Package]) -> tuple[str, ...]:
    """FIXUPS, and, when the closure holds a Python, pointing its build
    configuration at the output (devshell.debian.pyconfig) and compiling its
    standard library (devshell.python.bytecode)."""
    python = any(pyconfig.PYTHON_PACKAGE.fullmatch(p.name) for p in pkgs)
    return (*FIXUPS, pyconfig.FIXUP, bytecode.FIXUP) if python else FIXUPS


def _security_url(project_archive: str | None) -> str:
    found = config.debian_security_archive(project_archive)
    if found is None:
        raise DevshellError(
            "devshell.lock names packages of the Debian security archive (deb-security:…), "
            "and this machine names no security archive",
            hint="set DEVSHELL_DEB_SECURITY_ARCHIVE, or `upstreams.deb-security` in "
            f"{config.devshell_config_path()}, to its base URL (the directory holding dists/ and pool/)",
        )
    return found.url


def concrete(url: str, upstreams: Upstreams) -> str:
    """The URL to fetch a deb artifact's lock URL from: its archive's, by
    scheme (the deb format's filler asks here, as it knows both schemes)."""
    scheme, sep, rest = url.partition(":")
    if sep and scheme in DebSource.schemes:
        return DebSource().locate(rest, upstreams, scheme)
    return upstreams.concrete(url)


def _pick(tool: ToolSpec, name: str, archive: Suites, arch: str) -> Package:
    """The version of `name` the spec asks for, in the suite, for `arch`."""
    index = archive.index(arch)
    where = f"the Debian suite {archive.name!r} ({arch})"
    if index is None:
        raise SpecError(f"tools.{tool.name}: {where} has no packages",
                        hint=f"its architectures: {', '.join(archive.release.architectures) or 'none listed'}")
    candidates = index.packages(name)
    if not candidates:
        providers = sorted({p.name for p, _ in index.providers(name)})
        close = index.suggest(name)
        raise SpecError(
            f"tools.{tool.name}: {where} has no package {name!r}",
            hint=f"{name} is a virtual package provided by {', '.join(providers)}: name one of them"
            if providers else (f"did you mean {' or '.join(repr(c) for c in close)}?" if close
                               else "check the name, the suite and [sources.deb] components"),
        )
    chosen = matching(candidates, tool.constraint)
    if chosen is None:
        raise SpecError(
            f"tools.{tool.name}: {where} has no version {tool.constraint!r} of {name}",
            hint=f"it has {', '.join(p.version for p in candidates)}; write one of them, or \"latest\"",
        )
    return chosen


def _closure(tool: ToolSpec, archive: Suites, root: Package, plat: str, *, fatal: bool) -> list[Package] | Unavailable:
    """The closure of `root`'s version on `plat`; an error on the platform the
    version was chosen on, an Unavailable on the others."""
    if platforms.split(plat)[1] != "linux":
        return Unavailable("Debian packages run on Linux only")
    arch = debian_arch(plat)
    index = archive.index(arch)
    if index is None:
        # This reason is written into the lock: nothing of this machine's in it.
        carried = archive.release.architectures
        return Unavailable(
            f"the Debian suite {archive.name!r} has no packages for {arch}"
            + (f" (its archive carries {', '.join(carried)}" if carried else " (")
            + f"; Ubuntu keeps {arch} on its ports archive, which `upstreams.deb` can name)")
    pkg = next((p for p in index.packages(root.name) if p.version == root.version), None)
    if pkg is None:
        return Unavailable(f"the Debian suite {archive.name!r} has no {root.label} for {arch}")
    try:
        return closure(index, pkg)
    except TooTangled as exc:
        raise FetchError(
            f"tools.{tool.name}: the dependencies of {root.label} in the Debian suite "
            f"{archive.name!r} ({arch}) cannot be settled: {exc}",
            hint="the suite's Depends form a maze no real archive has; check [sources.deb] archive "
            "(or DEVSHELL_DEB_ARCHIVE), or pin another version or suite",
        ) from None
    except Unsatisfiable as exc:
        if not fatal:
            return Unavailable(f"{root.label} cannot be installed for {arch}: {exc}")
        raise SpecError(
            f"tools.{tool.name}: {root.label} cannot be installed from the Debian suite "
            f"{archive.name!r} ({arch}): {exc}",
            hint="the suite's packages do not meet this dependency; pin another version or suite",
        ) from None


def _listed_programs(tool: ToolSpec, home: Home, archive: Suites, name: str, pkgs: list[Package],
                     plat: str) -> tuple[str, ...]:
    """No `bin` in the spec: fetch the package (into the download cache, where
    realising finds it) and list what it ships in PROGRAM_DIRS. A program
    named after the package, when the package itself lacks it, is looked for
    where Debian puts it: in `<name>-*` packages of the closure (python3's
    is in python3-minimal), or as `<name>.<flavour>` (vim.basic)."""
    main = next(p for p in pkgs if p.name == name)
    found = list(programs(_fetch_deb(home, archive, main, plat)))
    if not any(posixpath.basename(p) == name for p in found):
        for pkg in pkgs:
            if pkg.name.startswith((f"{name}-", f"{name}.")):
                more = [p for p in programs(_fetch_deb(home, archive, pkg, plat)) if posixpath.basename(p) == name]
                if more:
                    found.append(more[0])
                    break
        else:
            flavours = [p for p in found if posixpath.basename(p).startswith(f"{name}.")]
            if flavours:
                found.append(f"{name}={flavours[0]}")
    found = _reaching(tool, home, archive, pkgs, plat, found)
    if not found:
        raise SpecError(
            f"tools.{tool.name}: {main.label} ships no programs in {', '.join(PROGRAM_DIRS)}",
            hint='name the files to expose: bin = ["usr/lib/…/prog"], or pick the package that has the program',
        )
    return tuple(sorted(found))


def _reaching(tool: ToolSpec, home: Home, archive: Suites, pkgs: list[Package], plat: str,
              found: list[str]) -> list[str]:
    """The listed programs that lead somewhere: a link to a file no package
    of the closure ships (rustc's rust-clang, to a clang it does not depend
    on) would fail when realised, so it is left out now, with a note. Only
    when some program is a link is the rest of the closure read (its .debs
    are what realising fetches anyway)."""
    from devshell.debian.programs import links, resolves

    main = next(p for p in pkgs if p.name == (tool.package or tool.name))
    main_tree = links(_fetch_deb(home, archive, main, plat))
    entries = [(e.split("=", 1)[-1], e) for e in found]
    if not any(main_tree.get(path) is not None for path, _ in entries):
        return found
    tree: dict[str, str | None] = {}
    for pkg in pkgs:
        tree.update(links(_fetch_deb(home, archive, pkg, plat)))
    kept = []
    for path, entry in entries:
        if resolves(tree, path):
            kept.append(entry)
        else:
            say.note(f"note: tools.{tool.name}: {path} links to {tree.get(path)!r}, which its closure does not "
                     "ship; it is not exposed")
    return kept


def _fetch_deb(home: Home, archive: Suites, pkg: Package, plat: str) -> Path:
    from devshell.net.fetch import Download, fetch

    return fetch(home, Download(archive.download_url(pkg), integrity.from_hex("sha256", pkg.sha256), pkg.size,
                                f"{pkg.label} ({plat})"))
