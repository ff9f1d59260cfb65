"""Files that pin one tool: `.nvmrc` and `.node-version` (node), and
`.python-version` (pyenv: python; it may list several versions, one a line,
of which the first is the one pyenv puts first on PATH)."""

from __future__ import annotations

from collections.abc import Callable

from devshell.errors import SpecError
from devshell.imports.found import Found, found

__all__ = ["NODE", "PYTHON", "reader"]


def reader(tool: str) -> Callable[[str, str], list[Found]]:
    def read(text: str, shown: str) -> list[Found]:
        lines = [(n, line.split("#", 1)[0].strip()) for n, line in enumerate(text.splitlines(), 1)]
        lines = [(n, line) for n, line in lines if line]
        if not lines:
            raise SpecError(f"{shown}: names no {tool} version", hint="write the version on its first line")
        number, first = lines[0]
        if len(first.split()) > 1:
            raise SpecError(f"{shown}:{number}: {first!r} is not one version",
                            hint="these files hold one version a line")
        return [found(f"{shown}:{number}", tool, first, tuple(line for _, line in lines[1:]))]

    return read


NODE = reader("node")
PYTHON = reader("python")
