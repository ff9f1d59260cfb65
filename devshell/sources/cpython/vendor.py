"""The first route: python-build-standalone's `install_only` builds.

Versions and hashes come from one release's SHA256SUMS: `[sources.cpython]
release`, else the release the vendor's latest-release.json names (never
"latest" written into a URL). Every URL is the catalogue's `python` entry's,
rewritten through the user's `[mirrors]`; the lock records
`cpython:<tag>/<file>`, which each machine locates through its own mirrors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devshell import integrity, names, platforms
from devshell.errors import FetchError
from devshell.python import bytecode
from devshell.sources import common
from devshell.sources.cpython.routes import (
    Entries,
    Route,
    Unreachable,
    layout,
    plain_version,
)
from devshell.spec import ToolSpec

if TYPE_CHECKING:
    from devshell.context import Context

__all__ = ["Vendor", "mirror", "route", "vendor"]


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


def mirror(url: str) -> str:
    from devshell.config import rewrite

    return rewrite(url)


def route(tool: ToolSpec, plats: tuple[str, ...], ctx: Context, release: str | None) -> Route:
    """What the release's SHA256SUMS lists for each platform."""
    from devshell.net import http
    from devshell.sources.cpython import fill as fill_format
    from devshell.sources.url import Checksums

    v = vendor()
    tag = release or ctx.memo(("cpython-latest", mirror(v.latest)), lambda: _latest_tag(v))
    sums_url = mirror(v.sums.replace("{tag}", tag))
    try:
        text = ctx.memo(("cpython-sums", sums_url), lambda: http.get_text(sums_url))
    except FetchError as exc:
        raise Unreachable(f"its release {tag} cannot be read: {exc.message}") from None
    sums = Checksums(text, sums_url)  # strict: a malformed file is an error, not a skip
    listed = [line.split(None, 1)[1].strip().lstrip("*") for line in text.splitlines()
              if line.strip() and not line.startswith("#") and len(line.split(None, 1)) == 2]
    offers: dict[str, dict[str, Any]] = {}
    for plat in plats:
        head, _, tail = v.file_name(plat, tag, "\0").partition("\0")
        found = offers.setdefault(plat, {})
        for name in listed:
            version = name[len(head):len(name) - len(tail)] if name.startswith(head) and name.endswith(tail) else ""
            if version and plain_version(version):
                found[version] = (name, sums.get(name))

    def fill(version: str, mine: tuple[str, ...]) -> Entries:
        bins, env = layout(tool, "", version)
        fmt, fixups = fill_format.FORMAT, (fill_format.FIXUP, bytecode.FIXUP)
        out: Entries = {}
        for plat in mine:
            name, digest = offers[plat][version]
            out[plat] = common.artifact(
                tool.name, version, url=f"cpython:{tag}/{name}", integrity=integrity.from_hex("sha256", digest),
                size=None, format=fmt, strip=1, bin=bins, env=env, fixups=fixups,
            )
        return out

    return Route(f"python-build-standalone release {tag}", offers, fill)


def _latest_tag(v: Vendor) -> str:
    """The tag of the vendor's newest release, from its latest-release.json."""
    from devshell.net import http

    url = mirror(v.latest)
    try:
        text = http.get_text(url)
    except FetchError as exc:
        raise Unreachable(f"its latest release cannot be read: {exc.message}") from None
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
