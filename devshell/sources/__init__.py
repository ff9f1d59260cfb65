"""Sources: one module per kind of upstream, behind one small Protocol.

Adding a source is adding a module and one line in `REGISTRY`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from devshell.home import Home
    from devshell.lock import LockedTool
    from devshell.spec import ToolSpec

__all__ = ["REGISTRY", "Source", "get"]


class Source(Protocol):
    def versions(self, tool: ToolSpec) -> list[str]:
        """Every version the upstream offers for this tool, in any order."""

    def resolve(self, tool: ToolSpec, platforms: tuple[str, ...], home: Home) -> LockedTool:
        """Pick one version and pin it, with an artifact per platform."""


# source name → (module, class); modules are imported only when used.
REGISTRY = {
    "url": ("devshell.sources.url", "UrlSource"),
    "pypi": ("devshell.sources.pypi", "PypiSource"),
    "npm": ("devshell.sources.npm", "NpmSource"),
    "deb": ("devshell.sources.deb", "DebSource"),
}


def get(name: str) -> Source:
    import importlib

    module, cls = REGISTRY[name]
    source: Source = getattr(importlib.import_module(module), cls)()
    return source
