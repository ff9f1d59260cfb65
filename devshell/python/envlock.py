"""Lock a Python tool as an environment on the spec's pinned python.

The version is picked from the index's wheels as for any pypi tool; then, for
each platform, pip's resolver (devshell.python.resolver) says which wheels
install `project==version` there on that python. Every one must be a file the
index lists for its project, with a sha256, not yanked: the lock records it
as `pypi:<project>/<file>`, found again through whatever index a machine is
configured for. The tool's console scripts, read from its own wheel, are its
programs.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name, parse_wheel_filename

from devshell import config, integrity, libc, names, platforms
from devshell.errors import FetchError, SpecError
from devshell.lock import Artifact, LockedTool, Part, Unavailable, tool_inputs_hash
from devshell.python import layout, resolver, targets
from devshell.sources import wheels
from devshell.sources.common import artifact, pick_version
from devshell.versions import choose, parse_constraint

if TYPE_CHECKING:
    from devshell.context import Context
    from devshell.sources.pypi import IndexFile
    from devshell.spec import ToolSpec

__all__ = ["PYTHON", "program", "resolve", "versions"]

#: The tool of the spec every Python tool runs on.
PYTHON = "python"

Listing = Callable[[str], "list[IndexFile]"]


def versions(files: list[IndexFile]) -> dict[str, list[IndexFile]]:
    """Releases with at least one wheel for a Python (not a binary tool
    wheel) the index gives a sha256 for, yanked ones left out (a lock never
    takes a yanked file)."""
    found: dict[str, list[IndexFile]] = {}
    for f in files:
        if f.filename.endswith(".whl") and f.sha256 is not None and not f.yanked and _for_python(f):
            found.setdefault(_version_of(f.filename), []).append(f)
    return found


def _for_python(f: IndexFile) -> bool:
    found = wheels.wheel_tags(f.filename)
    return found is not None and not wheels.is_tool_wheel(found)


def _version_of(filename: str) -> str:
    try:
        return str(parse_wheel_filename(filename)[1])
    except ValueError:
        return ""


def resolve(tool: ToolSpec, project: str, plats: tuple[str, ...], ctx: Context,
            listing: Listing) -> LockedTool:
    """`tool` (package `project`) locked on every platform of `plats`."""
    version = _pick(tool, project, listing(project))
    python = ctx.locked(PYTHON)
    if python is None:
        raise SpecError(
            f"tools.{tool.name}: {project} is a Python tool, and the spec pins no python to run it on",
            hint=f"add one with `devshell add python`, then lock again; {tool.name} runs on it",
        )
    release = targets.python_version(python.version)
    if release is None:
        raise SpecError(f"tools.{PYTHON}: {python.version!r} names no CPython release (3.X.Y)",
                        hint=f"{tool.name} runs on it, so it must be a CPython")
    plans = {p: _plan(p, python, release, tool.glibc or libc.FLOOR) for p in plats}
    with ThreadPoolExecutor(max_workers=min(4, len(plats) or 1)) as pool:
        futures = {p: pool.submit(_closure, tool, project, version, plan[0], ctx)
                   for p, plan in plans.items() if not isinstance(plan, Unavailable)}
        closures: dict[str, list[resolver.Pinned] | Unavailable] = {}
        for p, plan in plans.items():
            closures[p] = plan if isinstance(plan, Unavailable) else futures[p].result()
    host = platforms.host()
    missing = closures.get(host)
    if isinstance(missing, Unavailable):
        raise SpecError(f"tools.{tool.name}: {project} {version} cannot be installed on this "
                        f"machine ({host}): {missing.reason}",
                        hint=f"pick another version of {tool.name} (or of python) that has one")
    entries: dict[str, Artifact | Unavailable] = {}
    bins: tuple[str, ...] | None = tool.bin
    for plat in sorted(plats, key=lambda p: p != host):  # scripts are read from the host's wheel
        found, plan = closures[plat], plans[plat]
        if isinstance(plan, Unavailable):
            entries[plat] = plan
            continue
        if isinstance(found, Unavailable):
            entries[plat] = found
            continue
        main, parts = _locked_files(tool, project, version, found, listing)
        if bins is None:
            bins = _scripts(tool, project, version, plat, main, ctx)
        entries[plat] = artifact(
            tool.name, version, url=f"pypi:{canonicalize_name(project)}/{main.filename}",
            integrity=integrity.from_hex("sha256", main.sha256 or ""), size=main.size,
            format="pyenv", strip=0, bin=bins, env=tool.env, closure=parts,
            fixups=layout.fixups(plan[1]),
        )
    return LockedTool(
        name=tool.name, constraint=tool.constraint, source="pypi", version=version,
        inputs=tool_inputs_hash(tool.inputs()),
        platforms=tuple((p, entries[p]) for p in plats),
        package=project if project != tool.name else None,
        needs=(PYTHON,),
    )


def _pick(tool: ToolSpec, project: str, files: list[IndexFile]) -> str:
    """The newest release the constraint admits; a release it admits only
    yanked is one clear line, not a silent older pick."""
    usable = versions(files)
    constraint = parse_constraint(tool.constraint)
    if choose(constraint, list(usable)) is None:
        yanked = {_version_of(f.filename) for f in files if f.filename.endswith(".whl") and f.yanked}
        gone = choose(constraint, [v for v in yanked if v])
        if gone is not None:
            newest = choose(parse_constraint("latest"), list(usable))
            raise SpecError(
                f"tools.{tool.name}: {project} {gone} was yanked from the Python package index",
                hint="pin a release that was not yanked"
                + (f" (the newest is {newest})" if newest else ""),
            )
    return pick_version(tool, usable, where=f"{project} on the Python package index")


def _plan(plat: str, python: LockedTool, release: tuple[int, int, int], glibc: tuple[int, int],
          ) -> tuple[targets.Target, layout.Interpreter] | Unavailable:
    """What resolving for `plat` takes: the target, and the interpreter."""
    found = python.artifact(plat)
    if found is None or isinstance(found, Unavailable):
        return Unavailable(f"{PYTHON} is not available for {plat}")
    target = targets.target(plat, release, glibc)
    if target is None:
        return Unavailable(f"devshell knows no Python wheel tags for {plat}")
    found_program = program(python, found)
    if found_program is None:
        raise SpecError(f"tools.{PYTHON}: {python.version} exposes no python3 program for {plat}",
                        hint='Python tools run on it: give it bin = ["…/python3"]')
    return target, layout.Interpreter(found.output, found_program, release)


def program(python: LockedTool, found: Artifact) -> str | None:
    """The interpreter's own program inside the python tool's output.

    A venv is found by the name its interpreter starts under, and a launcher
    that execs the interpreter by its real path loses that name; so a
    source whose programs are launchers says where the interpreter itself
    is (an `interpreter(artifact)` method, returning a path inside the
    output). Otherwise it is the artifact's python3 (python3.X, python)."""
    from devshell import sources

    try:
        source: object = sources.get(python.source)
    except KeyError:
        source = None
    ask = getattr(source, "interpreter", None)
    said = ask(found) if callable(ask) else None
    if isinstance(said, str) and said:
        try:
            return names.check_inner_path(said, f"the {python.source} source's interpreter")
        except ValueError as exc:
            raise SpecError(f"tools.{PYTHON}: {exc}", hint="the source is broken") from None
    programs = dict(found.programs())
    release = targets.python_version(python.version)
    short = f"python{release[0]}.{release[1]}" if release else "python3"
    return next((programs[n] for n in ("python3", short, "python") if n in programs), None)


def _closure(tool: ToolSpec, project: str, version: str, target: targets.Target,
             ctx: Context) -> list[resolver.Pinned] | Unavailable:
    """pip's answer for one platform, or which package has no wheel there."""
    try:
        return resolver.closure(target, f"{project}=={version}", config.pypi_index().url,
                                ctx.home.cache / "pip", f"tools.{tool.name}")
    except resolver.NoWheel as missing:
        what = (f"{project} {version}" if missing.package == canonicalize_name(project)
                else f"{missing.package} (which {project} {version} needs)")
        return Unavailable(f"{what} has no wheel for {target.platform} on Python {target.short}")


def _locked_files(tool: ToolSpec, project: str, version: str, pinned: list[resolver.Pinned],
                  listing: Listing) -> tuple[IndexFile, tuple[Part, ...]]:
    """The tool's wheel and the closure's parts, each as the index lists it."""
    main: IndexFile | None = None
    parts = []
    for p in pinned:
        listed = {f.filename: f for f in listing(p.name)}
        f = listed.get(p.filename)
        where = f"tools.{tool.name}: pip chose {p.filename} ({p.name} {p.version})"
        if f is None or f.sha256 is None:
            raise FetchError(f"{where}, which the index lists "
                             + ("with no sha256" if f else f"nowhere under {p.name}"),
                             hint="devshell locks only files the index lists with their hash")
        if p.sha256 is not None and p.sha256.lower() != f.sha256:
            raise FetchError(f"{where}: pip saw sha256 {p.sha256}, the index lists {f.sha256}",
                             hint="the index changed while locking; lock again")
        if f.yanked:
            raise SpecError(f"tools.{tool.name}: {project} {version} needs {p.name} {p.version}, "
                            "which was yanked from the Python package index",
                            hint=f"pin another version of {tool.name}")
        if p.name == canonicalize_name(project):
            main = f
            continue
        parts.append(Part(name=p.name, version=p.version, url=f"pypi:{p.name}/{p.filename}",
                          integrity=integrity.from_hex("sha256", f.sha256), size=f.size))
    if main is None:
        raise FetchError(f"tools.{tool.name}: pip's answer for {project}=={version} leaves "
                         f"{project} itself out", hint="lock again; report it if it persists")
    return main, tuple(sorted(parts, key=lambda part: part.name))


def _scripts(tool: ToolSpec, project: str, version: str, plat: str, main: IndexFile,
             ctx: Context) -> tuple[str, ...]:
    """`bin/NAME` for each console script and each script the tool's own
    wheel ships: its programs, and the only ones put on PATH."""
    from devshell.net.fetch import Download, fetch

    path = fetch(ctx.home, Download(main.url, integrity.from_hex("sha256", main.sha256 or ""),
                                    main.size, f"{tool.name} {version} ({plat})"))
    stem = "-".join(main.filename.split("-", 2)[:2])
    try:
        with zipfile.ZipFile(path) as z:
            found = set(wheels.console_scripts(z, main.filename))
            found |= {n.split("/")[2] for n in z.namelist()
                      if n.startswith(f"{stem}.data/scripts/") and n.count("/") == 2 and not n.endswith("/")}
        scripts = sorted(names.check_plain(n, f"{main.filename}: script") for n in found)
    except (zipfile.BadZipFile, ValueError) as exc:
        raise FetchError(f"tools.{tool.name}: {main.filename} from the Python package index: {exc}",
                         hint="the wheel is malformed or hostile; pick another version") from None
    if not scripts:
        raise SpecError(
            f"tools.{tool.name}: {project} {version} has no console scripts, so nothing to put on PATH",
            hint="devshell runs a Python package by its scripts; a library belongs to the tool that needs it",
        )
    return tuple(f"bin/{n}" for n in scripts)
