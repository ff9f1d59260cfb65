"""A loopback npm registry the tests fill: package documents and tarballs
they build, served as a registry serves them."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from tests.helpers import tarball
from tests.loopback import LoopbackServer

__all__ = ["FakeRegistry"]


class FakeRegistry:
    """Package documents at `/<name>` (scoped: `/@scope%2Fname`, the form the
    HTTP client sends) and tarballs at `/<name>/-/<base>-<version>.tgz`."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.docs: dict[str, dict[str, Any]] = {}

    def publish(self, name: str, version: str, files: dict[str, str | bytes] | None = None,
                tags: dict[str, str] | None = None, integrity: bool = True,
                **fields: Any) -> str:
        """Add one version (extra `fields` go into its version document); return its SRI."""
        body = tarball(files or {"package.json": json.dumps({"name": name, "version": version})},
                       top="package")
        base = name.rsplit("/", 1)[-1]
        url = self.server.add(f"/{name}/-/{base}-{version}.tgz", body)
        sri = "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()
        dist: dict[str, Any] = {"tarball": url, "shasum": hashlib.sha1(body).hexdigest(),
                                "unpackedSize": 123456789}
        if integrity:
            dist["integrity"] = sri
        doc = self.docs.setdefault(name, {"name": name, "dist-tags": {}, "versions": {}})
        doc["versions"][version] = {"name": name, "version": version, "dist": dist, **fields}
        doc["dist-tags"].update(tags or {"latest": version})  # as `npm publish [--tag]`
        self.server.add("/" + name.replace("/", "%2F"), json.dumps(doc).encode(),
                        content_type="application/json")
        return sri

    def doc_hits(self, name: str) -> int:
        return self.server.hits["/" + name.replace("/", "%2F")]
