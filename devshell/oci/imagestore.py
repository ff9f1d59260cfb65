"""The store images are made from: a lock realised for /opt/devshell.

Inside an image the store lives at `/opt/devshell/store`, and an output whose
bytes name its own path (a relocated Debian closure, a venv, compiled Python
bytecode) must name that path. So images are realised into a home of their
own, `$DEVSHELL_HOME/images`, seen at /opt/devshell (`Home.seen_at`), which
keeps its outputs from one build to the next and takes its downloads from the
user's cache: nothing is fetched twice, and a second image is quick.

Another platform's outputs are only downloaded and unpacked, never run. A
fix-up that runs a program of the output while it is made cannot be done for
another architecture, and skipping it would store bytes other than the ones
the output's name stands for; such a tool is refused for that platform, with
the reason. So is an unpack format devshell does not ship (a plugin's), which
may run anything.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devshell.errors import StoreError, UsageError
from devshell.home import Home
from devshell.lock import Artifact, Lock

if TYPE_CHECKING:
    from devshell.spec import Spec

__all__ = ["SEEN_AT", "Realised", "check_platform", "realise", "staging_home"]

#: Where an image's devshell home is (its store: SEEN_AT/store).
SEEN_AT = Path("/opt/devshell")
#: Formats whose filling runs none of the output's own programs (a format from
#: a plugin is not among them: it may run what it unpacks).
_RUNS_NOTHING = frozenset({"tar.gz", "tgz", "tar.xz", "tar.bz2", "tar.zst", "zip", "binary",
                           "deb", "cpython", "pyenv", "npmtree"})
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def _runs_a_program() -> dict[str, str]:
    """Fix-ups that run one of the output's programs while it is made, and what for."""
    from devshell.python import bytecode

    return {bytecode.FIXUP: "its Python compiles its own standard library as it is stored"}


@dataclass(frozen=True)
class Realised:
    """One platform's outputs in the image store: (label, artifact, physical
    path) per tool, in the lock's order, and the profile's physical path."""

    platform: str
    outputs: tuple[tuple[str, Artifact, Path], ...]
    profile: Path


def staging_home(home: Home) -> Home:
    """The image store's home: under the user's, seen at SEEN_AT, sharing its downloads."""
    return Home(home.root / "images", seen_at=SEEN_AT, shared_cache=home.cache)


def check_platform(platform: str, spec: Spec) -> None:
    """A platform an image can be made for: a Linux one the spec covers."""
    linux = [p for p in spec.shell.platforms if p.endswith("-linux")]
    if platform not in spec.shell.platforms or not platform.endswith("-linux"):
        why = ("images are Linux images" if not platform.endswith("-linux")
               else f"it is not in shell.platforms of {spec.path}")
        raise UsageError(f"cannot build an image for {platform!r}: {why}",
                         hint=f"platforms this spec can make images for: {', '.join(linux) or 'none'}"
                         "; add a platform to shell.platforms and run `devshell lock` for others")


def _this_machine() -> str | None:
    """The platform this machine's programs run on (never DEVSHELL_PLATFORM:
    what matters here is what can really run)."""
    if not sys.platform.startswith("linux"):
        return None
    machine = _MACHINES.get(os.uname().machine.lower())
    return f"{machine}-linux" if machine else None


def artifacts(spec: Spec, lock: Lock, platform: str) -> list[tuple[str, Artifact]]:
    """Every tool's artifact for `platform`, labelled; an optional tool that
    is not available there is left out with a warning, any other refused."""
    from devshell.project import each_artifact

    found: list[tuple[str, Artifact]] = []
    for tool, artifact in each_artifact(spec, lock, platform, "the image goes without it"):
        if isinstance(artifact, str):
            raise StoreError(f"cannot build the {platform} image: {tool.name} {tool.version} "
                             f"is not available for it: {artifact}",
                             hint=f"mark {tool.name} optional = true in devshell.toml, or leave "
                             f"--platform {platform} out")
        found.append((f"{tool.name} {tool.version} ({platform})", artifact))
    return found


def _refuse_foreign(platform: str, found: list[tuple[str, Artifact]]) -> None:
    here = _this_machine()
    if platform == here:
        return
    running = _runs_a_program()
    for label, artifact in found:
        why = next((text for fix, text in running.items() if fix in artifact.fixups), None)
        if why is None and artifact.format not in _RUNS_NOTHING:
            why = f"its unpack format {artifact.format!r} comes from a plugin, which may run it"
        if why is not None:
            raise StoreError(
                f"cannot build the {platform} image on this {here or 'non-Linux'} machine: "
                f"{label} cannot be made without running it ({why})",
                hint=f"build the {platform} image on a {platform} machine, or leave "
                f"--platform {platform} out; nothing of it is run elsewhere, so its bytes "
                "would not be the ones its name stands for")


def realise(spec: Spec, lock: Lock, platform: str, home: Home) -> Realised:
    """The lock's outputs for `platform`, and their profile, in the image store
    `home` (`staging_home`); a tool that cannot be made here is refused
    before anything is fetched."""
    from devshell import store
    from devshell.sources.locate import Upstreams
    from devshell.store import profile

    found = artifacts(spec, lock, platform)
    _refuse_foreign(platform, found)
    ups = Upstreams(spec.root, dict(spec.sources))
    # Four at a time, as `install` realises a project's tools.
    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(lambda la: store.add_artifact(home, la[1], la[0], ups), found))
    outputs = tuple((label, artifact, path) for (label, artifact), path in zip(found, paths, strict=True))
    prof = profile.build(home, spec.shell.name, [a for _, a in found])
    return Realised(platform, outputs, prof)
