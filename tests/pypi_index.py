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


def pywheel(name: str, version: str, *, tag: str = "py3-none-any", requires: tuple[str, ...] = (),
            requires_python: str | None = None, scripts: dict[str, str] | None = None,
            modules: dict[str, str] | None = None, lying: tuple[str, ...] = ()) -> tuple[str, bytes]:
    """A real wheel pip and installer accept: METADATA with its Requires-Dist
    (markers and all), WHEEL, entry points for `scripts` (name → "module:func"),
    the `modules` (path → source), and a RECORD that hashes every file (but
    the paths in `lying`, whose RECORD hash is of other bytes)."""
    import base64

    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        meta += f"Requires-Python: {requires_python}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = dict(modules if modules is not None else {f"{dist}/__init__.py": f"VERSION = {version!r}\n"})
    files[f"{info}/METADATA"] = meta
    files[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: devshell-tests\n"
                              f"Root-Is-Purelib: {'true' if tag.endswith('-any') else 'false'}\nTag: {tag}\n")
    if scripts:
        files[f"{info}/entry_points.txt"] = "[console_scripts]\n" + "".join(
            f"{k} = {v}\n" for k, v in scripts.items())
    record = ""
    for path, text in files.items():
        hashed = text.encode() + (b"# not these bytes\n" if path in lying else b"")
        digest = base64.urlsafe_b64encode(hashlib.sha256(hashed).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(text.encode())}\n"
    files[f"{info}/RECORD"] = record + f"{info}/RECORD,,\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, text in files.items():
            z.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), text)
    return f"{dist}-{version}-{tag}.whl", buf.getvalue()
