"""Nothing from a repository runs in the user's own shell without consent.

Automatic activation (direnv, shellenv) applies a project (its tools, its
[env], its hooks) only once the user has trusted its exact content; a change
from outside asks again, devshell's own edits keep the trust; hooks run under
`enter` only when trusted; cached environments are never read from the
project tree; one naming rule for the trust file in Python and every shell."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pexpect
import pytest

from devshell.commands.hook import direnv_function
from devshell.commands.shellenv import snippet
from devshell.shell import activation
from tests.helpers import DEVSHELL, devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer

needs_direnv = pytest.mark.skipif(shutil.which("direnv") is None, reason="direnv is not installed")


def _project(tmp_path: Path, server: LoopbackServer, hook: str = "touch hook-ran",
             name: str = "proj", extra_env: str = "") -> Path:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script("echo hello")})
    root = tmp_path / name
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}),
               extra=f'host-tools = ["touch", "sh", "bash"]\n[env]\nGREETING = "hi"\n{extra_env}'
                     f'[hooks]\non-enter = "{hook}"\n')
    devshell("lock", cwd=root, check=True)
    return root


def _edit_from_outside(root: Path, old: str, new: str) -> None:
    """What a `git pull` does: new bytes, a later mtime."""
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


def _direnv_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, DEVSHELL_PLATFORM="x86_64-linux", HOME=str(tmp_path))
    for name in ("DIRENV_DIR", "DIRENV_FILE", "DIRENV_DIFF", "DIRENV_WATCHES"):
        env.pop(name, None)
    lib = Path(env["XDG_CONFIG_HOME"]) / "direnv" / "lib" / "devshell.sh"
    lib.parent.mkdir(parents=True, exist_ok=True)
    lib.write_text(direnv_function(DEVSHELL))
    return env


def _direnv(env: dict[str, str], root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["direnv", *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_enter_runs_the_hook_only_when_trusted(tmp_path: Path, server: LoopbackServer) -> None:
    root = _project(tmp_path, server)
    _enter(root, tmp_path)  # enter is explicit: the tools, but not the hook
    assert not (root / "hook-ran").exists()

    proc = devshell("trust", cwd=root, check=True)
    assert "hook  on-enter: touch hook-ran" in proc.stderr
    assert "tool  hello 1.0 (url)" in proc.stderr
    assert "env   GREETING=hi" in proc.stderr
    _enter(root, tmp_path)
    assert (root / "hook-ran").exists()

    _edit_from_outside(root, "touch hook-ran", "touch edited-hook-ran")
    _enter(root, tmp_path)
    assert not (root / "edited-hook-ran").exists()  # a change from outside asks again


@needs_direnv
def test_direnv_applies_nothing_until_trusted(tmp_path: Path, server: LoopbackServer) -> None:
    root = _project(tmp_path, server)
    (root / ".envrc").write_text("use devshell\n")
    env = _direnv_env(tmp_path)
    _direnv(env, root, "allow")  # direnv allow covers .envrc, not devshell.toml

    proc = _direnv(env, root, "exec", str(root), "sh", "-c", 'command -v hello; echo "g=$GREETING"')
    assert "is not trusted" in proc.stderr and "devshell trust" in proc.stderr
    assert proc.stdout == "g=\n"  # no pinned program, no [env]
    assert not (root / "hook-ran").exists()

    devshell("trust", cwd=root, check=True)
    proc = _direnv(env, root, "exec", str(root), "sh", "-c", 'hello; echo "g=$GREETING"')
    assert proc.stdout == "hello\ng=hi\n", proc.stderr
    assert (root / "hook-ran").exists()

    _edit_from_outside(root, 'GREETING = "hi"', 'GREETING = "pulled"')
    proc = _direnv(env, root, "exec", str(root), "sh", "-c", 'echo "g=$GREETING"')
    assert proc.stdout == "g=\n"
    assert "is not trusted" in proc.stderr

    devshell("trust", cwd=root, check=True)
    devshell("trust", "--revoke", cwd=root, check=True)
    (root / "hook-ran").unlink()
    proc = _direnv(env, root, "exec", str(root), "sh", "-c", 'echo "g=$GREETING"')
    assert proc.stdout == "g=\n"
    assert not (root / "hook-ran").exists()


@needs_direnv
def test_direnv_never_sources_a_cache_shipped_in_the_project(tmp_path: Path, server: LoopbackServer) -> None:
    root = _project(tmp_path, server, hook="true")
    (root / ".envrc").write_text("use devshell\n")
    devshell("trust", cwd=root, check=True)
    env = _direnv_env(tmp_path)
    _direnv(env, root, "allow")
    # What a hostile repository (or a tarball, which keeps mtimes) can ship.
    planted = root / ".direnv" / "devshell" / "env"
    planted.parent.mkdir(parents=True)
    planted.write_text(f"touch {tmp_path / 'pwned'}\n")
    future = time.time() + 3600
    os.utime(planted, (future, future))
    proc = _direnv(env, root, "exec", str(root), "hello")
    assert proc.stdout == "hello\n", proc.stderr
    assert not (tmp_path / "pwned").exists()
    state = Path(activation.project_dir(os.environ["DEVSHELL_HOME"] + "/state", str(root)))
    assert (state / "direnv.env").is_file()


@needs_direnv
def test_revoke_reaches_direnv_for_a_long_project_path(tmp_path: Path, server: LoopbackServer) -> None:
    deep = tmp_path / ("d" * 120) / ("e" * 120)
    root = _project(deep, server, hook="true")
    assert len(activation.project_key(str(root))) < 50  # the hashed form
    (root / ".envrc").write_text("use devshell\n")
    env = _direnv_env(tmp_path)
    _direnv(env, root, "allow")
    devshell("trust", cwd=root, check=True)
    assert _direnv(env, root, "exec", str(root), "hello").stdout == "hello\n"
    devshell("trust", "--revoke", cwd=root, check=True)
    proc = _direnv(env, root, "exec", str(root), "sh", "-c", "command -v hello || echo no-tool")
    assert proc.stdout == "no-tool\n"
    assert "is not trusted" in proc.stderr


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
@pytest.mark.parametrize("path", [
    "/tmp/plain/project",
    "/tmp/100%/a b/é",
    "/tmp/" + "é" * 120,  # 240 bytes: hashed, though only 125 characters
    "/tmp/" + "x" * 250,
])
def test_every_shell_names_the_trust_file_as_devshell_does(kind: str, path: str, tmp_path: Path) -> None:
    hook = tmp_path / "hook"
    hook.write_text(snippet(kind, "devshell") if kind != "bash" else direnv_function("devshell"))
    if kind == "fish":
        code = f"source {hook}; __devshell_key $argv[1]"
    else:
        code = f'. {hook}; __devshell_key "$1"; printf "%s\\n" "$__ds_key"'
    argv = [kind, "-c", code, *(["x"] if kind != "fish" else []), path]
    env = dict(os.environ, LANG="C.UTF-8")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env, check=True).stdout
    assert out == activation.project_key(path) + "\n"


def test_devshells_own_edits_keep_the_trust_and_outside_edits_do_not(
    tmp_path: Path, server: LoopbackServer,
) -> None:
    from devshell.home import home
    from devshell.state import trust

    root = _project(tmp_path, server)
    url, sha = serve_tool(server, "world", "2.0", {"bin/world": script("echo world")})
    with (root / "devshell.toml").open("a") as f:
        f.write(url_tool("world", "2.0", url, {"x86_64-linux": sha}))
    devshell("trust", cwd=root, check=True)
    assert trust.is_trusted(home(), root)
    devshell("install", cwd=root, check=True)

    devshell("remove", "world", cwd=root, check=True)
    assert "world" not in (root / "devshell.toml").read_text()
    assert trust.is_trusted(home(), root)
    devshell("lock", "--update", cwd=root, check=True)
    assert trust.is_trusted(home(), root)
    devshell("rollback", cwd=root, check=True)
    assert "world" in (root / "devshell.toml").read_text()
    assert trust.is_trusted(home(), root)

    _edit_from_outside(root, 'GREETING = "hi"', 'GREETING = "pulled"')
    assert not trust.is_trusted(home(), root)
    devshell("lock", cwd=root, check=True)  # a re-lock does not launder a pull
    assert not trust.is_trusted(home(), root)


@pytest.mark.parametrize("variable", ["BASH_ENV", "PROMPT_COMMAND", "LD_PRELOAD", "ZDOTDIR", "PS1", "XDG_CONFIG_HOME"])
def test_variables_that_run_code_need_trust_even_for_run(
    variable: str, tmp_path: Path, server: LoopbackServer,
) -> None:
    marker = tmp_path / "ran"
    root = _project(tmp_path, server, hook="true",
                    extra_env=f'{variable} = "$(touch {marker})"\n')
    proc = devshell("run", "--", "bash", "-c", "true", cwd=root)
    assert proc.returncode == 3, proc.stderr
    assert variable in proc.stderr and "devshell trust" in proc.stderr
    assert not marker.exists()
    devshell("trust", cwd=root, check=True)
    proc = devshell("run", "--", "sh", "-c", f'printf "%s" "${variable}"', cwd=root, check=True)
    assert proc.stdout == f"$(touch {marker})"  # the user chose it; set as written
    devshell("trust", "--revoke", cwd=root, check=True)
    assert devshell("run", "--", "true", cwd=root).returncode == 3  # the record did not outlive it
