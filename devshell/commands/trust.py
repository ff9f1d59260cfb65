"""`devshell trust [--revoke]`: let this project into your own shell.

Shows what the project would do (the tools its lock puts on PATH, its
`[env]`, its `[hooks]`), then trusts that exact content: direnv and
`shellenv` apply it, and its hooks run. A change from outside asks again.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from devshell import project
from devshell.home import home
from devshell.state import trust

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "trust", help="let this project's tools, [env] and [hooks] into your shell (after reading them)",
        description="Trust this project's devshell.toml and devshell.lock as they are now: "
        "direnv and `shellenv` then apply it, and its [hooks] run. A change that arrives from "
        "outside (a pull) asks again; devshell's own edits keep the trust.",
    )
    p.add_argument("--revoke", action="store_true", help="stop applying it and running its hooks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    proj = project.find()
    h = home()
    if args.revoke:
        trust.revoke(h, proj.root)
        print(f"devshell: {proj.root} is no longer trusted", file=sys.stderr)
        return 0
    # What is trusted is the spec *and* its lock: lock first if it is stale.
    lock = project.fresh_lock(proj, h, locked=False)
    print(f"devshell: trusting {proj.root}:", file=sys.stderr)
    for tool in lock.tools:
        print(f"  tool  {tool.name} {tool.version} ({tool.source})", file=sys.stderr)
    for name, value in proj.spec.env:
        flag = "  (runs code)" if trust.is_risky(name) else ""
        print(f"  env   {name}={value}{flag}", file=sys.stderr)
    for name, command in proj.spec.hooks:
        print(f"  hook  {name}: {command}", file=sys.stderr)
    trust.trust(h, proj.root)
    print("devshell: trusted; a change from outside (a pull) asks again", file=sys.stderr)
    return 0
