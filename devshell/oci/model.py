"""The OCI image-spec's documents as frozen dataclasses: descriptors,
manifests, indexes and platforms, with their media types, read from JSON
(validated: every digest is checked before anyone makes a path of it) and
written as canonical JSON bytes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from devshell.errors import StoreError

__all__ = [
    "ANNOTATION_CREATED",
    "ANNOTATION_REF_NAME",
    "INDEX_FILE",
    "LAYOUT_FILE",
    "LAYOUT_VERSION",
    "MEDIA_TYPE_CONFIG",
    "MEDIA_TYPE_EMPTY",
    "MEDIA_TYPE_INDEX",
    "MEDIA_TYPE_LAYER",
    "MEDIA_TYPE_LAYER_GZIP",
    "MEDIA_TYPE_LAYER_ZSTD",
    "MEDIA_TYPE_MANIFEST",
    "Descriptor",
    "Index",
    "LayoutError",
    "Manifest",
    "Platform",
    "canonical_json",
    "is_digest",
    "validate_digest",
]

MEDIA_TYPE_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_TYPE_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_TYPE_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_TYPE_EMPTY = "application/vnd.oci.empty.v1+json"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CREATED = "org.opencontainers.image.created"

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LAYOUT_VERSION = "1.0.0"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class LayoutError(StoreError):
    """An OCI layout is malformed, or a blob does not hash to its name."""


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON document: keys sorted, no spaces, UTF-8.
    A manifest's digest is over these bytes, so the same content always gets
    the same digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def is_digest(value: str) -> bool:
    """Whether `value` is `sha256:<64 lowercase hex>` (the only form accepted)."""
    return bool(_DIGEST.match(value))


def validate_digest(digest: object, where: str) -> str:
    """`digest` if it is `sha256:<64 lowercase hex>`, else a LayoutError naming `where`."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise LayoutError(f"{where}: {digest!r} is not a sha256 digest",
                          hint="only sha256 digests (sha256:<64 hex digits>) are supported")
    return digest


def _str_map(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise LayoutError(f"{where}: annotations must map strings to strings")
    return dict(value)


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LayoutError(f"{where}: expected a JSON object")
    return value


@dataclass(frozen=True)
class Platform:
    """What an image runs on, in OCI's words (`amd64`/`arm64`, `linux`)."""

    architecture: str
    os: str
    variant: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        return out

    @classmethod
    def from_json(cls, value: object, where: str) -> Platform:
        data = _object(value, where)
        arch, os_, variant = data.get("architecture"), data.get("os"), data.get("variant")
        if not isinstance(arch, str) or not isinstance(os_, str) or (
                variant is not None and not isinstance(variant, str)):
            raise LayoutError(f"{where}: a platform needs string architecture and os")
        return cls(arch, os_, variant)


@dataclass(frozen=True)
class Descriptor:
    """A reference to one blob: its media type, digest and size, optionally
    annotations (a ref name, …), the platform it is for, an artifact type."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    artifact_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                               "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type is not None:
            out["artifactType"] = self.artifact_type
        return out

    @classmethod
    def from_json(cls, value: object, where: str) -> Descriptor:
        data = _object(value, where)
        media_type, size = data.get("mediaType"), data.get("size")
        if not isinstance(media_type, str):
            raise LayoutError(f"{where}: a descriptor needs a mediaType")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise LayoutError(f"{where}: a descriptor needs a size (a whole number >= 0)")
        artifact_type = data.get("artifactType")
        if artifact_type is not None and not isinstance(artifact_type, str):
            raise LayoutError(f"{where}: artifactType must be a string")
        platform = data.get("platform")
        return cls(media_type, validate_digest(data.get("digest"), where), size,
                   _str_map(data.get("annotations"), where),
                   None if platform is None else Platform.from_json(platform, where),
                   artifact_type)

    @property
    def ref_name(self) -> str | None:
        return self.annotations.get(ANNOTATION_REF_NAME)

    def with_annotations(self, extra: Mapping[str, str]) -> Descriptor:
        return replace(self, annotations={**self.annotations, **extra})

    def with_ref_name(self, name: str) -> Descriptor:
        return self.with_annotations({ANNOTATION_REF_NAME: name})

    def with_platform(self, platform: Platform) -> Descriptor:
        return replace(self, platform=platform)


@dataclass(frozen=True)
class Manifest:
    """An image manifest (or an artifact manifest in the same shape)."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    artifact_type: str | None = None
    subject: Descriptor | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemaVersion": 2, "mediaType": MEDIA_TYPE_MANIFEST,
                               "config": self.config.to_json(),
                               "layers": [layer.to_json() for layer in self.layers]}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.artifact_type is not None:
            out["artifactType"] = self.artifact_type
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        return out

    @classmethod
    def from_json(cls, value: object, where: str) -> Manifest:
        data = _object(value, where)
        if data.get("schemaVersion") != 2:
            raise LayoutError(f"{where}: not an OCI manifest (schemaVersion must be 2)")
        layers = data.get("layers")
        if not isinstance(layers, list):
            raise LayoutError(f"{where}: a manifest needs a list of layers")
        subject, artifact_type = data.get("subject"), data.get("artifactType")
        if artifact_type is not None and not isinstance(artifact_type, str):
            raise LayoutError(f"{where}: artifactType must be a string")
        return cls(Descriptor.from_json(data.get("config"), f"{where} config"),
                   tuple(Descriptor.from_json(layer, f"{where} layer {i}")
                         for i, layer in enumerate(layers)),
                   _str_map(data.get("annotations"), where), artifact_type,
                   None if subject is None else Descriptor.from_json(subject, f"{where} subject"))


@dataclass(frozen=True)
class Index:
    """An image index: `index.json` itself, or a multi-platform image."""

    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX,
                               "manifests": [m.to_json() for m in self.manifests]}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    @classmethod
    def from_json(cls, value: object, where: str) -> Index:
        data = _object(value, where)
        manifests = data.get("manifests")
        if data.get("schemaVersion") != 2 or not isinstance(manifests, list):
            raise LayoutError(f"{where}: not an OCI image index "
                              "(schemaVersion 2 and a list of manifests)")
        return cls(tuple(Descriptor.from_json(m, f"{where} manifest {i}")
                         for i, m in enumerate(manifests)),
                   _str_map(data.get("annotations"), where))

    def find(self, ref_name: str) -> Descriptor | None:
        """The entry whose ref-name annotation is `ref_name`, if any."""
        return next((m for m in self.manifests if m.ref_name == ref_name), None)
