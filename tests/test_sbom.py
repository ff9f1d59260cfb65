"""`devshell sbom`: the lock as CycloneDX or SPDX, checked by each format's
own library, for a project whose lock holds every kind of closure: a Debian
package and its dependencies (from a signed loopback archive), a Python
environment (wheels from a loopback index, resolved by pip), an npm tree
(from a loopback registry, resolved by npm) and plain tarballs (the url tools
that stand in for the pinned python and node).

Every component's hash is checked against the bytes its upstream served, so
an SBOM cannot name a hash the lock did not pin."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devshell import integrity, sbom
from devshell.commands import sbom as sbom_command
from devshell.lock import Artifact, Lock, LockedTool, Part
from devshell.sbom import components, purls
from tests.debian_archive import ArchiveServer, DebPackage, FakeArchive, GpgKey
from tests.helpers import (
    devshell,
    script,
    serve_tool,
    sha256,
    tarball,
    url_tool,
    write_spec,
)
from tests.loopback import LoopbackServer
from tests.npm_registry import FakeRegistry
from tests.pypi_index import FakeIndex, pywheel

HOST_PYTHON = Path("/usr/bin/python3")
LIB = "usr/lib/x86_64-linux-gnu"



# --- a project whose lock holds every kind of closure ----------------------------------------


def _debian() -> list[DebPackage]:
    return [
        DebPackage("libc6", "2.36-9", files={f"{LIB}/libc.so.6": b"\x7fELF libc"}),
        DebPackage("libjq1", "1.6-2.1", depends="libc6 (>= 2.34), jq-data",
                   files={f"{LIB}/libjq.so.1": b"jq"}),
        # An epoch, and an architecture-independent package.
        DebPackage("jq-data", "1:1.0-1", arch="all", files={"usr/share/jq/README": "jq data"}),
        DebPackage("jq", "1.6-2.1", depends="libjq1 (= 1.6-2.1), libc6 (>= 2.34)",
                   files={"usr/bin/jq": "#!/bin/sh\necho jq-1.6\n"}),
    ]


def _module(name: str, version: str) -> dict[str, str | bytes]:
    return {"package.json": json.dumps({"name": name, "version": version, "main": "index.js"}),
            "index.js": f'module.exports = "{name} {version}";'}


def _publish(registry: FakeRegistry, name: str, version: str, files: dict[str, str | bytes],
             **fields: Any) -> None:
    registry.publish(name, version, files, **fields)
    if "/" in name:  # npm asks for `@scope%2fname`, lower case
        doc = json.dumps(registry.docs[name]).encode()
        registry.server.add("/" + name.replace("/", "%2f"), doc, content_type="application/json")


@dataclass
class World:
    root: Path
    served: dict[str, bytes]  # lock URL (or http URL) → the bytes its upstream served


def _python_tool(server: LoopbackServer) -> str:
    real = os.path.realpath(HOST_PYTHON)
    body = tarball({"bin/python3": f'#!/bin/bash\nexec -a "$0" {real} "$@"\n'}, top="python-3.11.2")
    server.add("/python-3.11.2-x86_64-linux.tar.gz", body)
    return url_tool("python", "3.11.2", f"{server.url}/python-{{version}}-{{platform}}.tar.gz",
                    {"x86_64-linux": sha256(body)}, bin='["bin/python3"]')


def _node_tool(server: LoopbackServer) -> str:
    node = os.path.realpath(shutil.which("node") or "")
    npm_cli = os.path.realpath(shutil.which("npm") or "")
    body = tarball({"bin/node": f'#!/bin/sh\nexec {node} "$@"\n',
                    "bin/npm-cli.js": f"require({json.dumps(npm_cli)});\n"}, top="node-20.0.0")
    server.add("/node-20.0.0.tar.gz", body)
    return url_tool("node", "20.0.0", f"{server.url}/node-{{version}}.tar.gz", {"x86_64-linux": sha256(body)},
                    bin='["bin/node", "npm=bin/npm-cli.js"]')


@pytest.fixture
def world(tmp_path: Path, server: LoopbackServer, registry: FakeRegistry,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    if shutil.which("node") is None or shutil.which("npm") is None or not HOST_PYTHON.exists() \
            or shutil.which("gpg") is None or shutil.which("gpgv") is None:
        pytest.skip("needs the host's node, npm and /usr/bin/python3 to stand in for pinned ones, "
                    "and gpg/gpgv to sign the Debian archive")
    # Python: a tool with a dependency, from a loopback index.
    index = FakeIndex(server)
    for name, wheel in (("mytool", pywheel("mytool", "1.0.0", requires=("Helper_Lib>=1",),
                                           scripts={"mytool": "mytool:main"},
                                           modules={"mytool/__init__.py": "def main(): pass\n"})),
                        ("helper-lib", pywheel("Helper_Lib", "1.2"))):
        index.add(name, *wheel)
    monkeypatch.setenv("PIP_INDEX_URL", index.url())
    # npm: a tool whose tree nests two versions of one package and holds a scoped one.
    _publish(registry, "helper", "1.0.0", _module("helper", "1.0.0"))
    _publish(registry, "helper", "2.0.0", _module("helper", "2.0.0"))
    _publish(registry, "wrapper", "1.0.0", _module("wrapper", "1.0.0"), dependencies={"helper": "^2.0.0"})
    _publish(registry, "@linter/rules", "1.0.0", _module("@linter/rules", "1.0.0"))
    _publish(registry, "linter", "1.0.0",
             {"package.json": json.dumps({"name": "linter", "version": "1.0.0"}), "cli.js": "#!/usr/bin/env node\n"},
             bin={"linter": "cli.js"},
             dependencies={"helper": "^1.0.0", "wrapper": "^1.0.0", "@linter/rules": "1.0.0"})
    # Debian: a signed archive.
    debs = ArchiveServer().start()
    key = GpgKey(tmp_path / "archive-keyring.gpg")
    try:
        archive = FakeArchive(debs)
        archive.add(*_debian())
        archive.publish(signer=key)
        monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", archive.url)
        monkeypatch.setenv("DEVSHELL_DEB_KEYRING", str(key.keyring))
        root = write_spec(
            tmp_path / "proj",
            '"deb:jq" = "1.6"\n"pypi:mytool" = "1"\n"npm:linter" = "1"\n'
            + _python_tool(server) + _node_tool(server),
            extra='name = "webapp"\n[sources.deb]\nsuite = "testing-fake"\nupdates = false\nsecurity = false\n',
        ).parent
        devshell("lock", cwd=root, check=True, timeout=300)
        served = {f"deb:{path}": body for path, body in archive.debs.items()}
        for path, route in server.routes.items():
            if path.startswith("/files/"):
                project = next(p for p, files in index.files.items()
                               if any(f["url"] == path for f in files))
                served[f"pypi:{project}/{path.removeprefix('/files/')}"] = route.body
            elif "/-/" in path:
                served[f"npm:{path.removeprefix('/')}"] = route.body
            served[server.url + path] = route.body
        yield World(root, served)
    finally:
        key.close()
        debs.stop()


def _sbom(world: World, *args: str, env: dict[str, str] | None = None) -> str:
    return devshell("sbom", *args, cwd=world.root, env=env, check=True).stdout


# --- CycloneDX ------------------------------------------------------------------------------


def test_cyclonedx_lists_every_package_of_every_closure_with_its_purl_and_hash(world: World) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = _sbom(world)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6" and "timestamp" not in bom["metadata"]
    assert bom["metadata"]["component"]["name"] == "webapp"
    by_purl = {c["purl"]: c for c in bom["components"]}
    node_url = next(u for u in world.served if u.endswith("/node-20.0.0.tar.gz"))
    python_url = next(u for u in world.served if u.endswith("/python-3.11.2-x86_64-linux.tar.gz"))
    assert set(by_purl) == {
        # The Debian closure: the epoch kept, `all` from the file name.
        "pkg:deb/debian/jq@1.6-2.1?arch=amd64",
        "pkg:deb/debian/libjq1@1.6-2.1?arch=amd64",
        "pkg:deb/debian/libc6@2.36-9?arch=amd64",
        "pkg:deb/debian/jq-data@1:1.0-1?arch=all",
        # The Python environment: names as the index normalises them, each wheel's file.
        "pkg:pypi/mytool@1.0.0?file_name=mytool-1.0.0-py3-none-any.whl",
        "pkg:pypi/helper-lib@1.2?file_name=Helper_Lib-1.2-py3-none-any.whl",
        # The npm tree: both helpers, the scope encoded as purl says.
        "pkg:npm/linter@1.0.0", "pkg:npm/wrapper@1.0.0",
        "pkg:npm/helper@1.0.0", "pkg:npm/helper@2.0.0",
        "pkg:npm/%40linter/rules@1.0.0",
        # The plain tarballs, where they were downloaded from.
        f"pkg:generic/node@20.0.0?download_url={node_url}",
        f"pkg:generic/python@3.11.2?download_url={python_url}",
    }
    for purl, c in by_purl.items():
        url = next(p["value"] for p in c["properties"] if p["name"] == "devshell:lock-url")
        assert c["hashes"], purl
        for h in c["hashes"]:
            algorithm = {"SHA-256": "sha256", "SHA-512": "sha512"}[h["alg"]]
            assert h["content"] == hashlib.new(algorithm, world.served[url]).hexdigest(), purl
    assert {h["alg"] for c in bom["components"] for h in c["hashes"]} == {"SHA-256", "SHA-512"}
    # The shell needs its tools; each tool its closure and what it runs on.
    graph = {d["ref"]: set(d.get("dependsOn", [])) for d in bom["dependencies"]}
    ref = {c["name"] + "@" + c["version"]: c["bom-ref"] for c in bom["components"]}
    tools = {c["bom-ref"] for c in bom["components"] if c["type"] == "application"}
    assert graph[bom["metadata"]["component"]["bom-ref"]] == tools
    assert tools == {ref[k] for k in ("jq@1.6-2.1", "mytool@1.0.0", "linter@1.0.0", "node@20.0.0",
                                      "python@3.11.2")}
    assert graph[ref["jq@1.6-2.1"]] == {ref["libjq1@1.6-2.1"], ref["libc6@2.36-9"], ref["jq-data@1:1.0-1"]}
    assert graph[ref["mytool@1.0.0"]] == {ref["helper-lib@1.2"], ref["python@3.11.2"]}
    assert graph[ref["linter@1.0.0"]] == {ref[k] for k in ("wrapper@1.0.0", "helper@1.0.0", "helper@2.0.0",
                                                           "@linter/rules@1.0.0", "node@20.0.0")}
    assert graph[ref["libc6@2.36-9"]] == set()


def test_the_same_lock_gives_the_same_bytes_anywhere(world: World, tmp_path: Path) -> None:
    for fmt in sbom.FORMATS:
        first = _sbom(world, "--format", fmt)
        elsewhere = _sbom(world, "--format", fmt, env={"DEVSHELL_HOME": str(tmp_path / "other-home")})
        written = tmp_path / "out" / f"sbom.{fmt}.json"
        devshell("sbom", "--format", fmt, "--output", str(written), cwd=world.root, check=True)
        assert first == elsewhere == written.read_text()
        assert first.endswith("}\n")
    bom = json.loads(_sbom(world))
    lock_hash = hashlib.sha256((world.root / "devshell.lock").read_bytes()).hexdigest()
    assert {"name": "devshell:lock-sha256", "value": lock_hash} in bom["metadata"]["properties"]
    # A time only when asked for one, as reproducible builds ask.
    dated = json.loads(_sbom(world, env={"SOURCE_DATE_EPOCH": "1700000000"}))
    assert dated["metadata"]["timestamp"] == "2023-11-14T22:13:20+00:00"
    assert dated["serialNumber"] == bom["serialNumber"]
    # Another lock is another document.
    (world.root / "devshell.toml").write_text((world.root / "devshell.toml").read_text().replace(
        '"npm:linter" = "1"\n', ""))
    devshell("lock", cwd=world.root, check=True, timeout=300)
    smaller = json.loads(_sbom(world))
    assert smaller["serialNumber"] != bom["serialNumber"]
    assert not any(c["purl"].startswith("pkg:npm/") for c in smaller["components"])


# --- SPDX -----------------------------------------------------------------------------------


def test_spdx_describes_the_shell_its_tools_and_their_closures(world: World, tmp_path: Path) -> None:
    from spdx_tools.spdx.model.package import ExternalPackageRefCategory
    from spdx_tools.spdx.model.relationship import RelationshipType
    from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation import document_validator

    out = tmp_path / "sbom.spdx.json"
    devshell("sbom", "--format", "spdx", "-o", str(out), cwd=world.root, check=True)
    document = parse_file(str(out))
    assert document_validator.validate_full_spdx_document(document) == []
    assert document.creation_info.spdx_version == "SPDX-2.3"
    assert document.creation_info.document_namespace.startswith("urn:uuid:")
    packages = {p.spdx_id: p for p in document.packages}
    shell = packages.pop("SPDXRef-shell")
    assert shell.name == "webapp"
    node_url = next(u for u in world.served if u.endswith("/node-20.0.0.tar.gz"))
    purl_of = {}
    for spdx_id, p in packages.items():
        [ref] = [r for r in p.external_references if r.reference_type == "purl"]
        assert ref.category == ExternalPackageRefCategory.PACKAGE_MANAGER
        purl_of[spdx_id] = ref.locator
        assert p.checksums, p.name
        served = world.served[str(p.source_info).removeprefix("devshell.lock names it ")]
        for checksum in p.checksums:
            assert checksum.value == hashlib.new(checksum.algorithm.name.lower(), served).hexdigest()
    assert len(purl_of) == 13 and "pkg:npm/%40linter/rules@1.0.0" in purl_of.values()
    # A loopback URL is no download location to SPDX (it wants a host
    # name): the lock's URL is said in sourceInfo instead.
    node = next(p for p in packages.values() if p.name == "node")
    assert isinstance(node.download_location, SpdxNoAssertion)
    assert node.source_info == f"devshell.lock names it {node_url}"
    relations = {(r.spdx_element_id, r.relationship_type, str(r.related_spdx_element_id))
                 for r in document.relationships}
    assert ("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, "SPDXRef-shell") in relations
    needed = {purl_of[b] for a, kind, b in relations if a == "SPDXRef-shell" and kind == RelationshipType.DEPENDS_ON}
    assert {p.split("@")[0] for p in needed} == {
        "pkg:deb/debian/jq", "pkg:pypi/mytool", "pkg:npm/linter", "pkg:generic/node", "pkg:generic/python"}
    jq = next(i for i, purl in purl_of.items() if purl.startswith("pkg:deb/debian/jq@"))
    assert {purl_of[b].split("@")[0] for a, _, b in relations if a == jq} == {
        "pkg:deb/debian/libjq1", "pkg:deb/debian/libc6", "pkg:deb/debian/jq-data"}


# --- other platforms, and what goes wrong ---------------------------------------------------


def _tarball_project(tmp_path: Path, server: LoopbackServer) -> Path:
    tools = ""
    for name in ("alpha", "beta"):
        shas = {}
        for plat in ("x86_64-linux", "aarch64-darwin"):
            url, shas[plat] = serve_tool(server, name, "1.0", {f"bin/{name}": script(f"echo {name}")}, platform=plat)
        tools += url_tool(name, "1.0", url, shas if name == "alpha" else {"x86_64-linux": shas["x86_64-linux"]},
                          **({"optional": "true"} if name == "beta" else {}))
    root = write_spec(tmp_path / "proj", tools, platforms='["x86_64-linux", "aarch64-darwin"]').parent
    devshell("lock", cwd=root, check=True)
    return root


def test_another_platform_is_described_and_what_it_lacks_is_said(tmp_path: Path, server: LoopbackServer) -> None:
    root = _tarball_project(tmp_path, server)
    proc = devshell("sbom", "--platform", "aarch64-darwin", cwd=root, check=True)
    bom = json.loads(proc.stdout)
    assert [c["purl"] for c in bom["components"]] == [
        f"pkg:generic/alpha@1.0?download_url={server.url}/alpha-1.0-aarch64-darwin.tar.gz"]
    assert {"name": "devshell:platform", "value": "aarch64-darwin"} in bom["metadata"]["properties"]
    assert "beta is left out: not on aarch64-darwin" in proc.stderr
    here = json.loads(devshell("sbom", cwd=root, check=True).stdout)  # the host's (DEVSHELL_PLATFORM)
    assert len(here["components"]) == 2 and here["serialNumber"] != bom["serialNumber"]


def test_a_platform_the_lock_lacks_is_a_usage_error(tmp_path: Path, server: LoopbackServer) -> None:
    root = _tarball_project(tmp_path, server)
    proc = devshell("sbom", "--platform", "aarch64-linux", "-o", "out.json", cwd=root)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == ("devshell: error: devshell.lock has nothing for aarch64-linux\n"
                           "  hint: it covers aarch64-darwin, x86_64-linux: pass one with --platform, "
                           "or add the platform to [shell] platforms and lock again\n")
    assert not (root / "out.json").exists()


def test_a_missing_lock_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    root = write_spec(tmp_path / "proj", "").parent
    proc = devshell("sbom", "--output", "sbom.json", cwd=root)
    assert proc.returncode == 4
    assert proc.stderr == (f"devshell: error: {root / 'devshell.lock'} is missing: the SBOM describes the lock\n"
                           "  hint: run `devshell lock` first\n")
    assert proc.stdout == "" and os.listdir(root) == ["devshell.toml"]


def test_a_damaged_lock_leaves_the_previous_sbom_as_it_was(tmp_path: Path, server: LoopbackServer) -> None:
    root = _tarball_project(tmp_path, server)
    out = root / "sbom.json"
    devshell("sbom", "-o", str(out), cwd=root, check=True)
    before = out.read_bytes()
    lock = root / "devshell.lock"
    lock.write_text(lock.read_text()[:200])
    proc = devshell("sbom", "-o", str(out), cwd=root)
    assert proc.returncode == 4
    assert "devshell.lock: not a valid devshell lock (not JSON" in proc.stderr and "Traceback" not in proc.stderr
    assert out.read_bytes() == before and sorted(os.listdir(root)) == ["devshell.lock", "devshell.toml", "sbom.json"]
    # So is a lock with a field that cannot be trusted.
    lock.write_text(json.dumps({"lock-version": 2, "spec-hash": "x", "tools": {"a": {"version": "../.."}}}))
    again = devshell("sbom", "-o", str(out), cwd=root)
    assert again.returncode == 4 and "tools.a" in again.stderr and out.read_bytes() == before


def test_an_output_that_cannot_be_written_is_one_clear_error(tmp_path: Path, server: LoopbackServer) -> None:
    root = _tarball_project(tmp_path, server)
    (root / "taken").mkdir()
    proc = devshell("sbom", "-o", "taken", cwd=root)
    assert proc.returncode == 1
    assert proc.stderr.startswith("devshell: error: cannot write the SBOM to taken: ")
    assert os.listdir(root / "taken") == [] and not [n for n in os.listdir(root) if n.endswith(".tmp")]


def test_a_source_date_epoch_that_is_not_a_time_is_a_usage_error(tmp_path: Path, server: LoopbackServer) -> None:
    root = _tarball_project(tmp_path, server)
    proc = devshell("sbom", cwd=root, env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert proc.returncode == 2 and "SOURCE_DATE_EPOCH='yesterday'" in proc.stderr and proc.stdout == ""
    for far in ("100000000000000000000", "253402300800"):  # more than any clock; past year 9999
        proc = devshell("sbom", cwd=root, env={"SOURCE_DATE_EPOCH": far})
        assert proc.returncode == 2 and "SOURCE_DATE_EPOCH" in proc.stderr and proc.stdout == "", proc.stderr
        assert "internal error" not in proc.stderr


def test_a_stale_lock_is_described_with_a_warning(tmp_path: Path, server: LoopbackServer) -> None:
    root = _tarball_project(tmp_path, server)
    spec = root / "devshell.toml"
    spec.write_text(spec.read_text().replace("[tools]\n", "[tools]\njq = { version = \"1\", source = \"deb\" }\n"))
    proc = devshell("sbom", cwd=root, check=True)
    assert "warning: devshell.lock is out of date with devshell.toml" in proc.stderr
    assert len(json.loads(proc.stdout)["components"]) == 2


# --- purls and the lock, without a project ---------------------------------------------------


def _part(name: str, version: str, url: str) -> Part:
    return Part(name, version, url, "sha256-" + "A" * 43 + "=", None)


@pytest.mark.parametrize(("name", "version", "url", "platform", "expected"), [
    ("@Types/node", "20.1.0", "npm:@types/node/-/node-20.1.0.tgz", "x86_64-linux", "pkg:npm/%40types/node@20.1.0"),
    ("left-pad", "1.3.0", "npm:left-pad/-/left-pad-1.3.0.tgz", "x86_64-linux", "pkg:npm/left-pad@1.3.0"),
    ("Ruff", "0.6.9", "pypi:ruff/ruff-0.6.9-py3-none-macosx_11_0_arm64.whl", "aarch64-darwin",
     "pkg:pypi/ruff@0.6.9?file_name=ruff-0.6.9-py3-none-macosx_11_0_arm64.whl"),
    ("zope.interface", "7.0", "pypi:zope-interface/zope_interface-7.0-cp311-cp311-manylinux_2_17_x86_64.whl",
     "x86_64-linux", "pkg:pypi/zope-interface@7.0?file_name=zope_interface-7.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
    ("perl-base", "5.36.0-7+deb12u1", "deb-security:pool/updates/main/p/perl/perl-base_5.36.0-7+deb12u1_arm64.deb",
     "aarch64-linux", "pkg:deb/debian/perl-base@5.36.0-7%2Bdeb12u1?arch=arm64"),
    ("tzdata", "2024a-0+deb12u1", "deb:pool/main/t/tzdata/tzdata_2024a-0+deb12u1_all.deb", "x86_64-linux",
     "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all"),
    ("go", "1.22.5", "golang:go1.22.5.linux-amd64.tar.gz", "x86_64-linux",
     "pkg:generic/go@1.22.5?download_url=golang:go1.22.5.linux-amd64.tar.gz"),
    ("mytool", "1.2.3", "https://downloads.invalid/mytool/v1.2.3/mytool linux.tar.gz?sig=a&b", "x86_64-linux",
     "pkg:generic/mytool@1.2.3?download_url=https://downloads.invalid/mytool/v1.2.3/mytool%20linux.tar.gz%3Fsig%3Da%26b"),
])
def test_each_kind_of_lock_url_gets_its_purl(name: str, version: str, url: str, platform: str,
                                              expected: str) -> None:
    assert purls.purl(name, version, url, platform).to_string() == expected


def test_one_file_in_two_closures_is_one_component_that_both_need() -> None:
    libc = _part("libc6", "2.36-9", "deb:pool/main/g/glibc/libc6_2.36-9_amd64.deb")

    def deb(name: str, closure: tuple[Part, ...]) -> LockedTool:
        art = Artifact(url=f"deb:pool/main/{name[0]}/{name}/{name}_1.0-1_amd64.deb",
                       integrity=integrity.from_hex("sha512", "07" * 64), size=None, format="deb", strip=0, bin=(), env=(),
                       output=f"{'0' * 32}-{name}-1.0-1", closure=closure)
        return LockedTool(name, "1", "deb", "1.0-1", "x", (("x86_64-linux", art),), package=name)

    inv = components.inventory(Lock("x", (deb("jq", (libc,)), deb("curl", (libc,)))), "s", "x86_64-linux", None)
    assert [c.purl for c in inv.components] == [
        "pkg:deb/debian/curl@1.0-1?arch=amd64", "pkg:deb/debian/jq@1.0-1?arch=amd64",
        "pkg:deb/debian/libc6@2.36-9?arch=amd64"]
    assert dict(inv.depends)["pkg:deb/debian/jq@1.0-1?arch=amd64"] == ("pkg:deb/debian/libc6@2.36-9?arch=amd64",)
    assert dict(inv.depends)["pkg:deb/debian/curl@1.0-1?arch=amd64"] == ("pkg:deb/debian/libc6@2.36-9?arch=amd64",)
    assert inv.component("pkg:deb/debian/curl@1.0-1?arch=amd64").hashes == (("sha512", "07" * 64),)


def test_a_vendor_url_is_where_both_formats_say_a_tarball_comes_from() -> None:
    url = "https://downloads.vendor.test/mytool/mytool-1.2.3-linux-x64.tar.gz"
    art = Artifact(url=url, integrity=integrity.from_hex("sha256", "ab" * 32), size=None, format="tar.gz",
                   strip=1, bin=("bin/mytool",), env=(), output=f"{'0' * 32}-mytool-1.2.3")
    tool = LockedTool("mytool", "1", "url", "1.2.3", "x", (("x86_64-linux", art),))
    inv = components.inventory(Lock("x", (tool,)), "s", "x86_64-linux", None)
    spdx = json.loads(sbom.render("spdx", inv))
    [package] = [p for p in spdx["packages"] if p["name"] == "mytool"]
    assert package["downloadLocation"] == url and "sourceInfo" not in package
    assert package["checksums"] == [{"algorithm": "SHA256", "checksumValue": "ab" * 32}]
    bom = json.loads(sbom.render("cyclonedx", inv))
    [component] = bom["components"]
    assert component["externalReferences"] == [{"type": "distribution", "url": url}]
    assert component["purl"] == f"pkg:generic/mytool@1.2.3?download_url={url}"


def test_the_command_line_imports_no_format_library() -> None:
    """`devshell --help` imports every command's module: sbom's must leave the
    format libraries (and devshell.sbom) until the command runs."""
    assert sbom_command.FORMATS == sbom.FORMATS
    check = textwrap.dedent("""
        import sys
        from devshell.cli import main
        try:
            main(["sbom", "--help"])
        except SystemExit:
            pass
        print(*sorted(m for m in sys.modules if m.startswith("devshell.sbom")
                      or m.split(".")[0] in ("cyclonedx", "spdx_tools", "packageurl", "beartype")),
              file=sys.stderr)
    """)
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("usage: devshell sbom") and proc.stderr.strip() == ""
