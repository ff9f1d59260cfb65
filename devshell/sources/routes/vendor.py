"""What the vendor routes share: their URLs, rewritten through `[mirrors]`
to read, and recorded under the route's own scheme to lock; their listings,
read once per run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devshell import platforms
from devshell.catalog import RouteEntry
from devshell.errors import FetchError
from devshell.sources.routes.choice import Unreachable

if TYPE_CHECKING:
    from devshell.context import Context

__all__ = ["file_url", "lock_url", "read"]


def read(ctx: Context, url: str, what: str) -> str:
    """The document at vendor URL `url` (through [mirrors]); Unreachable when
    it cannot be fetched, so the route is skipped with a note."""
    from devshell.config import rewrite
    from devshell.net import http

    where = rewrite(url)
    try:
        return ctx.memo(("vendor-document", where), lambda: http.get_text(where))
    except FetchError as exc:
        raise Unreachable(f"its {what} cannot be read: {exc.message}") from None


def file_url(route: RouteEntry, plat: str, version: str) -> str:
    """The vendor's URL of the file for `plat` at `version` (the catalogue's template)."""
    return platforms.fill(route.package, plat, dict(route.os_names), dict(route.arch_names), version=version)


def lock_url(route: RouteEntry, scheme: str, url: str) -> str:
    """`<scheme>:<path under the route's base>`: the vendor, named without a host."""
    base = route.base or ""
    assert base and url.startswith(base), "the catalogue's files sit under its base"
    return f"{scheme}:{url[len(base):]}"
