"""Where devshell keeps its store, caches and state ($DEVSHELL_HOME)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devshell.locations import data_root

__all__ = ["Home", "home"]


@dataclass(frozen=True)
class Home:
    """The directories under $DEVSHELL_HOME, as laid out in DESIGN.md."""

    root: Path

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def meta(self) -> Path:
        return self.root / "meta"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

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

    def lock_file(self, key: str) -> Path:
        """A filelock path in the private locks directory (mode 0700)."""
        self.locks.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.locks / f"{key}.lock"


def home(environ: Mapping[str, str] | None = None) -> Home:
    """$DEVSHELL_HOME, else $XDG_DATA_HOME/devshell, else ~/.local/share/devshell."""
    return Home(Path(data_root(environ)))
