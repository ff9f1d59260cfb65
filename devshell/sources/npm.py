"""The `npm` source: package documents from the npm registry the machine is
configured for, pinned by the registry's `dist.integrity`.

Two kinds of tool come from npm. Platform packages (`node-{os}-{arch}`,
`@esbuild/{os}-{arch}`) hold one native build each: the version is picked on
the host's package and must exist, the same, in every other platform's. Any
other package (no `os`/`cpu` fields) is a JavaScript tool: it runs on the
spec's pinned node, so it must have no runtime dependencies to install.
"""

from __future__ import annotations

import json
import posixpath
import urllib.parse
from dataclasses import replace
from pathlib import Path
from typing import Any

from devshell import catalog, config, httpcache, integrity, platforms
from devshell.errors import FetchError, SpecError
from devshell.home import Home
from devshell.lock import Artifact, LockedTool, Unavailable, tool_inputs_hash
from devshell.sources import common
from devshell.spec import ToolSpec, find_root
from devshell.versions import choose, parse_constraint

__all__ = ["ACCEPT", "NpmSource", "document_url", "programs"]

#: The abbreviated ("corgi") document: everything installing needs, a fraction
#: of the full document's size; registries that lack it send the full one.
ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"

_NPM_ARCH = {"x86_64": "x64", "aarch64": "arm64"}  # npm's process.arch names

Document = dict[str, Any]

# document URL → the document, or None for a package the registry does not
# have; one lock asks for a platform package once, however many tools use it.
_DOCUMENTS: dict[str, Document | None] = {}


def document_url(registry: str, name: str) -> str:
    """Where the registry serves `name`'s document (`@scope/pkg` → `@scope%2fpkg`)."""
    return registry + name.replace("/", "%2f")


def programs(meta: dict[str, Any], package: str) -> list[tuple[str, str]]:
    """A version document's `bin` field as (program name, path in the package),
    sorted by name: a string names one program after the unscoped package."""
    field = meta.get("bin")
    if isinstance(field, str):
        field = {package.rsplit("/", 1)[-1]: field}
    if not isinstance(field, dict):
        return []
    pairs = []
    for key, value in field.items():
        # npm itself keeps only the key's basename, so a name is never a path.
        name = posixpath.basename(str(key).replace("\\", "/"))
        path = posixpath.normpath(str(value).replace("\\", "/"))
        if not name or "=" in name or path.startswith(("/", "../")) or path in (".", ".."):
            raise SpecError(f"{package} declares a program outside its package: {key!r} → {value!r}")
        pairs.append((name, path))
    return sorted(pairs)


class NpmSource:
    def versions(self, tool: ToolSpec) -> list[str]:
        pattern, entry = _pattern(tool)
        doc = _document(tool, _registry(), _fill(pattern, platforms.host(), entry), required=True)
        assert doc is not None  # required=True raises instead
        return list(doc["versions"])

    def resolve(self, tool: ToolSpec, plats: tuple[str, ...], home: Home) -> LockedTool:
        pattern, entry = _pattern(tool)
        registry = _registry()
        names = {plat: _fill(pattern, plat, entry) for plat in plats}
        first = platforms.host() if platforms.host() in plats else plats[0]
        doc = _document(tool, registry, names[first], required=True)
        assert doc is not None  # required=True raises instead
        version = _pick(tool, doc, names[first])
        meta = doc["versions"][version]
        platform_package = "{os}" in pattern or "{arch}" in pattern
        runs_on_node = (entry is not None and entry.runtime == "node") or not (
            platform_package or meta.get("os") or meta.get("cpu")
        )
        if runs_on_node:
            _refuse_dependencies(tool, names[first], version, meta)
        entries: dict[str, Artifact | Unavailable] = {}
        for plat in plats:
            pdoc = _document(tool, registry, names[plat], required=False)
            pmeta = pdoc["versions"].get(version) if pdoc is not None else None
            if pdoc is None:
                entries[plat] = Unavailable(f"the registry has no package {names[plat]}")
            elif not isinstance(pmeta, dict):
                entries[plat] = Unavailable(f"{names[plat]} has no version {version}")
            elif not _fits(pmeta, plat):
                entries[plat] = Unavailable(
                    f"{names[plat]} {version} is built for os {pmeta.get('os')}, cpu {pmeta.get('cpu')}"
                )
            else:
                entries[plat] = _artifact(tool, entry, registry, names[plat], version, pmeta)
        return LockedTool(
            name=tool.name,
            constraint=tool.constraint,
            source="npm",
            version=version,
            inputs=tool_inputs_hash(tool.inputs()),
            platforms=tuple((p, entries[p]) for p in plats),
            package=pattern,
            needs=("node",) if runs_on_node else (),
        )


def _pattern(tool: ToolSpec) -> tuple[str, catalog.Entry | None]:
    """The package name (maybe with {os}/{arch}) and the catalogue entry that
    describes it, if the spec did not name some other package."""
    entry = catalog.get(tool.name)
    if entry is not None and entry.source == "npm" and tool.package in (None, entry.package):
        return entry.package, entry
    return tool.package or tool.name, None


def _fill(pattern: str, plat: str, entry: catalog.Entry | None) -> str:
    if entry is not None:
        return replace(entry, package=pattern).package_for(plat)
    arch, system = platforms.split(plat)
    return pattern.replace("{os}", system).replace("{arch}", _NPM_ARCH.get(arch, arch))


def _registry() -> str:
    # Sources are not told the project's root; the lock runs inside the project.
    return config.npm_registry(find_root(Path.cwd())).url


def _document(tool: ToolSpec, registry: str, name: str, *, required: bool) -> Document | None:
    url = document_url(registry, name)
    if url not in _DOCUMENTS:
        try:
            resp = httpcache.get(url, headers={"Accept": ACCEPT})
        except FetchError as exc:
            if exc.status != 404:
                raise
            _DOCUMENTS[url] = None
        else:
            try:
                doc = json.loads(resp.body)
            except ValueError:
                doc = None
            if not isinstance(doc, dict) or not isinstance(doc.get("versions"), dict):
                raise FetchError(f"{url} is not an npm package document",
                                 hint="check the npm registry setting (npm_config_registry, .npmrc)")
            _DOCUMENTS[url] = doc
    found = _DOCUMENTS[url]
    if found is None and required:
        raise SpecError(f"tools.{tool.name}: npm has no package {name}",
                        hint=f"check the name; the registry asked was {registry}")
    return found


def _pick(tool: ToolSpec, doc: Document, name: str) -> str:
    """The version npm would install: a dist-tag by name; else the `latest`
    tag when the constraint admits it, else the newest match. Deprecated
    versions count only when pinned exactly."""
    versions: dict[str, Any] = doc["versions"]
    tags = {k: v for k, v in (doc.get("dist-tags") or {}).items() if v in versions}
    constraint = parse_constraint(tool.constraint)
    if constraint.kind == "tag":
        if constraint.text not in tags:
            listed = ", ".join(f"{k} ({v})" for k, v in sorted(tags.items())) or "none"
            raise SpecError(f"tools.{tool.name}: {name} has no dist-tag {constraint.text!r}",
                            hint=f"its tags: {listed}")
        return str(tags[constraint.text])
    pinned = constraint.text.removeprefix("v") if constraint.kind == "version" else None
    live = [v for v, m in versions.items() if v == pinned or "deprecated" not in m]
    latest = tags.get("latest")
    if latest in live and choose(constraint, [latest]) == latest:
        return str(latest)
    return common.pick_version(tool, live, where=name)


def _refuse_dependencies(tool: ToolSpec, name: str, version: str, meta: dict[str, Any]) -> None:
    deps = sorted(meta.get("dependencies") or {})
    if deps:
        shown = ", ".join(deps[:5]) + (", …" if len(deps) > 5 else "")
        raise SpecError(
            f"tools.{tool.name}: {name} {version} has runtime dependencies ({shown}); "
            "devshell runs only zero-dependency npm packages for now",
            hint="pin a version without dependencies, or use the tool's platform package "
            "(a single native build) if it has one",
        )


def _fits(meta: dict[str, Any], plat: str) -> bool:
    """Whether a version's `os`/`cpu` fields (npm's names, `!x` excludes) allow `plat`."""
    arch, system = platforms.split(plat)
    for rule, value in ((meta.get("os"), system), (meta.get("cpu"), _NPM_ARCH.get(arch, arch))):
        if not isinstance(rule, list) or not rule:
            continue
        allowed = [r for r in rule if not str(r).startswith("!")]
        if f"!{value}" in rule or (allowed and value not in allowed):
            return False
    return True


def _sri(tool: ToolSpec, name: str, version: str, dist: dict[str, Any]) -> str:
    """The strongest sha512/sha256 hash in `dist.integrity`; sha1 is refused."""
    tokens = str(dist.get("integrity") or "").split()
    for algo in integrity.ALGORITHMS[::-1]:
        for token in tokens:
            if token.startswith(f"{algo}-"):
                try:
                    integrity.parse(token)
                except ValueError:
                    continue
                return token
    raise SpecError(
        f"tools.{tool.name}: {name} {version} is published with only a sha1 checksum, "
        "which devshell does not accept",
        hint="pin a newer version (the registry records sha512 for packages published since 2017)",
    )


def _artifact(
    tool: ToolSpec, entry: catalog.Entry | None, registry: str, name: str, version: str,
    meta: dict[str, Any],
) -> Artifact:
    dist = meta.get("dist") or {}
    if not dist.get("tarball"):
        raise FetchError(f"{name} {version}: the registry's document has no tarball URL")
    url = urllib.parse.urljoin(document_url(registry, name), str(dist["tarball"]))
    # Under the registry: `npm:<path>`, so the lock names no host and is
    # realised against whatever registry (or mirror) the machine uses.
    url = "npm:" + url[len(registry):] if url.startswith(registry) else config.rewrite(url)
    bins = tool.bin or (entry.bin if entry is not None else ())
    if not bins:
        bins = tuple(p if posixpath.basename(p) == n else f"{n}={p}" for n, p in programs(meta, name))
    if not bins:
        raise SpecError(f"tools.{tool.name}: {name} {version} declares no programs (no `bin`)",
                        hint='name the programs to expose: bin = ["path/in/package/prog"]')
    return common.artifact(
        tool.name, version, url=url, integrity=_sri(tool, name, version, dist),
        size=None,  # dist.unpackedSize is the unpacked size, not the tarball's
        format="tgz", strip=1, bin=bins,
        env=tool.env or (entry.env if entry is not None else ()),
    )
