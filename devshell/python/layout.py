"""The shape of a Python environment output, and how its artifact names the
interpreter it runs on.

An environment is a venv: `pyvenv.cfg` (whose `home` CPython reads at
start-up, python-build-standalone's builds and Debian's relocated python3
alike), `bin/python3` linking the `python` tool's store output, the wheels in
`lib/python3.X/site-packages`, and the scripts in `bin/`, whose shebang is the
venv's own `bin/python3`: started through it, CPython finds `pyvenv.cfg` and
the environment's site-packages, and nothing (no PYTHONPATH) has to be set.

The interpreter is part of the artifact's `fixups` (so of its output's name):
its output, where its program lies in it, and its version. Fix-ups are plain
names, so a path's `/` is written `+` (`python-bin+bin+python3`).

The store is read-only, and a Python never finds bytecode there it did not
compile itself; it would try to write `__pycache__` beside every module (and
succeed as root, changing an output that `verify` then finds damaged). A
`.pth` line points the environment's bytecode cache at devshell's cache
directory instead, where the next start finds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from devshell import names

__all__ = ["LAYOUT", "Interpreter", "fixups", "interpreter", "pth", "pyvenv_cfg", "site_packages"]

#: The install recipe's version: part of every environment output's name.
LAYOUT = "pyenv-1"
_OUTPUT, _BIN, _VERSION = "python+", "python-bin+", "python-version+"


@dataclass(frozen=True)
class Interpreter:
    """The store Python an environment runs on."""

    output: str  # its store output's name
    program: str  # the interpreter's path inside that output, e.g. bin/python3
    version: tuple[int, int, int]

    @property
    def short(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


def fixups(python: Interpreter) -> tuple[str, ...]:
    """What an environment artifact records about its interpreter."""
    return (LAYOUT, _OUTPUT + python.output, _BIN + python.program.replace("/", "+"),
            _VERSION + ".".join(map(str, python.version)))


def interpreter(recorded: tuple[str, ...]) -> Interpreter:
    """The interpreter an environment artifact's fix-ups name; ValueError
    when they name none, or something that is not one."""
    if LAYOUT not in recorded:
        raise ValueError(f"its fix-ups {list(recorded)} do not include {LAYOUT!r}: "
                         "a newer devshell wrote it")
    found = {}
    for prefix in (_OUTPUT, _BIN, _VERSION):
        values = [f[len(prefix):] for f in recorded if f.startswith(prefix)]
        if len(values) != 1:
            raise ValueError(f"its fix-ups name {len(values)} {prefix.rstrip('+')!r}, not one")
        found[prefix] = values[0]
    output = names.check_output_name(found[_OUTPUT])
    program = names.check_inner_path(found[_BIN].replace("+", "/"), "the interpreter's path")
    try:
        major, minor, micro = (int(p) for p in found[_VERSION].split("."))
    except ValueError:
        raise ValueError(f"python-version {found[_VERSION]!r} is not X.Y.Z") from None
    return Interpreter(output, program, (major, minor, micro))


def site_packages(python: Interpreter) -> str:
    return f"lib/python{python.short}/site-packages"


def pyvenv_cfg(home: str, python: Interpreter) -> str:
    """`home` is the directory of the interpreter's program in its output."""
    return (f"home = {home}\ninclude-system-site-packages = false\n"
            f"version = {'.'.join(map(str, python.version))}\n")


def pth(cache: str) -> str:
    """One line that site runs at start-up: bytecode goes to `cache` (unless
    PYTHONPYCACHEPREFIX or -X pycache_prefix chose somewhere already)."""
    return f"import sys; sys.pycache_prefix = sys.pycache_prefix or {cache!r}\n"
