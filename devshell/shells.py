"""Which shell `enter` starts, and the argv and variables that make it pure
(devshell's own start-up file only) or inherit (the user's rc files first)."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path

from devshell.errors import UsageError

__all__ = ["SHELLS", "command", "pick"]

SHELLS = ("bash", "zsh", "fish")
_DATA = Path(__file__).parent / "shells"


def pick(requested: str | None, profile: str, host: Mapping[str, str]) -> str:
    """An absolute shell path: --shell, else a pinned bash/zsh/fish, else the
    user's $SHELL, else bash from the host."""
    if requested:
        if os.path.isabs(requested):
            return requested
        if requested not in SHELLS:
            raise UsageError(f"unknown shell {requested!r}", hint="use bash, zsh or fish")
        pinned = os.path.join(profile, "bin", requested)
        found = pinned if os.path.exists(pinned) else shutil.which(requested, path=host.get("PATH"))
        if not found:
            raise UsageError(f"{requested} is neither pinned in this devshell nor installed on this machine")
        return found
    for name in SHELLS:
        pinned = os.path.join(profile, "bin", name)
        if os.path.exists(pinned):
            return pinned
    user = host.get("SHELL", "")
    if user and os.path.isabs(user) and os.path.basename(user) in SHELLS and os.access(user, os.X_OK):
        return user
    return shutil.which("bash", path=host.get("PATH")) or "/bin/sh"


def command(shell: str, isolation: str, env: dict[str, str], host: Mapping[str, str]) -> list[str]:
    """The argv that starts `shell` interactively; may add variables to `env`."""
    kind = os.path.basename(shell)
    env["DEVSHELL_ISOLATION"] = isolation
    pure = isolation == "pure"
    if kind == "bash":
        rcfile = str(_DATA / "bashrc")
        if pure:
            # --rcfile would still read /etc/bash.bashrc on Debian; --norc reads
            # nothing, and the rc file comes in before the first prompt.
            env["PROMPT_COMMAND"] = f". {shlex.quote(rcfile)}"
            return [shell, "--noprofile", "--norc", "-i"]
        return [shell, "--noprofile", "--rcfile", rcfile, "-i"]
    if kind == "zsh":
        if "ZDOTDIR" in host:
            env["DEVSHELL_USER_ZDOTDIR"] = host["ZDOTDIR"]
        env["ZDOTDIR"] = str(_DATA / "zsh")
        return [shell, "-d", "-i"] if pure else [shell, "-i"]
    if kind == "fish":
        init = f"source {_quote_fish(str(_DATA / 'devshell.fish'))}"
        argv = [shell, "--init-command", init, "-i"]
        return [shell, "--no-config", *argv[1:]] if pure else argv
    return [shell, "-i"]


def _quote_fish(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
