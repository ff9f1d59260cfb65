"""A fake Python package index on loopback: wheels the tests build, listed
through the simple API as PEP 691 JSON or PEP 503 HTML."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from tests.loopback import LoopbackServer


def wheel(name: str, version: str, tag: str, scripts: dict[str, str], extra: dict[str, str] | None = None) -> tuple[str, bytes]:
    """A wheel file name and bytes; `scripts` land in <name>-<version>.data/scripts/."""
    dist = name.replace("-", "_")
    filename = f"{dist}-{version}-py3-none-{tag}.whl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for prog, text in scripts.items():
            info = zipfile.ZipInfo(f"{dist}-{version}.data/scripts/{prog}")
            info.external_attr = (0o100755 << 16)
            z.writestr(info, text)
        for path, text in (extra or {}).items():
            z.writestr(path, text)
        z.writestr(f"{dist}-{version}.dist-info/METADATA", f"Name: {name}\nVersion: {version}\n")
    return filename, buf.getvalue()


class FakeIndex:
    """Serves /json/simple/<project>/ and /html/simple/<project>/ for the same files."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.files: dict[str, list[dict[str, object]]] = {}

    def add(self, project: str, filename: str, body: bytes, yanked: bool = False) -> None:
        path = f"/files/{filename}"
        self.server.add(path, body)
        self.files.setdefault(project, []).append({
            "filename": filename, "url": path, "hashes": {"sha256": hashlib.sha256(body).hexdigest()},
            "yanked": yanked, "size": len(body),
        })
        self.publish(project)

    def publish(self, project: str) -> None:
        files = self.files[project]
        doc = {"meta": {"api-version": "1.1"}, "name": project, "files": files}
        self.server.add(f"/json/simple/{project}/", json.dumps(doc).encode(),
                        content_type="application/vnd.pypi.simple.v1+json")
        anchors = "".join(
            f'<a href="../../..{f["url"]}#sha256={f["hashes"]["sha256"]}"'  # type: ignore[index]
            + (' data-yanked=""' if f["yanked"] else "") + f'>{f["filename"]}</a><br/>\n'
            for f in files
        )
        html = f"<!DOCTYPE html><html><body><h1>Links for {project}</h1>\n{anchors}</body></html>"
        self.server.add(f"/html/simple/{project}/", html.encode(), content_type="text/html")

    def url(self, kind: str = "json") -> str:
        return f"{self.server.url}/{kind}/simple/"
