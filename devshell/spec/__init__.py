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

from devshell import names, platforms
from devshell.errors import SpecError
from devshell.versions import parse_constraint

__all__ = [
    "SPEC_NAME", "DebSources", "ShellSpec", "Spec", "ToolSpec", "find_root", "load", "parse", "require_root",
]

SPEC_NAME = "devshell.toml"
ISOLATIONS = ("pure", "inherit")
SOURCES = ("url", "pypi", "npm", "deb")
_DIRECT = ("pypi", "npm", "deb")  # "pypi:NAME" keys name an upstream package
FORMATS = ("tar.gz", "tgz", "tar.xz", "tar.bz2", "tar.zst", "zip", "binary")

_TOP_KEYS = ("shell", "tools", "env", "scripts", "hooks", "sources")
_DEB_KEYS = ("suite", "components", "archive")
_SHELL_KEYS = ("name", "isolation", "keep-env", "host-tools", "platforms")
_TOOL_KEYS = (
    "version", "source", "package", "url", "sha256", "checksums", "os", "arch",
    "bin", "format", "strip", "env",
)
_URL_ONLY = ("url", "sha256", "checksums", "os", "arch", "format", "strip")
_HOOK_KEYS = ("on-enter",)


@dataclass(frozen=True)
class DebSources:
    """`[sources.deb]`: which Debian suite and components the deb source reads.
    None for suite: the host's Debian release, else "stable"; None for archive:
    devshell's config or the machine's apt sources."""

    suite: str | None = None
    components: tuple[str, ...] = ("main",)
    archive: str | None = None

    def inputs(self) -> dict[str, Any]:
        return {"suite": self.suite, "components": list(self.components), "archive": self.archive}


@dataclass(frozen=True)
class ToolSpec:
    """One `[tools]` entry. Fields beyond name/constraint/source belong to the
    source that reads them (today: `url`)."""

    name: str
    constraint: str
    source: str
    package: str | None = None  # pypi/npm: the upstream's name (default: the catalogue's)
    url: str | None = None
    sha256: tuple[tuple[str, str], ...] = ()
    checksums: str | None = None
    os_names: tuple[tuple[str, str], ...] = ()
    arch_names: tuple[tuple[str, str], ...] = ()
    bin: tuple[str, ...] | None = None
    format: str | None = None
    strip: int | None = None
    env: tuple[tuple[str, str], ...] = ()
    deb: DebSources | None = None  # deb tools: the spec's [sources.deb]

    def inputs(self) -> dict[str, Any]:
        """Everything resolution reads, as plain JSON-able data (for hashing)."""
        data: dict[str, Any] = {
            "constraint": self.constraint,
            "source": self.source,
            "package": self.package,
            "url": self.url,
            "sha256": dict(self.sha256),
            "checksums": self.checksums,
            "os": dict(self.os_names),
            "arch": dict(self.arch_names),
            "bin": list(self.bin) if self.bin is not None else None,
            "format": self.format,
            "strip": self.strip,
            "env": dict(self.env),
        }
        if self.deb is not None:  # a suite change re-resolves the deb tools
            data["deb"] = self.deb.inputs()
        return data


@dataclass(frozen=True)
class ShellSpec:
    name: str
    isolation: str = "pure"
    keep_env: tuple[str, ...] = ()
    host_tools: tuple[str, ...] = ()
    platforms: tuple[str, ...] = platforms.ALL


@dataclass(frozen=True)
class Spec:
    path: Path
    shell: ShellSpec
    tools: tuple[ToolSpec, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    scripts: tuple[tuple[str, str], ...] = ()
    hooks: tuple[tuple[str, str], ...] = field(default=())
    deb: DebSources = field(default_factory=DebSources)

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
        if self.deb != DebSources():  # absent: the hash of specs without it stays put
            data["sources"] = {"deb": self.deb.inputs()}
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
    deb = p.deb_sources(p.table(data, "sources"))
    tools = tuple(
        p.tool(name, value, deb) for name, value in p.table(data, "tools").items()
    )
    env = p.env_table(p.table(data, "env"), "env")
    scripts = p.script_table(p.table(data, "scripts"))
    hooks_table = p.table(data, "hooks")
    p.check_keys(hooks_table, _HOOK_KEYS, "hooks")
    hooks = p.string_table(hooks_table, "hooks")
    return Spec(path, shell, tools, env, scripts, hooks, deb)


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
        return ShellSpec(
            name=name,
            isolation=isolation,
            keep_env=self.plain_list(table.get("keep-env", []), "shell.keep-env",
                                     names.check_variable, "variable"),
            host_tools=self.plain_list(table.get("host-tools", []), "shell.host-tools",
                                       names.check_plain, "program"),
            platforms=tuple(sorted(set(plats), key=platforms.ALL.index)),
        )

    def deb_sources(self, sources: dict[str, Any]) -> DebSources:
        self.check_keys(sources, ("deb",), "sources")
        table = self.table(sources, "deb") if "deb" in sources else {}
        self.check_keys(table, _DEB_KEYS, "sources.deb")
        suite = self.string(table["suite"], "sources.deb.suite") if "suite" in table else None
        components = self.string_list(table.get("components", ["main"]), "sources.deb.components")
        if not components:
            raise self.fail("sources.deb.components", "must name at least one component", 'e.g. ["main"]')
        archive = self.string(table["archive"], "sources.deb.archive") if "archive" in table else None
        if archive is not None and not archive.startswith(("http://", "https://")):
            raise self.fail("sources.deb.archive", f"{archive!r} is not an http(s) URL",
                            "the archive's base URL, the directory that holds dists/ and pool/")
        return DebSources(suite, components, archive.rstrip("/") + "/" if archive else None)

    def tool(self, key_name: str, value: Any, deb: DebSources | None = None) -> ToolSpec:
        from devshell import catalog

        key = f"tools.{key_name}"
        if isinstance(value, str):
            value = {"version": value}
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a version string or a table, not {_kind(value)}",
                            'e.g. ruff = "0.6" or jq = { version = "1.7.1", url = "…" }')
        self.check_keys(value, _TOOL_KEYS, key)
        name, source, package = key_name, value.get("source"), value.get("package")
        prefix, colon, rest = key_name.partition(":")
        if colon and prefix in _DIRECT:
            name, source, package = rest.rsplit("/", 1)[-1], prefix, rest
        if not names.is_plain(name):
            # The name becomes a store path, a lock-file name and a shell word.
            raise self.fail(
                key, f"{name!r} is not a tool name",
                'use letters, digits, ".", "_", "+" and "-" (or "pypi:NAME", "npm:NAME", "deb:NAME")',
            )
        if "version" not in value:
            raise self.fail(key, "has no version", 'add version = "…" (exact, a prefix like "20", a specifier, or "latest")')
        constraint = self.string(value["version"], f"{key}.version")
        try:
            kind = _deb_version(constraint) if source == "deb" else parse_constraint(constraint).kind
        except ValueError as exc:
            raise self.fail(
                f"{key}.version", str(exc),
                'accepted: a Debian version "1.6-2.1" (or its upstream part "1.6"), or "latest"'
                if source == "deb" else
                'accepted: an exact version "1.2.3", a prefix "20", a specifier ">=1.22,<1.24", '
                'an npm range "^1.2", or "latest"',
            ) from None
        if source is None:
            source = "url" if "url" in value else None
        if source is None:
            entry = catalog.get(name)
            if entry is None:
                close = catalog.suggest(name)
                raise self.fail(
                    key, f"{name!r} is not in the catalogue and names no source",
                    (f"did you mean {close[0]!r}? " if close else "")
                    + f'or name it directly: "pypi:{name}" / "npm:{name}" / "deb:{name}", or give it a url',
                )
            source = entry.source
        source = self.string(source, f"{key}.source")
        if source not in SOURCES:
            raise self.fail(f"{key}.source", f"unknown source {source!r} (accepted: {', '.join(SOURCES)})")
        if kind == "tag" and source != "npm":
            raise self.fail(f"{key}.version", f"{constraint!r} is not a version",
                            "tags like this exist only on npm; write a version, a prefix or a range")
        if package is not None:
            package = self.string(package, f"{key}.package")
            if not package or package.startswith("/") or any(
                part in ("", ".", "..") for part in package.split("/")
            ) or any(c.isspace() or not c.isprintable() for c in package):
                raise self.fail(f"{key}.package", f"{package!r} is not a package name")
        fmt = value.get("format")
        if fmt is not None and self.string(fmt, f"{key}.format") not in FORMATS:
            raise self.fail(f"{key}.format", f"unknown format {fmt!r} (accepted: {', '.join(FORMATS)})")
        strip = value.get("strip")
        if strip is not None and (not isinstance(strip, int) or isinstance(strip, bool) or strip < 0):
            raise self.fail(f"{key}.strip", "must be a whole number of leading directories to drop, e.g. 1")
        tool = ToolSpec(
            name=name,
            constraint=constraint,
            source=source,
            package=package,
            url=self.string(value["url"], f"{key}.url") if "url" in value else None,
            sha256=self.string_table(self.table(value, "sha256"), f"{key}.sha256"),
            checksums=self.string(value["checksums"], f"{key}.checksums") if "checksums" in value else None,
            os_names=self.string_table(self.table(value, "os"), f"{key}.os"),
            arch_names=self.string_table(self.table(value, "arch"), f"{key}.arch"),
            bin=self.bin_list(value["bin"], f"{key}.bin") if "bin" in value else None,
            format=fmt,
            strip=strip,
            env=self.env_table(self.table(value, "env"), f"{key}.env"),
            deb=(deb or DebSources()) if source == "deb" else None,
        )
        if source == "url" and (tool.url is not None or catalog.get(name) is None):
            self.check_url_tool(tool, key)
        elif source != "url":
            extra = [k for k in _URL_ONLY if k in value]
            if extra:
                raise self.fail(f"{key}.{extra[0]}", f"only url tools take {extra[0]!r}",
                                f"the {source} source gets artifacts and hashes from its upstream")
        return tool

    def check_url_tool(self, tool: ToolSpec, key: str) -> None:
        if tool.url is None:
            raise self.fail(key, "a url tool needs url = \"https://…\" with {version}, {os}, {arch} or {platform}")
        for plat, digest in tool.sha256:
            if plat not in platforms.ALL:
                raise self.fail(f"{key}.sha256.{plat}", f"{plat!r} is not a platform (accepted: {', '.join(platforms.ALL)})")
            if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
                raise self.fail(f"{key}.sha256.{plat}", "must be 64 hex digits (the output of sha256sum)")
        if not tool.sha256 and tool.checksums is None:
            raise self.fail(
                key, "has no way to verify its download",
                'add sha256 = { "x86_64-linux" = "<sha256sum of the file>" } or checksums = "https://…/SHA256SUMS"',
            )
        if parse_constraint(tool.constraint).kind != "version":
            raise self.fail(
                f"{key}.version", f"{tool.constraint!r}: a url tool needs one exact version",
                "the url source cannot list versions; write the version you want, e.g. \"1.2.3\"",
            )


def _deb_version(text: str) -> str:
    """"latest" or a Debian version ([epoch:]upstream[-revision]): dpkg's
    syntax, not PEP 440; ValueError otherwise."""
    if text.strip() == "latest":
        return "latest"
    from debian.debian_support import Version

    try:
        Version(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a Debian version (e.g. \"1.6-2.1\", \"1:2.39.2-1\")") from None
    return "version"


def _kind(value: Any) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "a boolean",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
