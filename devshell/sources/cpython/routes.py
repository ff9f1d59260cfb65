"""What every route of the cpython source answers with (the shared
devshell.sources.routes.choice), and the interpreter's layout in an output
(its programs, its environment), the same for all routes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from devshell.sources.routes import choice
from devshell.sources.routes.choice import Entries, Unreachable, version_key
from devshell.spec import ToolSpec

__all__ = ["Entries", "Route", "Unreachable", "layout", "plain_version", "version_key"]


@dataclass
class Route(choice.Route):
    """A route of the cpython source (devshell.sources.routes.choice.Route)."""

    nothing: str = "no CPython"  # what it has when it lists nothing


def plain_version(text: str) -> bool:
    """`3.13.1`, `3.14.0rc1`: a CPython version, never a build's other name parts."""
    return re.fullmatch(r"3\.\d+\.\d+(?:(?:a|b|rc)\d+)?", text) is not None


def layout(tool: ToolSpec, prefix: str, version: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(bin, env) of an interpreter installed at `prefix` of its output ("" for
    python-build-standalone's, "usr" for Debian's), from the catalogue's python
    entry ({python}, {x} and {version} filled), the tool's own bin and env
    over it."""
    from devshell.sources.cpython.vendor import vendor

    x = ".".join(version.split(".")[:2])
    program = "/".join(filter(None, (prefix, "bin", f"python{x}")))

    def fill(text: str) -> str:
        return text.replace("{python}", program).replace("{x}", x).replace("{version}", version)

    entry = vendor()
    bins = tool.bin if tool.bin is not None else tuple(fill(b) for b in entry.bin)
    env = {k: fill(v) for k, v in entry.env} | dict(tool.env)
    return bins, tuple(sorted(env.items()))
