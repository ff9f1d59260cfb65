"""The command line: wires `commands/*` together and turns errors into exit codes.

Global options come before the command, as git's do: `-C DIR` runs as if
devshell had been started in DIR, `-q` says only warnings and errors, `-v`
adds debug detail (see `devshell.say`).
"""

from __future__ import annotations

import os
import sys

# Not `from typing import TYPE_CHECKING`: typing (and the re it imports)
# costs the hot path ~3 ms. Type checkers read the guarded imports anyway.
TYPE_CHECKING = False

if TYPE_CHECKING:  # collections.abc costs the hot path ~2 ms at run time
    import argparse
    from collections.abc import Sequence
    from types import ModuleType

__all__ = ["build_parser", "main"]

#: Global options that take no value, and the one that takes a directory.
_FLAGS = ("-q", "--quiet", "-v", "--verbose")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if argv is None:
        from devshell.shell import hot

        hot.try_serve(args_list)  # returns only when the record cannot serve

    from devshell import say
    from devshell.commands import modules_for
    from devshell.errors import DevshellError
    from devshell.shell.locations import data_root

    rest = _after_globals(args_list)
    try:
        _known_command(rest)
    except DevshellError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    parser = build_parser(modules_for(rest))
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    say.set_level(say.QUIET if args.quiet else say.VERBOSE if args.verbose else say.NORMAL)
    try:
        _change_directory(args.directory or [])
        say.debug(f"{args.command} in {os.getcwd()}, home {data_root()}, "
                  f"python {sys.version.split()[0]} ({sys.executable})")
        return int(args.func(args))
    except DevshellError as exc:
        if os.environ.get("DEVSHELL_DEBUG") == "1":
            raise
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        # At once, even with downloads still running in other threads: nothing
        # half-made was kept (outputs and files appear by rename, and temp
        # files carry this pid, so a later run sweeps them).
        print("\ndevshell: interrupted; nothing half-made was kept", file=sys.stderr, flush=True)
        if argv is not None:  # called in-process (a test, a library): the caller's threads are its own
            return 130
        sys.stdout.flush()
        os._exit(130)
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
        if say.level() >= say.VERBOSE:
            import traceback

            traceback.print_exc()
        print(
            f"devshell: internal error: {exc.__class__.__name__}: {exc}\n"
            "  hint: run again with DEVSHELL_DEBUG=1 for a traceback, and report it",
            file=sys.stderr,
        )
        return 70


def build_parser(modules: Sequence[ModuleType]) -> argparse.ArgumentParser:
    """devshell's parser, with the commands of `modules` registered."""
    import argparse

    from devshell import __version__

    parser = argparse.ArgumentParser(
        prog="devshell",
        description="Reproducible development shells: pinned tools, locked by hash.",
    )
    parser.add_argument("--version", action="version", version=f"devshell {__version__}")
    parser.add_argument("-C", dest="directory", metavar="DIR", action="append",
                        help="run as if devshell was started in DIR (repeatable, like git -C)")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true",
                          help="say only warnings and errors: no notes, no progress bars")
    loudness.add_argument("-v", "--verbose", action="store_true",
                          help="say more: the notes, and debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in modules:
        module.register(sub)
    return parser


def _after_globals(args: list[str]) -> list[str]:
    """`args` from the command on: the global options before it dropped."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _FLAGS:
            i += 1
        elif arg == "-C":
            i += 2
        elif arg.startswith("-C"):
            i += 1
        else:
            break
    return args[i:]


def _known_command(rest: list[str]) -> None:
    """Refuse a mistyped command before argparse does, naming the likely one."""
    if not rest or rest[0].startswith("-"):
        return
    from devshell.commands import names

    every = names()
    if rest[0] in every:
        return
    import difflib

    from devshell.errors import UsageError

    close = difflib.get_close_matches(rest[0], every, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else "`devshell --help` lists the commands"
    raise UsageError(f"unknown command {rest[0]!r}", hint=hint)


def _change_directory(directories: list[str]) -> None:
    """`-C DIR`, each relative to the one before, as git does."""
    from devshell.errors import UsageError

    for directory in directories:
        try:
            os.chdir(directory)
        except OSError as exc:
            raise UsageError(f"cannot run in {directory!r}: {exc.strerror or exc}",
                             hint="-C takes a directory that exists") from None
    if directories and "PWD" in os.environ:
        os.environ["PWD"] = os.getcwd()  # what a shell started from here reads
