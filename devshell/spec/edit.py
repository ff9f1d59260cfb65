"""Editing devshell.toml the way a person would: change one entry, keep every
comment and the layout (tomlkit); then commit the edit together with its
lock, all or nothing.

`add`, `remove` and `init` share this. An edit is planned first (the new
text parsed as the spec and resolved, no file touched) and written only once
the lock resolved: a bad name, a version that does not exist, a network error
or Ctrl-C leave devshell.toml and devshell.lock byte for byte as they were.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from packaging.version import InvalidVersion, Version
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, InlineTable, Table
from tomlkit.toml_document import TOMLDocument

from devshell import atomic, catalog, platforms, say, sources
from devshell import lock as lockfile
from devshell import spec as specfile
from devshell.errors import SpecError, UsageError
from devshell.home import Home
from devshell.lock import Lock
from devshell.sources.resolve import Change
from devshell.spec import Spec

__all__ = [
    "Plan",
    "Request",
    "editing",
    "find_key",
    "minimal",
    "parse_request",
    "pin_for",
    "plan",
    "remove_tools",
    "set_shell_name",
    "set_tool",
    "tool_keys",
    "tool_name",
    "with_runtimes",
    "write",
]



@dataclass(frozen=True)
class Request:
    """One `TOOL[@CONSTRAINT]` from the command line."""

    key: str  # the [tools] key: a catalogue name ("ruff"), or "SOURCE:package"
    constraint: str | None  # None: not given; pinned to what resolves

    @property
    def name(self) -> str:
        return tool_name(self.key)


def tool_name(key: str) -> str:
    """The tool's name for a [tools] key, as spec.py derives it."""
    prefix, colon, rest = key.partition(":")
    if colon and prefix in sources.direct_names():
        return rest.rsplit("/", 1)[-1]
    return key


def parse_request(text: str) -> Request:
    """`ruff`, `ruff@0.6`, `SOURCE:NAME@1.2`, `SOURCE:@scope/pkg@3`; a name that is
    neither in the catalogue nor prefixed by a source is a SpecError."""
    prefix, colon, rest = text.partition(":")
    direct_names = sources.direct_names()
    direct = bool(colon) and prefix in direct_names
    body = rest if direct else text
    at = body.find("@", 1)  # a scope's leading @ (`@scope/pkg`) belongs to the name
    name, constraint = (body, None) if at < 0 else (body[:at], body[at + 1:].strip())
    if not name or (direct and not name.lstrip("@").rsplit("/", 1)[-1]):
        raise UsageError(f"{text!r} names no tool",
                         hint="e.g. ruff@0.6, " + " or ".join(f"{d}:NAME@1.2" for d in direct_names))
    if constraint == "":
        raise UsageError(f"{text!r}: nothing after '@'", hint=f"write {name}@VERSION, or just {name}")
    if not direct and catalog.get(name) is None:
        close = catalog.suggest(name)
        raise SpecError(
            f"{name!r} is not in the catalogue",
            hint=(f"did you mean {' or '.join(repr(c) for c in close)}? " if close else "")
            + f"`devshell search {name}` shows what the upstreams have; "
            "name a package directly as " + " or ".join(f"{d}:{name}" for d in direct_names),
        )
    return Request(f"{prefix}:{name}" if direct else name, constraint)


def with_runtimes(requests: list[Request], keys: Collection[str]) -> list[Request]:
    """`requests`, plus the runtime a catalogue tool runs on (prettier: node)
    when neither the spec's `keys` nor the requests have it yet."""
    have = {tool_name(k) for k in keys} | {r.name for r in requests}
    out = list(requests)
    for req in requests:
        entry = catalog.get(req.key)
        if entry is not None and entry.runtime and entry.runtime not in have:
            out.append(Request(entry.runtime, None))
            have.add(entry.runtime)
    return out


def pin_for(version: str) -> str:
    """The constraint written when none was given: the resolved version's
    major.minor ("0.6" for 0.6.9), so `lock --update` takes patches only; the
    exact version when it is a pre-release or has no third component."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return version
    if parsed.is_prerelease or parsed.is_devrelease or len(parsed.release) < 3 or parsed.epoch:
        return version
    return f"{parsed.release[0]}.{parsed.release[1]}"


def _load(text: str, path: Path) -> TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise SpecError(f"{path}: invalid TOML: {exc}", hint="fix the syntax at that line and column") from None


def _tools(doc: TOMLDocument, path: Path, create: bool) -> Table | InlineTable | None:
    tools = doc.get("tools")
    if tools is None and create:
        doc.add("tools", tomlkit.table())
        tools = doc["tools"]
    if tools is not None and not isinstance(tools, Table | InlineTable):
        raise SpecError(f"{path}: tools: must be a table", hint="write it as [tools]")
    return tools


def tool_keys(text: str, path: Path) -> list[str]:
    """The [tools] keys, in the file's order."""
    tools = _tools(_load(text, path), path, create=False)
    return list(tools or {})


def find_key(keys: Collection[str], wanted: str) -> str | None:
    """The key for `wanted`: the key itself (`SOURCE:faketool`), or the tool's name."""
    if wanted in keys:
        return wanted
    return next((k for k in keys if tool_name(k) == wanted), None)


def set_tool(text: str, path: Path, key: str, constraint: str) -> str:
    """`text` with [tools] `key` at `constraint`: a new entry goes at the end of
    [tools] (created if missing); an existing one keeps its form and comment."""
    doc = _load(text, path)
    tools = _tools(doc, path, create=True)
    assert tools is not None  # create=True makes one
    existing = find_key(list(tools), key) or find_key(list(tools), tool_name(key))
    if existing is not None and existing != key and ":" in key and tool_name(existing) == tool_name(key):
        raise UsageError(
            f"{path.name} already has {tool_name(key)} as {existing!r}",
            hint=f"`devshell remove {existing}` first, or `devshell add {existing}@VERSION` to change its version",
        )
    if existing is None:
        tools[key] = constraint
    else:
        value = tools[existing]
        if isinstance(value, Table | InlineTable):
            value["version"] = constraint
        else:
            tools[existing] = constraint  # tomlkit keeps the entry's trailing comment
    return tomlkit.dumps(doc)


def remove_tools(text: str, path: Path, names: Collection[str]) -> str:
    """`text` without these tools (by key or by name); comments stay."""
    doc = _load(text, path)
    tools = _tools(doc, path, create=False)
    keys = list(tools or {})
    unknown = [n for n in names if find_key(keys, n) is None]
    if unknown or tools is None:
        raise UsageError(
            f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not in {path}",
            hint="tools in the spec: " + (", ".join(keys) or "none"),
        )
    for name in names:
        key = find_key(list(tools), name)
        if key is not None:
            del tools[key]
    return tomlkit.dumps(doc)


def set_shell_name(text: str, path: Path, name: str) -> str:
    """`text` with [shell] name = `name` (a [shell] table is added first if missing)."""
    doc = _load(text, path)
    shell = doc.get("shell")
    if isinstance(shell, Table | InlineTable):
        shell["name"] = name
        return tomlkit.dumps(doc)
    if shell is not None:
        raise SpecError(f"{path}: shell: must be a table", hint="write it as [shell]")
    table = tomlkit.table()
    table["name"] = name
    if all(isinstance(v, Table | AoT) for v in doc.values()):
        head = tomlkit.document()
        head.add("shell", table)
        return tomlkit.dumps(head) + "\n" + text  # tables only: [shell] can go first
    doc.add("shell", table)
    return tomlkit.dumps(doc)


def minimal(name: str) -> str:
    """The spec `devshell init` writes when no tool is named."""
    plats = ", ".join(f'"{p}"' for p in platforms.ALL)
    return (
        "# The development shell of this project: `devshell enter`, `devshell run CMD`.\n"
        "[shell]\n"
        f"name = {tomlkit.string(name).as_string()}\n"
        f"platforms = [{plats}]  # what devshell.lock covers\n"
        "\n"
        "[tools]\n"
        "# Add tools with `devshell add NAME[@VERSION]` (`devshell search TEXT` finds them),\n"
        "# or by hand:\n"
        '#   ruff = "0.6"          a catalogue name: the newest 0.6.x\n'
        + "".join(f"#   {ex}\n" for ex in _examples())
    )


def _examples() -> list[str]:
    """Each source's own line on how to name its packages directly."""
    return [ex for name in sources.direct_names() if (ex := sources.get(name).example)]


@dataclass(frozen=True)
class Plan:
    """An edit resolved but not written: the new spec text and its lock."""

    text: str
    lock: Lock
    changes: tuple[Change, ...]
    warnings: tuple[str, ...]
    spec: Spec  # `text` parsed


def plan(path: Path, text: str, previous: Lock | None, home: Home, pin: Collection[str] = ()) -> Plan:
    """Resolve `text` as the spec at `path`, touching no file.

    `pin` names keys written as "latest" because no constraint was given:
    they are rewritten to `pin_for` the version that resolved, and the spec
    resolved again (the lock's per-tool inputs cover the constraint)."""
    from devshell.sources.resolve import resolve

    spec = specfile.parse(text, path)
    lock, changes, warnings = resolve(spec, previous, home)
    if pin:
        for key in pin:
            locked = lock.tool(tool_name(key))
            assert locked is not None  # every tool of the spec is in its lock
            text = set_tool(text, path, key, pin_for(locked.upstream_version))
        spec = specfile.parse(text, path)
        lock, changes, warnings = resolve(spec, previous, home)
    return Plan(text, lock, tuple(changes), tuple(warnings), spec)


def write(root: Path, planned: Plan, old_text: str | None) -> None:
    """devshell.toml, then devshell.lock, each atomically and only if it
    changed (an untouched file keeps the hot path's record valid). If the lock
    cannot be written, the spec goes back to `old_text` (removed when None)."""
    spec_path, lock_path = root / specfile.SPEC_NAME, root / lockfile.LOCK_NAME
    lock_text = lockfile.dumps(planned.lock)
    try:
        old_lock: str | None = lock_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old_lock = None
    if planned.text != old_text:
        atomic.write_text(spec_path, planned.text)
    try:
        if lock_text != old_lock:
            atomic.write_text(lock_path, lock_text)
    except BaseException:
        if old_text is None:
            with contextlib.suppress(FileNotFoundError):
                spec_path.unlink()
        elif planned.text != old_text:
            atomic.write_text(spec_path, old_text)
        raise
    for change in planned.changes:
        say.note(f"{change.describe()}")
    for warning in planned.warnings:
        say.warn(f"{warning}")


@contextlib.contextmanager
def editing(root: Path, home: Home) -> Iterator[None]:
    """Hold the project's lock (the one `project.relock` takes), so two edits
    or an edit and a `lock` do not interleave their read and write."""
    from devshell import project

    with project.editing(root, home):
        yield
