"""`devshell global add|remove|lock|install|status|generations|rollback`: the
user-level profile, a person's own tools outside any project.

Each subcommand is the project command of the same name, with the same
options, run in the profile's directory (`~/.config/devshell/global`, see
devshell.state.userprofile): one code path, the same store, generations, gc
roots and rollback. `global add` starts the profile when there is none;
`global install` restores it on a new machine from a devshell.toml and
devshell.lock put there (from a dotfiles repository, say). It is the user's
own: no `devshell trust` is asked for it.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
from collections.abc import Callable
from typing import Any

__all__ = ["SUBCOMMANDS", "register", "run_in_profile"]

#: The project commands the profile offers, in `devshell global --help` order.
SUBCOMMANDS = ("add", "remove", "lock", "install", "status", "generations", "rollback")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "global", help="your own tools, outside projects: global add, remove, install, rollback…",
        description="The user-level profile: tools of your own, kept in devshell.toml and "
        "devshell.lock under ~/.config/devshell/global (your dotfiles can carry them). "
        "The shellenv hook puts them on PATH outside any project, and after a project's "
        "own tools inside one. Each subcommand is the project command of that name, run there.",
    )
    nested = p.add_subparsers(dest="global_command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"devshell.commands.{name}")
        module.register(nested)
        nested.choices[name].set_defaults(
            func=functools.partial(run_in_profile, module.run, starts=name == "add"))


def run_in_profile(command: Callable[[argparse.Namespace], int], args: argparse.Namespace,
                   *, starts: bool = False) -> int:
    """`command(args)` in the profile's directory. With `starts`, a missing
    profile is begun (for this machine's platform) and taken away again if
    the command fails: a failed first `global add` leaves nothing behind."""
    from devshell import atomic, platforms, say
    from devshell.errors import UsageError
    from devshell.lock import LOCK_NAME
    from devshell.spec import SPEC_NAME
    from devshell.state import userprofile

    where = userprofile.root()
    spec = where / SPEC_NAME
    begun = False
    if not spec.is_file():
        if not starts:
            raise UsageError(
                f"no user-level profile yet: {spec} does not exist",
                hint="`devshell global add TOOL` starts one; on a new machine, put your devshell.toml "
                "and devshell.lock there (from your dotfiles), then run `devshell global install`",
            )
        where.mkdir(parents=True, exist_ok=True)
        atomic.write_text(spec, userprofile.spec_text(platforms.host()))
        begun = True
    os.chdir(where)
    # The project commands' advice names the command the person typed.
    say.set_wording([(f"`devshell {name}", f"`devshell global {name}") for name in SUBCOMMANDS])
    try:
        return int(command(args))
    except BaseException:
        if begun and not (where / LOCK_NAME).exists():
            spec.unlink(missing_ok=True)
        raise
