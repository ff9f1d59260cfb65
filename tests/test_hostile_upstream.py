"""Upstream documents are input too: an npm registry, a Debian archive or a
vendor's checksum file served hostile must end in a clear error (exit 5,
naming the upstream and the field), never in a path outside $DEVSHELL_HOME,
an internal error, a search that never ends, or memory and disk without
bound. Every upstream here is a loopback server the test builds."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import devshell, tarball, write_spec
from tests.loopback import LoopbackServer


def _home() -> Path:
    return Path(os.environ["DEVSHELL_HOME"])


def _refused(proc: Any, *fragments: str) -> None:
    """Exit 5 with every fragment in the message, and no internal error."""
    assert proc.returncode == 5, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


# ---------------------------------------------------------------- npm


def _sri(body: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()


def _npm_version(server: LoopbackServer, version: str, **fields: Any) -> dict[str, Any]:
    """A version document for package `evil`, its tarball served (native for
    linux-x64, so it needs no node)."""
    body = tarball({"bin/tool": "#!/bin/sh\necho evil\n"}, top="package")
    url = server.add(f"/evil/-/evil-{hashlib.sha256(version.encode()).hexdigest()[:8]}.tgz", body)
    doc: dict[str, Any] = {"name": "evil", "version": version, "os": ["linux"], "cpu": ["x64"],
                           "bin": {"tool": "bin/tool"}, "dist": {"tarball": url, "integrity": _sri(body)}}
    doc.update(fields)
    return doc


def _npm_lock(tmp_path: Path, server: LoopbackServer, doc: object | bytes, version: str) -> Any:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    server.add("/evil", body, content_type="application/json")
    root = tmp_path / "proj"
    write_spec(root, f'tool = {{ version = "{version}", source = "npm", package = "evil" }}\n')
    return devshell("lock", cwd=root, env={"npm_config_registry": server.url})


@pytest.mark.parametrize("bad", ["1.0.0/../../../x", "1.0.0$(touch pwned)", "1.0.0\n", "1.0.0 ", ".."])
def test_an_npm_dist_tag_naming_a_path_or_a_command_is_refused(
        tmp_path: Path, server: LoopbackServer, bad: str) -> None:
    good = _npm_version(server, "1.0.0")
    doc = {"name": "evil", "dist-tags": {"latest": "1.0.0", "beta": bad},
           "versions": {"1.0.0": good, bad: _npm_version(server, bad)}}
    proc = _npm_lock(tmp_path, server, doc, "beta")
    _refused(proc, f"{server.url}/evil", "dist-tags.beta")
    root = tmp_path / "proj"
    assert not (root / "devshell.lock").exists()
    _refused(devshell("install", cwd=root, env={"npm_config_registry": server.url}), "dist-tags.beta")
    # The traversal would have landed next to $DEVSHELL_HOME; nothing is there.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("xdg-")) == [
        "devshell-home", "proj"]
    assert not (_home() / "store").exists() or os.listdir(_home() / "store") == []


@pytest.mark.parametrize("bad", ["1.0.0\n", "1.0.0/../x"])
def test_an_npm_version_that_is_not_a_version_never_installs(
        tmp_path: Path, server: LoopbackServer, bad: str) -> None:
    doc = {"name": "evil", "dist-tags": {}, "versions": {bad: _npm_version(server, bad)}}
    proc = _npm_lock(tmp_path, server, doc, "1")
    _refused(proc, f"{server.url}/evil", repr(bad))


def test_an_npm_dist_tag_pointing_at_a_bad_version_names_the_tag(
        tmp_path: Path, server: LoopbackServer) -> None:
    doc = {"name": "evil", "dist-tags": {"latest": "1.0.0", "beta": "1.0.0/x"},
           "versions": {"1.0.0": _npm_version(server, "1.0.0")}}
    _refused(_npm_lock(tmp_path, server, doc, "latest"), f"{server.url}/evil", "dist-tags.beta")


def _doc_with(server: LoopbackServer, **version_fields: Any) -> dict[str, Any]:
    return {"name": "evil", "dist-tags": {"latest": "1.0.0"},
            "versions": {"1.0.0": _npm_version(server, "1.0.0", **version_fields)}}


@pytest.mark.parametrize(("make", "field"), [
    (lambda s: {"name": "evil", "versions": ["1.0.0"]}, "versions"),
    (lambda s: {"name": "evil", "dist-tags": ["latest"], "versions": {"1.0.0": _npm_version(s, "1.0.0")}},
     "dist-tags"),
    (lambda s: {"name": "evil", "dist-tags": {}, "versions": {"1.0.0": "a string"}}, "versions.1.0.0"),
    (lambda s: _doc_with(s, dist="a string"), "versions.1.0.0.dist"),
    (lambda s: _doc_with(s, dist={"tarball": 42, "integrity": "sha512-AAAA"}), "versions.1.0.0.dist.tarball"),
    (lambda s: _doc_with(s, dist={"tarball": s.url + "/x.tgz", "integrity": "sha512-short"}),
     "versions.1.0.0.dist.integrity"),
    (lambda s: _doc_with(s, dist={"tarball": s.url + "/x.tgz", "integrity": ["sha512-x"]}),
     "versions.1.0.0.dist.integrity"),
    (lambda s: _doc_with(s, bin={"$(id)": "bin/tool"}), "versions.1.0.0.bin"),
    (lambda s: _doc_with(s, bin={"tool": "../../outside"}), "versions.1.0.0.bin"),
    (lambda s: _doc_with(s, bin=["tool"]), "versions.1.0.0.bin"),
    (lambda s: _doc_with(s, os="linux", cpu="x64"), "versions.1.0.0.os"),
], ids=["versions-list", "dist-tags-list", "version-string", "dist-string", "tarball-number",
        "integrity-short", "integrity-list", "bin-name-command", "bin-path-outside", "bin-list", "os-string"])
def test_a_malformed_npm_document_is_a_fetch_error_naming_the_field(
        tmp_path: Path, server: LoopbackServer, make: Any, field: str) -> None:
    proc = _npm_lock(tmp_path, server, make(server), "1.0.0")
    _refused(proc, f"{server.url}/evil", field)


def test_an_npm_document_that_is_not_json_is_a_fetch_error(tmp_path: Path, server: LoopbackServer) -> None:
    _refused(_npm_lock(tmp_path, server, b"{not json", "1.0.0"), f"{server.url}/evil", "not JSON")
