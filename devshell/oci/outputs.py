"""Where `devshell image` writes an image, one entry per `--format` in one table.

Each format checks its destination before any work is done, says where the
image's layout is assembled, and then puts the result in place whole: the
destination holds the old thing or the new one, never half of either.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from devshell.errors import UsageError
from devshell.oci.image import Built
from devshell.oci.layout import Descriptor, Layout
from devshell.oci.model import LAYOUT_FILE

__all__ = ["FORMATS", "DockerArchive", "OciLayout", "OutputFormat", "docker_reference", "ref_name"]

# The image-spec's grammar of `org.opencontainers.image.ref.name`.
_COMPONENT = r"[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
_REF_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
# A docker reference: a lowercase repository path, then a tag.
_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?"
                         r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def ref_name(tag: str) -> str:
    """`--tag` as the layout's ref name, refused unless the image-spec allows it."""
    if not _REF_NAME.fullmatch(tag):
        raise UsageError(f"--tag {tag!r} is not a valid image reference name",
                         hint="use letters, digits and . _ - : / (e.g. latest, 1.0, webapp:1.0)")
    return tag


def docker_reference(tag: str, shell_name: str) -> str:
    """`--tag` as a docker-archive's RepoTags entry: `REPO:TAG` as given, or a
    bare TAG on a repository named for the shell."""
    repo, sep, bare = tag.rpartition(":")
    if not sep or "/" in bare:
        repo, bare = re.sub(r"[^a-z0-9._-]+", "-", shell_name.lower()).strip("-._") or "devshell", tag
    if not _REPOSITORY.fullmatch(repo) or not _TAG.fullmatch(bare):
        raise UsageError(f"--tag {tag!r} is not a docker image reference",
                         hint="give TAG (e.g. 1.0) or REPOSITORY:TAG in lowercase (e.g. team/webapp:1.0)")
    return f"{repo}:{bare}"


class OutputFormat(Protocol):
    """One way of writing an image out."""

    def check(self, dest: Path, platforms: Sequence[str], tag: str, shell_name: str) -> None:
        """Refuse, before any work, a destination or request this format cannot take."""

    def scratch(self, dest: Path, staging: Path) -> Path:
        """A new, empty directory to assemble the image's layout in."""

    def finish(self, layout: Layout, built: Sequence[Built], entry: Descriptor, dest: Path,
               tag: str, shell_name: str) -> None:
        """Put the assembled image at `dest`; the scratch directory is removed after."""


def _ours(dest: Path) -> bool:
    """Whether `dest` is an OCI image layout `devshell image` wrote."""
    from devshell.oci.image import WRITTEN_BY

    if not (dest / LAYOUT_FILE).is_file():
        return False
    try:
        index = json.loads((dest / "index.json").read_bytes()[:1 << 20])
    except (OSError, ValueError):
        return False
    annotations = index.get("annotations") if isinstance(index, dict) else None
    return isinstance(annotations, dict) and annotations.get(WRITTEN_BY) == "devshell image"


class OciLayout:
    """An OCI image layout directory (`--output DIR`), replacing one written before."""

    def check(self, dest: Path, platforms: Sequence[str], tag: str, shell_name: str) -> None:
        ref_name(tag)
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            raise UsageError(f"--output {dest} exists and is not a directory",
                             hint="an OCI image layout is a directory: name a new one, or "
                             "use --format docker-archive for a single file")
        if dest.is_dir() and any(dest.iterdir()) and not _ours(dest):
            raise UsageError(f"--output {dest} is a directory `devshell image` did not write "
                             "(replacing it would lose what it holds)",
                             hint="name a new or empty directory, or one `devshell image` wrote")

    def scratch(self, dest: Path, staging: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))

    def finish(self, layout: Layout, built: Sequence[Built], entry: Descriptor, dest: Path,
               tag: str, shell_name: str) -> None:
        old = None
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.rename(dest, old)
        try:
            os.rename(layout.root, dest)
        except BaseException:
            if old is not None:
                os.rename(old, dest)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


class DockerArchive:
    """A tar for `docker load` / `podman load` (`--output FILE.tar`): the OCI
    layout as a tar, plus the `manifest.json` those tools read."""

    def check(self, dest: Path, platforms: Sequence[str], tag: str, shell_name: str) -> None:
        docker_reference(tag, shell_name)
        if len(platforms) != 1:
            raise UsageError("a docker archive holds one platform's image, and "
                             f"{len(platforms)} were asked for",
                             hint="give one --platform, or write an OCI layout (--format oci) "
                             "for a multi-platform image")
        if dest.is_dir() or dest.is_symlink():
            raise UsageError(f"--output {dest} is a directory (or a link), not a file",
                             hint="name the .tar file to write")

    def scratch(self, dest: Path, staging: Path) -> Path:
        # Beside the layer cache, so the layers are linked in, not copied.
        (staging / "tmp").mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="docker-archive-", dir=staging / "tmp"))

    def finish(self, layout: Layout, built: Sequence[Built], entry: Descriptor, dest: Path,
               tag: str, shell_name: str) -> None:
        (image,) = built
        manifest = layout.manifest(image.manifest)
        listing = [{
            "Config": f"blobs/sha256/{manifest.config.digest[7:]}",
            "RepoTags": [docker_reference(tag, shell_name)],
            "Layers": [f"blobs/sha256/{layer.digest[7:]}" for layer in manifest.layers],
        }]
        text = json.dumps(listing, sort_keys=True, separators=(",", ":")).encode()
        layout.write_tar(dest, {"manifest.json": text})


#: --format → how it is written.
FORMATS: dict[str, OutputFormat] = {"oci": OciLayout(), "docker-archive": DockerArchive()}
