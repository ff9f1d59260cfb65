"""Against the Debian archive this machine is configured for: `python = "3.11"`
(Debian 12) and `"3.13"` (Debian 13) run from the store in a pure shell and make
virtual environments on the pinned interpreter; the ready shell `shells/python`
gives uv that interpreter. python-build-standalone is not reachable from here:
its route is skipped (tests/test_cpython.py covers it against a loopback mirror)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from devshell import config
from tests.helpers import devshell

pytestmark = pytest.mark.live

SHELLS = Path(__file__).resolve().parent.parent / "shells"
PLATFORMS = {"x86_64": "x86_64-linux", "aarch64": "aarch64-linux"}
MODULES = "ssl, sqlite3, ctypes, zlib, lzma, bz2, readline, venv, ensurepip"


def _unreachable(*, pypi: bool = False) -> str | None:
    """None when the upstreams answer (Debian's archive, and the package index
    when `pypi`), else why not."""
    import requests

    if not sys.platform.startswith("linux") or platform.machine() not in PLATFORMS:
        return f"Debian's Python runs on Linux on {', '.join(PLATFORMS)}, not {sys.platform} {platform.machine()}"
    try:
        requests.head(config.debian_archive().url, timeout=10).raise_for_status()
        if pypi:
            requests.head(config.pypi_index().url, timeout=10)
    except Exception as exc:
        return f"an upstream cannot be reached: {exc}"
    return None


def _project(tmp_path: Path, version: str, suite: str) -> tuple[Path, dict[str, str]]:
    plat = PLATFORMS[platform.machine()]
    root = tmp_path / "proj"
    root.mkdir()
    (root / "devshell.toml").write_text(
        f'[shell]\nplatforms = ["{plat}"]\n\n[sources.cpython]\nsuite = "{suite}"\n\n[tools]\npython = "{version}"\n')
    return root, {"DEVSHELL_PLATFORM": plat}


def _store() -> str:
    return str(Path(os.environ["DEVSHELL_HOME"]) / "store") + "/"


@pytest.mark.parametrize(("version", "suite"), [("3.11", "bookworm"), ("3.13", "trixie")])
def test_debians_python_runs_from_the_store_and_makes_a_venv(tmp_path: Path, version: str, suite: str) -> None:
    reason = _unreachable()
    if reason:
        pytest.skip(reason)
    root, env = _project(tmp_path, version, suite)
    proc = devshell("lock", cwd=root, env=env, timeout=1800, check=True)
    assert "skipping Debian" not in proc.stderr
    locked = json.loads((root / "devshell.lock").read_text())["tools"]["python"]
    assert locked["source"] == "cpython" and locked["version"].startswith(version + ".")
    first = (root / "devshell.lock").read_bytes()
    (root / "devshell.lock").unlink()
    devshell("lock", cwd=root, env=env, timeout=1800, check=True)
    assert (root / "devshell.lock").read_bytes() == first  # a re-lock is byte-identical

    def run(*argv: str) -> str:
        return devshell("run", "--", *argv, cwd=root, env=env, timeout=900, check=True).stdout

    said = run("python", "-c", f"import sys, {MODULES}; print(sys.version.split()[0]); print(sys.executable)")
    pinned, executable = said.split()
    assert pinned == locked["version"] and executable.startswith(_store())
    assert run("python3", "-V").strip() == run(f"python{version}", "-V").strip() == f"Python {pinned}"
    # ensurepip's wheels are the closure's (python3-pip-whl), never the host's.
    wheels = run("python", "-c", "import sysconfig; print(sysconfig.get_config_var('WHEEL_PKG_DIR'))").strip()
    assert wheels.startswith(_store()), wheels
    probe = "import sys; print(sys.prefix); print(sys.base_prefix)"
    run("python", "-m", "venv", ".venv")
    # The venv stands on its own: run outside devshell, nothing set.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    found = subprocess.run([str(root / ".venv" / "bin" / "python"), "-c", probe + "; import pip; print(pip.__file__)"],
                           env=clean, capture_output=True, text=True, check=True, timeout=120).stdout.split()
    assert found[0] == str(root / ".venv") and found[1].startswith(_store())
    assert found[2].startswith(str(root / ".venv") + "/")  # pip, installed by ensurepip from the closure's wheel
    # Its standard library came compiled: running it (as root, too) wrote nothing into the store.
    assert run("python", "-c", "import json; print(json.__cached__)").strip().startswith(_store())
    assert devshell("verify", cwd=root, env=env, timeout=600).returncode == 0


def _wheel(directory: Path) -> Path:
    """A pure wheel with one module, built here: nothing is fetched to install it."""
    path = directory / "hello_devshell-1.0-py3-none-any.whl"
    files = {
        "hello_devshell/__init__.py": "GREETING = 'hello'\n",
        "hello_devshell-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: hello-devshell\nVersion: 1.0\n",
        "hello_devshell-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                                              "Tag: py3-none-any\n",
        "hello_devshell-1.0.dist-info/RECORD": "",
    }
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


def test_the_ready_python_shell_gives_uv_the_pinned_interpreter(tmp_path: Path) -> None:
    reason = _unreachable(pypi=True)
    if reason:
        pytest.skip(reason)
    root = tmp_path / "python"
    shutil.copytree(SHELLS / "python", root)
    env = {"DEVSHELL_PLATFORM": PLATFORMS[platform.machine()]}
    devshell("install", "--locked", cwd=root, env={**env, "CI": "true"}, timeout=1800, check=True)
    pinned = json.loads((root / "devshell.lock").read_text())["tools"]["python"]["version"]

    def run(*argv: str) -> str:
        return devshell("run", "--locked", "--", *argv, cwd=root, env=env, timeout=900, check=True).stdout

    assert run("python", "-V").strip() == f"Python {pinned}"
    run("uv", "venv")  # the pinned interpreter, found on PATH: uv downloads none
    home = dict(line.split(" = ", 1) for line in (root / ".venv" / "pyvenv.cfg").read_text().splitlines())
    assert home["home"].startswith(_store()) and home["version_info"] == pinned
    # Into the project's venv, not the read-only interpreter (as a path in UV_PYTHON would).
    run("uv", "pip", "install", "--offline", "--no-index", str(_wheel(tmp_path)))
    said = run(".venv/bin/python", "-c", "import hello_devshell, sys; print(hello_devshell.__file__)")
    assert said.startswith(str(root / ".venv") + "/")
