"""`add`, `remove`, `search` and `doctor`: editing devshell.toml keeps what a
person wrote, and a failed edit leaves both files exactly as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devshell import atomic
from devshell.cli import main
from devshell.errors import SpecError, UsageError
from devshell.spec import edit as specedit
from tests.helpers import devshell, script, serve_tool, url_tool
from tests.loopback import LoopbackServer
from tests.pypi_index import FakeIndex, wheel

LINUX = "manylinux_2_17_x86_64.manylinux2014_x86_64"


@pytest.fixture
def index(server: LoopbackServer) -> FakeIndex:
    idx = FakeIndex(server)
    for version in ("1.1.0", "1.2.0", "1.2.3", "1.3.0"):
        body = f'#!/bin/sh\necho "faketool {version} $*"\n'
        idx.add("faketool", *wheel("faketool", version, LINUX, {"faketool": body}))
    return idx


@pytest.fixture
def env(index: FakeIndex, server: LoopbackServer) -> dict[str, str]:
    """Every upstream on loopback (the npm registry knows no package at all)."""
    return {"PIP_INDEX_URL": index.url(), "npm_config_registry": f"{server.url}/npm/",
            "DEVSHELL_HTTP_RETRIES": "0"}


def _commented(tmp_path: Path, server: LoopbackServer) -> tuple[Path, str]:
    """A locked project whose spec a person wrote, comments and all."""
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0 $*"')})
    text = (
        "# Tools for the team; reviewed in PRs.\n"
        "[shell]\n"
        'platforms = ["x86_64-linux"]  # CI is linux-only\n'
        "\n"
        "# Keep these sorted.\n"
        "[tools]\n"
        "# the greeter, served on loopback\n"
        + url_tool("hello", "1.0", url, {"x86_64-linux": sha}).rstrip("\n") + "  # pinned on purpose\n"
        "\n"
        "[env]\n"
        'GREETING = "hi"  # used by scripts\n'
    )
    root = tmp_path / "proj"
    root.mkdir()
    (root / "devshell.toml").write_text(text)
    devshell("lock", cwd=root, check=True)
    return root, text


def _snapshot(root: Path) -> tuple[bytes, bytes]:
    return (root / "devshell.toml").read_bytes(), (root / "devshell.lock").read_bytes()


def _locked(root: Path) -> dict[str, dict[str, object]]:
    tools: dict[str, dict[str, object]] = json.loads((root / "devshell.lock").read_text())["tools"]
    return tools


def test_add_keeps_comments_and_layout(tmp_path: Path, server: LoopbackServer, env: dict[str, str]) -> None:
    root, before = _commented(tmp_path, server)
    proc = devshell("add", "pypi:faketool@1.2", cwd=root, env=env, check=True)
    hello_line = next(line for line in before.splitlines(keepends=True) if line.startswith("hello"))
    assert (root / "devshell.toml").read_text() == before.replace(
        hello_line, hello_line + '"pypi:faketool" = "1.2"\n')
    assert _locked(root)["faketool"]["version"] == "1.2.3"
    assert _locked(root)["hello"]["version"] == "1.0"
    assert "faketool: added 1.2.3" in proc.stderr


def test_added_tool_runs(tmp_path: Path, server: LoopbackServer, env: dict[str, str]) -> None:
    root, _ = _commented(tmp_path, server)
    devshell("add", "pypi:faketool@1.1", cwd=root, env=env, check=True)
    assert devshell("run", "--locked", "--", "faketool", "x", cwd=root, env=env, check=True).stdout == "faketool 1.1.0 x\n"


def test_add_without_a_version_writes_the_major_minor(tmp_path: Path, server: LoopbackServer, env: dict[str, str]) -> None:
    root, _ = _commented(tmp_path, server)
    devshell("add", "pypi:faketool", cwd=root, env=env, check=True)
    assert '"pypi:faketool" = "1.3"\n' in (root / "devshell.toml").read_text()
    assert _locked(root)["faketool"]["version"] == "1.3.0"
    # The lock is fresh for the spec as written: locking again changes nothing.
    snapshot = _snapshot(root)
    devshell("lock", "--update", cwd=root, env=env, check=True)
    assert _snapshot(root) == snapshot


def test_adding_a_present_tool_changes_its_version_in_place(tmp_path: Path, server: LoopbackServer, env: dict[str, str]) -> None:
    root, _ = _commented(tmp_path, server)
    devshell("add", "pypi:faketool@1.1", cwd=root, env=env, check=True)
    text = (root / "devshell.toml").read_text().replace(
        '"pypi:faketool" = "1.1"', '"pypi:faketool" = "1.1"  # old one')
    (root / "devshell.toml").write_text(text)
    proc = devshell("add", "pypi:faketool@1.2", cwd=root, env=env, check=True)
    assert (root / "devshell.toml").read_text() == text.replace('"1.1"  # old', '"1.2"  # old')
    assert "faketool: 1.1.0 → 1.2.3" in proc.stderr


def test_remove_keeps_comments_and_drops_the_tool(tmp_path: Path, server: LoopbackServer, env: dict[str, str]) -> None:
    root, before = _commented(tmp_path, server)
    devshell("add", "pypi:faketool@1.2", cwd=root, env=env, check=True)
    proc = devshell("remove", "faketool", cwd=root, env=env, check=True)
    assert (root / "devshell.toml").read_text() == before
    assert set(_locked(root)) == {"hello"}
    assert "faketool: removed 1.2.3" in proc.stderr


def test_add_of_an_unknown_name_suggests_and_changes_nothing(tmp_path: Path, server: LoopbackServer, env: dict[str, str]) -> None:
    root, _ = _commented(tmp_path, server)
    before = _snapshot(root)
    proc = devshell("add", "pypi:faketool@1.2", "rufff@0.6", cwd=root, env=env)
    assert proc.returncode == 3
    assert "'rufff' is not in the catalogue" in proc.stderr
    assert "did you mean 'ruff'?" in proc.stderr and "pypi:rufff" in proc.stderr
    assert _snapshot(root) == before


def test_add_with_no_matching_version_changes_nothing(tmp_path: Path, server: LoopbackServer, env: dict[str, str]) -> None:
    root, _ = _commented(tmp_path, server)
    before = _snapshot(root)
    proc = devshell("add", "pypi:faketool@9", cwd=root, env=env)
    assert proc.returncode == 3
    assert "newest it has is 1.3.0" in proc.stderr
    assert _snapshot(root) == before
    assert sorted(p.name for p in root.iterdir()) == ["devshell.lock", "devshell.toml"]


def test_add_when_the_index_is_down_changes_nothing(tmp_path: Path, server: LoopbackServer, env: dict[str, str]) -> None:
    root, _ = _commented(tmp_path, server)
    before = _snapshot(root)
    server.stop()
    proc = devshell("add", "pypi:faketool@1.2", cwd=root, env=env)
    assert proc.returncode == 5, proc.stderr
    assert _snapshot(root) == before
    assert sorted(p.name for p in root.iterdir()) == ["devshell.lock", "devshell.toml"]


def test_remove_of_an_unknown_tool_lists_the_spec_tools(tmp_path: Path, server: LoopbackServer, env: dict[str, str]) -> None:
    root, _ = _commented(tmp_path, server)
    before = _snapshot(root)
    proc = devshell("remove", "nosuch", cwd=root, env=env)
    assert proc.returncode == 2
    assert "nosuch is not in" in proc.stderr and "tools in the spec: hello" in proc.stderr
    assert _snapshot(root) == before


def test_add_and_remove_in_process(tmp_path: Path, server: LoopbackServer, env: dict[str, str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root, before = _commented(tmp_path, server)
    _in_process(root, env, monkeypatch)
    assert main(["add", "pypi:faketool@1.2"]) == 0
    assert _locked(root)["faketool"]["version"] == "1.2.3"
    assert main(["remove", "pypi:faketool"]) == 0
    assert (root / "devshell.toml").read_text() == before


def test_adding_what_is_there_touches_no_file(tmp_path: Path, server: LoopbackServer, env: dict[str, str]) -> None:
    root, _ = _commented(tmp_path, server)
    devshell("add", "pypi:faketool@1.2", cwd=root, env=env, check=True)
    stats = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in (root / "devshell.toml", root / "devshell.lock")]
    proc = devshell("add", "pypi:faketool@1.2", cwd=root, env=env, check=True)
    assert "nothing moved" in proc.stderr
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in (root / "devshell.toml", root / "devshell.lock")] == stats


def _in_process(root: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DEVSHELL_PLATFORM", "x86_64-linux")
    monkeypatch.chdir(root)


def test_ctrl_c_while_resolving_changes_nothing(tmp_path: Path, server: LoopbackServer, env: dict[str, str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = _commented(tmp_path, server)
    before = _snapshot(root)
    _in_process(root, env, monkeypatch)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("devshell.sources.resolve.resolve", interrupted)
    assert main(["add", "pypi:faketool@1.2"]) == 130
    assert _snapshot(root) == before
    assert sorted(p.name for p in root.iterdir()) == ["devshell.lock", "devshell.toml"]


def test_a_lock_that_cannot_be_written_puts_the_spec_back(tmp_path: Path, server: LoopbackServer,
                                                          env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = _commented(tmp_path, server)
    before = _snapshot(root)
    _in_process(root, env, monkeypatch)
    real = atomic.write_text

    def disk_full(path: Path, text: str, mode: int = 0o644) -> None:
        if path.name == "devshell.lock":
            raise OSError(28, "No space left on device")
        real(path, text, mode)

    monkeypatch.setattr(atomic, "write_text", disk_full)
    assert main(["add", "pypi:faketool@1.2"]) != 0
    assert _snapshot(root) == before


def test_search_lists_catalogue_matches(tmp_path: Path, env: dict[str, str]) -> None:
    proc = devshell("search", "rip", cwd=tmp_path, env=env, check=True)
    line = next(line for line in proc.stdout.splitlines() if "ripgrep" in line)
    assert "pypi" in line and "recursive" in line
    assert proc.stdout.index("ripgrep") < proc.stdout.index("Python package index")


def test_search_reports_what_the_upstreams_have(tmp_path: Path, env: dict[str, str]) -> None:
    proc = devshell("search", "faketool", cwd=tmp_path, env=env, check=True)
    assert "nothing matches 'faketool'" in proc.stdout
    assert "faketool 1.3.0" in proc.stdout and "devshell add pypi:faketool@1.3.0" in proc.stdout
    assert "\n  npm has no package faketool\n" in proc.stdout


def test_search_reports_an_unreachable_upstream_in_one_line(tmp_path: Path, server: LoopbackServer,
                                                             env: dict[str, str]) -> None:
    server.stop()
    proc = devshell("search", "faketool", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("Python package index")))
    assert lines[at + 1].startswith("  ") and "127.0.0.1" in lines[at + 1]
    assert not lines[at + 2].startswith("  ")


def test_doctor_says_where_each_upstream_came_from(tmp_path: Path) -> None:
    proc = devshell("doctor", cwd=tmp_path, check=True, env={
        "PIP_INDEX_URL": "http://user:s3cret@127.0.0.1:1/simple", "npm_config_registry": "http://127.0.0.1:1/npm",
    })
    assert "pypi: http://user:***@127.0.0.1:1/simple/ (from PIP_INDEX_URL)" in proc.stdout
    assert "npm: http://127.0.0.1:1/npm/ (from npm_config_registry)" in proc.stdout
    assert "s3cret" not in proc.stdout
    assert "platform: x86_64-linux" in proc.stdout
    assert f"DEVSHELL_HOME: {tmp_path / 'devshell-home'} (from DEVSHELL_HOME)" in proc.stdout


def test_doctor_reports_an_upstream_it_cannot_find(tmp_path: Path) -> None:
    proc = devshell("doctor", cwd=tmp_path, check=True, env={
        "PIP_INDEX_URL": "http://127.0.0.1:1/simple", "PATH": "/nonexistent", "HOME": str(tmp_path),
    })
    assert "npm: error: cannot tell where the npm registry is" in proc.stdout


# The pure functions behind the commands.

SPEC = Path("/p/devshell.toml")


@pytest.mark.parametrize(("text", "key", "constraint"), [
    ("ruff", "ruff", None),
    ("ruff@0.6", "ruff", "0.6"),
    ("pypi:faketool@>=1.2,<2", "pypi:faketool", ">=1.2,<2"),
    ("npm:@scope/pkg@3", "npm:@scope/pkg", "3"),
    ("npm:@scope/pkg", "npm:@scope/pkg", None),
])
def test_requests_parse(text: str, key: str, constraint: str | None) -> None:
    assert specedit.parse_request(text) == specedit.Request(key, constraint)


def test_bad_requests_are_refused() -> None:
    with pytest.raises(UsageError):
        specedit.parse_request("ruff@")
    with pytest.raises(UsageError):
        specedit.parse_request("pypi:")
    with pytest.raises(SpecError, match="not in the catalogue"):
        specedit.parse_request("nosuchtool")


@pytest.mark.parametrize(("version", "pin"), [
    ("0.6.9", "0.6"), ("20.11.1", "20.11"), ("1.2", "1.2"), ("2.0.0rc1", "2.0.0rc1"), ("weird", "weird"),
])
def test_pin_for(version: str, pin: str) -> None:
    assert specedit.pin_for(version) == pin


def test_set_tool_makes_a_tools_table_when_there_is_none() -> None:
    text = specedit.set_tool('[shell]\nname = "x"\n', SPEC, "pypi:faketool", "1.2")
    assert text == '[shell]\nname = "x"\n\n[tools]\n"pypi:faketool" = "1.2"\n'


def test_set_tool_updates_a_table_entry_and_refuses_a_second_source() -> None:
    text = '[tools]\nfaketool = { version = "1", source = "pypi" }  # note\n'
    assert specedit.set_tool(text, SPEC, "faketool", "2") == text.replace('"1"', '"2"')
    with pytest.raises(UsageError, match="already has faketool"):
        specedit.set_tool(text, SPEC, "npm:faketool", "2")


def test_runtimes_come_along() -> None:
    requests = [specedit.Request("prettier", None)]
    assert specedit.with_runtimes(requests, []) == [*requests, specedit.Request("node", None)]
    assert specedit.with_runtimes(requests, ["node"]) == requests


def test_set_shell_name() -> None:
    assert specedit.set_shell_name('[shell]\nname = "old"  # n\n', SPEC, "new") == '[shell]\nname = "new"  # n\n'
    assert specedit.set_shell_name("# c\n[tools]\n", SPEC, "new") == '[shell]\nname = "new"\n\n# c\n[tools]\n'
