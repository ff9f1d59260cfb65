"""The `deb` format's way of filling a store output (devshell.store.formats).

A package and its closure: every .deb fetched and verified (from the archive
or the security archive, as its lock URL's scheme says), unpacked into one
tree (the package first, then the closure in the lock's order), then relocated
to run from where the output will be once the store renames it into place,
with the other fix-ups the lock names (a Python's build configuration, its
standard library compiled).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from devshell.home import Home
    from devshell.lock import Artifact
    from devshell.net.fetch import Download
    from devshell.sources.locate import Upstreams

__all__ = ["Arriving", "fill"]

_JOBS = 4  # downloads at once, as fetch_all


class Arriving(Sequence[tuple[Path, str]]):
    """The (.deb path, label) of each download, each item ready when its
    download has been verified: the downloads run `_JOBS` at a time from the
    moment the block opens, so the unpacker decompresses the first packages
    while the last still arrive, instead of after all of them. Asking for an
    item waits for its download and raises its error; leaving the block
    cancels what has not started and waits for the rest (nothing keeps
    running behind a failed output)."""

    def __init__(self, home: Home, downloads: Sequence[Download]) -> None:
        self._home = home
        self._downloads = list(downloads)
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(_JOBS, len(self._downloads))))
        self._futures: dict[str, Future[Path]] = {}
        self._failed: BaseException | None = None

    def __enter__(self) -> Arriving:
        from devshell.net.fetch import fetch

        for d in self._downloads:  # a .deb twice in a closure is fetched once
            if d.integrity not in self._futures:
                self._futures[d.integrity] = self._pool.submit(fetch, self._home, d)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __len__(self) -> int:
        return len(self._downloads)

    @overload
    def __getitem__(self, index: int) -> tuple[Path, str]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[Path, str]]: ...
    def __getitem__(self, index: int | slice) -> tuple[Path, str] | Sequence[tuple[Path, str]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if self._failed is not None:
            raise self._failed  # one failed: the rest are not waited for
        d = self._downloads[index]
        try:
            return self._futures[d.integrity].result(), d.label
        except BaseException as exc:
            self._failed = exc
            for f in self._futures.values():
                f.cancel()
            raise


def fill(home: Home, artifact: Artifact, label: str, tmp: Path,
         upstreams: Upstreams) -> None:
    """Fetch the package and every part of its closure (a part already in the
    download cache is taken from there), unpack them all into `tmp`, and
    relocate the programs and libraries to where the output is seen,
    `home.final(artifact.output)`."""
    from devshell.debian import pyconfig, relocate
    from devshell.debian import unpack as debunpack
    from devshell.errors import DevshellError
    from devshell.net.fetch import Download, cached_path
    from devshell.python import bytecode
    from devshell.sources.deb import concrete

    parts = [(label, artifact.url, artifact.integrity, artifact.size)] + [
        (f"{p.name} {p.version}, for {label}", p.url, p.integrity, p.size)
        for p in artifact.closure
    ]
    def where(url: str, sri: str) -> str:
        # Asked even for a cached part: the answer is what the output's
        # manifest records for a repair (`Upstreams.record`), and the security
        # archive may have given only parts the lock already fetched. Only a
        # part that is not cached needs an answer.
        try:
            return concrete(url, upstreams)
        except DevshellError:
            if cached_path(home, sri).exists():
                return url
            raise

    downloads = [Download(where(url, sri), sri, size, what) for what, url, sri, size in parts]
    with Arriving(home, downloads) as debs:
        debunpack.unpack_debs(debs, tmp)
    final = home.final(artifact.output)
    relocate.relocate(tmp, final, [entry for _, entry in artifact.programs()], label)
    if pyconfig.FIXUP in artifact.fixups:
        pyconfig.fix(tmp, final)
    if bytecode.FIXUP in artifact.fixups:
        _compile_pythons(tmp, final, label)


def _compile_pythons(tmp: Path, final: Path, label: str) -> None:
    """Each Python of the closure compiles its own standard library."""
    import re

    from devshell.python import bytecode

    for program in sorted(tmp.glob("usr/bin/python3.*")):
        if re.fullmatch(r"python3\.\d+", program.name) and program.is_file() and not program.is_symlink():
            bytecode.compile_stdlib(bytecode.relocated_command(tmp, final, program), tmp, final, label)
