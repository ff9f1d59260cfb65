"""Vendors' own version indexes, read to pin a url tool's "latest", prefix
or range: never "latest" written into a URL.

Kinds (the catalogue's `index = { kind, url }`):
- `hashicorp`: releases.hashicorp.com's `<product>/index.json` (`versions`).
- `go`: Go's JSON listing of releases (`?mode=json&include=all`).
- `node`: Node.js's `dist/index.json`.
- `k8s-stable`: Kubernetes' `stable.txt` names the newest release; a prefix
  `1.31` reads `stable-1.31.txt` beside it.
- `latest-file`: a file naming the newest release and nothing else (Helm's
  `helm-latest-version`).
Pre-releases are never "latest". An exact version (three parts or more)
reads no index. Every index URL is read through `[mirrors]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from devshell.errors import FetchError, SpecError
from devshell.sources.common import pick_version
from devshell.spec import ToolSpec
from devshell.versions import parse_constraint

if TYPE_CHECKING:
    from devshell.context import Context

__all__ = ["KINDS", "pin"]

_POINTER = re.compile(r"v?(\d+(?:\.\d+)*(?:[-+.][0-9A-Za-z.-]+)?)")


def _read(ctx: Context, url: str) -> str:
    from devshell.config import rewrite
    from devshell.net import http

    where = rewrite(url)
    return ctx.memo(("vendor-index", where), lambda: http.get_text(where))


def _bad(url: str, what: str) -> FetchError:
    return FetchError(f"{url}: {what}", hint="check [mirrors] in devshell's config, or pin an exact version")


def _hashicorp(text: str, url: str) -> list[str]:
    try:
        versions = json.loads(text).get("versions")
    except (ValueError, AttributeError):
        versions = None
    if not isinstance(versions, dict):
        raise _bad(url, "is not a HashiCorp release index (no `versions` table)")
    return [v for v in versions if isinstance(v, str)]


def _go(text: str, url: str) -> list[str]:
    from devshell.sources.routes.golang import listing

    return list(listing(text, url))


def _node(text: str, url: str) -> list[str]:
    from devshell.sources.routes.nodejs import builds

    return list(builds(text, url))


#: index kind → its versions, from the index's text (None: the index names one release)
KINDS: dict[str, Callable[[str, str], list[str]] | None] = {
    "hashicorp": _hashicorp, "go": _go, "node": _node, "k8s-stable": None, "latest-file": None,
}


def pin(tool: ToolSpec, kind: str, url: str, ctx: Context) -> str:
    """The version `tool.constraint` means, by the vendor's index at `url`."""
    from devshell.config import rewrite

    constraint = parse_constraint(tool.constraint)
    parts = constraint.text.split(".")
    if constraint.kind == "version" and len(parts) >= 3:
        # Exact: nothing to look up, so a mirror of the downloads alone serves it.
        return constraint.text
    listed = KINDS[kind]
    if listed is not None:
        return pick_version(tool, listed(_read(ctx, url), rewrite(url)), where=f"{tool.name}'s index ({url})")
    if kind == "k8s-stable" and constraint.kind == "version" and len(parts) == 2:
        url = url.rsplit("/", 1)[0] + f"/stable-{constraint.text}.txt"
    elif constraint.kind != "latest":
        raise SpecError(f"tools.{tool.name}: {tool.constraint!r}: {tool.name}'s vendor names only its newest "
                        "release" + (" (and each minor's)" if kind == "k8s-stable" else ""),
                        hint='write "latest"' + (', a minor such as "1.31"' if kind == "k8s-stable" else "")
                        + ' or an exact version, e.g. "1.2.3"')
    text = _read(ctx, url).strip()
    match = _POINTER.fullmatch(text)
    if match is None:
        raise _bad(rewrite(url), f"does not name one release: {text[:80]!r}")
    return match[1]
