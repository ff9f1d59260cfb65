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


@pytest.mark.parametrize("content", [b"\x7fELF\x02\x01\x01garbage-not-a-binary", b"\x00\x01 data, not text\n"])
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


@pytest.mark.parametrize("hot", [True, False])
def test_a_text_file_with_no_shebang_runs_as_a_shell_script(hot: bool, project: Path) -> None:
    """As execvp and every shell run it: npm packages ship such placeholders (pnpm's)."""
    plain = project / "plain-script"
    plain.write_text('echo "ran by sh with $# args: $1"\n')
    plain.chmod(0o755)
    env = {} if hot else {"DEVSHELL_NO_HOT": "1"}
    proc = devshell("run", "--", str(plain), "first", "second", cwd=project, env=env)
    assert (proc.returncode, proc.stdout) == (0, "ran by sh with 2 args: first\n"), proc.stderr


def test_a_missing_program_is_127(project: Path) -> None:
    proc = devshell("run", "--", "no-such-program", cwd=project)
    assert proc.returncode == 127
    assert "no-such-program: command not found" in proc.stderr
