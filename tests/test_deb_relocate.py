"""Relocating a closure's ELF files: files that need the same change share
one patchelf run, and a file patchelf refuses is still told apart from the
others of its run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devshell import store
from devshell.debian import elf
from devshell.errors import StoreError
from devshell.home import Home
from tests.loopback import LoopbackServer
from tests.test_deb_realise import dpkg_deb, serve_artifact

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("cc") is None
    or shutil.which("dpkg-deb") is None,
    reason="needs Linux with cc and dpkg-deb",
)

LIBS = 20  # more than one patchelf run's worth


def _home() -> Home:
    return Home(Path(os.environ["DEVSHELL_HOME"]))


def _no_section_headers(path: Path) -> None:
    """Still a loadable ELF by its program headers, but patchelf refuses it."""
    data = bytearray(path.read_bytes())
    data[0x28:0x30] = bytes(8)  # e_shoff
    data[0x3C:0x40] = bytes(4)  # e_shnum, e_shstrndx
    path.write_bytes(bytes(data))


@pytest.fixture
def libs_deb(tmp_path: Path) -> bytes:
    """One package of LIBS shared libraries in one directory; lib07 broken."""
    (tmp_path / "f.c").write_text("int f(void) { return 1; }\n")
    built = tmp_path / "libf.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(built), str(tmp_path / "f.c")], check=True)
    libdir = tmp_path / "root" / "usr" / "lib" / "x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    for i in range(LIBS):
        shutil.copy(built, libdir / f"lib{i:02}.so.1")
    _no_section_headers(libdir / "lib07.so.1")
    return dpkg_deb(tmp_path / "root", "libs", "1.0", tmp_path)


def _runpath(path: Path) -> tuple[str, ...]:
    with open(path, "rb") as f:
        info = elf.read(f)
    assert info is not None
    return info.runpath


def test_every_library_but_the_refused_one_is_relocated(
        server: LoopbackServer, libs_deb: bytes) -> None:
    out = store.add_artifact(_home(), serve_artifact(server, ("libs", libs_deb), []), "libs 1.0")
    libdir = out / "usr" / "lib" / "x86_64-linux-gnu"
    for i in range(LIBS):
        assert _runpath(libdir / f"lib{i:02}.so.1") == (() if i == 7 else ("$ORIGIN",)), i


def test_exposing_the_refused_file_is_a_clear_error(
        server: LoopbackServer, libs_deb: bytes) -> None:
    artifact = serve_artifact(server, ("libs", libs_deb), [],
                              bin=("usr/lib/x86_64-linux-gnu/lib07.so.1",))
    with pytest.raises(StoreError, match=r"lib07\.so\.1 cannot be relocated.*patchelf "
                       r"refused it: .*no section headers"):
        store.add_artifact(_home(), artifact, "libs 1.0")
    assert not _home().store.exists() or list(_home().store.iterdir()) == []
