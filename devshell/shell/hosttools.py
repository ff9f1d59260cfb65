"""`shell.host-tools`: host programs a pure shell lets through, by name or
by preset (`"@posix"`).

A preset names the programs a shell session and everyday scripts take for
granted. They come from the host's PATH as found when the project is
realised, so they are impure, and `status` reports them as host tools are.
A preset's program the host lacks is skipped quietly; a program named on its
own is warned about.

`@posix`: the POSIX utilities people reach for at a prompt and in Makefiles,
git hooks and `#!/bin/sh` scripts (files, text, processes, the shell itself),
plus a few near-universal companions POSIX leaves out (mktemp, readlink,
realpath, stat, which). No editors, pagers, compilers, network or version
control tools: those are pinned, or named one by one.
"""

from __future__ import annotations

from devshell import names

__all__ = ["PRESETS", "check", "programs"]

PRESETS: dict[str, tuple[str, ...]] = {
    "posix": (
        "awk", "basename", "cat", "chgrp", "chmod", "chown", "cksum", "cmp", "comm", "cp",
        "cut", "date", "dd", "df", "diff", "dirname", "du", "echo", "env", "expand", "expr",
        "false", "find", "fold", "getconf", "grep", "head", "id", "join", "kill", "ln",
        "logname", "ls", "mkdir", "mkfifo", "mktemp", "mv", "nice", "nl", "nohup", "od",
        "paste", "pathchk", "printf", "pwd", "readlink", "realpath", "rm", "rmdir", "sed",
        "sh", "sleep", "sort", "split", "stat", "tail", "tee", "test", "touch", "tr", "true",
        "tsort", "tty", "uname", "unexpand", "uniq", "wc", "which", "xargs",
    ),
}


def check(value: object, what: str) -> str:
    """One `host-tools` entry: a plain program name, or `@` and a preset's name."""
    if isinstance(value, str) and value.startswith("@"):
        if value[1:] not in PRESETS:
            known = ", ".join("@" + p for p in sorted(PRESETS))
            raise ValueError(f"{what} {value!r} is not a preset (presets: {known})")
        return value
    return names.check_plain(value, what)


def programs(entries: tuple[str, ...]) -> dict[str, bool]:
    """Each program the entries name, once, in order, mapped to whether it
    was named on its own (a preset's may be missing from a host)."""
    out: dict[str, bool] = {}
    for entry in entries:
        check(entry, "shell.host-tools entry")
        if entry.startswith("@"):
            for name in PRESETS[entry[1:]]:
                out.setdefault(name, False)
        else:
            out[entry] = True
    return out
