"""What a reader finds in another tool's file: one pin, where it was, and the
versions it lists beyond the first. Readers parse; devshell.imports.mapping
decides what each pin becomes."""

from __future__ import annotations

from dataclasses import dataclass

from devshell.errors import SpecError

__all__ = ["Found", "found"]


@dataclass(frozen=True)
class Found:
    where: str  # ".tool-versions:3", "mise.toml: tools": what a note starts with
    name: str  # as the file names it: "nodejs", "npm:prettier", "python311"
    version: str  # the first version it gives; "" when it gives none
    dropped: tuple[str, ...] = ()  # fallbacks and further versions, not imported
    options: tuple[str, ...] = ()  # the entry's other settings (mise's virtualenv), not imported


def found(where: str, name: str, version: str, dropped: tuple[str, ...] = (),
          options: tuple[str, ...] = ()) -> Found:
    """A Found whose every field prints as plain text: a file that puts
    control characters (a terminal's escape sequences) or line breaks in a
    name or a version is refused, since the notes echo them."""
    for what, value in (("name", name), ("version", version), *(("version", d) for d in dropped),
                        *(("option", o) for o in options)):
        if not value.isprintable() or (value and value != value.strip()):
            raise SpecError(f"{where}: the {what} {value!r} holds characters no {what} has",
                            hint="fix that entry, or remove it, and run this again")
    if not name:
        raise SpecError(f"{where}: an entry names no tool", hint="fix that entry, or remove it")
    return Found(where, name, version, dropped, options)
