"""What the vendor routes share: their URLs, rewritten through `[mirrors]`
to read, and recorded under the route's own scheme to lock; their listings,
read once per run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from devshell import platforms
from devshell.catalog import RouteEntry
from devshell.errors import FetchError
from devshell.sources.routes.choice import Unreachable

if TYPE_CHECKING:
    from devshell.context import Context

__all__ = ["file_url", "lock_url", "read", "releases"]


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


def releases(text: str, url: str, prefix: str, what: str) -> Iterator[tuple[str, list[object], FetchError]]:
    """A vendor's JSON list of releases, `[{version: "<prefix>…", files: […]}]`
    (Node's index.json, Go's listing), strictly: (version without `prefix`,
    its files, the error to raise about it) per release. `what` says which
    document it must be, for the hint."""
    def bad(problem: str) -> FetchError:
        return FetchError(f"{url}: {problem}", hint=f"check [mirrors] in devshell's config; {what}")

    try:
        doc = json.loads(text)
    except ValueError:
        raise bad("is not JSON") from None
    if not isinstance(doc, list):
        raise bad("is not a list of releases")
    for i, release in enumerate(doc):
        version = release.get("version") if isinstance(release, dict) else None
        files = release.get("files") if isinstance(release, dict) else None
        if not isinstance(version, str) or not version.startswith(prefix) or not isinstance(files, list):
            raise bad(f"release {i} is not {{version: \"{prefix}…\", files: […]}}")
        yield version[len(prefix):], files, bad(f"release {version}")


def file_url(route: RouteEntry, plat: str, version: str) -> str:
    """The vendor's URL of the file for `plat` at `version` (the catalogue's template)."""
    return platforms.fill(route.package, plat, dict(route.os_names), dict(route.arch_names), version=version)


def lock_url(route: RouteEntry, scheme: str, url: str) -> str:
    """`<scheme>:<path under the route's base>`: the vendor, named without a host."""
    base = route.base or ""
    assert base and url.startswith(base), "the catalogue's files sit under its base"
    return f"{scheme}:{url[len(base):]}"
