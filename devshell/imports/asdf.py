"""asdf's `.tool-versions`: `NAME VERSION [FALLBACK…]` a line, `#` comments."""

from __future__ import annotations

from devshell.errors import SpecError
from devshell.imports.found import Found, found

__all__ = ["read"]


def read(text: str, shown: str) -> list[Found]:
    pins = []
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        where = f"{shown}:{number}"
        if len(words) < 2:
            raise SpecError(f"{where}: {words[0]!r} has no version",
                            hint="asdf writes one tool a line: NAME VERSION [FALLBACK…]")
        pins.append(found(where, words[0], words[1], tuple(words[2:])))
    return pins
