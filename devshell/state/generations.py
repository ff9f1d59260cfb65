"""Generations: every realised state of a project (spec, lock, profile), kept
so `rollback` can bring any of them back offline and `gc` knows its roots.

    state/projects/<id>/root                the project's directory
    state/projects/<id>/current             the current generation's number
    state/projects/<id>/generations/<N>/    devshell.toml, devshell.lock, info.json
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from devshell import atomic
from devshell import lock as lockfile
from devshell.home import Home
from devshell.shell import activation

__all__ = ["Generation", "current", "diff", "list_all", "project_state", "record"]


@dataclass(frozen=True)
class Generation:
    number: int
    time: float
    profile: str  # store name of the profile
    outputs: tuple[str, ...]  # store names of every tool output
    path: Path  # its directory

    @property
    def spec_bytes(self) -> bytes:
        return (self.path / "devshell.toml").read_bytes()

    @property
    def lock_bytes(self) -> bytes:
        return (self.path / "devshell.lock").read_bytes()

    def versions(self) -> dict[str, str]:
        """tool → version, from this generation's lock."""
        try:
            data = json.loads(self.lock_bytes)
            return {name: str(t["version"]) for name, t in data.get("tools", {}).items()}
        except (OSError, ValueError, KeyError, TypeError):
            return {}


def project_state(home: Home, root: Path) -> Path:
    return Path(activation.project_dir(str(home.state), str(root)))


def _load(path: Path) -> Generation | None:
    try:
        info = json.loads((path / "info.json").read_text(encoding="utf-8"))
        return Generation(
            number=int(info["number"]), time=float(info["time"]), profile=str(info["profile"]),
            outputs=tuple(info["outputs"]), path=path,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def list_all(state: Path) -> list[Generation]:
    """Every generation of one project, oldest first."""
    gens_dir = state / "generations"
    if not gens_dir.is_dir():
        return []
    found = [g for p in gens_dir.iterdir() if p.name.isdigit() and (g := _load(p)) is not None]
    return sorted(found, key=lambda g: g.number)


def current(state: Path) -> Generation | None:
    gens = list_all(state)
    try:
        number = int((state / "current").read_text().strip())
    except (OSError, ValueError):
        return gens[-1] if gens else None
    return next((g for g in gens if g.number == number), gens[-1] if gens else None)


def set_current(state: Path, number: int) -> None:
    atomic.write_text(state / "current", f"{number}\n")


def record(home: Home, root: Path, profile: str, outputs: list[str]) -> Generation | None:
    """Record the project's spec and lock as a new generation if they differ
    from the current one; return it, or None when nothing changed."""
    state = project_state(home, root)
    spec = (root / "devshell.toml").read_bytes()
    lock = (root / lockfile.LOCK_NAME).read_bytes()
    now = current(state)
    if now is not None and now.spec_bytes == spec and now.lock_bytes == lock and now.profile == profile:
        return None
    # A generation already holding exactly these files becomes current again.
    for gen in reversed(list_all(state)):
        if gen.spec_bytes == spec and gen.lock_bytes == lock and gen.profile == profile:
            set_current(state, gen.number)
            return None
    atomic.write_text(state / "root", f"{root}\n")
    gens = list_all(state)
    number = gens[-1].number + 1 if gens else 1
    (state / "generations").mkdir(parents=True, exist_ok=True)
    tmp = state / "generations" / f".tmp-{number}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    (tmp / "devshell.toml").write_bytes(spec)
    (tmp / "devshell.lock").write_bytes(lock)
    info = {"number": number, "time": time.time(), "profile": profile, "outputs": sorted(outputs)}
    (tmp / "info.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    try:
        tmp.rename(state / "generations" / str(number))
    except OSError:
        # Another process recorded the same number first; its record stands.
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    set_current(state, number)
    return _load(state / "generations" / str(number))


def diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """What changed between two tool → version maps, one line each."""
    lines = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old is None:
            lines.append(f"+ {name} {new}")
        elif new is None:
            lines.append(f"- {name} {old}")
        elif old != new:
            lines.append(f"~ {name} {old} → {new}")
    return lines
