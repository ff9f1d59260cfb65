"""The user-level profile: a person's own tools, kept across projects and machines.

It is a devshell like any project's, with its devshell.toml and devshell.lock
in devshell's config directory (`~/.config/devshell/global/`), so `devshell
global add`, `lock`, `install`, `rollback` and `generations` are the project
commands run there, with the same store, generations and gc roots. `shellenv`
applies it outside any project, and after a project's own tools inside one.

It is the user's own file, in their own config directory: nothing in it came
from a repository, so it needs no `devshell trust`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["is_profile", "root", "spec_text"]


def root() -> Path:
    """$XDG_CONFIG_HOME/devshell/global (else ~/.config/devshell/global), the
    shellenv hooks spell the same rule in shell code; with symbolic links
    resolved (a dotfiles manager may link it), so that its generations and
    records have one key whichever way it was reached."""
    from devshell.config import config_home

    return Path(os.path.realpath(config_home() / "devshell" / "global"))


def is_profile(path: Path) -> bool:
    """Whether `path` is the user-level profile's directory, by any way in."""
    return os.path.realpath(path) == str(root())


def spec_text(platform: str) -> str:
    """The devshell.toml `devshell global add` starts the profile with: it
    covers this machine's platform; the user adds their other machines'."""
    return (
        "# Your own tools, on every machine: devshell's user-level profile.\n"
        "# `devshell global add NAME[@VERSION]`, `devshell global remove NAME`.\n"
        "# The shellenv hook puts them on PATH outside projects, and after a\n"
        "# project's own tools inside one. Keep this file and devshell.lock with\n"
        "# your dotfiles: on a new machine, `devshell global install` restores them.\n"
        "[shell]\n"
        'name = "global"\n'
        f'platforms = ["{platform}"]  # what devshell.lock covers: add your other machines\'\n'
        "\n"
        "[tools]\n"
    )
