"""The archive formats devshell unpacks, and the file suffixes that name them.

Apart from the unpacker (devshell.store.unpack) so that checking a spec's
`format` or guessing one from a URL imports no decoder: reading a spec is on
every command's path, unpacking only on a cold one.
"""

from __future__ import annotations

__all__ = ["FORMATS", "detect_format"]

#: The archive formats `unpack` reads (devshell.store.formats maps each to `fill`).
FORMATS = ("tar.gz", "tgz", "tar.xz", "tar.bz2", "tar.zst", "zip", "binary")

_SUFFIXES = {".tar.gz": "tar.gz", ".tgz": "tgz", ".tar.xz": "tar.xz", ".txz": "tar.xz",
             ".tar.bz2": "tar.bz2", ".tbz2": "tar.bz2", ".tar.zst": "tar.zst",
             ".tzst": "tar.zst", ".zip": "zip"}


def detect_format(url_or_name: str) -> str:
    """The format a file name or URL's suffix names; "binary" when none does."""
    name = url_or_name.split("?", 1)[0].split("#", 1)[0].lower()
    return next((f for s, f in _SUFFIXES.items() if name.endswith(s)), "binary")
