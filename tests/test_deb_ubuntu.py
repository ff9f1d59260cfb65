"""Debian as apt sees it on Ubuntu: the archive, suite, components, keyring
and security archive all come from the host's apt sources, laid out as
Ubuntu's own `ubuntu.sources` lays them out."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from devshell import config, context, lock, sources
from devshell.home import home
from devshell.spec import parse
from tests.debian_archive import ArchiveServer, DebPackage, FakeArchive, GpgKey
from tests.helpers import devshell

LIB = "usr/lib/x86_64-linux-gnu"


@pytest.fixture
def key(tmp_path: Path) -> Iterator[GpgKey]:
    if not (shutil.which("gpg") and shutil.which("gpgv")):
        pytest.skip("needs gpg and gpgv")
    made = GpgKey(tmp_path / "ubuntu-archive-keyring.gpg")
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def ubuntu(tmp_path: Path, archive_server: ArchiveServer, key: GpgKey,
           monkeypatch: pytest.MonkeyPatch) -> FakeArchive:
    """noble on one URI (with noble-updates), noble-security on another, both
    signed by the key apt's sources name; ripgrep lives in universe."""
    components = ("main", "restricted", "universe", "multiverse")
    archive = FakeArchive(archive_server, suite="noble", prefix="/ubuntu", components=components)
    archive.add(
        DebPackage("libc6", "2.39-0ubuntu8", priority="required",
                   files={f"{LIB}/libc.so.6": b"\x7fELF libc", "lib64/ld-linux-x86-64.so.2": b"\x7fELF ld"}),
        DebPackage("libgcc-s1", "14-20240412-0ubuntu1", depends="libc6 (>= 2.35)",
                   files={f"{LIB}/libgcc_s.so.1": b"gcc"}),
        DebPackage("ripgrep", "14.1.0-1", depends="libc6 (>= 2.34), libgcc-s1 (>= 4.2)", component="universe",
                   files={"usr/bin/rg": "#!/bin/sh\necho ripgrep 14.1.0\n"}),
    )
    archive.publish(signer=key)
    updates = FakeArchive(archive_server, suite="noble-updates", prefix="/ubuntu", components=components)
    updates.publish(signer=key)
    security = FakeArchive(archive_server, suite="noble-security", prefix="/ubuntu-security",
                           components=components)
    security.add(DebPackage("libc6", "2.39-0ubuntu8.3", priority="required",
                            files={f"{LIB}/libc.so.6": b"\x7fELF libc fixed",
                                   "lib64/ld-linux-x86-64.so.2": b"\x7fELF ld"}))
    security.publish(signer=key)
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list").write_text("# Ubuntu sources have moved to /etc/apt/sources.list.d/ubuntu.sources\n")
    (apt / "sources.list.d" / "ubuntu.sources").write_text(
        f"Types: deb\nURIs: {archive.url}\nSuites: noble noble-updates noble-backports\n"
        f"Components: {' '.join(components)}\nSigned-By: {key.keyring}\n\n"
        f"Types: deb\nURIs: {security.url}\nSuites: noble-security\n"
        f"Components: {' '.join(components)}\nSigned-By: {key.keyring}\n")
    monkeypatch.setenv("DEVSHELL_APT_SOURCES_LIST", str(apt / "sources.list"))
    monkeypatch.setenv("DEVSHELL_APT_SOURCES_DIR", str(apt / "sources.list.d"))
    for name in ("DEVSHELL_DEB_ARCHIVE", "DEVSHELL_DEB_SECURITY_ARCHIVE", "DEVSHELL_DEB_KEYRING"):
        monkeypatch.delenv(name, raising=False)
    return archive


def _resolve(tmp_path: Path, tools: str, platforms: str = '["x86_64-linux"]') -> lock.LockedTool:
    spec = parse(f"[shell]\nplatforms = {platforms}\n[tools]\n{tools}", tmp_path / "devshell.toml")
    tool = spec.tools[0]
    return sources.get(tool.source).resolve(tool, spec.shell.platforms, context.for_spec(spec, home()))


def test_a_tool_in_universe_locks_from_the_suite_apt_reads(tmp_path: Path, ubuntu: FakeArchive) -> None:
    locked = _resolve(tmp_path, '"deb:ripgrep" = "14"\n')
    art = locked.artifact("x86_64-linux")
    assert isinstance(art, lock.Artifact)
    assert locked.version == "14.1.0-1"
    assert art.url == "deb:pool/universe/r/ripgrep/ripgrep_14.1.0-1_amd64.deb"
    assert art.index_verified is True
    libc = next(p for p in art.closure if p.name == "libc6")
    assert (libc.version, libc.url) == ("2.39-0ubuntu8.3", "deb-security:pool/main/libc/libc6/libc6_2.39-0ubuntu8.3_amd64.deb")


def test_an_architecture_the_archive_does_not_carry_is_unavailable_and_says_why(
        tmp_path: Path, ubuntu: FakeArchive) -> None:
    locked = _resolve(tmp_path, '"deb:ripgrep" = "14"\n', '["x86_64-linux", "aarch64-linux"]')
    other = locked.artifact("aarch64-linux")
    assert isinstance(other, lock.Unavailable)
    assert other.reason == ("the Debian suite 'noble' has no packages for arm64 (its archive carries amd64; "
                            "Ubuntu keeps arm64 on its ports archive, which `upstreams.deb` can name)")


def test_one_line_sources_name_the_suite_and_components_too(tmp_path: Path, ubuntu: FakeArchive) -> None:
    """Ubuntu 22.04 and older keep `deb` lines in sources.list, often one per
    component set: apt reads them all."""
    apt = tmp_path / "apt"
    (apt / "sources.list.d" / "ubuntu.sources").unlink()
    (apt / "sources.list").write_text(
        f"deb [signed-by={tmp_path / 'ubuntu-archive-keyring.gpg'}] {ubuntu.url} noble main restricted\n"
        f"deb [signed-by={tmp_path / 'ubuntu-archive-keyring.gpg'}] {ubuntu.url} noble universe\n")
    found = config.debian_archive()
    assert (found.suite, found.components) == ("noble", ("main", "restricted", "universe"))
    assert _resolve(tmp_path, '"deb:ripgrep" = "14"\n').version == "14.1.0-1"


def test_the_spec_still_chooses_the_components(tmp_path: Path, ubuntu: FakeArchive) -> None:
    spec = ('[shell]\nplatforms = ["x86_64-linux"]\n[sources.deb]\ncomponents = ["main"]\n'
            '[tools]\n"deb:ripgrep" = "14"\n')
    (tmp_path / "devshell.toml").write_text(spec)
    done = devshell("lock", cwd=tmp_path)
    assert done.returncode == 3 and "ripgrep" in done.stderr
    assert not (tmp_path / "devshell.lock").exists()
    (tmp_path / "devshell.toml").write_text(spec.replace('["main"]', '["main", "universe"]'))
    done = devshell("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "pool/universe/r/ripgrep/" in (tmp_path / "devshell.lock").read_text()
