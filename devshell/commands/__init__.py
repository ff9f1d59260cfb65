"""One module per subcommand, each with `register(subparsers)` and `run(args)`."""

from __future__ import annotations

from devshell.commands import enter, env, hook, install, lock, run, status, store

__all__ = ["COMMANDS"]

COMMANDS = (lock, install, enter, run, env, status, store, hook)
