"""Unpack formats: how each fills a store output, in one table.

The store's write path makes a temporary directory and hands it to the
format's filler, then normalises, writes the manifest, makes it read-only and
renames it into place; the filler only puts files in. Fillers are named
"module:function" and imported when first used, so realising a tar.gz never
imports the Debian code. A third-party package adds its own format through
the entry-point group `devshell.formats` (name = "module:function"), found
even when nothing imported its source (realising a lock imports none); a
module may also `register` one while devshell runs. A built-in format is
never taken over.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from devshell import names
from devshell.errors import StoreError

if TYPE_CHECKING:
    from devshell.home import Home
    from devshell.lock import Artifact
    from devshell.sources.locate import Upstreams

__all__ = ["ENTRY_POINT_GROUP", "REGISTRY", "Filler", "filler", "register"]


class Filler(Protocol):
    def __call__(self, home: Home, artifact: Artifact, label: str, tmp: Path,
                 upstreams: Upstreams, /) -> None:
        """Put the output's files into the empty directory `tmp`, fetching
        what `artifact` names (each download verified against its integrity)
        from `upstreams`. Raise a DevshellError when it cannot: the store
        throws `tmp` away then, so nothing half-made is ever kept."""


ENTRY_POINT_GROUP = "devshell.formats"
_ARCHIVE = "devshell.store.unpack:fill"

# format → "module:function"; modules are imported only when used.
REGISTRY: dict[str, str] = {
    "tar.gz": _ARCHIVE,
    "tgz": _ARCHIVE,
    "tar.xz": _ARCHIVE,
    "tar.bz2": _ARCHIVE,
    "tar.zst": _ARCHIVE,
    "zip": _ARCHIVE,
    "binary": _ARCHIVE,
    "deb": "devshell.debian.fill:fill",
    "cpython": "devshell.sources.cpython.fill:fill",
    "pyenv": "devshell.python.install:fill",
    "npmtree": "devshell.node.install:fill",
}


def register(fmt: str, target: str) -> None:
    """Let `target` ("package.module:function", a `Filler`) fill outputs of
    format `fmt`. Registering the same pair again is harmless; a format
    already filled by something else is refused, so no module can take over
    how another's outputs (or the built-in archives) are made."""
    try:
        names.check_plain(fmt, "unpack format")
    except ValueError as exc:
        raise StoreError(f"cannot register unpack format: {exc}",
                         hint="a format is a plain name such as 'tar.gz' or 'mytool-bundle'"
                         ) from None
    if not _well_formed(target):
        raise StoreError(f"cannot register unpack format {fmt!r}: {target!r} is not "
                         "'package.module:function'",
                         hint="name the function that fills an output, as "
                         "'devshell.store.unpack:fill' does")
    taken = REGISTRY.get(fmt)
    if taken is not None and taken != target:
        raise StoreError(f"cannot register unpack format {fmt!r} for {target}: {fmt!r} is "
                         f"already filled by {taken}",
                         hint="give the new format a name of its own")
    REGISTRY[fmt] = target


def filler(fmt: str, label: str) -> Filler:
    """The function that fills outputs of format `fmt` (for tool `label`):
    the table's, else an installed package's entry point."""
    target = REGISTRY.get(fmt)
    if target is None:
        target = _installed(fmt, label)
    module, _, function = target.partition(":")
    cannot = (f"{label}: unpack format {fmt!r} is filled by {target}, which "
              "cannot be loaded")
    hint = "install or repair the package that adds this format"
    if not _well_formed(target):
        raise StoreError(f"{cannot}: it is not 'package.module:function'", hint=hint)
    try:
        found = getattr(importlib.import_module(module), function, None)
    except ImportError as exc:
        raise StoreError(f"{cannot}: {exc}", hint=hint) from None
    if not callable(found):
        raise StoreError(f"{cannot}: it has no function {function!r}", hint=hint)
    return cast(Filler, found)


def _installed(fmt: str, label: str) -> str:
    """The target an installed package's entry point gives `fmt`."""
    from importlib.metadata import entry_points

    targets = {ep.value for ep in entry_points(group=ENTRY_POINT_GROUP, name=fmt)}
    if len(targets) > 1:
        raise StoreError(f"{label}: unpack format {fmt!r} is claimed by several installed "
                         f"packages: {', '.join(sorted(targets))}",
                         hint="uninstall all but one of them")
    if not targets:
        known = sorted({*REGISTRY, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})
        raise StoreError(f"{label}: unknown unpack format {fmt!r}",
                         hint=f"formats devshell knows: {', '.join(known)}; install the "
                         "package that adds this format, or run `devshell lock`")
    return targets.pop()


def _well_formed(target: str) -> bool:
    module, _, function = target.partition(":")
    steps = module.split(".") if module else []
    return bool(steps) and all(p.isidentifier() for p in steps) and function.isidentifier()
