"""What the garbage collector must keep: generations within --keep, pinned
outputs, the profiles of shells and commands running right now, and every
output one of those uses at run time (a Python environment's interpreter).

Running processes are found through /proc (their DEVSHELL_PROFILE). A shell
that applied a profile after it started (the shellenv hook, direnv) has it
in no /proc entry, so the hook writes `roots/shells/<pid of the shell>`,
naming the profile while it is applied; it counts while that process lives.
A realisation in progress holds a shared lock that `gc` waits on exclusively.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from devshell.errors import StoreError
from devshell.home import Home
from devshell.shell import activation
from devshell.state import generations

__all__ = [
    "drop_dead_shells", "guard", "live_profiles", "pins", "profile_outputs", "references", "roots",
    "shell_profiles",
]


@contextlib.contextmanager
def guard(home: Home, exclusive: bool) -> Iterator[None]:
    """Shared while realising, exclusive while collecting (fcntl.flock)."""
    path = home.lock_file("gc")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def pins(home: Home) -> set[str]:
    pin_dir = home.roots / "pins"
    return {p.name for p in pin_dir.iterdir()} if pin_dir.is_dir() else set()


def live_profiles(home: Home) -> set[str]:
    """Store names of profiles in the environment of any running process."""
    prefix = f"DEVSHELL_PROFILE={home.store}/".encode()
    found = set()
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        for entry in environ.split(b"\0"):
            if entry.startswith(prefix):
                found.add(entry[len(prefix):].decode(errors="replace").split("/", 1)[0])
    return found


def _shell_roots(home: Home) -> list[tuple[Path, bool]]:
    """Each `roots/shells/<pid>` file, and whether its shell still runs."""
    shells = home.roots / "shells"
    found = []
    for entry in sorted(shells.iterdir()) if shells.is_dir() else []:
        if entry.name.isdigit():
            found.append((entry, os.path.isdir(f"/proc/{entry.name}")))
    return found


def shell_profiles(home: Home) -> set[str]:
    """Store names of the profiles running shells have applied (shellenv,
    direnv). A file names one profile by its path; anything else in it is
    no store name of this home, and keeps nothing."""
    store = f"{home.store}/"
    found = set()
    for entry, alive in _shell_roots(home):
        if not alive:
            continue
        try:
            text = entry.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            name = line[len(store):].rstrip("/") if line.startswith(store) else ""
            if name and "/" not in name and not name.startswith("."):
                found.add(name)
    return found


def drop_dead_shells(home: Home) -> int:
    """Remove the root files of shells that have exited; how many went."""
    dead = [entry for entry, alive in _shell_roots(home) if not alive]
    for entry in dead:
        with contextlib.suppress(OSError):
            entry.unlink()
    return len(dead)


def profile_outputs(home: Home, profile: str) -> set[str]:
    """The outputs a profile's bin/ links point into. `profile` may come from
    any process's environment: a name that is not a store entry has none."""
    try:
        bindir = home.output(profile) / "bin"
    except StoreError:
        return set()
    outputs = set()
    if bindir.is_dir():
        for link in os.scandir(bindir):
            target = os.readlink(link.path) if link.is_symlink() else ""
            parts = target.split("/")
            if len(parts) > 2 and parts[0] == ".." and parts[1] == "..":
                outputs.add(parts[2])
    return outputs


def roots(home: Home, keep: int | None, older_than_days: float | None) -> tuple[set[str], list[Path]]:
    """Store names to keep, and the state dirs of projects that have gone."""
    live: set[str] = set()
    gone: list[Path] = []
    projects = home.state / "projects"
    cutoff = time.time() - older_than_days * 86400 if older_than_days is not None else None
    for state in sorted(projects.iterdir()) if projects.is_dir() else []:
        try:
            root = Path((state / "root").read_text().strip())
        except OSError:
            root = None
        if root is None or not (root / "devshell.toml").is_file():
            gone.append(state)
            continue
        gens = generations.list_all(state)
        now = generations.current(state)
        kept = gens[-keep:] if keep is not None and keep > 0 else list(gens)
        if cutoff is not None:
            kept = [g for g in kept if g.time >= cutoff]
        if now is not None and now not in kept:
            kept.append(now)  # the current generation is never collected
        for gen in kept:
            live.add(gen.profile)
            live.update(gen.outputs)
        live.update(_record_profile(state))
    for profile in pins(home) | live_profiles(home) | shell_profiles(home):
        live.add(profile)
    for profile in [n for n in live if "-profile-" in n]:
        live.update(profile_outputs(home, profile))
    live.update(references(home, live))
    return live, gone


def references(home: Home, outputs: set[str]) -> set[str]:
    """The outputs `outputs` use at run time, and the ones those use, and so
    on: an artifact names one in its fix-ups as `<role>+<output name>` (a
    Python environment's `python+…`, whose scripts and `bin/python3` lead
    into it), recorded in its manifest. An output kept without them would be
    kept broken."""
    from devshell import names, store
    from devshell.errors import DevshellError

    found: set[str] = set()
    todo = list(outputs)
    while todo:
        try:
            data = store.read_manifest(home, todo.pop())
        except DevshellError:  # not a name of the store's: it uses nothing
            continue
        artifact = data.get("artifact") if data else None
        fixups = artifact.get("fixups") if isinstance(artifact, dict) else None
        for fixup in fixups if isinstance(fixups, list) else []:
            used = fixup.partition("+")[2] if isinstance(fixup, str) else ""
            if names.OUTPUT_NAME.fullmatch(used) and ".." not in used and used not in found | outputs:
                found.add(used)
                todo.append(used)
    return found


def _record_profile(state: Path) -> set[str]:
    """The profile the activation record points at (the hot path uses it)."""
    try:
        record = activation.decode((state / "activation").read_text())
    except OSError:
        return set()
    return {os.path.basename(record.profile)} if record else set()


def drop_project(state: Path) -> None:
    shutil.rmtree(state, ignore_errors=True)
