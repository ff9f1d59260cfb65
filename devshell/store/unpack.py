"""Paranoid extraction of a downloaded artifact into an empty directory, and
`fill`, the archive formats' way of filling a store output (fetch, then unpack).

Every member is checked by devshell.store.members' rules before any member is
written where it belongs (absolute paths, `..`, links that leave the output,
hard links, devices, FIFOs, writes through a symlink, size, how many members
there are), and modes are normalised. If writing fails part way, `dest` is
emptied again.

A tar is decompressed once (devshell.store.streams): each member's bytes go,
as they are read, into a numbered file of a staging directory inside `dest`,
hashed on the way and counted against the size limit; no name from the
archive is used until every member has been checked (an empty file has no
bytes to stage: it is made in place afterwards). Then each staged file is
renamed to its path, and links are made, symlinks last. A zip's directory is
read first, so its members are checked before any is read; then, in
directories made beforehand, its files of a MiB or more are written by a
second thread while the first writes the rest (see `_Writer._write_files`).
The hashes taken while writing go to the manifest (devshell.store.digests).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import stat
import struct
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from devshell.errors import StoreError
from devshell.store import digests, streams
from devshell.store.digests import Digests
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
    unsafe,
)
from devshell.store.suffixes import FORMATS, detect_format

if TYPE_CHECKING:
    from devshell.home import Home
    from devshell.lock import Artifact
    from devshell.sources.locate import Upstreams

__all__ = ["FORMATS", "detect_format", "fill", "unpack"]

_CHUNK = 1024 * 1024
#: Threads that write a zip's files: the calling thread the small ones, a
#: second one those of a MiB or more (1: the calling thread all of them).
WRITERS = 2
#: A zip of fewer files than this is written by the calling thread alone.
_MANY = 16
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_STAGING = ".devshell-staging"


def fill(home: Home, artifact: Artifact, label: str, tmp: Path,
         upstreams: Upstreams) -> None:
    """Fill `tmp` from an archive artifact: fetch it (or take it from the
    download cache), verified against the lock, and unpack it. A lone binary
    is stored under its first program's path, else under the tool's name."""
    from devshell.net.fetch import Download, fetch

    archive = fetch(home, Download(artifact.url, artifact.integrity, artifact.size, label),
                    locate=upstreams.concrete)
    programs = artifact.programs()
    binary_name = programs[0][1] if programs else label.split()[0]
    # Nothing changes a file after this: the hashes taken while writing are
    # the manifest's.
    unpack(archive, artifact.format, tmp, strip=artifact.strip, binary_name=binary_name,
           hashes=digests.current())


def unpack(archive: Path, fmt: str, dest: Path, *, strip: int | str = "auto",
           binary_name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
           member_limit: int | None = None, hashes: Digests | None = None) -> None:
    """Extract `archive` (format `fmt`) into the existing empty directory `dest`.

    `strip` drops that many leading path components ("auto": see
    devshell.store.members.auto_strip);
    members with nothing left are skipped. An archive of more than
    `member_limit` members (default: `max_members()`) is refused while it is
    being read. Each file written is added to `hashes`, when given, with the
    sha256 of its bytes. Raises UnsafeArchiveError for a member that breaks a
    rule (nothing is written), StoreError for the rest.
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
                     max_members() if member_limit is None else member_limit, hashes)
    if fmt == "binary":
        _copy_binary(archive, binary_name, writer)
    elif fmt == "zip":
        _unpack_zip(archive, strip, writer)
    else:
        _unpack_tar(archive, fmt, strip, writer)


@dataclass(frozen=True)
class _Staged:
    """A member's bytes, already written (and counted) to staging file `name`."""

    name: str


#: What opens a member's bytes, as chunks (read, then closed, as they are consumed).
Opener = Callable[[], Iterator[bytes]]
Source = Opener | _Staged | None


class _Writer:
    """Writes checked members under `root`, counting every byte against the limit."""

    def __init__(self, root: Path, archive: Path, fmt: str, max_bytes: int,
                 max_members: int, hashes: Digests | None = None) -> None:
        self.root, self.archive, self.fmt, self.hashes = root, archive, fmt, hashes
        self.max_bytes, self.max_members, self.written = max_bytes, max_members, 0
        self._dirs: set[str] = set()  # directories under root known to exist
        self._staging = os.path.join(root, _STAGING)
        self._made_staging = False  # whether `stage` made it: a member may bear its name
        self._count = threading.Lock()  # `written`, added to by each writer thread

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

    def stage(self, index: int, m: Member, opener: Opener) -> _Staged:
        """Write member `m`'s bytes to a staging file named by its index."""
        if not self._made_staging:
            os.mkdir(self._staging, 0o700)
            self._made_staging = True
        try:
            self._copy(m, opener, os.path.join(self._staging, str(index)))
        except OSError as exc:
            raise StoreError(f"could not write {m.name!r} into {self.root}: {exc}") from exc
        return _Staged(str(index))

    def place(self, planned: Sequence[Member | None], sources: Sequence[Source]) -> None:
        """Write every planned member from its source: directories and staged
        files in order, then the files read from the archive (`_write_files`),
        then hard links, symlinks last."""
        taken = {m.path.split("/", 1)[0] for m in planned if m is not None}
        if _STAGING in taken and self._made_staging:  # a member's own name
            aside = next(f"{_STAGING}-{i}" for i in range(len(taken) + 1)
                         if f"{_STAGING}-{i}" not in taken)
            os.rename(self._staging, os.path.join(self.root, aside))
            self._staging = os.path.join(self.root, aside)
        self._dirs = set()
        links: list[Member] = []
        later: list[Member] = []  # hard links
        opened: list[tuple[Member, Opener]] = []
        for m, source in zip(planned, sources, strict=True):
            if m is None:
                continue
            if m.kind == "symlink" or m.kind == "hardlink":
                (links if m.kind == "symlink" else later).append(m)
            elif m.kind == "file" and source is not None and not isinstance(source, _Staged):
                self._parents(m)
                opened.append((m, source))
            else:
                self.write(m, source)
        self._write_files(opened)
        for m in later + links:  # a hard link's file is written by now
            self.write(m, None)
        if self._made_staging:
            shutil.rmtree(self._staging)

    def _write_files(self, files: Sequence[tuple[Member, Opener]]) -> None:
        """Write `files` (their directories made already): the calling thread
        writes the small ones in order, as unzip does, while another thread
        writes the big ones (a MiB or more), where decompressing, hashing
        and writing let the GIL go. Creating a small file is mostly the
        kernel's inode allocation, which two threads at once only contend
        for. An error in either stops both, and is raised once neither is
        writing any more."""
        big = [f for f in files if f[0].size >= _CHUNK]
        small = [f for f in files if f[0].size < _CHUNK]
        if WRITERS < 2 or len(files) < _MANY or not big or not small:
            for m, opener in files:
                self._fill(m, opener)
            return
        stop = threading.Event()

        def aside() -> None:
            for m, opener in big:
                if stop.is_set():
                    return
                self._fill(m, opener)

        with ThreadPoolExecutor(1, thread_name_prefix="devshell-unzip") as pool:
            helper = pool.submit(aside)
            try:
                for m, opener in small:
                    if helper.done() and helper.exception() is not None:
                        break
                    self._fill(m, opener)
            except BaseException:  # an error, or Ctrl-C: the helper stops after its file
                stop.set()
                raise
            helper.result()

    def _fill(self, m: Member, opener: Opener) -> None:
        try:
            self._copy(m, opener, os.path.join(self.root, m.path))
        except OSError as exc:
            raise StoreError(f"could not write {m.path!r} into {self.root}: {exc}") from exc

    def write(self, m: Member, opener: Source) -> None:
        target = os.path.join(self.root, m.path)
        try:
            self._parents(m)
            if m.kind == "dir":
                if m.path not in self._dirs:
                    os.makedirs(target, 0o755, exist_ok=True)
                    os.chmod(target, 0o755)
                    self._dirs.add(m.path)
            elif m.kind == "symlink":
                os.symlink(m.link, target)
            elif m.kind == "hardlink":
                os.link(os.path.join(self.root, m.link), target, follow_symlinks=False)
            elif isinstance(opener, _Staged):
                os.rename(os.path.join(self._staging, opener.name), target)
            elif opener is not None:
                self._copy(m, opener, target)
            else:
                raise StoreError(f"{self.archive}: nothing to write for {m.name!r}")
        except OSError as exc:
            raise StoreError(f"could not write {m.path!r} into {self.root}: "
                             f"{exc}") from exc

    def _parents(self, m: Member) -> None:
        """Make the directories above `m`, each looked at once per archive."""
        steps = m.path.split("/")[:-1]
        for depth in range(1, len(steps) + 1):
            rel = "/".join(steps[:depth])
            if rel in self._dirs:
                continue
            path = os.path.join(self.root, rel)
            try:
                os.mkdir(path, 0o755)
                os.chmod(path, 0o755)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(path).st_mode):  # plan forbids; be sure
                    raise unsafe(self.archive, m.name, "would be written through a "
                                 "non-directory", "write through link") from None
            self._dirs.add(rel)

    def _copy(self, m: Member, opener: Opener, path: str) -> None:
        """Write `m`'s bytes to a new file at `path`, hashing them as they go."""
        count = 0
        sha = hashlib.sha256()
        with os.fdopen(os.open(path, _NEW, 0o600), "wb", buffering=0) as out:
            for chunk in self._chunks(opener):
                count += len(chunk)
                with self._count:
                    self.written += len(chunk)
                    written = self.written
                if written > self.max_bytes:  # a header may lie; the bytes cannot
                    raise unsafe(self.archive, m.name, "expands past the limit of "
                                 f"{self.max_bytes} bytes", "size limit")
                sha.update(chunk)
                out.write(chunk)
            if count != m.size:
                raise corrupt(self.archive, self.fmt, ValueError(
                    f"member {m.name!r} holds {count} bytes, its header says {m.size}"))
            os.fchmod(out.fileno(), file_mode(m.mode))  # idempotent
            if self.hashes is not None:
                self.hashes.add(out.fileno(), sha.hexdigest())

    def _chunks(self, opener: Opener) -> Iterator[bytes]:
        """A member's bytes; a read error means a bad archive, not a bad disk."""
        with reading(self.archive, self.fmt):
            yield from opener()


def _read(src: IO[bytes] | None) -> Iterator[bytes]:
    """The bytes of file object `src` (none if None), then close it."""
    with src if src is not None else io.BytesIO() as stream:
        while chunk := stream.read(_CHUNK):
            yield chunk


def _no_bytes() -> Iterator[bytes]:
    """An empty member's bytes."""
    return iter(())


def _tar_opener(tar: tarfile.TarFile, stream: streams.Forward, info: tarfile.TarInfo) -> Opener:
    """What reads a tar member's bytes. tarfile's own reader (ExFileObject)
    copies every MiB twice more while holding the GIL, so for a plain member
    its bytes are taken from the stream as the decoder made them: they are
    the stream's next `size` bytes from `offset_data`, exactly what it reads."""

    def opened() -> Iterator[bytes]:
        src = tar.extractfile(info)
        if isinstance(src, tar.fileobject) and info.sparse is None:
            src.close()
            stream.seek(info.offset_data)
            return stream.pieces(info.size)
        return _read(src)

    return opened


def _unpack_tar(archive: Path, fmt: str, strip: int | str, writer: _Writer) -> None:
    infos: list[tarfile.TarInfo] = []
    members: list[Member] = []
    sources: list[Source] = []
    n = strip if isinstance(strip, int) else None  # "auto": known at the end
    total = 0
    with reading(archive, fmt), archive.open("rb") as raw, writer.all_or_nothing():
        with streams.decompressed(raw, fmt) as stream, tarfile.open(fileobj=stream, mode="r:") as tar:
            for info in tar:
                if len(infos) >= writer.max_members:
                    raise too_many(archive, writer.max_members)
                m = tar_member(info)
                total += member_cost(m)
                if total > writer.max_bytes:  # before its bytes are read
                    raise too_big(archive, total, writer.max_bytes)
                wanted = m.kind == "file" and (n is None or len(parts(m.name)) > n)
                # An empty file has no bytes to keep: it is made where it
                # belongs, with the rest, so a flood of them costs no file
                # before every member is checked.
                sources.append(None if not wanted else _no_bytes if m.size == 0 else
                               writer.stage(len(infos), m, _tar_opener(tar, stream, info)))
                infos.append(info)
                members.append(m)
        planned = plan(archive, members, strip, writer.max_bytes, writer.max_members)
        check_with_tarfile(archive, infos, planned, writer.root)
        writer.place(planned, sources)


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
        shared = threading.Lock()
        with writer.all_or_nothing():
            writer.place(planned, [functools.partial(_zip_opener, zf, info, shared)
                                   for info in infos])


def _zip_opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo,
                shared: threading.Lock) -> Iterator[bytes]:
    """A zip member's bytes. Its reads share the ZipFile's own file (under
    zipfile's lock); opening and closing count references to that file
    unguarded, so they take `shared`."""
    with shared:
        src = zf.open(info)
    try:
        while chunk := src.read(_CHUNK):
            yield chunk
    finally:
        with shared:
            src.close()


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
                     lambda: _read(archive.open("rb")))
