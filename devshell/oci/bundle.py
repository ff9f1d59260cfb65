"""Offline bundles: everything a lock needs, as one OCI image layout archive.

A bundle holds, for each output of the chosen platforms, the same artifact a
team cache holds (devshell.oci.cache): the output's locked files as blobs
annotated with their integrity, devshell's manifest of the output as config,
the manifest named in `index.json` by the output's store name
(`org.opencontainers.image.ref.name`). It is an uncompressed tar, written by
devshell.oci.layout's reproducible writer.

Reading one takes only what the lock needs: each blob is streamed straight
out of the archive into the download cache and checked against the lock's
integrity, exactly as a download would be; nothing else is unpacked, and
only `index.json` and `blobs/sha256/<hex>` regular files are read at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from devshell.errors import StoreError
from devshell.oci.cache import (
    Output,
    fetch_pieces,
    output_manifest,
    pieces,
    pieces_by_integrity,
)
from devshell.oci.layout import Descriptor, Index, Layout, LayoutError, Manifest

if TYPE_CHECKING:
    from devshell.home import Home
    from devshell.lock import Artifact, Lock
    from devshell.sources.locate import Upstreams

__all__ = ["ANNOTATION_SPEC_HASH", "Bundle", "write"]

ANNOTATION_SPEC_HASH = "dev.devshell.spec-hash"
_CHUNK = 1 << 20
_MAX_DOCUMENT = 64 << 20


class _LayoutSink:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def file(self, path: Path, media_type: str, annotations: dict[str, str]) -> Descriptor:
        return self.layout.add_file(path, media_type, annotations=annotations)

    def data(self, data: bytes, media_type: str) -> Descriptor:
        return self.layout.add_blob(data, media_type)


def write(home: Home, lock: Lock, outputs: list[Output], upstreams: Upstreams, dest: Path) -> int:
    """Write the bundle of `outputs` to `dest` (whole, or not at all); its size in bytes.
    Artifacts not in the download cache are fetched (and verified) first."""
    scratch_root = home.cache / "tmp"
    scratch_root.mkdir(parents=True, exist_ok=True)
    # Named as devshell.net.fetch.sweep_scratch expects: a killed run's scratch is swept.
    scratch = Path(tempfile.mkdtemp(prefix=f"inspect-{os.getpid()}-bundle", dir=scratch_root))
    try:
        layout = Layout.create(scratch / "layout", durable=False)
        sink = _LayoutSink(layout)
        entries = []
        for out in outputs:
            files = fetch_pieces(home, pieces(out.artifact, out.label), upstreams)
            manifest = output_manifest(home, out.artifact, out.label, files, sink)
            entries.append(layout.add_manifest(manifest).with_ref_name(out.artifact.output))
        layout.write_index(entries, {ANNOTATION_SPEC_HASH: lock.spec_hash})
        layout.write_tar(dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dest.stat().st_size


class Bundle:
    """An opened bundle: its outputs by store name; `prefill` takes an
    output's artifacts from it (and only from it: what it lacks is an error,
    never a download)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with tarfile.open(path, mode="r:") as tar:
                # Only a layout's own regular files; their bytes are read
                # later from their offsets, so threads never share a reader.
                self._members = {m.name.removeprefix("./"): (m.offset_data, m.size) for m in tar
                                 if m.type in (tarfile.REGTYPE, tarfile.AREGTYPE)}
        except (OSError, tarfile.TarError) as exc:
            raise StoreError(f"{path} cannot be read as a bundle (an uncompressed tar): {exc}",
                             hint="pass a file written by `devshell bundle` (decompress it first if it "
                             "was compressed on the way)") from None
        try:
            index = Index.from_json(json.loads(self._read("index.json", _MAX_DOCUMENT)), f"{path} index.json")
        except ValueError as exc:
            raise StoreError(f"{path}: index.json is not JSON: {exc}") from None
        self.spec_hash = index.annotations.get(ANNOTATION_SPEC_HASH)
        self.outputs = {d.ref_name: d for d in index.manifests if d.ref_name}

    def _read(self, name: str, limit: int) -> bytes:
        found = self._members.get(name)
        if found is None:
            raise LayoutError(f"{self.path} has no {name}",
                              hint="pass a file written by `devshell bundle`")
        offset, size = found
        if size > limit:
            raise LayoutError(f"{self.path}: {name} is {size} bytes, more than a document may be")
        with self.path.open("rb") as f:
            f.seek(offset)
            return f.read(size)

    def _chunks(self, name: str) -> Iterator[bytes]:
        offset, size = self._members[name]
        with self.path.open("rb") as f:
            f.seek(offset)
            while size > 0 and (chunk := f.read(min(_CHUNK, size))):
                size -= len(chunk)
                yield chunk

    def manifest(self, output: str) -> Manifest | None:
        entry = self.outputs.get(output)
        if entry is None:
            return None
        name = "blobs/sha256/" + entry.digest.removeprefix("sha256:")
        data = self._read(name, _MAX_DOCUMENT)
        if len(data) != entry.size or "sha256:" + hashlib.sha256(data).hexdigest() != entry.digest:
            raise LayoutError(f"{self.path}: the manifest of {output} does not match its digest",
                              hint="the bundle is damaged; write it again with `devshell bundle`")
        try:
            return Manifest.from_json(json.loads(data), f"{self.path} {output}")
        except ValueError as exc:
            raise LayoutError(f"{self.path}: the manifest of {output} is not JSON: {exc}") from None

    def prefill(self, home: Home, artifact: Artifact, label: str) -> None:
        from devshell.net.fetch import Download, present, save

        wanted = [p for p in pieces(artifact, label) if not present(home, p.integrity, p.size, p.label)]
        if not wanted:
            return
        manifest = self.manifest(artifact.output)
        blobs = pieces_by_integrity(manifest, artifact.output) if manifest is not None else {}
        for piece in wanted:
            blob = blobs.get(piece.integrity)
            name = "blobs/sha256/" + blob.digest.removeprefix("sha256:") if blob is not None else ""
            if blob is None or name not in self._members:
                raise StoreError(
                    f"{self.path} does not hold {piece.label} ({artifact.output})",
                    hint="write the bundle from this devshell.lock, for this machine's platform "
                    "(`devshell bundle --platform …`)")
            size = piece.size if piece.size is not None else blob.size
            save(home, Download(f"{self.path} ({blob.digest})", piece.integrity, size,
                                f"{piece.label} (from the bundle)",
                                mismatch_hint="the bundle is damaged or was changed; nothing was kept"),
                 self._chunks(name))

