"""`devshell store path|pin|unpin TOOL [--format text|json]`: a pinned tool's
store output.

`--format json` prints one object (see `run`) whichever the action; its field
names are stable.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from devshell import atomic, platforms, project, say
from devshell import lock as lockfile
from devshell.errors import UsageError
from devshell.home import confined, home
from devshell.lock import Unavailable

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("store", help="query the store, and pin outputs against gc")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("path", "print the store path of a tool's output (realising it)"),
        ("pin", "keep a tool's output through every gc"),
        ("unpin", "let gc collect it again once nothing else uses it"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("tool")
        action.add_argument("--locked", action="store_true")
        action.add_argument("--format", choices=("text", "json"), default="text",
                            help="json: one object on stdout, for scripts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    proj, _ = project.prepare(args.locked)
    lock = lockfile.load(proj.lock_path)
    tool = lock.tool(args.tool) if lock else None
    if tool is None:
        names = ", ".join(t.name for t in lock.tools) if lock else "none"
        raise UsageError(f"{args.tool!r} is not a tool of this devshell", hint=f"its tools: {names}")
    artifact = tool.artifact(platforms.host())
    assert artifact is not None and not isinstance(artifact, Unavailable)  # prepare() checked
    h = home()
    pin = confined(h.roots / "pins", artifact.output)
    if args.action == "pin":
        atomic.write_text(pin, f"{tool.name} {tool.version}\n")
        say.note(f"pinned {artifact.output}")
    elif args.action == "unpin":
        pin.unlink(missing_ok=True)
        say.note(f"unpinned {artifact.output}")
    elif args.format == "text":
        print(h.output(artifact.output))
    if args.format == "json":
        import json

        sys.stdout.write(json.dumps({
            "tool": tool.name,
            "version": tool.version,
            "output": artifact.output,
            "path": str(h.output(artifact.output)),
            "pinned": pin.is_file(),
        }, indent=2) + "\n")
    return 0
