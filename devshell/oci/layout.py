"""OCI image layouts: write one (blobs, manifests, an index) and read one back.

Generic on purpose: nothing here knows about devshell's images, caches or
bundles; those build their manifests from the documents in `oci.model`
(re-exported here). Every blob is named by the sha256 of its bytes, written
to a temporary file beside its final place and renamed, so a killed writer
leaves no blob under a wrong name. Every digest read back is validated before
it becomes a path. `oci.archive` packs a layout as a reproducible tar.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from devshell.oci.model import (
    ANNOTATION_CREATED,
    ANNOTATION_REF_NAME,
    INDEX_FILE,
    LAYOUT_FILE,
    LAYOUT_VERSION,
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_EMPTY,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER,
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_LAYER_ZSTD,
    MEDIA_TYPE_MANIFEST,
    Descriptor,
    Index,
    LayoutError,
    Manifest,
    Platform,
    canonical_json,
    is_digest,
    validate_digest,
)

__all__ = [
    "ANNOTATION_CREATED",
    "ANNOTATION_REF_NAME",
    "MEDIA_TYPE_CONFIG",
    "MEDIA_TYPE_EMPTY",
    "MEDIA_TYPE_INDEX",
    "MEDIA_TYPE_LAYER",
    "MEDIA_TYPE_LAYER_GZIP",
    "MEDIA_TYPE_LAYER_ZSTD",
    "MEDIA_TYPE_MANIFEST",
    "BlobWriter",
    "Descriptor",
    "Index",
    "Layout",
    "LayoutError",
    "Manifest",
    "Platform",
    "canonical_json",
    "extract_tar",
    "validate_digest",
]

CHUNK = 1 << 20


class BlobWriter:
    """Streams one blob into a layout while hashing it; `commit` names it by
    its digest. Leaving the `with` block without committing discards it."""

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._hash = hashlib.sha256()
        self.size = 0
        fd, tmp = tempfile.mkstemp(prefix=".blob-", suffix=".tmp", dir=layout.blobs)
        self._tmp = Path(tmp)
        self._file: IO[bytes] | None = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> int:
        if self._file is None:
            raise ValueError("blob already committed or discarded")
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def commit(self, media_type: str, **extra: Any) -> Descriptor:
        """Close the blob, move it under its digest and describe it."""
        if self._file is None:
            raise ValueError("blob already committed or discarded")
        digest = "sha256:" + self._hash.hexdigest()
        try:
            self._file.flush()
            if self._layout.durable:
                os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self._layout.blob_path(digest))
        except BaseException:
            self.discard()
            raise
        return Descriptor(media_type, digest, self.size, **extra)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.discard()


class Layout:
    """An OCI image layout directory: `oci-layout`, `index.json`, `blobs/sha256/`.

    `create` starts one (or adds to one that exists); `open` reads one that
    exists. Blobs, manifests and indexes are added by content; `write_index`
    writes the top-level `index.json` last, naming what the layout holds.
    """

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.durable = durable  # fsync every blob (off for scratch layouts)

    @property
    def blobs(self) -> Path:
        return self.root / "blobs" / "sha256"

    @classmethod
    def create(cls, root: Path, *, durable: bool = True) -> Layout:
        layout = cls(root, durable=durable)
        layout.blobs.mkdir(parents=True, exist_ok=True)
        marker = root / LAYOUT_FILE
        if not marker.exists():
            marker.write_bytes(canonical_json({"imageLayoutVersion": LAYOUT_VERSION}))
        return layout

    @classmethod
    def open(cls, root: Path) -> Layout:
        marker = root / LAYOUT_FILE
        try:
            data = json.loads(marker.read_bytes())
        except (OSError, ValueError) as exc:
            raise LayoutError(f"{root} is not an OCI image layout: cannot read {marker}: {exc}",
                              hint="pass a directory written by `devshell image` or "
                              "`devshell bundle`") from exc
        if not isinstance(data, dict) or data.get("imageLayoutVersion") != LAYOUT_VERSION:
            raise LayoutError(f"{marker}: unsupported imageLayoutVersion "
                              f"(expected {LAYOUT_VERSION})")
        return cls(root)

    # Writing.

    def blob_path(self, digest: str) -> Path:
        """Where blob `digest` lives (validated: a digest never names another path)."""
        return self.blobs / validate_digest(digest, str(self.root)).removeprefix("sha256:")

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

    def add_blob(self, data: bytes, media_type: str, **extra: Any) -> Descriptor:
        """Add `data` as a blob (kept as it is if a blob with its digest exists)."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self.has_blob(digest):
            return Descriptor(media_type, digest, len(data), **extra)
        with self.writer() as blob:
            blob.write(data)
            return blob.commit(media_type, **extra)

    def add_file(self, path: Path, media_type: str, **extra: Any) -> Descriptor:
        """Add a file's bytes as a blob, streamed (never read whole into memory)."""
        with self.writer() as blob, path.open("rb") as src:
            while chunk := src.read(CHUNK):
                blob.write(chunk)
            return blob.commit(media_type, **extra)

    def add_json(self, value: Any, media_type: str, **extra: Any) -> Descriptor:
        return self.add_blob(canonical_json(value), media_type, **extra)

    def add_manifest(self, manifest: Manifest, **extra: Any) -> Descriptor:
        return self.add_json(manifest.to_json(), MEDIA_TYPE_MANIFEST, **extra)

    def add_index(self, index: Index, **extra: Any) -> Descriptor:
        return self.add_json(index.to_json(), MEDIA_TYPE_INDEX, **extra)

    def write_index(self, manifests: Sequence[Descriptor],
                    annotations: Mapping[str, str] | None = None) -> None:
        """Write `index.json` naming `manifests` (give them ref names with
        `Descriptor.with_ref_name`); written atomically, and last."""
        from devshell.atomic import write_bytes
        write_bytes(self.root / INDEX_FILE,
                    canonical_json(Index(tuple(manifests), annotations or {}).to_json()))

    # Reading.

    def index(self) -> Index:
        path = self.root / INDEX_FILE
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise LayoutError(f"cannot read {path}: {exc}") from exc
        return Index.from_json(data, str(path))

    def read_blob(self, descriptor: Descriptor) -> bytes:
        """A small blob's bytes, checked against the descriptor's size and digest."""
        path = self.blob_path(descriptor.digest)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise LayoutError(f"{self.root}: blob {descriptor.digest} is missing: {exc}") from exc
        if len(data) != descriptor.size or (
                "sha256:" + hashlib.sha256(data).hexdigest()) != descriptor.digest:
            raise LayoutError(f"{path}: blob does not match its descriptor "
                              f"({descriptor.digest}, {descriptor.size} bytes)")
        return data

    def verify_blob(self, descriptor: Descriptor) -> None:
        """Hash a blob file (streamed) against its descriptor."""
        path = self.blob_path(descriptor.digest)
        digest = hashlib.sha256()
        try:
            with path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
                size = f.tell()
        except OSError as exc:
            raise LayoutError(f"{self.root}: blob {descriptor.digest} is missing: {exc}") from exc
        if size != descriptor.size or "sha256:" + digest.hexdigest() != descriptor.digest:
            raise LayoutError(f"{path}: blob does not match its descriptor "
                              f"({descriptor.digest}, {descriptor.size} bytes)")

    def read_json(self, descriptor: Descriptor) -> Any:
        try:
            return json.loads(self.read_blob(descriptor))
        except ValueError as exc:
            raise LayoutError(f"{self.root}: blob {descriptor.digest} is not JSON") from exc

    def manifest(self, descriptor: Descriptor) -> Manifest:
        return Manifest.from_json(self.read_json(descriptor), descriptor.digest)

    def image_index(self, descriptor: Descriptor) -> Index:
        return Index.from_json(self.read_json(descriptor), descriptor.digest)

    def blob_digests(self) -> list[str]:
        """Every committed blob's digest, sorted (temporary files are skipped)."""
        if not self.blobs.is_dir():
            return []
        return sorted("sha256:" + p.name for p in self.blobs.iterdir()
                      if is_digest("sha256:" + p.name))

    # Archives.

    def write_tar(self, dest: Path, extra: Mapping[str, bytes] | None = None) -> None:
        """Pack the layout as a reproducible tar at `dest`, with `extra` files
        at its top (see `oci.archive`)."""
        from devshell.oci.archive import write_tar
        write_tar(self, dest, extra)


def extract_tar(archive: Path, dest: Path) -> Layout:
    """Unpack a layout archive into the new directory `dest` (see `oci.archive`)."""
    from devshell.oci.archive import extract_tar as extract
    return extract(archive, dest)
