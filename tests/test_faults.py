"""What a user sees when things go wrong: a killed install, bytes that do not
match the lock, a failing server, a bad archive, a bad spec.

Every case drives the real console script. The store's promise (DESIGN.md,
"The store") is checked from the outside: after any failure, `store/` holds
nothing under an output's name, and the next run repairs what was left.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import (
    DEVSHELL,
    devshell,
    script,
    serve_tool,
    sha256,
    tarball,
    url_tool,
    write_spec,
)
from tests.loopback import LoopbackServer, serve_in_background

DEADLINE = 20.0  # seconds any wait loop may take before the test fails
HELLO = script('echo "hello 1.0 $*"')
ARTIFACT = "/hello-1.0-x86_64-linux.tar.gz"
FILES = 2000  # in the archive an install is killed while unpacking


# ---------------------------------------------------------------- helpers


def _home() -> Path:
    return Path(os.environ["DEVSHELL_HOME"])


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DEVSHELL_PLATFORM"] = "x86_64-linux"
    env.update(extra)
    return env


def _entries(directory: Path) -> list[str]:
    return sorted(os.listdir(directory)) if directory.is_dir() else []


def _visible(directory: Path) -> list[str]:
    """Entries a reader would take for outputs: anything not hidden."""
    return [name for name in _entries(directory) if not name.startswith(".")]


def _temp_dirs(store: Path) -> list[str]:
    return [name for name in _entries(store) if name.startswith(".tmp-")]


@contextmanager
def _started(*args: str, cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """`devshell ARGS` running in the background; killed if the test fails."""
    proc = subprocess.Popen(
        [DEVSHELL, *args], cwd=cwd, env=_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=DEADLINE)


def _wait_until(proc: subprocess.Popen[str], ready: Callable[[], bool], what: str) -> None:
    """Poll `ready` until it holds; fail if `proc` ends first or time runs out."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if ready():
            return
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"devshell exited ({proc.returncode}) before {what}:\n{err}")
        time.sleep(0.005)
    raise AssertionError(f"timed out after {DEADLINE}s waiting for {what}")


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.kill()  # SIGKILL: no handler, no cleanup, as when the machine dies
    proc.wait(timeout=DEADLINE)
    assert proc.returncode == -9


def _sri(hexdigest: str) -> str:
    return "sha256-" + base64.b64encode(bytes.fromhex(hexdigest)).decode()


def _hello_project(root: Path, url: str, sha: str, bin_: str = '["bin/hello"]') -> Path:
    """A locked project, as a fresh clone finds it: locking checked the spec's
    sha256 against the URL (one download), and this machine's download cache
    is empty again, so installing downloads."""
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}, bin=bin_))
    devshell("lock", cwd=root, check=True)
    _forget_downloads()
    return root


def _forget_downloads() -> None:
    shutil.rmtree(_home() / "cache" / "downloads", ignore_errors=True)


class _Trickle:
    """A loopback server that sends its one artifact slowly while `slow` is set."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.slow = True
        self.hits: Counter[str] = Counter()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.hits[self.path] += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                step = 64 * 1024
                try:
                    for start in range(0, len(outer.body), step):
                        self.wfile.write(outer.body[start:start + step])
                        if outer.slow:
                            time.sleep(0.01)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client was killed mid-transfer: that is the test

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        serve_in_background(self.httpd)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def big_artifact() -> bytes:
    """A 16 MiB tar.gz, built once: 2.5 s at the trickle's pace, ample time to
    see it half downloaded and kill the download."""
    payload = os.urandom(16 * 1024 * 1024)  # random: gzip cannot shrink it
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for name, data, mode in (("bin/hello", HELLO.encode(), 0o755),
                                 ("share/blob", payload, 0o644)):
            info = tarfile.TarInfo(f"hello-1.0/{name}")
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def trickle(big_artifact: bytes) -> Iterator[_Trickle]:
    srv = _Trickle(big_artifact)
    try:
        yield srv
    finally:
        srv.stop()


# ---------------------------------------------------------------- killed


def test_install_killed_mid_download_leaves_nothing_and_the_next_install_works(
        tmp_path: Path, trickle: _Trickle) -> None:
    trickle.slow = False
    root = _hello_project(tmp_path / "proj", trickle.url + ARTIFACT, sha256(trickle.body))
    assert sum(trickle.hits.values()) == 1  # locking checked the spec's sha256 against the URL
    trickle.slow = True
    home = _home()
    partial = home / "cache" / "tmp"

    def downloading() -> bool:
        return any(e.stat().st_size > 1024 * 1024 for e in partial.glob("*")) \
            if partial.is_dir() else False

    with _started("install", cwd=root) as proc:
        _wait_until(proc, downloading, "a partial download in cache/tmp")
        _kill(proc)
    assert _visible(home / "store") == []
    assert len(_temp_dirs(home / "store")) == 1  # killed inside the store's write path
    assert _entries(home / "cache" / "downloads") == []

    trickle.slow = False
    devshell("install", cwd=root, check=True)
    assert devshell("run", "--", "hello", "again", cwd=root, check=True).stdout == "hello 1.0 again\n"
    assert _temp_dirs(home / "store") == []  # the killed attempt's temp dir was swept
    assert trickle.hits[ARTIFACT] == 3  # lock, killed install, install


def test_a_killed_download_does_not_outlive_the_next_install(
        tmp_path: Path, trickle: _Trickle) -> None:
    trickle.slow = False
    root = _hello_project(tmp_path / "proj", trickle.url + ARTIFACT, sha256(trickle.body))
    trickle.slow = True
    partial = _home() / "cache" / "tmp"
    with _started("install", cwd=root) as proc:
        _wait_until(proc, lambda: any(p.stat().st_size > 0 for p in partial.glob("*.part")),
                    "a partial download in cache/tmp")
        _kill(proc)
    trickle.slow = False
    devshell("install", cwd=root, check=True)
    assert _entries(partial) == []


def test_install_killed_mid_unpack_leaves_nothing_and_the_next_install_sweeps(
        tmp_path: Path, server: LoopbackServer) -> None:
    # Thousands of small files: fast to download, a second or more to unpack
    # (thousands of 5 ms polls), while each file costs every install its time.
    files: dict[str, str | bytes] = {f"share/d{i % 50}/f{i}": f"{i}\n" for i in range(FILES)}
    files["bin/hello"] = HELLO
    url, sha = serve_tool(server, "hello", "1.0", files)
    root = _hello_project(tmp_path / "proj", url, sha)
    home = _home()
    store = home / "store"

    def unpacking() -> bool:
        for name in _temp_dirs(store):
            try:
                with os.scandir(store / name) as it:
                    if any(it):
                        return True
            except FileNotFoundError:
                pass  # renamed into place between the listing and the look
        return False

    with _started("install", cwd=root) as proc:
        _wait_until(proc, unpacking, "unpacking into a .tmp-* directory in store/")
        _kill(proc)
    assert _visible(store) == []
    assert len(_temp_dirs(store)) == 1  # the half-unpacked attempt, hidden
    assert len(_entries(home / "cache" / "downloads")) == 1  # verified bytes are kept

    devshell("install", cwd=root, check=True)
    assert _temp_dirs(store) == []
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 1.0 \n"
    assert server.hits["/hello-1.0-x86_64-linux.tar.gz"] == 2  # lock, install; the cache served the retry
    out = Path(devshell("store", "path", "hello", cwd=root, check=True).stdout.strip())
    assert len(list(out.rglob("f*"))) == FILES


# ---------------------------------------------------------------- concurrency


def test_concurrent_cold_runs_all_succeed_and_download_each_artifact_once(
        tmp_path: Path, server: LoopbackServer) -> None:
    root = tmp_path / "proj"
    tools = ""
    for name in ("hello", "world"):
        url, sha = serve_tool(server, name, "1.0", {f"bin/{name}": script(f'echo "{name} $*"')})
        tools += url_tool(name, "1.0", url, {"x86_64-linux": sha}, bin=f'["bin/{name}"]')
    write_spec(root, tools)
    devshell("lock", cwd=root, check=True)
    assert sum(server.hits.values()) == 2  # locking checked each spec sha256 against its URL
    _forget_downloads()  # cold, as on a fresh clone

    procs = [
        subprocess.Popen(
            [DEVSHELL, "run", "--", name, str(i)], cwd=root, env=_env(),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i, name in enumerate(["hello", "world"] * 4)
    ]
    try:
        results = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for i, ((out, err), p) in enumerate(zip(results, procs, strict=True)):
        assert p.returncode == 0, err
        assert out == f"{'hello' if i % 2 == 0 else 'world'} {i}\n"
    assert server.hits["/hello-1.0-x86_64-linux.tar.gz"] == 2  # the lock's, then one for eight runs
    assert server.hits["/world-1.0-x86_64-linux.tar.gz"] == 2
    store = _home() / "store"
    assert _temp_dirs(store) == []
    assert len(_visible(store)) == 3  # two outputs and one profile


# ---------------------------------------------------------------- bad bytes, bad servers


def test_hash_mismatch_at_install_names_both_hashes_and_keeps_nothing(
        tmp_path: Path, server: LoopbackServer) -> None:
    url, locked = serve_tool(server, "hello", "1.0", {"bin/hello": HELLO})
    root = _hello_project(tmp_path / "proj", url, locked)
    # The upstream replaces the file after the lock was made.
    changed = tarball({"bin/hello": HELLO + "# changed\n"}, top="hello-1.0")
    served = hashlib.sha256(changed).hexdigest()
    server.add(ARTIFACT, changed)
    proc = devshell("install", cwd=root)
    assert proc.returncode == 5, proc.stderr
    assert "hash mismatch" in proc.stderr
    assert f"expected {_sri(locked)}" in proc.stderr
    assert f"got {_sri(served)}" in proc.stderr
    assert "Traceback" not in proc.stderr
    home = _home()
    assert _entries(home / "store") == []
    assert _entries(home / "cache" / "downloads") == []
    assert _entries(home / "cache" / "tmp") == []


def test_install_from_a_missing_url_fails_naming_it(tmp_path: Path, server: LoopbackServer) -> None:
    server.add("/gone-1.0.tar.gz", tarball({"bin/hello": HELLO}, top="hello-1.0"))
    url = f"{server.url}/gone-{{version}}.tar.gz"
    root = _hello_project(tmp_path / "proj", url, sha256(server.routes["/gone-1.0.tar.gz"].body))
    del server.routes["/gone-1.0.tar.gz"]  # the upstream removes the file after the lock was made
    proc = devshell("install", cwd=root)
    assert proc.returncode == 5, proc.stderr
    assert f"{server.url}/gone-1.0.tar.gz" in proc.stderr
    assert "404" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _entries(_home() / "store") == []


def test_install_retries_a_server_error_and_succeeds(tmp_path: Path, server: LoopbackServer) -> None:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": HELLO})
    root = _hello_project(tmp_path / "proj", url, sha)
    server.routes[ARTIFACT].faults.append("500")
    devshell("install", cwd=root, env={"DEVSHELL_HTTP_BACKOFF": "0"}, check=True)
    assert server.hits[ARTIFACT] == 3  # the lock's check, the 500, the retry
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 1.0 \n"


# ---------------------------------------------------------------- bad archives


def test_a_bin_entry_missing_from_the_archive_fails_and_keeps_nothing(
        tmp_path: Path, server: LoopbackServer) -> None:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": HELLO})
    root = _hello_project(tmp_path / "proj", url, sha, bin_='["bin/nope"]')
    proc = devshell("install", cwd=root)
    assert proc.returncode == 6, proc.stderr
    assert "'bin/nope'" in proc.stderr and "not in the archive" in proc.stderr
    assert "bin/hello" in proc.stderr  # the hint names what the archive does have
    assert "Traceback" not in proc.stderr
    assert _entries(_home() / "store") == []  # not even the failing process's temp dir


def test_an_archive_member_escaping_the_output_is_refused(
        tmp_path: Path, server: LoopbackServer) -> None:
    body = tarball({"hello-1.0/bin/hello": HELLO, "../escape": "pwned\n"}, top=None)
    server.add(ARTIFACT, body)
    root = _hello_project(tmp_path / "proj", server.url + ARTIFACT, sha256(body))
    proc = devshell("install", cwd=root)
    assert proc.returncode == 6, proc.stderr
    assert "'../escape'" in proc.stderr and "outside the output" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _entries(_home() / "store") == []
    assert list(tmp_path.rglob("escape")) == []
    assert not (tmp_path.parent / "escape").exists()


# ---------------------------------------------------------------- bad specs

_PLATFORMS = '[shell]\nplatforms = ["x86_64-linux"]\n\n[tools]\n'
_URL = "http://127.0.0.1:9/hello-{version}.tar.gz"
_SHA = "0" * 64


@pytest.mark.parametrize("command", [("lock",), ("run", "--", "hello")])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(_PLATFORMS + 'hello = "1.0\n', ["invalid TOML", "(at line 5, column 13)"],
                     id="malformed-toml"),
        pytest.param(
            _PLATFORMS + f'hello = {{ version = "1.0", url = "{_URL}", sha265 = {{ "x86_64-linux" = "{_SHA}" }} }}\n',
            ["tools.hello.sha265: unknown key", "did you mean 'sha256'?"], id="unknown-key"),
        pytest.param(
            _PLATFORMS.replace("platforms", "platfroms") + f'hello = {{ version = "1.0", url = "{_URL}" }}\n',
            ["shell.platfroms: unknown key", "did you mean 'platforms'?"], id="unknown-shell-key"),
        pytest.param(
            _PLATFORMS + f'hello = {{ version = ">=1.0,<<2", url = "{_URL}" }}\n',
            ["tools.hello.version", "'>=1.0,<<2' is not a valid version specifier"],
            id="bad-constraint"),
    ],
)
def test_a_bad_spec_is_reported_without_a_traceback(
        tmp_path: Path, text: str, expected: list[str], command: tuple[str, ...]) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "devshell.toml").write_text(text)
    proc = devshell(*command, cwd=root)
    assert proc.returncode == 3, proc.stderr
    assert str(root / "devshell.toml") in proc.stderr
    for fragment in expected:
        assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (root / "devshell.lock").exists()
