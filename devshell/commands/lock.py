"""`devshell lock [--update [TOOL…]]`: resolve the spec and write devshell.lock."""

from __future__ import annotations

import argparse
from typing import Any

from devshell import project, say
from devshell.home import home

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("lock", help="resolve devshell.toml and write devshell.lock")
    p.add_argument(
        "--update", nargs="*", metavar="TOOL", default=None,
        help="move these tools (all when none are named) to the newest allowed version",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    proj = project.find()
    where = home()
    if args.update is None:
        # Nothing moves: a tool whose spec entry did not change keeps its pin,
        # and no upstream is asked about it.
        lock = project.relock(proj, where)
    else:
        update = tuple(args.update) or tuple(t.name for t in proj.spec.tools)
        with project.realising(where):
            lock = project.relock(proj, where, update, realise_first=True)
            project.realise_after_edit(proj.root)
    say.note(f"locked {len(lock.tools)} tools in {proj.lock_path}")
    return 0
