"""Which shell `enter` starts, and the argv and variables that make it pure
(devshell's own start-up file only) or inherit (the user's rc files first)."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from devshell.errors import UsageError

__all__ = ["ENTERED", "SHELLS", "command", "pick", "self_bin", "self_command", "without_shellenv"]

SHELLS = ("bash", "zsh", "fish")
#: Set by `enter` to the project it entered: the shellenv hook (re-read with
#: the user's rc in an inherit shell) leaves that project's environment alone,
#: as the shell's own rather than one the hook applied and may take back.
ENTERED = "__DEVSHELL_ENTERED"
_SHELLENV_PREFIX = "__DEVSHELL_SE_"
_DATA = Path(__file__).parent / "rc"


def pick(requested: str | None, profile: str, host: Mapping[str, str]) -> str:
    """An absolute shell path: --shell, else a pinned bash/zsh/fish, else the
    user's $SHELL, else bash from the host."""
    pinned_bin = Path(profile, "bin")
    if requested:
        if Path(requested).is_absolute():
            if not (Path(requested).is_file() and os.access(requested, os.X_OK)):
                raise UsageError(
                    f"--shell {requested}: no such executable file",
                    hint="name bash, zsh or fish, or give the absolute path of a shell",
                )
            return requested
        if requested not in SHELLS:
            raise UsageError(f"unknown shell {requested!r}", hint="use bash, zsh or fish")
        pinned = pinned_bin / requested
        found = str(pinned) if pinned.exists() else shutil.which(requested, path=host.get("PATH"))
        if not found:
            raise UsageError(
                f"{requested} is neither pinned in this devshell nor installed on this machine",
                hint=f"add {requested} to [tools] in devshell.toml, or install it",
            )
        return found
    for name in SHELLS:
        if (pinned_bin / name).exists():
            return str(pinned_bin / name)
    user = host.get("SHELL", "")
    if user and Path(user).is_absolute() and Path(user).name in SHELLS and os.access(user, os.X_OK):
        return user
    return shutil.which("bash", path=host.get("PATH")) or "/bin/sh"


def command(shell: str, isolation: str, env: dict[str, str], host: Mapping[str, str]) -> list[str]:
    """The argv that starts `shell` interactively; may add variables to `env`.

    Each rc file reads `DEVSHELL_ISOLATION` to know whether to read the user's
    own files first, then puts the pinned tools back in front and the marker
    in the prompt.
    """
    kind = Path(shell).name
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
        # zsh reads devshell's .zshenv and .zshrc from here; they read the
        # user's from DEVSHELL_USER_ZDOTDIR (else HOME) in an inherit shell.
        if "ZDOTDIR" in host:
            env["DEVSHELL_USER_ZDOTDIR"] = host["ZDOTDIR"]
        env["ZDOTDIR"] = str(_DATA / "zsh")
        # -d: no /etc/zsh/zshrc and friends (/etc/zsh/zshenv is always read).
        return [shell, "-d", "-i"] if pure else [shell, "-i"]
    if kind == "fish":
        init = f"source {_quote_fish(str(_DATA / 'devshell.fish'))}"
        argv = [shell, "--init-command", init, "-i"]
        return [shell, "--no-config", *argv[1:]] if pure else argv
    return [shell, "-i"]


def _quote_fish(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def self_command() -> str:
    """How a shell with none of our PATH starts this same devshell."""
    argv0 = sys.argv[0]
    if argv0 and Path(argv0).name == "devshell" and os.access(argv0, os.X_OK):
        return shlex.quote(str(Path(argv0).absolute()))
    found = shutil.which("devshell")
    if found:
        return shlex.quote(found)
    return f"{shlex.quote(sys.executable)} -m devshell"


def without_shellenv(host: Mapping[str, str]) -> dict[str, str]:
    """`host` as it was before the shellenv hook applied a project to it: each
    variable the hook set back to the value it saved (or gone), and none of
    the hook's bookkeeping, so an entered shell starts from the user's own
    environment and its hook from a clean slate."""
    env = dict(host)
    if _SHELLENV_PREFIX + "ROOT" in env:
        for name in env.get(_SHELLENV_PREFIX + "NAMES", "").split():
            saved = env.get(f"{_SHELLENV_PREFIX}OLD_{name}")
            if saved is None:
                env.pop(name, None)
            else:
                env[name] = saved
    return {k: v for k, v in env.items() if not k.startswith(_SHELLENV_PREFIX)}


def self_bin(state: Path, data_root: str, host: Mapping[str, str]) -> str:
    """A directory holding only `devshell`, for a pure shell's PATH: it runs
    this devshell with this $DEVSHELL_HOME (and the host's XDG_CONFIG_HOME,
    where devshell's settings live), which a pure environment does not keep.

    Named by its content and written once, whole (a rename), like an output."""
    import hashlib

    lines = ["#!/bin/sh", "# devshell, as `devshell enter` found it, for the shells it starts"]
    settings = {"DEVSHELL_HOME": data_root}
    if host.get("XDG_CONFIG_HOME"):
        settings["XDG_CONFIG_HOME"] = host["XDG_CONFIG_HOME"]
    for name, value in settings.items():
        lines.append(f": \"${{{name}:={shlex.quote(value)}}}\"; export {name}")
    lines.append(f'exec {self_command()} "$@"')
    text = "\n".join(lines) + "\n"
    target = state / "bin" / hashlib.sha256(text.encode()).hexdigest()[:32]
    if not (target / "devshell").is_file():
        tmp = state / "bin" / f".tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (tmp / "devshell").write_text(text, encoding="utf-8")
        (tmp / "devshell").chmod(0o755)
        try:
            os.rename(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another shell made it first
    return str(target)
