"""Unpack .deb files into one directory, as `dpkg -x` would, but paranoid.

A .deb is an ar archive: `debian-binary`, `control.tar.*`, `data.tar.*`. Only
data.tar is read; control.tar, and the maintainer scripts in it, never are.
Every member goes through devshell.store.members' rules (absolute paths, `..`,
links that escape, hard links, devices, size; setuid bits dropped) before
anything of that package is written. Absolute symlink targets name the
package's own root (`/lib/x86_64-linux-gnu/…`), so they are rewritten as
relative links that stay inside the output.

A closure's packages share one tree, unpacked in the order given, with the
rules of devshell.debian.tree for what two packages may both ship.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import posixpath
import shutil
import tarfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import zstandard

from devshell.debian.tree import Tree
from devshell.errors import StoreError, UnsafeArchiveError
from devshell.store.members import (
    DEFAULT_MAX_BYTES,
    Member,
    check_with_tarfile,
    max_members,
    parts,
    plan,
    reading,
    tar_member,
    tar_members,
)

__all__ = ["unpack_debs"]

_CHUNK = 1024 * 1024
_COMPRESSIONS = ("", "gz", "xz", "bz2", "zst")


def unpack_debs(debs: Sequence[tuple[Path, str]], dest: Path, *,
                max_bytes: int = DEFAULT_MAX_BYTES, member_limit: int | None = None) -> None:
    """Unpack every (.deb path, label) into the existing directory `dest`.

    Each data.tar is decompressed once, in parallel, into the scratch
    directory `<dest>.debs` (beside `dest` and named after it, so what sweeps
    or locks the store's temp dir covers it too), then checked; packages are
    written in order as their checks pass.
    Raises UnsafeArchiveError for a member that breaks a rule, StoreError for
    the rest; the caller (the store's write path) throws `dest` away then.
    Each package may hold up to `member_limit` members (default: `max_members()`).
    """
    limit = max_members() if member_limit is None else member_limit
    scratch = dest.with_name(dest.name + ".debs")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        tree = Tree(str(dest), max_bytes)
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            # Decompressing (the slow part) runs ahead in the pool while the
            # packages already checked are written, in order.
            for package in pool.map(
                    lambda i: _check(debs[i][0], debs[i][1], scratch / f"{i}.tar", max_bytes, limit),
                    range(len(debs))):
                tree.add(package.label, package.deb, package.tar, package.members)
                package.tar.unlink()
        tree.check_links()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass(frozen=True)
class _Package:
    deb: Path
    label: str
    tar: Path  # data.tar, decompressed
    members: tuple[Member | None, ...]  # what to write for each (None: nothing)


def _check(deb: Path, label: str, tar_path: Path, max_bytes: int, limit: int) -> _Package:
    """Decompress the package's data.tar and check every member."""
    _decompress(deb, label, tar_path, max_bytes)
    try:
        with reading(deb, "deb"), tarfile.open(tar_path, "r:") as tar:
            infos = tar_members(tar, deb, limit)
    except UnsafeArchiveError as exc:
        raise UnsafeArchiveError(f"{label}: {exc.message}", hint=exc.hint) from None
    members = [_relative(tar_member(info)) for info in infos]
    if not any(parts(m.name) for m in members):
        return _Package(deb, label, tar_path, (None,) * len(members))
    try:
        planned = plan(deb, members, 0, max_bytes, limit)
        # Against an empty directory: the names alone are judged.
        check_with_tarfile(deb, infos, planned, tar_path.parent / "root")
    except UnsafeArchiveError as exc:
        raise UnsafeArchiveError(f"{label}: {exc.message}", hint=exc.hint) from None
    return _Package(deb, label, tar_path, tuple(planned))


def _relative(m: Member) -> Member:
    """An absolute symlink target, made relative to the package's root."""
    if m.kind != "symlink" or not m.link.startswith("/") or "\0" in m.link:
        return m
    parent = posixpath.dirname("/".join(parts(m.name))) or "."
    target = posixpath.normpath("/" + m.link).lstrip("/") or "."
    return replace(m, link=posixpath.relpath(target, parent))


def _data_member(deb: Path, label: str) -> tuple[int, int, str]:
    """Where data.tar lies in the .deb, and how it is compressed."""

    def bad(why: str) -> StoreError:
        return StoreError(f"{label}: {deb} is not a valid .deb: {why}",
                          hint="the file matched its hash, so the upstream package "
                          "is damaged; report it, or pick another version")

    found: tuple[int, int, str] | None = None
    with deb.open("rb") as f:
        total = os.fstat(f.fileno()).st_size
        if f.read(8) != b"!<arch>\n":
            raise bad("no ar archive header")
        pos, index = 8, 0
        while pos < total:
            f.seek(pos)
            header = f.read(60)
            if len(header) != 60 or header[58:60] != b"`\n":
                raise bad(f"damaged ar member header at byte {pos}")
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            size_text = header[48:58].decode("ascii", "replace").strip()
            if not size_text.isdigit() or pos + 60 + int(size_text) > total:
                raise bad(f"ar member {name!r} has a bad size")
            size = int(size_text)
            if index == 0:
                if name != "debian-binary" or not f.read(min(size, 16)).startswith(b"2."):
                    raise bad("it does not start with debian-binary 2.x")
            elif name.startswith("data.tar"):
                compression = name[len("data.tar"):].lstrip(".")
                if found is not None or compression not in _COMPRESSIONS:
                    raise bad(f"unexpected member {name!r}")
                found = (pos + 60, size, compression)
            pos += 60 + size + (size & 1)
            index += 1
    if found is None:
        raise bad("it has no data.tar member")
    return found


class _Window(io.RawIOBase):
    """The bytes [offset, offset + size) of an open file, read in order."""

    def __init__(self, raw: IO[bytes], offset: int, size: int) -> None:
        raw.seek(offset)
        self.raw, self.left = raw, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(min(len(buffer), self.left))
        buffer[: len(data)] = data
        self.left -= len(data)
        return len(data)


def _decompress(deb: Path, label: str, target: Path, max_bytes: int) -> None:
    """Write the package's data.tar, decompressed, to `target`, never more
    than `max_bytes` of it (a header may lie about sizes; this cannot)."""
    offset, size, compression = _data_member(deb, label)
    with deb.open("rb") as raw, target.open("wb") as out, reading(deb, "deb"):
        window = io.BufferedReader(_Window(raw, offset, size), _CHUNK)
        written = 0
        with _decompressor(compression, window) as src:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > max_bytes + _CHUNK:  # room for the tar headers
                    raise UnsafeArchiveError(
                        f"{label}: its data.tar expands past the limit of {max_bytes} "
                        "bytes", hint="nothing was kept")
                out.write(chunk)


def _decompressor(compression: str, window: IO[bytes]
                  ) -> IO[bytes] | io.BufferedIOBase | zstandard.ZstdDecompressionReader:
    if compression == "zst":
        return zstandard.ZstdDecompressor().stream_reader(window, read_across_frames=True)
    if compression == "xz":
        return lzma.LZMAFile(window)
    if compression == "gz":
        return gzip.GzipFile(fileobj=window)
    return bz2.BZ2File(window) if compression == "bz2" else window
