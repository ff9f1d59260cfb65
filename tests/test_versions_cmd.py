"""`devshell versions TOOL`: what the upstreams offer, newest last, for a
catalogue name or a package named directly, inside a project or outside
one; asked of loopback upstreams."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.debian_archive import ArchiveServer, DebPackage, FakeArchive
from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer
from tests.npm_registry import FakeRegistry
from tests.pypi_index import FakeIndex, wheel
from tests.url_vendor_mirrors import Hashicorp, Kubernetes

LINUX = "manylinux_2_17_x86_64.manylinux2014_x86_64"


@pytest.fixture
def index(server: LoopbackServer) -> FakeIndex:
    idx = FakeIndex(server)
    # Published out of order: the listing is by version, not by upload or text.
    for version in ("1.10.0", "1.2.0", "1.9.1", "2.0.0rc1"):
        idx.add("faketool", *wheel("faketool", version, LINUX, {"faketool": "#!/bin/sh\n"}))
    return idx


def test_a_python_package_named_directly_outside_any_project(tmp_path: Path, index: FakeIndex) -> None:
    env = {"PIP_INDEX_URL": index.url()}
    proc = devshell("versions", "pypi:faketool", cwd=tmp_path, env=env, check=True)
    assert proc.stdout.splitlines() == ["1.2.0", "1.9.1", "1.10.0", "2.0.0rc1"]
    doc = json.loads(devshell("versions", "pypi:faketool", "--format", "json", cwd=tmp_path, env=env,
                              check=True).stdout)
    assert doc == {"tool": "faketool", "source": "pypi", "package": "faketool",
                   "versions": ["1.2.0", "1.9.1", "1.10.0", "2.0.0rc1"], "newest-only": False}


def test_an_npm_package_lists_its_registry_versions(tmp_path: Path, registry: FakeRegistry) -> None:
    for version in ("3.0.0", "10.1.0", "9.0.0"):
        registry.publish("fakejs", version)
    proc = devshell("versions", "npm:fakejs", cwd=tmp_path, check=True)
    assert proc.stdout.splitlines() == ["3.0.0", "9.0.0", "10.1.0"]


def test_inside_a_project_a_spec_tool_is_asked_about_as_the_spec_writes_it(
        tmp_path: Path, index: FakeIndex) -> None:
    root = tmp_path / "proj"
    write_spec(root, 'mytool = { version = "1", source = "pypi", package = "faketool" }\n')
    proc = devshell("versions", "mytool", cwd=root, env={"PIP_INDEX_URL": index.url()}, check=True)
    assert proc.stdout.splitlines()[-1] == "2.0.0rc1"
    assert not (root / "devshell.lock").exists()


def test_a_debian_package_in_dpkg_order_from_the_projects_suite(tmp_path: Path) -> None:
    srv = ArchiveServer().start()
    try:
        archive = FakeArchive(srv)
        for version in ("2.10-10", "2.10-9", "1:0.9-1", "2.9-1"):
            archive.add(DebPackage("hello", version))
        archive.publish()
        root = tmp_path / "proj"
        write_spec(root, "", extra='[sources.deb]\nsuite = "testing-fake"\n')
        proc = devshell("versions", "deb:hello", cwd=root, check=True,
                        env={"DEVSHELL_DEB_ARCHIVE": archive.url, "PATH": "/nonexistent"})
    finally:
        srv.stop()
    assert proc.stdout.splitlines() == ["2.9-1", "2.10-9", "2.10-10", "1:0.9-1"]


def test_a_url_tool_without_a_version_index_cannot_be_listed(tmp_path: Path, server: LoopbackServer) -> None:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script("echo hello")})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}))
    proc = devshell("versions", "hello", cwd=root)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("devshell: error: hello: the url source cannot list versions")
    assert "hint:" in proc.stderr


@pytest.mark.parametrize(("arg", "code", "said"), [
    ("ruff@0.6", 2, "takes a tool, not a version"),
    ("no-such-tool", 3, "is not in the catalogue"),
])
def test_bad_tool_arguments_are_one_clear_error(tmp_path: Path, arg: str, code: int, said: str) -> None:
    proc = devshell("versions", arg, cwd=tmp_path)
    assert proc.returncode == code
    assert proc.stderr.startswith("devshell: error: ") and said in proc.stderr
    assert "Traceback" not in proc.stderr


def _mirrored(*sites: Hashicorp | Kubernetes) -> None:
    """devshell's config sends each vendor's site to its loopback copy."""
    table: dict[str, str] = {}
    for site in sites:
        table |= site.mirrors()
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "devshell" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[mirrors]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in table.items()))


def test_a_catalogue_url_tool_lists_its_vendors_index_through_the_mirrors(
        tmp_path: Path, server: LoopbackServer) -> None:
    site = Hashicorp(server)
    for version in ("1.10.2", "1.8.5", "1.9.0"):
        site.release(version)
    _mirrored(site)
    proc = devshell("versions", "terraform", cwd=tmp_path, check=True)
    assert proc.stdout.splitlines() == ["1.8.5", "1.9.0", "1.10.2"]


def test_a_vendor_that_names_only_its_newest_release_says_so(tmp_path: Path, server: LoopbackServer) -> None:
    site = Kubernetes(server)
    site.release("1.31.2", stable=("stable.txt",))
    _mirrored(site)
    proc = devshell("versions", "kubectl", "--format", "json", cwd=tmp_path, check=True)
    doc = json.loads(proc.stdout)
    assert (doc["versions"], doc["newest-only"]) == (["1.31.2"], True)
    text = devshell("versions", "kubectl", cwd=tmp_path, check=True)
    assert text.stdout == "1.31.2\n" and "names only its newest release" in text.stderr
