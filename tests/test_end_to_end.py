"""A user locks, installs and runs pinned tools, through the real console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from devshell import config
from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer

REPO = Path(__file__).resolve().parent.parent


def _hello_project(tmp_path: Path, server: LoopbackServer, extra: str = "") -> Path:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0 $*"')})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}), extra=extra)
    return root


def test_lock_install_run(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(tmp_path, server)
    devshell("lock", cwd=root, check=True)
    lock = json.loads((root / "devshell.lock").read_text())
    assert lock["tools"]["hello"]["version"] == "1.0"
    devshell("install", cwd=root, check=True)
    proc = devshell("run", "--", "hello", "a", "b", cwd=root, check=True)
    assert proc.stdout == "hello 1.0 a b\n"


def test_run_works_offline_once_realised(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(tmp_path, server)
    devshell("install", cwd=root, check=True)
    server.stop()
    proc = devshell("run", "--", "hello", cwd=root, env={"DEVSHELL_NO_HOT": "1"}, check=True)
    assert proc.stdout == "hello 1.0 \n"


def test_pure_path_holds_only_the_profile(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(tmp_path, server)
    proc = devshell("run", "--", "hello", cwd=root, check=True)
    env = json.loads(devshell("env", "--format", "json", cwd=root, check=True).stdout)
    path = env["PATH"].split(":")
    assert len(path) == 1
    assert path[0].endswith("/bin") and "-profile-proj" in path[0]
    # A host program (sh, ls) is not reachable by name in a pure shell.
    proc = devshell("run", "--", "ls", cwd=root)
    assert proc.returncode == 127
    assert "ls: command not found in this devshell" in proc.stderr


def test_pure_mode_drops_leaky_variables_and_keeps_allowed_ones(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(tmp_path, server, extra='keep-env = ["MY_TOKEN"]\nhost-tools = ["env"]')
    proc = devshell(
        "run", "--", "env", cwd=root, check=True,
        env={"LD_PRELOAD": "/evil.so", "PYTHONPATH": "/x", "MY_TOKEN": "t0k", "LANG": "C.UTF-8",
             "LC_TIME": "C", "https_proxy": "http://127.0.0.1:9"},
    )
    seen = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert "LD_PRELOAD" not in seen and "PYTHONPATH" not in seen
    assert seen["MY_TOKEN"] == "t0k"
    assert seen["LANG"] == "C.UTF-8" and seen["LC_TIME"] == "C"
    assert seen["https_proxy"] == "http://127.0.0.1:9"
    assert seen["DEVSHELL_ACTIVE"] == "1"
    assert seen["DEVSHELL_ROOT"] == str(root)
    # host-tools let `env` through, on a PATH entry of its own after the profile.
    entries = seen["PATH"].split(":")
    assert len(entries) == 2 and os.path.realpath(entries[1] + "/env") == os.path.realpath("/usr/bin/env")


def test_inherit_mode_keeps_host_path_and_env(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(tmp_path, server, extra='isolation = "inherit"')
    proc = devshell("run", "--", "sh", "-c", 'command -v hello; echo "$MY_VAR"', cwd=root,
                    env={"MY_VAR": "kept"}, check=True)
    first, second = proc.stdout.splitlines()
    assert "-profile-proj/bin/hello" in first
    assert second == "kept"


def test_env_expansion_and_scripts(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(
        tmp_path, server,
        extra='host-tools = ["sh"]\n[env]\nDATA_DIR = "$DEVSHELL_ROOT/.data"\nGREETING = "hi ${DATA_DIR} $$x"\n'
        '[scripts]\ngreet = "hello from-script"\nshow = "echo $GREETING"\n',
    )
    assert devshell("run", "greet", "extra", cwd=root, check=True).stdout == "hello 1.0 from-script extra\n"
    assert devshell("run", "show", cwd=root, check=True).stdout == f"hi {root}/.data $x\n"


def test_exit_status_passes_through(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(tmp_path, server, extra='host-tools = ["sh"]')
    assert devshell("run", "--", "sh", "-c", "exit 7", cwd=root).returncode == 7
    # The hot path (record already written) passes it through too.
    assert devshell("run", "--", "sh", "-c", "exit 9", cwd=root).returncode == 9


def test_run_from_a_subdirectory_finds_the_spec(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(tmp_path, server)
    sub = root / "src" / "deep"
    sub.mkdir(parents=True)
    assert devshell("run", "--", "hello", cwd=sub, check=True).stdout == "hello 1.0 \n"


def test_env_formats(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(tmp_path, server, extra="[env]\nMULTI = \"a\\nb 'q'\"\n")
    sh = devshell("env", "--format", "sh", cwd=root, check=True).stdout
    assert "export MULTI='a\nb '\\''q'\\'''\n" in sh
    fish = devshell("env", "--format", "fish", cwd=root, check=True).stdout
    assert "set -gx MULTI 'a\nb \\'q\\''\n" in fish
    dotenv = devshell("env", "--format", "dotenv", cwd=root, check=True).stdout
    assert 'MULTI="a\\nb \'q\'"\n' in dotenv
    gh_path, gh_env = tmp_path / "gh_path", tmp_path / "gh_env"
    devshell("env", "--format", "github", cwd=root, check=True,
             env={"GITHUB_PATH": str(gh_path), "GITHUB_ENV": str(gh_env)})
    assert gh_path.read_text().strip().endswith("-profile-proj/bin")
    text = gh_env.read_text()
    assert "DEVSHELL_ACTIVE=1\n" in text
    delim = text.split("MULTI<<", 1)[1].split("\n", 1)[0]
    assert f"MULTI<<{delim}\na\nb 'q'\n{delim}\n" in text


def test_status_and_store_path(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(tmp_path, server, extra='host-tools = ["sh"]')
    before = devshell("status", cwd=root, check=True).stdout
    assert "lock: missing" in before
    path = devshell("store", "path", "hello", cwd=root, check=True).stdout.strip()
    assert Path(path, "bin", "hello").is_file()
    after = devshell("status", cwd=root, check=True).stdout
    assert "lock: up to date" in after and path in after
    assert "impure host tools" in after and "sh" in after


def test_stale_lock_is_relocked_and_said(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(tmp_path, server)
    devshell("lock", cwd=root, check=True)
    url, sha = serve_tool(server, "world", "2.0", {"bin/world": script("echo world")})
    with (root / "devshell.toml").open("a") as f:
        f.write(url_tool("world", "2.0", url, {"x86_64-linux": sha}))
    proc = devshell("run", "--", "world", cwd=root, check=True)
    assert proc.stdout == "world\n"
    assert "devshell.lock is out of date" in proc.stderr
    assert "world: added 2.0" in proc.stderr


def test_locked_or_ci_refuses_a_stale_or_missing_lock(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(tmp_path, server)
    proc = devshell("run", "--locked", "--", "hello", cwd=root)
    assert proc.returncode == 4
    assert "missing" in proc.stderr and "devshell lock" in proc.stderr
    proc = devshell("install", cwd=root, env={"CI": "true"})
    assert proc.returncode == 4
    assert not (root / "devshell.lock").exists()
    devshell("lock", cwd=root, check=True)
    assert devshell("run", "--", "hello", cwd=root, env={"CI": "true"}, check=True).stdout == "hello 1.0 \n"


def test_run_passes_every_argument_through_untouched(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello_project(tmp_path, server)
    devshell("install", cwd=root, check=True)
    for _ in range(2):  # cold, then from the activation record
        proc = devshell("run", "--locked", "--", "hello", "--locked", "--", "-x", cwd=root, check=True)
        assert proc.stdout == "hello 1.0 --locked -- -x\n"


def _system_python_3_11() -> str | None:
    """A Python 3.11 as a distribution ships it, outside any venv: the oldest
    devshell supports (Debian 12's /usr/bin/python3 is 3.11.2, older than the
    3.11.4 that brought tarfile's data filter)."""
    for candidate in ("/usr/bin/python3.11", "/usr/bin/python3"):
        if not os.access(candidate, os.X_OK):
            continue
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 11))"],
                               capture_output=True, text=True, timeout=30)
        if probe.stdout.strip() == "True":
            return candidate
    return None


@pytest.mark.live
@pytest.mark.timeout(900)
def test_the_readmes_set_up_works_on_a_distributions_python_3_11(tmp_path: Path) -> None:
    """The README's first line on the oldest Python devshell supports: a venv
    made by the distribution's own interpreter installs devshell from the
    checkout, and `devshell run --locked lint` realises the pinned ruff from
    the repository's lock and lints the code with it."""
    python = _system_python_3_11()
    if python is None:
        pytest.skip("no Python 3.11 of the distribution's (/usr/bin/python3.11 or /usr/bin/python3)")
    import requests

    try:
        requests.head(config.pypi_index().url, timeout=10)
    except requests.RequestException as exc:
        pytest.skip(f"the package index cannot be reached: {exc}")
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".mypy_cache", ".ruff_cache"))
    venv = tmp_path / "venv"
    made = subprocess.run([python, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=120)
    if made.returncode != 0 and "ensurepip" in made.stdout + made.stderr:
        pytest.skip(f"{python} makes no venv without the distribution's venv package (python3-venv)")
    assert made.returncode == 0, made.stderr
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(repo)],
                               capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k != "DEVSHELL_PLATFORM"}
    env["CI"] = "true"  # a stale lock is an error, as in CI
    lint = subprocess.run([str(venv / "bin" / "devshell"), "run", "--locked", "lint"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert lint.returncode == 0, lint.stdout[-3000:] + lint.stderr[-3000:]
    assert "All checks passed!" in lint.stdout
    # The ruff that ran is the lock's, realised into this test's own store.
    version = json.loads((repo / "devshell.lock").read_text())["tools"]["ruff"]["version"]
    store = Path(os.environ["DEVSHELL_HOME"]) / "store"
    assert [p.name for p in store.glob(f"*-ruff-{version}")]
