"""Unpack .deb files into one directory, as `dpkg -x` would, but paranoid.

A .deb is an ar archive: `debian-binary`, `control.tar.*`, `data.tar.*`. Only
data.tar is read; control.tar, and the maintainer scripts in it, never are.
Every member goes through devshell.store.members' rules (absolute paths, `..`,
links that escape, hard links, devices, size; setuid bits dropped) before
anything of that package is written. Absolute symlink targets name the
package's own root (`/lib/x86_64-linux-gnu/…`), so they are rewritten as
relative links that stay inside the output.

Each data.tar is read once, as it is decompressed (devshell.store.streams):
a file member's bytes go to a numbered file of the package's own staging
directory, and no name from the archive is used until every member has been
checked. Several packages are staged at once (the decoders and the file
system let other threads run); then, in the closure's order, each package's
staged files are renamed to their paths in the one shared tree, with the rules
of devshell.debian.tree for what two packages may both ship.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import tarfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import IO, cast

from devshell.debian.tree import Staged, Tree
from devshell.errors import StoreError, UnsafeArchiveError
from devshell.store import streams
from devshell.store.members import (
    DEFAULT_MAX_BYTES,
    Member,
    check_with_tarfile,
    corrupt,
    file_mode,
    max_members,
    member_cost,
    parts,
    plan,
    reading,
    tar_member,
    too_big,
    too_many,
)

__all__ = ["unpack_debs"]

_CHUNK = 1024 * 1024
#: data.tar's suffix -> its format in devshell.store.streams ("": not compressed).
_COMPRESSIONS = {"": "", "gz": "tar.gz", "xz": "tar.xz", "bz2": "tar.bz2", "zst": "tar.zst"}


def unpack_debs(debs: Sequence[tuple[Path, str]], dest: Path, *,
                max_bytes: int = DEFAULT_MAX_BYTES, member_limit: int | None = None) -> None:
    """Unpack every (.deb path, label) into the existing directory `dest`.

    The packages are staged in parallel into the scratch directory
    `<dest>.debs` (beside `dest`, on its file system, and named after it, so
    what sweeps or locks the store's temp dir covers it too); each is placed
    in order as soon as it is staged and checked.
    Raises UnsafeArchiveError for a member that breaks a rule, StoreError for
    the rest; the caller (the store's write path) throws `dest` away then.
    Each package may hold up to `member_limit` members (default: `max_members()`).
    """
    limit = max_members() if member_limit is None else member_limit
    scratch = dest.with_name(dest.name + ".debs")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        tree = Tree(str(dest))
        pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
        try:
            staging = [pool.submit(_stage, deb, label, scratch / str(i), max_bytes, limit)
                       for i, (deb, label) in enumerate(debs)]
            for future in staging:
                tree.add(future.result())
        finally:  # on a failure, what has not started never does
            pool.shutdown(wait=True, cancel_futures=True)
        tree.check_links()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _stage(deb: Path, label: str, where: Path, max_bytes: int, limit: int) -> Staged:
    """Read the package's data.tar once: stage its files' bytes under
    `where`, then check every member."""
    try:
        return _staged(deb, label, where, max_bytes, limit)
    except UnsafeArchiveError as exc:
        raise UnsafeArchiveError(f"{label}: {exc.message}", hint=exc.hint) from None


def _staged(deb: Path, label: str, where: Path, max_bytes: int, limit: int) -> Staged:
    offset, size, compression = _data_member(deb, label)
    where.mkdir()
    infos: list[tarfile.TarInfo] = []
    members: list[Member] = []
    sources: list[str | None] = []
    total = 0
    with reading(deb, "deb"), deb.open("rb") as raw:
        window = _Window(raw, offset, size)
        with _decompressed(window, compression) as stream, \
                tarfile.open(fileobj=stream, mode="r:") as tar:
            for info in tar:
                if len(infos) >= limit:
                    raise too_many(deb, limit)
                m = _relative(tar_member(info))
                total += member_cost(m)
                if total > max_bytes:  # before its bytes are read
                    raise too_big(deb, total, max_bytes)
                staged = None
                if m.kind == "file":
                    staged = os.path.join(where, str(len(infos)))
                    _copy(deb, m, _bytes(tar, stream, info), staged)
                infos.append(info)
                members.append(m)
                sources.append(staged)
    if not any(parts(m.name) for m in members):
        return Staged(label, deb, (), ())
    planned = plan(deb, members, 0, max_bytes, limit)
    # Against an empty directory: the names alone are judged.
    check_with_tarfile(deb, infos, planned, where / "root")
    return Staged(label, deb, tuple(planned), tuple(sources))


def _decompressed(window: _Window, compression: str) -> streams.Forward:
    fmt = _COMPRESSIONS[compression]
    if fmt:
        return streams.decompressed(cast(IO[bytes], window), fmt)
    return streams.Forward(iter(lambda: window.read(_CHUNK), b""))


def _bytes(tar: tarfile.TarFile, stream: streams.Forward, info: tarfile.TarInfo) -> Iterator[bytes]:
    """A file member's bytes: the stream's next `size` bytes from its
    `offset_data`, as the decoder made them (tarfile's own reader copies
    each one twice more); a sparse member through tarfile."""
    if info.sparse is None:
        stream.seek(info.offset_data)
        yield from stream.pieces(info.size)
        return
    src = tar.extractfile(info)
    with src if src is not None else io.BytesIO() as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def _copy(deb: Path, m: Member, chunks: Iterator[bytes], path: str) -> None:
    """Write member `m`'s bytes to a new file at `path` with its mode."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    count = 0
    try:
        with os.fdopen(os.open(path, flags, 0o600), "wb", buffering=0) as out:
            for chunk in chunks:
                count += len(chunk)
                out.write(chunk)
            os.fchmod(out.fileno(), file_mode(m.mode))
    except OSError as exc:
        raise StoreError(f"could not stage {m.name!r} of {deb} in {path}: {exc}") from exc
    if count != m.size:  # the stream ended inside the member
        raise corrupt(deb, "deb", ValueError(
            f"member {m.name!r} holds {count} bytes, its header says {m.size}"))


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
        super().__init__()
        raw.seek(offset)
        self.raw, self.left = raw, size

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        want = self.left if size is None or size < 0 else min(size, self.left)
        data = self.raw.read(want)
        self.left -= len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
