"""What a package closure offers and needs once it is in the store: the
programs a .deb ships where programs live, and the environment some of its
packages need to find their own files after relocation."""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from devshell import names
from devshell.debian.closure import Package
from devshell.debian.index import triplet
from devshell.errors import StoreError

__all__ = ["PROGRAM_DIRS", "known_env", "links", "programs", "resolves"]

#: Where a package's programs live; what they ship there is exposed.
PROGRAM_DIRS = ("usr/bin", "bin", "usr/sbin")


def programs(deb: Path) -> tuple[str, ...]:
    """The executables and symlinks a .deb's data.tar holds directly in
    PROGRAM_DIRS, as paths inside the output, sorted. Only those named with a
    plain name (devshell.names): coreutils' `[` is no word a profile's bin/
    or a shell should hold, and a name like `$(id)` is an attack."""
    from debian.arfile import ArError, ArFile

    try:
        with open(deb, "rb") as f:
            ar = ArFile(fileobj=f)
            member = next((n for n in ar.getnames() if n.startswith("data.tar")), None)
            if member is None:
                raise StoreError(f"{deb.name} is not a Debian package: it has no data.tar")
            found = set()
            with _tar_stream(ar.getmember(member), member) as tar:
                for info in tar:
                    path = posixpath.normpath(info.name.removeprefix("./"))
                    executable = info.isfile() and info.mode & 0o111
                    if posixpath.dirname(path) in PROGRAM_DIRS and (executable or info.issym() or info.islnk()) \
                            and names.is_plain(posixpath.basename(path)):
                        found.add(path)
    except (ArError, tarfile.TarError, OSError, EOFError) as exc:
        raise StoreError(f"{deb.name} cannot be read as a Debian package ({exc})") from None
    return tuple(sorted(found))


def links(deb: Path) -> dict[str, str | None]:
    """Every member of a .deb's data.tar: its path, mapped to its symlink's
    target, or None for anything else."""
    from debian.arfile import ArError, ArFile

    found: dict[str, str | None] = {}
    try:
        with open(deb, "rb") as f:
            ar = ArFile(fileobj=f)
            member = next((n for n in ar.getnames() if n.startswith("data.tar")), None)
            if member is None:
                raise StoreError(f"{deb.name} is not a Debian package: it has no data.tar")
            with _tar_stream(ar.getmember(member), member) as tar:
                for info in tar:
                    path = posixpath.normpath(info.name.removeprefix("./"))
                    found[path] = info.linkname if info.issym() else None
    except (ArError, tarfile.TarError, OSError, EOFError) as exc:
        raise StoreError(f"{deb.name} cannot be read as a Debian package ({exc})") from None
    return found


def resolves(tree: dict[str, str | None], path: str) -> bool:
    """Whether `path`, its links followed through `tree` (all members of a
    closure, as `links` reads them) as if the tree were `/`, reaches a member
    that is no link. A merged-/usr system's aliases (bin → usr/bin…) count."""
    todo = [c for c in path.split("/") if c not in ("", ".")]
    done: list[str] = []
    for _ in range(4096):  # a bound on hops and components alike
        if not todo:
            here = "/".join(done)
            return here in tree and tree[here] is None
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        here = "/".join([*done, part])
        if here not in tree and not done and part in ("bin", "sbin", "lib", "lib32", "lib64"):
            todo.insert(0, part)
            done = ["usr"]
            continue
        target = tree.get(here)
        if here in tree and target is not None:
            todo = [c for c in target.split("/") if c not in ("", ".")] + todo
            if target.startswith("/"):
                done = []
            continue
        if here not in tree:
            return False
        done.append(part)
    return False


def _tar_stream(raw: Any, member: str) -> tarfile.TarFile:
    if member.endswith(".zst"):
        import zstandard

        return tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(raw), mode="r|")
    mode = {".xz": "r|xz", ".gz": "r|gz", ".bz2": "r|bz2"}.get(posixpath.splitext(member)[1], "r|")
    return tarfile.open(fileobj=raw, mode=mode)  # type: ignore[call-overload, no-any-return]


def known_env(packages: Iterable[Package], arch: str) -> dict[str, str]:
    """What programs from these packages need to find their own files once
    relocated (`{out}` is the output's store path). A Python needs nothing:
    it finds its prefix from where its program lies (its venvs too, see
    devshell.debian.pyconfig), and a PYTHONHOME would be one value for the
    whole shell, wrong for any other Python in it."""
    by_name = {p.name: p for p in packages}
    lib = f"{{out}}/usr/lib/{triplet(arch)}"
    env: dict[str, str] = {}
    if "git" in by_name:
        env["GIT_EXEC_PATH"] = "{out}/usr/lib/git-core"
        env["GIT_TEMPLATE_DIR"] = "{out}/usr/share/git-core/templates"
    if "perl-base" in by_name:
        from debian.debian_support import Version

        x = ".".join((Version(by_name["perl-base"].version).upstream_version or "").split(".")[:2])
        dirs = ["{out}/etc/perl", f"{lib}/perl5/{x}", "{out}/usr/share/perl5", f"{lib}/perl-base",
                f"{lib}/perl/{x}", f"{{out}}/usr/share/perl/{x}"]
        env["PERL5LIB"] = ":".join(dirs)
    if "ncurses-base" in by_name or "ncurses-term" in by_name:
        env["TERMINFO_DIRS"] = "{out}/usr/share/terminfo:{out}/lib/terminfo:{out}/usr/lib/terminfo"
    return env
