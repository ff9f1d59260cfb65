"""`devshell versions TOOL`: every version the upstreams offer for a tool,
newest last, as `mise ls-remote` lists them.

TOOL is a catalogue name or a package named directly (`pypi:NAME`,
`npm:NAME`, `deb:NAME`). Inside a project a tool of the spec is asked about
as the spec writes it (its package, its suite), and any other with the
project's `[sources]` and `.npmrc`; outside one, with this machine's
upstreams alone. Nothing is written.

The listing helpers here serve `devshell outdated` too: the order of a list
(PEP 440's, or dpkg's for Debian versions), what a constraint admits in it,
and what a source cannot list (a url tool with no version index).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devshell import say

if TYPE_CHECKING:
    from devshell.context import Context
    from devshell.spec import ToolSpec

__all__ = ["Listing", "listing", "newest", "ordered", "register", "run", "target", "wanted"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "versions", help="list the versions the upstreams offer for a tool",
        description="List every version the upstream offers for TOOL, newest last. TOOL is a "
        "catalogue name (ruff, node) or a package named directly: pypi:NAME, npm:NAME, deb:NAME.",
    )
    p.add_argument("tool", metavar="TOOL")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: {tool, source, package, versions} (versions oldest first)")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Listing:
    """What an upstream lists for a tool: its versions, oldest first, and
    `unlisted`, why it lists none (the source cannot list versions)."""

    versions: tuple[str, ...]
    unlisted: str | None = None
    #: the upstream names one release only (its newest), not all of them
    newest_only: bool = False
    #: for such an upstream, the release it names for the tool's constraint
    #: (Kubernetes names each minor's newest too), when it names one
    admitted: str | None = None


def run(args: argparse.Namespace) -> int:
    from devshell.errors import DevshellError

    tool, ctx = target(args.tool, Path.cwd())
    found = listing(tool, ctx)
    if found.unlisted is not None:
        raise DevshellError(f"{tool.name}: {found.unlisted}",
                            hint="write the exact version you want in devshell.toml")
    package = tool.package or tool.name
    if args.format == "json":
        doc = {"tool": tool.name, "source": tool.source, "package": package,
               "versions": list(found.versions), "newest-only": found.newest_only}
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return 0
    if not found.versions:
        say.note(f"{package} ({tool.source}) lists no versions devshell can use")
    if found.newest_only:
        say.note(f"{tool.name}'s vendor names only its newest release")
    sys.stdout.writelines(f"{v}\n" for v in found.versions)
    return 0


def target(text: str, cwd: Path) -> tuple[ToolSpec, Context]:
    """The tool `text` names, as the project here (if any) would have it, and
    the context to ask its upstream with."""
    from devshell import context
    from devshell.errors import UsageError
    from devshell.home import home
    from devshell.spec import SPEC_NAME, find_root, load, parse
    from devshell.spec import edit as specedit

    root = find_root(cwd)
    spec = load(root / SPEC_NAME) if root is not None else None
    if spec is not None:  # the spec's own tools first: they need not be in the catalogue
        own = spec.tool(specedit.tool_name(text))
        if own is not None and _is(own, text):
            return own, context.for_spec(spec, home())
    request = specedit.parse_request(text)
    if request.constraint is not None:
        raise UsageError(f"{text!r}: `versions` takes a tool, not a version",
                         hint=f"devshell versions {request.key}")
    path = spec.path if spec is not None else cwd / SPEC_NAME
    base = spec.path.read_text(encoding="utf-8") if spec is not None else ""
    if base:  # the project's [shell] and [sources], none of its tools
        base = specedit.remove_tools(base, path, specedit.tool_keys(base, path))
    alone = parse(specedit.set_tool(base, path, request.key, "latest"), path)
    tool = alone.tool(request.name)
    assert tool is not None  # set_tool just wrote it
    return tool, context.for_spec(alone if spec is not None else None, home())


def _is(tool: ToolSpec, key: str) -> bool:
    """Whether the spec's `tool` is the one [tools] key `key` names."""
    prefix, colon, rest = key.partition(":")
    if not colon:
        return tool.name == key
    return tool.source == prefix and (tool.package or tool.name) == rest


def listing(tool: ToolSpec, ctx: Context) -> Listing:
    """Every version the tool's upstream offers, oldest first."""
    from devshell import sources

    if tool.source == "url":  # its versions() answers the constraint back: see _url_listing
        return _url_listing(tool, ctx)
    return Listing(tuple(ordered(sources.get(tool.source).versions(tool, ctx))))


def _url_listing(tool: ToolSpec, ctx: Context) -> Listing:
    """A url tool lists versions only through its vendor's index (the
    catalogue's terraform, kubectl, helm); a URL template alone lists none."""
    from devshell import catalog
    from devshell.sources import url, vendor_index

    entry = catalog.get(tool.name) if url.options(tool).url is None else None
    if entry is None or entry.index is None or entry.index_kind is None:
        return Listing((), unlisted="the url source cannot list versions (no version index)")
    listed = vendor_index.KINDS[entry.index_kind]
    if listed is None:  # the index names the newest release alone (and perhaps each minor's)
        from devshell.errors import SpecError

        newest_one = vendor_index.pin(replace(tool, constraint="latest"), entry.index_kind, entry.index, ctx)
        try:
            admitted: str | None = vendor_index.pin(tool, entry.index_kind, entry.index, ctx)
        except SpecError:  # a constraint the vendor's index cannot answer
            admitted = None
        return Listing((newest_one,), newest_only=True, admitted=admitted)
    from devshell.config import rewrite
    from devshell.net import http

    where = rewrite(entry.index)
    return Listing(tuple(ordered(listed(http.get_text(where), where))))


def _is_pep440(versions: Iterable[str]) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        for v in versions:
            Version(v)
    except InvalidVersion:
        return False
    return True


def ordered(versions: Iterable[str]) -> list[str]:
    """`versions` without repeats, oldest first: by PEP 440 when every one is
    a PEP 440 version, else by dpkg's order (Debian's versions)."""
    unique = sorted(set(versions))
    if _is_pep440(unique):
        from packaging.version import Version

        return sorted(unique, key=Version)
    from debian.debian_support import Version as DebianVersion

    try:
        return sorted(unique, key=DebianVersion)
    except ValueError:
        return unique  # neither: the upstream's own spelling, in text order


def newest(versions: list[str]) -> str | None:
    """The newest of `versions` (oldest first) that is not a pre-release,
    else the newest of all."""
    from devshell.versions import choose, parse_constraint

    if versions and _is_pep440(versions):
        return choose(parse_constraint("latest"), versions)
    return versions[-1] if versions else None


def wanted(constraint: str, versions: list[str]) -> str | None:
    """The newest of `versions` (oldest first) that `constraint` admits: by
    devshell.versions for PEP 440 versions; for Debian's, "latest", an exact
    version, or an upstream part ("1.6" → the newest 1.6-x), as the deb
    source reads them. None when none is admitted, or for a tag (npm's
    `next`: the registry's word, not a version)."""
    from devshell.versions import choose, parse_constraint

    if _is_pep440(versions):
        try:
            return choose(parse_constraint(constraint), versions)
        except ValueError:
            return None
    if constraint == "latest":
        return newest(versions)
    if constraint in versions:
        return constraint
    from debian.debian_support import Version as DebianVersion

    for v in reversed(versions):
        upstream = DebianVersion(v).upstream_version or ""
        if upstream == constraint or (upstream.startswith(constraint) and upstream[len(constraint)] in ".+~-"):
            return v
    return None
