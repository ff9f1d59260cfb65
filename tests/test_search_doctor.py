"""`devshell search` over the catalogue's descriptions and the Debian
archive's Packages index, and `devshell doctor` naming the Debian archive,
its security archive and the `[mirrors]` with where each came from; both
with `--format json`. Upstreams are loopback fakes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.debian_archive import ArchiveServer, FakeArchive
from tests.helpers import devshell, write_spec

SUITE = '[sources.deb]\nsuite = "testing-fake"\n'


def _paragraph(name: str, version: str, description: str) -> str:
    return (f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n"
            f"Filename: pool/main/{name[0]}/{name}/{name}_{version}_amd64.deb\nSize: 1\n"
            f"SHA256: {'0' * 64}\nDescription: {description}\n")


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[FakeArchive]:
    srv = ArchiveServer().start()
    try:
        arch = FakeArchive(srv)
        arch.raw += [
            _paragraph("jq", "1.6-2.1", "lightweight and flexible command-line JSON processor\n"
                       " jq is like sed for JSON data."),
            _paragraph("jq", "1.6-10", "lightweight and flexible command-line JSON processor"),
            _paragraph("jo", "1.9-1", "command-line processor to output JSON from a shell"),
            _paragraph("gron", "0.7.1-1", "make JSON greppable\n Flattens documents, for the"
                       " processor-averse."),
            _paragraph("hello", "2.10-3", "example package based on GNU hello"),
        ]
        arch.publish()
        yield arch
    finally:
        srv.stop()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write_spec(root, "", extra=SUITE)
    return root


def _env(archive: FakeArchive) -> dict[str, str]:
    # Package indexes nowhere reachable: their failure is one line each.
    return {"DEVSHELL_DEB_ARCHIVE": archive.url, "PATH": "/nonexistent",
            "PIP_INDEX_URL": "http://127.0.0.1:1/simple", "npm_config_registry": "http://127.0.0.1:1/npm",
            "DEVSHELL_HTTP_RETRIES": "0"}


def test_search_matches_every_word_of_catalogue_descriptions_in_any_order(
        project: Path, archive: FakeArchive) -> None:
    proc = devshell("search", "runtime javascript", cwd=project, env=_env(archive), check=True)
    catalogue = proc.stdout.split("\n", 1)[1].split("Python package index")[0]
    names = [line.split()[0] for line in catalogue.splitlines()]
    assert {"node", "deno", "bun"} <= set(names)
    assert "esbuild" not in names  # "JavaScript" but no "runtime"


def test_search_lists_debian_packages_by_name_and_description_at_their_newest_version(
        project: Path, archive: FakeArchive) -> None:
    proc = devshell("search", "JSON processor", cwd=project, env=_env(archive), check=True)
    debian = proc.stdout.split(f"Debian archive ({archive.url}, suite testing-fake):\n", 1)[1]
    rows = [line.split(None, 2) for line in debian.splitlines()]
    # jq at dpkg's newest (1.6-10, not 1.6-2.1); gron by its long description;
    # hello mentions neither word.
    assert rows == [["gron", "0.7.1-1", "make JSON greppable"],
                    ["jo", "1.9-1", "command-line processor to output JSON from a shell"],
                    ["jq", "1.6-10", "lightweight and flexible command-line JSON processor"]]
    assert "Python package index: not asked: 'JSON processor' is not a package name" in proc.stdout


def test_search_puts_the_debian_package_named_exactly_first(project: Path, archive: FakeArchive) -> None:
    proc = devshell("search", "jq", cwd=project, env=_env(archive), check=True)
    debian = proc.stdout.split("suite testing-fake):\n", 1)[1].splitlines()
    assert debian[0].split()[:2] == ["jq", "1.6-10"]
    # The package indexes were asked, and their being out of reach is one line each.
    assert proc.stdout.count("127.0.0.1:1") >= 2


def test_search_json_has_the_catalogue_and_every_upstreams_answer(project: Path, archive: FakeArchive) -> None:
    proc = devshell("search", "json", "--format", "json", cwd=project, env=_env(archive), check=True)
    doc = json.loads(proc.stdout)
    assert doc["query"] == "json"
    by_source = {u["source"]: u for u in doc["upstreams"]}
    assert set(by_source) == {"pypi", "npm", "deb"}
    assert by_source["pypi"]["asked"] and "127.0.0.1" in by_source["pypi"]["error"]
    deb = by_source["deb"]
    assert (deb["url"], deb["suite"], deb["error"]) == (archive.url, "testing-fake", None)
    assert deb["found"][0] == {"name": "gron", "version": "0.7.1-1", "description": "make JSON greppable",
                               "add": "deb:gron"}
    assert [f["name"] for f in deb["found"]] == ["gron", "jo", "jq"]


def test_search_with_no_debian_archive_says_why_in_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "no-apt"
    proc = devshell("search", "json", cwd=tmp_path, check=True, env={
        "DEVSHELL_APT_SOURCES_LIST": str(empty / "sources.list"), "DEVSHELL_APT_SOURCES_DIR": str(empty),
        "PIP_INDEX_URL": "http://127.0.0.1:1/simple", "npm_config_registry": "http://127.0.0.1:1/npm",
        "DEVSHELL_HTTP_RETRIES": "0"})
    assert "Debian archive: not asked: cannot tell where the Debian archive is" in proc.stdout


def test_doctor_names_the_debian_archives_from_apt_and_the_mirrors(tmp_path: Path) -> None:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://127.0.0.1:9/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/test-keyring.gpg\n\n"
        "Types: deb\nURIs: http://127.0.0.1:9/debian-security\nSuites: bookworm-security\n"
        "Components: main\nSigned-By: /usr/share/keyrings/test-keyring.gpg\n")
    config = tmp_path / "xdg-config" / "devshell" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[mirrors]\n"https://vendor.example/" = "https://mirror.example/vendor/"\n')
    env = {"DEVSHELL_APT_SOURCES_LIST": str(apt / "sources.list"),
           "DEVSHELL_APT_SOURCES_DIR": str(apt / "sources.list.d"),
           "PIP_INDEX_URL": "http://127.0.0.1:1/simple", "npm_config_registry": "http://127.0.0.1:1/npm"}
    proc = devshell("doctor", cwd=tmp_path, env=env, check=True)
    where = apt / "sources.list.d" / "debian.sources"
    assert (f"  deb: http://127.0.0.1:9/debian/ (from {where}, signed by "
            "/usr/share/keyrings/test-keyring.gpg)\n") in proc.stdout
    assert f"  deb-security: http://127.0.0.1:9/debian-security/ (from {where}," in proc.stdout
    assert "mirrors:\n  https://vendor.example/ -> https://mirror.example/vendor/\n" in proc.stdout

    doc = json.loads(devshell("doctor", "--format", "json", cwd=tmp_path, env=env, check=True).stdout)
    assert doc["upstreams"]["deb"] == {"url": "http://127.0.0.1:9/debian/", "origin": str(where),
                                       "keyring": "/usr/share/keyrings/test-keyring.gpg"}
    assert doc["upstreams"]["deb-security"]["url"] == "http://127.0.0.1:9/debian-security/"
    assert doc["upstreams"]["pypi"] == {"url": "http://127.0.0.1:1/simple/", "origin": "PIP_INDEX_URL",
                                        "keyring": None}
    assert doc["mirrors"] == [{"from": "https://vendor.example/", "to": "https://mirror.example/vendor/"}]
    assert doc["platform"] == {"name": "x86_64-linux", "origin": "DEVSHELL_PLATFORM"}


def test_doctor_says_the_projects_archive_has_no_security_archive_beside_it(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_spec(root, "", extra='[sources.deb]\narchive = "http://127.0.0.1:9/snapshot/"\n')
    env = {"PIP_INDEX_URL": "http://127.0.0.1:1/simple", "npm_config_registry": "http://127.0.0.1:1/npm"}
    proc = devshell("doctor", cwd=root, env=env, check=True)
    assert "  deb: http://127.0.0.1:9/snapshot/ (from devshell.toml ([sources.deb] archive))\n" in proc.stdout
    assert "  deb-security: none (none configured: set DEVSHELL_DEB_SECURITY_ARCHIVE" in proc.stdout
    assert "mirrors: none" in proc.stdout
