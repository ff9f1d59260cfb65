"""Without a terminal (CI, a log), `install` says one line per download and
per tool realised; DEVSHELL_PROGRESS=0 silences them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from devshell import integrity
from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer


def _project(tmp_path: Path, server: LoopbackServer) -> Path:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script("echo hello")})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}))
    return root


def test_a_log_gets_a_line_per_download_and_per_tool(tmp_path: Path, server: LoopbackServer) -> None:
    root = _project(tmp_path, server)
    proc = devshell("install", cwd=root, env={"DEVSHELL_PROGRESS": ""}, check=True)
    lines = proc.stderr.splitlines()
    assert [x for x in lines if x.startswith("devshell: fetched ") and "hello 1.0 (x86_64-linux) (" in x]
    assert [x for x in lines if x.startswith("devshell: realised hello 1.0 (x86_64-linux) in ")]
    again = devshell("install", cwd=root, env={"DEVSHELL_PROGRESS": ""}, check=True)
    assert "fetched" not in again.stderr and "realised" not in again.stderr  # nothing was done twice


def test_progress_0_silences_them(tmp_path: Path, server: LoopbackServer) -> None:
    root = _project(tmp_path, server)
    proc = devshell("install", cwd=root, env={"DEVSHELL_PROGRESS": "0"}, check=True)
    assert "fetched" not in proc.stderr and "realised" not in proc.stderr


def test_quiet_silences_them(tmp_path: Path, server: LoopbackServer) -> None:
    root = _project(tmp_path, server)
    proc = devshell("-q", "install", cwd=root, env={"DEVSHELL_PROGRESS": ""}, check=True)
    assert "fetched" not in proc.stderr and "realised" not in proc.stderr and "is ready" not in proc.stderr


class _Writes:
    """A stderr that records each write: lines from threads must not interleave."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def test_each_progress_line_and_note_is_one_write(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                  server: LoopbackServer) -> None:
    # print() writes the text and its newline apart, so two threads' lines
    # came out as "… (36.4 MB)devshell: fetched …" with a blank line after.
    from devshell import home, lock, say, store
    from devshell.lock import Artifact
    from devshell.net.fetch import Download, fetch

    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script("echo hello")})
    url = url.replace("{version}", "1.0").replace("{platform}", "x86_64-linux")
    err = _Writes()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("DEVSHELL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DEVSHELL_PROGRESS", raising=False)
    say.note("a note")
    say.warn("a warning")
    sri = integrity.from_hex("sha256", sha)
    fetch(home.home(), Download(url, sri, None, "hello 1.0 (x86_64-linux)"))
    artifact = Artifact(url=url, integrity=sri, size=None, format="tar.gz", strip="auto", bin=("bin/hello",),
                        env=(), output=lock.output_name("hello", "1.0", {"integrity": sri}))
    store.add_artifact(home.home(), artifact, "hello 1.0 (x86_64-linux)")
    assert len(err.writes) == 4
    assert all(w.startswith("devshell: ") and w.endswith("\n") and w.count("\n") == 1 for w in err.writes)
