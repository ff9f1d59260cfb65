"""mise's `mise.toml` / `.mise.toml`: the `[tools]` table, whose values are a
version, a list of versions (the first is the one mise uses), or a table with
`version`. Keys may name a backend (`npm:prettier`); mapping decides those."""

from __future__ import annotations

import tomllib
from typing import Any

from devshell.errors import SpecError
from devshell.imports.found import Found, found

__all__ = ["read"]

_SHAPES = 'mise writes NAME = "1.2", NAME = ["1.2", "1.1"] or NAME = { version = "1.2" }'


def read(text: str, shown: str) -> list[Found]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{shown}: invalid TOML: {exc}", hint="fix the syntax at that line and column") from None
    tools = doc.get("tools", {})
    if not isinstance(tools, dict):
        raise SpecError(f"{shown}: tools: must be a table", hint="mise writes it as [tools]")
    return [found(f"{shown}: tools", name, *_versions(value, f"{shown}: tools.{name}"), _options(value))
            for name, value in tools.items()]


def _options(value: Any) -> tuple[str, ...]:
    return tuple(k for k in value if k != "version") if isinstance(value, dict) else ()


def _versions(value: Any, where: str) -> tuple[str, tuple[str, ...]]:
    if isinstance(value, dict):
        value = value.get("version")
    if isinstance(value, list) and value and all(isinstance(v, str | int) for v in value):
        return str(value[0]), tuple(str(v) for v in value[1:])
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value), ()
    # A float is refused rather than guessed at: 3.10 would read as "3.1".
    raise SpecError(f"{where}: {value!r} is not a version", hint=_SHAPES + ", with the version quoted")
