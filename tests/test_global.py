"""`devshell global …`: the user-level profile, driven through the real
console script from outside any project: starting it with `global add`,
changing it, rolling it back offline, gc keeping it, and restoring it on a
fresh machine from a copied spec and lock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import devshell
from tests.loopback import LoopbackServer
from tests.pypi_index import FakeIndex, wheel

LINUX = "manylinux_2_17_x86_64.manylinux2014_x86_64"


@pytest.fixture
def env(server: LoopbackServer) -> dict[str, str]:
    """faketool 1.2.3 and 1.3.0 on a loopback package index."""
    index = FakeIndex(server)
    for version in ("1.2.3", "1.3.0"):
        index.add("faketool", *wheel("faketool", version, LINUX,
                                     {"faketool": f'#!/bin/sh\necho "faketool {version} $*"\n'}))
    return {"PIP_INDEX_URL": index.url(), "DEVSHELL_HTTP_RETRIES": "0"}


@pytest.fixture
def anywhere(tmp_path: Path) -> Path:
    """A directory in no project."""
    path = tmp_path / "anywhere"
    path.mkdir()
    return path


def _profile() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "devshell" / "global"


def _tools(cwd: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """Tool → version, as `global status` reports them realised."""
    status = json.loads(devshell("global", "status", "--format", "json", cwd=cwd, env=env, check=True).stdout)
    return {t["name"]: t["version"] for t in status["tools"] if t["state"] == "realised"}


def _run_own_tool(cwd: Path, name: str, env: dict[str, str] | None = None) -> str:
    """Run `name` from the profile as the shellenv hook puts it on PATH."""
    text = devshell("shellenv", "bash", "--env", "--root", str(_profile()), cwd=cwd, env=env, check=True).stdout
    proc = subprocess.run(["bash", "-c", f"{text}\n{name}"], capture_output=True, text=True, timeout=30,
                          check=True, env={**os.environ, "PATH": "/usr/bin:/bin"})
    return proc.stdout


def test_global_add_starts_the_profile_outside_any_project(anywhere: Path, env: dict[str, str]) -> None:
    proc = devshell("global", "add", "pypi:faketool@1.2", cwd=anywhere, env=env, check=True)
    assert "faketool: added 1.2.3" in proc.stderr
    spec = (_profile() / "devshell.toml").read_text()
    assert '"pypi:faketool" = "1.2"' in spec
    assert 'platforms = ["x86_64-linux"]' in spec  # this machine's, to start with
    assert json.loads((_profile() / "devshell.lock").read_text())["tools"]["faketool"]["version"] == "1.2.3"
    assert not (anywhere / "devshell.toml").exists()
    assert _tools(anywhere) == {"faketool": "1.2.3"}
    # Its own: applied with no `devshell trust`, and no project's variables.
    text = devshell("shellenv", "bash", "--env", "--root", str(_profile()), cwd=anywhere, check=True).stdout
    assert "not trusted" not in text and "DEVSHELL_NAME" not in text and "DEVSHELL_PROFILE" in text
    assert _run_own_tool(anywhere, "faketool hi") == "faketool 1.2.3 hi\n"


def test_without_a_profile_global_commands_say_how_to_start_one(anywhere: Path) -> None:
    for command in (["status"], ["install"], ["remove", "faketool"], ["generations"], ["rollback"]):
        proc = devshell("global", *command, cwd=anywhere)
        assert proc.returncode == 2, command
        assert proc.stderr.startswith(f"devshell: error: no user-level profile yet: {_profile()}/devshell.toml "
                                      "does not exist\n  hint: `devshell global add TOOL` starts one")
    assert not _profile().exists()


def test_a_failed_first_global_add_leaves_no_profile(anywhere: Path, env: dict[str, str]) -> None:
    proc = devshell("global", "add", "pypi:nosuchtool", cwd=anywhere, env=env)
    assert proc.returncode != 0
    assert "nosuchtool" in proc.stderr
    assert not (_profile() / "devshell.toml").exists()
    assert not (_profile() / "devshell.lock").exists()


def test_global_rollback_restores_the_previous_tools_offline_and_gc_keeps_them(
        anywhere: Path, env: dict[str, str], server: LoopbackServer) -> None:
    devshell("global", "add", "pypi:faketool@1.2", cwd=anywhere, env=env, check=True)
    devshell("global", "add", "pypi:faketool@1.3", cwd=anywhere, env=env, check=True)
    assert _run_own_tool(anywhere, "faketool") == "faketool 1.3.0 \n"
    listing = devshell("global", "generations", cwd=anywhere, check=True).stdout.splitlines()
    assert len(listing) == 2
    assert "~ faketool 1.2.3 → 1.3.0" in listing[1] and "(current)" in listing[1]

    server.stop()  # no network from here on
    devshell("gc", cwd=anywhere, check=True)  # the profile's generations are roots
    proc = devshell("global", "rollback", cwd=anywhere, check=True)
    assert "rolled back to generation 1" in proc.stderr and "faketool 1.3.0 → 1.2.3" in proc.stderr
    assert '"pypi:faketool" = "1.2"' in (_profile() / "devshell.toml").read_text()
    assert _tools(anywhere) == {"faketool": "1.2.3"}
    assert _run_own_tool(anywhere, "faketool") == "faketool 1.2.3 \n"
    devshell("gc", cwd=anywhere, check=True)
    devshell("global", "rollback", "2", cwd=anywhere, check=True)
    assert _run_own_tool(anywhere, "faketool") == "faketool 1.3.0 \n"


def test_global_remove_and_lock(anywhere: Path, env: dict[str, str]) -> None:
    devshell("global", "add", "pypi:faketool@1.2", cwd=anywhere, env=env, check=True)
    spec = _profile() / "devshell.toml"
    spec.write_text(spec.read_text().replace('"1.2"', '"1.3"'))  # edited by hand: no trust asked
    assert "locked 1 tools" in devshell("global", "lock", cwd=anywhere, env=env, check=True).stderr
    assert json.loads((_profile() / "devshell.lock").read_text())["tools"]["faketool"]["version"] == "1.3.0"
    devshell("global", "remove", "faketool", cwd=anywhere, env=env, check=True)
    assert json.loads((_profile() / "devshell.lock").read_text())["tools"] == {}
    assert "faketool" not in spec.read_text()


def test_global_install_restores_a_users_tools_on_a_fresh_machine(
        anywhere: Path, env: dict[str, str], tmp_path: Path) -> None:
    devshell("global", "add", "pypi:faketool@1.2", cwd=anywhere, env=env, check=True)
    dotfiles = tmp_path / "dotfiles" / "devshell-global"
    shutil.copytree(_profile(), dotfiles)
    # A new machine: nothing in its store, nothing in its config but the
    # user's dotfiles, which link the profile's directory.
    fresh = {**env, "DEVSHELL_HOME": str(tmp_path / "new-home"), "XDG_CONFIG_HOME": str(tmp_path / "new-config")}
    (tmp_path / "new-config" / "devshell").mkdir(parents=True)
    (tmp_path / "new-config" / "devshell" / "global").symlink_to(dotfiles)
    proc = devshell("global", "install", "--locked", cwd=anywhere, env=fresh, check=True)
    assert "is ready" in proc.stderr
    assert _tools(anywhere, fresh) == {"faketool": "1.2.3"}
    assert (dotfiles / "devshell.lock").read_bytes() == (_profile() / "devshell.lock").read_bytes()
    listing = devshell("global", "generations", cwd=anywhere, env=fresh, check=True).stdout
    assert "+ faketool 1.2.3" in listing


def test_the_advice_of_a_global_command_names_the_global_command(anywhere: Path, env: dict[str, str]) -> None:
    """`global rollback` is the project's rollback run in the profile: what it
    advises is the command the person would type, `devshell global install`."""
    (_profile()).mkdir(parents=True)
    shutil.copy(Path(__file__).parent.parent / "shells" / "go" / "devshell.toml", _profile() / "devshell.toml")
    proc = devshell("global", "rollback", cwd=anywhere, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "`devshell global install` records the first" in proc.stderr
    assert "`devshell install`" not in proc.stderr
    listed = devshell("global", "generations", cwd=anywhere, env=env, check=True)
    assert "no generations yet: `devshell global install` records the first" in listed.stderr
