"""`devshell enter`: exec an interactive shell; no Python process stays behind."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from devshell import project
from devshell.home import home
from devshell.shell import environment
from devshell.shell import launch as shells
from devshell.state import trust

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("enter", help="start an interactive shell with only the pinned tools")
    p.add_argument("--locked", action="store_true", help="fail if devshell.lock is missing or stale")
    p.add_argument("--shell", help="bash, zsh, fish, or a path (default: pinned, else $SHELL)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    proj, record = project.prepare(args.locked)
    host = shells.without_shellenv(os.environ)
    env = environment.compute(record, host)
    shell = shells.pick(args.shell, record.profile, host)
    argv = shells.command(shell, record.isolation, env, host)
    env[shells.ENTERED] = str(proj.root)
    # What `vi`'s :!, make and git hooks start: the shell actually running.
    env["SHELL"] = shell
    if record.isolation == "pure":
        # `devshell status`, `add`… work inside, with nothing else let in.
        h = home()
        env["PATH"] += ":" + shells.self_bin(h.state, str(h.root), host)
    on_enter = dict(proj.spec.hooks).get("on-enter")
    if on_enter and trust.is_trusted(home(), proj.root):
        env["DEVSHELL_ON_ENTER"] = on_enter  # the rc file runs it, then unsets it
    elif on_enter:
        print(trust.hooks_skipped(), file=sys.stderr)
    print(f"devshell: entering {record.name} ({Path(shell).name}, {record.isolation}); `exit` to leave",
          file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(shell, argv, env)
