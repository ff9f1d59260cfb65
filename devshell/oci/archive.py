"""OCI layouts as single tar files, reproducible and unpacked with suspicion.

`write_tar` gives bytes that depend only on the layout's content (sorted
entries, mtime 0, owner 0:0 with no names, fixed modes); `extract_tar` takes
only a layout's own members and refuses the whole archive otherwise.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from devshell.oci.layout import CHUNK, Layout
from devshell.oci.model import INDEX_FILE, LAYOUT_FILE, LayoutError, is_digest

__all__ = ["extract_tar", "write_tar"]


def write_tar(layout: Layout, dest: Path, extra: Mapping[str, bytes] | None = None) -> None:
    """Pack `layout` as a tar at `dest`, written beside it and renamed, so
    `dest` is whole or absent. `extra` adds files at the top (a docker-archive's
    `manifest.json`), in the same reproducible form."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name in ("blobs", "blobs/sha256"):
                    tar.addfile(_tar_entry(name, tarfile.DIRTYPE, 0o755, 0))
                for digest in layout.blob_digests():
                    _add_file(tar, "blobs/sha256/" + digest[7:], layout.blob_path(digest))
                tops = {name: (layout.root / name).read_bytes() for name in (INDEX_FILE, LAYOUT_FILE)}
                for name, data in sorted({**tops, **(extra or {})}.items()):
                    tar.addfile(_tar_entry(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        tar.addfile(_tar_entry(name, tarfile.REGTYPE, 0o644, size), f)


def _tar_entry(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size = kind, mode, size
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def _layout_member(name: str) -> bool:
    parts = name.removeprefix("./").rstrip("/").split("/")
    if parts in (["blobs"], ["blobs", "sha256"], [INDEX_FILE], [LAYOUT_FILE]):
        return True
    return len(parts) == 3 and parts[:2] == ["blobs", "sha256"] and is_digest(
        "sha256:" + parts[2])


def extract_tar(archive: Path, dest: Path) -> Layout:
    """Unpack a layout tar (as `write_tar` writes) into the new directory `dest`.

    Only a layout's own members are accepted (`oci-layout`, `index.json`,
    `blobs/sha256/<hex>` regular files and their directories); anything else
    (links, devices, other paths) refuses the whole archive, and `dest` is
    not left behind half-written.
    """
    if dest.exists():
        raise LayoutError(f"{dest} already exists", hint="pass a path that does not exist yet")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        try:
            with tarfile.open(archive, mode="r:*") as tar:
                _copy_members(tar, archive, staging)
        except (OSError, tarfile.TarError) as exc:
            raise LayoutError(f"cannot read {archive} as an OCI layout archive: {exc}") from exc
        Layout.open(staging)
        os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Layout(dest)


def _copy_members(tar: tarfile.TarFile, archive: Path, staging: Path) -> None:
    for member in tar:
        if not (member.isdir() or member.isreg()) or not _layout_member(member.name):
            raise LayoutError(f"{archive}: {member.name!r} is not part of an OCI image layout",
                              hint="only oci-layout, index.json and blobs/sha256/<digest> "
                              "files are accepted")
        target = staging / member.name.removeprefix("./").rstrip("/")
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        src = tar.extractfile(member)
        if src is None:
            raise LayoutError(f"{archive}: cannot read member {member.name!r}")
        with src, target.open("xb") as out:
            shutil.copyfileobj(src, out, CHUNK)
