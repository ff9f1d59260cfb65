"""The hot path of `run` and `env`: a valid activation record → exec/print.

It imports only `os`, `sys` and devshell's light modules (no argparse, json,
tomllib or requests). Anything it does not recognise returns to the full CLI,
which does the same job the slow way and refreshes the record.
"""

from __future__ import annotations

import os
import sys

from devshell.shell import activation, environment
from devshell.shell.locations import data_root

__all__ = ["exec_command", "try_serve"]


def _find_root(start: str) -> str | None:
    here = start
    while True:
        if os.path.isfile(os.path.join(here, "devshell.toml")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def try_serve(argv: list[str]) -> None:
    """Serve `run …` / `env …` from the record and never return; else return.

    The global options `-q` (the hot path says nothing anyway) and `-C DIR`
    may come first; any other (`-v`, `--help`…) is the full CLI's."""
    if os.environ.get("DEVSHELL_NO_HOT"):
        return
    parsed = _after_globals(argv)
    if parsed is None:
        return
    directories, args = parsed
    if not args or args[0] not in ("run", "env"):
        return
    if not directories:
        _serve(args)
        return
    try:
        back = os.open(".", os.O_RDONLY)
    except OSError:
        return
    pwd = os.environ.get("PWD")
    try:
        for directory in directories:  # each relative to the one before, as git does
            os.chdir(directory)
    except OSError:
        pass  # a missing directory: the full CLI says so
    else:
        if pwd is not None:
            os.environ["PWD"] = os.getcwd()  # what a program started here reads
        _serve(args)
    # Not served: the full CLI starts from where it was started.
    os.fchdir(back)
    os.close(back)
    if pwd is not None:
        os.environ["PWD"] = pwd


def _after_globals(argv: list[str]) -> tuple[list[str], list[str]] | None:
    """The `-C` directories and the arguments from the command on; None when
    an option the hot path does not serve comes first."""
    directories: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-q", "--quiet"):
            i += 1
        elif arg == "-C" and i + 1 < len(argv):
            directories.append(argv[i + 1])
            i += 2
        elif arg.startswith("-C") and len(arg) > 2:
            directories.append(arg[2:])
            i += 1
        elif arg.startswith("-"):
            return None
        else:
            return directories, argv[i:]
    return None


def _serve(argv: list[str]) -> None:
    """`run …` / `env …` (the command's own arguments) from the record."""
    # --locked changes nothing here (a record exists only for a fresh lock);
    # drop it where it is devshell's option, never from the command itself.
    args = argv[1:]
    while args[:1] == ["--locked"]:
        args = args[1:]
    if argv[0] == "env":
        args = [a for a in args if a != "--locked"]
    try:
        root = _find_root(os.getcwd())
    except OSError:
        return
    if root is None:
        return
    record = activation.read(os.path.join(data_root(), "state"), root)
    if record is None:
        return
    if argv[0] == "run":
        if not args or (args[0].startswith("-") and args[0] != "--"):
            return
        exec_command(record, args[1:] if args[0] == "--" else args, args[0] != "--")
    fmt = "sh"
    if args[:1] == ["--format"] and len(args) == 2:
        fmt = args[1]
    elif len(args) == 1 and args[0].startswith("--format="):
        fmt = args[0].partition("=")[2]
    elif args:
        return
    from devshell.shell import formats as envformat

    if fmt not in envformat.FORMATS or fmt == "direnv":
        return  # direnv has its own cache; its output also depends on trust
    full = environment.compute(record, os.environ)
    exported = environment.exported(record, full)
    if fmt == "github" and envformat.write_github(exported, record.path_entries):
        sys.exit(0)
    sys.stdout.write(envformat.render(fmt, exported, record.path_entries))
    sys.stdout.flush()
    # Nothing is left to clean up: skip interpreter shutdown (~2 ms).
    os._exit(0)


def exec_command(record: environment.Record, cmd: list[str], scripts_first: bool) -> None:
    """Replace this process with `cmd` (or the named script) in the devshell."""
    if not cmd:
        print("devshell: error: run needs a command: devshell run -- CMD [ARGS…]", file=sys.stderr)
        sys.exit(2)
    env = environment.compute(record, os.environ)
    scripts = dict(record.scripts)
    if scripts_first and cmd[0] in scripts:
        body = scripts[cmd[0]]
        if len(cmd) > 1:
            body += ' "$@"'
        cmd = ["/bin/sh", "-c", body, cmd[0], *cmd[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(cmd[0], cmd, env)
    except FileNotFoundError:
        print(
            f"devshell: error: {cmd[0]}: command not found in this devshell\n"
            f"  hint: add it to [tools] in devshell.toml, or to shell.host-tools to let the host's through",
            file=sys.stderr,
        )
        sys.exit(127)
    except OSError as exc:
        import errno  # a builtin module, and only on this failure path

        script = _shell_script(cmd[0], env) if exc.errno == errno.ENOEXEC else None
        if script is not None:
            # A text file with no `#!` line is a shell script, as execvp and
            # every shell take it (npm packages ship such placeholders: pnpm's).
            try:
                os.execve("/bin/sh", ["/bin/sh", script, *cmd[1:]], env)
            except OSError as again:
                exc = again
        # Not executable, a damaged binary: what a shell says (126).
        print(f"devshell: error: {cmd[0]}: cannot run it: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(126)


def _shell_script(name: str, env: dict[str, str]) -> str | None:
    """The file `name` runs, if it reads as text (no ELF header, no NUL in
    its first line: bash's test), else None."""
    paths = [name] if "/" in name else [os.path.join(d or ".", name) for d in env.get("PATH", "").split(":")]
    for path in paths:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            try:
                with open(path, "rb") as f:
                    head = f.read(80)
            except OSError:
                return None
            binary = head.startswith(b"\x7fELF") or b"\0" in head.split(b"\n", 1)[0]
            return None if binary else path
    return None
