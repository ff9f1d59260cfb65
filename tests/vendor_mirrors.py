"""Vendor download sites on loopback, laid out as each vendor lays its out,
their URLs read from the catalogue (never written here):

- Node.js's dist site: `index.json` (every release, with the builds it has),
  `v<version>/SHASUMS256.txt`, `v<version>/node-v<version>-<os>-<arch>.tar.gz`,
  each archive with a top `node-v<version>-<os>-<arch>/` directory.
- Go's downloads: `?mode=json&include=all` (a list of releases, each file with
  its sha256 and size; the server sees the path `/dl/`), and
  `go<version>.<os>-<arch>.tar.gz` beside it, each archive with a top `go/`.

    mirror = NodeDist(server); mirror.release("20.11.1"); configure(mirror, go)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from devshell import catalog, platforms
from devshell.catalog import RouteEntry
from tests.helpers import script, tarball
from tests.loopback import LoopbackServer

__all__ = ["GoDownloads", "NodeDist", "configure", "vendor_route"]

_ARCH = {"x86_64": "x64", "aarch64": "arm64"}


def vendor_route(tool: str, kind: str) -> RouteEntry:
    entry = catalog.get(tool)
    assert entry is not None
    return next(r for r in entry.routes if r.kind == kind)


class NodeDist:
    """Node.js's dist/ directory."""

    def __init__(self, server: LoopbackServer, prefix: str = "/node/dist/") -> None:
        self.server, self.prefix = server, prefix
        self.route = vendor_route("node", "nodejs-dist")
        self.releases: list[dict[str, object]] = []
        self.sums: dict[str, str] = {}

    def release(self, version: str, plats: tuple[str, ...] = platforms.ALL, *,
                tamper: tuple[str, ...] = ()) -> dict[str, bytes]:
        """Publish `version` for `plats`: archives whose node, npm-cli.js and
        npx-cli.js are scripts saying which they are. For the platforms in
        `tamper` the server sends other bytes of the same length than it lists."""
        files, archives = [], {}
        for plat in plats:
            arch, system = platforms.split(plat)
            name = f"node-v{version}-{system}-{_ARCH[arch]}"
            body = tarball({
                "bin/node": script(f'echo "fake node {version} {plat} $*"'),
                "lib/node_modules/npm/bin/npm-cli.js": script(f'echo "fake npm for node {version} $*"'),
                "lib/node_modules/npm/bin/npx-cli.js": script('echo "fake npx $*"'),
            }, top=name)
            archives[plat] = body
            self.sums[f"{name}.tar.gz"] = hashlib.sha256(body).hexdigest()
            self.server.add(f"{self.prefix}v{version}/{name}.tar.gz", _tampered(body) if plat in tamper else body)
            files.append(f"linux-{_ARCH[arch]}" if system == "linux" else f"osx-{_ARCH[arch]}-tar")
        ours = {k: v for k, v in self.sums.items() if k.startswith(f"node-v{version}-")}
        self.server.add(f"{self.prefix}v{version}/SHASUMS256.txt",
                        "".join(f"{h}  {n}\n" for n, h in sorted(ours.items())).encode())
        self.releases.insert(0, {"version": f"v{version}", "date": "2024-02-14", "files": files,
                                 "npm": "10.2.4", "lts": "Iron", "security": False})
        self.server.add(f"{self.prefix}index.json", json.dumps(self.releases).encode(),
                        content_type="application/json")
        return archives

    def mirrors(self) -> dict[str, str]:
        assert self.route.base is not None
        return {self.route.base: self.server.url + self.prefix}


class GoDownloads:
    """Go's dl/ directory and its JSON listing."""

    def __init__(self, server: LoopbackServer, prefix: str = "/go/dl/") -> None:
        self.server, self.prefix = server, prefix
        self.route = vendor_route("go", "go-dl")
        self.listing: list[dict[str, object]] = []

    def release(self, version: str, plats: tuple[str, ...] = platforms.ALL, *, stable: bool = True,
                tamper: tuple[str, ...] = ()) -> dict[str, bytes]:
        files, archives = [], {}
        for plat in plats:
            arch, system = platforms.split(plat)
            name = f"go{version}.{system}-{'amd64' if arch == 'x86_64' else 'arm64'}.tar.gz"
            body = tarball({
                "bin/go": script(f'echo "go version go{version} {plat} GOROOT=$GOROOT"'),
                "bin/gofmt": script('echo "fake gofmt"'),
            }, top="go")
            archives[plat] = body
            self.server.add(f"{self.prefix}{name}", _tampered(body) if plat in tamper else body)
            files.append({"filename": name, "os": system, "arch": name.split("-")[-1].split(".")[0],
                          "version": f"go{version}", "sha256": hashlib.sha256(body).hexdigest(),
                          "size": len(body), "kind": "archive"})
        files.append({"filename": f"go{version}.src.tar.gz", "os": "", "arch": "", "version": f"go{version}",
                      "sha256": "0" * 64, "size": 1, "kind": "source"})
        self.listing.insert(0, {"version": f"go{version}", "stable": stable, "files": files})
        self.server.add(self.prefix, json.dumps(self.listing).encode(), content_type="application/json")
        return archives

    def mirrors(self) -> dict[str, str]:
        assert self.route.base is not None
        return {self.route.base: self.server.url + self.prefix}


def _tampered(body: bytes) -> bytes:
    return body[:-1] + bytes([body[-1] ^ 1])


def configure(*mirrors: NodeDist | GoDownloads, extra: dict[str, str] | None = None) -> Path:
    """Write devshell's [mirrors] (under $XDG_CONFIG_HOME) for these vendors."""
    table: dict[str, str] = dict(extra or {})
    for m in mirrors:
        table |= m.mirrors()
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "devshell" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[mirrors]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in table.items()))
    return path
