"""Against the package index and the Debian archive this machine is configured
for: black, mypy and pre-commit at pinned versions, each an environment on
Debian's python3.11 (relocated into the store), each formatting or checking a
file in a pure shell. Compiled wheels (mypy's, black's, pyyaml's) and a deep
closure (pre-commit's) included."""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path

import pytest

from devshell import config, sources
from tests.helpers import devshell, unreachable

pytestmark = pytest.mark.live

SPEC = """[shell]
platforms = ["x86_64-linux"]
keep-env = ["PRE_COMMIT_HOME"]
host-tools = ["git"]  # pre-commit asks git which files there are

[tools]
python = { version = "latest", source = "deb", package = "python3.11-venv", suite = "bookworm", bin = ["usr/bin/python3.11", "python3=usr/bin/python3.11"] }
"pypi:black" = "24.10.0"
"pypi:mypy" = "1.13.0"
"pypi:pre-commit" = "4.0.1"
"""

HOOKS = """repos:
- repo: local
  hooks:
  - id: no-fixme
    name: no FIXME
    entry: FIXME
    language: pygrep
    types: [python]
"""


def _unreachable() -> str | None:
    """None when the upstreams answer, else why the test cannot run."""
    if "cpython" not in sources.names():
        return "the pinned interpreter (the cpython source) is not in this devshell yet"
    if platform.machine() != "x86_64" or not Path("/etc/debian_version").exists():
        return "written for an x86_64 Debian host, where the Debian route gives python3.11"
    return unreachable(("Python package index", config.pypi_index().url + "black/"),
                       ("Debian archive", config.debian_archive().url))


def test_black_mypy_and_pre_commit_run_on_debians_python(tmp_path: Path) -> None:
    reason = _unreachable()
    if reason:
        pytest.skip(reason)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "devshell.toml").write_text(SPEC)
    env = {"DEVSHELL_PLATFORM": "x86_64-linux", "PRE_COMMIT_HOME": str(tmp_path / "pre-commit")}
    devshell("install", cwd=root, env=env, timeout=1800, check=True)
    lock = (root / "devshell.lock").read_text()
    tools = json.loads(lock)["tools"]
    for name in ("black", "mypy", "pre-commit"):
        assert tools[name]["needs"] == ["python"]
        assert tools[name]["platforms"]["x86_64-linux"]["unpack"]["format"] == "pyenv"
    closure = {p["name"] for p in tools["pre-commit"]["platforms"]["x86_64-linux"]["closure"]}
    assert {"virtualenv", "distlib", "filelock", "identify", "cfgv", "nodeenv", "pyyaml"} <= closure

    def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return devshell("run", "--", *argv, cwd=root, env=env, timeout=600, check=check)

    ugly = root / "ugly.py"
    ugly.write_text("x = {  'a':1 }\n")
    assert run("black", "--check", "ugly.py", check=False).returncode == 1
    run("black", "-q", "ugly.py")
    assert ugly.read_text() == 'x = {"a": 1}\n'
    assert "24.10.0" in run("black", "--version").stdout

    typed = root / "typed.py"
    typed.write_text("def twice(n: int) -> int:\n    return n * 2\n\n\nprint(twice(2))\n")
    assert "Success" in run("mypy", "--strict", "--no-incremental", "typed.py").stdout
    typed.write_text("def twice(n: int) -> int:\n    return str(n)\n")
    bad = run("mypy", "--no-incremental", "typed.py", check=False)
    assert bad.returncode == 1 and "Incompatible return value type" in bad.stdout

    (root / ".pre-commit-config.yaml").write_text(HOOKS)
    for argv in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(argv, cwd=root, check=True)
    assert run("pre-commit", "run", "--all-files").returncode == 0
    (root / "typed.py").write_text("# FIXME\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    failed = run("pre-commit", "run", "--all-files", check=False)
    assert failed.returncode == 1 and "typed.py:1:# FIXME" in failed.stdout

    # Locking again moves nothing: the lock is byte-identical.
    devshell("lock", "--update", "black", "mypy", "pre-commit", cwd=root, env=env, timeout=900, check=True)
    assert (root / "devshell.lock").read_text() == lock
