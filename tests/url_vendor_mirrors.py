"""The url tools' vendors on loopback, laid out as each lays its site out,
every vendor URL read from the catalogue (never written here):

- HashiCorp: `<product>/index.json` (`versions`), `<product>/<v>/<product>_<v>_SHA256SUMS`
  and `<product>/<v>/<product>_<v>_<os>_<arch>.zip`.
- Kubernetes: `release/stable.txt`, `release/stable-<x.y>.txt`,
  `release/v<v>/bin/<os>/<arch>/kubectl` and `kubectl.sha256` (one bare hash).
- Helm: `helm-latest-version`, `helm-v<v>-<os>-<arch>.tar.gz` (a top
  `<os>-<arch>/` directory) and `….tar.gz.sha256sum`.

Each site is served under its own prefix; `mirrors()` maps the vendor's
origin (scheme and host, from the catalogue) there.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from urllib.parse import urlsplit

from devshell import catalog
from tests.helpers import script, tarball
from tests.loopback import LoopbackServer

__all__ = ["Hashicorp", "Helm", "Kubernetes"]


def _origin(tool: str) -> str:
    entry = catalog.get(tool)
    assert entry is not None and entry.index is not None
    parts = urlsplit(entry.index)
    return f"{parts.scheme}://{parts.netloc}/"


def _tampered(body: bytes) -> bytes:
    return body[:-1] + bytes([body[-1] ^ 1])


class _Site:
    tool = ""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.prefix = f"/{self.tool}-vendor/"

    def add(self, path: str, body: bytes | str) -> None:
        self.server.add(self.prefix + path, body.encode() if isinstance(body, str) else body)

    def requested(self) -> list[str]:
        return [p for p in self.server.hits if p.startswith(self.prefix)]

    def mirrors(self) -> dict[str, str]:
        return {_origin(self.tool): self.server.url + self.prefix}


class Hashicorp(_Site):
    tool = "terraform"

    def __init__(self, server: LoopbackServer) -> None:
        super().__init__(server)
        self.versions: dict[str, object] = {}

    def release(self, version: str, tamper: bool = False) -> None:
        name = f"terraform_{version}_linux_amd64.zip"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            info = zipfile.ZipInfo("terraform")
            info.external_attr = 0o100755 << 16
            z.writestr(info, script(f'echo "Terraform v{version}"'))
        body = buf.getvalue()
        self.add(f"terraform/{version}/{name}", _tampered(body) if tamper else body)
        self.add(f"terraform/{version}/terraform_{version}_SHA256SUMS",
                 f"{hashlib.sha256(body).hexdigest()}  {name}\n")
        self.versions[version] = {"name": "terraform", "version": version,
                                  "shasums": f"terraform_{version}_SHA256SUMS", "builds": [
                                      {"name": "terraform", "version": version, "os": "linux",
                                       "arch": "amd64", "filename": name}]}
        self.add("terraform/index.json", json.dumps({"name": "terraform", "versions": self.versions}))


class Kubernetes(_Site):
    tool = "kubectl"

    def release(self, version: str, stable: tuple[str, ...] = ()) -> None:
        body = script(f'echo "Client Version: v{version}"').encode()
        self.add(f"release/v{version}/bin/linux/amd64/kubectl", body)
        self.add(f"release/v{version}/bin/linux/amd64/kubectl.sha256", hashlib.sha256(body).hexdigest())
        for name in stable:  # "stable.txt", "stable-1.30.txt"
            self.add(f"release/{name}", f"v{version}\n")


class Helm(_Site):
    tool = "helm"

    def release(self, version: str, latest: bool = True) -> None:
        name = f"helm-v{version}-linux-amd64.tar.gz"
        body = tarball({"helm": script(f'echo "version.BuildInfo{{Version:\\"v{version}\\"}}"')},
                       top="linux-amd64")
        self.add(name, body)
        self.add(f"{name}.sha256sum", f"{hashlib.sha256(body).hexdigest()}  {name}\n")
        if latest:
            self.add("helm-latest-version", f"v{version}")
