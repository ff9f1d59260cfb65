"""`devshell gc [--dry-run] [--keep N] [--older-than DAYS]`: free the store."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from devshell import gcroots, integrity, store
from devshell.home import Home, home

__all__ = ["collect", "register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("gc", help="remove store outputs and downloads nothing uses")
    p.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    p.add_argument("--keep", type=int, metavar="N", help="keep only the newest N generations per project")
    p.add_argument("--older-than", type=float, metavar="DAYS",
                   help="also drop generations older than DAYS (never a project's current one)")
    p.set_defaults(func=run)


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _kept_downloads(h: Home, live: set[str]) -> set[str]:
    """Cache keys of the artifacts behind live outputs (from their manifests)."""
    keys = set()
    for name in live:
        meta = h.meta / f"{name.split('-', 1)[0]}.json"
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        artifact = data.get("artifact")
        if isinstance(artifact, dict) and artifact.get("integrity"):
            keys.add(integrity.to_hex(artifact["integrity"]))
    return keys


def collect(h: Home, dry_run: bool, keep: int | None, older_than: float | None) -> tuple[list[str], int]:
    from filelock import FileLock, Timeout

    removed: list[str] = []
    freed = 0
    with gcroots.guard(h, exclusive=True):
        live, gone = gcroots.roots(h, keep, older_than)
        for state in gone:
            removed.append(f"project state {state.name} (its directory is gone)")
            if not dry_run:
                gcroots.drop_project(state)
        for entry in sorted(h.store.iterdir()) if h.store.is_dir() else []:
            name = entry.name
            if name in live:
                continue
            try:
                # An output being added holds this lock: never collect it.
                lock = FileLock(str(h.lock_file(name.removeprefix(".tmp-").rsplit("-", 1)[0]
                                                if name.startswith(".tmp-") else name)), timeout=0)
                with lock:
                    size = _size(entry)
                    removed.append(f"{name} ({size / 1e6:.1f} MB)")
                    freed += size
                    if not dry_run:
                        store.remove_tree(entry)
                        (h.meta / f"{name.split('-', 1)[0]}.json").unlink(missing_ok=True)
            except Timeout:
                continue
        keep_keys = _kept_downloads(h, live)
        for entry in sorted(h.downloads.iterdir()) if h.downloads.is_dir() else []:
            if entry.name not in keep_keys:
                size = entry.stat().st_size
                removed.append(f"download {entry.name[:24]}… ({size / 1e6:.1f} MB)")
                freed += size
                if not dry_run:
                    entry.unlink(missing_ok=True)
    return removed, freed


def run(args: argparse.Namespace) -> int:
    removed, freed = collect(home(), args.dry_run, args.keep, args.older_than)
    verb = "would remove" if args.dry_run else "removed"
    for line in removed:
        print(f"  {verb} {line}")
    print(f"devshell: {verb} {len(removed)} items, {freed / 1e6:.1f} MB", file=sys.stderr)
    return 0
