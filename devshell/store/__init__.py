"""The store's one write path, and reading what it holds.

key → lock → check again → temp dir inside store/ → populate → normalise →
manifest → read-only → rename. A process killed at any moment leaves either
nothing under the output's name or a complete output; leftovers are hidden
`.tmp-*` directories, swept by the next process that takes the same lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devshell import atomic, names
from devshell.errors import StoreError
from devshell.home import Home, confined
from devshell.lock import Artifact
from devshell.store import digests

if TYPE_CHECKING:
    from devshell.sources.locate import Upstreams

__all__ = [
    "about",
    "add",
    "add_artifact",
    "artifact_populator",
    "build_manifest",
    "make_writable",
    "read_manifest",
    "remove_manifest",
    "remove_tree",
    "replace",
    "temp_owners",
]

_EPOCH = 1  # like Nix: one fixed mtime, so outputs are identical everywhere
# Temporary entries in store/: `.tmp-<pid>-<name>` (a build), its scratch
# `.tmp-<pid>-<name>.debs`, and `.tmp-old-<pid>-<name>` (a copy being replaced).
# The pid comes first so the output's whole name can be read back exactly.
_TEMP = re.compile(r"\.tmp-(?:old-)?[0-9]+-(.+)")

About = dict[str, Any] | Callable[[], dict[str, Any]] | None


def add(home: Home, name: str, populate: Callable[[Path], None], about: About = None) -> Path:
    """Add output `name`, filled by `populate(tmpdir)`, unless it is already there.

    `about` (or what it returns, asked once `populate` is done) goes into the
    manifest beside the file list: the artifact it was made from and where
    it came from, which `gc` and `verify --repair` read."""
    final = home.output(name)
    if final.is_dir():
        return final
    from filelock import FileLock

    home.store.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home.lock_file(name))):
        if not final.is_dir():
            _sweep(home, name)
            os.rename(_build(home, name, populate, about), final)
    return final


def replace(home: Home, name: str, populate: Callable[[Path], None], about: About = None) -> Path:
    """Rebuild output `name` through the same write path and swap it in for
    the damaged copy (`verify --repair`)."""
    from filelock import FileLock

    final = home.output(name)
    with FileLock(str(home.lock_file(name))):
        _sweep(home, name)
        fresh = _build(home, name, populate, about)
        old = confined(home.store, f".tmp-old-{os.getpid()}-{name}")
        if final.exists():
            os.rename(final, old)
        os.rename(fresh, final)
        remove_tree(old)
    return final


def _build(home: Home, name: str, populate: Callable[[Path], None], about: About) -> Path:
    """temp dir → populate → normalise, read-only, manifest → the caller renames."""
    tmp = confined(home.store, f".tmp-{os.getpid()}-{name}")
    manifest_path = home.manifest(name)
    tmp.mkdir()
    try:
        with digests.recording() as written:
            populate(tmp)
        manifest = _seal(tmp, written)
        extra = about() if callable(about) else about or {}
        atomic.write_text(
            manifest_path,
            json.dumps({"name": name, **extra, **manifest}, indent=2, sort_keys=True) + "\n",
        )
    except BaseException:
        remove_tree(tmp)
        raise
    return tmp


def read_manifest(home: Home, name: str) -> dict[str, Any] | None:
    """Output `name`'s manifest, or None. Manifests written before lock-version 2
    were kept under the digest alone, where two names could collide: such a
    file counts only if the name it records is `name`."""
    for path in (home.manifest(name), home.legacy_manifest(name)):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("name") == name:
            return data
    return None


def remove_manifest(home: Home, name: str) -> None:
    """Forget output `name`'s manifest (and a legacy one that is its own)."""
    home.manifest(name).unlink(missing_ok=True)
    legacy = home.legacy_manifest(name)
    try:
        mine = json.loads(legacy.read_text(encoding="utf-8")).get("name") == name
    except (OSError, ValueError, AttributeError):
        mine = False
    if mine:
        legacy.unlink(missing_ok=True)


def temp_owners(entry: str) -> set[str]:
    """The output names a temporary store entry may belong to (whose lock its
    builder holds); empty for anything else."""
    found = _TEMP.fullmatch(entry)
    if found is None:
        return set()
    name = found.group(1)
    owners = {name, name.removesuffix(".debs")}
    return {o for o in owners if o and "/" not in o and not o.startswith(".")}


def add_artifact(home: Home, artifact: Artifact, label: str,
                 upstreams: Upstreams | None = None) -> Path:
    """Fetch, verify and unpack one locked artifact into the store.

    `upstreams` says where `npm:`, `deb:` and `pypi:` URLs are fetched from;
    the command builds it once per run from the project. (None: the project
    of the current directory, for callers that have not said yet.)"""
    ups = _given(upstreams)
    if home.output(artifact.output).is_dir():
        return home.output(artifact.output)
    from devshell.net.fetch import progress_bar, progress_lines

    # A person at a terminal sees what is being realised while it is (the
    # download bars end before unpacking does); a log gets one line per tool.
    bar = progress_bar(f"realising {label}", unit="tool")
    started = time.monotonic()
    try:
        path = add(home, artifact.output, artifact_populator(home, artifact, label, ups),
                   about=lambda: about(artifact.to_json(), label, ups))
    finally:
        if bar is not None:
            bar.close()
    if progress_lines():
        from devshell import say

        say.line(f"devshell: realised {label} in {time.monotonic() - started:.1f} s")
    return path


def about(artifact: dict[str, Any], label: str, upstreams: Upstreams) -> dict[str, Any]:
    """What an artifact's manifest records beside its files: the artifact, and
    the upstreams it came from when its URLs name one (`verify --repair`
    fetches from them again, whatever the current directory)."""
    data: dict[str, Any] = {"artifact": artifact, "label": label}
    parts = artifact.get("closure")
    urls = [artifact.get("url")]
    if isinstance(parts, list):
        urls += [p.get("url") for p in parts if isinstance(p, dict)]
    record = upstreams.record(u for u in urls if isinstance(u, str))
    if record is not None:
        data["upstreams"] = record
    return data


def artifact_populator(home: Home, artifact: Artifact, label: str,
                       upstreams: Upstreams | None = None) -> Callable[[Path], None]:
    """What fills a temp dir from an artifact: its format's filler (see
    devshell.store.formats) fetches and unpacks it; then every bin entry is
    checked to be a program inside the output."""
    ups = _given(upstreams)

    def populate(tmp: Path) -> None:
        from devshell.store import formats

        programs = _checked_programs(artifact, label)
        formats.filler(artifact.format, label)(home, artifact, label, tmp, ups)
        for _, entry in programs:
            target = _program_inside(tmp, entry, label)
            if target.is_file():
                # npm and some archives ship programs without the x bit.
                target.chmod(target.stat().st_mode | 0o111)
            else:
                found = sorted(
                    str(p.relative_to(tmp)) for p in tmp.rglob("*")
                    if p.is_file() and os.access(p, os.X_OK)
                )[:10]
                raise StoreError(
                    f"{label}: bin entry {entry!r} is not in the archive",
                    hint="executables it has: " + (", ".join(found) or "none")
                    + "; fix bin = [...] in devshell.toml and run `devshell lock`",
                )

    return populate


def _given(upstreams: Upstreams | None) -> Upstreams:
    if upstreams is not None:
        return upstreams
    from devshell.sources.locate import Upstreams

    return Upstreams.from_cwd()


def _checked_programs(artifact: Artifact, label: str) -> list[tuple[str, str]]:
    """The artifact's programs, each a plain name and a path inside the output.
    The lock loader checked them already; an Artifact may come from elsewhere."""
    programs = artifact.programs()
    for name, path in programs:
        try:
            names.check_plain(name, "program name")
            names.check_inner_path(path, "program path")
        except ValueError as exc:
            raise StoreError(f"{label}: bin entry refused: {exc}",
                             hint="bin entries name programs inside the tool's own output; "
                             "fix bin = [...] in devshell.toml and run `devshell lock`") from None
    return programs


def _program_inside(tmp: Path, entry: str, label: str) -> Path:
    """The program at `entry`, refused if reaching it leaves the output (a
    symlink on the way, or the program itself, pointing outside)."""
    target = confined(tmp, entry)
    real = Path(os.path.realpath(target))
    if not real.is_relative_to(os.path.realpath(tmp)):
        raise StoreError(f"{label}: bin entry {entry!r} leads outside the output, through a symlink",
                         hint="nothing was kept; the archive's programs must lie inside it")
    return target


def _sweep(home: Home, name: str) -> None:
    """Remove temp dirs of earlier, killed attempts (we hold the output's lock)."""
    for entry in os.scandir(home.store):
        if entry.name.startswith(".tmp-") and name in temp_owners(entry.name):
            remove_tree(Path(entry.path))


def _seal(root: Path, known: digests.Digests) -> dict[str, Any]:
    """Normalise every entry under `root` (files 0555 or 0444 by their x bit,
    directories 0555, one fixed mtime; anything but a file, directory or link
    refused), make it read-only, and return its manifest, as `build_manifest`
    would: in one bottom-up walk that looks at each entry once."""
    files: list[dict[str, Any]] = []
    todo: list[tuple[str, str, bool]] = [(str(root), "", False)]  # path, rel, children done
    while todo:
        path, rel, done = todo.pop()
        if done:  # a directory whose entries are all sealed
            os.chmod(path, 0o555)
            os.utime(path, (_EPOCH, _EPOCH))
            continue
        todo.append((path, rel, True))
        with os.scandir(path) as entries:
            for entry in entries:
                inner = f"{rel}/{entry.name}" if rel else entry.name
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    os.utime(entry.path, (_EPOCH, _EPOCH), follow_symlinks=False)
                    files.append({"path": inner, "type": "symlink", "target": os.readlink(entry.path)})
                elif stat.S_ISDIR(st.st_mode):
                    os.chmod(entry.path, 0o755)  # entered and written below, then sealed
                    files.append({"path": inner, "type": "dir"})
                    todo.append((entry.path, inner, False))
                elif stat.S_ISREG(st.st_mode):
                    executable = st.st_mode & 0o111
                    digest = known.get(st)
                    os.chmod(entry.path, 0o555 if executable else 0o444)
                    if digest is None:
                        with open(entry.path, "rb") as f:
                            digest = hashlib.file_digest(f, "sha256").hexdigest()
                    os.utime(entry.path, (_EPOCH, _EPOCH))
                    files.append({"path": inner, "type": "file", "mode": "0755" if executable else "0644",
                                  "sha256": digest, "size": st.st_size})
                else:
                    raise StoreError(f"refusing to store {entry.path}: not a file, directory or link")
    return _manifest(files)


def make_writable(root: Path) -> None:
    for dirpath, dirnames, _ in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755)


def remove_tree(root: Path) -> None:
    if not os.path.lexists(root):
        return
    make_writable(root)
    shutil.rmtree(root, ignore_errors=True)


def build_manifest(root: Path, known: digests.Digests | None = None) -> dict[str, Any]:
    """Every entry's path, type, mode and sha256 (or link target), and one hash
    over all of it: what `verify` compares against. A file whose hash was
    taken as it was written (`known`, and unchanged since) is not read again."""
    files: list[dict[str, Any]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                files.append({"path": rel, "type": "symlink", "target": os.readlink(path)})
            elif stat.S_ISDIR(st.st_mode):
                files.append({"path": rel, "type": "dir"})
            else:
                digest = known.get(st) if known is not None else None
                if digest is None:
                    with open(path, "rb") as f:
                        digest = hashlib.file_digest(f, "sha256").hexdigest()
                files.append({
                    "path": rel, "type": "file", "mode": "0755" if st.st_mode & 0o111 else "0644",
                    "sha256": digest, "size": st.st_size,
                })
    return _manifest(files)


def _manifest(files: list[dict[str, Any]]) -> dict[str, Any]:
    files.sort(key=lambda e: e["path"])
    whole = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return {"files": files, "sha256": whole}
