"""`devshell shellenv bash|zsh|fish`: activation on cd, from the user's rc file.

`eval "$(devshell shellenv bash)"` in ~/.bashrc (zsh alike), or
`devshell shellenv fish | source` in config.fish, installs a hook that runs
before each prompt, with no direnv: it applies the environment of the project
at or above $PWD and takes it back on leaving. The hook caches what
`shellenv SHELL --env` prints, per project, and while devshell.toml and
devshell.lock are older than that cache it runs no process at all.

On coming into a trusted project the hook runs its `[hooks] on-enter`, once
(not at each prompt, nor on a refresh or in a nested shell); an untrusted one
gets one line saying to run `devshell trust`. While a shell has a profile
applied, `roots/shells/<its pid>` names it, so `gc` keeps it. In a shell
`devshell enter` started, the hook leaves the entered project alone (its
environment is the shell's own, not the hook's to take back). Prompts can
show `$DEVSHELL_NAME`, set only while a project applies.

The cache's first line is the hook's only contract with this module:
`#devshell-shellenv:1 STAMP NAME…`, a stamp new with every refresh (so a
shell can tell that another one refreshed the cache) and the names of the
variables that follow (so the hook can save their values before applying them,
without parsing quoted shell values).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from devshell.errors import SpecError, UsageError
from devshell.shell.launch import self_command

__all__ = ["HEADER", "SHELLS", "env_text", "register", "run", "snippet"]

SHELLS = ("bash", "zsh", "fish")
HEADER = "#devshell-shellenv:1"
_TEMPLATES = {"bash": "shellenv.bash", "zsh": "shellenv.bash", "fish": "shellenv.fish"}
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
#: What says a project applies: not set for the user-level profile alone.
_PROJECT_VARS = ("DEVSHELL_ACTIVE", "DEVSHELL_ROOT", "DEVSHELL_NAME")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "shellenv",
        help="print a hook for your shell's rc file: devshells activate on cd, without direnv",
        description='Add `eval "$(devshell shellenv bash)"` to ~/.bashrc, '
        '`eval "$(devshell shellenv zsh)"` to ~/.zshrc, or '
        "`devshell shellenv fish | source` to config.fish.",
    )
    p.add_argument("shell", choices=SHELLS)
    # The hook's own protocol: what it caches for one project.
    p.add_argument("--env", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--root", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.env:
        sys.stdout.write(env_text(args.shell, Path(args.root) if args.root else None))
        return 0
    if args.root:
        raise UsageError("--root goes with --env", hint=f"devshell shellenv {args.shell}")
    sys.stdout.write(snippet(args.shell))
    return 0


def snippet(shell: str, command: str | None = None) -> str:
    """The hook for `shell`, calling `command` (sh words; default: this devshell)."""
    command = command or self_command()
    if shell == "fish":
        command = " ".join(_fish_quote(word) for word in shlex.split(command))
    template = Path(__file__).parent.parent / "shell" / "rc" / _TEMPLATES[shell]
    text = template.read_text(encoding="utf-8")
    return text.replace("@DEVSHELL@", command).replace("@SHELL@", shell)


def env_text(shell: str, start: Path | None = None) -> str:
    """The header line, then the project's variables in `shell`'s syntax, with
    PATH prepended to the user's own (as direnv's `use devshell` does), and
    the user-level profile's tools after the project's.

    Only for a trusted project: any other gets a header naming no variable
    and a line saying what to run. The user-level profile's own directory
    gives the profile alone, with no project's variables (no DEVSHELL_NAME)."""
    from devshell import project
    from devshell.home import home
    from devshell.shell import environment
    from devshell.shell import formats as envformat
    from devshell.spec import find_root
    from devshell.state import trust, userprofile

    root = find_root(start or Path.cwd())
    if root is not None and not trust.is_trusted(home(), root):
        notice = trust.not_trusted(root)
        line = (f"printf '%s\\n' {envformat.sh_quote(notice)} >&2\n" if shell != "fish"
                else f"printf '%s\\n' {_fish_quote(notice)} >&2\n")
        return f"{HEADER} {os.urandom(8).hex()}\n{line}"
    mine = root is not None and userprofile.is_profile(root)
    proj, record = project.prepare(False, userprofile.root() if mine else start)
    exported = environment.exported(record, environment.compute(record, os.environ))
    pinned = record.path_entries
    on_enter = None
    if mine:
        for name in _PROJECT_VARS:
            exported.pop(name, None)
    else:
        exported, pinned = _with_profile(exported, pinned)
        # The hook runs it once each time the shell enters the project, not
        # each time it applies this file (a refresh, another shell's refresh).
        on_enter = dict(proj.spec.hooks).get("on-enter")
    for name in exported:
        if not is_name(name):
            raise SpecError(
                f"{proj.spec.path}: this devshell sets {name!r}, which no shell can hold",
                hint="name variables with letters, digits and underscores, not starting with a digit",
            )
    header = " ".join([HEADER, os.urandom(8).hex(), *exported]) + "\n"
    if shell != "fish":
        hook = f"__devshell_on_enter={envformat.sh_quote(on_enter)}\n" if on_enter else ""
        return header + envformat.direnv(exported, pinned) + hook
    rest = {k: v for k, v in exported.items() if k != "PATH"}
    path = envformat.fish({"PATH": ":".join(pinned)}).rstrip("\n")
    hook = f"set -g __devshell_on_enter {_fish_quote(on_enter)}\n" if on_enter else ""
    return header + envformat.fish(rest) + path + " $PATH\n" + hook


def _with_profile(exported: dict[str, str], pinned: list[str]) -> tuple[dict[str, str], list[str]]:
    """A project's variables and PATH entries with the user-level profile's
    under them: its tools after the project's, its variables where the project
    sets none. A profile that cannot be realised now is left out, with a warning."""
    from devshell import project, say
    from devshell.errors import DevshellError
    from devshell.shell import environment
    from devshell.spec import SPEC_NAME
    from devshell.state import userprofile

    where = userprofile.root()
    if not (where / SPEC_NAME).is_file():
        return exported, pinned
    try:
        _, record = project.prepare(False, where)
    except DevshellError as exc:
        say.warn(f"your own tools (devshell global) are left out here: {exc.message}")
        return exported, pinned
    theirs = environment.exported(record, environment.compute(record, os.environ))
    merged = {k: v for k, v in theirs.items() if k != "PATH" and not k.startswith("DEVSHELL_")}
    return merged | exported, pinned + [p for p in record.path_entries if p not in pinned]


def is_name(name: str) -> bool:
    """Whether every shell accepts `name` as a variable name."""
    return bool(name) and name[0] in _NAME_START and all(c in _NAME_CHARS for c in name)


def _fish_quote(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "\\'") + "'"
