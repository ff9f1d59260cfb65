"""`devshell env --format sh|fish|json|github|dotenv`: print the environment."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from devshell import envformat, environment, project, trust
from devshell.home import home

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("env", help="print the devshell's environment for scripts and CI")
    p.add_argument("--format", choices=sorted(envformat.FORMATS), default="sh")
    p.add_argument("--locked", action="store_true", help="fail if devshell.lock is missing or stale")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    proj, record = project.prepare(args.locked)
    exported = environment.exported(record, environment.compute(record, os.environ))
    if args.format == "github" and envformat.write_github(exported, record.path_entries):
        return 0
    text = envformat.render(args.format, exported, record.path_entries)
    on_enter = dict(proj.spec.hooks).get("on-enter")
    if args.format == "direnv" and on_enter:
        # direnv runs this file each time the project is entered.
        if trust.is_trusted(home(), proj.spec):
            text += f"eval {envformat.sh_quote(on_enter)}\n"
        else:
            print("devshell: [hooks] on-enter skipped: this project's hooks are not trusted; "
                  "read them, then run `devshell trust`", file=sys.stderr)
    sys.stdout.write(text)
    return 0
