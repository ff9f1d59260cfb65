"""Against the Debian archive this machine is configured for: a pure shell of
Debian's bash, coreutils, jq, git and python3, relocated into the store, runs
with nothing from the host's /usr on PATH, each program started by the
closure's own loader; Pythons from two suites side by side; and a package at
the version apt would install, from the security archive."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
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
    # Debian's git needs GIT_EXEC_PATH, a variable that decides what runs: the
    # project is trusted first, as its user would (devshell's lock keeps it).
    devshell("trust", cwd=root, env=env, check=True)
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


def _apt_candidate(package: str) -> str | None:
    """The version `apt-cache policy` says apt would install, if apt can say."""
    import shutil
    import subprocess

    apt_cache = shutil.which("apt-cache")
    if apt_cache is None:
        return None
    out = subprocess.run([apt_cache, "policy", package], capture_output=True, text=True,
                         timeout=60, check=False).stdout
    for line in out.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Candidate" and value.strip() not in ("", "(none)"):
            return value.strip()
    return None


def _codename() -> str | None:
    from devshell.debian.index import default_suite

    return default_suite() if Path("/etc/debian_version").exists() else None


def _check_python(root: Path, run: Callable[..., str], x: str) -> str:
    """Python 3.`x` runs from the store on its closure's own loader, with the
    modules a project needs; a venv made in the shell runs on it, pip
    included. Its loader's path."""
    python = f"python3.{x}"
    modules = "import ssl, sqlite3, ctypes, zlib, lzma, bz2, readline, venv; print('ok')"
    assert run(python, "-c", modules) == "ok\n"
    store = str(Path(os.environ["DEVSHELL_HOME"]) / "store") + "/"
    real = os.path.realpath(run(python, "-c", "import sys; print(sys.executable)").strip())
    with open(real, "rb") as f:
        info = elf.read(f)
    assert info is not None and info.interpreter is not None and info.interpreter.startswith(store), real
    venv = root / f".venv{x}"
    run(python, "-m", "venv", str(venv))
    prefix, base = run(str(venv / "bin/python"), "-c", "import sys; print(sys.prefix, sys.base_prefix)").split()
    assert prefix == str(venv) and base == str(Path(real).parent.parent), (prefix, base)
    assert run(str(venv / "bin/pip"), "--version").startswith("pip ")
    return info.interpreter


def test_pythons_from_two_suites_beside_apts_security_fixes(tmp_path: Path) -> None:
    """On this Debian 12 machine, one pure shell: Python 3.13 from Debian 13,
    Python 3.11 from Debian 12 and psql from Debian 12, each on its own
    closure's loader and libc, venvs made with either Python, and psql at
    the version apt would install (a security fix)."""
    reason = _archive_unreachable()
    if reason:
        pytest.skip(reason)
    if platform.machine() != "x86_64" or _codename() != "bookworm":
        pytest.skip("written for a Debian 12 (bookworm) x86_64 host, whose apt can say what it installs")
    want_psql = _apt_candidate("postgresql-client-15")
    if want_psql is None:
        pytest.skip("apt-cache cannot say which postgresql-client-15 apt would install")
    root = tmp_path / "pythons"
    root.mkdir()
    (root / "devshell.toml").write_text(
        '[shell]\nplatforms = ["x86_64-linux"]\n\n[tools]\n'
        'python = { version = "latest", source = "deb", package = "python3.13-venv", suite = "trixie", '
        'bin = ["usr/bin/python3.13", "python3=usr/bin/python3.13"] }\n'
        'python311 = { version = "latest", source = "deb", package = "python3.11-venv", suite = "bookworm", '
        'bin = ["usr/bin/python3.11"] }\n'
        '"deb:postgresql-client-15" = { version = "latest", bin = ["usr/lib/postgresql/15/bin/psql"] }\n')
    env = {"DEVSHELL_PLATFORM": "x86_64-linux"}
    devshell("install", cwd=root, env=env, timeout=1800, check=True)

    def run(*argv: str) -> str:
        return devshell("run", "--", *argv, cwd=root, env=env, timeout=300, check=True).stdout

    loaders = {_check_python(root, run, "13"), _check_python(root, run, "11")}
    assert run("python3", "-c", "import sys; print(sys.version_info[:2])") == "(3, 13)\n"
    tools = json.loads((root / "devshell.lock").read_text())["tools"]
    assert tools["postgresql-client-15"]["version"] == want_psql
    assert f"(Debian {want_psql})" in run("psql", "--version")
    with open(os.path.realpath(run("python3", "-c", "import shutil; print(shutil.which('psql'))").strip()), "rb") as f:
        psql = elf.read(f)
    assert psql is not None and psql.interpreter is not None
    assert len(loaders | {psql.interpreter}) == 3  # one closure each, each with its own loader
    libc = {name: {p["name"]: p["version"] for p in t["platforms"]["x86_64-linux"]["closure"]}["libc6"]
            for name, t in tools.items()}
    assert libc["python"].startswith("2.41") and libc["python311"].startswith("2.36"), libc
