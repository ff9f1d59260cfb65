"""A stored Python's standard library, compiled once, as the output is made.

Neither Debian's packages (their post-install scripts compile them) nor a
store whose files all carry one fixed mtime give a Python bytecode it will
use: without it, every start compiles what it imports, about 70 ms for
`import json, subprocess`, and a Python run as root writes `__pycache__` into
the read-only store, which `verify` then reports as damage.

So the output's own interpreter compiles its standard library while the
output is still a temp dir, with unchecked-hash pycs (PEP 552: used as they
are, whatever the source's mtime, as an immutable tree wants) that name each
module by its final path. The interpreter is run from the temp dir: a
relocated Debian one through its closure's loader, with the closure's library
directories (its PT_INTERP and RUNPATH name the final paths, which do not
exist yet).

An artifact that records FIXUP gets this; a lock made before it keeps the
bytes it named.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

from devshell.errors import StoreError

__all__ = ["FIXUP", "compile_stdlib", "relocated_command"]

#: The fix-up a lock records: a new scheme is a new name, renaming the outputs.
FIXUP = "python-bytecode-1"
# Directories no program imports from (and whose files need not compile).
_SKIP_DIRS = ("test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__")
_SKIP = r"[/\\](" + "|".join(_SKIP_DIRS) + r")[/\\]"

_log = logging.getLogger(__name__)


def relocated_command(tmp: Path, final: Path, program: Path) -> list[str]:
    """How to start `program`, a relocated ELF under `tmp` that names paths
    under `final`: through its loader, with its RUNPATH, both moved to `tmp`."""
    from devshell.debian import elf

    with open(program, "rb") as f:
        info = elf.read(f)
    if info is None or info.interpreter is None:
        return [str(program)]
    base = os.path.abspath(final)

    def moved(path: str) -> str:
        return str(tmp) + path[len(base):] if path == base or path.startswith(base + "/") else path

    libs = ":".join(moved(p) for p in info.runpath)
    return [moved(info.interpreter), "--library-path", libs, str(program)]


def compile_stdlib(command: list[str], tmp: Path, final: Path, label: str) -> None:
    """Compile every `lib/python3.*` directory under `tmp` with the Python
    `command` starts (itself under `tmp`, to be renamed to `final`).

    The work is shared among one process per core, each given its share of
    the library's entries: compileall's own workers (-j) start
    `sys.executable`, which for a relocated Python names a loader that is not
    in place yet."""
    libdirs = sorted(p for pattern in ("lib/python3.*", "usr/lib/python3.*") for p in tmp.glob(pattern)
                     if p.is_dir() and not p.is_symlink() and (p / "os.py").is_file())
    # A module linked in (Debian's sitecustomize.py) gets its pyc beside the link, where it is imported.
    entries = [e for d in libdirs for e in sorted(d.iterdir())
               if e.suffix == ".py" or (e.is_dir() and not e.is_symlink() and e.name not in _SKIP_DIRS)]
    if not entries:
        return
    shares: list[list[str]] = [[] for _ in range(max(1, min(os.cpu_count() or 1, 8)))]
    for i, entry in enumerate(entries):
        shares[i % len(shares)].append(str(entry))
    env = {"PATH": os.defpath, "LC_ALL": "C.UTF-8"}
    # -S -B: no site (nor its sitecustomize) imported, and no bytecode
    # written for what is imported, which would be timestamp-checked pycs.
    head = [*command, "-I", "-S", "-B", "-m", "compileall", "-q", "-f", "--invalidation-mode", "unchecked-hash",
            "-x", _SKIP, "-s", str(tmp), "-p", os.path.abspath(final)]
    try:
        procs = [subprocess.Popen([*head, *share], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env) for share in shares if share]
        said = [p.communicate(timeout=600) for p in procs]
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StoreError(f"{label}: its python could not compile its standard library: {exc}",
                         hint="the interpreter does not run here; report it") from None
    failed = [(o, e) for p, (o, e) in zip(procs, said, strict=True) if p.returncode]
    if failed and not any(d.glob("__pycache__/os.*.pyc") for d in libdirs):
        out, err = failed[0]
        last = (err.strip() or out.strip() or "no output").splitlines()[-1]
        raise StoreError(f"{label}: its python does not start: {last}",
                         hint="the interpreter does not run on this machine; report it")
    for proc, (out, err) in zip(procs, said, strict=True):
        if proc.returncode:  # a module that does not compile is compiled when imported, if ever
            _log.debug("compileall: %s", out.strip() or err.strip())
