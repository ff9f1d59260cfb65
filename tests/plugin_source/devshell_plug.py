"""A third-party source, as a package outside devshell would write one: tools
listed in a JSON index (`{"versions": {"1.2": {"file": …, "sha256": …}}}`),
their archives under a base URL the spec's `[sources.plug] base` names, and
lock URLs `plug:<file>` that name no host.

Installed for the tests by putting this folder on PYTHONPATH: the dist-info
beside it declares the entry point `devshell.sources: plug`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from devshell import integrity
from devshell.context import Context
from devshell.errors import FetchError
from devshell.lock import LockedTool, tool_inputs_hash
from devshell.net import cache
from devshell.sources import BadOption, SourceBase
from devshell.sources.common import artifact, pick_version
from devshell.sources.locate import Upstreams
from devshell.spec import ToolSpec


@dataclass(frozen=True)
class PlugSettings:
    base: str | None = None

    def inputs(self) -> dict[str, Any]:
        return {"base": self.base}


class PlugSource(SourceBase):
    name = "plug"
    direct = True
    keys = ("index",)
    schemes = ("plug",)
    example = '"plug:NAME" = "1.2"   a tool from a plug index'

    def check(self, tool: ToolSpec, table: Mapping[str, Any]) -> ToolSpec:
        index = table.get("index")
        if not isinstance(index, str) or not index.startswith(("http://", "https://")):
            raise BadOption("index", "must be the http(s) URL of the tool's index")
        return replace(tool, options=index)

    def settings(self, table: Mapping[str, Any]) -> PlugSettings:
        base = table.get("base")
        if base is not None and not isinstance(base, str):
            raise BadOption("base", "must be a URL")
        return PlugSettings(base)

    def inputs(self, tool: ToolSpec) -> dict[str, Any]:
        return {"index": tool.options}

    def locate(self, rest: str, upstreams: Upstreams, scheme: str = "plug") -> str:
        settings = upstreams.settings.get("plug")
        if not isinstance(settings, PlugSettings) or settings.base is None:
            raise FetchError("[sources.plug] base is not set")
        base = settings.base
        return upstreams.base("plug", lambda: base) + rest

    def _index(self, tool: ToolSpec, ctx: Context) -> dict[str, Any]:
        url = str(tool.options)
        doc = ctx.memo(("plug-index", url), lambda: cache.get(url, home=ctx.home))
        listed: dict[str, Any] = json.loads(doc.body)["versions"]
        return listed

    def versions(self, tool: ToolSpec, ctx: Context) -> list[str]:
        return list(self._index(tool, ctx))

    def resolve(self, tool: ToolSpec, platforms: tuple[str, ...], ctx: Context) -> LockedTool:
        listed = self._index(tool, ctx)
        version = pick_version(tool, listed, where=f"the plug index {tool.options}")
        entry = listed[version]
        made = artifact(
            tool.name, version, url=f"plug:{entry['file']}",
            integrity=integrity.from_hex("sha256", entry["sha256"]), size=None,
            format="tar.gz", strip="auto", bin=(f"bin/{tool.name}",), env=tool.env,
        )
        return LockedTool(
            name=tool.name, constraint=tool.constraint, source="plug", version=version,
            inputs=tool_inputs_hash(tool.inputs()), platforms=tuple((p, made) for p in platforms),
            package=tool.package,
        )
