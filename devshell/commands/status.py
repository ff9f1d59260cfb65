"""`devshell status [--format text|json]`: tools, versions, store paths, lock
state, impure host tools.

`--format json` prints one object (see `_json`); its field names are stable.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devshell import lock as lockfile
from devshell import platforms, project
from devshell.home import home
from devshell.lock import Artifact, Lock, LockedTool, Unavailable
from devshell.python import layout
from devshell.spec import Spec

__all__ = ["ToolStatus", "register", "run"]

#: Lock states, as `--format json` names them, and as the text says them.
_LOCK_TEXT = {
    "missing": "missing (run `devshell lock`)",
    "stale": "stale: devshell.toml changed since it was locked (run `devshell lock`)",
    "up-to-date": "up to date",
}

#: Warning codes, as `--format json` names them, and as the text says them.
_WARNING_TEXT = {
    "unverified-index": "locked from an unverified Debian index (no keyring or gpgv then)",
    "writable": "not read-only any more; run `devshell verify`",
}


@dataclass(frozen=True)
class PythonEnv:
    """What a Python tool environment runs on, and how many wheels make it."""

    interpreter: str
    version: str
    wheels: int


@dataclass(frozen=True)
class ToolStatus:
    """One tool of the spec, as this machine has it."""

    name: str
    constraint: str
    # "not-locked" | "not-on-platform" (optional there) | "unavailable" | "not-fetched" | "realised"
    state: str
    version: str | None = None
    output: str | None = None
    path: str | None = None
    environment: PythonEnv | None = None
    warnings: tuple[str, ...] = ()


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="show tools, versions, store paths and lock state")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: one object on stdout, for scripts")
    p.set_defaults(func=run)


def _writable(path: Path, programs: list[tuple[str, str]]) -> bool:
    """Cheap check of the output and its programs (verify checks every file)."""
    paths = [path] + [path / p for _, p in programs]
    return any(p.exists() and os.stat(p).st_mode & 0o222 for p in paths)


def _environment(lock: Lock, locked: LockedTool, artifact: Artifact) -> PythonEnv | None:
    """What a Python tool environment runs on and how many wheels make it
    (its own and its closure's); None for any other format. The interpreter
    is the tool it needs, as locked; failing that, the version its fix-ups
    record."""
    if artifact.format != "pyenv":
        return None
    name = locked.needs[0] if locked.needs else "python"
    python = lock.tool(name)
    version = python.version if python is not None else None
    if version is None:
        try:
            version = ".".join(map(str, layout.interpreter(artifact.fixups).version))
        except ValueError:
            version = "?"
    return PythonEnv(name, version, 1 + len(artifact.closure))


def _tools(spec: Spec, lock: Lock | None, plat: str) -> list[ToolStatus]:
    store_root = home().store
    found = []
    for tool in spec.tools:
        locked = lock.tool(tool.name) if lock else None
        if lock is None or locked is None:
            found.append(ToolStatus(tool.name, tool.constraint, "not-locked"))
            continue
        artifact = locked.artifact(plat)
        if artifact is None or isinstance(artifact, Unavailable):
            state = "not-on-platform" if tool.optional_on(plat) else "unavailable"
            found.append(ToolStatus(tool.name, tool.constraint, state, locked.version))
            continue
        path = store_root / artifact.output
        realised = path.is_dir()
        warnings = []
        if artifact.index_verified is False:
            warnings.append("unverified-index")
        if realised and _writable(path, artifact.programs()):
            warnings.append("writable")
        found.append(ToolStatus(
            tool.name, tool.constraint, "realised" if realised else "not-fetched", locked.version,
            artifact.output, str(path) if realised else None, _environment(lock, locked, artifact),
            tuple(warnings),
        ))
    return found


def run(args: argparse.Namespace) -> int:
    proj = project.find()
    spec = proj.spec
    lock = lockfile.load(proj.lock_path)
    plat = platforms.host()
    if lock is None:
        state = "missing"
    elif lock.spec_hash != lockfile.spec_hash(spec.resolution_inputs()):
        state = "stale"
    else:
        state = "up-to-date"
    tools = _tools(spec, lock, plat)
    if args.format == "json":
        import json

        sys.stdout.write(json.dumps(_json(spec, proj.root, plat, state, tools), indent=2) + "\n")
        return 0
    out = sys.stdout
    out.write(f"devshell {spec.shell.name} at {proj.root}\n")
    out.write(f"  isolation: {spec.shell.isolation}   platform: {plat}\n")
    out.write(f"  lock: {_LOCK_TEXT[state]}\n")
    out.write("  tools:\n")
    for tool in tools:
        out.write(_line(tool, plat))
    if spec.shell.host_tools:
        out.write("  impure host tools (from this machine's PATH, not pinned): "
                  + ", ".join(spec.shell.host_tools) + "\n")
    return 0


def _line(tool: ToolStatus, plat: str) -> str:
    if tool.state == "not-locked":
        return f"    {tool.name:<16} {tool.constraint:<12} not locked\n"
    where = {
        "not-on-platform": f"not on {plat} (optional)",
        "unavailable": "unavailable on this platform",
        "not-fetched": f"not fetched yet ({tool.output})",
        "realised": str(tool.path),
    }[tool.state]
    env = tool.environment
    if env is not None:
        where += f"\n      on {env.interpreter} {env.version}, {env.wheels} wheel{'s' if env.wheels != 1 else ''}"
    for code in tool.warnings:
        where += f"\n      warning: {_WARNING_TEXT[code]}"
    return f"    {tool.name:<16} {tool.version:<12} {where}\n"


def _json(spec: Spec, root: Path, plat: str, lock_state: str, tools: list[ToolStatus]) -> dict[str, Any]:
    """The `--format json` object: these field names are stable."""
    return {
        "name": spec.shell.name,
        "root": str(root),
        "isolation": spec.shell.isolation,
        "platform": plat,
        "lock": lock_state,
        "tools": [{
            "name": t.name,
            "constraint": t.constraint,
            "version": t.version,
            "state": t.state,
            "output": t.output,
            "path": t.path,
            "environment": None if t.environment is None else {
                "interpreter": t.environment.interpreter,
                "version": t.environment.version,
                "wheels": t.environment.wheels,
            },
            "warnings": list(t.warnings),
        } for t in tools],
        "host_tools": list(spec.shell.host_tools),
    }
