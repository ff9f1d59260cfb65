"""The command line: wires `commands/*` together and turns errors into exit codes."""

from __future__ import annotations

import os
import sys

# Not `from typing import TYPE_CHECKING`: typing (and the re it imports)
# costs the hot path ~3 ms. Type checkers read the guarded imports anyway.
TYPE_CHECKING = False

if TYPE_CHECKING:  # collections.abc costs the hot path ~2 ms at run time
    from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if argv is None:
        from devshell.shell import hot

        hot.try_serve(args_list)  # returns only when the record cannot serve

    import argparse

    from devshell import __version__
    from devshell.commands import modules_for
    from devshell.errors import DevshellError

    parser = argparse.ArgumentParser(
        prog="devshell",
        description="Reproducible development shells: pinned tools, locked by hash.",
    )
    parser.add_argument("--version", action="version", version=f"devshell {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in modules_for(args_list):
        module.register(sub)
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except DevshellError as exc:
        if os.environ.get("DEVSHELL_DEBUG") == "1":
            raise
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a full disk, a read-only directory: say which file
        if os.environ.get("DEVSHELL_DEBUG") == "1":
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"devshell: error: {exc.strerror or exc}{where}\n"
              "  hint: check free space and permissions there, then run the command again",
              file=sys.stderr)
        return 6
    except Exception as exc:  # a bug: say so in one line, not a traceback
        if os.environ.get("DEVSHELL_DEBUG") == "1":
            raise
        print(
            f"devshell: internal error: {exc.__class__.__name__}: {exc}\n"
            "  hint: run again with DEVSHELL_DEBUG=1 for a traceback, and report it",
            file=sys.stderr,
        )
        return 70
