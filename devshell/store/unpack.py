"""Paranoid extraction of a downloaded artifact into an empty directory, and
`fill`, the archive formats' way of filling a store output (fetch, then unpack).

Every member is checked by devshell.store.members' rules before anything is
written (absolute paths, `..`, links that leave the output, hard links,
devices, FIFOs, writes through a symlink, size, how many members there are),
and modes are normalised. If writing fails part way, `dest` is emptied again.
Tars are read as streams twice, once to check and once to write: a second
decompression, but no temporary file for a tar.zst bomb to fill before the checks.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import stat
import struct
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

import zstandard

from devshell.errors import StoreError
from devshell.store.members import (
    DEFAULT_MAX_BYTES,
    Member,
    check_with_tarfile,
    corrupt,
    file_mode,
    max_members,
    plan,
    reading,
    tar_member,
    tar_members,
    too_many,
    unsafe,
)

if TYPE_CHECKING:
    from devshell.home import Home
    from devshell.lock import Artifact
    from devshell.sources.locate import Upstreams

__all__ = ["FORMATS", "detect_format", "fill", "unpack"]

#: The archive formats `unpack` reads (devshell.store.formats maps each to `fill`).
FORMATS = ("tar.gz", "tgz", "tar.xz", "tar.bz2", "tar.zst", "zip", "binary")

_SUFFIXES = {".tar.gz": "tar.gz", ".tgz": "tgz", ".tar.xz": "tar.xz", ".txz": "tar.xz",
             ".tar.bz2": "tar.bz2", ".tbz2": "tar.bz2", ".tar.zst": "tar.zst",
             ".tzst": "tar.zst", ".zip": "zip"}
_STREAM_MODES: dict[str, Literal["r|gz", "r|xz", "r|bz2"]] = {
    "tar.gz": "r|gz", "tgz": "r|gz", "tar.xz": "r|xz", "tar.bz2": "r|bz2"}
_CHUNK = 1024 * 1024


def detect_format(url_or_name: str) -> str:
    """The format a file name or URL's suffix names; "binary" when none does."""
    name = url_or_name.split("?", 1)[0].split("#", 1)[0].lower()
    return next((f for s, f in _SUFFIXES.items() if name.endswith(s)), "binary")


def fill(home: Home, artifact: Artifact, label: str, tmp: Path,
         upstreams: Upstreams) -> None:
    """Fill `tmp` from an archive artifact: fetch it (or take it from the
    download cache), verified against the lock, and unpack it. A lone binary
    is stored under its first program's path, else under the tool's name."""
    from devshell.net.fetch import Download, cached_path, fetch

    cached = cached_path(home, artifact.integrity).exists()
    url = artifact.url if cached else upstreams.concrete(artifact.url)
    archive = fetch(home, Download(url, artifact.integrity, artifact.size, label))
    programs = artifact.programs()
    binary_name = programs[0][1] if programs else label.split()[0]
    unpack(archive, artifact.format, tmp, strip=artifact.strip, binary_name=binary_name)


def unpack(archive: Path, fmt: str, dest: Path, *, strip: int | str = "auto",
           binary_name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
           member_limit: int | None = None) -> None:
    """Extract `archive` (format `fmt`) into the existing empty directory `dest`.

    `strip` drops that many leading path components ("auto": see
    devshell.store.members.auto_strip);
    members with nothing left are skipped. An archive of more than
    `member_limit` members (default: `max_members()`) is refused while it is
    being read. Raises UnsafeArchiveError for a member that breaks a rule
    (nothing is written), StoreError for the rest.
    """
    if fmt not in FORMATS:
        raise StoreError(f"unknown archive format {fmt!r} for {archive}",
                         hint=f"use one of: {', '.join(FORMATS)}")
    if not archive.is_file():
        raise StoreError(f"artifact {archive} to unpack does not exist")
    if not dest.is_dir() or any(dest.iterdir()):
        raise StoreError(f"cannot unpack into {dest}: it must be an existing, empty "
                         "directory")
    if strip != "auto" and (isinstance(strip, str | bool) or strip < 0):
        raise StoreError(f"invalid strip {strip!r} for {archive}",
                         hint='use "auto" or a whole number of path components')
    writer = _Writer(dest, archive, fmt, max_bytes,
                     max_members() if member_limit is None else member_limit)
    if fmt == "binary":
        _copy_binary(archive, binary_name, writer)
    elif fmt == "zip":
        _unpack_zip(archive, strip, writer)
    else:
        _unpack_tar(archive, fmt, strip, writer)


class _Writer:
    """Writes checked members under `root`, counting every byte against the limit."""

    def __init__(self, root: Path, archive: Path, fmt: str, max_bytes: int,
                 max_members: int) -> None:
        self.root, self.archive, self.fmt = root, archive, fmt
        self.max_bytes, self.max_members, self.written = max_bytes, max_members, 0

    @contextmanager
    def all_or_nothing(self) -> Iterator[None]:
        """Empty `root` again if writing fails part way."""
        try:
            yield
        except BaseException:
            for child in self.root.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            raise

    def write(self, m: Member, opener: Callable[[], IO[bytes] | None]) -> None:
        target = self.root / m.path
        try:
            parent = self.root
            for part in m.path.split("/")[:-1]:
                parent = parent / part
                if not parent.is_symlink() and not parent.exists():
                    parent.mkdir()
                    parent.chmod(0o755)
                elif not stat.S_ISDIR(parent.lstat().st_mode):  # plan forbids; be sure
                    raise unsafe(self.archive, m.name, "would be written through a "
                                  "non-directory", "write through link")
            if m.kind == "dir":
                target.mkdir(exist_ok=True)
                target.chmod(0o755)
            elif m.kind == "symlink":
                target.symlink_to(m.link)
            elif m.kind == "hardlink":
                target.hardlink_to(self.root / m.link)
            else:
                self._file(m, target, opener)
        except OSError as exc:
            raise StoreError(f"could not write {m.path!r} into {self.root}: "
                             f"{exc}") from exc

    def _file(self, m: Member, target: Path,
              opener: Callable[[], IO[bytes] | None]) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        count = 0
        with os.fdopen(os.open(target, flags, 0o600), "wb") as out:
            for chunk in self._chunks(opener):
                count += len(chunk)
                self.written += len(chunk)
                if self.written > self.max_bytes:  # a header may lie; the bytes cannot
                    raise unsafe(self.archive, m.name, "expands past the limit of "
                                  f"{self.max_bytes} bytes", "size limit")
                out.write(chunk)
            os.fchmod(out.fileno(), file_mode(m.mode))  # idempotent
        if count != m.size:
            raise corrupt(self.archive, self.fmt, ValueError(
                f"member {m.name!r} holds {count} bytes, its header says {m.size}"))

    def _chunks(self, opener: Callable[[], IO[bytes] | None]) -> Iterator[bytes]:
        """A member's bytes; a read error means a bad archive, not a bad disk."""
        with reading(self.archive, self.fmt):
            src = opener()
            with src if src is not None else io.BytesIO() as stream:
                while chunk := stream.read(_CHUNK):
                    yield chunk


@contextmanager
def _open_tar(archive: Path, fmt: str) -> Iterator[tarfile.TarFile]:
    with archive.open("rb") as raw:
        if fmt == "tar.zst":
            # pzstd and `cat a.zst b.zst` make several frames; read them all.
            zstd = zstandard.ZstdDecompressor()
            with zstd.stream_reader(raw, read_across_frames=True) as reader, \
                    tarfile.open(fileobj=reader, mode="r|") as tar:
                yield tar
        else:
            with tarfile.open(fileobj=raw, mode=_STREAM_MODES[fmt]) as tar:
                yield tar


def _unpack_tar(archive: Path, fmt: str, strip: int | str, writer: _Writer) -> None:
    with reading(archive, fmt):
        with _open_tar(archive, fmt) as tar:
            infos = tar_members(tar, archive, writer.max_members)
        members = [tar_member(info) for info in infos]
        planned = plan(archive, members, strip, writer.max_bytes, writer.max_members)
        check_with_tarfile(archive, infos, planned, writer.root)
        with _open_tar(archive, fmt) as tar, writer.all_or_nothing():
            for index, info in enumerate(tar):
                if index >= len(members) or tar_member(info) != members[index]:
                    raise StoreError(f"{archive} changed while it was being unpacked")
                if (m := planned[index]) is not None:
                    writer.write(m, functools.partial(tar.extractfile, info))
            if len(tar.getmembers()) != len(members):
                raise StoreError(f"{archive} changed while it was being unpacked")


def _zip_member(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Member:
    unix = info.external_attr >> 16
    mode = stat.S_IMODE(unix) if unix else None
    if info.flag_bits & 0x1:
        raise StoreError(f"{archive}: member {info.filename!r} is encrypted")
    if stat.S_ISLNK(unix):  # the link target is the entry's content
        if info.file_size > 4096:
            raise unsafe(archive, info.filename, "is a symlink with an overlong "
                          "target", "symlink escape")
        target = zf.read(info).decode("utf-8", "surrogateescape")
        return Member(info.filename, "symlink", mode, 0, target)
    kind = ("dir" if info.is_dir() or stat.S_ISDIR(unix) else
            "file" if stat.S_IFMT(unix) in (0, stat.S_IFREG) else
            "device" if stat.S_ISCHR(unix) or stat.S_ISBLK(unix) else
            "fifo" if stat.S_ISFIFO(unix) else "other")
    return Member(info.filename, kind, mode, info.file_size if kind == "file" else 0)


def _zip_entries(archive: Path) -> int | None:
    """How many entries the zip's end-of-central-directory record announces
    (zip64's when the plain one overflows), read before zipfile builds an
    object for each; None when there is no such record (zipfile then says why)."""
    with archive.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - (1 << 16) - 22))
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) < at + 22:
            return None
        count: int = struct.unpack("<H", tail[at + 10:at + 12])[0]
        locator = at - 20
        if count == 0xFFFF and locator >= 0 and tail[locator:locator + 4] == b"PK\x06\x07":
            f.seek(struct.unpack("<Q", tail[locator + 8:locator + 16])[0])
            record = f.read(56)
            if record[:4] == b"PK\x06\x06" and len(record) == 56:
                count = struct.unpack("<Q", record[32:40])[0]
        return count


def _unpack_zip(archive: Path, strip: int | str, writer: _Writer) -> None:
    with reading(archive, "zip"):
        announced = _zip_entries(archive)
    if announced is not None and announced > writer.max_members:
        raise too_many(archive, writer.max_members)
    with reading(archive, "zip"), zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > writer.max_members:  # before a symlink's target is read
            raise too_many(archive, writer.max_members)
        planned = plan(archive, [_zip_member(archive, zf, i) for i in infos], strip,
                       writer.max_bytes, writer.max_members)
        with writer.all_or_nothing():
            for info, m in zip(infos, planned, strict=True):
                if m is not None:
                    writer.write(m, functools.partial(zf.open, info))


def _copy_binary(archive: Path, binary_name: str | None, writer: _Writer) -> None:
    name = binary_name or ""
    if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise StoreError(f"a plain file name is needed to store binary {archive}, "
                         f"got {binary_name!r}", hint="set binary_name")
    size = archive.stat().st_size
    if size > writer.max_bytes:
        raise unsafe(archive, None, f"is {size} bytes, over the limit of "
                      f"{writer.max_bytes}", "size limit")
    with writer.all_or_nothing():
        writer.write(Member(name, "file", 0o755, size, path=name),
                     lambda: archive.open("rb"))
