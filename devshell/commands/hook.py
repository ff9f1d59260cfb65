"""`devshell hook direnv [--install]`: the `use devshell` function for direnv."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from devshell import atomic

__all__ = ["direnv_function", "install_direnv", "register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("hook", help="print shell integration (direnv's `use devshell`)")
    p.add_argument("kind", choices=["direnv"])
    p.add_argument("--install", action="store_true",
                   help="write it to direnv's lib directory, where direnv loads it by itself")
    p.set_defaults(func=run)


def _self_command() -> str:
    """How a shell with none of our PATH starts this same devshell."""
    argv0 = sys.argv[0]
    if argv0 and Path(argv0).name == "devshell" and os.access(argv0, os.X_OK):
        return shlex.quote(str(Path(argv0).absolute()))
    found = shutil.which("devshell")
    if found:
        return shlex.quote(found)
    return f"{shlex.quote(sys.executable)} -m devshell"


def direnv_function(command: str | None = None) -> str:
    """The `use_devshell` function, calling `command` (default: this devshell)."""
    template = (Path(__file__).parent.parent / "shell" / "rc" / "direnvrc").read_text(encoding="utf-8")
    return template.replace("@DEVSHELL@", command or _self_command())


def direnv_lib_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "direnv" / "lib" / "devshell.sh"


def install_direnv() -> Path:
    path = direnv_lib_path()
    atomic.write_text(path, direnv_function())
    return path


def run(args: argparse.Namespace) -> int:
    if args.install:
        path = install_direnv()
        print(f"devshell: wrote {path}; direnv loads it for every .envrc with `use devshell`",
              file=sys.stderr)
        return 0
    sys.stdout.write(direnv_function())
    return 0
