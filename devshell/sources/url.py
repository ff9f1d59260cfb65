"""The `url` source: a URL template per tool, verified by a sha256 table in the
spec or by the vendor's checksum file (sha256sum format) fetched at lock time."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

from devshell import integrity, platforms
from devshell.errors import SpecError
from devshell.home import Home
from devshell.lock import Artifact, LockedTool, Unavailable, tool_inputs_hash
from devshell.sources.common import artifact
from devshell.spec import ToolSpec

__all__ = ["UrlSource", "parse_checksums", "render"]

_PLACEHOLDERS = ("version", "os", "arch", "platform")


def render(template: str, tool: ToolSpec, platform: str) -> str:
    """Fill `{version}`, `{os}`, `{arch}`, `{platform}` using the tool's name maps."""
    arch, system = platforms.split(platform)
    values = {
        "version": tool.constraint,
        "os": dict(tool.os_names).get(system, system),
        "arch": dict(tool.arch_names).get(arch, arch),
        "platform": platform,
    }
    out, rest = [], template
    while "{" in rest:
        before, _, after = rest.partition("{")
        key, closed, rest = after.partition("}")
        if not closed or key not in values:
            raise SpecError(
                f"tools.{tool.name}.url: unknown placeholder {{{key}}} in {template!r}",
                hint="accepted: " + ", ".join("{" + p + "}" for p in _PLACEHOLDERS),
            )
        out += [before, values[key]]
    out.append(rest)
    return "".join(out)


def parse_checksums(text: str) -> dict[str, str]:
    """sha256sum output (`<hex>  <file>` or `<hex> *<file>`) → file name → hex."""
    sums = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 64:
            continue
        name = parts[1].strip().lstrip("*")
        sums[name] = parts[0].lower()
        sums.setdefault(name.rsplit("/", 1)[-1], parts[0].lower())
    return sums


def with_catalogue(tool: ToolSpec) -> ToolSpec:
    """A catalogue url tool (terraform…) with its vendor's URL and checksum
    file filled in, each rewritten through the user's configured mirrors."""
    from devshell import catalog

    entry = catalog.get(tool.name) if tool.url is None else None
    if entry is None:
        return replace(tool, url=mirror(tool.url or ""), checksums=mirror(tool.checksums))
    return replace(
        tool,
        url=mirror(entry.package),
        checksums=mirror(entry.checksums),
        os_names=tool.os_names or entry.os_names,
        arch_names=tool.arch_names or entry.arch_names,
        format=tool.format or entry.format,
        strip=tool.strip if tool.strip is not None else entry.strip,
        bin=tool.bin if tool.bin is not None else (entry.bin or None),
        env=tool.env or entry.env,
    )


def mirror(url: str | None) -> str | None:
    from devshell.config import rewrite

    return None if url is None else rewrite(url)


class UrlSource:
    def versions(self, tool: ToolSpec) -> list[str]:
        return [tool.constraint]

    def resolve(self, tool: ToolSpec, plats: tuple[str, ...], home: Home) -> LockedTool:
        from devshell.unpack import detect_format

        inputs = tool_inputs_hash(tool.inputs())
        tool = with_catalogue(tool)
        assert tool.url is not None  # the spec parser or the catalogue guarantees it
        table = dict(tool.sha256)
        sums_cache: dict[str, dict[str, str]] = {}
        found: list[tuple[str, str, str]] = []  # platform, url, integrity
        missing: dict[str, str] = {}
        for plat in plats:
            url = render(tool.url, tool, plat)
            digest = table.get(plat)
            if digest is None and tool.checksums is not None:
                sums_url = render(tool.checksums, tool, plat)
                if sums_url not in sums_cache:
                    from devshell import http

                    sums_cache[sums_url] = parse_checksums(http.get_text(sums_url))
                file_name = url.split("?", 1)[0].rsplit("/", 1)[-1]
                digest = sums_cache[sums_url].get(file_name)
                if digest is None:
                    missing[plat] = f"{file_name} is not listed in {sums_url}"
                    continue
            if digest is None:
                missing[plat] = "the spec gives no sha256 for this platform"
                continue
            found.append((plat, url, integrity.from_hex("sha256", digest.lower())))
        fmt = tool.format or detect_format(tool.url)
        strip: int | str = tool.strip if tool.strip is not None else "auto"
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
            constraint=tool.constraint,
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
        from devshell.fetch import Download, fetch
        from devshell.unpack import unpack

        if not found:
            return ()
        host = platforms.host()
        plat, url, sri = next((f for f in found if f[0] == host), found[0])
        archive = fetch(home, Download(url, sri, None, f"{tool.name} {tool.constraint} ({plat})"))
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
