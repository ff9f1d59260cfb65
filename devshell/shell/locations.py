"""Where $DEVSHELL_HOME is, computed with nothing but `os` (for the hot path)."""

from __future__ import annotations

import os

# Not `from typing import TYPE_CHECKING`: typing (and the re it imports)
# costs the hot path ~3 ms. Type checkers read the guarded imports anyway.
TYPE_CHECKING = False

if TYPE_CHECKING:  # collections.abc costs the hot path ~2 ms at run time
    from collections.abc import Mapping

__all__ = ["data_root"]


def data_root(environ: Mapping[str, str] | None = None) -> str:
    """$DEVSHELL_HOME, else $XDG_DATA_HOME/devshell, else ~/.local/share/devshell."""
    env = os.environ if environ is None else environ
    explicit = env.get("DEVSHELL_HOME")
    if explicit:
        return os.path.abspath(explicit)
    data = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(os.path.abspath(data), "devshell")
