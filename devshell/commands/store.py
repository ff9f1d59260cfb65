"""`devshell store path TOOL`: the store path of a pinned tool's output."""

from __future__ import annotations

import argparse
from typing import Any

from devshell import platforms, project
from devshell.errors import UsageError
from devshell.home import home
from devshell.lock import Unavailable

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("store", help="query the store")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    path = actions.add_parser("path", help="print the store path of a tool's output (realising it)")
    path.add_argument("tool")
    path.add_argument("--locked", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    proj, _ = project.prepare(args.locked)
    from devshell import lock as lockfile

    lock = lockfile.load(proj.lock_path)
    tool = lock.tool(args.tool) if lock else None
    if tool is None:
        names = ", ".join(t.name for t in lock.tools) if lock else "none"
        raise UsageError(f"{args.tool!r} is not a tool of this devshell", hint=f"its tools: {names}")
    artifact = tool.artifact(platforms.host())
    assert artifact is not None and not isinstance(artifact, Unavailable)  # prepare() checked
    print(home().store / artifact.output)
    return 0
