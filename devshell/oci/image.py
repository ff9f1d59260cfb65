"""An OCI image of a project's shell, from its lock: one layer per store
output, a profile layer, and a config carrying the shell's environment.

Everything that goes into the image is a function of the lock: layers are
reproducible tars of immutable outputs (devshell.oci.layers), the config and
manifests are canonical JSON with fixed timestamps, so the same lock gives the
same manifest digest wherever it is built. Several platforms make an image
index, one manifest per platform.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devshell.home import Home
from devshell.lock import Lock
from devshell.oci import imagestore
from devshell.oci.layers import LayerCache, directory_entry, link_entry, write_layer
from devshell.oci.layout import (
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_EMPTY,
    Descriptor,
    Index,
    Layout,
    Manifest,
    Platform,
)
from devshell.spec import Spec

__all__ = ["CREATED", "LABEL_LOCK", "LABEL_PROJECT", "MEDIA_TYPE_SBOM", "WORKDIR", "WRITTEN_BY", "Built", "build",
           "oci_platform"]

#: The one creation time every image states (the layers' mtime, 1).
CREATED = "1970-01-01T00:00:01Z"
#: The project's directory inside the image: DEVSHELL_ROOT and the working directory.
WORKDIR = "/workspace"
LABEL_PROJECT = "org.opencontainers.image.title"
LABEL_LOCK = "devshell.lock.sha256"
#: index.json's annotation saying `devshell image` wrote the layout (and may replace it).
WRITTEN_BY = "dev.devshell.written-by"
#: The artifact type of the SBOM attached to each platform's image.
MEDIA_TYPE_SBOM = "application/vnd.cyclonedx+json"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
# Bump when what the profile layer holds besides the profile changes: it names cached layers.
_ROOT_LAYER = "image-root-2"
#: What /bin/sh links to, the first the shell has.
_SH = ("sh", "dash", "bash")


def oci_platform(platform: str) -> Platform:
    """`x86_64-linux` → amd64/linux, as OCI names them."""
    arch, _, system = platform.partition("-")
    return Platform(_ARCH.get(arch, arch), system)


@dataclass(frozen=True)
class Built:
    """One platform's image in a layout: its manifest and its config."""

    platform: str
    manifest: Descriptor
    config: dict[str, Any]
    sbom: Descriptor  # the CycloneDX SBOM's artifact manifest, whose subject is `manifest`


def build(spec: Spec, lock: Lock, lock_text: str, home: Home, platforms: Sequence[str],
          dest: Layout) -> list[Built]:
    """Realise the lock for each platform in the image store and write each
    platform's image (layers, config, manifest) into `dest`."""
    staging = imagestore.staging_home(home)
    cache = LayerCache(staging.root / "layers")
    lock_digest = "sha256:" + hashlib.sha256(lock_text.encode()).hexdigest()
    built = []
    for platform in platforms:
        realised = imagestore.realise(spec, lock, platform, staging)
        layers = _layers(realised, staging, cache, dest)
        config = _config(spec, realised, staging, layers, lock_digest)
        config_desc = dest.add_json(config, MEDIA_TYPE_CONFIG)
        manifest = dest.add_manifest(Manifest(config_desc, tuple(layers)),
                                     platform=oci_platform(platform))
        built.append(Built(platform, manifest, config, _sbom(spec, lock, platform, manifest, dest)))
    return built


def _sbom(spec: Spec, lock: Lock, platform: str, image: Descriptor, dest: Layout) -> Descriptor:
    """The lock's CycloneDX SBOM for `platform` (devshell.sbom, the same bytes
    `devshell sbom --platform` prints), attached to the image as an OCI 1.1
    referrer: an artifact manifest whose subject is the image's manifest."""
    from devshell import sbom
    from devshell.sbom.components import inventory

    text = sbom.render("cyclonedx", inventory(lock, spec.shell.name, platform, None))
    document = dest.add_blob(text.encode(), MEDIA_TYPE_SBOM,
                             annotations={"org.opencontainers.image.title": "sbom.cdx.json"})
    empty = dest.add_blob(b"{}", MEDIA_TYPE_EMPTY)
    bare = Descriptor(image.media_type, image.digest, image.size)
    return dest.add_manifest(Manifest(empty, (document,), artifact_type=MEDIA_TYPE_SBOM, subject=bare),
                             artifact_type=MEDIA_TYPE_SBOM)


def top(dest: Layout, built: Sequence[Built], ref_name: str) -> Descriptor:
    """What the layout's index.json names: the one manifest, or an image
    index of every platform's; written, with `ref_name`."""
    if len(built) == 1:
        entry = built[0].manifest
    else:
        entry = dest.add_index(Index(tuple(b.manifest for b in built)))
    entry = entry.with_ref_name(ref_name)
    # The SBOMs are listed beside it, unnamed: referrers, as the layout spec has them.
    dest.write_index([entry, *(b.sbom for b in built)], {WRITTEN_BY: "devshell image"})
    return entry


def _store_dirs() -> list[str]:
    """The image's store directory and its parents, as layer paths."""
    parts = [*imagestore.SEEN_AT.relative_to("/").parts, "store"]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _layers(realised: imagestore.Realised, staging: Home, cache: LayerCache,
            dest: Layout) -> list[Descriptor]:
    parents = _store_dirs()
    store_dir = parents[-1]
    layers: list[Descriptor] = []
    wanted: list[tuple[str, Path, str, tuple[tarfile.TarInfo, ...]]]
    wanted = [(a.output, path, a.output, ()) for _, a, path in realised.outputs]
    wanted.append((realised.profile.name, realised.profile,
                   f"{realised.profile.name}.{_ROOT_LAYER}", _root_entries(realised, staging)))
    for name, path, key, extra in wanted:
        layer = cache.get(key)
        if layer is None:
            layer = write_layer(cache.layout, parents, f"{store_dir}/{name}", path, extra)
            cache.put(key, layer)
        cache.link_into(layer, dest)
        if layer not in layers:
            layers.append(layer)
    return layers


def _root_entries(realised: imagestore.Realised, staging: Home) -> tuple[tarfile.TarInfo, ...]:
    """What the profile's layer puts at the image's root: the directories any
    container expects, and, as Nix's dockerTools.usrBinEnv and binSh do,
    /usr/bin/env and /bin/sh linked to the shell's own `env` and `sh` (else
    dash, else bash: it runs as a POSIX shell under that name) when it has
    them, so scripts that start `#!/usr/bin/env node` (every npm tool) or call
    /bin/sh run. A shell without them gets neither."""
    entries = [directory_entry("tmp", 0o1777), directory_entry(WORKDIR.lstrip("/"))]
    have = realised.profile / "bin"
    inside = f"{staging.final(realised.profile.name)}/bin"
    if os.path.lexists(have / "env"):
        entries += [directory_entry("usr"), directory_entry("usr/bin"), link_entry("usr/bin/env", f"{inside}/env")]
    sh = next((name for name in _SH if os.path.lexists(have / name)), None)
    if sh is not None:
        entries += [directory_entry("bin"), link_entry("bin/sh", f"{inside}/{sh}")]
    return tuple(entries)


def _config(spec: Spec, realised: imagestore.Realised, staging: Home,
            layers: list[Descriptor], lock_digest: str) -> dict[str, Any]:
    from devshell.shell import environment, launch

    profile = str(staging.final(realised.profile.name))
    tool_env = [(k, v.replace("{out}", str(staging.final(a.output))))
                for _, a, _ in realised.outputs for k, v in a.env]
    record = environment.Record(root=WORKDIR, name=spec.shell.name, isolation="pure",
                                profile=profile, host_bin="", tool_env=tuple(tool_env),
                                spec_env=spec.env, scripts=spec.scripts)
    env = environment.compute(record, {})
    settings: dict[str, Any] = {
        "Env": [f"{k}={v}" for k, v in env.items()],
        "WorkingDir": WORKDIR,
        "Labels": {LABEL_PROJECT: spec.shell.name, LABEL_LOCK: lock_digest},
    }
    shell = next((s for s in launch.SHELLS if (realised.profile / "bin" / s).exists()), None)
    if shell is not None:
        settings["Cmd"] = [f"{profile}/bin/{shell}"]
    names = [a.output for _, a, _ in realised.outputs] + [realised.profile.name]
    return {
        "created": CREATED,
        "architecture": oci_platform(realised.platform).architecture,
        "os": oci_platform(realised.platform).os,
        "config": settings,
        "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
        "history": [{"created": CREATED, "created_by": f"devshell: store output {name}"}
                    for name in dict.fromkeys(names)],
    }
