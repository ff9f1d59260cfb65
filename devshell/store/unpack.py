"""Paranoid extraction of a downloaded artifact into an empty directory.

Every member is checked before anything is written (absolute paths, `..`, links
that leave the output, hard links, devices, FIFOs, writes through a symlink,
size, how many members there are), and modes are normalised. If writing fails part way, `dest` is emptied
again. Tars are read as streams twice, once to check and once to write: a second
decompression, but no temporary file for a tar.zst bomb to fill before the checks.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import lzma
import os
import shutil
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal

import zstandard

from devshell.errors import StoreError, UnsafeArchiveError, UsageError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_MEMBERS",
    "FORMATS",
    "MAX_MEMBERS_VARIABLE",
    "auto_strip",
    "detect_format",
    "max_members",
    "tar_members",
    "unpack",
]

FORMATS = ("tar.gz", "tgz", "tar.xz", "tar.bz2", "tar.zst", "zip", "binary")
DEFAULT_MAX_BYTES = 4 * 1024**3
#: An archive of more members is refused as it is read: each one costs memory
#: and time however small it is (200,000 empty members: minutes, hundreds of MB).
DEFAULT_MAX_MEMBERS = 100_000
MAX_MEMBERS_VARIABLE = "DEVSHELL_UNPACK_MAX_MEMBERS"
# What one member costs beyond its bytes (a tar header block), counted with its
# name against the size limit, so a flood of empty members cannot hide in it.
_MEMBER_OVERHEAD = 512
# No file system takes a longer path, so no legitimate archive holds one.
_MAX_NAME = 4096

_SUFFIXES = {".tar.gz": "tar.gz", ".tgz": "tgz", ".tar.xz": "tar.xz", ".txz": "tar.xz",
             ".tar.bz2": "tar.bz2", ".tbz2": "tar.bz2", ".tar.zst": "tar.zst",
             ".tzst": "tar.zst", ".zip": "zip"}
_STREAM_MODES: dict[str, Literal["r|gz", "r|xz", "r|bz2"]] = {
    "tar.gz": "r|gz", "tgz": "r|gz", "tar.xz": "r|xz", "tar.bz2": "r|bz2"}
_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zstandard.ZstdError, EOFError,
                OSError, lzma.LZMAError, zlib.error, NotImplementedError)
_REFUSED_KINDS = {"device": "device file", "fifo": "FIFO", "other": "unsupported type"}
_WHERE = {"absolute path": "would be written at an absolute path",
          "path traversal": "would be written outside the output",
          "bad name": "has a NUL byte in its name",
          "long name": f"has a name longer than {_MAX_NAME} bytes"}
_CHUNK = 1024 * 1024
_MAX_LINK_HOPS = 40


def detect_format(url_or_name: str) -> str:
    """The format a file name or URL's suffix names; "binary" when none does."""
    name = url_or_name.split("?", 1)[0].split("#", 1)[0].lower()
    return next((f for s, f in _SUFFIXES.items() if name.endswith(s)), "binary")


def auto_strip(names: list[str]) -> int:
    """1 when every member lies under one single top directory, else 0.

    The top counts as a directory only if something lies below it, so an
    archive holding one lone file is never stripped down to nothing.
    """
    split = [p for p in map(_parts, names) if p]
    return int(len({p[0] for p in split}) == 1 and any(len(p) > 1 for p in split))


def max_members() -> int:
    """The member limit: DEVSHELL_UNPACK_MAX_MEMBERS, else DEFAULT_MAX_MEMBERS."""
    raw = os.environ.get(MAX_MEMBERS_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_MAX_MEMBERS
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"{MAX_MEMBERS_VARIABLE}={raw!r} is not a whole number of at least 1",
                         hint=f"unset it (the default is {DEFAULT_MAX_MEMBERS}), or give a number")
    return int(raw)


def unpack(archive: Path, fmt: str, dest: Path, *, strip: int | str = "auto",
           binary_name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
           member_limit: int | None = None) -> None:
    """Extract `archive` (format `fmt`) into the existing empty directory `dest`.

    `strip` drops that many leading path components ("auto": see `auto_strip`);
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


@dataclasses.dataclass(frozen=True)
class _Member:
    """A member as the archive describes it; with `path` set, as it will be written."""

    name: str
    kind: str  # file, dir, symlink, hardlink, device, fifo, other
    mode: int | None
    size: int
    link: str = ""  # symlink target, or the member a hard link points at
    path: str = ""  # after strip; set by _plan, with the mode normalised


def _parts(name: str) -> list[str]:
    return [c for c in name.split("/") if c not in ("", ".")]


def _unsafe(archive: Path, member: str | None, what: str,
            rule: str) -> UnsafeArchiveError:
    subject = f"archive member {member!r}" if member is not None else "archive"
    return UnsafeArchiveError(
        f"{subject} {what} ({rule})",
        hint=f"{archive} looks malicious or broken; nothing was unpacked from it")


def _corrupt(archive: Path, fmt: str, exc: BaseException) -> StoreError:
    return StoreError(f"{archive} is not a valid {fmt} archive: {exc}",
                      hint="the file matched its hash, so check the unpack format in "
                      "the lock, or the upstream artifact is damaged")


def _file_mode(mode: int | None) -> int:
    """Owner rw, owner x if anyone had x; never setuid/setgid/sticky or g/o write."""
    if mode is None:
        return 0o644
    mode = (mode & 0o755) | 0o600
    return mode | 0o100 if mode & 0o111 else mode


def _name_rule(name: str) -> str | None:
    """The rule a member name breaks, if any."""
    if "\0" in name:
        return "bad name"
    if len(name) > _MAX_NAME:
        return "long name"
    if name.startswith(("/", "\\")) or (name[1:2] == ":" and name[:1].isalpha()):
        return "absolute path"
    return "path traversal" if ".." in name.replace("\\", "/").split("/") else None


def _escapes(path: str, links: dict[str, str]) -> bool:
    """Whether the symlink at `path`, followed through the archive's links, escapes."""
    done, todo, hops = path.split("/")[:-1], links[path].split("/"), 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if not done:
                return True
            done.pop()
        elif part not in ("", "."):
            done.append(part)
            target = links.get("/".join(done))
            if target is not None:  # resolve it where it stands, as the kernel would
                hops += 1
                if hops > _MAX_LINK_HOPS or target.startswith("/"):
                    return True
                done.pop()
                todo = target.split("/") + todo
    return False


def too_many(archive: Path, limit: int) -> UnsafeArchiveError:
    """The error for an archive of more than `limit` members."""
    return _unsafe(archive, None, f"has more than {limit} members (the limit; "
                   f"{MAX_MEMBERS_VARIABLE} changes it)", "member limit")


def tar_members(tar: tarfile.TarFile, archive: Path, limit: int) -> list[tarfile.TarInfo]:
    """The members of `tar`, read one by one and refused as soon as there
    are more than `limit`: a flood of members is never held in memory."""
    infos: list[tarfile.TarInfo] = []
    for info in tar:
        if len(infos) >= limit:
            raise too_many(archive, limit)
        infos.append(info)
    return infos


def _plan(archive: Path, members: list[_Member], strip: int | str,
          max_bytes: int, limit: int = DEFAULT_MAX_MEMBERS) -> list[_Member | None]:
    """Check every member; what to write for each (None: stripped away)."""
    if len(members) > limit:
        raise too_many(archive, limit)
    for m in members:
        if rule := _name_rule(m.name):
            raise _unsafe(archive, m.name, _WHERE[rule], rule)
        if rule := _REFUSED_KINDS.get(m.kind, ""):
            raise _unsafe(archive, m.name, f"is a {rule}, never unpacked", rule)
        if len(m.link) > _MAX_NAME:
            raise _unsafe(archive, m.name, _WHERE["long name"] + " (its link target)", "long name")
    total = sum(m.size for m in members if m.kind == "file") + sum(
        _MEMBER_OVERHEAD + len(m.name) + len(m.link) for m in members)
    if total > max_bytes:
        raise _unsafe(archive, None, f"expands to {total} bytes, over the limit of "
                      f"{max_bytes}", "size limit")
    n = auto_strip([m.name for m in members]) if isinstance(strip, str) else strip
    plan: list[_Member | None] = []
    kinds: dict[str, str] = {}
    for m in members:
        path, link = "/".join(_parts(m.name)[n:]), m.link
        if m.kind == "symlink" and (not link or "\0" in link or link.startswith("/")):
            raise _unsafe(archive, m.name, f"is a symlink to {link!r}, outside the "
                          "output", "symlink escape")
        if m.kind == "hardlink" and (rule := _name_rule(link)):
            raise _unsafe(archive, m.name, f"is a hard link to {link!r}", rule)
        if not path:
            plan.append(None)
            continue
        if m.kind == "hardlink":  # its target is a member name, so strip applies
            link = "/".join(_parts(link)[n:])
            if kinds.get(link) != "file":
                raise _unsafe(archive, m.name, f"is a hard link to {m.link!r}, not an "
                              "earlier regular file in the output", "hard link escape")
        if kinds.get(path, "dir") != "dir" or (path in kinds and m.kind != "dir"):
            raise _unsafe(archive, m.name, "appears twice", "duplicate member")
        kinds[path] = m.kind
        mode = 0o755 if m.kind == "dir" else _file_mode(m.mode)
        plan.append(dataclasses.replace(m, path=path, link=link, mode=mode))
    items = [m for m in plan if m is not None]
    if not items:
        raise StoreError(f"{archive} has nothing left to unpack after stripping {n} "
                         "leading path component(s)",
                         hint="lower the strip in the unpack recipe")
    links = {m.path: m.link for m in items if m.kind == "symlink"}
    for m in items:
        parts = m.path.split("/")
        for parent in ("/".join(parts[:depth]) for depth in range(1, len(parts))):
            if kinds.get(parent, "dir") != "dir":
                raise _unsafe(archive, m.name, f"would be written through {parent!r}, "
                              f"which is a {kinds[parent]}", "write through link")
        if m.kind == "symlink" and _escapes(m.path, links):
            raise _unsafe(archive, m.name, f"is a symlink to {m.link!r}, outside the "
                          "output (or a loop)", "symlink escape")
    return plan


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

    def write(self, m: _Member, opener: Callable[[], IO[bytes] | None]) -> None:
        target = self.root / m.path
        try:
            parent = self.root
            for part in m.path.split("/")[:-1]:
                parent = parent / part
                if not parent.is_symlink() and not parent.exists():
                    parent.mkdir()
                    parent.chmod(0o755)
                elif not stat.S_ISDIR(parent.lstat().st_mode):  # _plan forbids; be sure
                    raise _unsafe(self.archive, m.name, "would be written through a "
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

    def _file(self, m: _Member, target: Path,
              opener: Callable[[], IO[bytes] | None]) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        count = 0
        with os.fdopen(os.open(target, flags, 0o600), "wb") as out:
            for chunk in self._chunks(opener):
                count += len(chunk)
                self.written += len(chunk)
                if self.written > self.max_bytes:  # a header may lie; the bytes cannot
                    raise _unsafe(self.archive, m.name, "expands past the limit of "
                                  f"{self.max_bytes} bytes", "size limit")
                out.write(chunk)
            os.fchmod(out.fileno(), _file_mode(m.mode))  # idempotent
        if count != m.size:
            raise _corrupt(self.archive, self.fmt, ValueError(
                f"member {m.name!r} holds {count} bytes, its header says {m.size}"))

    def _chunks(self, opener: Callable[[], IO[bytes] | None]) -> Iterator[bytes]:
        """A member's bytes; a read error means a bad archive, not a bad disk."""
        with _reading(self.archive, self.fmt):
            src = opener()
            with src if src is not None else io.BytesIO() as stream:
                while chunk := stream.read(_CHUNK):
                    yield chunk


@contextmanager
def _reading(archive: Path, fmt: str) -> Iterator[None]:
    """Turn a decoder's complaint into a StoreError that names the archive."""
    try:
        yield
    except _READ_ERRORS as exc:
        raise _corrupt(archive, fmt, exc) from exc


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


def _tar_member(info: tarfile.TarInfo) -> _Member:
    kind = ("file" if info.isreg() else "dir" if info.isdir() else
            "symlink" if info.issym() else "hardlink" if info.islnk() else
            "device" if info.ischr() or info.isblk() else
            "fifo" if info.isfifo() else "other")
    link = info.linkname if kind in ("symlink", "hardlink") else ""
    return _Member(info.name, kind, info.mode, info.size if kind == "file" else 0, link)


def _unpack_tar(archive: Path, fmt: str, strip: int | str, writer: _Writer) -> None:
    with _reading(archive, fmt):
        with _open_tar(archive, fmt) as tar:
            infos = tar_members(tar, archive, writer.max_members)
        members = [_tar_member(info) for info in infos]
        plan = _plan(archive, members, strip, writer.max_bytes, writer.max_members)
        for info, m in zip(infos, plan, strict=True):
            if m is not None:  # tarfile's own "data" filter, as a second opinion
                renamed = info.replace(name=m.path, linkname=m.link, deep=False,
                                       mode=_file_mode(m.mode))
                try:
                    tarfile.data_filter(renamed, str(writer.root))
                except tarfile.FilterError as exc:
                    raise _unsafe(archive, info.name, f"is refused by tarfile: {exc}",
                                  "data filter") from exc
        with _open_tar(archive, fmt) as tar, writer.all_or_nothing():
            for index, info in enumerate(tar):
                if index >= len(members) or _tar_member(info) != members[index]:
                    raise StoreError(f"{archive} changed while it was being unpacked")
                if (m := plan[index]) is not None:
                    writer.write(m, functools.partial(tar.extractfile, info))
            if len(tar.getmembers()) != len(members):
                raise StoreError(f"{archive} changed while it was being unpacked")


def _zip_member(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Member:
    unix = info.external_attr >> 16
    mode = stat.S_IMODE(unix) if unix else None
    if info.flag_bits & 0x1:
        raise StoreError(f"{archive}: member {info.filename!r} is encrypted")
    if stat.S_ISLNK(unix):  # the link target is the entry's content
        if info.file_size > 4096:
            raise _unsafe(archive, info.filename, "is a symlink with an overlong "
                          "target", "symlink escape")
        target = zf.read(info).decode("utf-8", "surrogateescape")
        return _Member(info.filename, "symlink", mode, 0, target)
    kind = ("dir" if info.is_dir() or stat.S_ISDIR(unix) else
            "file" if stat.S_IFMT(unix) in (0, stat.S_IFREG) else
            "device" if stat.S_ISCHR(unix) or stat.S_ISBLK(unix) else
            "fifo" if stat.S_ISFIFO(unix) else "other")
    return _Member(info.filename, kind, mode, info.file_size if kind == "file" else 0)


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
    with _reading(archive, "zip"):
        announced = _zip_entries(archive)
    if announced is not None and announced > writer.max_members:
        raise too_many(archive, writer.max_members)
    with _reading(archive, "zip"), zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > writer.max_members:  # before a symlink's target is read
            raise too_many(archive, writer.max_members)
        plan = _plan(archive, [_zip_member(archive, zf, i) for i in infos], strip,
                     writer.max_bytes, writer.max_members)
        with writer.all_or_nothing():
            for info, m in zip(infos, plan, strict=True):
                if m is not None:
                    writer.write(m, functools.partial(zf.open, info))


def _copy_binary(archive: Path, binary_name: str | None, writer: _Writer) -> None:
    name = binary_name or ""
    if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise StoreError(f"a plain file name is needed to store binary {archive}, "
                         f"got {binary_name!r}", hint="set binary_name")
    size = archive.stat().st_size
    if size > writer.max_bytes:
        raise _unsafe(archive, None, f"is {size} bytes, over the limit of "
                      f"{writer.max_bytes}", "size limit")
    with writer.all_or_nothing():
        writer.write(_Member(name, "file", 0o755, size, path=name),
                     lambda: archive.open("rb"))
