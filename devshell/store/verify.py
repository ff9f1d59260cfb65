"""Re-hash store outputs against their manifests, and repair what is damaged
from the download cache or the upstream, through the store's write path."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devshell import store
from devshell.errors import StoreError
from devshell.home import Home, confined
from devshell.lock import artifact_from_json

__all__ = ["Problem", "check", "repair"]


@dataclass(frozen=True)
class Problem:
    kind: str  # "modified" | "missing" | "extra" | "mode" | "writable" | "setid" | "manifest"
    path: str

    def describe(self) -> str:
        kind = "setuid/setgid/sticky bit" if self.kind == "setid" else self.kind
        return f"{kind}: {self.path}"


def manifest(home: Home, name: str) -> dict[str, Any] | None:
    return store.read_manifest(home, name)


#: setuid, setgid, sticky: no store file or directory has them.
_SPECIAL = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def check(home: Home, name: str) -> list[Problem]:
    """Every way output `name` differs from its manifest."""
    root = home.output(name)
    data = manifest(home, name)
    if data is None or not isinstance(data.get("files"), list):
        return [Problem("manifest", f"{name} has no manifest in {home.meta}")]
    if not root.is_dir():
        return [Problem("missing", name)]
    expected = {e["path"]: e for e in data["files"]}
    problems: list[Problem] = []
    mode = os.lstat(root).st_mode
    if mode & 0o222:
        problems.append(Problem("writable", "."))
    if mode & _SPECIAL:
        problems.append(Problem("setid", "."))
    seen = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in sorted(dirnames + filenames):
            path = os.path.join(dirpath, entry)
            rel = os.path.relpath(path, root)
            seen.add(rel)
            want = expected.get(rel)
            if want is None:
                problems.append(Problem("extra", rel))
                continue
            problems += _compare(path, rel, want)
    problems += [Problem("missing", rel) for rel in sorted(expected.keys() - seen)]
    return problems


def _compare(path: str, rel: str, want: dict[str, Any]) -> list[Problem]:
    st = os.lstat(path)
    kind = "symlink" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file"
    if kind != want["type"]:
        return [Problem("modified", rel)]
    if kind == "symlink":
        return [] if os.readlink(path) == want["target"] else [Problem("modified", rel)]
    problems = []
    if st.st_mode & 0o222:
        problems.append(Problem("writable", rel))
    if st.st_mode & _SPECIAL:  # never stored: normalising drops them
        problems.append(Problem("setid", rel))
    if kind == "file":
        executable = "0755" if st.st_mode & 0o111 else "0644"
        if executable != want["mode"]:
            problems.append(Problem("mode", rel))
        if st.st_size != want.get("size", st.st_size) or _sha256(path) != want["sha256"]:
            problems.append(Problem("modified", rel))
    return problems


def repair(home: Home, name: str) -> None:
    """Rebuild `name` from what its manifest says it was made of, fetching
    from the upstreams it was realised from (not the current directory's)."""
    from devshell.sources.locate import Upstreams

    data = manifest(home, name)
    if data is None:
        raise StoreError(f"{name} has no manifest, so devshell cannot tell how to rebuild it",
                         hint="remove it with `devshell gc` and realise the project again")
    if "artifact" in data:
        try:
            artifact = artifact_from_json(data["artifact"])
        except ValueError as exc:
            raise StoreError(f"{name}: its manifest's artifact cannot be used: {exc}",
                             hint="remove it with `devshell gc` and realise the project again") from None
        if artifact.output != name:
            raise StoreError(f"{name}: its manifest describes {artifact.output!r}, another output",
                             hint="remove it with `devshell gc` and realise the project again")
        _forget_damaged_download(home, artifact.integrity)
        label = str(data.get("label") or name)
        upstreams = Upstreams.from_record(data.get("upstreams"))
        store.replace(home, name, store.artifact_populator(home, artifact, label, upstreams),
                      about=lambda: store.about(data["artifact"], label, upstreams))
        return
    links = [e for e in data["files"] if e["type"] == "symlink"]
    dirs = [e for e in data["files"] if e["type"] == "dir"]
    if len(links) + len(dirs) != len(data["files"]):
        raise StoreError(f"{name} cannot be rebuilt: its manifest names no artifact")

    def populate(tmp: Path) -> None:  # a profile: directories and links only
        for e in sorted(dirs, key=lambda e: e["path"]):
            confined(tmp, e["path"]).mkdir(parents=True, exist_ok=True)
        for e in links:
            os.symlink(e["target"], confined(tmp, e["path"]))

    store.replace(home, name, populate)


def _forget_damaged_download(home: Home, integrity_: str) -> None:
    """A cached download whose bytes no longer match is dropped, so the
    repair fetches it again from the upstream."""
    from devshell import integrity
    from devshell.net.fetch import cached_path

    path = cached_path(home, integrity_)
    if not path.exists():
        return
    algo, raw = integrity.parse(integrity_)
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, algo).digest()
    if digest != raw:
        path.unlink()
