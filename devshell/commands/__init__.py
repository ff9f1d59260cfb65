"""One module per subcommand, each with `register(subparsers)` and `run(args)`."""

from __future__ import annotations

from devshell.commands import (
    add,
    diff,
    doctor,
    enter,
    env,
    gc,
    generations,
    hook,
    init,
    install,
    lock,
    remove,
    rollback,
    run,
    search,
    shellenv,
    status,
    store,
    trust,
    verify,
)

__all__ = ["COMMANDS"]

COMMANDS = (init, add, remove, search, lock, install, enter, run, env, status, store, hook, shellenv, doctor,
            generations, diff, rollback, gc, verify, trust)
