"""A python-build-standalone mirror on loopback, laid out as the vendor lays it
out: `latest-release/latest-release.json` (`version`, `tag`, `release_url`,
`asset_url_prefix`) and `releases/download/<tag>/` holding `SHA256SUMS` and the
`cpython-<version>+<tag>-<target>-install_only.tar.gz` assets, each archive
with a top `python/` directory.

    mirror = PbsMirror(server)
    mirror.release("20241206", {"3.13.1": fake_build("3.13.1")})   # every target
    mirror.configure()     # devshell's [mirrors]: the catalogue's vendor URLs → here

The vendor's URLs are read from the catalogue, never written here. Requests
arrive percent-encoded (`%2B` for the `+` in a file name), as a static file
server receives them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path
from urllib.parse import quote

from devshell.sources.cpython.vendor import vendor
from tests.loopback import LoopbackServer

__all__ = ["TARGETS", "VENV_HOME_LINE", "PbsMirror", "fake_build", "host_build"]

TARGETS = {
    "x86_64-linux": "x86_64-unknown-linux-gnu",
    "aarch64-linux": "aarch64-unknown-linux-gnu",
    "x86_64-darwin": "x86_64-apple-darwin",
    "aarch64-darwin": "aarch64-apple-darwin",
}
# What else a real release lists: other flavours and targets, never to be picked.
_DISTRACTIONS = ("x86_64-unknown-linux-gnu-install_only_stripped.tar.gz",
                 "x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst",
                 "x86_64-unknown-linux-musl-install_only.tar.gz",
                 "x86_64-pc-windows-msvc-install_only.tar.gz",
                 "x86_64-unknown-linux-gnu-freethreaded+pgo+lto-full.tar.zst")


#: The line of CPython's venv module that decides the home a venv records.
VENV_HOME_LINE = "        dirname, exename = os.path.split(os.path.abspath(executable))\n"


def _tar(entries: list[tuple[str, bytes | str | None, int]]) -> bytes:
    """A tar.gz of (path, content, mode) entries; content str: a symlink's
    target, None: a directory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, content, mode in entries:
            info = tarfile.TarInfo(path)
            info.mtime = 1_700_000_000
            info.mode = mode
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(content, str):
                info.type = tarfile.SYMTYPE
                info.linkname = content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return gzip.compress(buf.getvalue(), compresslevel=1, mtime=0)  # the same bytes every time


def fake_build(version: str, target: str = "") -> bytes:
    """An install_only archive whose `python3.X` is a shell script that says
    which build it is and echoes its arguments."""
    x = ".".join(version.split(".")[:2])
    script = f'#!/bin/sh\necho "fake CPython {version} {target} $*"\n'.encode()
    return _tar([
        ("python", None, 0o755),
        ("python/bin", None, 0o755),
        (f"python/bin/python{x}", script, 0o755),
        ("python/bin/python3", f"python{x}", 0o777),
        (f"python/lib/python{x}/os.py", b"# the standard library would be here\n", 0o644),
        (f"python/lib/python{x}/venv/__init__.py", VENV_HOME_LINE.encode(), 0o644),
    ])


def host_build() -> tuple[str, bytes] | None:
    """(version, install_only archive) of the host's real /usr/bin/python3:
    the interpreter, its standard library and extension modules under
    `python/`, as python-build-standalone lays them out. None when there is
    no /usr/bin/python3."""
    exe = Path("/usr/bin/python3")
    if not exe.exists():
        return None
    probe = ("import sys, sysconfig; print(sys.version.split()[0]); "
             "print(sysconfig.get_path('stdlib')); print(sysconfig.get_path('platstdlib'))")
    out = subprocess.run([str(exe), "-I", "-c", probe], capture_output=True, text=True, check=True,
                         timeout=60).stdout.split("\n")
    version, stdlib, platstdlib = out[0], Path(out[1]), Path(out[2])
    x = ".".join(version.split(".")[:2])
    skip = {"test", "tests", "__pycache__", "idlelib", "tkinter", "turtledemo", "site-packages",
            "dist-packages"}
    entries: list[tuple[str, bytes | str | None, int]] = [
        ("python", None, 0o755), ("python/bin", None, 0o755),
        (f"python/bin/python{x}", Path(os.path.realpath(exe)).read_bytes(), 0o755),
        ("python/bin/python3", f"python{x}", 0o777),
    ]
    seen: set[str] = set()
    for root in (stdlib, platstdlib / "lib-dynload" if (platstdlib / "lib-dynload").is_dir() else None):
        if root is None:
            continue
        base = f"python/lib/python{x}" + ("/lib-dynload" if root.name == "lib-dynload" else "")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.startswith("config-"))
            rel = os.path.relpath(dirpath, root)
            here = base if rel == "." else f"{base}/{rel}"
            if here not in seen:
                entries.append((here, None, 0o755))
                seen.add(here)
            for name in sorted(filenames):
                path = Path(dirpath, name)
                if path.is_symlink() or not path.is_file() or f"{here}/{name}" in seen:
                    continue
                seen.add(f"{here}/{name}")
                entries.append((f"{here}/{name}", path.read_bytes(), 0o755 if os.access(path, os.X_OK) else 0o644))
    return version, _tar(entries)


class PbsMirror:
    """The vendor's release layout on a loopback server."""

    def __init__(self, server: LoopbackServer, prefix: str = "/pbs") -> None:
        self.server = server
        self.prefix = prefix
        self.sums: dict[str, str] = {}  # tag → SHA256SUMS text

    @property
    def releases(self) -> str:
        return f"{self.server.url}{self.prefix}/releases/download/"

    @property
    def latest_url(self) -> str:
        return f"{self.server.url}{self.prefix}/latest-release/latest-release.json"

    def asset_path(self, tag: str, file_name: str) -> str:
        return f"{self.prefix}/releases/download/{tag}/{quote(file_name)}"

    def release(self, tag: str, builds: dict[str, bytes | dict[str, bytes]], latest: bool = True,
                sums: str | None = None) -> dict[str, str]:
        """Publish release `tag`: per version, one archive for every target
        or one per platform named; returns file name → sha256. `sums`
        replaces the SHA256SUMS text (a hostile one)."""
        listed: dict[str, str] = {}
        for version, body in builds.items():
            per = body if isinstance(body, dict) else dict.fromkeys(TARGETS, body)
            for plat, data in per.items():
                name = f"cpython-{version}+{tag}-{TARGETS[plat]}-install_only.tar.gz"
                self.server.add(self.asset_path(tag, name), data)
                listed[name] = hashlib.sha256(data).hexdigest()
            for extra in _DISTRACTIONS:
                listed[f"cpython-{version}+{tag}-{extra}"] = hashlib.sha256(extra.encode()).hexdigest()
        text = sums if sums is not None else "".join(f"{h}  {n}\n" for n, h in sorted(listed.items()))
        self.sums[tag] = text
        self.server.add(f"{self.prefix}/releases/download/{tag}/SHA256SUMS", text.encode())
        if latest:
            self.latest(tag)
        return listed

    def latest(self, tag: str, doc: object = None) -> None:
        """Name `tag` the latest release (or serve `doc` as latest-release.json)."""
        body = doc if doc is not None else {
            "version": 1, "tag": tag, "release_url": f"{self.server.url}/releases/tag/{tag}",
            "asset_url_prefix": f"{self.releases}{tag}",
        }
        self.server.add(f"{self.prefix}/latest-release/latest-release.json", json.dumps(body).encode(),
                        content_type="application/json")

    def mirrors(self) -> dict[str, str]:
        """devshell's [mirrors]: the catalogue's vendor URLs → this mirror."""
        v = vendor()
        return {v.releases: self.releases, v.latest.rsplit("/", 1)[0] + "/": self.latest_url.rsplit("/", 1)[0] + "/"}

    def configure(self, config_home: Path | None = None) -> Path:
        """Write [mirrors] into devshell's config.toml (under $XDG_CONFIG_HOME)."""
        home = config_home or Path(os.environ["XDG_CONFIG_HOME"])
        path = home / "devshell" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("[mirrors]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in self.mirrors().items()))
        return path
