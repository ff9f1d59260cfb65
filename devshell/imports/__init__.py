"""Importing another tool's pins: asdf's `.tool-versions`, mise's
`mise.toml`, devbox's `devbox.json`, `.nvmrc`, `.node-version` and
`.python-version`, each read by one module and chosen by the file's name
(`FORMATS`), then mapped to devshell's catalogue (`mapping`, `aliases`).
`devshell init --from FILE` uses it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devshell.errors import SpecError, UsageError
from devshell.imports import asdf, devbox, mise, single
from devshell.imports.found import Found
from devshell.imports.mapping import Imported, imported

__all__ = ["FORMATS", "Imported", "read"]

Reader = Callable[[str, str], list[Found]]

#: A file's name → the module that reads it.
FORMATS: dict[str, Reader] = {
    ".tool-versions": asdf.read,
    "mise.toml": mise.read,
    ".mise.toml": mise.read,
    "mise.local.toml": mise.read,
    ".mise.local.toml": mise.read,
    "devbox.json": devbox.read,
    ".nvmrc": single.NODE,
    ".node-version": single.NODE,
    ".python-version": single.PYTHON,
}


def read(path: Path) -> Imported:
    """The pins of `path`, mapped; a SpecError naming the file (and the line,
    where the format has lines) when it cannot be read."""
    reader = FORMATS.get(path.name)
    if reader is None:
        raise UsageError(f"{path}: devshell does not know how to import this file",
                         hint="it imports files named " + ", ".join(FORMATS))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start})", hint="is this the file you meant?") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read it: {exc.strerror or exc}",
                        hint="name a file that exists and that you can read") from None
    return imported(reader(text, str(path)))
