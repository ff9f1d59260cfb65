"""The `url` source: a URL template per tool, verified by a sha256 table in the
spec or by the vendor's checksum file (sha256sum format) fetched at lock time."""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devshell import integrity, names, platforms
from devshell.errors import FetchError, SpecError
from devshell.home import Home
from devshell.lock import Artifact, LockedTool, Unavailable, tool_inputs_hash
from devshell.sources import BadOption, SourceBase
from devshell.sources.common import artifact
from devshell.spec import ToolSpec

if TYPE_CHECKING:
    from devshell.context import Context

__all__ = ["Checksums", "UrlOptions", "UrlSource", "options", "render"]



@dataclass(frozen=True)
class UrlOptions:
    """What a url tool's table says beyond the keys every tool has."""

    url: str | None = None  # None: the catalogue's (terraform, kubectl…)
    sha256: tuple[tuple[str, str], ...] = ()
    checksums: str | None = None
    os_names: tuple[tuple[str, str], ...] = ()
    arch_names: tuple[tuple[str, str], ...] = ()
    format: str | None = None
    strip: int | None = None

    def inputs(self) -> dict[str, Any]:
        return {
            "url": self.url, "sha256": dict(self.sha256), "checksums": self.checksums,
            "os": dict(self.os_names), "arch": dict(self.arch_names), "format": self.format,
            "strip": self.strip,
        }


def options(tool: ToolSpec) -> UrlOptions:
    opts = tool.options
    return opts if isinstance(opts, UrlOptions) else UrlOptions()


def render(template: str, tool: ToolSpec, platform: str) -> str:
    """Fill `{version}`, `{os}`, `{arch}`, `{platform}` using the tool's name maps."""
    opts = options(tool)
    try:
        return platforms.fill(template, platform, dict(opts.os_names), dict(opts.arch_names),
                              version=tool.constraint)
    except ValueError as exc:
        raise SpecError(f"tools.{tool.name}.url: {exc}") from None


_SUMS_LINE = re.compile(r"([0-9A-Fa-f]{64})(?:[ \t]+\*?|[ \t]*\*)(.+)")


class Checksums:
    """A checksum file in sha256sum's format (`<hex>  <file>`, `<hex> *<file>`),
    read strictly: it is what every byte of the artifacts is checked against,
    so a line that is not one, a name that leaves the directory, or two lines
    for one file is the upstream's error, not something to guess about.
    A file in a directory also answers to its base name, unless two do; a
    file holding one bare hash (kubectl's `.sha256`) is for its one artifact."""

    def __init__(self, text: str, url: str) -> None:
        self.url = url
        self._exact: dict[str, tuple[str, int]] = {}
        self._base: dict[str, list[tuple[str, int]]] = {}
        lines = [(n, raw.strip()) for n, raw in enumerate(text.splitlines(), 1)]
        lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
        if len(lines) == 1 and re.fullmatch(r"[0-9A-Fa-f]{64}", lines[0][1]):
            self._exact[""] = (lines[0][1].lower(), lines[0][0])
            return
        for n, line in lines:
            match = _SUMS_LINE.fullmatch(line)
            if match is None:
                raise self._bad(n, line, "is not `<sha256 in 64 hex digits>  <file name>`")
            name = match[2].strip().removeprefix("./")
            try:
                names.check_inner_path(name, "file name")
            except ValueError:
                raise self._bad(n, line, "names a file outside the checksum file's directory") from None
            if name in self._exact:
                raise self._bad(n, line, f"names {name!r} again (line {self._exact[name][1]} did)")
            self._exact[name] = (match[1].lower(), n)
            self._base.setdefault(posixpath.basename(name), []).append((match[1].lower(), n))

    def _bad(self, number: int, line: str, what: str) -> FetchError:
        return FetchError(
            f"{self.url}: line {number} ({line[:100]!r}) {what}",
            hint="devshell trusts a checksum file only when every line is unambiguous; "
            "tell the vendor, or give the sha256 in devshell.toml (sha256 = { … })",
        )

    def get(self, file_name: str) -> str | None:
        """The sha256 (hex) listed for `file_name`, or None."""
        if "" in self._exact:
            return self._exact[""][0]
        if file_name in self._exact:
            return self._exact[file_name][0]
        found = self._base.get(file_name, [])
        if len(found) > 1:
            numbers = " and ".join(str(n) for _, n in found)
            raise FetchError(f"{self.url}: lines {numbers} both name a file {file_name!r}, in different "
                             "directories; devshell cannot tell which is meant",
                             hint="give the sha256 in devshell.toml (sha256 = { … })")
        return found[0][0] if found else None


def with_catalogue(tool: ToolSpec) -> ToolSpec:
    """A catalogue url tool (terraform…) with its vendor's URL and checksum
    file filled in. The lock names these URLs; what is fetched, now or when
    realising, goes through the user's configured mirrors (`mirror`)."""
    from devshell import catalog

    opts = options(tool)
    entry = catalog.get(tool.name) if opts.url is None else None
    if entry is None:
        return replace(tool, options=replace(opts, url=opts.url or ""))
    return replace(
        tool,
        options=replace(
            opts,
            url=entry.package,
            checksums=entry.checksums,
            os_names=opts.os_names or entry.os_names,
            arch_names=opts.arch_names or entry.arch_names,
            format=opts.format or entry.format,
            strip=opts.strip if opts.strip is not None else entry.strip,
        ),
        bin=tool.bin if tool.bin is not None else (entry.bin or None),
        env=tool.env or entry.env,
    )


def _by_index(tool: ToolSpec, from_catalogue: bool, ctx: Context) -> ToolSpec:
    """A catalogue tool whose vendor keeps a version index (terraform's
    index.json…) with its constraint pinned to the exact version the index
    gives: "latest" and prefixes are the vendor's word, never a URL's."""
    from devshell import catalog
    from devshell.sources import vendor_index

    entry = catalog.get(tool.name) if from_catalogue else None
    if entry is None or entry.index is None or entry.index_kind is None:
        return tool
    return replace(tool, constraint=vendor_index.pin(tool, entry.index_kind, entry.index, ctx))


def mirror(url: str | None) -> str | None:
    from devshell.config import rewrite

    return None if url is None else rewrite(url)


def _check_written_hash(tool: ToolSpec, declared: list[tuple[str, str, str]], home: Home) -> None:
    """Fetch one artifact whose sha256 the spec gives by hand (this machine's
    platform's, else the first) and check it against the URL's own bytes.

    Downloads are cached by hash, so without this a version bumped with the
    old sha256 left in place would be realised from the old version's cached
    bytes under the new name, silently. The checked bytes stay in the cache
    for realising; a mismatch keeps nothing and writes no lock."""
    from devshell.net.fetch import Download, fetch

    if not declared:
        return
    host = platforms.host()
    plat, url, sri = next((f for f in declared if f[0] == host), declared[0])
    hint = (f"the sha256 devshell.toml gives (tools.{tool.name}.sha256.{plat}) is not the hash of what "
            "the URL serves; if the version changed, write the new file's sha256 there. Nothing was written")
    fetch(home, Download(mirror(url) or url, sri, None, f"tools.{tool.name} {tool.constraint} ({plat})", hint),
          refresh=True)


class UrlSource(SourceBase):
    """Any URL template, verified by a sha256 in the spec or a vendor checksum file."""

    name = "url"
    keys = ("url", "sha256", "checksums", "os", "arch", "format", "strip")
    claims = ("url",)

    def check(self, tool: ToolSpec, table: Mapping[str, Any]) -> ToolSpec:
        from devshell import catalog

        opts = UrlOptions(
            url=_string(table, "url"),
            sha256=_string_table(table, "sha256"),
            checksums=_string(table, "checksums"),
            os_names=_string_table(table, "os"),
            arch_names=_string_table(table, "arch"),
            format=_string(table, "format"),
            strip=table.get("strip"),
        )
        from devshell.store.suffixes import FORMATS

        if opts.format is not None and opts.format not in FORMATS:
            raise BadOption("format", f"unknown format {opts.format!r} (accepted: {', '.join(FORMATS)})")
        strip = opts.strip
        if strip is not None and (not isinstance(strip, int) or isinstance(strip, bool) or strip < 0):
            raise BadOption("strip", "must be a whole number of leading directories to drop, e.g. 1")
        if opts.url is not None or catalog.get(tool.name) is None:
            _check_url_tool(tool, opts)
        return replace(tool, options=opts)

    def inputs(self, tool: ToolSpec) -> dict[str, Any]:
        return options(tool).inputs()

    def versions(self, tool: ToolSpec, ctx: Context) -> list[str]:
        return [tool.constraint]

    def resolve(self, tool: ToolSpec, plats: tuple[str, ...], ctx: Context) -> LockedTool:
        from devshell.store.suffixes import detect_format

        home = ctx.home
        inputs = tool_inputs_hash(tool.inputs())
        constraint = tool.constraint
        tool = _by_index(with_catalogue(tool), options(tool).url is None, ctx)
        opts = options(tool)
        assert opts.url is not None  # the spec parser or the catalogue guarantees it
        table = dict(opts.sha256)
        sums_cache: dict[str, Checksums] = {}
        found: list[tuple[str, str, str]] = []  # platform, url, integrity
        missing: dict[str, str] = {}
        for plat in plats:
            url = render(opts.url, tool, plat)
            digest = table.get(plat)
            if digest is None and opts.checksums is not None:
                sums_url = render(opts.checksums, tool, plat)
                if sums_url not in sums_cache:
                    from devshell.net import http

                    sums_cache[sums_url] = Checksums(http.get_text(mirror(sums_url) or sums_url), sums_url)
                file_name = url.split("?", 1)[0].rsplit("/", 1)[-1]
                digest = sums_cache[sums_url].get(file_name)
                if digest is None:
                    missing[plat] = f"{file_name} is not listed in {sums_url}"
                    continue
            if digest is None:
                missing[plat] = "the spec gives no sha256 for this platform"
                continue
            found.append((plat, url, integrity.from_hex("sha256", digest.lower())))
        _check_written_hash(tool, [f for f in found if f[0] in table], home)
        fmt = opts.format or detect_format(opts.url)
        strip: int | str = opts.strip if opts.strip is not None else "auto"
        bins = tool.bin
        if bins is None:
            bins = (tool.name,) if fmt == "binary" else self._discover_bins(tool, found, fmt, strip, home)
        entries: dict[str, Artifact | Unavailable] = {p: Unavailable(r) for p, r in missing.items()}
        for plat, url, sri in found:
            entries[plat] = artifact(
                tool.name, tool.constraint, url=url, integrity=sri, size=None,
                format=fmt, strip=strip, bin=bins, env=tool.env,
            )
        return LockedTool(
            name=tool.name,
            constraint=constraint,
            source="url",
            version=tool.constraint,
            inputs=inputs,
            platforms=tuple((p, entries[p]) for p in plats),
        )

    def _discover_bins(
        self, tool: ToolSpec, found: list[tuple[str, str, str]], fmt: str, strip: int | str, home: Home
    ) -> tuple[str, ...]:
        """No `bin` in the spec: fetch one artifact (the host's if possible) and
        expose every executable in its bin/ directory."""
        from devshell.net.fetch import Download, fetch
        from devshell.store.unpack import unpack

        if not found:
            return ()
        host = platforms.host()
        plat, url, sri = next((f for f in found if f[0] == host), found[0])
        archive = fetch(home, Download(mirror(url) or url, sri, None, f"{tool.name} {tool.constraint} ({plat})"))
        (home.cache / "tmp").mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"inspect-{os.getpid()}-", dir=home.cache / "tmp"))
        try:
            unpack(archive, fmt, scratch, strip=strip, binary_name=tool.name)
            bindir = scratch / "bin"
            names = sorted(
                f"bin/{e.name}" for e in os.scandir(bindir)
                if e.is_file() and os.stat(e.path).st_mode & stat.S_IXUSR
            ) if bindir.is_dir() else []
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if not names:
            raise SpecError(
                f"tools.{tool.name}: the archive has no executables in bin/",
                hint='name the programs to expose: bin = ["path/in/archive/prog"]',
            )
        return tuple(names)


def _string(table: Mapping[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise BadOption(key, "must be a string")
    return value


def _string_table(table: Mapping[str, Any], key: str) -> tuple[tuple[str, str], ...]:
    value = table.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise BadOption(key, "must be a table of strings", f"write it as {key} = {{ … = \"…\" }}")
    return tuple(value.items())


def _check_url_tool(tool: ToolSpec, opts: UrlOptions) -> None:
    from devshell.versions import parse_constraint

    if opts.url is None:
        raise BadOption("", "a url tool needs url = \"https://…\" with {version}, {os}, {arch} or {platform}")
    for plat, digest in opts.sha256:
        if plat not in platforms.ALL:
            raise BadOption(f"sha256.{plat}", f"{plat!r} is not a platform (accepted: {', '.join(platforms.ALL)})")
        if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise BadOption(f"sha256.{plat}", "must be 64 hex digits (the output of sha256sum)")
    if not opts.sha256 and opts.checksums is None:
        raise BadOption(
            "", "has no way to verify its download",
            'add sha256 = { "x86_64-linux" = "<sha256sum of the file>" } or checksums = "https://…/SHA256SUMS"',
        )
    if parse_constraint(tool.constraint).kind != "version":
        raise BadOption(
            "version", f"{tool.constraint!r}: a url tool needs one exact version",
            "the url source cannot list versions; write the version you want, e.g. \"1.2.3\"",
        )
