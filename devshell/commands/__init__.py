"""One module per subcommand, each with `register(subparsers)` and `run(args)`.

A module is named for its command. The command line imports only the module
of the command it runs (all of them for `--help` or a mistyped command), so
no command pays for another's imports.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["NAMES", "modules_for"]

#: Every command, in the order `devshell --help` lists them.
NAMES = ("init", "add", "remove", "search", "lock", "install", "enter", "run", "env", "status", "store", "hook",
         "shellenv", "doctor", "generations", "diff", "rollback", "gc", "verify", "trust")


def modules_for(args: list[str]) -> list[ModuleType]:
    """The command modules `args` needs: the one it names, else every one."""
    named = next((a for a in args if not a.startswith("-")), None)
    wanted = [named] if named in NAMES else list(NAMES)
    return [importlib.import_module(f"devshell.commands.{name}") for name in wanted]
