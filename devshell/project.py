"""The full pipeline for one project: find the spec, make sure the lock is
fresh (or fail under --locked / CI), realise it, and write the activation
record the hot path reads next time."""

from __future__ import annotations

import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devshell import activation, integrity, platforms, profile, store
from devshell import lock as lockfile
from devshell import spec as specfile
from devshell.environment import Record
from devshell.errors import LockStaleError, SpecError, StoreError
from devshell.home import Home
from devshell.lock import Artifact, Lock, Unavailable
from devshell.spec import Spec

if TYPE_CHECKING:
    from filelock import FileLock as FileLockType

__all__ = ["Project", "ci_locked", "find", "fresh_lock", "realise", "relock"]


@dataclass(frozen=True)
class Project:
    root: Path
    spec: Spec
    spec_signature: str  # taken before the spec was read

    @property
    def lock_path(self) -> Path:
        return self.root / lockfile.LOCK_NAME


def find(cwd: Path | None = None) -> Project:
    start = cwd or Path.cwd()
    root = specfile.find_root(start)
    if root is None:
        raise SpecError(
            f"no {specfile.SPEC_NAME} in {start} or any directory above it",
            hint="run `devshell init` to create one, or cd into a project",
        )
    spec_path = root / specfile.SPEC_NAME
    signature = activation.file_signature(str(spec_path))
    return Project(root, specfile.load(spec_path), signature)


def ci_locked(flag: bool) -> bool:
    """--locked, or CI=true: a stale or missing lock is an error."""
    ci = os.environ.get("CI", "").strip().lower()
    return flag or ci not in ("", "0", "false", "no")


def editing(root: Path, home: Home) -> FileLockType:
    """The project's own lock: held while devshell.toml or devshell.lock is
    read and rewritten, so two edits (or an edit and a re-lock) never interleave."""
    from filelock import FileLock

    key = os.path.basename(activation.project_dir("", str(root)))
    return FileLock(str(home.lock_file("project-" + key)))


def relock(project: Project, home: Home, update: tuple[str, ...] = ()) -> Lock:
    """Resolve and write devshell.lock; print what moved and any warnings."""
    from devshell.resolve import resolve

    with editing(project.root, home):
        previous = lockfile.load(project.lock_path)
        new, changes, warnings = resolve(project.spec, previous, home, update)
        if previous is None or lockfile.dumps(previous) != lockfile.dumps(new):
            lockfile.write(project.lock_path, new)
    for change in changes:
        print(f"devshell: {change.describe()}", file=sys.stderr)
    for warning in warnings:
        print(f"devshell: warning: {warning}", file=sys.stderr)
    return new


def fresh_lock(project: Project, home: Home, locked: bool) -> Lock:
    """The project's lock, re-locked first if stale (unless `locked`)."""
    current = lockfile.load(project.lock_path)
    want = lockfile.spec_hash(project.spec.resolution_inputs())
    if current is not None and current.spec_hash == want:
        return current
    what = "missing" if current is None else f"out of date with {specfile.SPEC_NAME}"
    if ci_locked(locked):
        raise LockStaleError(
            f"{project.lock_path} is {what}, and --locked (or CI) forbids re-locking",
            hint="run `devshell lock` and commit devshell.lock",
        )
    print(f"devshell: {lockfile.LOCK_NAME} is {what}; locking", file=sys.stderr)
    return relock(project, home)


def realise(project: Project, home: Home, lock: Lock) -> Record:
    """Every output of the lock for this platform, the profile, the record."""
    plat = platforms.host()
    artifacts: list[tuple[str, Artifact]] = []
    for tool in lock.tools:
        artifact = tool.artifact(plat)
        if artifact is None or isinstance(artifact, Unavailable):
            reason = artifact.reason if artifact else "the lock does not cover it"
            raise StoreError(
                f"{tool.name} {tool.version} is not available for {plat}: {reason}",
                hint=f'add "{plat}" to shell.platforms, or give the tool an artifact for it, then `devshell lock`',
            )
        artifacts.append((f"{tool.name} {tool.version} ({plat})", artifact))
    signature = activation.signature(str(project.root), project.spec_signature)
    from devshell import gcroots

    # gc waits while any realisation runs, so nothing is collected half-used.
    with gcroots.guard(home, exclusive=False):
        return _realise(project, home, artifacts, signature)


def _realise(project: Project, home: Home, artifacts: list[tuple[str, Artifact]], signature: str) -> Record:
    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(lambda la: store.add_artifact(home, la[1], la[0]), artifacts))
    prof = profile.build(home, project.spec.shell.name, [a for _, a in artifacts])
    tool_env = []
    for (_, artifact), out in zip(artifacts, paths, strict=True):
        tool_env += [(k, v.replace("{out}", str(out))) for k, v in artifact.env]
    record = Record(
        root=str(project.root),
        name=project.spec.shell.name,
        isolation=project.spec.shell.isolation,
        profile=str(prof),
        host_bin=_host_bin(project, home),
        keep_env=project.spec.shell.keep_env,
        tool_env=tuple(tool_env),
        spec_env=project.spec.env,
        scripts=project.spec.scripts,
        signature=signature,
    )
    activation.write(str(home.state), record)
    from devshell import generations

    generations.record(home, project.root, prof.name, [a.output for _, a in artifacts])
    return record


def _host_bin(project: Project, home: Home) -> str:
    """A directory linking the spec's `host-tools`, found on the host PATH now.

    These are impure by design: `status` reports them as such."""
    wanted = project.spec.shell.host_tools
    if not wanted:
        return ""
    found = {}
    search = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(home.store))
    )
    for name in wanted:
        path = shutil.which(name, path=search)
        if path is None:
            print(f"devshell: warning: host tool {name!r} is not on the host PATH; skipped", file=sys.stderr)
            continue
        found[name] = os.path.realpath(path)
    base = Path(activation.project_dir(str(home.state), str(project.root)))
    target = base / f"host-bin-{integrity.digest_of(found)}"
    if not target.is_dir():
        tmp = base / f".tmp-host-bin-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, path in found.items():
            os.symlink(path, tmp / name)
        try:
            os.rename(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process made it first
    return str(target)


def prepare(locked: bool, cwd: Path | None = None) -> tuple[Project, Record]:
    """find → fresh lock → realise: what `run`, `env`, `enter`, `install` do cold."""
    from devshell.home import home as get_home

    project = find(cwd)
    home = get_home()
    lock = fresh_lock(project, home, locked)
    return project, realise(project, home, lock)


def realise_after_edit(root: Path) -> None:
    """After `add`, `remove` or `lock --update`: realise the new lock so it
    becomes a generation (and `rollback` can undo the change). The files are
    already written; a failure here is reported, not fatal."""
    from devshell.errors import DevshellError

    try:
        prepare(locked=True, cwd=root)
    except DevshellError as exc:
        print(f"devshell: warning: locked, but not realised on this machine: {exc.message}",
              file=sys.stderr)
