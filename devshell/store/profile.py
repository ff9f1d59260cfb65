"""A profile: one store path whose bin/ links every exposed program.

Links are relative (`../../<output>/bin/node`), so a profile's bytes, and
its name, are the same whatever $DEVSHELL_HOME is. Its digest covers the
links and the shell's name, so two projects with the same tools under
different names get two outputs, each with its own manifest.
"""

from __future__ import annotations

import os
from pathlib import Path

from devshell import integrity, names, store
from devshell.errors import StoreError
from devshell.home import Home, confined
from devshell.lock import Artifact

__all__ = ["build"]


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "._+-") else "-" for c in name)
    return cleaned.strip("-.")[:100] or "shell"


def _link(artifact: Artifact, prog: str, path: str) -> tuple[str, str]:
    """(link name, target), both checked: a plain name in bin/, and a target
    inside the artifact's own output (the lock loader checked them once)."""
    try:
        names.check_plain(prog, "program name")
        names.check_inner_path(path, "program path")
    except ValueError as exc:
        raise StoreError(f"{artifact.output}: bin entry refused: {exc}",
                         hint="fix bin = [...] in devshell.toml and run `devshell lock`") from None
    output = artifact.output
    if not output or "/" in output or output.startswith("."):
        raise StoreError(f"refusing to link into {output!r}: not a store output name")
    return prog, f"../../{output}/{path}"


def build(home: Home, shell_name: str, artifacts: list[Artifact]) -> Path:
    links = sorted(_link(a, prog, path) for a in artifacts for prog, path in a.programs())
    safe = _safe(shell_name)
    name = f"{integrity.digest_of({'profile': links, 'name': safe})}-profile-{safe}"

    def populate(tmp: Path) -> None:
        bindir = confined(tmp, "bin")
        bindir.mkdir()
        for prog, target in links:
            os.symlink(target, confined(bindir, prog))

    return store.add(home, name, populate)
