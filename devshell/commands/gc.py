"""`devshell gc [--dry-run] [--keep N] [--older-than DAYS]`: free the store."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from devshell import integrity, say, store
from devshell.errors import DevshellError
from devshell.home import Home, home
from devshell.store import gcroots

__all__ = ["collect", "collect_images", "register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("gc", help="remove store outputs and downloads nothing uses")
    p.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    p.add_argument("--keep", type=int, metavar="N", help="keep only the newest N generations per project")
    p.add_argument("--older-than", type=float, metavar="DAYS",
                   help="also drop generations older than DAYS (never a project's current one)")
    p.add_argument("--images", action="store_true",
                   help="also remove the image store (`devshell image` makes it again when needed)")
    p.set_defaults(func=run)


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _kept_downloads(h: Home, live: set[str]) -> set[str]:
    """Cache keys of the artifacts behind live outputs (from their manifests),
    a deb closure's parts included."""
    keys = set()
    for name in live:
        try:
            data = store.read_manifest(h, name)
        except DevshellError:  # not a name of the store's: nothing of it is kept
            continue
        artifact = data.get("artifact") if data else None
        if not isinstance(artifact, dict):
            continue
        parts = artifact.get("closure")
        for sri in [artifact.get("integrity")] + [
                p.get("integrity") for p in (parts if isinstance(parts, list) else [])
                if isinstance(p, dict)]:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                keys.add(integrity.to_hex(sri))  # type: ignore[arg-type]
    return keys


def _owners(name: str) -> set[str]:
    """Whose lock an entry of store/ is under: its own, or for a temporary
    entry the output being built (an output being added holds that lock)."""
    return store.temp_owners(name) if name.startswith(".") else {name}


def collect(h: Home, dry_run: bool, keep: int | None, older_than: float | None) -> tuple[list[str], int]:
    from filelock import FileLock, Timeout

    removed: list[str] = []
    freed = 0
    with gcroots.guard(h, exclusive=True):
        live, gone = gcroots.roots(h, keep, older_than)
        if not dry_run:
            gcroots.drop_dead_shells(h)  # the root files of shells that have exited
        for state in gone:
            removed.append(f"project state {state.name} (its directory is gone)")
            if not dry_run:
                gcroots.drop_project(state)
        for entry in sorted(h.store.iterdir()) if h.store.is_dir() else []:
            name = entry.name
            if name in live:
                continue
            owners = _owners(name)
            if not owners:
                continue  # not devshell's: never touched
            try:
                with contextlib.ExitStack() as held:
                    # An output being added holds its lock: never collect it.
                    for owner in sorted(owners):
                        held.enter_context(FileLock(str(h.lock_file(owner)), timeout=0))
                    size = _size(entry)
                    removed.append(f"{name} ({size / 1e6:.1f} MB)")
                    freed += size
                    if not dry_run:
                        store.remove_tree(entry)
                        if not name.startswith("."):
                            store.remove_manifest(h, name)
            except Timeout:
                continue
        # Bytecode Python environments wrote for an output (devshell.python.layout)
        # goes with it: cache/pycache mirrors the store's absolute path.
        bytecode = h.cache / "pycache" / str(h.store).lstrip("/")
        for entry in sorted(bytecode.iterdir()) if bytecode.is_dir() else []:
            if entry.name not in live and not (h.store / entry.name).exists():
                size = _size(entry)
                removed.append(f"bytecode of {entry.name} ({size / 1e6:.1f} MB)")
                freed += size
                if not dry_run:
                    shutil.rmtree(entry, ignore_errors=True)
        keep_keys = _kept_downloads(h, live)
        for entry in sorted(h.downloads.iterdir()) if h.downloads.is_dir() else []:
            if entry.name not in keep_keys:
                size = entry.stat().st_size
                removed.append(f"download {entry.name[:24]}… ({size / 1e6:.1f} MB)")
                freed += size
                if not dry_run:
                    entry.unlink(missing_ok=True)
    return removed, freed


def collect_images(h: Home, dry_run: bool) -> tuple[list[str], int]:
    """The image store (devshell.oci.imagestore: the lock realised for
    /opt/devshell, and the layers made of it), whole: nothing outside it
    points into it, so it is a cache `devshell image` fills again. Waits
    while an image is being built; its locks directory stays."""
    from devshell.oci.imagestore import staging_home

    staging = staging_home(h)
    if not staging.root.is_dir():
        return [], 0
    with gcroots.guard(staging, exclusive=True):
        entries = [e for e in sorted(staging.root.iterdir()) if e.name != "locks"]
        size = sum(_size(e) if e.is_dir() else e.lstat().st_size for e in entries)
        if not entries:
            return [], 0
        if not dry_run:
            for entry in entries:
                if entry.is_dir() and not entry.is_symlink():
                    store.remove_tree(entry)
                else:
                    entry.unlink(missing_ok=True)
    return [f"the image store ({size / 1e6:.1f} MB)"], size


def run(args: argparse.Namespace) -> int:
    removed, freed = collect(home(), args.dry_run, args.keep, args.older_than)
    if args.images:
        more, size = collect_images(home(), args.dry_run)
        removed, freed = removed + more, freed + size
    verb = "would remove" if args.dry_run else "removed"
    for line in removed:
        print(f"  {verb} {line}")
    say.note(f"{verb} {len(removed)} items, {freed / 1e6:.1f} MB")
    return 0
