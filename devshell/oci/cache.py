"""A team binary cache on an OCI registry: what travels, pushing it, and
taking it back before the upstreams.

What travels for one output is an OCI artifact tagged by the output's store
name (`tag_for`). Its blobs are the output's locked artifacts, the files the
lock pins with an integrity (a tarball; the wheels of a Python environment;
every .deb of a Debian closure; every tarball of an npm tree), each annotated
with that integrity (`dev.devshell.integrity`) and a file name
(`org.opencontainers.image.title`). Its config blob is devshell's own
manifest of the output, for people and tools to read; nothing trusts it.

Taking an output from the cache puts those files into the download cache
exactly as a download from the upstream would: each is checked against the
lock's integrity (and size) as it streams, so a cache can speed things up
but never change them, and a Debian closure is relocated on the way in like
any other. A miss, an unreachable registry or a refused blob falls back to
the upstreams, with a warning for the last two.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from devshell import integrity, say
from devshell.errors import DevshellError, IntegrityError, UsageError
from devshell.lock import Unavailable
from devshell.oci.layout import (
    MEDIA_TYPE_MANIFEST,
    Descriptor,
    Manifest,
    canonical_json,
)

if TYPE_CHECKING:
    from devshell.config import CacheSetting
    from devshell.home import Home
    from devshell.lock import Artifact, Lock
    from devshell.oci.registry import Registry
    from devshell.sources.locate import Upstreams

__all__ = [
    "ANNOTATION_INTEGRITY",
    "ANNOTATION_OUTPUT",
    "ANNOTATION_TITLE",
    "MEDIA_TYPE_OUTPUT",
    "MEDIA_TYPE_PIECE",
    "Output",
    "Piece",
    "RegistryCache",
    "Sink",
    "configured",
    "describe",
    "fetch_pieces",
    "output_manifest",
    "outputs_for",
    "pieces",
    "pieces_by_integrity",
    "tag_for",
]

MEDIA_TYPE_OUTPUT = "application/vnd.devshell.output.v1+json"  # the config, and the artifact type
MEDIA_TYPE_PIECE = "application/vnd.devshell.artifact.v1"  # one locked file, as the upstream serves it
ANNOTATION_INTEGRITY = "dev.devshell.integrity"
ANNOTATION_OUTPUT = "dev.devshell.output"
ANNOTATION_TITLE = "org.opencontainers.image.title"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def tag_for(output: str) -> str:
    """The tag of an output's artifact: its store name with `+` (which tags
    cannot hold) written `_` (which store names never hold), cut to a tag's
    128 characters. Reversible up to 128 characters, collision-free beyond:
    the name starts with its 32-character digest, which covers the rest."""
    return output.replace("+", "_")[:128]


@dataclass(frozen=True)
class Piece:
    """One locked file of an output."""

    label: str
    url: str
    integrity: str
    size: int | None

    @property
    def title(self) -> str:
        """A file name for it (the URL's last part), for tools such as oras."""
        name = _UNSAFE.sub("_", self.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
        return name.lstrip(".") or integrity.to_hex(self.integrity)[:40]


def pieces(artifact: Artifact, label: str) -> list[Piece]:
    """Every file the lock pins for `artifact`, once each (by integrity)."""
    found: dict[str, Piece] = {artifact.integrity: Piece(label, artifact.url, artifact.integrity, artifact.size)}
    for part in artifact.closure:
        found.setdefault(part.integrity, Piece(f"{part.name} {part.version}, for {label}", part.url,
                                               part.integrity, part.size))
    return list(found.values())


def fetch_pieces(home: Home, wanted: list[Piece], upstreams: Upstreams) -> dict[str, Path]:
    """Each piece's verified file in the download cache, fetched from its upstream if needed."""
    from devshell.net.fetch import Download, fetch_all

    return fetch_all(home, [Download(p.url, p.integrity, p.size, p.label) for p in wanted],
                     locate=upstreams.concrete)


class Sink(Protocol):
    """Where an output's blobs go: a registry, or a layout (a bundle)."""

    def file(self, path: Path, media_type: str, annotations: dict[str, str]) -> Descriptor: ...

    def data(self, data: bytes, media_type: str) -> Descriptor: ...


def describe(home: Home, artifact: Artifact, label: str) -> dict[str, Any]:
    """The config blob: the output's own manifest when it is realised here (its
    files and their hashes), without where this machine's project lives;
    else what the lock says of it."""
    from devshell.store import read_manifest

    found = read_manifest(home, artifact.output) or {}
    found.pop("upstreams", None)
    return {**found, "name": artifact.output, "label": label, "artifact": artifact.to_json()}


def output_manifest(home: Home, artifact: Artifact, label: str, files: dict[str, Path], sink: Sink) -> Manifest:
    """Put an output's pieces (`files`: integrity -> path) and its config into
    `sink`; the manifest naming them (not yet stored)."""
    layers = []
    for piece in pieces(artifact, label):
        layers.append(sink.file(files[piece.integrity], MEDIA_TYPE_PIECE,
                                {ANNOTATION_INTEGRITY: piece.integrity, ANNOTATION_TITLE: piece.title}))
    config = sink.data(canonical_json(describe(home, artifact, label)), MEDIA_TYPE_OUTPUT)
    return Manifest(config, tuple(layers), {ANNOTATION_OUTPUT: artifact.output}, MEDIA_TYPE_OUTPUT)


def pieces_by_integrity(manifest: Manifest, output: str) -> dict[str, Descriptor]:
    """The blobs of an output's artifact by the integrity they claim; empty
    when the manifest is not that output's (a tag cut short, something else)."""
    if manifest.annotations.get(ANNOTATION_OUTPUT) != output:
        return {}
    return {d.annotations[ANNOTATION_INTEGRITY]: d for d in manifest.layers if ANNOTATION_INTEGRITY in d.annotations}


@dataclass(frozen=True)
class Output:
    """One output of a lock on one platform."""

    tool: str
    version: str
    platform: str
    artifact: Artifact

    @property
    def label(self) -> str:
        return f"{self.tool} {self.version} ({self.platform})"


def outputs_for(lock: Lock, plats: Sequence[str]) -> list[Output]:
    """Every output the lock gives `plats`, once each (an output the same on
    two platforms travels once); a tool unavailable on a platform is left
    out with a note."""
    found: dict[str, Output] = {}
    for plat in plats:
        for tool in lock.tools:
            artifact = tool.artifact(plat)
            if artifact is None:
                raise UsageError(f"devshell.lock does not cover {plat} ({tool.name} has nothing for it)",
                                 hint=f'add "{plat}" to shell.platforms in devshell.toml and run `devshell lock`')
            if isinstance(artifact, Unavailable):
                say.note(f"{tool.name} {tool.version} is not available for {plat}: left out")
                continue
            found.setdefault(artifact.output, Output(tool.name, tool.version, plat, artifact))
    return list(found.values())


def configured(setting: CacheSetting | None = None) -> RegistryCache | None:
    """The cache devshell's config or DEVSHELL_CACHE names, or None."""
    if setting is None:
        from devshell.config import cache_setting

        setting = cache_setting()
    return None if setting is None else RegistryCache.parse(setting.url, setting.insecure, setting.origin)


class _RegistrySink:
    def __init__(self, client: Registry) -> None:
        self.client = client
        self.uploaded = 0

    def file(self, path: Path, media_type: str, annotations: dict[str, str]) -> Descriptor:
        with path.open("rb") as f:
            digest = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
        size = path.stat().st_size
        self.uploaded += self.client.upload_blob(digest, size, path)
        return Descriptor(media_type, digest, size, annotations)

    def data(self, data: bytes, media_type: str) -> Descriptor:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.uploaded += self.client.upload_blob(digest, len(data), data)
        return Descriptor(media_type, digest, len(data))


class RegistryCache:
    """One registry repository used as a cache during one run."""

    def __init__(self, client: Registry, origin: str) -> None:
        self.client = client
        self.origin = origin
        self._usable: bool | None = None
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, url: str, insecure: bool, origin: str) -> RegistryCache:
        from devshell.oci.registry import Reference, Registry

        hint = 'write the cache as "oci://REGISTRY/REPOSITORY", e.g. "oci://registry.example:5000/team/devshell"'
        if not url.startswith("oci://"):
            raise UsageError(f"{origin}: {url!r} is not an oci:// URL", hint=hint)
        ref = Reference.parse(url.removeprefix("oci://"), origin)
        if ref.tag or ref.digest:
            raise UsageError(f"{origin}: {url!r} names a tag or digest; a cache is a whole repository", hint=hint)
        return cls(Registry.at(ref, insecure=insecure), origin)

    def __str__(self) -> str:
        return str(self.client)

    def usable(self) -> bool:
        """Whether the registry answers (asked once a run; a warning when not)."""
        with self._lock:
            if self._usable is None:
                try:
                    self.client.ping()
                    self._usable = True
                except DevshellError as exc:  # unreachable, refused, or an auth file unreadable
                    say.warn(f"the cache {self} (from {self.origin}) cannot be used: {exc.message}; "
                             "fetching from the upstreams")
                    self._usable = False
            return self._usable

    # Taking outputs back.

    def prefill(self, home: Home, artifact: Artifact, label: str) -> None:
        """Put what the cache holds of `artifact`'s pieces into the download
        cache, each verified against the lock; anything else is left to the
        upstreams."""
        from devshell.net import http
        from devshell.net.fetch import present

        wanted = [p for p in pieces(artifact, label) if not present(home, p.integrity, p.size, p.label)]
        if not wanted or http.offline() or not self.usable():
            return
        try:
            found = self.client.manifest(tag_for(artifact.output))
            manifest = None if found is None else Manifest.from_json(_json(found[0]), f"{self} {artifact.output}")
        except (DevshellError, ValueError) as exc:
            say.warn(f"the cache {self} could not say whether it has {artifact.output}: "
                     f"{getattr(exc, 'message', exc)}; fetching {label} from the upstream")
            return
        if manifest is None:
            say.debug(f"{artifact.output} is not in the cache {self}")
            return
        blobs = pieces_by_integrity(manifest, artifact.output)
        if not blobs:
            say.warn(f"the cache {self} tags {tag_for(artifact.output)} with something that is not "
                     f"{artifact.output}; fetching {label} from the upstream")
            return
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda p: self._take(home, artifact, p, blobs.get(p.integrity)), wanted))

    def _take(self, home: Home, artifact: Artifact, piece: Piece, blob: Descriptor | None) -> None:
        from devshell.net.fetch import Download, fetch

        if blob is None:
            return
        # The size is the lock's, never the manifest's: a registry is not
        # trusted to bound what it sends (no size: devshell's own download cap).
        download = Download(self.client.blob_url(blob.digest), piece.integrity, piece.size,
                            f"{piece.label} (from the cache)")
        try:
            fetch(home, download, headers=self.client.auth_headers())
        except IntegrityError as exc:
            say.warn(f"refused {piece.label} of {artifact.output} from the cache {self}: {exc.message}; "
                     "fetching it from the upstream instead")
        except DevshellError as exc:
            say.warn(f"could not take {piece.label} of {artifact.output} from the cache {self}: {exc.message}; "
                     "fetching it from the upstream instead")

    # Pushing.

    def has(self, artifact: Artifact) -> bool:
        return self.client.manifest_digest(tag_for(artifact.output)) is not None

    def push(self, home: Home, artifact: Artifact, label: str, upstreams: Upstreams) -> int | None:
        """Upload one output's artifact unless the cache has it: the number of
        blobs uploaded (the others were there), or None when it was cached."""
        if self.has(artifact):
            return None
        files = fetch_pieces(home, pieces(artifact, label), upstreams)
        sink = _RegistrySink(self.client)
        manifest = output_manifest(home, artifact, label, files, sink)
        self.client.put_manifest(tag_for(artifact.output), canonical_json(manifest.to_json()), MEDIA_TYPE_MANIFEST)
        return sink.uploaded


def _json(body: bytes) -> Any:
    import json

    return json.loads(body)


