"""The `npmtree` format's way of filling a store output (devshell.store.formats).

Every package of the artifact's closure (the tool itself among them), fetched
or taken from the download cache and checked against its integrity, is
unpacked at its path in the tree (`node_modules/eslint`,
`node_modules/eslint/node_modules/…`), parents before children, each
tarball's top directory dropped as npm drops it. No registry is asked, no
install script runs, nothing else is written: the programs are the tool's own
files, run by the pinned node on PATH.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from devshell.errors import StoreError

if TYPE_CHECKING:
    from devshell.home import Home
    from devshell.lock import Artifact
    from devshell.sources.locate import Upstreams

__all__ = ["fill"]


def fill(home: Home, artifact: Artifact, label: str, tmp: Path, upstreams: Upstreams) -> None:
    """Each tarball is unpacked into a staging directory of its own as soon as
    it has arrived and been verified, while the others still download; then
    the staged packages are moved to their paths in the tree, parents first."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from devshell import names
    from devshell.home import confined
    from devshell.net.fetch import Download, fetch
    from devshell.store.unpack import unpack

    parts = sorted(artifact.closure, key=lambda p: p.path or "")
    if not parts or any(p.path is None for p in parts):
        raise StoreError(f"{label}: the lock gives its node_modules tree no paths",
                         hint="run `devshell lock --update` with this devshell")
    for part in parts:
        try:
            names.check_tree_path(part.path, "path")
        except ValueError as exc:
            raise StoreError(f"{label}: {exc}", hint="the lock is damaged; run `devshell lock`") from None
    staging = tmp / ".staging"
    staging.mkdir()
    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = {
            pool.submit(fetch, home, Download(p.url, p.integrity, p.size, f"{p.name} {p.version}, for {label}"),
                        locate=upstreams.concrete): i
            for i, p in enumerate(parts)
        }
        try:
            for done in as_completed(futures):
                i = futures[done]
                (staging / str(i)).mkdir()
                unpack(done.result(), "tgz", staging / str(i), strip=1)
        except BaseException:
            for f in futures:  # what has not started does not; the pool waits for the rest
                f.cancel()
            raise
    for i, part in enumerate(parts):  # sorted by path: a parent before what nests in it
        assert part.path is not None
        dest = confined(tmp, part.path)
        if dest.exists():
            raise StoreError(f"{label}: {part.name} {part.version} would go to {part.path}, which its "
                             "parent's tarball already fills",
                             hint="the tree npm resolved does not fit together; report it")
        dest.parent.mkdir(parents=True, exist_ok=True)
        (staging / str(i)).rename(dest)
    staging.rmdir()
