"""The command line's own conveniences: a mistyped command names the likely
one, `--help` describes every command, and the global options before the
command: `-C DIR`, `-q`, `-v`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from devshell import commands
from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer


@pytest.fixture
def project(tmp_path: Path, server: LoopbackServer) -> Path:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0"; pwd')})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}))
    devshell("install", cwd=root, check=True)
    return root


@pytest.mark.parametrize(("typed", "wrong", "meant"), [
    (["statsu"], "statsu", "status"),
    (["-q", "genrations"], "genrations", "generations"),
    (["-C", ".", "verfy", "--all"], "verfy", "verify"),
    (["instal"], "instal", "install"),
    (["completoin", "bash"], "completoin", "completion"),
])
def test_a_mistyped_command_names_the_likely_one(tmp_path: Path, typed: list[str], wrong: str, meant: str) -> None:
    proc = devshell(*typed, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == f"devshell: error: unknown command {wrong!r}\n  hint: did you mean {meant!r}?\n"


def test_a_command_like_none_points_at_help(tmp_path: Path) -> None:
    proc = devshell("xyzzy", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == "devshell: error: unknown command 'xyzzy'\n  hint: `devshell --help` lists the commands\n"


def test_help_describes_every_command(tmp_path: Path) -> None:
    proc = devshell("--help", cwd=tmp_path, env={"COLUMNS": "100"})
    assert proc.returncode == 0
    every = commands.names()
    assert {"status", "completion", "verify", "generations", "store"} <= set(every)
    for name in every:
        line = re.search(rf"^    {re.escape(name)} +(\S.*)$", proc.stdout, re.MULTILINE)
        assert line, f"{name} has no description in --help"
    for option in ("-C DIR", "-q, --quiet", "-v, --verbose"):
        assert option in proc.stdout


def test_no_command_prints_the_help_and_fails(tmp_path: Path) -> None:
    proc = devshell("-q", cwd=tmp_path)
    assert proc.returncode == 2
    assert "usage: devshell" in proc.stderr and "COMMAND" in proc.stderr


def test_dash_c_runs_as_if_started_there(project: Path, tmp_path: Path) -> None:
    status = json.loads(devshell("-C", "proj", "status", "--format", "json", cwd=tmp_path, check=True).stdout)
    assert status["root"] == str(project)
    (tmp_path / "elsewhere").mkdir()
    again = devshell("-C", str(tmp_path / "elsewhere"), "-C", "../proj", "store", "path", "hello",
                     cwd=Path("/"), check=True)
    assert again.stdout.strip() == status["tools"][0]["path"]
    ran = devshell("-C", "proj", "run", "hello", cwd=tmp_path, check=True)
    assert ran.stdout == f"hello 1.0\n{project}\n"


def test_dash_c_into_a_missing_directory_is_one_error(tmp_path: Path) -> None:
    proc = devshell("-C", "nowhere", "status", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == ("devshell: error: cannot run in 'nowhere': No such file or directory\n"
                           "  hint: -C takes a directory that exists\n")


def test_quiet_drops_notes_and_keeps_errors(project: Path) -> None:
    loud = devshell("store", "pin", "hello", cwd=project, check=True)
    assert loud.stderr.startswith("devshell: pinned ")
    for quiet in ("-q", "--quiet"):
        proc = devshell(quiet, "store", "unpin", "hello", cwd=project, check=True)
        assert proc.stderr == ""
    empty = project.parent / "empty"
    write_spec(empty, "")
    assert "no generations yet" in devshell("generations", cwd=empty, check=True).stderr
    assert devshell("-q", "generations", cwd=empty, check=True).stderr == ""
    failed = devshell("-q", "store", "path", "nosuch", cwd=project)
    assert failed.returncode == 2
    assert failed.stderr.startswith("devshell: error: 'nosuch' is not a tool of this devshell\n  hint: ")
    ran = devshell("-q", "run", "hello", cwd=project, check=True)
    assert ran.stdout.startswith("hello 1.0\n")


def test_verbose_adds_debug_detail_to_the_notes(project: Path) -> None:
    normal = devshell("verify", cwd=project, check=True)
    assert "debug:" not in normal.stderr
    proc = devshell("-v", "verify", cwd=project, check=True)
    out = devshell("store", "path", "hello", cwd=project, check=True).stdout.strip()
    assert f"devshell: debug: verifying {out}\n" in proc.stderr
    home = os.environ["DEVSHELL_HOME"]
    assert f"devshell: debug: verify in {project}, home {home}, python " in proc.stderr
    assert proc.stdout == normal.stdout
    pinned = devshell("--verbose", "store", "pin", "hello", cwd=project, check=True)
    assert "devshell: pinned " in pinned.stderr and "devshell: debug: store in" in pinned.stderr


def test_quiet_and_verbose_together_is_a_usage_error(tmp_path: Path) -> None:
    proc = devshell("-q", "-v", "status", cwd=tmp_path)
    assert proc.returncode == 2
    assert "not allowed with argument" in proc.stderr


def _add_tool(server: LoopbackServer, root: Path, name: str) -> None:
    url, sha = serve_tool(server, name, "2.0", {f"bin/{name}": script(f"echo {name} 2.0")})
    with (root / "devshell.toml").open("a") as f:
        f.write(url_tool(name, "2.0", url, {"x86_64-linux": sha}))


def test_quiet_silences_the_notes_of_a_relock_and_of_hook_install(
        project: Path, server: LoopbackServer, tmp_path: Path) -> None:
    _add_tool(server, project, "world")
    loud = devshell("run", "world", cwd=project, check=True)
    assert "devshell: devshell.lock is out of date with devshell.toml; locking\n" in loud.stderr
    assert "world" in loud.stderr.split("locking\n", 1)[1]  # what moved, said after
    _add_tool(server, project, "moon")
    quiet = devshell("-q", "run", "moon", cwd=project, check=True)
    assert quiet.stdout == "moon 2.0\n"
    assert quiet.stderr == ""
    assert "wrote " in devshell("hook", "direnv", "--install", cwd=tmp_path, check=True).stderr
    assert devshell("-q", "hook", "direnv", "--install", cwd=tmp_path, check=True).stderr == ""


def _imported(*args: str, cwd: Path) -> tuple[str, set[str]]:
    """What the real console script prints for ARGS, and the modules it
    imports (python -X importtime)."""
    import subprocess
    import sys

    from tests.helpers import DEVSHELL

    env = {**os.environ, "DEVSHELL_PLATFORM": "x86_64-linux"}
    proc = subprocess.run([sys.executable, "-X", "importtime", DEVSHELL, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=True)
    modules = {m.group(1) for m in re.finditer(r"^import time:.*\|\s*(\S+)\s*$", proc.stderr, re.MULTILINE)}
    return proc.stdout, modules


@pytest.mark.parametrize(("options", "start"), [
    (["-q"], "proj"),
    (["--quiet"], "proj"),
    (["-C", "proj"], "."),
    (["-Cproj"], "."),
    (["-q", "-C", "elsewhere", "-C", "../proj"], "."),
])
def test_quiet_and_dash_c_before_run_and_env_take_the_hot_path(
        project: Path, tmp_path: Path, options: list[str], start: str) -> None:
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    ran, modules = _imported(*options, "run", "hello", cwd=tmp_path / start)
    assert ran == f"hello 1.0\n{project}\n"  # in DIR, its PWD too
    assert "devshell.shell.hot" in modules
    assert "argparse" not in modules  # the full command line was never built
    printed, modules = _imported(*options, "env", "--format", "json", cwd=tmp_path / start)
    assert json.loads(printed)["DEVSHELL_ROOT"] == str(project)
    assert "argparse" not in modules


def test_options_the_hot_path_does_not_serve_still_work(project: Path, tmp_path: Path) -> None:
    proc = devshell("-v", "-C", "proj", "run", "hello", cwd=tmp_path, check=True)
    assert proc.stdout == f"hello 1.0\n{project}\n"
    assert f"devshell: debug: run in {project}" in proc.stderr
    missing = devshell("-C", "nowhere", "run", "hello", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("devshell: error: cannot run in 'nowhere'")
    # A -C that leads nowhere after one that worked: the full CLI starts over
    # from where devshell was started.
    again = devshell("-C", "proj", "-C", "nowhere", "run", "hello", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.startswith("devshell: error: cannot run in 'nowhere'")
