"""`devshell run` fails the way a shell does: one line, 126 for a file that
cannot be run, 127 for one that is not there; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer


@pytest.fixture
def project(tmp_path: Path, server: LoopbackServer) -> Path:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script("echo hello")})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}), extra='isolation = "inherit"\n')
    devshell("install", cwd=root, check=True)
    return root


@pytest.mark.parametrize("content", [b"echo no shebang\n", b"\x7fELF\x02\x01\x01garbage-not-a-binary"])
@pytest.mark.parametrize("hot", [True, False])
def test_a_file_that_cannot_run_is_126_in_one_line(content: bytes, hot: bool, project: Path) -> None:
    bad = project / "bad-program"
    bad.write_bytes(content)
    bad.chmod(0o755)
    env = {} if hot else {"DEVSHELL_NO_HOT": "1"}
    proc = devshell("run", "--", str(bad), cwd=project, env=env)
    assert proc.returncode == 126
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "bad-program: cannot run it" in proc.stderr


def test_a_missing_program_is_127(project: Path) -> None:
    proc = devshell("run", "--", "no-such-program", cwd=project)
    assert proc.returncode == 127
    assert "no-such-program: command not found" in proc.stderr
