"""File hashes taken while an output's files are written, so its manifest
need not read them all again.

The store's write path opens a `recording()` around filling a temp dir. The
archive formats' filler (devshell.store.unpack.fill), which writes nothing
after unpacking, hands the `current()` recording to the archive writer, which
adds each file it writes with the sha256 of the bytes it wrote. Nothing else
records: an `unpack` called by another filler (which may patch what it
unpacked) is hashed from disk. `build_manifest` takes a recorded hash only for
a file whose inode, size and mtime are still those recorded, else it reads
the file. The recording lives in a ContextVar, so it reaches the archive
filler without changing the filler protocol, and ends with the build that
opened it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Digests", "current", "recording"]


class Digests:
    """sha256 (hex) of files, keyed by what identifies their bytes on disk."""

    def __init__(self) -> None:
        self._by_inode: dict[tuple[int, int], tuple[int, int, str]] = {}

    def add(self, fd: int, sha256: str) -> None:
        """The file open as `fd`, fully written, holds bytes hashing to `sha256`."""
        st = os.fstat(fd)
        self._by_inode[(st.st_dev, st.st_ino)] = (st.st_size, st.st_mtime_ns, sha256)

    def get(self, st: os.stat_result) -> str | None:
        """The recorded hash of the file `st` describes, if it is unchanged since."""
        found = self._by_inode.get((st.st_dev, st.st_ino))
        if found is None or found[:2] != (st.st_size, st.st_mtime_ns):
            return None
        return found[2]


_current: ContextVar[Digests | None] = ContextVar("devshell_store_digests", default=None)


@contextmanager
def recording() -> Iterator[Digests]:
    """A recording that `current()` gives the fillers run in this context,
    until the block ends."""
    digests = Digests()
    token = _current.set(digests)
    try:
        yield digests
    finally:
        _current.reset(token)


def current() -> Digests | None:
    """The recording the store's write path opened around this fill, if any."""
    return _current.get()
