"""[hooks] on-enter runs only in trusted projects: not before `devshell trust`,
then under enter and direnv, and no more once the hook is edited."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pexpect
import pytest

from devshell.commands.hook import direnv_function
from tests.helpers import DEVSHELL, devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer


def _project(tmp_path: Path, server: LoopbackServer, hook: str) -> Path:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script("echo hello")})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}),
               extra=f'host-tools = ["touch"]\n[hooks]\non-enter = "{hook}"\n')
    devshell("install", cwd=root, check=True)
    return root


def _edit_hook(root: Path, old: str, new: str) -> None:
    spec = root / "devshell.toml"
    spec.write_text(spec.read_text().replace(old, new))
    later = time.time() + 2  # direnv sees whole-second mtimes
    os.utime(spec, (later, later))


def _enter(root: Path, tmp_path: Path) -> str:
    """Enter with bash, run one command, leave; return what the session printed."""
    env = dict(os.environ, DEVSHELL_PLATFORM="x86_64-linux", HOME=str(tmp_path), TERM="dumb")
    child = pexpect.spawn(DEVSHELL, ["enter", "--shell", "bash"], cwd=str(root), env=env,
                          encoding="utf-8", timeout=30)
    try:
        child.expect(r"\(devshell:proj\)")
        child.sendline("echo marker-$((40+2))")
        child.expect("marker-42")
        child.sendline("exit")
        child.expect(pexpect.EOF)
        return str(child.before)
    finally:
        child.close(force=True)


def test_enter_runs_the_hook_only_when_trusted(tmp_path: Path, server: LoopbackServer) -> None:
    root = _project(tmp_path, server, "touch hook-ran")
    _enter(root, tmp_path)
    assert not (root / "hook-ran").exists()
    notice = devshell("env", "--format", "direnv", cwd=root, check=True).stderr
    assert "not trusted" in notice and "devshell trust" in notice

    proc = devshell("trust", cwd=root, check=True)
    assert "on-enter: touch hook-ran" in proc.stderr
    _enter(root, tmp_path)
    assert (root / "hook-ran").exists()

    _edit_hook(root, "touch hook-ran", "touch edited-hook-ran")
    _enter(root, tmp_path)
    assert not (root / "edited-hook-ran").exists()  # editing revoked the trust


@pytest.mark.skipif(shutil.which("direnv") is None, reason="direnv is not installed")
def test_direnv_runs_the_hook_only_when_trusted(tmp_path: Path, server: LoopbackServer) -> None:
    root = _project(tmp_path, server, "touch hook-ran")
    (root / ".envrc").write_text("use devshell\n")
    env = dict(os.environ, DEVSHELL_PLATFORM="x86_64-linux", HOME=str(tmp_path))
    for name in ("DIRENV_DIR", "DIRENV_FILE", "DIRENV_DIFF", "DIRENV_WATCHES"):
        env.pop(name, None)
    lib = Path(env["XDG_CONFIG_HOME"]) / "direnv" / "lib" / "devshell.sh"
    lib.parent.mkdir(parents=True, exist_ok=True)
    lib.write_text(direnv_function(DEVSHELL))

    def direnv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["direnv", *args], cwd=root, env=env, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    direnv("allow")
    assert direnv("exec", str(root), "hello").stdout == "hello\n"
    assert not (root / "hook-ran").exists()
    devshell("trust", cwd=root, check=True)
    assert direnv("exec", str(root), "hello").returncode == 0
    assert (root / "hook-ran").exists()
    (root / "hook-ran").unlink()
    assert direnv("exec", str(root), "hello").returncode == 0
    assert (root / "hook-ran").exists()  # every time the project is entered

    _edit_hook(root, "touch hook-ran", "touch edited-hook-ran")
    direnv("allow")
    assert direnv("exec", str(root), "hello").stdout == "hello\n"
    assert not (root / "edited-hook-ran").exists()

    devshell("trust", cwd=root, check=True)
    assert direnv("exec", str(root), "hello").returncode == 0
    assert (root / "edited-hook-ran").exists()
    devshell("trust", "--revoke", cwd=root, check=True)
    (root / "edited-hook-ran").unlink()
    assert direnv("exec", str(root), "hello").returncode == 0
    assert not (root / "edited-hook-ran").exists()
