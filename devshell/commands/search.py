"""`devshell search TEXT`: what the catalogue has, then what the upstreams
know of a package named TEXT (its newest version devshell can use)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from devshell.config import Upstream

__all__ = ["register", "run"]

# Only something that could be a package name is sent to an upstream.
_PACKAGE_NAME = re.compile(r"^@?[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9._-]+)?$")


def register(sub: Any) -> None:
    p = sub.add_parser("search", help="find tools in the catalogue and on the upstreams")
    p.add_argument("text", metavar="TEXT")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from devshell import catalog, config
    from devshell.spec import find_root

    text: str = args.text
    out = sys.stdout
    found = catalog.search(text)
    out.write("catalogue:\n")
    if not found:
        out.write(f"  nothing matches {text!r}\n")
    width = max((len(e.name) for e in found), default=0)
    for entry in found:
        out.write(f"  {entry.name:<{width}}  {entry.source:<4}  {entry.description}\n")
    if not _PACKAGE_NAME.match(text):
        out.write(f"upstreams: not asked ({text!r} is not a package name)\n")
        return 0
    _upstream(out, "pypi", "Python package index", config.pypi_index, text)
    _upstream(out, "npm", "npm registry", lambda: config.npm_registry(find_root(Path.cwd())), text)
    return 0


def _upstream(out: TextIO, source: str, title: str, where: Callable[[], Upstream], text: str) -> None:
    """One upstream's answer; any failure is one line, not an error."""
    from devshell import context, sources
    from devshell.config import redacted
    from devshell.errors import DevshellError
    from devshell.home import home
    from devshell.spec import ToolSpec, find_root
    from devshell.versions import choose, parse_constraint

    try:
        upstream = where()
    except DevshellError as exc:
        out.write(f"{title}: not asked: {exc.message}\n")
        return
    out.write(f"{title} ({redacted(upstream.url)}):\n")
    tool = ToolSpec(name=text.rsplit("/", 1)[-1], constraint="latest", source=source, package=text)
    try:
        ctx = context.for_spec(None, home(), find_root(Path.cwd()))  # its .npmrc counts
        listed = sources.get(source).versions(tool, ctx)
    except DevshellError as exc:
        # Sources word errors for a spec ("tools.NAME: …"); here there is none.
        out.write(f"  {exc.message.splitlines()[0].removeprefix(f'tools.{tool.name}: ')}\n")
        return
    newest = choose(parse_constraint("latest"), listed)
    if newest is None:
        usable = "binary wheels" if source == "pypi" else "versions"
        out.write(f"  {text}: no {usable} devshell can use\n")
        return
    out.write(f"  {text} {newest}  (`devshell add {source}:{text}@{newest}`)\n")

