"""`devshell install`: fetch and realise the lock without entering."""

from __future__ import annotations

import argparse
from typing import Any

from devshell import project, say

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("install", help="fetch and realise every pinned tool")
    p.add_argument("--locked", action="store_true", help="fail if devshell.lock is missing or stale")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    proj, record = project.prepare(args.locked)
    say.note(f"{proj.spec.shell.name} is ready ({record.profile})")
    return 0
