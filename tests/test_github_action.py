"""The setup-devshell action's script, run against a fake GitHub runner
environment: it realises the lock --locked and exports the environment so a
later step finds the pinned tools."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import DEVSHELL, devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer

SETUP = Path(__file__).resolve().parent.parent / ".github" / "actions" / "setup-devshell" / "setup.sh"


def _runner_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CI": "true",
        "DEVSHELL_PLATFORM": "x86_64-linux",
        "DEVSHELL_SPEC": "",  # devshell is already installed: the test's own
        "PATH": f"{Path(DEVSHELL).parent}:{env['PATH']}",
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
    })
    for name in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT"):
        path = tmp_path / name.lower()
        path.write_text("")
        env[name] = str(path)
    return env


def _later_step(env: dict[str, str]) -> dict[str, str]:
    """What the runner gives the next step: GITHUB_PATH lines prepended (each
    new line goes in front), GITHUB_ENV assignments (with heredocs) applied."""
    step = dict(env)
    for line in Path(env["GITHUB_PATH"]).read_text().splitlines():
        step["PATH"] = f"{line}:{step['PATH']}"
    lines = iter(Path(env["GITHUB_ENV"]).read_text().splitlines())
    for line in lines:
        if "<<" in line:
            name, delim = line.split("<<", 1)
            block: list[str] = []
            for more in lines:
                if more == delim:
                    break
                block.append(more)
            step[name] = "\n".join(block)
        else:
            name, _, value = line.partition("=")
            step[name] = value
    return step


def test_setup_script_realises_locked_and_exports(tmp_path: Path, server: LoopbackServer) -> None:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0 $*"')})
    root = tmp_path / "repo"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}),
               extra='[env]\nNOTE = "line one\\nline two"\n')
    devshell("lock", cwd=root, check=True)
    env = _runner_env(tmp_path)
    proc = subprocess.run(["bash", str(SETUP)], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    output = Path(env["GITHUB_OUTPUT"]).read_text()
    assert output.startswith("profile=") and "-profile-repo" in output
    step = _later_step(env)
    assert step["NOTE"] == "line one\nline two"
    assert step["DEVSHELL_ACTIVE"] == "1"
    ran = subprocess.run(["hello", "from", "ci"], env=step, capture_output=True, text=True, timeout=30)
    assert ran.stdout == "hello 1.0 from ci\n"


def test_setup_script_refuses_a_stale_lock(tmp_path: Path, server: LoopbackServer) -> None:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script("echo hi")})
    root = tmp_path / "repo"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}))
    env = _runner_env(tmp_path)
    proc = subprocess.run(["bash", str(SETUP)], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 4
    assert "devshell lock" in proc.stderr
    assert Path(env["GITHUB_PATH"]).read_text() == ""


def _python_answering(tmp_path: Path, version: str | None) -> str:
    """A directory holding a `python3` that says it is `version` when asked
    for its version and is this interpreter otherwise (None: no python3 at
    all), to be put first on PATH, as setup-python would put another."""
    bin_dir = tmp_path / f"python-{version}"
    bin_dir.mkdir()
    if version is not None:
        fake = bin_dir / "python3"
        fake.write_text("#!/bin/sh\n"
                        f'case "$*" in *version_info*) echo {version}; exit 0;; esac\n'
                        f'exec "{sys.executable}" "$@"\n')
        fake.chmod(0o755)
    return str(bin_dir)


@pytest.mark.parametrize("version", ["3.10.12", "3.9.18", "2.7.18", None])
def test_setup_script_refuses_a_python_older_than_3_11(tmp_path: Path, version: str | None) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    env = _runner_env(tmp_path)
    env["DEVSHELL_SPEC"] = str(tmp_path / "devshell-source")  # would be pip-installed
    fake = _python_answering(tmp_path, version)
    # Only what bash itself needs besides the fake: no other python3.
    env["PATH"] = fake if version is None else f"{fake}:{env['PATH']}"
    proc = subprocess.run(["/bin/bash", str(SETUP)], cwd=root, env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("::error title=setup-devshell::")
    assert "devshell needs Python 3.11 or newer" in proc.stderr
    assert "actions/setup-python" in proc.stderr
    if version is None:
        assert "no python3 on PATH" in proc.stderr
    else:
        assert f"({fake}/python3) is {version}" in proc.stderr
    assert not (tmp_path / "runner-temp").exists()  # no venv, nothing installed
    for name in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT"):
        assert Path(env[name]).read_text() == ""


def test_setup_script_takes_python_3_11(tmp_path: Path, server: LoopbackServer) -> None:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script("echo hi")})
    root = tmp_path / "repo"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}))
    devshell("lock", cwd=root, check=True)
    env = _runner_env(tmp_path)
    env["PATH"] = f"{_python_answering(tmp_path, '3.11.0')}:{env['PATH']}"
    proc = subprocess.run(["bash", str(SETUP)], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert Path(env["GITHUB_OUTPUT"]).read_text().startswith("profile=")


def test_setup_script_refuses_a_cache_input_of_more_than_one_line(tmp_path: Path, server: LoopbackServer) -> None:
    """GITHUB_ENV takes NAME=value lines: an input with a newline would set
    other variables (LD_PRELOAD…) for every later step."""
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script("echo hi")})
    root = tmp_path / "repo"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}))
    devshell("lock", cwd=root, check=True)
    env = {**_runner_env(tmp_path), "DEVSHELL_CACHE": "oci://127.0.0.1:9/team/cache\nLD_PRELOAD=/tmp/evil.so"}
    proc = subprocess.run(["bash", str(SETUP)], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and "binary-cache must be one line" in proc.stderr
    assert "LD_PRELOAD" not in Path(env["GITHUB_ENV"]).read_text()
