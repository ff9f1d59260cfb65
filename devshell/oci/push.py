"""Push what an OCI image layout holds to a registry: `devshell image --push`.

Blobs first (each skipped when the repository has it), then the manifests of
an image index by digest, then the top manifest or index under the tag, so a
tag never names something half-pushed. Every blob is read from the layout by
its digest, and the registry checks each upload against it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devshell.errors import UsageError
from devshell.oci.layout import MEDIA_TYPE_INDEX, Descriptor, Layout
from devshell.oci.registry import Reference, Registry

__all__ = ["push_layout"]

_INDEXES = (MEDIA_TYPE_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json")


def push_layout(layout: Layout | Path, target: str, entry: Descriptor | None = None, *,
                insecure: bool = False) -> str:
    """Push `entry` (default: the layout's one top entry, or the one whose
    ref name is the tag) and everything it names to `target`
    ("REGISTRY/REPOSITORY:TAG"); the digest pushed. `insecure` allows plain
    HTTP to a registry that is not loopback."""
    ref = Reference.parse(target, "--push")
    if ref.tag is None:
        raise UsageError(f"--push {target}: name a tag (REGISTRY/REPOSITORY:TAG)",
                         hint="e.g. registry.example:5000/team/shell:v1")
    source = layout if isinstance(layout, Layout) else Layout.open(layout)
    top = entry if entry is not None else _top(source, ref.tag)
    client = Registry.at(ref, insecure=insecure)
    _push_content(client, source, top)
    client.put_manifest(ref.tag, source.read_blob(top), top.media_type)
    # What the layout lists unnamed beside it (an image's SBOM, whose subject
    # it is) follows by digest.
    for extra in source.index().manifests:
        if extra.digest != top.digest and extra.ref_name is None and extra.media_type not in _INDEXES:
            _push_content(client, source, extra)
            client.put_manifest(extra.digest, source.read_blob(extra), extra.media_type)
    return top.digest


def _top(layout: Layout, tag: str) -> Descriptor:
    entries = layout.index().manifests
    named = [e for e in entries if e.ref_name == tag]
    if len(named) == 1 or len(entries) == 1:
        return named[0] if named else entries[0]
    raise UsageError(f"{layout.root} holds {len(entries)} images and none is named {tag!r}",
                     hint="push a layout with one image, or name it by its ref name")


def _push_content(client: Registry, layout: Layout, entry: Descriptor) -> None:
    """Everything `entry` names, but not `entry` itself."""
    if entry.media_type in _INDEXES:
        for child in layout.image_index(entry).manifests:
            _push_content(client, layout, child)
            client.put_manifest(child.digest, layout.read_blob(child), child.media_type)
        return
    manifest = layout.manifest(entry)
    blobs = list({d.digest: d for d in (manifest.config, *manifest.layers)}.values())
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda d: client.upload_blob(d.digest, d.size, layout.blob_path(d.digest)), blobs))
