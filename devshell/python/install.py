"""The `pyenv` format's way of filling a store output (devshell.store.formats).

Exactly the wheels the lock names, each fetched (or taken from the download
cache) and checked against its sha256, are installed by PyPA's `installer`
into the layout of devshell.python.layout: no index, no resolver, no code
from a package runs. Each wheel's members are held to the store's archive
rules first, and its RECORD to its contents.
"""

from __future__ import annotations

import os
import zipfile
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
    from devshell.net.fetch import Download, cached_path, fetch_all

    try:
        python = layout.interpreter(artifact.fixups)
    except ValueError as exc:
        raise StoreError(f"{label}: the lock names no usable interpreter: {exc}",
                         hint="run `devshell lock --update` with this devshell") from None
    wheels = [(label, artifact.url, artifact.integrity, artifact.size)] + [
        (f"{p.name} {p.version}, for {label}", p.url, p.integrity, p.size) for p in artifact.closure
    ]
    downloads = [
        Download(url if cached_path(home, sri).exists() else upstreams.concrete(url), sri, size, what)
        for what, url, sri, size in wheels
    ]
    fetched = fetch_all(home, downloads)
    final = home.output(artifact.output)
    program = home.output(python.output) / python.program
    _venv(tmp, program, python, str(home.cache / "pycache"))
    for (what, url, _, _), download in zip(wheels, downloads, strict=True):
        _install(fetched[download.integrity], url.rsplit("/", 1)[-1], what, tmp, final, python)


def _venv(tmp: Path, program: Path, python: layout.Interpreter, cache: str) -> None:
    (tmp / "pyvenv.cfg").write_text(layout.pyvenv_cfg(str(program.parent), python), encoding="utf-8")
    bindir = tmp / "bin"
    bindir.mkdir()
    for name in ("python", "python3", f"python{python.short}"):
        os.symlink(program, bindir / name)
    site = tmp / layout.site_packages(python)
    site.mkdir(parents=True)
    (site / "_devshell_pycache.pth").write_text(layout.pth(cache), encoding="utf-8")


def _install(wheel: Path, filename: str, what: str, tmp: Path, final: Path,
             python: layout.Interpreter) -> None:
    """One wheel into the venv at `tmp`; its scripts run `final`'s python."""
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.exceptions import InstallerError
    from installer.sources import WheelFile

    site = str(tmp / layout.site_packages(python))
    destination = SchemeDictionaryDestination(
        scheme_dict={"purelib": site, "platlib": site, "scripts": str(tmp / "bin"), "data": str(tmp),
                     "headers": str(tmp / "include" / "site" / f"python{python.short}")},
        interpreter=str(final / "bin" / "python3"),
        script_kind="posix",
    )
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                _check_members(wheel, archive, filename)
            except StoreError as exc:  # it names the download cache's file: name the wheel
                raise type(exc)(f"{what}: {filename}: {exc.message}", hint=exc.hint) from None
            # installer reads the project and version from the file's name;
            # the download cache names files by hash.
            archive.filename = filename
            source = WheelFile(archive)
            source.validate_record()
            install(source, destination, additional_metadata={"INSTALLER": b"devshell\n"})
    except (zipfile.BadZipFile, InstallerError, ValueError, KeyError, OSError) as exc:
        raise StoreError(f"{what}: {filename} cannot be installed: {exc}",
                         hint="the wheel is malformed or clashes with another of the "
                         "closure; nothing was kept") from None


def _check_members(wheel: Path, archive: zipfile.ZipFile, filename: str) -> None:
    """The store's archive rules (names, sizes, how many), and no member that
    is not a file or a directory: a wheel holds nothing else."""
    import stat

    from devshell.store import members

    infos = archive.infolist()
    if len(infos) > members.max_members():
        raise members.too_many(wheel, members.max_members())
    found = []
    for info in infos:
        unix = info.external_attr >> 16
        if info.flag_bits & 0x1:
            raise StoreError(f"{filename}: member {info.filename!r} is encrypted")
        kind = "dir" if info.is_dir() else "file" if stat.S_IFMT(unix) in (0, stat.S_IFREG) else "other"
        found.append(members.Member(info.filename, kind, stat.S_IMODE(unix) or None,
                                    info.file_size if kind == "file" else 0))
    members.plan(wheel, found, 0, members.DEFAULT_MAX_BYTES, members.max_members())
