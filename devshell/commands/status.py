"""`devshell status`: tools, versions, store paths, lock state, impure host tools."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from devshell import lock as lockfile
from devshell import platforms, project
from devshell.home import home
from devshell.lock import Artifact, Lock, LockedTool, Unavailable
from devshell.python import layout

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="show tools, versions, store paths and lock state")
    p.set_defaults(func=run)


def _writable(path: Path, programs: list[tuple[str, str]]) -> bool:
    """Cheap check of the output and its programs (verify checks every file)."""
    paths = [path] + [path / p for _, p in programs]
    return any(p.exists() and os.stat(p).st_mode & 0o222 for p in paths)


def _environment(lock: Lock, locked: LockedTool, artifact: Artifact) -> str:
    """What a Python tool environment runs on and how many wheels make it
    (its own and its closure's), as one more line under the tool's; nothing
    for any other format. The interpreter is the tool it needs, as locked;
    failing that, the version its fix-ups record."""
    if artifact.format != "pyenv":
        return ""
    name = locked.needs[0] if locked.needs else "python"
    python = lock.tool(name)
    version = python.version if python is not None else None
    if version is None:
        try:
            version = ".".join(map(str, layout.interpreter(artifact.fixups).version))
        except ValueError:
            version = "?"
    count = 1 + len(artifact.closure)
    return f"\n      on {name} {version}, {count} wheel{'s' if count != 1 else ''}"


def run(args: argparse.Namespace) -> int:
    proj = project.find()
    spec = proj.spec
    lock = lockfile.load(proj.lock_path)
    plat = platforms.host()
    if lock is None:
        state = "missing (run `devshell lock`)"
    elif lock.spec_hash != lockfile.spec_hash(spec.resolution_inputs()):
        state = "stale: devshell.toml changed since it was locked (run `devshell lock`)"
    else:
        state = "up to date"
    out = sys.stdout
    out.write(f"devshell {spec.shell.name} at {proj.root}\n")
    out.write(f"  isolation: {spec.shell.isolation}   platform: {plat}\n")
    out.write(f"  lock: {state}\n")
    out.write("  tools:\n")
    store_root = home().store
    for tool in spec.tools:
        locked = lock.tool(tool.name) if lock else None
        if locked is None:
            out.write(f"    {tool.name:<16} {tool.constraint:<12} not locked\n")
            continue
        artifact = locked.artifact(plat)
        if artifact is None or isinstance(artifact, Unavailable):
            where = f"not on {plat} (optional)" if tool.optional_on(plat) else "unavailable on this platform"
        else:
            path = store_root / artifact.output
            where = str(path) if path.is_dir() else f"not fetched yet ({artifact.output})"
            if lock is not None:
                where += _environment(lock, locked, artifact)
            if artifact.index_verified is False:
                where += "\n      warning: locked from an unverified Debian index (no keyring or gpgv then)"
            if path.is_dir() and _writable(path, artifact.programs()):
                where += "\n      warning: not read-only any more; run `devshell verify`"
        out.write(f"    {tool.name:<16} {locked.version:<12} {where}\n")
    if spec.shell.host_tools:
        out.write("  impure host tools (from this machine's PATH, not pinned): "
                  + ", ".join(spec.shell.host_tools) + "\n")
    return 0
