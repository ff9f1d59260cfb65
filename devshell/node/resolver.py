"""Lock an npm package with dependencies as a node_modules tree, resolved by npm.

devshell writes no resolver: the spec's pinned node runs its own npm
(`npm install --package-lock-only --ignore-scripts`) in a scratch directory
whose package.json asks for exactly `name@version`, against the registry this
project uses. npm's package-lock (version 3) lists every package of the tree
with its path, version, tarball, integrity and, for native builds, the `os`,
`cpu` and `libc` it runs on; an optional package built for other platforms is
left out of a platform's closure, a required one makes the tool unavailable
there. Nothing is installed and no script runs while locking.
"""

from __future__ import annotations

import json
import os
import posixpath
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devshell import names, platforms, say
from devshell.errors import FetchError, SpecError
from devshell.lock import Artifact, LockedTool, Part, Unavailable, tool_inputs_hash
from devshell.sources import npm
from devshell.sources.common import artifact

if TYPE_CHECKING:
    from devshell.context import Context
    from devshell.spec import ToolSpec

__all__ = ["FORMAT", "NODE", "resolve"]

#: The tool of the spec every JavaScript tool runs on.
NODE = "node"
FORMAT = "npmtree"


@dataclass(frozen=True)
class _Package:
    path: str  # node_modules/…
    name: str
    version: str
    url: str  # as the lock records it
    integrity: str
    optional: bool
    rules: dict[str, list[str]]  # os, cpu, libc
    scripts: bool  # hasInstallScript
    bins: dict[str, str]


def resolve(tool: ToolSpec, package: str, version: str, plats: tuple[str, ...], ctx: Context,
            registry: str, env: tuple[tuple[str, str], ...]) -> LockedTool:
    """`tool` (npm package `package` at `version`) locked on every platform of `plats`."""
    command = _npm(tool, package, ctx)
    tree = ctx.memo(("npm-tree", package, version, registry),
                    lambda: _package_lock(tool, package, version, registry, command, ctx))
    where = f"npm's package-lock for {package}@{version}"
    packages = _packages(tool, tree, registry, where)
    root = packages.get(f"node_modules/{package}")
    if root is None or root.version != version:
        raise FetchError(f"tools.{tool.name}: {where} does not hold {package} {version} at its top",
                         hint="report it; the registry may serve inconsistent documents")
    bins = tool.bin or _programs(tool, root)
    _refuse_native_builds(tool, [p for p in packages.values() if p.scripts], registry, ctx)
    scripts = sorted(f"{p.name} {p.version}" for p in packages.values() if p.scripts)
    if scripts:
        say.note(f"note: {tool.name}: install scripts are never run; these packages of its tree "
                 f"have one: {', '.join(scripts)}")
    entries: dict[str, Artifact | Unavailable] = {}
    for plat in plats:
        chosen: list[_Package] = []
        refused = None
        for p in sorted(packages.values(), key=lambda p: p.path):
            if npm.fits(p.rules, plat):
                chosen.append(p)
            elif not p.optional:
                refused = f"{p.name} {p.version} is built for {_shown(p.rules)}"
                break
        if refused is not None:
            entries[plat] = Unavailable(refused)
            continue
        closure = tuple(Part(p.name, p.version, p.url, p.integrity, None, p.path) for p in chosen)
        entries[plat] = artifact(tool.name, version, url=root.url, integrity=root.integrity, size=None,
                                 format=FORMAT, strip=1, bin=bins, env=env, closure=closure)
    host = platforms.host()
    if isinstance(entries.get(host), Unavailable):
        missing = entries[host]
        assert isinstance(missing, Unavailable)
        raise SpecError(f"tools.{tool.name}: {package} {version} cannot be installed on this machine "
                        f"({host}): {missing.reason}",
                        hint=f"pick another version of {tool.name}")
    return LockedTool(
        name=tool.name, constraint=tool.constraint, source="npm", version=version,
        inputs=tool_inputs_hash(tool.inputs()), platforms=tuple((p, entries[p]) for p in plats),
        package=package if package != tool.name else None, needs=(NODE,),
    )


def _refuse_native_builds(tool: ToolSpec, scripted: list[_Package], registry: str, ctx: Context) -> None:
    """A package whose install script compiles a native addon (node-gyp: its
    document says `gypfile`, or its install script runs node-gyp) does not
    work without it, and devshell runs none: one clear error naming them."""
    needs = []
    for p in scripted:
        doc = npm.document(ctx, tool, registry, p.name, full=True)
        meta = (doc or {}).get("versions", {}).get(p.version)
        if not isinstance(meta, dict):
            continue
        scripts = meta.get("scripts")
        install = " ".join(str(scripts.get(k, "")) for k in ("preinstall", "install", "postinstall")) \
            if isinstance(scripts, dict) else ""
        if meta.get("gypfile") is True or "node-gyp" in install:
            needs.append(f"{p.name} {p.version}")
    if needs:
        raise SpecError(f"tools.{tool.name}: {', '.join(sorted(needs))} in its tree must build a native addon "
                        "in its install script, and devshell runs no install script",
                        hint="pin a version that ships prebuilt binaries (as optional per-platform packages), "
                        "or install it with npm in the project")


def _npm(tool: ToolSpec, package: str, ctx: Context) -> list[str]:
    """The command that runs the pinned node's npm, its node realised here."""
    from devshell import store

    node = ctx.locked(NODE)
    if node is None:
        raise SpecError(f"tools.{tool.name}: {package} is a JavaScript tool with dependencies, and the "
                        "spec pins no node to resolve and run it with",
                        hint=f"add one with `devshell add node`, then lock again; {tool.name} runs on it")
    art = node.artifact(platforms.host())
    if not isinstance(art, Artifact):
        raise SpecError(f"tools.{tool.name}: the spec's node {node.version} is not available on this "
                        f"machine ({platforms.host()}), and its npm resolves {package}'s tree",
                        hint="lock on a machine the spec's node runs on")
    out = store.add_artifact(ctx.home, art, f"node {node.version}", ctx.upstreams)
    programs = dict(art.programs())
    if "node" not in programs or "npm" not in programs:
        raise SpecError(f"tools.{tool.name}: the spec's node {node.version} has no "
                        f"{'npm' if 'node' in programs else 'node'} program, which locking {package} needs",
                        hint="pin node from the catalogue (`devshell add node`), which brings npm")
    return [str(out / programs["node"]), str(out / programs["npm"])]


def _package_lock(tool: ToolSpec, package: str, version: str, registry: str, command: list[str],
                  ctx: Context) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="devshell-npm-") as scratch:
        Path(scratch, "package.json").write_text(json.dumps(
            {"name": "devshell-resolve", "version": "0.0.0", "private": True,
             "dependencies": {package: version}}), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.lower().startswith("npm_config_")}
        env.update(npm_config_update_notifier="false", npm_config_fund="false", npm_config_audit="false")
        cmd = [*command, "install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund",
               "--lockfile-version=3", "--loglevel=error", f"--registry={registry}",
               f"--cache={ctx.home.cache / 'npm'}"]
        try:
            proc = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True, timeout=900,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FetchError(f"tools.{tool.name}: npm could not resolve {package}@{version}: {exc}",
                             hint="check that the pinned node runs here") from None
        if proc.returncode != 0:
            said = [line.removeprefix("npm error ").strip() for line in proc.stderr.splitlines()
                    if line.strip() and "A complete log" not in line and "/_logs/" not in line]
            raise FetchError(f"tools.{tool.name}: npm could not resolve {package}@{version}: "
                             + ("; ".join(said[:4]) or f"exit status {proc.returncode}"),
                             hint=f"the registry asked was {registry}")
        try:
            data = json.loads(Path(scratch, "package-lock.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FetchError(f"tools.{tool.name}: npm wrote no readable package-lock: {exc}",
                             hint="report it, with the npm version of the spec's node") from None
    if not isinstance(data, dict) or not isinstance(data.get("packages"), dict):
        raise FetchError(f"tools.{tool.name}: npm's package-lock has no `packages` table",
                         hint="pin a node whose npm is 7 or newer")
    return data


def _packages(tool: ToolSpec, tree: dict[str, Any], registry: str, where: str) -> dict[str, _Package]:
    """The tree's packages by path, each field checked before it becomes a
    path, a name or a URL."""
    found = {}
    for path, entry in tree["packages"].items():
        if path == "":
            continue
        at = f"{where}: packages[{path!r}]"
        if not isinstance(entry, dict):
            raise FetchError(f"tools.{tool.name}: {at} is not a table")
        if entry.get("inBundle"):
            continue  # it comes inside its parent's tarball
        if entry.get("link"):
            raise SpecError(f"tools.{tool.name}: {at} is a link, not a registry package",
                            hint="only packages from the registry can be locked")
        try:
            names.check_tree_path(path, "path")
            name = names.check_package(entry.get("name") or path.rsplit("node_modules/", 1)[-1], "name")
            version = names.check_version(entry.get("version"))
        except ValueError as exc:
            raise FetchError(f"tools.{tool.name}: {at}: {exc}") from None
        resolved, sri = entry.get("resolved"), entry.get("integrity")
        if resolved is None:  # npm leaves it out for its registry's own tarballs: where a registry keeps them
            resolved = f"{registry}{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"
        if not isinstance(resolved, str) or not resolved.startswith(("http://", "https://")):
            raise SpecError(f"tools.{tool.name}: {name} {version} in its tree does not come from a "
                            f"registry (resolved: {resolved!r})",
                            hint="only registry packages can be locked and fetched by hash")
        url = "npm:" + resolved[len(registry):] if resolved.startswith(registry) else resolved
        found[path] = _Package(path, name, version, url, npm.strongest(tool, name, version, sri, where,
                                                                        f"packages[{path!r}].integrity"),
                               bool(entry.get("optional")), _rules(entry), bool(entry.get("hasInstallScript")),
                               _bins(entry.get("bin")))
    return found


def _rules(entry: dict[str, Any]) -> dict[str, list[str]]:
    rules = {}
    for key in ("os", "cpu", "libc"):
        value = entry.get(key)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            rules[key] = value
    return rules


def _bins(field: object) -> dict[str, str]:
    return {k: v for k, v in field.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(field, dict) else {}


def _shown(rules: dict[str, list[str]]) -> str:
    return ", ".join(f"{k} {v}" for k, v in rules.items())


def _programs(tool: ToolSpec, root: _Package) -> tuple[str, ...]:
    """The root package's `bin`, as paths in the tree."""
    bins = []
    for prog, target in sorted(root.bins.items()):
        path = f"{root.path}/{posixpath.normpath(target)}"
        try:
            names.check_plain(prog, "program name")
            names.check_inner_path(path, "program path")
        except ValueError as exc:
            raise FetchError(f"tools.{tool.name}: {root.name} {root.version}'s bin: {exc}") from None
        if not path.startswith(root.path + "/"):
            raise FetchError(f"tools.{tool.name}: {root.name} {root.version}'s bin {prog!r} leaves the package")
        bins.append(f"{prog}={path}")
    if not bins:
        raise SpecError(f"tools.{tool.name}: {root.name} {root.version} declares no programs (no `bin`)",
                        hint='name the programs to expose: bin = ["node_modules/<package>/<path>"]')
    return tuple(bins)
