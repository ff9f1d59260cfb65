"""The C library floor, and tools that are optional on some platforms.

Linux platforms carry a glibc floor (2.28 unless `[shell] glibc` says
otherwise, from 2.17 up):
a wheel tagged for a newer glibc is not chosen, so "latest" is the newest
release that runs on the floor; realising a tool on a host older than it
needs is one line naming both. A tool marked `optional` is left out, with a
warning, where it is not available."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from devshell import libc
from tests.helpers import devshell
from tests.loopback import LoopbackServer
from tests.pypi_index import FakeIndex, wheel


def _script(version: str) -> str:
    return f'#!/bin/sh\necho "rg {version}"\n'


@pytest.fixture
def index(server: LoopbackServer) -> FakeIndex:
    """ripgrep-like releases: 14 runs on glibc 2.17, 15 needs 2.39 on Linux;
    both have macOS wheels; neither has aarch64-linux."""
    idx = FakeIndex(server)
    for version, linux in (("14.1.1", "manylinux_2_17_x86_64.manylinux2014_x86_64"),
                           ("15.0.0", "manylinux_2_39_x86_64")):
        for tag in (linux, "macosx_11_0_arm64"):
            idx.add("rgfake", *wheel("rgfake", version, tag, {"rg": _script(version)}))
    return idx


def _project(tmp_path: Path, tools: str, shell: str = "",
             platforms: str = '["x86_64-linux", "aarch64-darwin"]') -> Path:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "devshell.toml").write_text(f"[shell]\nplatforms = {platforms}\n{shell}\n[tools]\n{tools}")
    return root


def _locked(root: Path, name: str) -> dict[str, object]:
    tool: dict[str, object] = json.loads((root / "devshell.lock").read_text())["tools"][name]
    return tool


def test_latest_is_the_newest_release_that_runs_on_the_floor(tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path, '"pypi:rgfake" = "latest"\n')
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url()}, check=True)
    assert _locked(root, "rgfake")["version"] == "14.1.1"


def test_the_spec_can_raise_the_floor(tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path, '"pypi:rgfake" = "latest"\n', shell='glibc = "2.39"\n')
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url()}, check=True)
    tool = _locked(root, "rgfake")
    assert tool["version"] == "15.0.0"
    linux = tool["platforms"]["x86_64-linux"]  # type: ignore[index]
    assert linux["url"].endswith("manylinux_2_39_x86_64.whl")


def test_a_pinned_release_above_the_floor_is_unavailable_on_linux(tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path, '"pypi:rgfake" = "15.0.0"\n')
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url(), "DEVSHELL_PLATFORM": "aarch64-darwin"}, check=True)
    linux = _locked(root, "rgfake")["platforms"]["x86_64-linux"]  # type: ignore[index]
    assert linux == {"unavailable": "rgfake 15.0.0 has no wheel for x86_64-linux on glibc 2.28 "
                                    "(its Linux wheels need glibc 2.39; raise [shell] glibc to take them)"}


@pytest.mark.parametrize("value", ["2.x", "3", "2.5", 2.28])
def test_a_floor_that_is_not_a_glibc_version_is_one_clear_line(tmp_path: Path, value: object) -> None:
    shown = json.dumps(value)
    root = _project(tmp_path, "", shell=f"glibc = {shown}\n")
    proc = devshell("lock", cwd=root)
    assert proc.returncode == 3, proc.stderr
    assert "shell.glibc" in proc.stderr and "Traceback" not in proc.stderr


def test_a_floor_lowered_to_manylinux2014_keeps_newer_wheels_out(tmp_path: Path, server: LoopbackServer) -> None:
    """For teams on RHEL 7 and its kin: `glibc = "2.17"` makes "latest" the
    newest release whose wheels run there, and a 2.28 wheel is not it."""
    idx = FakeIndex(server)
    for version, tag in (("1.0.0", "manylinux_2_17_x86_64"), ("2.0.0", "manylinux_2_28_x86_64")):
        idx.add("oldglibc", *wheel("oldglibc", version, tag, {"oldglibc": _script(version)}))
    root = _project(tmp_path, '"pypi:oldglibc" = "latest"\n', platforms='["x86_64-linux"]')
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": idx.url()}, check=True)
    assert _locked(root, "oldglibc")["version"] == "2.0.0"
    (tmp_path / "lowered").mkdir()
    root = _project(tmp_path / "lowered", '"pypi:oldglibc" = "latest"\n', shell='glibc = "2.17"\n',
                    platforms='["x86_64-linux"]')
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": idx.url()}, check=True)
    assert _locked(root, "oldglibc")["version"] == "1.0.0"


def test_a_host_older_than_a_tool_needs_is_one_line(tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path, '"pypi:rgfake" = "15"\n', shell='glibc = "2.39"\n', platforms='["x86_64-linux"]')
    env = {"PIP_INDEX_URL": index.url(), "DEVSHELL_HOST_GLIBC": "2.36"}
    devshell("lock", cwd=root, env=env, check=True)
    proc = devshell("install", cwd=root, env=env)
    assert proc.returncode == 6, proc.stderr
    assert "rgfake 15.0.0 needs glibc 2.39, and this machine has glibc 2.36" in proc.stderr
    assert proc.stderr.count("error:") == 1 and "Traceback" not in proc.stderr


def test_the_floor_a_wheel_needs_is_read_from_its_tags() -> None:
    assert libc.needs("pypi:x/x-1-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl") == (2, 17)
    assert libc.needs("pypi:x/x-1-py3-none-manylinux_2_39_aarch64.whl") == (2, 39)
    assert libc.needs("pypi:x/x-1-py3-none-manylinux2010_x86_64.whl") == (2, 12)
    assert libc.needs("pypi:x/x-1-py3-none-macosx_11_0_arm64.whl") is None
    assert libc.needs("https://example.invalid/tool-1.0-linux.tar.gz") is None


def test_an_optional_tool_is_left_out_where_it_is_not_available(tmp_path: Path, index: FakeIndex,
                                                                server: LoopbackServer) -> None:
    """The repository's own shellcheck has no aarch64-linux wheel: that shell
    still realises there, without it, and says so."""
    tools = '"pypi:rgfake" = { version = "14", optional = true }\n'
    root = _project(tmp_path, tools, platforms='["x86_64-linux", "aarch64-linux"]')
    env = {"PIP_INDEX_URL": index.url()}
    devshell("lock", cwd=root, env=env, check=True)
    proc = devshell("install", cwd=root, env={**env, "DEVSHELL_PLATFORM": "aarch64-linux"}, check=True)
    assert "warning: rgfake 14.1.1 is not available for aarch64-linux" in proc.stderr
    assert "optional" in proc.stderr
    status = devshell("status", cwd=root, env={**env, "DEVSHELL_PLATFORM": "aarch64-linux"}, check=True).stdout
    assert "rgfake" in status and "not on aarch64-linux (optional)" in status
    # Where it is available, it is there as always.
    devshell("install", cwd=root, env=env, check=True)
    assert devshell("run", "--", "rg", cwd=root, env=env, check=True).stdout == "rg 14.1.1\n"


def test_a_tool_that_is_not_optional_still_fails_where_it_is_missing(tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path, '"pypi:rgfake" = "14"\n', platforms='["x86_64-linux", "aarch64-linux"]')
    env = {"PIP_INDEX_URL": index.url()}
    devshell("lock", cwd=root, env=env, check=True)
    proc = devshell("install", cwd=root, env={**env, "DEVSHELL_PLATFORM": "aarch64-linux"})
    assert proc.returncode == 6 and "rgfake 14.1.1 is not available for aarch64-linux" in proc.stderr
    assert "optional = true" in proc.stderr  # the hint names the way out


def test_optional_takes_true_or_a_list_of_platforms(tmp_path: Path) -> None:
    root = _project(tmp_path, '"pypi:rgfake" = { version = "14", optional = ["mars-linux"] }\n')
    proc = devshell("lock", cwd=root)
    assert proc.returncode == 3 and "tools.pypi:rgfake.optional" in proc.stderr, proc.stderr
    assert os.path.exists(root / "devshell.toml") and not (root / "devshell.lock").exists()
