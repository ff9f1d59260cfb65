"""Against the Debian archive this machine is configured for: a pure shell of
Debian's bash, coreutils, jq, git and python3, relocated into the store, runs
with nothing from the host's /usr on PATH, each program started by the
closure's own loader."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from devshell import config
from devshell.debian import elf
from tests.helpers import devshell

pytestmark = pytest.mark.live

TOOLS = ("bash", "coreutils", "jq", "git", "python3")
PLATFORMS = {"x86_64": "x86_64-linux", "aarch64": "aarch64-linux"}


def _archive_unreachable() -> str | None:
    """None when the configured Debian archive answers, else why not."""
    if not hasattr(config, "debian_archive"):
        return "devshell.config.debian_archive() (the deb source) is not there yet"
    import requests

    try:
        url = config.debian_archive().url
        requests.head(url, timeout=10).raise_for_status()
    except Exception as exc:
        return f"the configured Debian archive cannot be reached: {exc}"
    return None


def test_a_pure_debian_shell_runs_from_the_store(tmp_path: Path) -> None:
    reason = _archive_unreachable()
    if reason:
        pytest.skip(reason)
    plat = PLATFORMS.get(platform.machine())
    if plat is None:
        pytest.skip(f"Debian has no architecture for {platform.machine()} in this test")
    root = tmp_path / "debshell"
    root.mkdir()
    tools = "".join(f'"deb:{t}" = "latest"\n' for t in TOOLS)
    (root / "devshell.toml").write_text(f'[shell]\nplatforms = ["{plat}"]\n\n[tools]\n{tools}')
    env = {"DEVSHELL_PLATFORM": plat}
    devshell("install", cwd=root, env=env, timeout=1800, check=True)

    def run(*argv: str) -> str:
        return devshell("run", "--", *argv, cwd=root, env=env, timeout=120, check=True).stdout

    assert run("jq", "--version").startswith("jq-")
    assert run("git", "--version").startswith("git version ")
    assert run("python3", "-c", "import ssl, sqlite3; print(ssl.OPENSSL_VERSION)").startswith("OpenSSL")
    assert run("ls", str(root)).split() == ["devshell.lock", "devshell.toml"]

    store = str(Path(os.environ["DEVSHELL_HOME"]) / "store") + "/"
    path = run("bash", "-c", 'printf %s "$PATH"').split(":")
    assert path and all(entry.startswith(store) for entry in path), path
    for program in ("jq", "git", "python3", "ls", "bash"):
        found = run("bash", "-c", f"command -v {program}").strip()
        real = os.path.realpath(found)
        assert real.startswith(store), (program, real)
        with open(real, "rb") as f:
            info = elf.read(f)
        assert info is not None and info.interpreter is not None, (program, real)
        assert info.interpreter.startswith(store), (program, info.interpreter)
