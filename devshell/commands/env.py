"""`devshell env --format sh|fish|json|github|dotenv|direnv`: print the environment.

`--format direnv` is what direnv's `use devshell` applies to the user's own
shell: automatic activation, so it applies only a trusted project (an
untrusted one gets a script that says what to run, and sets nothing).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from devshell import project
from devshell.home import home
from devshell.shell import environment
from devshell.shell import formats as envformat
from devshell.state import trust

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("env", help="print the devshell's environment for scripts and CI")
    p.add_argument("--format", choices=sorted(envformat.FORMATS), default="sh")
    p.add_argument("--locked", action="store_true", help="fail if devshell.lock is missing or stale")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.format == "direnv":
        return _direnv(args.locked)
    _, record = project.prepare(args.locked)
    exported = environment.exported(record, environment.compute(record, os.environ))
    if args.format == "github" and envformat.write_github(exported, record.path_entries):
        return 0
    sys.stdout.write(envformat.render(args.format, exported, record.path_entries))
    return 0


def _direnv(locked: bool) -> int:
    from pathlib import Path

    from devshell.spec import require_root

    h = home()
    root = require_root(Path.cwd())
    if not trust.is_trusted(h, root):
        # Cached and sourced by the direnv function: the line shows on every
        # entry until `devshell trust`, and nothing of the project applies.
        sys.stdout.write("#devshell-untrusted\n"
                         f"printf '%s\\n' {envformat.sh_quote(trust.not_trusted(root))} >&2\n")
        return 0
    proj, record = project.prepare(locked, root)
    exported = environment.exported(record, environment.compute(record, os.environ))
    text = envformat.render("direnv", exported, record.path_entries)
    on_enter = dict(proj.spec.hooks).get("on-enter")
    if on_enter:  # direnv runs this file each time the project is entered
        text += f"eval {envformat.sh_quote(on_enter)}\n"
    sys.stdout.write(text)
    return 0
