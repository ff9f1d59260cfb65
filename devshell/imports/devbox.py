"""Jetify devbox's `devbox.json`: `packages`, a list of `NAME@VERSION` (a bare
NAME leaves the version to devbox's pinned nixpkgs) or a table of NAME to a
version or to `{ "version": … }`. Names are nixpkgs attributes."""

from __future__ import annotations

import json
from typing import Any

from devshell.errors import SpecError
from devshell.imports.found import Found, found

__all__ = ["read"]

_SHAPES = 'devbox writes "packages": ["NAME@VERSION", …] or "packages": {"NAME": "VERSION", …}'


def read(text: str, shown: str) -> list[Found]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{shown}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})",
                        hint="fix the syntax at that line and column") from None
    if not isinstance(doc, dict):
        raise SpecError(f"{shown}: not a devbox.json: the document is not an object", hint=_SHAPES)
    packages: Any = doc.get("packages", [])
    where = f"{shown}: packages"
    if isinstance(packages, list):
        pins = []
        for index, item in enumerate(packages):
            if not isinstance(item, str):
                raise SpecError(f"{where}[{index}]: {item!r} is not NAME@VERSION", hint=_SHAPES)
            name, at, version = item.rpartition("@")
            pins.append(found(where, name, version) if at else found(where, item, ""))
        return pins
    if isinstance(packages, dict):
        return [found(where, name, _version(value, f"{where}.{name}"), (), _options(value))
                for name, value in packages.items()]
    raise SpecError(f"{where}: must be a list or an object", hint=_SHAPES)


def _options(value: Any) -> tuple[str, ...]:
    return tuple(k for k in value if k != "version") if isinstance(value, dict) else ()


def _version(value: Any, where: str) -> str:
    if isinstance(value, dict):
        value = value.get("version", "")
    if not isinstance(value, str):
        raise SpecError(f"{where}: {value!r} is not a version", hint=_SHAPES)
    return value
