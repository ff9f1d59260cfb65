"""Test isolation: every test gets its own DEVSHELL_HOME and XDG dirs, and no
network beyond loopback unless it is marked `live`."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.debian_archive import ArchiveServer
from tests.loopback import LoopbackServer
from tests.npm_registry import FakeRegistry
from tests.registry import Registry, htpasswd_line, registry_fixture

_real_connect = socket.socket.connect
_NETGUARD = str(Path(__file__).parent / "netguard")


def _loopback_only(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("/"):
        raise RuntimeError(f"test tried to reach {host!r}; only loopback is allowed (mark it live)")
    return _real_connect(self, address)


def _memory_temproot() -> str | None:
    """/dev/shm when it is a tmpfs that lets programs run, else None.

    The suite creates tens of thousands of small files (stores, manifests,
    unpacked archives); on a disk-backed /tmp each creation can cost
    milliseconds (2 ms here, with another suite writing), in memory a tenth
    of that."""
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                _, where, kind, options, *_ = line.split()
                if where == "/dev/shm":
                    usable = kind == "tmpfs" and "noexec" not in options.split(",")
                    return where if usable and os.access(where, os.W_OK | os.X_OK) else None
    except OSError:
        pass  # not Linux
    return None


def pytest_configure(config: pytest.Config) -> None:
    # tmp_path lives in memory unless the person running the suite chose a
    # place (--basetemp, TMPDIR, PYTEST_DEBUG_TEMPROOT); pytest keeps its
    # usual numbered, self-cleaning directories there.
    chosen = config.option.basetemp or os.environ.get("TMPDIR") or os.environ.get("PYTEST_DEBUG_TEMPROOT")
    root = None if chosen else _memory_temproot()
    if root is not None:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = root


@pytest.fixture(scope="session", autouse=True)
def bytecode_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Let the Pythons the tests start keep compiled modules, outside the tree.

    With PYTHONDONTWRITEBYTECODE set (as on the project's machines), every
    `devshell` a test runs would compile each devshell module from source
    again, a fifth of its CPU time; with a cache prefix shared by the run's
    workers, each module is compiled once per run."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        yield
        return
    base = tmp_path_factory.getbasetemp()
    run = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PYTHONDONTWRITEBYTECODE")
        patch.setenv("PYTHONPYCACHEPREFIX", str(run / "pycache"))
        yield


@pytest.fixture(autouse=True)
def isolated(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path / "devshell-home"
    monkeypatch.setenv("DEVSHELL_HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    # fish's first interactive start with a new XDG_DATA_HOME generates
    # completions from every man page in a python it leaves running in the
    # background: seconds of CPU per fish test, after the test has ended.
    (tmp_path / "xdg-data" / "fish" / "generated_completions").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("DEVSHELL_ACTIVE", raising=False)
    monkeypatch.delenv("DEVSHELL_DEBUG", raising=False)
    # Loopback servers must not be reached through a proxy the machine sets.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    guard_log = tmp_path / "netguard.log"
    if request.node.get_closest_marker("live") is None:
        # No test reads this machine's apt sources unless it says so (search asks Debian too).
        monkeypatch.setenv("DEVSHELL_APT_SOURCES_LIST", str(tmp_path / "no-apt" / "sources.list"))
        monkeypatch.setenv("DEVSHELL_APT_SOURCES_DIR", str(tmp_path / "no-apt" / "sources.list.d"))
        monkeypatch.setattr(socket.socket, "connect", _loopback_only)
        # Subprocesses too (the real console script): see netguard/sitecustomize.py.
        monkeypatch.setenv("DEVSHELL_TEST_NETGUARD_LOG", str(guard_log))
        path = os.environ.get("PYTHONPATH")
        monkeypatch.setenv("PYTHONPATH", _NETGUARD + (os.pathsep + path if path else ""))
    yield
    if guard_log.exists():
        reached = guard_log.read_text().splitlines()
        pytest.fail(f"a subprocess tried to reach past loopback (mark the test live): {reached[:5]}")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    srv = LoopbackServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def archive_server() -> Iterator[ArchiveServer]:
    """A loopback server for a fake Debian archive, answering 304 to a known ETag."""
    srv = ArchiveServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def registry(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeRegistry]:
    monkeypatch.setenv("npm_config_registry", server.url)
    monkeypatch.setenv("DEVSHELL_PLATFORM", "x86_64-linux")
    monkeypatch.chdir(tmp_path)
    yield FakeRegistry(server)


@pytest.fixture
def locked_registry(tmp_path: Path) -> Iterator[Registry]:
    """A real registry (docker-registry) behind basic auth: user `team`, password `s3cret`."""
    line = htpasswd_line("team", "s3cret")
    if line is None:
        pytest.skip("no bcrypt from this Python's crypt module to write an htpasswd file")
    yield from registry_fixture(tmp_path / "locked-registry", htpasswd=line)
