"""The `pyenv` format's way of filling a store output (devshell.store.formats).

Exactly the wheels the lock names, each fetched (or taken from the download
cache) and checked against its sha256, are installed by PyPA's `installer`
into the layout of devshell.python.layout: no index, no resolver, no code
from a package runs. The installing is done by devshell.python.wheelinstall
in a process of its own: environments realised side by side (the store fills
outputs in threads) then use every core, not one interpreter's lock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from devshell.errors import StoreError
from devshell.python import layout

if TYPE_CHECKING:
    from devshell.home import Home
    from devshell.lock import Artifact
    from devshell.sources.locate import Upstreams

__all__ = ["fill"]


def fill(home: Home, artifact: Artifact, label: str, tmp: Path,
         upstreams: Upstreams) -> None:
    """Make `tmp` a venv on the interpreter the artifact's fix-ups name, with
    the tool's wheel and every wheel of its closure installed, its scripts
    pointing at where the output will be once the store renames it."""
    from devshell.net.fetch import Download, fetch_all

    try:
        python = layout.interpreter(artifact.fixups)
    except ValueError as exc:
        raise StoreError(f"{label}: the lock names no usable interpreter: {exc}",
                         hint="run `devshell lock --update` with this devshell") from None
    wheels = [(label, artifact.url, artifact.integrity, artifact.size)] + [
        (f"{p.name} {p.version}, for {label}", p.url, p.integrity, p.size) for p in artifact.closure
    ]
    # Each wheel's URL is looked up by the thread that downloads it, and only
    # if it is not cached: a closure's index pages are read side by side.
    downloads = [Download(url, sri, size, what) for what, url, sri, size in wheels]
    fetched = fetch_all(home, downloads, locate=upstreams.concrete)
    final = home.final(artifact.output)
    program = home.final(python.output) / python.program
    _venv(tmp, program, python, str(home.final_root / "cache" / "pycache"))
    _run_worker({
        "site": str(tmp / layout.site_packages(python)), "bin": str(tmp / "bin"), "data": str(tmp),
        "headers": str(tmp / "include" / "site" / f"python{python.short}"),
        "interpreter": str(final / "bin" / "python3"),
        "wheels": [(str(fetched[d.integrity]), url.rsplit("/", 1)[-1], what)
                   for (what, url, _, _), d in zip(wheels, downloads, strict=True)],
    }, label)


def _run_worker(job: dict[str, object], label: str) -> None:
    """devshell.python.wheelinstall on `job`, with this interpreter and this
    devshell; its error, if any, raised here as the same kind of error.

    Isolated (-I): no PYTHON* variable or user site of the project's shell
    reaches it. This devshell's own directory goes last on its path, for a
    devshell that is importable only through PYTHONPATH."""
    from devshell import errors

    package_root = str(Path(__file__).resolve().parents[2])
    code = ("import sys; sys.path.append(sys.argv[1]); "
            "from devshell.python.wheelinstall import main; sys.exit(main())")
    proc = subprocess.run([sys.executable, "-I", "-c", code, package_root], input=json.dumps(job),
                          capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return
    try:
        said = json.loads(proc.stdout)
        kind = {"UnsafeArchiveError": errors.UnsafeArchiveError,
                "UsageError": errors.UsageError}.get(said["kind"], errors.StoreError)
        raise kind(str(said["message"]), hint=said.get("hint"))
    except (ValueError, KeyError, TypeError):
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise errors.StoreError(f"{label}: installing its wheels failed: {last}",
                                hint="run again with DEVSHELL_DEBUG=1 and report it") from None


def _venv(tmp: Path, program: Path, python: layout.Interpreter, cache: str) -> None:
    (tmp / "pyvenv.cfg").write_text(layout.pyvenv_cfg(str(program.parent), python), encoding="utf-8")
    bindir = tmp / "bin"
    bindir.mkdir()
    for name in ("python", "python3", f"python{python.short}"):
        os.symlink(program, bindir / name)
    site = tmp / layout.site_packages(python)
    site.mkdir(parents=True)
    (site / "_devshell_pycache.pth").write_text(layout.pth(cache), encoding="utf-8")
