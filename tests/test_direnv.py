"""direnv with `use devshell`, for real: direnv allow / exec, the no-Python hot
path, a broken spec keeping the last good environment, and an interactive
bash that cds in and out."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pexpect
import pytest

from devshell.commands.hook import direnv_function
from tests.helpers import (
    DEVSHELL,
    devshell,
    script,
    serve_tool,
    terminal,
    url_tool,
    write_spec,
)
from tests.loopback import LoopbackServer

pytestmark = pytest.mark.skipif(shutil.which("direnv") is None, reason="direnv is not installed")


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DEVSHELL_PLATFORM"] = "x86_64-linux"
    env["HOME"] = str(tmp_path / "home")
    env["DIRENV_LOG_FORMAT"] = "direnv: %s"
    for name in ("DIRENV_DIR", "DIRENV_FILE", "DIRENV_DIFF", "DIRENV_WATCHES"):
        env.pop(name, None)
    return env


def _install_hook(env: dict[str, str], tmp_path: Path) -> Path:
    """Install `use devshell` the way users do, through a wrapper that logs
    every time direnv starts devshell."""
    log = tmp_path / "devshell-calls.log"
    wrapper = tmp_path / "devshell-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho call >> "{log}"\nexec "{DEVSHELL}" "$@"\n')
    wrapper.chmod(0o755)
    lib = Path(env["XDG_CONFIG_HOME"]) / "direnv" / "lib" / "devshell.sh"
    lib.parent.mkdir(parents=True, exist_ok=True)
    lib.write_text(direnv_function(str(wrapper)))
    return log


def _project(tmp_path: Path, server: LoopbackServer) -> Path:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0 $*"')})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}),
               extra='[env]\nGREETING = "hi from $DEVSHELL_ROOT"\n')
    (root / ".envrc").write_text("use devshell\n")
    devshell("trust", cwd=root, check=True)  # the user read it and let it in
    return root


def _trust_as_is(root: Path) -> None:
    """Trust the files exactly as they are, even a spec that does not parse."""
    from devshell.home import home
    from devshell.state import trust

    trust.trust(home(), root)


def _direnv(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["direnv", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def _calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_direnv_exec_gets_the_pinned_tools_and_env(tmp_path: Path, server: LoopbackServer) -> None:
    env = _env(tmp_path)
    _install_hook(env, tmp_path)
    root = _project(tmp_path, server)
    assert _direnv(env, "allow", cwd=root).returncode == 0
    proc = _direnv(env, "exec", str(root), "sh", "-c", 'hello; echo "$GREETING"; command -v ls', cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "hello 1.0 "
    assert lines[1] == f"hi from {root}"
    # direnv prepends to the user's own PATH: host tools are still there.
    assert lines[2].endswith("/ls")


def test_unchanged_project_starts_no_devshell(tmp_path: Path, server: LoopbackServer) -> None:
    env = _env(tmp_path)
    log = _install_hook(env, tmp_path)
    root = _project(tmp_path, server)
    _direnv(env, "allow", cwd=root)
    assert _direnv(env, "exec", str(root), "hello", cwd=tmp_path).returncode == 0
    assert _calls(log) == 1
    for _ in range(3):
        assert _direnv(env, "exec", str(root), "hello", cwd=tmp_path).stdout == "hello 1.0 \n"
    assert _calls(log) == 1  # the cached environment served, no Python started
    spec = root / "devshell.toml"
    spec.write_text(spec.read_text() + "\n# a comment changes the file\n")
    devshell("trust", cwd=root, check=True)
    _direnv(env, "allow", cwd=root)
    assert _direnv(env, "exec", str(root), "hello", cwd=tmp_path).returncode == 0
    assert _calls(log) == 2


def test_a_broken_spec_keeps_the_last_good_environment(tmp_path: Path, server: LoopbackServer) -> None:
    env = _env(tmp_path)
    _install_hook(env, tmp_path)
    root = _project(tmp_path, server)
    _direnv(env, "allow", cwd=root)
    assert _direnv(env, "exec", str(root), "hello", cwd=tmp_path).returncode == 0
    (root / "devshell.toml").write_text("[tools\nbroken = ")
    _trust_as_is(root)
    _direnv(env, "allow", cwd=root)
    proc = _direnv(env, "exec", str(root), "hello", cwd=tmp_path)
    assert proc.stdout == "hello 1.0 \n"
    assert "invalid TOML" in proc.stderr
    assert "keeping the last good one" in proc.stderr


def test_interactive_bash_cd_in_edit_and_out(tmp_path: Path, server: LoopbackServer) -> None:
    env = _env(tmp_path)
    _install_hook(env, tmp_path)
    root = _project(tmp_path, server)
    _direnv(env, "allow", cwd=root)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    rc = tmp_path / "bashrc"
    rc.write_text('eval "$(direnv hook bash)"\nPS1="PROMPT> "\n')
    env["TERM"] = "dumb"
    env["HOST_PATH"] = env["PATH"]
    child = terminal("bash", ["--noprofile", "--rcfile", str(rc), "-i"], cwd=outside, env=env,
                     timeout=60, columns=80)
    try:
        child.expect("PROMPT> ")
        # Quotes split every awaited word, so the echoed command never matches.
        child.sendline('command -v hello || echo no-"hello"')
        child.expect("no-hello")
        child.expect("PROMPT> ")
        child.sendline(f"cd {root}")
        child.expect("PROMPT> ")
        child.sendline("hello inside")
        child.expect("hello 1.0 inside")
        child.expect("PROMPT> ")
        # Add a second tool to the spec: the next prompt reloads.
        url, sha = serve_tool(server, "world", "2.0", {"bin/world": script("echo world 2.0")})
        with (root / "devshell.toml").open("a") as f:
            f.write(url_tool("world", "2.0", url, {"x86_64-linux": sha}))
        # direnv notices edits by whole-second mtimes; a person edits later than
        # the same second the directory was entered.
        later = time.time() + 2
        os.utime(root / "devshell.toml", (later, later))
        devshell("trust", cwd=root, check=True)
        child.sendline("true")
        child.expect("PROMPT> ")
        child.sendline("world")
        child.expect("world 2.0")
        child.expect("PROMPT> ")
        child.sendline("cd ..")
        child.expect("PROMPT> ")
        child.sendline('command -v hello || echo g"one"; [ "$PATH" = "$HOST_PATH" ] && echo path-"restored"')
        child.expect("gone")
        child.expect("path-restored")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_hook_install_writes_direnvs_lib_with_this_devshell(tmp_path: Path) -> None:
    env = _env(tmp_path)
    proc = subprocess.run([DEVSHELL, "hook", "direnv", "--install"], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    lib = Path(env["XDG_CONFIG_HOME"]) / "direnv" / "lib" / "devshell.sh"
    assert str(lib) in proc.stderr
    text = lib.read_text()
    assert "use_devshell()" in text and f"{DEVSHELL} env --format direnv" in text
    printed = subprocess.run([DEVSHELL, "hook", "direnv"], env=env, capture_output=True, text=True,
                             timeout=60, check=True).stdout
    assert printed == text


def _export(env: dict[str, str], root: Path) -> bool:
    """One prompt of the user's shell: `direnv export`, applied to `env` as
    the shell applies it. Whether direnv (re)loaded the .envrc."""
    import json

    proc = _direnv(env, "export", "json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    for name, value in (json.loads(proc.stdout) if proc.stdout.strip() else {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return "direnv: loading" in proc.stderr


def test_an_edit_that_relocks_loads_once(tmp_path: Path, server: LoopbackServer) -> None:
    env = _env(tmp_path)
    log = _install_hook(env, tmp_path)
    root = _project(tmp_path, server)
    _direnv(env, "allow", cwd=root)
    assert _export(env, root)  # the first prompt in the project loads
    assert not _export(env, root)
    assert _calls(log) == 1
    # direnv compares whole-second mtimes: the edit comes a second later.
    time.sleep(1.1)
    url, sha = serve_tool(server, "world", "2.0", {"bin/world": script("echo world 2.0")})
    with (root / "devshell.toml").open("a") as f:
        f.write(url_tool("world", "2.0", url, {"x86_64-linux": sha}))
    # Trusted with its lock stale (as a lock from an older devshell is): the
    # reload that follows re-locks, writing devshell.lock and the trust file.
    _trust_as_is(root)
    lock_before = (root / "devshell.lock").read_bytes()
    assert _export(env, root)
    assert (root / "devshell.lock").read_bytes() != lock_before
    assert not _export(env, root)  # what the reload wrote is no reason to load again
    assert not _export(env, root)
    assert _calls(log) == 2
    proc = _direnv(env, "exec", str(root), "world", cwd=tmp_path)
    assert proc.stdout == "world 2.0\n"
