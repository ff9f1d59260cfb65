"""The `deb` format's way of filling a store output (devshell.store.formats).

A package and its closure: every .deb fetched and verified (from the archive
or the security archive, as its lock URL's scheme says), unpacked into one
tree (the package first, then the closure in the lock's order), then relocated
to run from where the output will be once the store renames it into place,
with the other fix-ups the lock names (a Python's build configuration, its
standard library compiled).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devshell.home import Home
    from devshell.lock import Artifact
    from devshell.sources.locate import Upstreams

__all__ = ["fill"]


def fill(home: Home, artifact: Artifact, label: str, tmp: Path,
         upstreams: Upstreams) -> None:
    """Fetch the package and every part of its closure (a part already in the
    download cache is taken from there), unpack them all into `tmp`, and
    relocate the programs and libraries to where the output is seen,
    `home.final(artifact.output)`."""
    from devshell.debian import pyconfig, relocate
    from devshell.debian import unpack as debunpack
    from devshell.errors import DevshellError
    from devshell.net.fetch import Download, fetch_all, present
    from devshell.python import bytecode
    from devshell.sources.deb import concrete

    parts = [(label, artifact.url, artifact.integrity, artifact.size)] + [
        (f"{p.name} {p.version}, for {label}", p.url, p.integrity, p.size)
        for p in artifact.closure
    ]
    def where(url: str, sri: str, size: int | None, what: str) -> str:
        # Asked even for a cached part: the answer is what the output's
        # manifest records for a repair (`Upstreams.record`), and the security
        # archive may have given only parts the lock already fetched. Only a
        # part that is not cached needs an answer.
        try:
            return concrete(url, upstreams)
        except DevshellError:
            if present(home, sri, size, what):
                return url
            raise

    downloads = [Download(where(url, sri, size, what), sri, size, what) for what, url, sri, size in parts]
    debs = fetch_all(home, downloads)
    debunpack.unpack_debs([(debs[d.integrity], d.label) for d in downloads], tmp)
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
