"""How a route is named in notes, errors and the reasons a lock records: by
its upstream's kind and package, never by a host."""

from __future__ import annotations

from devshell.catalog import RouteEntry

__all__ = ["label"]

_LABELS = {
    "pypi": "the Python package index's {package} wheels",
    "npm-node": "the npm registry's {package} packages",
    "nodejs-dist": "Node.js's dist site",
    "go-dl": "Go's downloads",
}


def label(route: RouteEntry) -> str:
    return _LABELS.get(route.kind, route.kind).replace("{package}", route.package)
