"""Install verified wheels into a venv: the worker behind the `pyenv` format.

`devshell.python.install` runs this module as a process of its own
(`python -m devshell.python.wheelinstall`, the job as JSON on standard input),
so that environments realised side by side unpack on separate cores instead of
taking turns on one interpreter's lock. On failure it prints one JSON object,
`{"kind": …, "message": …, "hint": …}` (kind: the error's class), and exits 1.

Each wheel's members are held to the store's archive rules first, its RECORD
must name every member, and PyPA's `installer` writes it. RECORD's hashes are
checked against the bytes installer writes, as it hashes them anyway: a wheel
is read once, not once to check and again to install.
"""

from __future__ import annotations

import json
import stat
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.records import RecordEntry, parse_record_file
from installer.sources import WheelFile

from devshell.errors import DevshellError, StoreError

if TYPE_CHECKING:
    import os

    from installer.utils import Scheme

__all__ = ["install_wheels", "main"]

#: The schemes a wheel's root may go to (its WHEEL says which): both are the
#: venv's site-packages, and RECORD names their files by their own paths.
_ROOT = ("purelib", "platlib")


def install_wheels(job: dict[str, Any]) -> None:
    """Every wheel of `job["wheels"]` ([path, filename, what] each) into the
    venv whose directories `job` names; scripts run `job["interpreter"]`."""
    scheme_dict = {"purelib": job["site"], "platlib": job["site"], "scripts": job["bin"],
                   "data": job["data"], "headers": job["headers"]}
    for path, filename, what in job["wheels"]:
        _install(Path(path), filename, what, scheme_dict, job["interpreter"])


class _Checked(SchemeDictionaryDestination):
    """installer's destination, holding every file it writes to the hash and
    size the wheel's RECORD gives it (scripts aside: installer rewrites their
    shebang, so their bytes are meant to differ)."""

    expected: dict[tuple[str, str], RecordEntry]

    def write_file(self, scheme: Scheme, path: str | os.PathLike[str], stream: BinaryIO,
                   is_executable: bool) -> RecordEntry:
        written = super().write_file(scheme, path, stream, is_executable)
        want = self.expected.get(("root" if scheme in _ROOT else scheme, str(path)))
        if scheme == "scripts" or want is None or want.hash_ is None or written.hash_ is None:
            return written
        if want.hash_.name == written.hash_.name and (
                want.hash_.value != written.hash_.value or want.size not in (None, written.size)):
            raise StoreError(f"{want.path}: its bytes are not what the wheel's RECORD says")
        return written


def _expected(source: WheelFile) -> dict[tuple[str, str], RecordEntry]:
    """The wheel's RECORD, keyed as installer will write each file: (scheme,
    path in it), a root file under "root"."""
    entries = {}
    prefix = source.data_dir + "/"
    for elements in parse_record_file(source.read_dist_info("RECORD").splitlines()):
        entry = RecordEntry.from_elements(*elements)
        if entry.path.startswith(prefix):
            scheme, _, inner = entry.path[len(prefix):].partition("/")
            entries[(scheme, inner)] = entry
        else:
            entries[("root", entry.path)] = entry
    return entries


def _install(wheel: Path, filename: str, what: str, scheme_dict: dict[str, str], interpreter: str) -> None:
    try:
        with zipfile.ZipFile(wheel) as archive:
            _check_members(wheel, archive, filename)
            # installer reads the project and version from the file's name;
            # the download cache names files by hash.
            archive.filename = filename
            source = WheelFile(archive)
            # Names only: the contents are checked as they are written.
            source.validate_record(validate_contents=False)
            destination = _Checked(scheme_dict=scheme_dict, interpreter=interpreter, script_kind="posix")
            destination.expected = _expected(source)
            install(source, destination, additional_metadata={"INSTALLER": b"devshell\n"})
    except StoreError as exc:  # it may name the download cache's file: name the wheel
        raise type(exc)(f"{what}: {filename}: {exc.message.replace(str(wheel), filename)}",
                        hint=exc.hint or "the wheel is damaged; nothing was kept") from None
    except (zipfile.BadZipFile, InstallerError, ValueError, KeyError, OSError) as exc:
        raise StoreError(f"{what}: {filename} cannot be installed: {exc}",
                         hint="the wheel is malformed or clashes with another of the "
                         "closure; nothing was kept") from None


def _check_members(wheel: Path, archive: zipfile.ZipFile, filename: str) -> None:
    """The store's archive rules (names, sizes, how many), and no member that
    is not a file or a directory: a wheel holds nothing else."""
    from devshell.store import members

    infos = archive.infolist()
    if len(infos) > members.max_members():
        raise members.too_many(wheel, members.max_members())
    found = []
    for info in infos:
        unix = info.external_attr >> 16
        if info.flag_bits & 0x1:
            raise StoreError(f"member {info.filename!r} is encrypted")
        kind = "dir" if info.is_dir() else "file" if stat.S_IFMT(unix) in (0, stat.S_IFREG) else "other"
        found.append(members.Member(info.filename, kind, stat.S_IMODE(unix) or None,
                                    info.file_size if kind == "file" else 0))
    members.plan(wheel, found, 0, members.DEFAULT_MAX_BYTES, members.max_members())


def main() -> int:
    try:
        install_wheels(json.load(sys.stdin))
    except DevshellError as exc:
        print(json.dumps({"kind": type(exc).__name__, "message": exc.message, "hint": exc.hint}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
