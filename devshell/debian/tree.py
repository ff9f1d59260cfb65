"""The one tree a package closure is unpacked into, and how paths resolve in it.

Packages are written one after another, each already staged and checked by
devshell.store.members' rules (see devshell.debian.unpack). A later package
may add to directories, also through a directory symlink an earlier one made
(`lib -> usr/lib`), and may
ship a file again only with the same bytes, or a symlink with the same target.
Anything else is refused with both packages named: dpkg would need a Replaces
or a diversion, which one immutable output cannot honour. Symlinks are followed
as if the tree were `/`, and never out of it.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path

from devshell.errors import StoreError, UnsafeArchiveError
from devshell.store.members import MAX_LINK_HOPS, Member

__all__ = ["USR_ALIASES", "Staged", "Tree", "resolve_as_merged", "resolve_inside"]

#: The top-level directories a merged-/usr system makes links into usr/.
#: Since Debian 13 those links come from base-files, which no closure holds,
#: while programs still name their loader by its ABI path (/lib64/ld-linux-…).
USR_ALIASES = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def resolve_inside(root: str, rel: str) -> str | None:
    """`rel` with every symlink followed as if `root` were `/`, but refusing to
    leave it: the physical path under `root`, or None if it escapes or loops.
    Components that do not exist are kept as they are."""
    done: list[str] = []
    todo = [c for c in rel.split("/") if c not in ("", ".")]
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if not done:
                return None
            done.pop()
            continue
        done.append(part)
        try:
            target = os.readlink(os.path.join(root, *done))
        except OSError:  # not a link, or not there
            continue
        hops += 1
        if hops > MAX_LINK_HOPS or target.startswith("/"):
            return None
        done.pop()
        todo = [c for c in target.split("/") if c not in ("", ".")] + todo
    return "/".join(done)


def resolve_as_merged(root: str, rel: str) -> str | None:
    """`rel` as a merged-/usr system would find it in the tree: as it is when
    it is there (resolve_inside), else, for a path under one of USR_ALIASES,
    the same path under usr/ when that is there (/lib64/ld-linux-x86-64.so.2
    is usr/lib64/ld-linux-x86-64.so.2 once /lib64 -> usr/lib64)."""
    physical = resolve_inside(root, rel)
    if physical is not None and os.path.lexists(os.path.join(root, physical)):
        return physical
    parts = [c for c in rel.split("/") if c not in ("", ".")]
    if parts and parts[0] in USR_ALIASES:
        merged = resolve_inside(root, "/".join(["usr", *parts]))
        if merged is not None and os.path.lexists(os.path.join(root, merged)):
            return merged
    return physical


@dataclass(frozen=True)
class Staged:
    """One package, read and checked: what to write for each member (None:
    nothing), and for each file member the staged file holding its bytes."""

    label: str
    deb: Path
    members: tuple[Member | None, ...]
    sources: tuple[str | None, ...]


class Tree:
    """The shared output: packages written one after another, refusing clashes."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.owner: dict[str, str] = {}  # physical path -> the package that wrote it
        self.dirs: set[str] = {""}  # physical directories known to exist
        # Directory as a member names it -> its physical path, made. Once all
        # of a path's components exist, nothing can change where it leads:
        # what is in the tree is never removed or replaced (that is a clash).
        self.parents: dict[str, str] = {"": ""}

    def add(self, package: Staged) -> None:
        """Write `package`'s checked members, moving its staged files into place."""
        placed: dict[str, str] = {}  # member path -> physical path (hard link sources)
        for m, source in zip(package.members, package.sources, strict=True):
            if m is not None:
                placed[m.path] = self._write(package.label, m, placed, source)

    def _write(self, label: str, m: Member, placed: dict[str, str], source: str | None) -> str:
        """Write one checked member; its physical path."""
        parent = self._directory(label, m, posixpath.dirname(m.path))
        path = posixpath.join(parent, posixpath.basename(m.path))
        full = os.path.join(self.root, path)
        try:
            st: os.stat_result | None = os.lstat(full)
        except FileNotFoundError:
            st = None
        try:
            if m.kind == "dir":
                if st is None:
                    os.mkdir(full, 0o755)
                elif not stat.S_ISDIR(st.st_mode) and not self._is_dir_link(path):
                    self._clash(label, m, path)
                if st is None or stat.S_ISDIR(st.st_mode):
                    self.dirs.add(path)
            elif m.kind == "symlink":
                if st is None:
                    os.symlink(m.link, full)
                elif not stat.S_ISLNK(st.st_mode) or os.readlink(full) != m.link:
                    self._clash(label, m, path)
            elif m.kind == "hardlink":
                target = os.path.join(self.root, placed[m.link])
                if st is None:
                    os.link(target, full, follow_symlinks=False)
                elif not stat.S_ISREG(st.st_mode) or _digest_file(full) != _digest_file(target):
                    self._clash(label, m, path)
            elif source is None:
                raise StoreError(f"{label}: nothing staged for /{m.path}")
            elif st is None:
                os.rename(source, full)
            elif not stat.S_ISREG(st.st_mode) or _digest_file(full) != _digest_file(source):
                self._clash(label, m, path)
        except OSError as exc:
            raise StoreError(f"{label}: could not write /{m.path} into "
                             f"{self.root}: {exc}") from exc
        self.owner.setdefault(path, label)
        return path

    def _directory(self, label: str, m: Member, rel: str) -> str:
        """The physical path of directory `rel`, made if missing."""
        known = self.parents.get(rel)
        if known is not None:
            return known
        physical = resolve_inside(self.root, rel)
        if physical is None:
            raise UnsafeArchiveError(
                f"{label}: archive member {m.name!r} would be written through "
                "a symlink that leads outside the output", hint="nothing was kept")
        if physical not in self.dirs:
            current = ""
            for part in physical.split("/"):
                current = posixpath.join(current, part)
                if current in self.dirs:
                    continue
                full = os.path.join(self.root, current)
                try:
                    os.mkdir(full, 0o755)
                except FileExistsError:
                    if not stat.S_ISDIR(os.lstat(full).st_mode):
                        self._clash(label, m, current)
                self.dirs.add(current)
        self.parents[rel] = physical
        return physical

    def _is_dir_link(self, path: str) -> bool:
        physical = resolve_inside(self.root, path)
        return physical is not None and os.path.isdir(os.path.join(self.root, physical))

    def _clash(self, label: str, m: Member, path: str) -> None:
        other = self.owner.get(path, "an earlier package")
        raise StoreError(
            f"{label} and {other} both ship /{path}, differently "
            f"({label} has a {m.kind} there)",
            hint="one output cannot hold both (dpkg would need Replaces or a "
            "diversion); remove one of the packages from devshell.toml, or pick "
            "versions that agree")

    def check_links(self) -> None:
        """Refuse a symlink that leaves the output through another package's links."""
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                full = os.path.join(dirpath, name)
                if os.path.islink(full):
                    rel = os.path.relpath(full, self.root)
                    if resolve_inside(self.root, rel) is None:
                        owner = self.owner.get(rel, "a package")
                        raise UnsafeArchiveError(
                            f"{owner}: symlink /{rel} -> {os.readlink(full)} leads "
                            "outside the output (or loops), through the links of the "
                            "packages unpacked with it", hint="nothing was kept")


def _digest_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").digest()
