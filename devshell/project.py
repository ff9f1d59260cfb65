"""The full pipeline for one project: find the spec, make sure the lock is
fresh (or fail under --locked / CI), realise it, and write the activation
record the hot path reads next time."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devshell import integrity, platforms, say, store
from devshell import lock as lockfile
from devshell import spec as specfile
from devshell.errors import LockStaleError, SpecError, StoreError
from devshell.home import Home
from devshell.lock import Artifact, Lock, LockedTool, Unavailable
from devshell.shell import activation
from devshell.shell.environment import Record
from devshell.spec import Spec
from devshell.store import profile

if TYPE_CHECKING:
    from filelock import FileLock as FileLockType

__all__ = ["Prefill", "Project", "ci_locked", "find", "fresh_lock", "realise", "realise_after_edit", "realising", "relock", "stage"]


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
    from devshell.config import in_ci

    return flag or in_ci()


def editing(root: Path, home: Home) -> FileLockType:
    """The project's own lock: held while devshell.toml or devshell.lock is
    read and rewritten, so two edits (or an edit and a re-lock) never interleave."""
    from filelock import FileLock

    key = os.path.basename(activation.project_dir("", str(root)))
    return FileLock(str(home.lock_file("project-" + key)))


def relock(project: Project, home: Home, update: tuple[str, ...] = (), *, realise_first: bool = False) -> Lock:
    """Resolve and write devshell.lock; print what moved and any warnings.

    With `realise_first`, a changed lock is first realised for this machine (`stage`
    below): when that fails, devshell.lock is left as it was. `update` names
    the tools asked to move; when none did, that is said too."""
    from devshell.sources.resolve import resolve

    with editing(project.root, home):
        previous = lockfile.load(project.lock_path)
        new, changes, warnings = resolve(project.spec, previous, home, update)
        changed = (previous is None or previous.lock_version != lockfile.LOCK_VERSION
                   or lockfile.dumps(previous) != lockfile.dumps(new))
        if realise_first and changed:
            stage(project.spec, home, new)
        if changed:
            from devshell.state import trust

            with trust.preserving(home, project.root):  # devshell's own edit
                lockfile.write(project.lock_path, new)
    for change in changes:
        say.note(change.describe())
    if update and not any(c.tool in update for c in changes):
        say.note(f"nothing moved: {', '.join(update)} already at the newest version the spec allows")
    for warning in warnings:
        say.warn(warning)
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
    say.note(f"{lockfile.LOCK_NAME} is {what}; locking")
    return relock(project, home)


#: Puts what an output's artifacts need into the download cache before the
#: store fills the output (a team cache, a bundle): (home, artifact, label).
Prefill = Callable[[Home, Artifact, str], None]


def realise(project: Project, home: Home, lock: Lock, prefill: Prefill | None = None) -> Record:
    """Every output of the lock for this platform, the profile, the record."""
    artifacts = _host_artifacts(project.spec, lock, platforms.host())
    from devshell.state import trust
    from devshell.store import gcroots

    # Explicit commands need no trust for tools, but a variable that makes
    # shells or loaders run code does, wherever it comes from.
    trust.check_env(home, project.root,
                    [k for k, _ in project.spec.env] + [k for _, a in artifacts for k, _ in a.env],
                    where=str(project.spec.path))
    signature = activation.signature(str(project.root), project.spec_signature, str(home.state))

    # gc waits while any realisation runs, so nothing is collected half-used.
    with gcroots.guard(home, exclusive=False):
        paths, prof = _outputs(project.spec, home, artifacts, prefill)
        return _record(project, home, artifacts, paths, prof, signature)


def stage(spec: Spec, home: Home, lock: Lock) -> bool:
    """Realise `lock` for this machine into the store (its outputs and its
    profile) and write nothing else: no project file, no activation record,
    no generation. `add`, `remove` and `lock --update` call it before they
    write devshell.toml and devshell.lock, so an edit that cannot be realised
    here leaves both as they were. False, with a note, when the spec does not
    cover this machine: there is nothing to realise here then."""
    plat = platforms.host()
    if plat not in spec.shell.platforms:
        say.note(f"not realised on this machine: {plat} is not in shell.platforms")
        return False
    artifacts = _host_artifacts(spec, lock, plat)
    from devshell.store import gcroots

    with gcroots.guard(home, exclusive=False):
        _outputs(spec, home, artifacts)
    return True


@contextlib.contextmanager
def realising(home: Home) -> Iterator[None]:
    """Hold gc off from `stage` until the edit's outputs are a generation."""
    from devshell.store import gcroots

    with gcroots.guard(home, exclusive=False):
        yield


def each_artifact(spec: Spec, lock: Lock, plat: str,
                  going_on: str) -> Iterator[tuple[LockedTool, Artifact | str]]:
    """Every tool's artifact for `plat`, or why it has none there. A tool the
    spec marks optional there is left out, with a warning saying what goes
    on without it (`going_on`); the caller refuses any other."""
    for tool in lock.tools:
        artifact = tool.artifact(plat)
        if artifact is None or isinstance(artifact, Unavailable):
            reason = artifact.reason if artifact else "the lock does not cover it"
            wanted = spec.tool(tool.name)
            if wanted is not None and wanted.optional_on(plat):
                say.warn(f"{tool.name} {tool.version} is not available for {plat} ({reason}); "
                         f"{going_on} (it is optional there)")
                continue
            yield tool, reason
        else:
            yield tool, artifact


def _host_artifacts(spec: Spec, lock: Lock, plat: str) -> list[tuple[str, Artifact]]:
    """The lock's artifact of every tool for `plat`. A tool the spec marks
    optional there is left out where it is unavailable, with a warning; a
    wheel newer than this machine's glibc is refused in one line."""
    from devshell import libc

    artifacts: list[tuple[str, Artifact]] = []
    have = libc.host() if plat.endswith("-linux") else None
    for tool, artifact in each_artifact(spec, lock, plat, "the shell goes on without it"):
        if isinstance(artifact, str):
            reason = artifact
            others = [p for p in spec.shell.platforms if p != plat]
            if plat in spec.shell.platforms:
                hint = (f"choose a version of {tool.name} that has one (`devshell add {tool.name}@VERSION`), "
                        f"mark it optional = true in devshell.toml, drop {tool.name} from the spec, "
                        "or use this project on " + (" or ".join(others) if others else "another platform"))
            else:
                hint = (f'add "{plat}" to shell.platforms, or give the tool an artifact for it, '
                        "then `devshell lock`")
            raise StoreError(f"{tool.name} {tool.version} is not available for {plat}: {reason}", hint=hint)
        need = max((g for g in (*(libc.needs(u) for u in (artifact.url, *(p.url for p in artifact.closure))),
                                 libc.parse(artifact.glibc) if artifact.glibc else None) if g is not None),
                   default=None)
        if have is not None and need is not None and need > have:
            raise StoreError(f"{tool.name} {tool.version} needs glibc {libc.shown(need)}, and this machine has "
                             f"glibc {libc.shown(have)}",
                             hint=f"use a machine with glibc {libc.shown(need)} or newer, or lower [shell] glibc "
                             "in devshell.toml and `devshell lock --update` to take an older release")
        artifacts.append((f"{tool.name} {tool.version} ({plat})", artifact))
    return artifacts


def _outputs(spec: Spec, home: Home, artifacts: list[tuple[str, Artifact]],
             prefill: Prefill | None = None) -> tuple[list[Path], Path]:
    """Every output in the store, then the profile linking them. An output
    not there yet is first looked for in `prefill` (else the team cache
    devshell's config names), then in the upstreams."""
    from devshell.sources.locate import Upstreams

    # Where `npm:`, `deb:` and `pypi:` URLs come from: this project's settings,
    # never the current directory's.
    ups = Upstreams(spec.root, dict(spec.sources), home=home)
    missing = [(label, a) for label, a in artifacts if not home.output(a.output).is_dir()]
    if missing:
        _import_for(missing)
    if prefill is None and missing:
        from devshell.config import cache_setting

        setting = cache_setting()
        if setting is not None:  # the registry client is imported only for a cache that is there
            from devshell.oci.cache import configured

            cache = configured(setting)
            prefill = cache.prefill if cache is not None else None

    def one(la: tuple[str, Artifact]) -> Path:
        if prefill is not None and not home.output(la[1].output).is_dir():
            prefill(home, la[1], la[0])
        return store.add_artifact(home, la[1], la[0], ups)

    if not missing:  # every output is there: nothing to fetch, no threads (nor their imports)
        return [one(la) for la in artifacts], profile.build(home, spec.shell.name, [a for _, a in artifacts])
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=4)
    try:
        paths = list(pool.map(one, artifacts))
    except KeyboardInterrupt:
        # Ctrl-C: do not wait for the downloads running (cli.main exits at
        # once); what they leave is temp files a later run sweeps.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return paths, profile.build(home, spec.shell.name, [a for _, a in artifacts])


def _import_for(missing: list[tuple[str, Artifact]]) -> None:
    """Import what realising `missing` needs (requests, filelock, each
    format's filler) before the worker threads start: threads that import
    the same modules at once queue on the import lock, one at a time."""
    import filelock  # noqa: F401

    from devshell.net import fetch  # noqa: F401
    from devshell.store import formats

    for fmt, label in {a.format: label for label, a in missing}.items():
        formats.filler(fmt, label)
    urls = [u for _, a in missing for u in (a.url, *(p.url for p in a.closure))]
    from devshell import sources

    for scheme in {s for s in map(lockfile.upstream_scheme, urls) if s is not None}:
        sources.for_scheme(scheme)


def _record(project: Project, home: Home, artifacts: list[tuple[str, Artifact]], paths: list[Path],
            prof: Path, signature: str) -> Record:
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
    from devshell.state import generations

    generations.record(home, project.root, prof.name, [a.output for _, a in artifacts])
    return record


def _host_bin(project: Project, home: Home) -> str:
    """A directory linking the spec's `host-tools`, found on the host PATH now;
    an entry starting with "@" is a preset (devshell.shell.hosttools).

    These are impure by design: `status` reports them as such."""
    from devshell.shell import hosttools

    if not project.spec.shell.host_tools:
        return ""
    try:
        wanted = hosttools.programs(project.spec.shell.host_tools)
    except ValueError as exc:
        raise SpecError(f"{project.spec.path}: {exc}", hint='use program names, or "@posix"') from None
    found = {}
    search = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(home.store))
    )
    for name, named in wanted.items():
        path = shutil.which(name, path=search)
        if path is None:
            if named:
                say.warn(f"host tool {name!r} is not on the host PATH; skipped")
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


def prepare(locked: bool, cwd: Path | None = None, prefill: Prefill | None = None) -> tuple[Project, Record]:
    """find → fresh lock → realise: what `run`, `env`, `enter`, `install` do cold."""
    from devshell.home import home as get_home

    project = find(cwd)
    home = get_home()
    lock = fresh_lock(project, home, locked)
    return project, realise(project, home, lock, prefill)


def realise_after_edit(root: Path) -> None:
    """After `add`, `remove` or `lock --update` wrote what `stage` realised:
    record it as the current environment and a generation (so `rollback` can
    undo the change). Every output is in the store already; should recording
    still fail, the files stand and the failure is reported."""
    from devshell.errors import DevshellError

    try:
        if platforms.host() not in find(root).spec.shell.platforms:
            return  # `stage` said so already
        prepare(locked=True, cwd=root)
    except DevshellError as exc:
        say.warn(f"locked, but not recorded as a generation: {exc.message}")
