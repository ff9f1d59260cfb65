"""Where devshell keeps its store, caches and state ($DEVSHELL_HOME).

Every path built from a name (an output, a manifest, a lock file) is built
here, and confined: a name that would lead out of its directory is refused
before anything is created, whoever passed it in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devshell.errors import StoreError
from devshell.shell.locations import data_root

__all__ = ["Home", "confined", "home"]


def confined(root: Path, *parts: str) -> Path:
    """`root/parts…`, normalised, refused unless it lies strictly inside `root`
    (no absolute part, no `..` that climbs out, no NUL)."""
    if any("\0" in part for part in parts):
        raise StoreError(f"refusing a path with a NUL byte under {root}")
    base = Path(os.path.normpath(root))
    joined = Path(os.path.normpath(base.joinpath(*parts)))
    if joined == base or not joined.is_relative_to(base):
        raise StoreError(
            f"refusing {'/'.join(parts)!r}: it leads outside {root}",
            hint="a lock or manifest names a path that is not one of devshell's own; "
            "restore devshell.lock from version control, or delete it and run `devshell lock`",
        )
    return joined


def _component(name: str, what: str) -> str:
    """A name that is exactly one path component (it may not start with '.':
    hidden entries are devshell's own temporary files)."""
    if not name or "/" in name or "\0" in name or name.startswith("."):
        raise StoreError(f"refusing {what} {name!r}: not a single file name",
                         hint="restore devshell.lock from version control, or delete it and "
                         "run `devshell lock`")
    return name


@dataclass(frozen=True)
class Home:
    """The directories under $DEVSHELL_HOME, as laid out in DESIGN.md.

    A home may be realised in one place and seen in another: an image's store
    is built under $DEVSHELL_HOME/images but runs at /opt/devshell. `seen_at`
    is then where its programs find it (what relocation, shebangs and venvs
    embed: `final`), and `shared_cache` the download cache it takes artifacts
    from (the user's own, so nothing is downloaded twice).
    """

    root: Path
    seen_at: Path | None = None
    shared_cache: Path | None = None

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def meta(self) -> Path:
        return self.root / "meta"

    @property
    def cache(self) -> Path:
        return self.shared_cache or self.root / "cache"

    @property
    def final_root(self) -> Path:
        """Where the programs stored here see this home (`root`, unless `seen_at`)."""
        return self.seen_at or self.root

    @property
    def downloads(self) -> Path:
        """Verified artifacts, named by their integrity (`sha256-<hex>`)."""
        return self.cache / "downloads"

    @property
    def roots(self) -> Path:
        return self.root / "roots"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    def output(self, name: str) -> Path:
        """Output `name`'s directory in the store."""
        return confined(self.store, _component(name, "store output"))

    def final(self, name: str) -> Path:
        """Where output `name` is seen by its programs: what fix-ups that write
        a path into an output (relocation, shebangs, venvs) embed. The same as
        `output` unless the home is seen elsewhere (`seen_at`)."""
        return confined(self.final_root / "store", _component(name, "store output"))

    def manifest(self, name: str) -> Path:
        """Output `name`'s manifest: keyed by the whole name, never a part of it."""
        return confined(self.meta, _component(name, "store output") + ".json")

    def legacy_manifest(self, name: str) -> Path:
        """Where devshell before lock-version 2 kept the manifest: by digest alone
        (valid only if the manifest's own `name` is `name`)."""
        return confined(self.meta, _component(name, "store output").split("-", 1)[0] + ".json")

    def lock_file(self, key: str) -> Path:
        """A filelock path in the private locks directory (mode 0700)."""
        path = confined(self.locks, _component(key, "lock name") + ".lock")
        self.locks.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path


def home(environ: Mapping[str, str] | None = None) -> Home:
    """$DEVSHELL_HOME, else $XDG_DATA_HOME/devshell, else ~/.local/share/devshell."""
    return Home(Path(data_root(environ)))
