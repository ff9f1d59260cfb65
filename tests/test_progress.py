"""Without a terminal (CI, a log), `install` says one line per download and
per tool realised; DEVSHELL_PROGRESS=0 silences them."""

from __future__ import annotations

from pathlib import Path

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
