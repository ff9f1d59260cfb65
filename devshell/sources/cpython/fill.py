"""The `cpython` unpack format: python-build-standalone's archive, unpacked as
the tar.gz format does, with `venv` recording where the interpreter really is.

A shell runs `python` through the profile's link, and `python -m venv`
records the link's directory as the venv's `home` (pyvenv.cfg), where CPython
3.11 to 3.13 cannot find the standard library: the venv's python, ensurepip
first (venv starts it without PYTHONHOME), fails to start (the vendor's issue
380). venv is made to record the real directory, in the store, as Debian's
relocated Pythons are (devshell.debian.pyconfig), so the venv works in the
shell and outside it, and no PYTHONHOME is set.

An artifact of this format records FIXUP (part of its output's name), and
newer ones devshell.python.bytecode's: the standard library compiled by the
build's own interpreter.
"""

from __future__ import annotations

import glob
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devshell.home import Home
    from devshell.lock import Artifact
    from devshell.sources.locate import Upstreams

__all__ = ["FIXUP", "FORMAT", "fill"]

FORMAT = "cpython"
#: What filling does beyond unpacking: a new scheme is a new name, renaming the outputs.
FIXUP = "venv-realpath-1"
# Where venv (3.11 to 3.13, at least) takes the home it records.
_VENV_HOME = "os.path.split(os.path.abspath(executable))"


def fill(home: Home, artifact: Artifact, label: str, tmp: Path, upstreams: Upstreams) -> None:
    """Unpack the archive into `tmp`, then point venv at real paths."""
    from devshell.python import bytecode
    from devshell.store import formats

    formats.filler("tar.gz", label)(home, replace(artifact, format="tar.gz"), label, tmp, upstreams)
    for name in sorted(glob.glob("lib/python3*/venv/__init__.py", root_dir=tmp)):
        path = tmp / name
        if path.is_symlink() or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if text.count(_VENV_HOME) == 1:  # only where the line is what it is known to be
            mode = path.stat().st_mode
            path.chmod(mode | 0o200)
            path.write_text(text.replace(_VENV_HOME, _VENV_HOME.replace("abspath", "realpath")), encoding="utf-8")
            path.chmod(mode)
    if bytecode.FIXUP in artifact.fixups:
        final = home.final(artifact.output)
        bytecode.compile_stdlib([str(tmp / "bin" / "python3")], tmp, final, label)
