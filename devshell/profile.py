"""A profile: one store path whose bin/ links every exposed program.

Links are relative (`../../<output>/bin/node`), so a profile's bytes, and
its name, are the same whatever $DEVSHELL_HOME is.
"""

from __future__ import annotations

import os
from pathlib import Path

from devshell import integrity, store
from devshell.home import Home
from devshell.lock import Artifact

__all__ = ["build"]


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._+-" else "-" for c in name)
    return cleaned.strip("-.") or "shell"


def build(home: Home, shell_name: str, artifacts: list[Artifact]) -> Path:
    links = sorted(
        (name, f"../../{artifact.output}/{path}")
        for artifact in artifacts
        for name, path in artifact.programs()
    )
    name = f"{integrity.digest_of({'profile': links})}-profile-{_safe(shell_name)}"

    def populate(tmp: Path) -> None:
        (tmp / "bin").mkdir()
        for prog, target in links:
            os.symlink(target, tmp / "bin" / prog)

    return store.add(home, name, populate)
