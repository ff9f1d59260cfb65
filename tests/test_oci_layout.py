"""OCI image layouts as devshell writes them: what skopeo (an independent
client) reads, byte-reproducible archives, and hostile layouts refused."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from devshell.oci.layout import (
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_LAYER,
    Descriptor,
    Layout,
    LayoutError,
    Manifest,
    Platform,
    extract_tar,
)

needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")


def _layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _image(root: Path, text: bytes = b"hello\n") -> Layout:
    layout = Layout.create(root)
    layer_bytes = _layer({"hello.txt": text})
    layer = layout.add_blob(layer_bytes, MEDIA_TYPE_LAYER)
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = layout.add_json({"architecture": "amd64", "os": "linux",
                              "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                              "config": {"Env": ["PATH=/bin"]}}, MEDIA_TYPE_CONFIG)
    manifest = layout.add_manifest(Manifest(config, (layer,)))
    layout.write_index([manifest.with_ref_name("latest")
                        .with_platform(Platform("amd64", "linux"))])
    return layout


@needs_skopeo
def test_skopeo_reads_a_written_layout_and_its_archive(tmp_path: Path) -> None:
    _image(tmp_path / "img")
    shown = subprocess.run(["skopeo", "inspect", f"oci:{tmp_path / 'img'}:latest"],
                           capture_output=True, text=True, check=True)
    assert json.loads(shown.stdout)["Env"] == ["PATH=/bin"]
    Layout.open(tmp_path / "img").write_tar(tmp_path / "img.tar")
    shown = subprocess.run(["skopeo", "inspect", f"oci-archive:{tmp_path / 'img.tar'}:latest"],
                           capture_output=True, text=True, check=True)
    assert json.loads(shown.stdout)["Architecture"] == "amd64"


def test_a_layout_reads_back_what_was_written(tmp_path: Path) -> None:
    _image(tmp_path / "img")
    layout = Layout.open(tmp_path / "img")
    entry = layout.index().find("latest")
    assert entry is not None and entry.platform == Platform("amd64", "linux")
    manifest = layout.manifest(entry)
    assert layout.read_json(manifest.config)["os"] == "linux"
    layout.verify_blob(manifest.layers[0])
    assert len(layout.blob_digests()) == 3


def test_the_same_content_gives_the_same_archive_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        _image(tmp_path / name).write_tar(tmp_path / f"{name}.tar")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    _image(tmp_path / "c", b"other\n").write_tar(tmp_path / "c.tar")
    assert (tmp_path / "a.tar").read_bytes() != (tmp_path / "c.tar").read_bytes()


def test_an_archive_round_trips(tmp_path: Path) -> None:
    _image(tmp_path / "img").write_tar(tmp_path / "img.tar")
    layout = extract_tar(tmp_path / "img.tar", tmp_path / "out")
    entry = layout.index().find("latest")
    assert entry is not None
    layout.verify_blob(layout.manifest(entry).layers[0])


def test_an_archive_with_a_link_is_refused_whole(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("oci-layout")
        data = b'{"imageLayoutVersion":"1.0.0"}'
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("blobs/sha256/" + "0" * 64)
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(LayoutError, match="not part of an OCI image layout"):
        extract_tar(archive, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "xdg-data") == ["evil.tar"]  # xdg-data: conftest's


def test_a_digest_that_is_a_path_is_refused(tmp_path: Path) -> None:
    layout = _image(tmp_path / "img")
    (tmp_path / "img" / "index.json").write_text(json.dumps({
        "schemaVersion": 2, "manifests": [
            {"mediaType": "x", "digest": "sha256:../../../etc/passwd", "size": 1}]}))
    with pytest.raises(LayoutError, match="not a sha256 digest"):
        layout.index()


def test_a_blob_that_does_not_match_its_digest_is_refused(tmp_path: Path) -> None:
    layout = _image(tmp_path / "img")
    entry = layout.index().manifests[0]
    layer = layout.manifest(entry).layers[0]
    layout.blob_path(layer.digest).write_bytes(b"tampered")
    with pytest.raises(LayoutError, match="does not match"):
        layout.verify_blob(layer)
    assert Descriptor.from_json(layer.to_json(), "x") == layer
