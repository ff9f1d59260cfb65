"""`devshell outdated`: each tool's locked version beside the newest its
constraint admits and the newest the upstream has, asked of loopback
upstreams; the lock and the spec are never written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.debian_archive import ArchiveServer, DebPackage, FakeArchive
from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer
from tests.pypi_index import FakeIndex, wheel
from tests.url_vendor_mirrors import Hashicorp, Kubernetes

LINUX = "manylinux_2_17_x86_64.manylinux2014_x86_64"


def _release(index: FakeIndex, version: str) -> None:
    body = f'#!/bin/sh\necho "faketool {version} $*"\n'
    index.add("faketool", *wheel("faketool", version, LINUX, {"faketool": body}))


@pytest.fixture
def index(server: LoopbackServer) -> FakeIndex:
    idx = FakeIndex(server)
    for version in ("1.1.0", "1.2.0", "1.2.3"):
        _release(idx, version)
    return idx


@pytest.fixture
def env(index: FakeIndex, server: LoopbackServer) -> dict[str, str]:
    return {"PIP_INDEX_URL": index.url(), "npm_config_registry": f"{server.url}/npm/",
            "DEVSHELL_HTTP_RETRIES": "0"}


def _locked_project(tmp_path: Path, server: LoopbackServer, env: dict[str, str]) -> Path:
    """faketool locked at 1.2.3 by "1.2", and a url tool with no version index."""
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script("echo hello")})
    root = tmp_path / "proj"
    write_spec(root, '"pypi:faketool" = "1.2"\n' + url_tool("hello", "1.0", url, {"x86_64-linux": sha}))
    devshell("lock", cwd=root, env=env, check=True)
    return root


def test_outdated_shows_locked_wanted_and_latest_and_writes_nothing(
        tmp_path: Path, server: LoopbackServer, index: FakeIndex, env: dict[str, str]) -> None:
    root = _locked_project(tmp_path, server, env)
    before = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
    _release(index, "1.2.4")  # inside the constraint
    _release(index, "2.0.0")  # beyond it
    _release(index, "2.1.0rc1")  # a pre-release is never "latest"
    proc = devshell("outdated", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["tool", "constraint", "locked", "wanted", "latest", "source"]
    faketool = next(line for line in lines if line.startswith("faketool "))
    assert faketool.split()[:6] == ["faketool", "1.2", "1.2.3", "1.2.4", "2.0.0", "pypi"]
    assert "`devshell lock --update faketool`" in faketool
    hello = next(line for line in lines if line.startswith("hello "))
    assert hello.split()[:6] == ["hello", "1.0", "1.0", "-", "-", "url"]
    assert "cannot list versions" in hello
    assert {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()} == before


def test_outdated_json_has_one_row_per_tool_in_the_spec_order(
        tmp_path: Path, server: LoopbackServer, index: FakeIndex, env: dict[str, str]) -> None:
    root = _locked_project(tmp_path, server, env)
    _release(index, "2.0.0")
    proc = devshell("outdated", "--format", "json", cwd=root, env=env, check=True)
    rows = json.loads(proc.stdout)["tools"]
    assert [r["name"] for r in rows] == ["faketool", "hello"]
    assert rows[0] == {"name": "faketool", "source": "pypi", "constraint": "1.2", "locked": "1.2.3",
                       "wanted": "1.2.3", "latest": "2.0.0", "note": None}
    assert rows[1]["locked"] == "1.0" and rows[1]["wanted"] is None and rows[1]["latest"] is None
    assert "cannot list versions" in rows[1]["note"]


def test_an_upstream_out_of_reach_is_a_note_in_its_row_and_the_command_succeeds(
        tmp_path: Path, server: LoopbackServer, env: dict[str, str]) -> None:
    root = _locked_project(tmp_path, server, env)
    server.stop()
    proc = devshell("outdated", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    faketool = next(line for line in proc.stdout.splitlines() if line.startswith("faketool "))
    assert faketool.split()[:5] == ["faketool", "1.2", "1.2.3", "-", "-"]
    assert "127.0.0.1" in faketool and "Traceback" not in proc.stderr


def test_a_debian_tool_is_compared_in_dpkg_order_even_before_it_is_locked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    srv = ArchiveServer().start()
    try:
        archive = FakeArchive(srv)
        # dpkg's order, not text order: 2.10-10 is newer than 2.10-9, and the
        # epoch makes 1:1.0-1 the newest of all.
        for version in ("2.10-9", "2.10-10", "2.9-1", "1:1.0-1"):
            archive.add(DebPackage("hello", version, files={"usr/bin/hello": "#!/bin/sh\necho hi\n"}))
        archive.publish()
        root = tmp_path / "proj"
        write_spec(root, '"deb:hello" = "2.10"\n', extra='[sources.deb]\nsuite = "testing-fake"\n')
        env = {"DEVSHELL_DEB_ARCHIVE": archive.url, "PATH": "/nonexistent"}
        proc = devshell("outdated", "--format", "json", cwd=root, env=env, check=True)
    finally:
        srv.stop()
    assert json.loads(proc.stdout)["tools"] == [{
        "name": "hello", "source": "deb", "constraint": "2.10", "locked": None,
        "wanted": "2.10-10", "latest": "1:1.0-1", "note": None}]
    assert not (root / "devshell.lock").exists()


def test_outdated_outside_a_project_says_so(tmp_path: Path) -> None:
    proc = devshell("outdated", cwd=tmp_path)
    assert proc.returncode == 3
    assert proc.stderr.startswith("devshell: error: no devshell.toml") and "hint:" in proc.stderr


def _mirrored(*sites: Hashicorp | Kubernetes) -> None:
    table: dict[str, str] = {}
    for site in sites:
        table |= site.mirrors()
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "devshell" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[mirrors]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in table.items()))


def test_catalogue_url_tools_are_compared_by_their_vendors_index(tmp_path: Path, server: LoopbackServer) -> None:
    terraform, kubectl = Hashicorp(server), Kubernetes(server)
    for version in ("1.9.0", "1.9.3", "1.10.2"):
        terraform.release(version)
    kubectl.release("1.30.6", stable=("stable-1.30.txt",))
    kubectl.release("1.31.2", stable=("stable.txt",))
    _mirrored(terraform, kubectl)
    root = tmp_path / "proj"
    write_spec(root, 'terraform = "1.9"\nkubectl = "1.30"\n')
    rows = json.loads(devshell("outdated", "--format", "json", cwd=root, check=True).stdout)["tools"]
    assert [(r["name"], r["wanted"], r["latest"]) for r in rows] == [
        ("terraform", "1.9.3", "1.10.2"), ("kubectl", "1.30.6", "1.31.2")]
    assert rows[1]["note"] == "the vendor names only its newest release"
