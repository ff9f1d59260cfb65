"""`devshell doctor`: what this devshell is, where it keeps things and which
upstreams it would ask (the package indexes, the Debian archive and its
security archive), with where each setting came from, and the `[mirrors]`
vendor URLs are rewritten through. It reads configuration only: no upstream
is asked.

`--format json` prints `{version, python, platform, home, config, upstreams,
mirrors}`: each upstream is `{url, origin, keyring}` or `{error}` (and the
security archive `{none}` saying why there is none); `mirrors` is a list of
`{from, to}`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devshell.config import Upstream
    from devshell.sources.deb import DebSources

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="show the version, platform, store and upstreams in use")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: {version, python, platform, home, config, upstreams, mirrors}")
    p.set_defaults(func=run)


def _home_origin() -> str:
    if os.environ.get("DEVSHELL_HOME"):
        return "DEVSHELL_HOME"
    if os.environ.get("XDG_DATA_HOME"):
        return "XDG_DATA_HOME"
    return "default"


def run(args: argparse.Namespace) -> int:
    import devshell
    from devshell import config, platforms
    from devshell.shell.locations import data_root

    own = config.devshell_config_path()
    deb = _deb_settings()
    doc: dict[str, Any] = {
        "version": devshell.__version__,
        "python": {"version": sys.version.split()[0], "executable": sys.executable},
        "platform": {"name": platforms.host(),
                     "origin": "DEVSHELL_PLATFORM" if os.environ.get("DEVSHELL_PLATFORM") else "this machine"},
        "home": {"path": str(data_root()), "origin": _home_origin()},
        "config": {"path": str(own), "present": own.is_file()},
        "upstreams": {
            "pypi": _found(config.pypi_index),
            "npm": _found(lambda: config.npm_registry(_project_root())),
            "deb": _found(lambda: config.debian_archive(deb.archive if deb else None)),
            "deb-security": _security(deb),
        },
        "mirrors": _mirrors(),
    }
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return 0
    _show(doc)
    return 0


def _project_root() -> Path | None:
    from devshell.spec import find_root

    return find_root(Path.cwd())


def _deb_settings() -> DebSources | None:
    """The project's `[sources.deb]` (its archive counts), if there is a
    project here whose spec parses; doctor reports past a broken spec."""
    from devshell.errors import DevshellError
    from devshell.sources.deb import DebSources
    from devshell.spec import SPEC_NAME, load

    root = _project_root()
    try:
        spec = load(root / SPEC_NAME) if root is not None else None
    except DevshellError:
        return None
    settings = dict(spec.sources).get("deb") if spec is not None else None
    return settings if isinstance(settings, DebSources) else None


def _found(find: Any) -> dict[str, Any]:
    from devshell.config import redacted
    from devshell.errors import DevshellError

    try:
        upstream: Upstream = find()
    except DevshellError as exc:
        return {"error": exc.message}
    return {"url": redacted(upstream.url), "origin": upstream.origin, "keyring": _keyring(upstream.keyring)}


def _keyring(keyring: str | None) -> str | None:
    if keyring is not None and "BEGIN PGP PUBLIC KEY BLOCK" in keyring:
        return "a key embedded in apt's sources"
    return keyring


def _security(deb: DebSources | None) -> dict[str, Any]:
    """The security archive the deb source reads, or why it reads none."""
    from devshell import config
    from devshell.errors import DevshellError

    if deb is not None and not deb.security:
        return {"none": "devshell.toml ([sources.deb] security = false)"}
    try:
        found = config.debian_security_archive(deb.archive if deb else None)
    except DevshellError as exc:
        return {"error": exc.message}
    if found is None:
        return {"none": "none configured: set DEVSHELL_DEB_SECURITY_ARCHIVE or upstreams.deb-security "
                        f"in {config.devshell_config_path()} (apt's own is used only with apt's archive)"}
    return _found(lambda: found)


def _mirrors() -> list[dict[str, str]] | dict[str, str]:
    """`[mirrors]` of devshell's config, as `config.rewrite` applies them."""
    import tomllib

    from devshell import config

    path = config.devshell_config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {"error": f"{path}: cannot be read: {exc}"}
    table = data.get("mirrors", {})
    if not isinstance(table, dict):
        return {"error": f"{path}: [mirrors] is not a table"}
    return [{"from": str(k), "to": config.redacted(str(v))} for k, v in sorted(table.items())]


def _show(doc: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(f"devshell {doc['version']}\n")
    out.write(f"  python: {doc['python']['version']} ({doc['python']['executable']})\n")
    plat = doc["platform"]
    out.write(f"  platform: {plat['name']}" + (" (DEVSHELL_PLATFORM)" if plat["origin"] == "DEVSHELL_PLATFORM" else "")
              + "\n")
    out.write(f"  DEVSHELL_HOME: {doc['home']['path']} (from {doc['home']['origin']})\n")
    own = doc["config"]
    out.write(f"  config: {own['path']}{'' if own['present'] else ' (not present)'}\n")
    out.write("upstreams:\n")
    for name, found in doc["upstreams"].items():
        if "error" in found:
            out.write(f"  {name}: error: {found['error']}\n")
        elif "none" in found:
            out.write(f"  {name}: none ({found['none']})\n")
        else:
            signed = f", signed by {found['keyring']}" if found.get("keyring") else ""
            out.write(f"  {name}: {found['url']} (from {found['origin']}{signed})\n")
    mirrors = doc["mirrors"]
    if isinstance(mirrors, dict):
        out.write(f"mirrors: error: {mirrors['error']}\n")
    elif not mirrors:
        out.write("mirrors: none (vendor URLs are fetched as the catalogue writes them)\n")
    else:
        out.write("mirrors:\n")
        out.writelines(f"  {m['from']} -> {m['to']}\n" for m in mirrors)
