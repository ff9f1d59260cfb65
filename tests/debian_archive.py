"""A fake Debian archive on loopback, for the deb source's and the store's tests.

    server = ArchiveServer().start()            # answers 304 to If-None-Match
    archive = FakeArchive(server, suite="testing-fake")
    archive.add(DebPackage("hello", "2.10-3", depends="libc6 (>= 2.34)",
                           files={"usr/bin/hello": "#!/bin/sh\\necho hello\\n"}))
    archive.add(DebPackage("libc6", "2.36-9", files={"usr/lib/x86_64-linux-gnu/libc.so.6": b"..."}))
    archive.publish()                           # Packages(.xz/.gz), Release, InRelease
    env = {"DEVSHELL_DEB_ARCHIVE": archive.url}

`.deb` files are built by hand (ar + control.tar.xz + data.tar.{xz,gz,zst,}),
byte-for-byte the same on every run, with the layout dpkg-deb writes; the
Release is unsigned unless `publish(signer=GpgKey(...))` is given a throwaway
key (needs gpg). `FakeArchive` takes any server with `url` and
`add(path, body)`, so tests.loopback.LoopbackServer works as well when
conditional requests do not matter.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol

import zstandard

__all__ = ["ArchiveServer", "DebPackage", "FakeArchive", "GpgKey", "build_deb"]

_MTIME = 1_700_000_000
_PROGRAM_DIRS = ("usr/bin/", "bin/", "usr/sbin/", "sbin/")

FileContent = str | bytes | tuple[str | bytes, int]  # content, or (content, mode)


class Server(Protocol):
    @property
    def url(self) -> str: ...

    def add(self, path: str, body: bytes) -> str: ...


class ArchiveServer:
    """A loopback HTTP server for static files that honours If-None-Match:
    every body has an ETag, and a request naming it gets 304 and no body.
    `hits` counts requests per path, `sent` counts bodies sent (200s), and
    `headers` keeps each request's headers, in order."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.headers: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.hits[path] += 1
                server.headers.append((path, dict(self.headers.items())))
                body = server.files.get(path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                server.sent[path] += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def add(self, path: str, body: bytes) -> str:
        self.files[path] = body
        return self.url + path

    def start(self) -> ArchiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class DebPackage:
    """One binary package. `files` maps paths (no leading /) to their content;
    files under bin directories, or starting with #! or an ELF header, are
    executable. `symlinks` maps paths to link targets, as dpkg-deb stores them."""

    name: str
    version: str
    arch: str = "amd64"
    depends: str = ""
    pre_depends: str = ""
    provides: str = ""
    recommends: str = ""
    priority: str = "optional"
    essential: bool = False
    multi_arch: str = ""
    files: dict[str, FileContent] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)
    compression: str = "xz"  # of data.tar: "xz", "gz", "zst" or "" (none)
    component: str = "main"

    @property
    def filename(self) -> str:
        """The path under the archive's root, as Packages' Filename names it."""
        upstream = self.version.split(":", 1)[-1]
        initial = self.name[:4] if self.name.startswith("lib") else self.name[0]
        return f"pool/{self.component}/{initial}/{self.name}/{self.name}_{upstream}_{self.arch}.deb"

    def control(self) -> str:
        lines = [f"Package: {self.name}", f"Version: {self.version}", f"Architecture: {self.arch}",
                 "Maintainer: devshell tests <tests@invalid>", "Installed-Size: 1"]
        for key, value in (("Pre-Depends", self.pre_depends), ("Depends", self.depends),
                           ("Recommends", self.recommends), ("Provides", self.provides),
                           ("Multi-Arch", self.multi_arch)):
            if value:
                lines.append(f"{key}: {value}")
        if self.essential:
            lines.append("Essential: yes")
        lines += [f"Priority: {self.priority}", f"Description: {self.name}, built by the tests"]
        return "\n".join(lines) + "\n"


def _tar(entries: list[tuple[str, bytes | None, int, str | None]], compression: str) -> bytes:
    """A deterministic tar of (path, content or None for a directory, mode, link target)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path, content, mode, target in entries:
            info = tarfile.TarInfo(path)
            info.mtime, info.uid, info.gid, info.uname, info.gname = _MTIME, 0, 0, "root", "root"
            info.mode = mode
            if target is not None:
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
            elif content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    data = raw.getvalue()
    if compression == "xz":
        return lzma.compress(data)
    if compression == "gz":
        return gzip.compress(data, mtime=0)
    if compression == "zst":
        return zstandard.ZstdCompressor().compress(data)
    return data


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        out += f"{name:<16}{_MTIME:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
        out += data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def build_deb(pkg: DebPackage) -> bytes:
    """The package as a .deb: debian-binary, control.tar.xz, data.tar.<compression>."""
    data: list[tuple[str, bytes | None, int, str | None]] = [("./", None, 0o755, None)]
    dirs: set[str] = set()
    paths = sorted({*pkg.files, *pkg.symlinks})
    for path in paths:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                data.append((f"./{d}/", None, 0o755, None))
        if path in pkg.symlinks:
            data.append((f"./{path}", None, 0o777, pkg.symlinks[path]))
            continue
        value = pkg.files[path]
        content, mode = value if isinstance(value, tuple) else (value, None)
        body = content.encode() if isinstance(content, str) else content
        if mode is None:
            runnable = path.startswith(_PROGRAM_DIRS) or body.startswith((b"#!", b"\x7fELF"))
            mode = 0o755 if runnable else 0o644
        data.append((f"./{path}", body, mode, None))
    control = _tar([("./", None, 0o755, None), ("./control", pkg.control().encode(), 0o644, None)], "xz")
    suffix = f".{pkg.compression}" if pkg.compression else ""
    return _ar([("debian-binary", b"2.0\n"), ("control.tar.xz", control),
                (f"data.tar{suffix}", _tar(data, pkg.compression))])


class GpgKey:
    """A throwaway OpenPGP signing key (needs gpg): `keyring` is its public
    keyring, for DEVSHELL_DEB_KEYRING. Call close() to stop its gpg-agent."""

    def __init__(self, keyring: Path) -> None:
        # A short home: gpg-agent's socket path must fit in 108 bytes.
        self.home = tempfile.mkdtemp(prefix="dsgpg")
        os.chmod(self.home, 0o700)
        self.keyring = keyring
        self._gpg("--passphrase", "", "--quick-gen-key", "devshell tests <tests@invalid>", "ed25519", "sign", "never")
        keyring.write_bytes(self._gpg("--export"))

    def _gpg(self, *args: str, data: bytes = b"") -> bytes:
        gpg = shutil.which("gpg")
        assert gpg is not None
        return subprocess.run([gpg, "--homedir", self.home, "--batch", "--yes", "--quiet", *args],
                              input=data, capture_output=True, check=True, timeout=60).stdout

    def clearsign(self, data: bytes) -> bytes:
        return self._gpg("--clearsign", data=data)

    def detach_sign(self, data: bytes) -> bytes:
        return self._gpg("--detach-sign", data=data)

    def close(self) -> None:
        gpgconf = shutil.which("gpgconf")
        if gpgconf:
            subprocess.run([gpgconf, "--homedir", self.home, "--kill", "gpg-agent"],
                           capture_output=True, check=False, timeout=30)
        shutil.rmtree(self.home, ignore_errors=True)


class FakeArchive:
    """A Debian archive under `<server>/debian/`: `add` packages (their .debs
    are served at once), then `publish` the suite's indexes."""

    def __init__(self, server: Server, suite: str = "testing-fake", archs: tuple[str, ...] = ("amd64",),
                 components: tuple[str, ...] = ("main",), prefix: str = "/debian",
                 listed_as: str = "") -> None:
        self.server = server
        self.suite = suite
        self.archs = archs
        self.components = components
        # What the Release's Components field puts before each component: the
        # security archive lists "updates/main" for indexes it keeps at main/.
        self.listed_as = listed_as
        self.prefix = prefix
        self.packages: list[DebPackage] = []
        self.debs: dict[str, bytes] = {}  # filename → bytes
        self.raw: list[str] = []  # paragraphs published as written, in every index (hostile ones)

    @property
    def url(self) -> str:
        return f"{self.server.url}{self.prefix}/"

    def add(self, *pkgs: DebPackage) -> None:
        for pkg in pkgs:
            body = build_deb(pkg)
            self.packages.append(pkg)
            self.debs[pkg.filename] = body
            self.server.add(f"{self.prefix}/{pkg.filename}", body)

    def paragraph(self, pkg: DebPackage) -> str:
        body = self.debs[pkg.filename]
        return (pkg.control() + f"Filename: {pkg.filename}\nSize: {len(body)}\n"
                f"SHA256: {hashlib.sha256(body).hexdigest()}\n")

    def publish(self, *, signer: GpgKey | None = None, inrelease: bool = True, release: bool = True,
                formats: tuple[str, ...] = ("xz", "gz", ""), tamper: dict[str, str] | None = None) -> str:
        """Serve dists/<suite>/: Packages in `formats` per component and
        architecture, Release (and Release.gpg when signed) and InRelease
        (clearsigned by `signer`, else the Release text itself). `tamper`
        replaces the Release's sha256 for the named index paths. Returns the
        Release text."""
        dists = f"{self.prefix}/dists/{self.suite}/"
        sums: list[tuple[str, bytes]] = []
        for component in self.components:
            for arch in self.archs:
                index = "\n".join([*(self.paragraph(p) for p in self.packages
                                     if p.component == component and p.arch in (arch, "all")),
                                    *self.raw]).encode()
                for fmt in formats:
                    name = f"{component}/binary-{arch}/Packages" + (f".{fmt}" if fmt else "")
                    body = lzma.compress(index) if fmt == "xz" else gzip.compress(index, mtime=0) if fmt == "gz" else index
                    self.server.add(dists + name, body)
                    sums.append((name, body))
        lines = [f"Origin: devshell-tests\nSuite: {self.suite}\nCodename: {self.suite}",
                 "Date: Tue, 14 Nov 2023 22:13:20 UTC",
                 f"Architectures: {' '.join(self.archs)}\n"
                 f"Components: {' '.join(self.listed_as + c for c in self.components)}",
                 "SHA256:"]
        for name, body in sums:
            digest = (tamper or {}).get(name, hashlib.sha256(body).hexdigest())
            lines.append(f" {digest} {len(body):>8} {name}")
        text = "\n".join(lines) + "\n"
        if release:
            self.server.add(dists + "Release", text.encode())
            if signer is not None:
                self.server.add(dists + "Release.gpg", signer.detach_sign(text.encode()))
        if inrelease:
            self.server.add(dists + "InRelease", signer.clearsign(text.encode()) if signer else text.encode())
        return text
