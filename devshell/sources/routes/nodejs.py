"""Node.js's dist site: `index.json` lists every release and the builds it
has (`linux-x64`, `osx-arm64-tar`…); each release's `SHASUMS256.txt` gives
the archives' sha256. An archive unpacks (its top directory dropped) to
bin/node and lib/node_modules/npm, whose npm-cli.js and npx-cli.js are npm
and npx."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devshell import catalog, integrity, names, platforms
from devshell.lock import Unavailable
from devshell.sources import common
from devshell.sources.routes.choice import Entries, Route
from devshell.sources.routes.labels import label
from devshell.sources.routes.vendor import file_url, lock_url, read, releases
from devshell.spec import ToolSpec
from devshell.versions import Constraint

if TYPE_CHECKING:
    from devshell.context import Context

__all__ = ["builds", "route"]

# index.json's name for the archive build of each OS ({arch}: the route's arch name)
_BUILDS = {"linux": "linux-{arch}", "darwin": "osx-{arch}-tar"}


def builds(text: str, url: str) -> dict[str, set[str]]:
    """version (without `v`) → the builds index.json says it has."""
    return {version: {f for f in files if isinstance(f, str)}
            for version, files, _ in releases(text, url, "v", "the index must be Node.js's own dist/index.json")}


def route(tool: ToolSpec, entry: catalog.RouteEntry, plats: tuple[str, ...], ctx: Context,
          constraint: Constraint) -> Route:
    assert entry.index is not None and entry.checksums is not None, "the catalogue names both"
    from devshell.config import rewrite

    listed = builds(read(ctx, entry.index, "index.json"), rewrite(entry.index))
    offers: dict[str, dict[str, Any]] = {}
    for version, have in listed.items():
        if not names.is_plain(version):
            continue
        for plat in plats:
            arch, system = platforms.split(plat)
            build = _BUILDS.get(system, "").replace("{arch}", dict(entry.arch_names).get(arch, arch))
            if build in have:
                offers.setdefault(plat, {})[version] = None

    def fill(version: str, mine: tuple[str, ...]) -> Entries:
        from devshell.sources.url import Checksums

        assert entry.checksums is not None
        sums_url = platforms.fill(entry.checksums, mine[0], version=version)
        text = read(ctx, sums_url, f"SHASUMS256.txt of {version}")
        sums = Checksums(text, rewrite(sums_url))
        out: Entries = {}
        for plat in mine:
            url = file_url(entry, plat, version)
            name = url.rsplit("/", 1)[-1]
            digest = sums.get(name)
            if digest is None:
                out[plat] = Unavailable(f"{name} is not listed in Node.js's SHASUMS256.txt of {version}")
                continue
            out[plat] = common.artifact(
                tool.name, version, url=lock_url(entry, "nodejs", url),
                integrity=integrity.from_hex("sha256", digest), size=None, format="tar.gz", strip=1,
                bin=tool.bin if tool.bin is not None else entry.bin, env=tool.env or entry.env,
            )
        return out

    return Route(label(entry), offers, fill, nothing="no Node.js release")
