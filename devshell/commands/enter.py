"""`devshell enter`: exec an interactive shell; no Python process stays behind.

The shell shows `(devshell:NAME) ` in front of its prompt, and puts it back
when a prompt rebuilt before each prompt (starship, powerlevel10k) drops it.
Such prompts can show `$DEVSHELL_NAME` themselves: it is set in every
devshell (`enter`, `run`, direnv, `shellenv`) and only there.

An inherit shell reads the user's rc files, and with them a `shellenv` hook:
`enter` starts it from the user's own environment (what the hook applied,
taken back) and names the project in `__DEVSHELL_ENTERED`, which the hook
leaves alone. A pure shell gets `SHELL` (the shell running) and a directory
on PATH holding only `devshell`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from devshell import project, say
from devshell.home import home
from devshell.shell import environment
from devshell.shell import launch as shells
from devshell.state import trust

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "enter", help="start an interactive shell with only the pinned tools",
        description="Start an interactive shell with the pinned tools. Its prompt starts with "
        "(devshell:NAME); a prompt of your own (starship, powerlevel10k) can show $DEVSHELL_NAME, "
        "set in every devshell and only there.",
    )
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
        say.warn(trust.hooks_skipped())
    say.note(f"entering {record.name} ({Path(shell).name}, {record.isolation}); `exit` to leave")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(shell, argv, env)
