"""A loopback Debian archive with one real program and its closure: `greet`
(an ELF program compiled here with cc), `libgreet1` (the shared library it
links against) and `libc6` (the host's own loader and libc in Debian's
layout). Realised, `greet` runs from the store with the closure's loader,
relocated to wherever the store is: what the cache and bundle tests carry
from one machine (one DEVSHELL_HOME) to another."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devshell.debian import elf
from tests.debian_archive import DebPackage, FakeArchive, Server

__all__ = ["GREETING", "GreetArchive", "greet_archive"]

GREETING = "hello from libgreet"


class GreetArchive:
    def __init__(self, archive: FakeArchive, platform: str, no_gpgv: Path) -> None:
        self.archive = archive
        self.platform = platform
        # An unsigned test archive: a PATH with no gpgv, so there is nothing to verify it with.
        self.env = {"DEVSHELL_DEB_ARCHIVE": archive.url, "DEVSHELL_PLATFORM": platform, "PATH": str(no_gpgv)}

    def spec(self, tools: str = "") -> str:
        return (f'[shell]\nplatforms = ["{self.platform}"]\n[sources.deb]\nsuite = "testing-fake"\n'
                f'[tools]\n"deb:greet" = "latest"\n{tools}')


def _needs() -> None:
    missing = [t for t in ("cc", "dpkg-deb", "readelf") if shutil.which(t) is None]
    if not sys.platform.startswith("linux") or missing:
        pytest.skip(f"needs Linux with cc, dpkg-deb and readelf (missing: {', '.join(missing)})")


def greet_archive(server: Server, work: Path) -> GreetArchive:
    """Build and publish the archive on `server`, working in `work`."""
    _needs()
    plat, arch = {"x86_64": ("x86_64-linux", "amd64"),
                  "aarch64": ("aarch64-linux", "arm64")}.get(os.uname().machine, ("", ""))
    if not plat:
        pytest.skip(f"no Debian architecture for {os.uname().machine} in this test")
    with open(sys.executable, "rb") as f:
        info = elf.read(f)
    assert info is not None and info.interpreter, "python is not a dynamic ELF program"
    interp = info.interpreter
    loader = Path(os.path.realpath(interp))
    maps = Path("/proc/self/maps").read_text().split()
    libc = Path(os.path.realpath(next(w for w in maps if w.endswith("/libc.so.6"))))
    triplet = libc.parent.name
    work.mkdir(parents=True)
    (work / "greet.c").write_text(f'const char *greeting(void) {{ return "{GREETING}"; }}\n')
    (work / "main.c").write_text("#include <stdio.h>\nconst char *greeting(void);\n"
                                 "int main(void) { puts(greeting()); return 0; }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-Wl,-soname,libgreet.so.1", "-o",
                    str(work / "libgreet.so.1.0.0"), str(work / "greet.c")], check=True)
    (work / "libgreet.so").symlink_to("libgreet.so.1.0.0")
    subprocess.run(["cc", "-o", str(work / "greet"), str(work / "main.c"), f"-L{work}", "-lgreet"], check=True)
    archive = FakeArchive(server, suite="testing-fake", archs=(arch,))
    archive.add(
        DebPackage("libc6", "2.36-9", arch=arch, priority="required",
                   files={f"lib/{triplet}/{Path(interp).name}": loader.read_bytes(),
                          f"lib/{triplet}/libc.so.6": libc.read_bytes()},
                   symlinks={interp.lstrip("/"): f"/lib/{triplet}/{Path(interp).name}"}),
        DebPackage("libgreet1", "1.0-1", arch=arch, depends="libc6 (>= 2.34)",
                   files={f"usr/lib/{triplet}/libgreet.so.1.0.0": (work / "libgreet.so.1.0.0").read_bytes()},
                   symlinks={f"usr/lib/{triplet}/libgreet.so.1": "libgreet.so.1.0.0"}),
        DebPackage("greet", "1.0-1", arch=arch, depends="libgreet1 (= 1.0-1), libc6 (>= 2.34)",
                   files={"usr/bin/greet": (work / "greet").read_bytes()}),
    )
    archive.publish()
    no_gpgv = work / "empty-path"
    no_gpgv.mkdir()
    return GreetArchive(archive, plat, no_gpgv)
