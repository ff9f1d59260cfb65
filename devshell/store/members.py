"""The rules every archive member meets before the store writes it.

One set of rules for every archive the store takes in (tar, zip, a .deb's
data.tar): what a member may be (file, directory, link; never a device or a
FIFO), where it may land (no absolute path, no `..`, no link or write that
leaves the output), what mode it gets (never setuid, setgid, sticky or
group/other-writable), and how big and how many the members may be. The
archive readers (devshell.store.unpack, devshell.debian.unpack) turn what they
read into `Member`s, ask `plan` what to write, and write nothing if it refuses.
"""

from __future__ import annotations

import dataclasses
import lzma
import os
import tarfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import zstandard

from devshell.errors import StoreError, UnsafeArchiveError, UsageError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_MEMBERS",
    "MAX_LINK_HOPS",
    "MAX_MEMBERS_VARIABLE",
    "Member",
    "auto_strip",
    "check_with_tarfile",
    "corrupt",
    "file_mode",
    "max_members",
    "member_cost",
    "parts",
    "plan",
    "reading",
    "tar_member",
    "tar_members",
    "too_big",
    "too_many",
    "unsafe",
]

DEFAULT_MAX_BYTES = 4 * 1024**3
#: An archive of more members is refused as it is read: each one costs memory
#: and time however small it is (200,000 empty members: minutes, hundreds of MB).
DEFAULT_MAX_MEMBERS = 100_000
MAX_MEMBERS_VARIABLE = "DEVSHELL_UNPACK_MAX_MEMBERS"
#: How many symlinks a path may pass through before it counts as a loop (the
#: kernel's own limit).
MAX_LINK_HOPS = 40
# What one member costs beyond its bytes (a tar header block), counted with its
# name against the size limit, so a flood of empty members cannot hide in it.
_MEMBER_OVERHEAD = 512
# No file system takes a longer path, so no legitimate archive holds one.
_MAX_NAME = 4096

_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zstandard.ZstdError, EOFError,
                OSError, lzma.LZMAError, zlib.error, NotImplementedError)
_REFUSED_KINDS = {"device": "device file", "fifo": "FIFO", "other": "unsupported type"}
_WHERE = {"absolute path": "would be written at an absolute path",
          "path traversal": "would be written outside the output",
          "bad name": "has a NUL byte in its name",
          "long name": f"has a name longer than {_MAX_NAME} bytes"}


@dataclasses.dataclass(frozen=True)
class Member:
    """A member as the archive describes it; with `path` set, as it will be written."""

    name: str
    kind: str  # file, dir, symlink, hardlink, device, fifo, other
    mode: int | None
    size: int
    link: str = ""  # symlink target, or the member a hard link points at
    path: str = ""  # after strip; set by `plan`, with the mode normalised


def parts(name: str) -> list[str]:
    """A member name's path components, without empty ones and `.`."""
    return [c for c in name.split("/") if c not in ("", ".")]


def file_mode(mode: int | None) -> int:
    """Owner rw, owner x if anyone had x; never setuid/setgid/sticky or g/o write."""
    if mode is None:
        return 0o644
    mode = (mode & 0o755) | 0o600
    return mode | 0o100 if mode & 0o111 else mode


def auto_strip(names: list[str]) -> int:
    """1 when every member lies under one single top directory, else 0.

    The top counts as a directory only if something lies below it, so an
    archive holding one lone file is never stripped down to nothing.
    """
    split = [p for p in map(parts, names) if p]
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


def unsafe(archive: Path, member: str | None, what: str, rule: str) -> UnsafeArchiveError:
    """The error for a member (or the whole archive, `member` None) breaking `rule`."""
    subject = f"archive member {member!r}" if member is not None else "archive"
    return UnsafeArchiveError(
        f"{subject} {what} ({rule})",
        hint=f"{archive} looks malicious or broken; nothing was unpacked from it")


def corrupt(archive: Path, fmt: str, exc: BaseException) -> StoreError:
    """The error for an archive its decoder cannot read: it matched its hash,
    so the recipe or the upstream is wrong, not the download."""
    return StoreError(f"{archive} is not a valid {fmt} archive: {exc}",
                      hint="the file matched its hash, so check the unpack format in "
                      "the lock, or the upstream artifact is damaged")


@contextmanager
def reading(archive: Path, fmt: str) -> Iterator[None]:
    """Turn a decoder's complaint into a StoreError that names the archive."""
    try:
        yield
    except _READ_ERRORS as exc:
        raise corrupt(archive, fmt, exc) from exc


def too_many(archive: Path, limit: int) -> UnsafeArchiveError:
    """The error for an archive of more than `limit` members."""
    return unsafe(archive, None, f"has more than {limit} members (the limit; "
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


def tar_member(info: tarfile.TarInfo) -> Member:
    """A tar header as a Member: what kind it is, judged by tarfile."""
    kind = ("file" if info.isreg() else "dir" if info.isdir() else
            "symlink" if info.issym() else "hardlink" if info.islnk() else
            "device" if info.ischr() or info.isblk() else
            "fifo" if info.isfifo() else "other")
    link = info.linkname if kind in ("symlink", "hardlink") else ""
    return Member(info.name, kind, info.mode, info.size if kind == "file" else 0, link)


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
                if hops > MAX_LINK_HOPS or target.startswith("/"):
                    return True
                done.pop()
                todo = target.split("/") + todo
    return False


def member_cost(m: Member) -> int:
    """What `m` counts against the size limit: its bytes, plus a header's worth
    with its name, so that a flood of empty members cannot hide in the limit."""
    return (m.size if m.kind == "file" else 0) + _MEMBER_OVERHEAD + len(m.name) + len(m.link)


def too_big(archive: Path, total: int, max_bytes: int) -> UnsafeArchiveError:
    """The error for an archive whose members count `total` bytes, over `max_bytes`."""
    return unsafe(archive, None, f"expands to {total} bytes, over the limit of "
                  f"{max_bytes}", "size limit")


def _check_each(archive: Path, members: list[Member], max_bytes: int) -> None:
    """The rules a member breaks on its own, and the size of them all."""
    for m in members:
        if rule := _name_rule(m.name):
            raise unsafe(archive, m.name, _WHERE[rule], rule)
        if rule := _REFUSED_KINDS.get(m.kind, ""):
            raise unsafe(archive, m.name, f"is a {rule}, never unpacked", rule)
        if len(m.link) > _MAX_NAME:
            raise unsafe(archive, m.name, _WHERE["long name"] + " (its link target)", "long name")
    total = sum(map(member_cost, members))
    if total > max_bytes:
        raise too_big(archive, total, max_bytes)


def plan(archive: Path, members: list[Member], strip: int | str,
         max_bytes: int, limit: int = DEFAULT_MAX_MEMBERS) -> list[Member | None]:
    """Check every member; what to write for each (None: stripped away).

    `strip` drops that many leading path components ("auto": see
    `auto_strip`). Raises UnsafeArchiveError for the first member that breaks
    a rule, before anything is written, and StoreError when nothing is left."""
    if len(members) > limit:
        raise too_many(archive, limit)
    _check_each(archive, members, max_bytes)
    n = auto_strip([m.name for m in members]) if isinstance(strip, str) else strip
    written: list[Member | None] = []
    kinds: dict[str, str] = {}
    for m in members:
        path, link = "/".join(parts(m.name)[n:]), m.link
        if m.kind == "symlink" and (not link or "\0" in link or link.startswith("/")):
            raise unsafe(archive, m.name, f"is a symlink to {link!r}, outside the "
                         "output", "symlink escape")
        if m.kind == "hardlink" and (rule := _name_rule(link)):
            raise unsafe(archive, m.name, f"is a hard link to {link!r}", rule)
        if not path:
            written.append(None)
            continue
        if m.kind == "hardlink":  # its target is a member name, so strip applies
            link = "/".join(parts(link)[n:])
            if kinds.get(link) != "file":
                raise unsafe(archive, m.name, f"is a hard link to {m.link!r}, not an "
                             "earlier regular file in the output", "hard link escape")
        if kinds.get(path, "dir") != "dir" or (path in kinds and m.kind != "dir"):
            raise unsafe(archive, m.name, "appears twice", "duplicate member")
        kinds[path] = m.kind
        mode = 0o755 if m.kind == "dir" else file_mode(m.mode)
        written.append(dataclasses.replace(m, path=path, link=link, mode=mode))
    items = [m for m in written if m is not None]
    if not items:
        raise StoreError(f"{archive} has nothing left to unpack after stripping {n} "
                         "leading path component(s)",
                         hint="lower the strip in the unpack recipe")
    _check_paths(archive, items, kinds)
    return written


def _check_paths(archive: Path, items: list[Member], kinds: dict[str, str]) -> None:
    """No member written through a non-directory; no symlink that leads out."""
    links = {m.path: m.link for m in items if m.kind == "symlink"}
    for m in items:
        steps = m.path.split("/")
        for parent in ("/".join(steps[:depth]) for depth in range(1, len(steps))):
            if kinds.get(parent, "dir") != "dir":
                raise unsafe(archive, m.name, f"would be written through {parent!r}, "
                             f"which is a {kinds[parent]}", "write through link")
        if m.kind == "symlink" and _escapes(m.path, links):
            raise unsafe(archive, m.name, f"is a symlink to {m.link!r}, outside the "
                         "output (or a loop)", "symlink escape")


def _plain(path: str) -> bool:
    """A relative path of ordinary parts: no leading `/`, no empty, `.` or `..` part."""
    return bool(path) and not path.startswith("/") and all(p not in ("", ".", "..") for p in path.split("/"))


def check_with_tarfile(archive: Path, infos: Sequence[tarfile.TarInfo],
                       planned: Sequence[Member | None], root: Path) -> None:
    """tarfile's own "data" filter on every member as it will be written, as
    a second opinion, where the interpreter has one (3.11.4 and later; PEP
    706). Everything that filter refuses, `plan` refuses already, so an older
    interpreter keeps the same guarantees. `root` should be empty or absent:
    only the names are judged."""
    if not hasattr(tarfile, "data_filter"):
        return
    for info, m in zip(infos, planned, strict=True):
        if m is None or (m.kind in ("file", "dir") and _plain(m.path)):
            # The filter could only refuse such a member for an absolute
            # name, a `..`, or a symlink on its way out of `root`, and a
            # plain relative name in a root holding no links has none of
            # them: skipping it spares a realpath of every member (31 us
            # each, 0.3 s of CPU for a tree of 10,000 files).
            continue
        renamed = info.replace(name=m.path, linkname=m.link, deep=False,
                               mode=file_mode(m.mode))
        try:
            tarfile.data_filter(renamed, str(root))
        except tarfile.FilterError as exc:
            raise unsafe(archive, info.name, f"is refused by tarfile: {exc}",
                         "data filter") from exc
