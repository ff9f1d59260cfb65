"""`devshell trust [--revoke]`: allow this project's [hooks] to run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from devshell import project, trust
from devshell.home import home

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("trust", help="let this project's [hooks] run (after reading them)")
    p.add_argument("--revoke", action="store_true", help="stop running them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    proj = project.find()
    h = home()
    if args.revoke:
        trust.revoke(h, proj.root)
        print(f"devshell: hooks of {proj.root} will not run", file=sys.stderr)
        return 0
    if not proj.spec.hooks:
        print(f"devshell: {proj.spec.path.name} has no [hooks]; nothing to trust", file=sys.stderr)
        return 0
    for name, command in proj.spec.hooks:
        print(f"  {name}: {command}", file=sys.stderr)
    trust.trust(h, proj.spec)
    print("devshell: trusted these hooks; editing them revokes the trust", file=sys.stderr)
    return 0
