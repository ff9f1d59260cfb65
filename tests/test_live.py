"""Against the real upstreams this machine is configured for (pip's index,
npm's registry): every ready shell in shells/ realises from its committed
lock, each tool reports the pinned version, and locking is deterministic."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from devshell import config
from tests.helpers import devshell

pytestmark = pytest.mark.live

SHELLS = Path(__file__).resolve().parent.parent / "shells"

# How each tool tells its version.
VERSION_COMMANDS = {
    "ruff": ["ruff", "--version"],
    "uv": ["uv", "--version"],
    "go": ["go", "version"],
    "task": ["task", "--version"],
    "node": ["node", "--version"],
    "pnpm": ["pnpm", "--version"],
    "prettier": ["prettier", "--version"],
    "typescript": ["tsc", "--version"],
    "eslint": ["eslint", "--version"],
    "esbuild": ["esbuild", "--version"],
    "biome": ["biome", "--version"],
    "python": ["python", "--version"],
}


def _reachable(source: str) -> str | None:
    """None when the upstream answers, else why not (for the skip reason)."""
    import requests

    try:
        if source == "pypi":
            url = config.pypi_index().url
        elif source in ("deb", "cpython"):  # here CPython comes from the Debian route
            url = config.debian_archive().url
        else:
            url = config.npm_registry().url
        requests.head(url, timeout=10)
    except Exception as exc:
        return f"the {source} upstream cannot be reached: {exc}"
    return None


def _skip_unless_reachable(lock: dict[str, Any]) -> None:
    for tool in lock["tools"].values():
        reason = _reachable(tool["source"])
        if reason:
            pytest.skip(reason)


def _each_tool_reports_its_pin(root: Path, lock: dict[str, Any]) -> None:
    for tool_name, tool in lock["tools"].items():
        proc = devshell("run", "--locked", "--", *VERSION_COMMANDS[tool_name], cwd=root,
                        env={"DEVSHELL_PLATFORM": ""}, check=True)
        assert tool["version"] in proc.stdout + proc.stderr, (tool_name, proc.stdout)


def _templates() -> list[str]:
    return sorted(p.name for p in SHELLS.iterdir() if (p / "devshell.lock").is_file())


@pytest.mark.parametrize("name", _templates())
def test_ready_shell_realises_locked_and_tools_report_their_pins(name: str, tmp_path: Path) -> None:
    lock = json.loads((SHELLS / name / "devshell.lock").read_text())
    _skip_unless_reachable(lock)
    root = tmp_path / name
    shutil.copytree(SHELLS / name, root)
    devshell("install", "--locked", cwd=root, env={"CI": "true", "DEVSHELL_PLATFORM": ""},
             timeout=900, check=True)
    _each_tool_reports_its_pin(root, lock)
    assert (root / "devshell.lock").read_bytes() == (SHELLS / name / "devshell.lock").read_bytes()


def test_locking_a_real_spec_twice_gives_identical_bytes(tmp_path: Path) -> None:
    reason = _reachable("pypi")
    if reason:
        pytest.skip(reason)
    root = tmp_path / "p"
    root.mkdir()
    (root / "devshell.toml").write_text('[tools]\nruff = "0.6.9"\nuv = "0.4.30"\n')
    devshell("lock", cwd=root, timeout=300, check=True)
    first = (root / "devshell.lock").read_bytes()
    (root / "devshell.lock").unlink()
    devshell("lock", cwd=root, timeout=300, check=True)
    assert (root / "devshell.lock").read_bytes() == first
    assert json.loads(first)["tools"]["ruff"]["platforms"]["aarch64-darwin"]["url"].startswith("pypi:ruff/")


@pytest.mark.parametrize("name", _templates())
def test_ready_shell_relocks_from_its_spec_and_realises(name: str, tmp_path: Path) -> None:
    """What a user gets who deletes the lock today: a fresh resolution against
    the real upstreams that realises and runs, every tool at its new pin."""
    lock = json.loads((SHELLS / name / "devshell.lock").read_text())
    _skip_unless_reachable(lock)
    root = tmp_path / name
    shutil.copytree(SHELLS / name, root)
    (root / "devshell.lock").unlink()
    devshell("lock", cwd=root, env={"CI": "", "DEVSHELL_PLATFORM": ""}, timeout=900, check=True)
    fresh = json.loads((root / "devshell.lock").read_text())
    assert set(fresh["tools"]) == set(lock["tools"])
    devshell("install", "--locked", cwd=root, env={"DEVSHELL_PLATFORM": ""}, timeout=900, check=True)
    _each_tool_reports_its_pin(root, fresh)


def test_ripgrep_at_latest_is_the_newest_release_that_runs_here(tmp_path: Path) -> None:
    """ripgrep's newest wheels need a newer glibc than the floor: "latest" is
    the newest release whose wheels keep to it, and that one runs here."""
    reason = _reachable("pypi")
    if reason:
        pytest.skip(reason)
    root = tmp_path / "p"
    root.mkdir()
    (root / "devshell.toml").write_text('[tools]\nripgrep = "latest"\n')
    devshell("lock", cwd=root, env={"CI": "", "DEVSHELL_PLATFORM": ""}, timeout=300, check=True)
    rg = json.loads((root / "devshell.lock").read_text())["tools"]["ripgrep"]
    url = rg["platforms"]["x86_64-linux"]["url"]
    from devshell import libc

    need = libc.needs(url)
    assert need is not None and need <= libc.FLOOR, url
    (root / "hay.txt").write_text("needle in a haystack\n")
    proc = devshell("run", "--", "rg", "--version", cwd=root, env={"DEVSHELL_PLATFORM": ""}, check=True)
    assert proc.stdout.startswith(f"ripgrep {rg['version']}")
    found = devshell("run", "--", "rg", "-c", "needle", "hay.txt", cwd=root,
                     env={"DEVSHELL_PLATFORM": ""}, check=True)
    assert found.stdout.strip() == "1"


def test_shfmt_is_locked_at_its_own_version_not_its_repackagers(tmp_path: Path) -> None:
    reason = _reachable("pypi")
    if reason:
        pytest.skip(reason)
    root = tmp_path / "p"
    root.mkdir()
    (root / "devshell.toml").write_text('[tools]\nshfmt = "latest"\n')
    devshell("lock", cwd=root, env={"CI": "", "DEVSHELL_PLATFORM": ""}, timeout=300, check=True)
    entry = json.loads((root / "devshell.lock").read_text())["tools"]["shfmt"]
    said = devshell("run", "--", "shfmt", "--version", cwd=root, env={"DEVSHELL_PLATFORM": ""}, check=True)
    assert said.stdout.strip().lstrip("v") == entry["version"], (entry["version"], entry.get("package-version"))
