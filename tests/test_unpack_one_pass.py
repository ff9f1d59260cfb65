"""Unpacking in one pass (issue 16): each archive is decompressed once, its
files hashed as they are written, with memory bounded whatever they expand to;
the manifest made from those hashes is the one a re-hash gives."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import random
import stat
import tarfile
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
import zstandard

from devshell.store import build_manifest, digests, streams
from devshell.store.unpack import unpack
from tests.helpers import devshell, installed_tool, sha256, url_tool, write_spec
from tests.loopback import LoopbackServer

MiB = 1024 * 1024
TAR_FORMATS = ["tar.gz", "tar.xz", "tar.bz2", "tar.zst"]
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "tar.gz": gzip.compress, "tar.xz": lzma.compress, "tar.bz2": bz2.compress,
    "tar.zst": zstandard.ZstdCompressor().compress,
}


def tar_bytes(files: dict[str, bytes], top: str = "tool-1.0") -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mode = len(data), 0o755 if path.startswith("bin/") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def archive_bytes(fmt: str, files: dict[str, bytes]) -> bytes:
    if fmt != "zip":
        return COMPRESS[fmt](tar_bytes(files))
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            info = zipfile.ZipInfo(f"tool-1.0/{path}")
            info.create_system, info.compress_type = 3, zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | (0o755 if path.startswith("bin/") else 0o644)) << 16
            zf.writestr(info, data)
    return raw.getvalue()


def files_of(seed: int) -> dict[str, bytes]:
    """A program, and data bigger than a few read chunks (3.5 MiB: chunk
    boundaries fall inside it), half random, half text."""
    rng = random.Random(seed)
    data = b"".join(rng.randbytes(64 * 1024) + b"line of text\n" * 5000 for _ in range(28))
    return {"bin/tool": b"#!/bin/sh\necho tool works\n", "share/data.bin": data,
            "share/empty": b"", "share/seed": str(seed).encode()}


def rehash(out: Path) -> dict[str, str]:
    """Every file's sha256 under `out`, read from disk."""
    found = {}
    for dirpath, _, names in os.walk(out):
        for name in names:
            path = Path(dirpath, name)
            if not path.is_symlink():
                found[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.mark.parametrize("fmt", [*TAR_FORMATS, "zip"])
def test_each_format_installs_and_its_manifest_is_what_a_rehash_gives(
    tmp_path: Path, server: LoopbackServer, fmt: str
) -> None:
    body = archive_bytes(fmt, files_of(1))
    server.add(f"/tool-1.0.{fmt}", body)
    root = tmp_path / "proj"
    write_spec(root, url_tool("tool", "1.0", f"{server.url}/tool-{{version}}.{fmt}",
                              {"x86_64-linux": sha256(body)}, bin='["bin/tool"]'))
    out, recorded = installed_tool(root)
    assert recorded == rehash(out)
    assert recorded["share/data.bin"] == hashlib.sha256(files_of(1)["share/data.bin"]).hexdigest()
    verify = devshell("verify", cwd=root)
    assert verify.returncode == 0, verify.stderr


@pytest.mark.parametrize("fmt", TAR_FORMATS)
def test_a_tar_is_decompressed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    archive = tmp_path / f"a.{fmt}"
    archive.write_bytes(archive_bytes(fmt, files_of(2)))
    real = streams.CODECS[fmt]
    passes = []

    def counted(raw: IO[bytes]) -> Iterator[bytes]:
        passes.append(fmt)
        return real(raw)

    monkeypatch.setitem(streams.CODECS, fmt, counted)
    dest = tmp_path / "out"
    dest.mkdir()
    unpack(archive, fmt, dest)
    assert passes == [fmt]
    assert rehash(dest) == {p: hashlib.sha256(d).hexdigest() for p, d in files_of(2).items()}


@pytest.mark.parametrize("fmt", [*TAR_FORMATS, "zip"])
def test_hashes_taken_while_writing_give_the_manifest_a_rehash_gives(
    tmp_path: Path, fmt: str
) -> None:
    archive = tmp_path / f"a.{fmt}"
    archive.write_bytes(archive_bytes(fmt, files_of(3)))
    dest = tmp_path / "out"
    dest.mkdir()
    written = digests.Digests()
    unpack(archive, fmt, dest, hashes=written)
    assert build_manifest(dest, written) == build_manifest(dest)
    assert all(written.get((dest / p).stat()) for p in files_of(3))


def test_a_file_changed_after_it_was_written_is_hashed_again(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(archive_bytes("tar.gz", files_of(4)))
    dest = tmp_path / "out"
    dest.mkdir()
    written = digests.Digests()
    unpack(archive, "tar.gz", dest, hashes=written)
    with (dest / "share/seed").open("ab") as f:  # grown in place
        f.write(b"!")
    (dest / "share/empty").unlink()  # replaced by another file of the same size
    (dest / "share/empty").write_bytes(b"")
    os.replace(dest / "bin/tool", dest / "share/moved")
    assert build_manifest(dest, written) == build_manifest(dest)


def test_an_unpack_outside_the_store_write_path_records_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(archive_bytes("tar.gz", files_of(5)))
    dest = tmp_path / "out"
    dest.mkdir()
    with digests.recording() as recorded:
        unpack(archive, "tar.gz", dest)  # as another filler calls it, then may patch files
    assert not any(recorded.get((dest / p).stat()) for p in files_of(5))


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.xz", "tar.bz2"])
def test_a_tar_compressed_as_several_streams_extracts(tmp_path: Path, fmt: str) -> None:
    # pigz, pixz and pbzip2 write several members or streams one after another.
    raw = tar_bytes(files_of(6))
    cut = len(raw) // 3
    archive = tmp_path / f"a.{fmt}"
    archive.write_bytes(COMPRESS[fmt](raw[:cut]) + COMPRESS[fmt](raw[cut:]))
    dest = tmp_path / "out"
    dest.mkdir()
    unpack(archive, fmt, dest)
    assert rehash(dest) == {p: hashlib.sha256(d).hexdigest() for p, d in files_of(6).items()}


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.xz", "tar.zst"])
def test_a_member_expanding_to_64_mib_is_streamed_through_a_quarter_of_that(
    tmp_path: Path, fmt: str
) -> None:
    zeros = bytes(64 * MiB)
    archive = tmp_path / f"a.{fmt}"
    archive.write_bytes(COMPRESS[fmt](tar_bytes({"share/zeros": zeros})))
    assert archive.stat().st_size < MiB
    del zeros
    dest = tmp_path / "out"
    dest.mkdir()
    tracemalloc.start()
    try:
        unpack(archive, fmt, dest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (dest / "share/zeros").stat().st_size == 64 * MiB
    # A quarter of it, with the decoder's own window (xz -6: 8 MiB) included.
    assert peak < 16 * MiB


def test_a_member_named_like_the_staging_directory_unpacks(tmp_path: Path) -> None:
    files = {".devshell-staging/0": b"zero", ".devshell-staging-0/x": b"x", "bin/tool": b"t"}
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(archive_bytes("tar.gz", files))
    dest = tmp_path / "out"
    dest.mkdir()
    unpack(archive, "tar.gz", dest)
    assert rehash(dest) == {p: hashlib.sha256(d).hexdigest() for p, d in files.items()}
    assert sorted(os.listdir(dest)) == [".devshell-staging", ".devshell-staging-0", "bin"]


def _unpacked_empties(tmp_path: Path, empty: tuple[str, ...], link: tuple[str, str]) -> Path:
    """A tar.gz of empty files and one symlink (name, target), unpacked."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name in empty:
            tar.addfile(tarfile.TarInfo(name))
        info = tarfile.TarInfo(link[0])
        info.type, info.linkname = tarfile.SYMTYPE, link[1]
        tar.addfile(info)
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(raw.getvalue())
    dest = tmp_path / "out"
    dest.mkdir()
    unpack(archive, "tar.gz", dest)
    return dest


def test_a_directory_named_like_the_staging_directory_holding_only_empty_files_is_kept(tmp_path: Path) -> None:
    # Nothing is staged for empty files, so no staging directory is made:
    # the member's own directory of that name must not be taken for it.
    dest = _unpacked_empties(tmp_path, (".devshell-staging/keep", "sub/e"), (".devshell-staging-link", "sub"))
    assert sorted(os.listdir(dest)) == [".devshell-staging", ".devshell-staging-link", "sub"]
    assert os.listdir(dest / ".devshell-staging") == ["keep"]


def test_a_symlink_named_like_the_staging_directory_unpacks(tmp_path: Path) -> None:
    dest = _unpacked_empties(tmp_path, ("sub/e",), (".devshell-staging", "sub"))
    assert os.readlink(dest / ".devshell-staging") == "sub" and os.listdir(dest / "sub") == ["e"]


def test_a_zip_member_under_the_staging_directorys_name_is_kept(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(".devshell-staging/keep", b"kept")
        zf.writestr("bin/tool", b"t")
    dest = tmp_path / "out"
    dest.mkdir()
    unpack(archive, "zip", dest)
    assert (dest / ".devshell-staging" / "keep").read_bytes() == b"kept"


def test_a_refused_tar_leaves_no_staged_bytes(tmp_path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in (("pkg/big", os.urandom(2 * MiB)), ("pkg/../../evil", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(raw.getvalue())
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(Exception, match="path traversal"):
        unpack(archive, "tar.gz", dest)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("fmt", TAR_FORMATS)
def test_empty_files_are_made_in_place_not_staged(tmp_path: Path, fmt: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A flood of empty members (or a package's empty __init__.py files) costs
    # no file until every member has been checked: there are no bytes to keep.
    from devshell.store import unpack as unpack_module

    staged: list[int] = []
    real = unpack_module._Writer.stage

    def counting(self: unpack_module._Writer, index: int, *rest: object) -> object:
        staged.append(index)
        return real(self, index, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(unpack_module._Writer, "stage", counting)
    files = {"pkg/__init__.py": b"", "pkg/sub/__init__.py": b"", "pkg/mod.py": b"x = 1\n", "bin/tool": b"t"}
    archive = tmp_path / f"a.{fmt}"
    archive.write_bytes(archive_bytes(fmt, files))
    dest = tmp_path / "out"
    dest.mkdir()
    unpack(archive, fmt, dest, hashes=digests.Digests())
    assert rehash(dest) == {p: hashlib.sha256(d).hexdigest() for p, d in files.items()}
    assert (dest / "pkg/__init__.py").stat().st_size == 0
    assert len(staged) == 2  # mod.py and tool; the two empty files were made where they belong
    assert sorted(os.listdir(dest)) == ["bin", "pkg"]


def test_an_output_is_normalised_sealed_and_listed_in_one_walk_as_before(tmp_path: Path) -> None:
    # What store.add makes of any filler's tree: the manifest the old three
    # walks (normalise, manifest, read-only) gave, and the same modes.
    from devshell import store
    from devshell.home import Home

    def populate(out: Path) -> None:
        (out / "bin").mkdir(mode=0o700)
        (out / "bin/tool").write_bytes(b"#!/bin/sh\n")
        (out / "bin/tool").chmod(0o700)
        (out / "share/deep/er").mkdir(parents=True)
        (out / "share/deep/er/data").write_bytes(b"data" * 1000)
        (out / "share/deep/er/data").chmod(0o664)
        (out / "share/link").symlink_to("deep/er/data")
        (out / "top").write_bytes(b"")

    home = Home(Path(os.environ["DEVSHELL_HOME"]))
    name = "0" * 32 + "-sealed-1.0"
    out = store.add(home, name, populate)
    manifest = json.loads(home.manifest(name).read_text())
    assert {k: manifest[k] for k in ("files", "sha256")} == build_manifest(out)
    modes = {str(p.relative_to(out)): stat.S_IMODE(p.lstat().st_mode)
             for p in out.rglob("*") if not p.is_symlink()}
    assert modes == {"bin": 0o555, "bin/tool": 0o555, "share": 0o555, "share/deep": 0o555,
                     "share/deep/er": 0o555, "share/deep/er/data": 0o444, "top": 0o444}
    assert stat.S_IMODE(out.lstat().st_mode) == 0o555
    assert {p.lstat().st_mtime for p in (out, *out.rglob("*"))} == {1.0}


@pytest.mark.parametrize(("preset", "size"), [(0, 256 * 1024), (6, 8 * MiB), (9, 64 * MiB)])
def test_an_xz_streams_window_is_read_from_its_first_block_header(preset: int, size: int) -> None:
    head = lzma.compress(b"x" * 1000, preset=preset)[:64]
    assert streams.window("tar.xz", head) == size


def test_a_zstd_frames_window_and_the_small_formats_are_known() -> None:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=26)
    head = zstandard.ZstdCompressor(compression_params=params).compress(b"x" * 1000)
    assert streams.window("tar.zst", head) == 1000  # one segment: its content size
    streaming = zstandard.ZstdCompressor(compression_params=params).compressobj()
    head = streaming.compress(b"x") + streaming.flush()  # size unknown: the window says
    assert streams.window("tar.zst", head) == 64 * MiB
    assert streams.window("tar.gz", b"") == 0
    assert streams.window("tar.bz2", b"BZh9") == 0
    assert streams.window("tar.xz", b"not xz at all") is None


def test_large_window_decoders_run_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three archives unpacked at once, as install does: with xz -9 each
    # decoder would hold 64 MiB; only one may decode at a time.
    import threading
    import time

    real = streams.CODECS["tar.xz"]
    running, most = 0, 0
    lock = threading.Lock()

    def watched(raw: IO[bytes]) -> Iterator[bytes]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.2)  # long enough for the others to start, were they let
            yield from real(raw)
        finally:
            with lock:
                running -= 1

    monkeypatch.setitem(streams.CODECS, "tar.xz", watched)
    big: list[Path] = []
    small: list[Path] = []
    for i in range(3):
        raw = tar_bytes({"share/data": b"%d" % i * 1000})
        for preset, found in ((9, big), (1, small)):
            archive = tmp_path / f"{preset}-{i}.tar.xz"
            archive.write_bytes(lzma.compress(raw, preset=preset))
            found.append(archive)
    for archives, allowed in ((big, 1), (small, 3)):
        most = 0
        dests = [tmp_path / f"out-{a.name}" for a in archives]
        threads = [threading.Thread(target=unpack, args=(a, "tar.xz", d))
                   for a, d in zip(archives, dests, strict=True)]
        for d in dests:
            d.mkdir()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert most == allowed
        assert all((d / "share/data").is_file() for d in dests)
