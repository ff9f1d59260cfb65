"""Image layers: one store output as one reproducible tar, and a cache of them.

A layer's bytes depend only on the files it holds and the path it puts them
at: entries sorted, every parent directory written, owner 0:0 with no names,
mtime 1 (the store's own), modes from what the store allows (directories and
programs 0555, other files 0444, links 0777), hard links inside an output as
tar hard links. Layers are uncompressed: the digest is then a function of
these bytes alone, whereas a gzip stream also depends on the zlib build that
wrote it (zlib, zlib-ng and the vendor forks deflate the same input
differently), which would break "the same lock gives the same digest on any
machine". Registries and `docker load` take uncompressed layers as they are.

An output never changes once stored, so its layer is made once and kept in
a layout of its own (`LayerCache`), named by the output; images then link it.
"""

from __future__ import annotations

import json
import os
import stat
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from devshell import atomic
from devshell.home import confined
from devshell.oci.layout import CHUNK, BlobWriter, Layout
from devshell.oci.model import MEDIA_TYPE_LAYER, Descriptor, LayoutError

__all__ = ["MTIME", "LayerCache", "directory_entry", "link_entry", "write_layer"]

MTIME = 1  # the store's own fixed mtime (devshell.store), like Nix's images


def directory_entry(name: str, mode: int = 0o755) -> tarfile.TarInfo:
    """A directory's tar header, as every layer writes it."""
    return _entry(name, tarfile.DIRTYPE, mode)


def link_entry(name: str, target: str) -> tarfile.TarInfo:
    """A symlink's tar header, as every layer writes it."""
    return _entry(name, tarfile.SYMTYPE, 0o777, link=target)


def _entry(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, link
    info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "", ""
    return info


class _Sink:
    """A file object tarfile writes into: the blob being hashed."""

    def __init__(self, blob: BlobWriter) -> None:
        self.blob = blob

    def write(self, data: bytes) -> int:
        return self.blob.write(bytes(data))

    def tell(self) -> int:
        return self.blob.size


def write_layer(layout: Layout, parents: Sequence[str], at: str, tree: Path | None,
                extra: Sequence[tarfile.TarInfo] = ()) -> Descriptor:
    """Stream a layer into `layout`: the directories `parents` (0755), `tree`'s
    contents under the directory `at` (when `tree` is given), then `extra`
    entries (empty directories and symlinks only), all sorted by name."""
    with layout.writer() as blob:
        sink: IO[bytes] = _Sink(blob)  # type: ignore[assignment]
        with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:
            entries: list[tuple[str, tarfile.TarInfo, str | None]]
            entries = [(p, directory_entry(p), None) for p in parents]
            entries += [(e.name, e, None) for e in extra]
            if tree is not None:
                entries += list(_walk(tree, at))
            entries.sort(key=lambda e: e[0])
            for _, info, path in entries:
                if path is None:
                    tar.addfile(info)
                    continue
                with open(path, "rb") as f:
                    tar.addfile(info, f)
        return blob.commit(MEDIA_TYPE_LAYER)


def _walk(tree: Path, at: str) -> Iterator[tuple[str, tarfile.TarInfo, str | None]]:
    """Every entry of `tree` as (name, header, file to read or None), the
    first name of a hard-linked file holding its bytes, later ones linking it."""
    yield at, directory_entry(at, 0o555), None
    seen: dict[tuple[int, int], str] = {}
    found: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(tree):
        rel = os.path.relpath(dirpath, tree)
        for name in dirnames + filenames:
            found.append((f"{at}/{name}" if rel == "." else f"{at}/{rel}/{name}",
                          os.path.join(dirpath, name)))
    for name, path in sorted(found):
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            yield name, _entry(name, tarfile.SYMTYPE, 0o777, link=os.readlink(path)), None
        elif stat.S_ISDIR(st.st_mode):
            yield name, directory_entry(name, 0o555), None
        elif stat.S_ISREG(st.st_mode):
            mode = 0o555 if st.st_mode & 0o111 else 0o444
            first = seen.setdefault((st.st_dev, st.st_ino), name) if st.st_nlink > 1 else name
            if first != name:
                yield name, _entry(name, tarfile.LNKTYPE, mode, link=first), None
            else:
                yield name, _entry(name, tarfile.REGTYPE, mode, st.st_size), path
        else:
            raise LayoutError(f"{path}: not a file, directory or link; the store holds none",
                              hint="run `devshell verify --repair`")


class LayerCache:
    """Layers already made, one per store output, in a layout at `root`:
    `outputs/<name>.json` holds the layer's descriptor, `blobs/` its bytes."""

    def __init__(self, root: Path) -> None:
        self.layout = Layout.create(root, durable=False)
        self.index = root / "outputs"

    def get(self, name: str) -> Descriptor | None:
        """The layer of output `name`, if one was made and its blob is whole."""
        path = confined(self.index, name + ".json")
        try:
            found = Descriptor.from_json(json.loads(path.read_bytes()), str(path))
            if os.stat(self.layout.blob_path(found.digest)).st_size == found.size:
                return found
        except (OSError, ValueError, LayoutError):
            pass
        return None

    def put(self, name: str, layer: Descriptor) -> None:
        # Read-only: the blob is hard-linked into every image written, and
        # an edit there must not change what later images carry.
        os.chmod(self.layout.blob_path(layer.digest), 0o444)
        atomic.write_bytes(confined(self.index, name + ".json"),
                           json.dumps(layer.to_json(), sort_keys=True).encode())

    def link_into(self, layer: Descriptor, dest: Layout) -> None:
        """Put the cached blob of `layer` into `dest`: a hard link where both
        are on one file system, else a copy."""
        target = dest.blob_path(layer.digest)
        if target.exists():
            return
        source = self.layout.blob_path(layer.digest)
        try:
            os.link(source, target)
            return
        except OSError:
            pass  # another file system: copied below
        with dest.writer() as blob, source.open("rb") as src:
            while chunk := src.read(CHUNK):
                blob.write(chunk)
            copied = blob.commit(layer.media_type)
        if copied.digest != layer.digest:
            raise LayoutError(f"{source}: cached layer does not match its name",
                              hint=f"delete {self.layout.root} and build again")
