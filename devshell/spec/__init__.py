"""devshell.toml → a typed `Spec`, with errors that name the key path.

Every error says which file, which key (`tools.node.version`), what was wrong
and what is accepted; unknown keys get a did-you-mean.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devshell import names, platforms, sources
from devshell.errors import SpecError
from devshell.shell import hosttools

__all__ = [
    "SPEC_NAME", "ShellSpec", "Spec", "ToolSpec", "find_root", "load", "parse", "require_root",
]

SPEC_NAME = "devshell.toml"
ISOLATIONS = ("pure", "inherit")

_TOP_KEYS = ("shell", "tools", "env", "scripts", "hooks", "sources")
_SHELL_KEYS = ("name", "isolation", "keep-env", "host-tools", "platforms", "glibc")
# The keys of a tool's table every source takes; each source adds its own.
_TOOL_KEYS = ("version", "source", "package", "bin", "env", "optional")
_HOOK_KEYS = ("on-enter",)
# The shape the first lock format hashed every tool entry in (`inputs`), kept
# so that no pin moves: a source's own part overwrites these defaults.
_INPUT_SHAPE: dict[str, Any] = {
    "url": None, "sha256": {}, "checksums": None, "os": {}, "arch": {}, "format": None, "strip": None,
}


@dataclass(frozen=True)
class ToolSpec:
    """One `[tools]` entry: what every source reads, and what its own source
    made of the rest of the table (`options`) and of `[sources.NAME]`
    (`settings`)."""

    name: str
    constraint: str
    source: str
    package: str | None = None  # the upstream's name for it (default: the catalogue's)
    bin: tuple[str, ...] | None = None
    env: tuple[tuple[str, str], ...] = ()
    options: Any = None  # the source's own, frozen (see Source.check)
    settings: Any = None  # the spec's [sources.<source>], as the source reads it
    glibc: tuple[int, int] | None = None  # the spec's own glibc floor (None: devshell.libc.FLOOR)
    optional: bool | tuple[str, ...] = False  # left out, with a warning, where unavailable (True: anywhere)

    def optional_on(self, platform: str) -> bool:
        return self.optional is True or (isinstance(self.optional, tuple) and platform in self.optional)

    def inputs(self) -> dict[str, Any]:
        """Everything resolution reads, as plain JSON-able data (for hashing)."""
        data: dict[str, Any] = {
            "constraint": self.constraint,
            "source": self.source,
            "package": self.package,
            **{k: (dict(v) if isinstance(v, dict) else v) for k, v in _INPUT_SHAPE.items()},
            "bin": list(self.bin) if self.bin is not None else None,
            "env": dict(self.env),
        }
        if self.glibc is not None:  # absent at the default floor: those locks' pins stay put
            data["glibc"] = f"{self.glibc[0]}.{self.glibc[1]}"
        data.update(sources.get(self.source).inputs(self))
        return data


@dataclass(frozen=True)
class ShellSpec:
    name: str
    isolation: str = "pure"
    keep_env: tuple[str, ...] = ()
    host_tools: tuple[str, ...] = ()
    platforms: tuple[str, ...] = platforms.ALL
    glibc: tuple[int, int] | None = None  # a raised floor (devshell.libc); None: the default


@dataclass(frozen=True)
class Spec:
    path: Path
    shell: ShellSpec
    tools: tuple[ToolSpec, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    scripts: tuple[tuple[str, str], ...] = ()
    hooks: tuple[tuple[str, str], ...] = field(default=())
    #: `[sources.NAME]` tables that say more than their source's defaults
    sources: tuple[tuple[str, Any], ...] = ()

    @property
    def root(self) -> Path:
        return self.path.parent

    def tool(self, name: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == name), None)

    def resolution_inputs(self) -> dict[str, Any]:
        """What `spec-hash` covers: the tools, the platforms and `[sources]`."""
        data: dict[str, Any] = {
            "platforms": list(self.shell.platforms),
            "tools": {t.name: t.inputs() for t in self.tools},
        }
        if self.sources:  # absent: the hash of specs without them stays put
            data["sources"] = {name: settings.inputs() for name, settings in self.sources}
        return data


def find_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` holding a devshell.toml."""
    here = start.absolute()
    for candidate in (here, *here.parents):
        if (candidate / SPEC_NAME).is_file():
            return candidate
    return None


def require_root(start: Path) -> Path:
    """`find_root`, or the error that says there is no project here."""
    root = find_root(start)
    if root is None:
        raise SpecError(
            f"no {SPEC_NAME} in {start} or any directory above it",
            hint="run `devshell init` to create one, or cd into a project",
        )
    return root


def load(path: Path) -> Spec:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            f"{path}: no such file", hint="run `devshell init` to create one"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot be read: {exc}") from None
    return parse(text, path)


def parse(text: str, path: Path) -> Spec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(
            f"{path}: invalid TOML: {exc}",
            hint="fix the syntax at that line and column",
        ) from None
    p = _Parser(path)
    p.check_keys(data, _TOP_KEYS, "")
    shell = p.shell(p.table(data, "shell"), default_name=path.parent.name)
    settings = p.source_settings(p.table(data, "sources"))
    tools = tuple(
        p.tool(name, value, settings, shell) for name, value in p.table(data, "tools").items()
    )
    env = p.env_table(p.table(data, "env"), "env")
    scripts = p.script_table(p.table(data, "scripts"))
    hooks_table = p.table(data, "hooks")
    p.check_keys(hooks_table, _HOOK_KEYS, "hooks")
    hooks = p.string_table(hooks_table, "hooks")
    return Spec(path, shell, tools, env, scripts, hooks, tuple(sorted(settings.items())))


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, what: str, hint: str | None = None) -> SpecError:
        return SpecError(f"{self.path}: {key}: {what}", hint=hint)

    def check_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if key in allowed:
                continue
            close = difflib.get_close_matches(key, allowed, n=1)
            keypath = f"{where}.{key}" if where else key
            hint = f"did you mean {close[0]!r}?" if close else None
            accepted = ", ".join(allowed)
            raise self.fail(keypath, f"unknown key (accepted: {accepted})", hint)

    def table(self, data: Mapping[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {_kind(value)}", f"write it as [{key}]")
        return value

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_kind(value)}")
        if "\0" in value:
            # A NUL would cut the value short on the hot path, and what follows
            # it could pose as another field of the activation record.
            raise self.fail(key, "holds a NUL character", "remove the \\u0000 from the value")
        return value

    def string_list(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings", 'e.g. ["a", "b"]')
        return tuple(self.string(v, key) for v in value)

    def bin_list(self, value: Any, key: str) -> tuple[str, ...]:
        """`bin`: paths inside the output ("bin/tool"), or "name=path"; the
        name becomes a link in the profile, the path is chmod-ed there."""
        entries = self.string_list(value, key)
        for entry in entries:
            name, sep, path = entry.partition("=")
            if not sep:
                name, path = entry.rsplit("/", 1)[-1], entry
            try:
                names.check_inner_path(path, "path")
                names.check_plain(name, "program name")
            except ValueError as exc:
                raise self.fail(key, f"{entry!r}: {exc}",
                                'e.g. bin = ["bin/tool"] or bin = ["tool=libexec/tool.sh"]') from None
        return entries

    def plain_list(self, value: Any, key: str, check: Any, what: str) -> tuple[str, ...]:
        """A list of names, each checked by `check` (a devshell.names function)."""
        items = self.string_list(value, key)
        for item in items:
            try:
                check(item, what)
            except ValueError as exc:
                raise self.fail(key, str(exc)) from None
        return items

    def env_table(self, table: Mapping[str, Any], where: str) -> tuple[tuple[str, str], ...]:
        """Variables: names every shell can hold (letters, digits, _)."""
        for name in table:
            if not (name[:1].isalpha() or name[:1] == "_") or not name.replace("_", "").isalnum() \
                    or not name.isascii():
                raise self.fail(f"{where}.{name}", "is not a variable name a shell can set",
                                "use letters, digits and _ (not starting with a digit), e.g. APP_ENV")
        return self.string_table(table, where)

    def string_table(self, table: Mapping[str, Any], where: str) -> tuple[tuple[str, str], ...]:
        return tuple((k, self.string(v, f"{where}.{k}")) for k, v in table.items())

    def script_table(self, table: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        """`[scripts]`: names `devshell run NAME` can take as one word."""
        for name in table:
            if not names.is_plain(name):
                raise self.fail(f"scripts.{name}", "is not a script name",
                                "use letters, digits, '.', '_', '+' and '-', e.g. test or lint-all")
        return self.string_table(table, "scripts")

    def shell(self, table: dict[str, Any], default_name: str) -> ShellSpec:
        self.check_keys(table, _SHELL_KEYS, "shell")
        name = self.string(table.get("name", default_name), "shell.name")
        if not name or any(not c.isprintable() for c in name):
            raise self.fail("shell.name", f"{name!r} is not a name to show in a prompt",
                            "use printable characters, e.g. name = \"webapp\"")
        isolation = self.string(table.get("isolation", "pure"), "shell.isolation")
        if isolation not in ISOLATIONS:
            raise self.fail(
                "shell.isolation", f"{isolation!r} is not an isolation mode",
                'use "pure" (only pinned tools) or "inherit" (host PATH kept)',
            )
        plats = self.string_list(table.get("platforms", list(platforms.ALL)), "shell.platforms")
        for plat in plats:
            if plat not in platforms.ALL:
                close = difflib.get_close_matches(plat, platforms.ALL, n=1)
                raise self.fail(
                    "shell.platforms", f"{plat!r} is not a platform (accepted: {', '.join(platforms.ALL)})",
                    f"did you mean {close[0]!r}?" if close else None,
                )
        if not plats:
            raise self.fail("shell.platforms", "must name at least one platform")
        glibc = None
        if "glibc" in table:
            from devshell import libc

            try:
                glibc = libc.parse(table["glibc"])
            except ValueError as exc:
                raise self.fail("shell.glibc", str(exc),
                                f'the oldest glibc the shell\'s Linux platforms must run on, from "{libc.shown(libc.LOWEST)}" '
                                f'up (default "{libc.shown(libc.FLOOR)}"), e.g. glibc = "2.31"') from None
            glibc = None if glibc == libc.FLOOR else glibc
        return ShellSpec(
            name=name,
            isolation=isolation,
            keep_env=self.plain_list(table.get("keep-env", []), "shell.keep-env",
                                     names.check_variable, "variable"),
            host_tools=self.plain_list(table.get("host-tools", []), "shell.host-tools",
                                       hosttools.check, "program"),
            platforms=tuple(sorted(set(plats), key=platforms.ALL.index)),
            glibc=glibc,
        )

    def source_settings(self, table: dict[str, Any]) -> dict[str, Any]:
        """`[sources.NAME]` tables, each read by its source; kept only when
        they say more than that source's defaults."""
        if not all(sources.known(name) for name in table):
            self.check_keys(table, tuple(sources.names()), "sources")
        out: dict[str, Any] = {}
        for name in table:
            source = sources.get(name)
            sub = self.table(table, name)
            self.strings_only(sub, f"sources.{name}")
            try:
                settings = source.settings(sub)
            except sources.BadOption as exc:
                raise self.fail(f"sources.{name}.{exc.key}", exc.what, exc.hint) from None
            if settings != source.settings({}):
                out[name] = settings
        return out

    def optional(self, value: Any, key: str) -> bool | tuple[str, ...]:
        """`optional = true` (wherever the tool is unavailable) or a list of platforms."""
        if isinstance(value, bool):
            return value
        plats = self.string_list(value, key)
        for plat in plats:
            if plat not in platforms.ALL:
                raise self.fail(key, f"{plat!r} is not a platform (accepted: {', '.join(platforms.ALL)})",
                                'optional = true, or the platforms it may be missing on: optional = ["aarch64-linux"]')
        return tuple(plats)

    def unknown_key(self, k: str, key: str, src: sources.Source) -> None:
        """A key the tool's source does not read: another source's, or a typo."""
        owner = sources.owner_of_key(k)
        if owner is not None:
            raise self.fail(f"{key}.{k}", f"only {owner} tools take {k!r}",
                            f"the {src.name} source gets artifacts and hashes from its upstream")
        self.check_keys({k: None}, _TOOL_KEYS + tuple(src.keys), key)

    def strings_only(self, value: Any, key: str) -> None:
        """No NUL anywhere in a table a source reads (see `string`)."""
        if isinstance(value, str):
            self.string(value, key)
        elif isinstance(value, dict):
            for k, v in value.items():
                self.strings_only(v, f"{key}.{k}")
        elif isinstance(value, list):
            for v in value:
                self.strings_only(v, key)

    def tool(self, key_name: str, value: Any, settings: Mapping[str, Any], shell: ShellSpec) -> ToolSpec:
        from devshell import catalog

        key = f"tools.{key_name}"
        if isinstance(value, str):
            value = {"version": value}
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a version string or a table, not {_kind(value)}",
                            'e.g. ruff = "0.6" or ruff = { version = "0.6" }')
        # Only the sources this entry needs are imported: parsing a spec stays cheap.
        extra = [k for k in value if k not in _TOOL_KEYS]
        name, source, package = key_name, value.get("source"), value.get("package")
        prefix, colon, rest = key_name.partition(":")
        if colon and sources.known(prefix) and sources.get(prefix).direct:
            name, source, package = rest.rsplit("/", 1)[-1], prefix, rest
        if not names.is_plain(name):
            # The name becomes a store path, a lock-file name and a shell word.
            raise self.fail(
                key, f"{name!r} is not a tool name",
                'use letters, digits, ".", "_", "+" and "-" (or '
                + ", ".join(f'"{d}:NAME"' for d in sources.direct_names()) + ")",
            )
        if "version" not in value:
            raise self.fail(key, "has no version", 'add version = "…" (exact, a prefix like "20", a specifier, or "latest")')
        constraint = self.string(value["version"], f"{key}.version")
        if source is None and extra:  # a key that only one source reads says which
            source = next((n for n in sources.each_name() if any(k in value for k in sources.get(n).claims)), None)
        if source is None:
            entry = catalog.get(name)
            if entry is None:
                close = catalog.suggest(name)
                raise self.fail(
                    key, f"{name!r} is not in the catalogue and names no source",
                    (f"did you mean {close[0]!r}? " if close else "")
                    + "or name it directly: " + " / ".join(f'"{d}:{name}"' for d in sources.direct_names()),
                )
            source = entry.source
        source = self.string(source, f"{key}.source")
        if not sources.known(source):
            raise self.fail(f"{key}.source", f"unknown source {source!r} (accepted: {', '.join(sources.names())})")
        src = sources.get(source)
        if package is not None:
            package = self.string(package, f"{key}.package")
            if not package or package.startswith("/") or any(
                part in ("", ".", "..") for part in package.split("/")
            ) or any(c.isspace() or not c.isprintable() for c in package):
                raise self.fail(f"{key}.package", f"{package!r} is not a package name")
        for k in extra:
            if k not in src.keys:
                self.unknown_key(k, key, src)
        self.strings_only({k: value[k] for k in src.keys if k in value}, key)
        tool = ToolSpec(
            name=name,
            constraint=constraint,
            source=source,
            package=package,
            bin=self.bin_list(value["bin"], f"{key}.bin") if "bin" in value else None,
            env=self.env_table(self.table(value, "env"), f"{key}.env"),
            settings=settings[source] if source in settings else src.settings({}),
            glibc=shell.glibc,
            optional=self.optional(value.get("optional", False), f"{key}.optional"),
        )
        try:
            src.check_version(constraint)
            return src.check(tool, value)
        except sources.BadOption as exc:
            raise self.fail(f"{key}.{exc.key}" if exc.key else key, exc.what, exc.hint) from None


def _kind(value: Any) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "a boolean",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
