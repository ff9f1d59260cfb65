"""`devshell doctor`: what this devshell is, where it keeps things and which
upstreams it would ask, with where each setting came from."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="show the version, platform, store and upstreams in use")
    p.set_defaults(func=run)



def _home_origin() -> str:
    if os.environ.get("DEVSHELL_HOME"):
        return "DEVSHELL_HOME"
    if os.environ.get("XDG_DATA_HOME"):
        return "XDG_DATA_HOME"
    return "default"


def run(args: argparse.Namespace) -> int:
    from collections.abc import Callable
    from pathlib import Path

    import devshell
    from devshell import config, platforms
    from devshell.errors import DevshellError
    from devshell.shell.locations import data_root
    from devshell.spec import find_root

    out = sys.stdout
    out.write(f"devshell {devshell.__version__}\n")
    out.write(f"  python: {sys.version.split()[0]} ({sys.executable})\n")
    out.write(f"  platform: {platforms.host()}"
              + (" (DEVSHELL_PLATFORM)" if os.environ.get("DEVSHELL_PLATFORM") else "") + "\n")
    out.write(f"  DEVSHELL_HOME: {data_root()} (from {_home_origin()})\n")
    own = config.devshell_config_path()
    out.write(f"  config: {own}{'' if own.is_file() else ' (not present)'}\n")
    out.write("upstreams:\n")
    finders: tuple[tuple[str, Callable[[], config.Upstream]], ...] = (
        ("pypi", config.pypi_index), ("npm", lambda: config.npm_registry(find_root(Path.cwd()))),
    )
    for name, find in finders:
        try:
            upstream = find()
        except DevshellError as exc:
            out.write(f"  {name}: error: {exc.message}\n")
            continue
        out.write(f"  {name}: {config.redacted(upstream.url)} (from {upstream.origin})\n")
    return 0
