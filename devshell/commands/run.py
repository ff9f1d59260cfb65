"""`devshell run [--] CMD [ARGS…]` or `devshell run SCRIPT`: exec in the shell's environment."""

from __future__ import annotations

import argparse
from typing import Any

from devshell import project
from devshell.shell import hot

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run a command, or a [scripts] entry, in the devshell")
    p.add_argument("--locked", action="store_true", help="fail if devshell.lock is missing or stale")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="a [scripts] name, or -- CMD ARGS…")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cmd = list(args.cmd)
    explicit = bool(cmd) and cmd[0] == "--"
    if explicit:
        cmd = cmd[1:]
    _, record = project.prepare(args.locked)
    hot.exec_command(record, cmd, scripts_first=not explicit)
    return 0  # not reached: exec_command replaces the process or exits
