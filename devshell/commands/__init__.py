"""One module per subcommand, each with `register(subparsers)` and `run(args)`.

A module is named for its command (a command that is a Python keyword, such
as `global`, with `_` after it), and every module of this package is one.
The command line imports only the module of the command it runs (all of them
for `--help` or a mistyped command), so no command pays for another's imports.
"""

from __future__ import annotations

import importlib
import keyword
import os
from types import ModuleType

__all__ = ["modules_for", "names"]

#: The order `devshell --help` lists commands in; any other module comes after.
_ORDER = ("init", "add", "remove", "search", "outdated", "versions", "lock", "install", "enter", "run", "env",
          "status", "store", "image", "hook", "shellenv", "global", "doctor", "generations", "diff", "rollback", "gc", "verify",
          "trust", "sbom", "cache", "bundle")


def names() -> tuple[str, ...]:
    """Every command: the modules of this package."""
    found = {_command(f[:-3]) for f in os.listdir(os.path.dirname(__file__))
             if f.endswith(".py") and not f.startswith("_")}
    return tuple(n for n in _ORDER if n in found) + tuple(sorted(found - set(_ORDER)))


def modules_for(args: list[str]) -> list[ModuleType]:
    """The command modules `args` needs: the one it names, else every one."""
    every = names()
    named = next((a for a in args if not a.startswith("-")), None)
    if named is None and "--version" in args:
        return []  # argparse answers it before any command is looked at
    wanted = [named] if named in every else list(every)
    return [importlib.import_module(f"devshell.commands.{_module(name)}") for name in wanted]


def _command(module: str) -> str:
    """A module's command: its name, but `global_` for `global`, a keyword."""
    return module[:-1] if module.endswith("_") and keyword.iskeyword(module[:-1]) else module


def _module(command: str) -> str:
    return command + "_" if keyword.iskeyword(command) else command
