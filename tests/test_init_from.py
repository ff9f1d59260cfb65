"""`devshell init --from FILE`: another tool's pins (asdf, mise, devbox,
.nvmrc, .node-version, .python-version) become devshell.toml and its lock,
all or nothing, with one note for each pin devshell has no equivalent for.

Everything is served from loopback: node from a mirror laid out as Node.js's
dist site, go as Go's downloads, python as python-build-standalone's
releases, ruff and faketool from a fake package index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devshell.imports import aliases
from tests.helpers import devshell
from tests.loopback import LoopbackServer
from tests.npm_registry import FakeRegistry
from tests.pbs_mirror import PbsMirror, fake_build
from tests.pypi_index import FakeIndex, wheel
from tests.vendor_mirrors import GoDownloads, NodeDist, configure

LINUX = "manylinux_2_17_x86_64.manylinux2014_x86_64"
TAG = "20241206"


@pytest.fixture
def env(server: LoopbackServer, registry: FakeRegistry, tmp_path: Path) -> dict[str, str]:
    """Upstreams with node 18.20.4, 20.11.1 and 20.18.0, go 1.22.7 and 1.23.1,
    python 3.11.9, 3.12.1 and 3.12.7, ruff 0.5.7 and 0.6.9, faketool 1.2.3;
    no templates."""
    node, go, pbs = NodeDist(server), GoDownloads(server), PbsMirror(server)
    for version in ("18.20.4", "20.11.1", "20.18.0"):
        node.release(version)
    for version in ("1.22.7", "1.23.1"):
        go.release(version)
    pbs.release(TAG, {v: fake_build(v) for v in ("3.11.9", "3.12.1", "3.12.7")})
    configure(node, go, extra=pbs.mirrors())
    idx = FakeIndex(server)
    for version in ("0.5.7", "0.6.9"):
        idx.add("ruff", *wheel("ruff", version, LINUX, {"ruff": f"#!/bin/sh\necho ruff {version}\n"}))
    idx.add("faketool", *wheel("faketool", "1.2.3", LINUX, {"faketool": "#!/bin/sh\necho faketool 1.2.3\n"}))
    # No Debian archive answers: python's Debian route is skipped, with a note of the lock's own.
    return {"PIP_INDEX_URL": idx.url(), "DEVSHELL_TEMPLATES": str(tmp_path / "no-templates"),
            "DEVSHELL_DEB_ARCHIVE": "http://127.0.0.1:9/", "DEVSHELL_HTTP_RETRIES": "0"}


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    root = tmp_path / "webapp"
    root.mkdir()
    return root


def _locked(root: Path) -> dict[str, str]:
    """Tool name → the version the lock pins."""
    tools = json.loads((root / "devshell.lock").read_text())["tools"]
    return {name: entry["version"] for name, entry in tools.items()}


def _tools(root: Path) -> str:
    """The [tools] table's entries, without the comments init writes there."""
    table = (root / "devshell.toml").read_text().split("[tools]\n", 1)[1]
    return "".join(line for line in table.splitlines(keepends=True) if not line.startswith("#"))


def _notes(stderr: str, name: str) -> list[str]:
    """The import's notes on `name` (locking may add notes of its own)."""
    return [line for line in stderr.splitlines() if line.startswith(f"devshell: note: {name}")]


def _written(root: Path, name: str) -> list[str]:
    """What the directory holds besides the imported file."""
    return sorted(p.name for p in root.iterdir() if p.name != name)


# --- each format, as a user's project has it ------------------------------------------


def test_an_asdf_tool_versions_is_imported_locked_and_runs(proj: Path, env: dict[str, str]) -> None:
    (proj / ".tool-versions").write_text(
        "# the team's versions\n"
        "nodejs 20.11.1\n"
        "golang 1.22.7 1.21.0   # 1.21 as a fallback\n"
        "ruby 3.3.0\n"
        "python 3.12.1\n"
        "ruff latest\n"
        "terraform ref:v1.9.0\n")
    proc = devshell("init", "--from", ".tool-versions", cwd=proj, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _tools(proj) == ('node = "20.11.1"\ngo = "1.22.7"\npython = "3.12.1"\nruff = "latest"\n')
    assert _locked(proj) == {"node": "20.11.1", "go": "1.22.7", "python": "3.12.1", "ruff": "0.6.9"}
    assert 'devshell: importing .tool-versions:2: nodejs 20.11.1 as node = "20.11.1"' in proc.stderr
    assert _notes(proc.stderr, ".tool-versions") == [
        "devshell: note: .tool-versions:3: golang 1.22.7: also lists 1.21.0; devshell pins one version "
        "a tool, so only 1.22.7 is imported",
        "devshell: note: .tool-versions:4: ruby 3.3.0 has no devshell equivalent; not imported",
        "devshell: note: .tool-versions:7: terraform ref:v1.9.0: 'ref:v1.9.0' is not a version devshell "
        "can pin; not imported",
    ]
    ran = devshell("run", "--locked", "--", "node", "-v", cwd=proj, env={**env, "CI": "true"}, check=True)
    assert ran.stdout == "fake node 20.11.1 x86_64-linux -v\n"
    assert devshell("run", "--", "python", "-V", cwd=proj, env=env, check=True).stdout == "fake CPython 3.12.1  -V\n"


def test_a_mise_toml_maps_its_backends_and_takes_the_first_of_a_list(proj: Path, env: dict[str, str]) -> None:
    (proj / "mise.toml").write_text(
        '[env]\nNODE_ENV = "development"\n\n'
        "[tools]\n"
        'node = ["20", "18"]\n'
        'python = { version = "3.12", virtualenv = ".venv" }\n'
        '"pipx:faketool" = "1.2"\n'
        '"cargo:cargo-nextest" = "0.9"\n'
        'go = "prefix:1.22"\n')
    proc = devshell("init", "--from", "mise.toml", cwd=proj, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _tools(proj) == 'node = "20"\npython = "3.12"\n"pypi:faketool" = "1.2"\n'
    assert _locked(proj) == {"node": "20.18.0", "python": "3.12.7", "faketool": "1.2.3"}
    assert _notes(proc.stderr, "mise.toml") == [
        "devshell: note: mise.toml: tools: node 20: also lists 18; devshell pins one version a tool, "
        "so only 20 is imported",
        "devshell: note: mise.toml: tools: python 3.12: its settings virtualenv are not imported",
        "devshell: note: mise.toml: tools: cargo:cargo-nextest 0.9: devshell has no source for "
        "cargo: names; not imported",
        "devshell: note: mise.toml: tools: go prefix:1.22: 'prefix:1.22' is not a version devshell can "
        "pin; not imported",
    ]
    assert devshell("run", "--", "faketool", cwd=proj, env=env, check=True).stdout == "faketool 1.2.3\n"


def test_a_devbox_json_maps_nixpkgs_names_and_the_versions_they_carry(proj: Path, env: dict[str, str]) -> None:
    (proj / "devbox.json").write_text(json.dumps({
        "$schema": "https://raw.githubusercontent.com/jetify-com/devbox/main/.schema/devbox.schema.json",
        "packages": ["nodejs_18@latest", "python311@3.11.9", "go_1_23", "ruff@0.5", "postgresql@16",
                     "github:numtide/flake-utils#hello"],
        "shell": {"init_hook": ["echo hi"]},
    }, indent=2))
    proc = devshell("init", "--from", "devbox.json", cwd=proj, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _tools(proj) == 'node = "18"\npython = "3.11.9"\ngo = "1.23"\nruff = "0.5"\n'
    assert _locked(proj) == {"node": "18.20.4", "python": "3.11.9", "go": "1.23.1", "ruff": "0.5.7"}
    assert _notes(proc.stderr, "devbox.json") == [
        "devshell: note: devbox.json: packages: postgresql 16 has no devshell equivalent; not imported",
        "devshell: note: devbox.json: packages: github:numtide/flake-utils#hello: devshell has no "
        "source for github: names; not imported",
    ]


def test_a_devbox_json_with_a_packages_table(proj: Path, env: dict[str, str]) -> None:
    (proj / "devbox.json").write_text('{"packages": {"nodejs": "20.11.1", "python3": {"version": "3.12"}, '
                                      '"glibcLocales": {"version": "latest", "platforms": ["x86_64-linux"]}}}\n')
    proc = devshell("init", "--from", "devbox.json", cwd=proj, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _locked(proj) == {"node": "20.11.1", "python": "3.12.7"}
    assert _notes(proc.stderr, "devbox.json") == [
        "devshell: note: devbox.json: packages: glibcLocales latest has no devshell equivalent; not imported"]


@pytest.mark.parametrize(("name", "text", "pinned", "version"), [
    (".nvmrc", "lts/iron\n", "20", "20.18.0"),
    (".nvmrc", "v20.11.1\n", "20.11.1", "20.11.1"),
    (".node-version", "18\n", "18", "18.20.4"),
])
def test_a_node_version_file(proj: Path, env: dict[str, str], name: str, text: str, pinned: str,
                             version: str) -> None:
    (proj / name).write_text(text)
    proc = devshell("init", "--from", name, cwd=proj, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _tools(proj) == f'node = "{pinned}"\n' and _locked(proj) == {"node": version}
    assert _notes(proc.stderr, name) == []


def test_lts_star_is_pinned_to_the_newest_line_devshell_knows_and_says_so(
        proj: Path, env: dict[str, str], server: LoopbackServer) -> None:
    newest = aliases.LTS_LINES[aliases.NEWEST_LTS]
    dist = NodeDist(server, prefix="/lts/")
    dist.release(f"{newest}.1.0")
    configure(dist)
    (proj / ".nvmrc").write_text("lts/*\n")
    proc = devshell("init", "--from", ".nvmrc", cwd=proj, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _locked(proj) == {"node": f"{newest}.1.0"}
    assert _notes(proc.stderr, ".nvmrc") == [
        f"devshell: note: .nvmrc:1: node lts/*: pinned to node {newest} (lts/{aliases.NEWEST_LTS}, the "
        "newest LTS line devshell knows); change it in devshell.toml for a newer line"]


def test_a_python_version_takes_its_first_line(proj: Path, env: dict[str, str]) -> None:
    (proj / ".python-version").write_text("3.12.1\n3.11.9\n")
    proc = devshell("init", "--from", ".python-version", "--direnv", cwd=proj, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _locked(proj) == {"python": "3.12.1"}
    assert _notes(proc.stderr, ".python-version") == [
        "devshell: note: .python-version:1: python 3.12.1: also lists 3.11.9; devshell pins one version "
        "a tool, so only 3.12.1 is imported"]
    assert (proj / ".envrc").read_text() == "use devshell\n"


def test_tool_on_the_command_line_wins_over_the_file(proj: Path, env: dict[str, str], tmp_path: Path) -> None:
    elsewhere = tmp_path / "old" / ".tool-versions"
    elsewhere.parent.mkdir()
    elsewhere.write_text("nodejs 20.11.1\nruff 0.5.7\n")
    proc = devshell("init", "--from", str(elsewhere), "--tool", "ruff@0.6", cwd=proj, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _tools(proj) == 'node = "20.11.1"\nruff = "0.6"\n'
    assert _locked(proj) == {"node": "20.11.1", "ruff": "0.6.9"}
    assert f"devshell: importing {elsewhere}:1: nodejs 20.11.1 as node = \"20.11.1\"\n" in proc.stderr
    assert f'devshell: importing {elsewhere}:2: ruff 0.5.7 as ruff = "0.5.7"; --tool ruff replaces it\n' \
        in proc.stderr


def test_a_template_gives_the_shell_and_the_file_the_tools(proj: Path, env: dict[str, str], tmp_path: Path) -> None:
    template = tmp_path / "templates" / "team"
    template.mkdir(parents=True)
    (template / "devshell.toml").write_text(
        '[shell]\nname = "team"\nplatforms = ["x86_64-linux"]\n\n[env]\nAPP_ENV = "dev"\n\n'
        '[tools]\n"pypi:faketool" = "1.2"\n')
    (proj / ".python-version").write_text("3.12\n")
    proc = devshell("init", "--template", "team", "--from", ".python-version", cwd=proj,
                    env={**env, "DEVSHELL_TEMPLATES": str(template.parent)})
    assert proc.returncode == 0, proc.stderr
    text = (proj / "devshell.toml").read_text()
    assert 'name = "webapp"' in text and 'APP_ENV = "dev"' in text
    assert _tools(proj) == '"pypi:faketool" = "1.2"\npython = "3.12"\n'
    assert _locked(proj) == {"faketool": "1.2.3", "python": "3.12.7"}


# --- what is refused, with nothing written ------------------------------------------------


@pytest.mark.parametrize(("name", "text", "says"), [
    (".tool-versions", "nodejs 20.11.1\npython\n", ".tool-versions:2: 'python' has no version"),
    (".tool-versions", "nodejs 20.11.1\x1b[2J\n", ".tool-versions:1: the version '20.11.1\\x1b[2J' holds"),
    ("mise.toml", "[tools]\nnode = 20\npython = \n", "mise.toml: invalid TOML: Invalid value (at line 3, column 10)"),
    ("mise.toml", "[tools]\npython = 3.10\n", "mise.toml: tools.python: 3.1 is not a version"),
    ("mise.toml", 'tools = ["node"]\n', "mise.toml: tools: must be a table"),
    ("devbox.json", '{\n  "packages": ["nodejs@20",]\n}\n', "devbox.json:2: invalid JSON"),
    ("devbox.json", '{"packages": [20]}', "devbox.json: packages[0]: 20 is not NAME@VERSION"),
    (".nvmrc", "\n# nothing\n", ".nvmrc: names no node version"),
    (".python-version", b"\xff\xfe3.12\n", ".python-version: not UTF-8 text"),
    (".tool-versions", "ruby 3.3.0\nrust 1.80.0\n", ".tool-versions: no pin in it has a devshell equivalent"),
    (".tool-versions", "# nothing pinned yet\n", ".tool-versions: it pins no tools; nothing written"),
])
def test_a_malformed_file_is_one_error_naming_it(proj: Path, env: dict[str, str], name: str,
                                                  text: str | bytes, says: str) -> None:
    path = proj / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    proc = devshell("init", "--from", name, cwd=proj, env=env)
    assert proc.returncode == 3, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith(f"devshell: error: {says}"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert _written(proj, name) == []


def test_a_missing_file_is_named(proj: Path, env: dict[str, str]) -> None:
    proc = devshell("init", "--from", ".tool-versions", cwd=proj, env=env)
    assert proc.returncode == 3
    assert proc.stderr.startswith("devshell: error: .tool-versions: cannot read it: No such file")
    assert list(proj.iterdir()) == []


def test_a_file_devshell_cannot_read_is_a_usage_error(proj: Path, env: dict[str, str]) -> None:
    (proj / "Brewfile").write_text('brew "node"\n')
    proc = devshell("init", "--from", "Brewfile", cwd=proj, env=env)
    assert proc.returncode == 2
    assert "Brewfile: devshell does not know how to import this file" in proc.stderr
    assert ".tool-versions, mise.toml" in proc.stderr and _written(proj, "Brewfile") == []


def test_a_pin_that_does_not_lock_writes_nothing(proj: Path, env: dict[str, str]) -> None:
    (proj / ".tool-versions").write_text("nodejs 20.11.1\nruff 9.9\n")
    proc = devshell("init", "--from", ".tool-versions", cwd=proj, env=env)
    assert proc.returncode == 3, proc.stderr
    assert "newest it has is 0.6.9" in proc.stderr
    assert _written(proj, ".tool-versions") == []
