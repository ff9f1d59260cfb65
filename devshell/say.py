"""What devshell tells a person on stderr, and how much of it: `-q` and `-v`.

Data goes to stdout; notes, warnings and debug detail go to stderr through
here, so one switch decides how much is said. `-q` keeps warnings (and the
errors `cli.main` renders, whatever the level) but drops notes and progress
bars; `-v` adds debug detail. `cli.main` sets the level once per run, before
any command runs.
"""

from __future__ import annotations

import sys

__all__ = ["NORMAL", "QUIET", "VERBOSE", "debug", "level", "note", "progress", "set_level", "set_wording", "warn",
           "worded"]

QUIET, NORMAL, VERBOSE = 0, 1, 2

# One run, one person: a process-wide setting, like the logging module's.
_level = [NORMAL]


def set_level(value: int) -> None:
    """How much to say from now on: QUIET, NORMAL or VERBOSE."""
    _level[0] = value


def level() -> int:
    return _level[0]


# What a command's advice is rewritten with: `devshell global install` runs
# the project's install, whose advice must name the command the person typed.
_wording: list[tuple[str, str]] = []


def set_wording(pairs: list[tuple[str, str]]) -> None:
    """From now on, say each pair's second text where advice says its first."""
    _wording[:] = pairs


def worded(text: str) -> str:
    """`text` as this run words it (see set_wording)."""
    for old, new in _wording:
        text = text.replace(old, new)
    return text


def line(text: str) -> None:
    """`text` and its newline on stderr in one write, flushed: lines said by
    threads at once never run into each other (print writes the newline
    apart)."""
    stream = sys.stderr
    if stream is not None:
        stream.write(text + "\n")
        stream.flush()


def note(text: str) -> None:
    """`devshell: <text>` on stderr, unless quiet."""
    if _level[0] >= NORMAL:
        line(f"devshell: {worded(text)}")


def warn(text: str) -> None:
    """`devshell: warning: <text>` on stderr, even when quiet."""
    line(f"devshell: warning: {worded(text)}")


def debug(text: str) -> None:
    """`devshell: debug: <text>` on stderr, only when verbose."""
    if _level[0] >= VERBOSE:
        line(f"devshell: debug: {text}")


def progress() -> bool:
    """Whether progress bars may be drawn (never when quiet)."""
    return _level[0] >= NORMAL
