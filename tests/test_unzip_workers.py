"""A zip's files are written by two threads (issue 16), the big ones by the
second: the output, its manifest and the hashes recorded while writing are
those one thread gives, and a member that fails part way leaves nothing
behind, whichever thread met it."""

from __future__ import annotations

import hashlib
import io
import random
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from devshell.errors import StoreError
from devshell.store import build_manifest, digests
from devshell.store import unpack as unpack_module
from devshell.store.unpack import unpack
from tests.helpers import devshell, installed_tool, sha256, url_tool, write_spec
from tests.loopback import LoopbackServer


def wheel_files(seed: int) -> dict[str, bytes]:
    """A wheel's shape: a few hundred small files over many directories, and
    some large ones (bigger than a read chunk)."""
    rng = random.Random(seed)
    files = {"bin/tool": b"#!/bin/sh\necho tool works\n"}
    for i in range(300):
        files[f"lib/pkg{i % 17}/sub{i % 5}/m{i}.py"] = rng.randbytes(rng.randrange(0, 3000))
    for i in range(3):
        files[f"share/big{i}.bin"] = rng.randbytes(1024 * 1024) + b"text line\n" * 150_000
    return files


def zip_bytes(files: dict[str, bytes], stored: str = "") -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as zf:
        for path, data in files.items():
            info = zipfile.ZipInfo(f"tool-1.0/{path}")
            info.create_system = 3
            info.compress_type = zipfile.ZIP_STORED if path == stored else zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | (0o755 if path.startswith("bin/") else 0o644)) << 16
            zf.writestr(info, data)
    return raw.getvalue()


def test_a_wheel_sized_zip_installs_and_verifies(tmp_path: Path, server: LoopbackServer) -> None:
    files = wheel_files(1)
    body = zip_bytes(files)
    server.add("/tool-1.0.zip", body)
    root = tmp_path / "proj"
    write_spec(root, url_tool("tool", "1.0", f"{server.url}/tool-{{version}}.zip",
                              {"x86_64-linux": sha256(body)}, bin='["bin/tool"]'))
    _, recorded = installed_tool(root)
    assert recorded == {p: hashlib.sha256(d).hexdigest() for p, d in files.items()}
    verify = devshell("verify", cwd=root)
    assert verify.returncode == 0, verify.stderr


def unpacked(tmp_path: Path, name: str, archive: Path) -> tuple[Path, digests.Digests, set[str]]:
    """`archive` unpacked into a new directory: it, the hashes recorded, and
    the threads that recorded them."""
    dest = tmp_path / name
    dest.mkdir()
    threads: set[str] = set()

    class Noted(digests.Digests):
        def add(self, fd: int, sha256: str) -> None:
            threads.add(threading.current_thread().name)
            super().add(fd, sha256)

    written = Noted()
    unpack(archive, "zip", dest, hashes=written)
    return dest, written, threads


def test_two_writers_give_what_one_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(zip_bytes(wheel_files(2)))
    two, two_hashes, two_threads = unpacked(tmp_path, "two", archive)
    monkeypatch.setattr(unpack_module, "WRITERS", 1)
    one, one_hashes, one_threads = unpacked(tmp_path, "one", archive)
    assert len(two_threads) == 2 and len(one_threads) == 1
    assert build_manifest(two, two_hashes) == build_manifest(one, one_hashes) == build_manifest(one)
    assert build_manifest(two) == build_manifest(one)
    modes = {str(p.relative_to(two)): stat.S_IMODE(p.stat().st_mode) for p in two.rglob("*")}
    assert modes == {str(p.relative_to(one)): stat.S_IMODE(p.stat().st_mode) for p in one.rglob("*")}
    assert modes["bin/tool"] == 0o755 and modes["share/big0.bin"] == 0o644


@pytest.mark.parametrize("bad", ["lib/pkg3/sub3/m3.py", "share/big1.bin"])
def test_a_member_failing_part_way_leaves_nothing(tmp_path: Path, bad: str) -> None:
    """A small file (written by the calling thread) or a big one (by the other)."""
    files = wheel_files(3)
    body = bytearray(zip_bytes(files, stored=bad))
    at = body.find(files[bad][:64])
    assert at > 0
    body[at] ^= 0xFF  # its CRC no longer matches: found only once its bytes are read
    archive = tmp_path / "bad.zip"
    archive.write_bytes(bytes(body))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(StoreError, match="not a valid zip archive"):
        unpack(archive, "zip", dest)
    assert list(dest.iterdir()) == []
