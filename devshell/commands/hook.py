"""`devshell hook direnv [--install]`: the `use devshell` function for direnv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from devshell import atomic, say
from devshell.shell.launch import self_command

__all__ = ["direnv_function", "install_direnv", "register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("hook", help="print shell integration (direnv's `use devshell`)")
    p.add_argument("kind", choices=["direnv"])
    p.add_argument("--install", action="store_true",
                   help="write it to direnv's lib directory, where direnv loads it by itself")
    p.set_defaults(func=run)


def direnv_function(command: str | None = None) -> str:
    """The `use_devshell` function, calling `command` (default: this devshell)."""
    template = (Path(__file__).parent.parent / "shell" / "rc" / "direnvrc").read_text(encoding="utf-8")
    return template.replace("@DEVSHELL@", command or self_command())


def direnv_lib_path() -> Path:
    from devshell.config import config_home

    return config_home() / "direnv" / "lib" / "devshell.sh"


def install_direnv() -> Path:
    path = direnv_lib_path()
    atomic.write_text(path, direnv_function())
    return path


def run(args: argparse.Namespace) -> int:
    if args.install:
        path = install_direnv()
        say.note(f"wrote {path}; direnv loads it for every .envrc with `use devshell`")
        return 0
    sys.stdout.write(direnv_function())
    return 0
