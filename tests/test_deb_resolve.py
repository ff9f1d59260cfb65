"""The deb source at lock time, against a fake Debian archive on loopback:
the dependency closure (chains, virtual packages, alternatives, version
relations, dpkg ordering), the Release's signature and hashes, the index
cache, where the archive is found, and the lock it all ends up in."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devshell import config, context, lock, sources
from devshell.debian.closure import PackageIndex, matching, satisfies
from devshell.debian.index import default_suite
from devshell.debian.programs import known_env
from devshell.errors import FetchError, IntegrityError, SpecError
from devshell.home import home
from devshell.spec import parse
from tests.debian_archive import ArchiveServer, DebPackage, FakeArchive, GpgKey
from tests.helpers import devshell

ALL4 = '["x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"]'
LIB = "usr/lib/x86_64-linux-gnu"
ZERO = "0" * 64  # a sha256 that no test downloads


def _base() -> list[DebPackage]:
    """A small suite shaped like Debian's: libc6 and libgcc-s1 need each other."""
    return [
        DebPackage("libc6", "2.36-9", depends="libgcc-s1", priority="required",
                   files={f"{LIB}/libc.so.6": b"\x7fELF libc", "lib64/ld-linux-x86-64.so.2": b"\x7fELF ld"}),
        DebPackage("libgcc-s1", "12.2.0-14", depends="gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)",
                   files={f"{LIB}/libgcc_s.so.1": b"gcc"}),
        DebPackage("gcc-12-base", "12.2.0-14", files={"usr/share/doc/gcc-12-base/README": "gcc"}),
        DebPackage("libonig5", "6.9.8-1", depends="libc6 (>= 2.14)", files={f"{LIB}/libonig.so.5": b"onig"}),
        DebPackage("libjq1", "1.6-2.1", depends="libonig5 (>= 6.9.1), libc6 (>= 2.34)",
                   files={f"{LIB}/libjq.so.1": b"jq"}),
        DebPackage("jq", "1.6-2.1", depends="libjq1 (= 1.6-2.1), libc6 (>= 2.34)", recommends="jq-extras",
                   files={"usr/bin/jq": "#!/bin/sh\necho jq-1.6\n", "usr/share/doc/jq/README": "jq"}),
        DebPackage("jq-extras", "1.0-1"),
        DebPackage("hello", "2.10-3", depends="libc6 (>= 2.34)",
                   files={"usr/bin/hello": '#!/bin/sh\necho "hello from deb $*"\n'},
                   symlinks={"usr/bin/hi": "hello"}),
    ]


@pytest.fixture
def nogpgv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH without gpgv or sqv: the Release cannot be verified."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


@pytest.fixture
def archive(archive_server: ArchiveServer, monkeypatch: pytest.MonkeyPatch, nogpgv: Path) -> FakeArchive:
    arch = FakeArchive(archive_server)
    arch.add(*_base())
    monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", arch.url)
    return arch


def _resolve(tmp_path: Path, tools: str, platforms: str = '["x86_64-linux"]',
             sources_deb: str = 'suite = "testing-fake"') -> lock.LockedTool:
    spec = parse(f"[shell]\nplatforms = {platforms}\n[sources.deb]\n{sources_deb}\n[tools]\n{tools}",
                 tmp_path / "devshell.toml")
    tool = spec.tools[0]
    return sources.get(tool.source).resolve(tool, spec.shell.platforms, context.for_spec(spec, home()))


def _closure_names(locked: lock.LockedTool, plat: str = "x86_64-linux") -> list[str]:
    art = locked.artifact(plat)
    assert isinstance(art, lock.Artifact)
    return [p.name for p in art.closure]


def test_a_dependency_chain_is_locked_down_to_libc(tmp_path: Path, archive: FakeArchive,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    archive.publish()
    locked = _resolve(tmp_path, '"deb:jq" = "latest"\n')
    assert (locked.source, locked.version, locked.package) == ("deb", "1.6-2.1", "jq")
    art = locked.artifact("x86_64-linux")
    assert isinstance(art, lock.Artifact)
    assert art.url == "deb:pool/main/j/jq/jq_1.6-2.1_amd64.deb"
    assert (art.format, art.strip, art.bin) == ("deb", 0, ("usr/bin/jq",))
    # Depends only (no Recommends), the libc6 ↔ libgcc-s1 cycle once each.
    assert _closure_names(locked) == ["gcc-12-base", "libc6", "libgcc-s1", "libjq1", "libonig5"]
    onig = next(p for p in art.closure if p.name == "libonig5")
    assert onig.url == "deb:pool/main/libo/libonig5/libonig5_6.9.8-1_amd64.deb"
    assert onig.integrity.startswith("sha256-") and onig.size == len(archive.debs[onig.url[4:]])
    assert art.index_verified is False
    assert "was not checked" in capsys.readouterr().err
    assert art.env == ()


def test_virtual_packages_resolve_through_provides(tmp_path: Path, archive: FakeArchive) -> None:
    archive.add(
        DebPackage("gawk", "1:5.2.1-2", provides="awk"),
        DebPackage("mawk", "1.3.4.20200120-3.1", provides="awk", priority="required"),
        DebPackage("awk-script", "1.0-1", depends="awk", files={"usr/bin/awk-script": "#!/bin/sh\n"}),
        DebPackage("prov-old", "1.0-1", provides="virt-ver (= 1)"),
        DebPackage("prov-new", "1.0-1", provides="virt-ver (= 2)"),
        DebPackage("needs-ver", "1.0-1", depends="virt-ver (>= 2)", files={"usr/bin/needs-ver": "#!/bin/sh\n"}),
    )
    archive.publish()
    # Several providers: the higher priority wins, as apt would choose.
    assert _closure_names(_resolve(tmp_path, '"deb:awk-script" = "latest"\n')) == ["mawk"]
    # A versioned dependency only counts versioned provides that meet it.
    assert _closure_names(_resolve(tmp_path, '"deb:needs-ver" = "latest"\n')) == ["prov-new"]


def test_alternatives_take_the_first_that_can_be_satisfied(tmp_path: Path, archive: FakeArchive) -> None:
    archive.add(
        DebPackage("libfallback1", "1.0-1"),
        DebPackage("libsecond1", "1.0-1"),
        DebPackage("libbroken1", "1.0-1", depends="libnowhere"),
        DebPackage("alt-tool", "1.0-1", depends="libmissing1 | libbroken1 | libfallback1 | libsecond1",
                   files={"usr/bin/alt-tool": "#!/bin/sh\n"}),
    )
    archive.publish()
    assert _closure_names(_resolve(tmp_path, '"deb:alt-tool" = "latest"\n')) == ["libfallback1"]


def test_a_version_relation_rules_out_a_candidate(tmp_path: Path, archive: FakeArchive) -> None:
    archive.add(
        DebPackage("libversioned1", "2.0-1"),
        DebPackage("libversioned1", "1.0-1"),
        DebPackage("libfallback1", "1.0-1"),
        DebPackage("needs-old", "1.0-1", depends="libversioned1 (<< 2.0)", files={"usr/bin/needs-old": "#!/bin/sh\n"}),
        DebPackage("needs-new", "1.0-1", depends="libversioned1 (>= 2.0)", files={"usr/bin/needs-new": "#!/bin/sh\n"}),
        DebPackage("needs-newer", "1.0-1", depends="libversioned1 (>= 3.0) | libfallback1",
                   files={"usr/bin/needs-newer": "#!/bin/sh\n"}),
    )
    archive.publish()
    old = _resolve(tmp_path, '"deb:needs-old" = "latest"\n').artifact("x86_64-linux")
    assert isinstance(old, lock.Artifact)
    assert [(p.name, p.version) for p in old.closure] == [("libversioned1", "1.0-1")]
    new = _resolve(tmp_path, '"deb:needs-new" = "latest"\n').artifact("x86_64-linux")
    assert isinstance(new, lock.Artifact)
    assert [(p.name, p.version) for p in new.closure] == [("libversioned1", "2.0-1")]
    assert _closure_names(_resolve(tmp_path, '"deb:needs-newer" = "latest"\n')) == ["libfallback1"]


def test_pre_depends_and_arch_qualifiers_count(tmp_path: Path, archive: FakeArchive) -> None:
    archive.add(
        DebPackage("libpre1", "1.0-1"),
        DebPackage("interp", "3.11-1", multi_arch="allowed"),
        DebPackage("scripty", "1.0-1", pre_depends="libpre1", depends="interp:any (>= 3.9)",
                   files={"usr/bin/scripty": "#!/bin/sh\n"}),
    )
    archive.publish()
    assert _closure_names(_resolve(tmp_path, '"deb:scripty" = "latest"\n')) == ["interp", "libpre1"]


def test_an_unsatisfiable_dependency_names_the_chain(tmp_path: Path, archive: FakeArchive) -> None:
    archive.add(
        DebPackage("libmid1", "1.0-1", depends="libonig5 (>= 7.0)"),
        DebPackage("deep-broken", "1.0-1", depends="libc6, libmid1", files={"usr/bin/deep-broken": "#!/bin/sh\n"}),
    )
    archive.publish()
    with pytest.raises(SpecError) as err:
        _resolve(tmp_path, '"deb:deep-broken" = "latest"\n')
    assert "deep-broken → libmid1 → libonig5 (>= 7.0): the suite has libonig5 6.9.8-1" in err.value.message
    assert err.value.message.startswith("tools.deep-broken: deep-broken 1.0-1 cannot be installed")


def test_a_metapackage_exposes_the_program_named_after_it(tmp_path: Path, archive: FakeArchive) -> None:
    archive.add(
        DebPackage("pyfake3.11-minimal", "3.11.2-6", files={"usr/bin/pyfake3.11": "#!/bin/sh\n"}),
        DebPackage("pyfake-minimal", "3.11.2-1", depends="pyfake3.11-minimal", symlinks={"usr/bin/pyfake": "pyfake3.11"}),
        DebPackage("pyfake", "3.11.2-1", depends="pyfake-minimal (= 3.11.2-1)", files={"usr/bin/pydoc-fake": "#!/bin/sh\n"}),
        DebPackage("vimfake", "2:9.0-1", files={"usr/bin/vimfake.basic": "#!/bin/sh\n"}),
    )
    archive.publish()
    assert _resolve(tmp_path, '"deb:pyfake" = "latest"\n').artifact("x86_64-linux").bin == (  # type: ignore[union-attr]
        "usr/bin/pydoc-fake", "usr/bin/pyfake")
    assert _resolve(tmp_path, '"deb:vimfake" = "latest"\n').artifact("x86_64-linux").bin == (  # type: ignore[union-attr]
        "usr/bin/vimfake.basic", "vimfake=usr/bin/vimfake.basic")


def test_missing_packages_and_versions_say_what_there_is(tmp_path: Path, archive: FakeArchive) -> None:
    archive.add(DebPackage("mawk", "1.3.4-3", provides="awk"))
    archive.publish()
    with pytest.raises(SpecError) as err:
        _resolve(tmp_path, '"deb:helo" = "latest"\n')
    assert "has no package 'helo'" in err.value.message and "'hello'" in (err.value.hint or "")
    with pytest.raises(SpecError) as err:
        _resolve(tmp_path, '"deb:awk" = "latest"\n')
    assert "virtual package provided by mawk" in (err.value.hint or "")
    with pytest.raises(SpecError) as err:
        _resolve(tmp_path, '"deb:jq" = "1.7.1-3"\n')
    assert "no version '1.7.1-3' of jq" in err.value.message and "it has 1.6-2.1" in (err.value.hint or "")


def test_latest_and_exact_versions_follow_dpkg_order(tmp_path: Path, archive: FakeArchive) -> None:
    archive.add(
        DebPackage("ordtool", "1.9-1"), DebPackage("ordtool", "1.10-1"),
        DebPackage("epochtool", "2.0-1"), DebPackage("epochtool", "1:1.0-1"),
        DebPackage("tildetool", "2.0~rc1-1"), DebPackage("tildetool", "2.0-1"), DebPackage("tildetool", "1.5-1"),
    )
    archive.publish()

    def version(name: str, constraint: str) -> str:
        return _resolve(tmp_path, f'"deb:{name}" = {{ version = "{constraint}", bin = ["usr/bin/x"] }}\n').version

    assert version("ordtool", "latest") == "1.10-1"
    assert version("epochtool", "latest") == "1:1.0-1"
    assert version("tildetool", "latest") == "2.0-1"
    assert version("ordtool", "1.9-1") == "1.9-1"
    assert version("tildetool", "2.0~rc1-1") == "2.0~rc1-1"
    assert version("tildetool", "1.5") == "1.5-1"  # an upstream version: its newest revision
    assert version("epochtool", "2.0") == "2.0-1"


def test_dpkg_ordering_and_relations() -> None:
    assert satisfies("1.10-1", ">>", "1.9-1")
    assert satisfies("1:0.1-1", ">>", "2.0-1")
    assert satisfies("2.0~rc1-1", "<<", "2.0-1") and satisfies("2.0~~a", "<<", "2.0~a")
    assert satisfies("2.0-1", "=", "0:2.0-1") and satisfies("2.0-1", "<=", "2.0-1")
    assert not satisfies("2.0-1", ">=", "2.0.1") and satisfies("1.0", ">=", None)
    index = PackageIndex([
        f"Package: a\nVersion: 1.9\nArchitecture: all\nFilename: a1\nSHA256: {ZERO}\nSize: 1\n\n"
        f"Package: a\nVersion: 1.10\nArchitecture: all\nFilename: a2\nSHA256: {ZERO}\nSize: 1\n"
        "Depends: b | c (>= 2),\n d\n",
    ], "amd64")
    assert [p.version for p in index.packages("a")] == ["1.10", "1.9"]
    assert [str(r) for g in index.packages("a")[0].depends for r in g] == ["b", "c (>= 2)", "d"]
    assert matching(index.packages("a"), "1.9") is not None and matching(index.packages("a"), "1.1") is None


def test_a_bad_packages_hash_in_the_release_is_an_error(tmp_path: Path, archive: FakeArchive) -> None:
    archive.publish(tamper={"main/binary-amd64/Packages.xz": "0" * 64})
    with pytest.raises(IntegrityError) as err:
        _resolve(tmp_path, '"deb:jq" = "latest"\n')
    assert "Packages.xz" in err.value.message and "0" * 64 in err.value.message


def test_without_inrelease_the_release_file_is_read(tmp_path: Path, archive: FakeArchive,
                                                    archive_server: ArchiveServer) -> None:
    archive.publish(inrelease=False, formats=("gz",))
    locked = _resolve(tmp_path, '"deb:jq" = "latest"\n')
    assert locked.version == "1.6-2.1"
    assert archive_server.hits["/debian/dists/testing-fake/Release"] == 1
    assert archive_server.hits["/debian/dists/testing-fake/main/binary-amd64/Packages.gz"] == 1


def test_an_unknown_suite_is_a_spec_error(tmp_path: Path, archive: FakeArchive) -> None:
    archive.publish()
    with pytest.raises(SpecError, match="no suite 'nosuch'"):
        _resolve(tmp_path, '"deb:jq" = "latest"\n', sources_deb='suite = "nosuch"')


def test_only_linux_platforms_get_artifacts(tmp_path: Path, archive: FakeArchive) -> None:
    archive.publish()
    locked = _resolve(tmp_path, '"deb:jq" = "latest"\n', platforms=ALL4)
    assert locked.artifact("x86_64-darwin") == lock.Unavailable("Debian packages run on Linux only")
    assert locked.artifact("aarch64-linux") == lock.Unavailable(
        "the Debian suite 'testing-fake' has no packages for arm64 (its archive carries amd64; "
        "Ubuntu keeps arm64 on its ports archive, which `upstreams.deb` can name)")


def test_arm64_gets_its_own_closure(tmp_path: Path, archive_server: ArchiveServer,
                                    monkeypatch: pytest.MonkeyPatch, nogpgv: Path) -> None:
    archive = FakeArchive(archive_server, archs=("amd64", "arm64"))
    for pkg in _base():
        archive.add(pkg)
        if pkg.arch != "all":
            archive.add(DebPackage(**{**pkg.__dict__, "arch": "arm64",
                                      "files": {k.replace("x86_64", "aarch64"): v for k, v in pkg.files.items()}}))
    archive.publish()
    monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", archive.url)
    locked = _resolve(tmp_path, '"deb:jq" = "latest"\n', platforms='["x86_64-linux", "aarch64-linux"]')
    arm = locked.artifact("aarch64-linux")
    assert isinstance(arm, lock.Artifact)
    assert arm.url == "deb:pool/main/j/jq/jq_1.6-2.1_arm64.deb"
    assert all(p.url.endswith("_arm64.deb") for p in arm.closure)
    perl = PackageIndex([f"Package: perl-base\nVersion: 5.36.0-7\nFilename: f\nSHA256: {ZERO}\nSize: 1\n"],
                        "arm64").packages("perl-base")
    assert "{out}/usr/lib/aarch64-linux-gnu/perl-base" in known_env(perl, "arm64")["PERL5LIB"].split(":")


def test_each_architecture_lists_its_own_programs(tmp_path: Path, archive_server: ArchiveServer,
                                                  monkeypatch: pytest.MonkeyPatch, nogpgv: Path) -> None:
    """Debian's openjdk keeps its programs under an arch-specific path: the
    bin list of aarch64 names the arm64 path, not the amd64 one."""
    archive = FakeArchive(archive_server, archs=("amd64", "arm64"))
    for arch in ("amd64", "arm64"):
        archive.add(DebPackage("jre", "17.0.1-1", arch=arch,
                               files={f"usr/lib/jvm/java-17-{arch}/bin/java": b"#!/bin/sh\necho java\n"},
                               symlinks={"usr/bin/java": f"../lib/jvm/java-17-{arch}/bin/java"}))
    archive.publish()
    monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", archive.url)
    locked = _resolve(tmp_path, '"deb:jre" = { version = "latest", bin = ["usr/lib/jvm/java-17-{debarch}/bin/java"] }\n',
                      platforms='["x86_64-linux", "aarch64-linux"]')
    for plat, arch in (("x86_64-linux", "amd64"), ("aarch64-linux", "arm64")):
        art = locked.artifact(plat)
        assert isinstance(art, lock.Artifact)
        assert art.bin == (f"usr/lib/jvm/java-17-{arch}/bin/java",), plat
    # Listed from the package itself: each architecture's own .deb says.
    listed = _resolve(tmp_path, '"deb:jre" = "latest"\n', platforms='["x86_64-linux", "aarch64-linux"]')
    for plat in ("x86_64-linux", "aarch64-linux"):
        art = listed.artifact(plat)
        assert isinstance(art, lock.Artifact)
        assert art.bin == ("usr/bin/java",), plat


def test_a_listed_program_whose_link_leads_nowhere_in_the_closure_is_left_out(
        tmp_path: Path, archive: FakeArchive) -> None:
    """rustc's rust-clang links to a clang its closure does not ship: it is
    not exposed (a note says so), while a link into another package of the
    closure is."""
    archive.add(DebPackage("rustish-tools", "1.0-1", files={"usr/lib/rustish/bin/rustc": b"#!/bin/sh\necho rustc\n"}))
    archive.add(DebPackage("rustish", "1.0-1", depends="rustish-tools",
                           files={"usr/bin/cargo": b"#!/bin/sh\necho cargo\n"},
                           symlinks={"usr/bin/rustc": "../lib/rustish/bin/rustc",
                                     "usr/bin/rust-clang": "../lib/llvm-14/bin/clang"}))
    archive.publish()
    locked = _resolve(tmp_path, '"deb:rustish" = "latest"\n')
    art = locked.artifact("x86_64-linux")
    assert isinstance(art, lock.Artifact)
    assert art.bin == ("usr/bin/cargo", "usr/bin/rustc")


def test_known_environment_needs_come_with_the_closure(tmp_path: Path, archive: FakeArchive) -> None:
    archive.add(
        DebPackage("perl-base", "5.36.0-7+deb12u1", essential=True),
        DebPackage("ncurses-base", "6.4-4", essential=True),
        DebPackage("python3.11-minimal", "3.11.2-6"),
        DebPackage("git", "1:2.39.2-1.1", depends="perl-base, ncurses-base, python3.11-minimal",
                   files={"usr/bin/git": "#!/bin/sh\n"}),
    )
    archive.publish()
    art = _resolve(tmp_path, 'git = { version = "latest", source = "deb", env = { EDITOR = "vi" } }\n'
                   ).artifact("x86_64-linux")
    assert isinstance(art, lock.Artifact)
    env = dict(art.env)
    # A closure with a Python in it has its build configuration pointed at
    # the output (see test_deb_realise); jq's closure has none.
    assert art.fixups == ("relocate-elf-1", "python-paths-1", "python-bytecode-1")
    assert _resolve(tmp_path, '"deb:jq" = "latest"\n').artifact("x86_64-linux").fixups == (  # type: ignore[union-attr]
        "relocate-elf-1",)
    assert env["GIT_EXEC_PATH"] == "{out}/usr/lib/git-core"
    # A Python finds its prefix from where its program lies (its venvs too,
    # see test_deb_realise); a PYTHONHOME would be one value for the whole
    # shell, wrong for every other Python in it.
    assert "PYTHONHOME" not in env
    assert "{out}/usr/lib/x86_64-linux-gnu/perl-base" in env["PERL5LIB"].split(":")
    assert "{out}/usr/share/perl/5.36" in env["PERL5LIB"].split(":")
    assert env["TERMINFO_DIRS"].startswith("{out}/usr/share/terminfo:")
    assert env["EDITOR"] == "vi"


def test_the_output_name_covers_the_closure(tmp_path: Path, archive: FakeArchive) -> None:
    archive.publish()
    first = _resolve(tmp_path, '"deb:jq" = "latest"\n').artifact("x86_64-linux")
    archive.add(DebPackage("libonig5", "6.9.9-1", depends="libc6 (>= 2.14)"))
    archive.publish()
    second = _resolve(tmp_path, '"deb:jq" = "latest"\n').artifact("x86_64-linux")
    assert isinstance(first, lock.Artifact) and isinstance(second, lock.Artifact)
    assert first.integrity == second.integrity and first.output != second.output
    assert first.output.endswith("-jq-1.6-2.1")


@pytest.fixture
def gpg_key(tmp_path: Path) -> Iterator[GpgKey]:
    if not (shutil.which("gpg") and shutil.which("gpgv")):
        pytest.skip("needs gpg and gpgv")
    key = GpgKey(tmp_path / "archive-keyring.gpg")
    try:
        yield key
    finally:
        key.close()


@pytest.mark.parametrize("inrelease", [True, False])
def test_a_signed_release_is_verified(tmp_path: Path, archive_server: ArchiveServer, gpg_key: GpgKey,
                                      monkeypatch: pytest.MonkeyPatch, inrelease: bool) -> None:
    archive = FakeArchive(archive_server)
    archive.add(*_base())
    archive.publish(signer=gpg_key, inrelease=inrelease)
    monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", archive.url)
    monkeypatch.setenv("DEVSHELL_DEB_KEYRING", str(gpg_key.keyring))
    art = _resolve(tmp_path, '"deb:jq" = "latest"\n').artifact("x86_64-linux")
    assert isinstance(art, lock.Artifact) and art.index_verified is True


def test_a_release_signed_by_another_key_is_refused(tmp_path: Path, archive_server: ArchiveServer,
                                                    gpg_key: GpgKey, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = FakeArchive(archive_server)
    archive.add(*_base())
    archive.publish(signer=gpg_key)
    other = GpgKey(tmp_path / "other-keyring.gpg")
    other.close()
    monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", archive.url)
    monkeypatch.setenv("DEVSHELL_DEB_KEYRING", str(other.keyring))
    with pytest.raises(IntegrityError, match="does not verify against the archive keyring"):
        _resolve(tmp_path, '"deb:jq" = "latest"\n')


def test_a_tampered_signed_release_is_refused(tmp_path: Path, archive_server: ArchiveServer,
                                              gpg_key: GpgKey, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = FakeArchive(archive_server)
    archive.add(*_base())
    archive.publish(signer=gpg_key)
    inrelease = "/debian/dists/testing-fake/InRelease"
    archive_server.files[inrelease] = archive_server.files[inrelease].replace(b"Origin: devshell-tests",
                                                                              b"Origin: someone-else")
    monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", archive.url)
    monkeypatch.setenv("DEVSHELL_DEB_KEYRING", str(gpg_key.keyring))
    with pytest.raises(IntegrityError, match="InRelease does not verify"):
        _resolve(tmp_path, '"deb:jq" = "latest"\n')
    # An unsigned suite is refused too, once there is a keyring to check it with.
    archive.publish()
    monkeypatch.setenv("DEVSHELL_HOME", str(tmp_path / "home2"))
    with pytest.raises(IntegrityError):
        _resolve(tmp_path, '"deb:jq" = "latest"\n')


@pytest.mark.parametrize("security_signer", ["same", "other"])
def test_the_security_suites_release_is_verified_too(
        tmp_path: Path, archive_server: ArchiveServer, gpg_key: GpgKey, monkeypatch: pytest.MonkeyPatch,
        security_signer: str) -> None:
    archive = FakeArchive(archive_server)
    archive.add(*_base())
    archive.publish(signer=gpg_key)
    security = FakeArchive(archive_server, suite="testing-fake-security", prefix="/debian-security",
                           listed_as="updates/")
    security.add(DebPackage("libonig5", "6.9.8-1+deb1u1", depends="libc6 (>= 2.14)"))
    other = GpgKey(tmp_path / "other-keyring.gpg")
    try:
        security.publish(signer=gpg_key if security_signer == "same" else other)
    finally:
        other.close()
    monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", archive.url)
    monkeypatch.setenv("DEVSHELL_DEB_SECURITY_ARCHIVE", security.url)
    monkeypatch.setenv("DEVSHELL_DEB_KEYRING", str(gpg_key.keyring))
    if security_signer == "other":  # an archive that answers wrongly is no archive out of reach
        with pytest.raises(IntegrityError, match="testing-fake-security/InRelease does not verify"):
            _resolve(tmp_path, '"deb:jq" = "latest"\n')
        return
    art = _resolve(tmp_path, '"deb:jq" = "latest"\n').artifact("x86_64-linux")
    assert isinstance(art, lock.Artifact) and art.index_verified is True
    assert ("libonig5", "6.9.8-1+deb1u1") in [(p.name, p.version) for p in art.closure]


def test_a_missing_explicit_keyring_is_an_error(tmp_path: Path, archive: FakeArchive,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    archive.publish()
    monkeypatch.setenv("DEVSHELL_DEB_KEYRING", str(tmp_path / "nope.gpg"))
    with pytest.raises(Exception, match=r"nope\.gpg named for the Debian archive does not exist"):
        _resolve(tmp_path, '"deb:jq" = "latest"\n')


# --- updates and security, as apt reads them -------------------------------------


@pytest.fixture
def security(archive_server: ArchiveServer, monkeypatch: pytest.MonkeyPatch) -> FakeArchive:
    """The security archive, apart from the archive, as Debian keeps it (its
    Release lists its components as updates/main, …)."""
    sec = FakeArchive(archive_server, suite="testing-fake-security", prefix="/debian-security",
                      listed_as="updates/")
    monkeypatch.setenv("DEVSHELL_DEB_SECURITY_ARCHIVE", sec.url)
    return sec


def _updated(archive: FakeArchive, archive_server: ArchiveServer, security: FakeArchive) -> None:
    """jq fixed in -updates (and less so in -security), libonig5 fixed in
    -security, libc6 republished unchanged in -security."""
    archive.publish()
    updates = FakeArchive(archive_server, suite="testing-fake-updates")
    updates.add(DebPackage("jq", "1.6-2.1+deb1u2", depends="libjq1 (= 1.6-2.1), libc6 (>= 2.34)",
                           files={"usr/bin/jq": "#!/bin/sh\necho jq-1.6-u2\n"}))
    updates.publish()
    libc6 = next(p for p in _base() if p.name == "libc6")
    security.add(DebPackage("jq", "1.6-2.1+deb1u1", depends="libjq1 (= 1.6-2.1), libc6 (>= 2.34)",
                            files={"usr/bin/jq": "#!/bin/sh\necho jq-1.6-u1\n"}),
                 DebPackage("libonig5", "6.9.8-1+deb1u1", depends="libc6 (>= 2.14)",
                            files={f"{LIB}/libonig.so.5": b"onig fixed"}),
                 libc6)
    security.publish()


def test_updates_and_security_give_the_newest_version_of_each_package(
        tmp_path: Path, archive: FakeArchive, archive_server: ArchiveServer, security: FakeArchive) -> None:
    _updated(archive, archive_server, security)
    locked = _resolve(tmp_path, '"deb:jq" = "latest"\n')
    art = locked.artifact("x86_64-linux")
    assert isinstance(art, lock.Artifact)
    # jq from -updates (newer than -security's): the archive's own pool.
    assert (locked.version, art.url) == ("1.6-2.1+deb1u2", "deb:pool/main/j/jq/jq_1.6-2.1+deb1u2_amd64.deb")
    parts = {p.name: (p.version, p.url) for p in art.closure}
    # libonig5 from the security archive, named by its own scheme, no host.
    assert parts["libonig5"] == ("6.9.8-1+deb1u1",
                                 "deb-security:pool/main/libo/libonig5/libonig5_6.9.8-1+deb1u1_amd64.deb")
    # The same version in both archives comes from the archive.
    assert parts["libc6"] == ("2.36-9", "deb:pool/main/libc/libc6/libc6_2.36-9_amd64.deb")
    # A pinned version is still found in the release itself.
    assert _resolve(tmp_path, '"deb:jq" = "1.6-2.1"\n').version == "1.6-2.1"


def test_updates_and_security_can_be_turned_off(
        tmp_path: Path, archive: FakeArchive, archive_server: ArchiveServer, security: FakeArchive,
        capsys: pytest.CaptureFixture[str]) -> None:
    _updated(archive, archive_server, security)
    locked = _resolve(tmp_path, '"deb:jq" = "latest"\n',
                      sources_deb='suite = "testing-fake"\nupdates = false\nsecurity = false')
    assert locked.version == "1.6-2.1"
    assert all(p.url.startswith("deb:") and "deb1u" not in p.version
               for p in locked.artifact("x86_64-linux").closure)  # type: ignore[union-attr]
    assert not [p for p in archive_server.hits if "-updates" in p or "debian-security" in p]
    assert "security" not in capsys.readouterr().err
    # Only security off: -updates still counts.
    assert _resolve(tmp_path, '"deb:jq" = "latest"\n',
                    sources_deb='suite = "testing-fake"\nsecurity = false').version == "1.6-2.1+deb1u2"
    with pytest.raises(SpecError, match=r"sources\.deb\.updates: must be true or false"):
        _resolve(tmp_path, '"deb:jq" = "latest"\n', sources_deb='updates = "no"')


def test_a_suite_without_updates_is_read_alone(tmp_path: Path, archive: FakeArchive,
                                               security: FakeArchive) -> None:
    archive.publish()
    security.add(DebPackage("libonig5", "6.9.8-1+deb1u1", depends="libc6 (>= 2.14)"))
    security.publish()
    locked = _resolve(tmp_path, '"deb:jq" = "latest"\n')
    assert locked.version == "1.6-2.1"  # no testing-fake-updates at all: nothing to add
    assert ("libonig5", "6.9.8-1+deb1u1") in [(p.name, p.version) for p in locked.artifact("x86_64-linux").closure]  # type: ignore[union-attr]


@pytest.mark.parametrize("where", ["unreachable", "no-suite", "not-configured"])
def test_a_security_archive_out_of_reach_is_a_warning(
        tmp_path: Path, archive: FakeArchive, archive_server: ArchiveServer, security: FakeArchive,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str) -> None:
    _updated(archive, archive_server, security)
    monkeypatch.setenv("DEVSHELL_HTTP_RETRIES", "0")
    if where == "unreachable":
        monkeypatch.setenv("DEVSHELL_DEB_SECURITY_ARCHIVE", "http://127.0.0.1:9/debian-security/")
    elif where == "no-suite":
        monkeypatch.setenv("DEVSHELL_DEB_SECURITY_ARCHIVE", f"{archive_server.url}/nowhere/")
    else:
        monkeypatch.delenv("DEVSHELL_DEB_SECURITY_ARCHIVE")
    locked = _resolve(tmp_path, '"deb:jq" = "latest"\n')
    assert locked.version == "1.6-2.1+deb1u2"  # the archive and -updates still count
    assert all(p.url.startswith("deb:") for p in locked.artifact("x86_64-linux").closure)  # type: ignore[union-attr]
    err = capsys.readouterr().err
    assert "warning" in err and "testing-fake-security" in err, err
    assert {"unreachable": "cannot be reached", "no-suite": "has no suite",
            "not-configured": "upstreams.deb-security"}[where] in err


def test_each_suites_index_is_checked_against_its_own_release(
        tmp_path: Path, archive: FakeArchive, archive_server: ArchiveServer, security: FakeArchive) -> None:
    _updated(archive, archive_server, security)
    security.publish(tamper={"main/binary-amd64/Packages.xz": "0" * 64})
    with pytest.raises(IntegrityError, match=r"debian-security/dists/testing-fake-security/main/binary-amd64"):
        _resolve(tmp_path, '"deb:jq" = "latest"\n')


# --- where the archive is found ------------------------------------------------


@pytest.fixture
def apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    listed, parts = tmp_path / "apt" / "sources.list", tmp_path / "apt" / "sources.list.d"
    parts.mkdir(parents=True)
    monkeypatch.setenv("DEVSHELL_APT_SOURCES_LIST", str(listed))
    monkeypatch.setenv("DEVSHELL_APT_SOURCES_DIR", str(parts))
    monkeypatch.delenv("DEVSHELL_DEB_ARCHIVE", raising=False)
    monkeypatch.delenv("DEVSHELL_DEB_KEYRING", raising=False)
    return listed, parts


def test_the_archive_comes_from_deb822_sources(apt: tuple[Path, Path]) -> None:
    _, parts = apt
    (parts / "debian.sources").write_text(
        "# security first, as some images list it\n"
        "Types: deb\nURIs: http://127.0.0.1:1/debian-security\nSuites: fake-security\n"
        "Components: main\nSigned-By: /keys/security.gpg\n\n"
        "Types: deb-src deb\nURIs: http://127.0.0.1:1/mirror/debian\nSuites: fake fake-updates\n"
        "Components: main\nSigned-By: /keys/archive.gpg\n"
    )
    (parts / "zz-other.sources").write_text("Types: deb\nURIs: http://127.0.0.1:1/later/\nSuites: x\n")
    found = config.debian_archive()
    assert found == config.Upstream("http://127.0.0.1:1/mirror/debian/", str(parts / "debian.sources"),
                                    "/keys/archive.gpg", "fake", ("main",))


def test_an_embedded_signed_by_key_is_kept(apt: tuple[Path, Path]) -> None:
    _, parts = apt
    (parts / "a.sources").write_text(
        "Enabled: no\nTypes: deb\nURIs: http://127.0.0.1:1/disabled/\nSuites: fake\n\n"
        "Types: deb\nURIs: http://127.0.0.1:1/inline/\nSuites: fake\nComponents: main\nSigned-By:\n"
        " -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n bWFkZSB1cA==\n -----END PGP PUBLIC KEY BLOCK-----\n"
    )
    found = config.debian_archive()
    assert found.url == "http://127.0.0.1:1/inline/"
    assert found.keyring == ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbWFkZSB1cA==\n"
                             "-----END PGP PUBLIC KEY BLOCK-----\n")


def test_the_archive_comes_from_one_line_sources(apt: tuple[Path, Path]) -> None:
    listed, parts = apt
    listed.write_text(
        "# deb http://127.0.0.1:1/commented fake main\n"
        "deb-src http://127.0.0.1:1/src fake main\n"
        "deb http://127.0.0.1:1/debian-security fake-security main\n"
        "deb [arch=amd64 signed-by=/keys/one.gpg] http://127.0.0.1:1/one-line/ fake main contrib\n"
    )
    (parts / "b.list").write_text("deb http://127.0.0.1:1/from-parts fake main\n")
    assert config.debian_archive() == config.Upstream(
        "http://127.0.0.1:1/one-line/", str(listed), "/keys/one.gpg", "fake", ("main", "contrib"))
    listed.write_text("")
    assert config.debian_archive().url == "http://127.0.0.1:1/from-parts/"


def test_devshell_config_and_the_project_come_before_apt(apt: tuple[Path, Path], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    listed, _ = apt
    listed.write_text("deb [signed-by=/keys/apt.gpg] http://127.0.0.1:1/apt fake main\n")
    assert config.debian_archive("http://127.0.0.1:1/project/").url == "http://127.0.0.1:1/project/"
    own = tmp_path / "xdg-config" / "devshell" / "config.toml"
    own.parent.mkdir(parents=True)
    own.write_text('[upstreams]\ndeb = "http://127.0.0.1:1/own"\n')
    assert config.debian_archive("http://127.0.0.1:1/project/").url == "http://127.0.0.1:1/own/"
    monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", "http://127.0.0.1:1/env")
    monkeypatch.setenv("DEVSHELL_DEB_KEYRING", "/keys/env.gpg")
    assert config.debian_archive() == config.Upstream("http://127.0.0.1:1/env/", "DEVSHELL_DEB_ARCHIVE",
                                                      "/keys/env.gpg")


def test_no_archive_anywhere_says_how_to_name_one(apt: tuple[Path, Path]) -> None:
    with pytest.raises(Exception, match="cannot tell where the Debian archive is") as err:
        config.debian_archive()
    assert "DEVSHELL_DEB_ARCHIVE" in str(getattr(err.value, "hint", ""))


def test_the_security_archive_comes_from_apts_sources(apt: tuple[Path, Path], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    listed, parts = apt
    (parts / "debian.sources").write_text(
        "Types: deb\nURIs: http://127.0.0.1:1/mirror/debian\nSuites: fake fake-updates\n"
        "Components: main\nSigned-By: /keys/archive.gpg\n\n"
        "Types: deb\nURIs: http://127.0.0.1:1/debian-security\nSuites: fake-security\n"
        "Components: main\nSigned-By: /keys/security.gpg\n")
    assert config.debian_security_archive() == config.Upstream(
        "http://127.0.0.1:1/debian-security/", str(parts / "debian.sources"), "/keys/security.gpg")
    (parts / "debian.sources").unlink()
    listed.write_text("deb http://127.0.0.1:1/debian fake main\n"
                      "deb http://127.0.0.1:1/security/ fake-security/updates main\n"
                      "deb http://127.0.0.1:1/debian-security fake-security main\n")
    assert config.debian_security_archive().url == "http://127.0.0.1:1/debian-security/"  # type: ignore[union-attr]
    # Where the archive itself is set by hand, apt's security archive is not
    # mixed in: only one named by hand too.
    assert config.debian_security_archive("http://127.0.0.1:1/project/") is None
    monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", "http://127.0.0.1:1/env")
    assert config.debian_security_archive() is None
    own = tmp_path / "xdg-config" / "devshell" / "config.toml"
    own.parent.mkdir(parents=True)
    own.write_text('[upstreams]\ndeb-security = "http://127.0.0.1:1/own-security"\n')
    assert config.debian_security_archive() == config.Upstream(
        "http://127.0.0.1:1/own-security/", f"{own} (upstreams.deb-security)")
    monkeypatch.setenv("DEVSHELL_DEB_SECURITY_ARCHIVE", "http://127.0.0.1:1/env-security")
    monkeypatch.setenv("DEVSHELL_DEB_KEYRING", "/keys/env.gpg")
    assert config.debian_security_archive() == config.Upstream(
        "http://127.0.0.1:1/env-security/", "DEVSHELL_DEB_SECURITY_ARCHIVE", "/keys/env.gpg")
    listed.write_text("deb http://127.0.0.1:1/debian fake main\n")
    monkeypatch.delenv("DEVSHELL_DEB_ARCHIVE")
    monkeypatch.delenv("DEVSHELL_DEB_SECURITY_ARCHIVE")
    own.unlink()
    assert config.debian_security_archive() is None


def test_the_default_suite_is_the_hosts_debian_release_else_trixie(tmp_path: Path) -> None:
    osr = tmp_path / "os-release"
    osr.write_text('ID=debian\nVERSION_CODENAME=fakeworm\n')
    assert default_suite(str(osr)) == "fakeworm"
    osr.write_text('PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_CODENAME=trixie\n')
    assert default_suite(str(osr)) == "trixie"
    # Not Debian: Debian's current stable release, by its codename (a lock
    # must not follow "stable" to the next release by itself).
    osr.write_text('ID=somethingelse\nVERSION_CODENAME=other\n')
    assert default_suite(str(osr)) == "trixie"
    assert default_suite(str(tmp_path / "none")) == "trixie"


# --- the spec ------------------------------------------------------------------


def test_the_spec_takes_deb_tools_and_sources_deb(tmp_path: Path) -> None:
    spec = parse('[sources.deb]\nsuite = "fake"\ncomponents = ["main", "contrib"]\n[tools]\n'
                 '"deb:jq" = "1.6-2.1"\ngit = { version = "1:2.39.2-1.1", source = "deb" }\n',
                 tmp_path / "devshell.toml")
    jq, git = spec.tools
    assert (jq.name, jq.source, jq.package, jq.constraint) == ("jq", "deb", "jq", "1.6-2.1")
    assert git.source == "deb" and git.constraint == "1:2.39.2-1.1"
    assert jq.settings is not None and jq.settings.components == ("main", "contrib") and jq.settings.suite == "fake"
    assert spec.resolution_inputs()["sources"]["deb"]["suite"] == "fake"
    plain = parse('[tools]\n"deb:jq" = "latest"\n', tmp_path / "devshell.toml")
    assert "sources" not in plain.resolution_inputs()


def test_bad_deb_spec_entries_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"tools\.deb:jq\.version: 'not a version' is not a Debian version"):
        parse('[tools]\n"deb:jq" = "not a version"\n', tmp_path / "devshell.toml")
    with pytest.raises(SpecError, match=r"sources\.deb\.suit: unknown key") as err:
        parse('[sources.deb]\nsuit = "x"\n', tmp_path / "devshell.toml")
    assert "did you mean 'suite'?" in (err.value.hint or "")
    with pytest.raises(SpecError, match="only url tools take 'url'"):
        parse('[tools]\n"deb:jq" = { version = "latest", url = "http://127.0.0.1:1/x" }\n', tmp_path / "devshell.toml")


def _newer(archive_server: ArchiveServer) -> FakeArchive:
    """A second suite of the same archive, with its own libc6 and a newer jq."""
    newer = FakeArchive(archive_server, suite="newer-fake")
    newer.add(*[p for p in _base() if p.name not in ("jq", "libc6")],
              DebPackage("libc6", "2.41-12", depends="libgcc-s1", priority="required",
                         files={f"{LIB}/libc.so.6": b"\x7fELF libc 2.41"}),
              DebPackage("jq", "1.7.1-3", depends="libc6 (>= 2.38)", files={"usr/bin/jq": "#!/bin/sh\n"}))
    newer.publish()
    return newer


def test_a_tool_may_name_its_own_suite(tmp_path: Path, archive: FakeArchive,
                                       archive_server: ArchiveServer) -> None:
    archive.publish()
    _newer(archive_server)
    spec = parse('[shell]\nplatforms = ["x86_64-linux"]\n[sources.deb]\nsuite = "testing-fake"\n[tools]\n'
                 '"deb:jq" = { version = "latest", suite = "newer-fake" }\n"deb:hello" = "latest"\n',
                 tmp_path / "devshell.toml")
    ctx = context.for_spec(spec, home())
    jq, hello = (sources.get("deb").resolve(t, spec.shell.platforms, ctx) for t in spec.tools)
    # Each closure carries its own suite's libc6.
    versions = {name: {p.name: p.version for p in locked.artifact("x86_64-linux").closure}  # type: ignore[union-attr]
                for name, locked in (("jq", jq), ("hello", hello))}
    assert (jq.version, versions["jq"]["libc6"]) == ("1.7.1-3", "2.41-12")
    assert (hello.version, versions["hello"]["libc6"]) == ("2.10-3", "2.36-9")
    assert jq.inputs != _resolve(tmp_path, '"deb:jq" = "latest"\n').inputs


def test_a_tools_suite_is_checked(tmp_path: Path) -> None:
    jq = parse('[tools]\n"deb:jq" = { version = "latest", suite = "trixie" }\n', tmp_path / "devshell.toml").tools[0]
    plain = parse('[tools]\n"deb:jq" = "latest"\n', tmp_path / "devshell.toml").tools[0]
    assert jq.inputs()["suite"] == "trixie" and "suite" not in plain.inputs()
    for bad, why in (("3", "must be a string"), ('"../sid"', "is not a Debian suite"),
                     ('""', "is not a Debian suite")):
        with pytest.raises(SpecError, match=rf"tools\.deb:jq\.suite: .*{why}"):
            parse(f'[tools]\n"deb:jq" = {{ version = "latest", suite = {bad} }}\n', tmp_path / "devshell.toml")
    with pytest.raises(SpecError, match="only deb tools take 'suite'"):
        parse('[tools]\n"pypi:ruff" = { version = "latest", suite = "trixie" }\n', tmp_path / "devshell.toml")


# --- the real console script ---------------------------------------------------


def _project(tmp_path: Path, tools: str, suite: str = "testing-fake", platforms: str = '["x86_64-linux"]') -> Path:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "devshell.toml").write_text(
        f'[shell]\nplatforms = {platforms}\n\n[sources.deb]\nsuite = "{suite}"\n\n[tools]\n{tools}')
    return root


def _env(archive: FakeArchive, nogpgv: Path) -> dict[str, str]:
    return {"DEVSHELL_DEB_ARCHIVE": archive.url, "PATH": str(nogpgv)}


def _lock(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "devshell.lock").read_text())
    return data


def test_lock_end_to_end(tmp_path: Path, archive: FakeArchive, nogpgv: Path) -> None:
    archive.publish()
    root = _project(tmp_path, '"deb:hello" = "latest"\n', platforms=ALL4)
    proc = devshell("lock", cwd=root, env=_env(archive, nogpgv), check=True)
    assert "was not checked" in proc.stderr
    text = (root / "devshell.lock").read_text()
    tool = _lock(root)["tools"]["hello"]
    assert (tool["source"], tool["version"], tool["package"]) == ("deb", "2.10-3", "hello")
    art = tool["platforms"]["x86_64-linux"]
    assert art["url"] == "deb:pool/main/h/hello/hello_2.10-3_amd64.deb"
    assert art["unpack"] == {"format": "deb", "strip": 0}
    assert art["bin"] == ["usr/bin/hello", "usr/bin/hi"]
    assert art["index-verified"] is False
    assert [(p["name"], p["version"]) for p in art["closure"]] == [
        ("gcc-12-base", "12.2.0-14"), ("libc6", "2.36-9"), ("libgcc-s1", "12.2.0-14")]
    assert all(p["url"].startswith("deb:pool/") and p["integrity"].startswith("sha256-") for p in art["closure"])
    assert tool["platforms"]["aarch64-darwin"] == {"unavailable": "Debian packages run on Linux only"}
    assert "127.0.0.1" not in text and "http" not in text
    # Locking again changes nothing, byte for byte.
    devshell("lock", cwd=root, env=_env(archive, nogpgv), check=True)
    assert (root / "devshell.lock").read_text() == text
    # status keeps saying the index was not verified.
    status = devshell("status", cwd=root, env=_env(archive, nogpgv), check=True).stdout
    assert "unverified Debian index" in status


def test_a_relock_downloads_no_index_again(tmp_path: Path, archive: FakeArchive,
                                           archive_server: ArchiveServer, nogpgv: Path) -> None:
    archive.publish()
    root = _project(tmp_path, '"deb:jq" = "latest"\n')
    devshell("lock", cwd=root, env=_env(archive, nogpgv), check=True)
    dists = "/debian/dists/testing-fake/"
    assert archive_server.sent[dists + "InRelease"] == 1
    assert archive_server.sent[dists + "main/binary-amd64/Packages.xz"] == 1
    assert archive_server.sent["/debian/pool/main/j/jq/jq_1.6-2.1_amd64.deb"] == 1
    before = len(archive_server.headers)
    devshell("lock", "--update", cwd=root, env=_env(archive, nogpgv), check=True)
    # (`lock --update` then realises the lock, fetching the closure's .debs.)
    asked = [(path, headers) for path, headers in archive_server.headers[before:] if path.startswith(dists)]
    # Only the Release is asked "changed?" (answered 304): the index it names by
    # hash is reused unpacked.
    assert [path for path, _ in asked] == [dists + "InRelease"]
    # (and the suite has no -updates: its Release is looked for, and nothing else)
    assert {path for path, _ in archive_server.headers[before:] if "-updates/" in path} == {
        "/debian/dists/testing-fake-updates/InRelease", "/debian/dists/testing-fake-updates/Release"}
    assert all("If-None-Match" in headers and "If-Modified-Since" in headers for _, headers in asked)
    # No index body was sent a second time.
    assert archive_server.sent[dists + "InRelease"] == 1
    assert archive_server.sent[dists + "main/binary-amd64/Packages.xz"] == 1


def test_a_suite_change_makes_the_lock_stale_and_relocks(tmp_path: Path, archive: FakeArchive,
                                                         archive_server: ArchiveServer, nogpgv: Path) -> None:
    archive.publish()
    newer = FakeArchive(archive_server, suite="newer-fake")
    newer.add(*[p for p in _base() if p.name != "jq"],
              DebPackage("jq", "1.7.1-3", depends="libc6", files={"usr/bin/jq": "#!/bin/sh\n"}))
    newer.publish()
    root = _project(tmp_path, '"deb:jq" = "latest"\n')
    devshell("lock", cwd=root, env=_env(archive, nogpgv), check=True)
    assert _lock(root)["tools"]["jq"]["version"] == "1.6-2.1"
    spec = (root / "devshell.toml").read_text().replace('"testing-fake"', '"newer-fake"')
    (root / "devshell.toml").write_text(spec)
    stale = devshell("run", "--locked", "--", "jq", cwd=root, env=_env(archive, nogpgv))
    assert stale.returncode == 4
    devshell("lock", cwd=root, env=_env(archive, nogpgv), check=True)
    assert _lock(root)["tools"]["jq"]["version"] == "1.7.1-3"


def test_a_tools_suite_change_makes_the_lock_stale_and_relocks(
        tmp_path: Path, archive: FakeArchive, archive_server: ArchiveServer, nogpgv: Path) -> None:
    archive.publish()
    _newer(archive_server)
    root = _project(tmp_path, '"deb:jq" = { version = "latest", suite = "testing-fake" }\n')
    devshell("lock", cwd=root, env=_env(archive, nogpgv), check=True)
    assert _lock(root)["tools"]["jq"]["version"] == "1.6-2.1"
    spec = (root / "devshell.toml").read_text().replace('suite = "testing-fake" }', 'suite = "newer-fake" }')
    (root / "devshell.toml").write_text(spec)
    assert devshell("run", "--locked", "--", "jq", cwd=root, env=_env(archive, nogpgv)).returncode == 4
    devshell("lock", cwd=root, env=_env(archive, nogpgv), check=True)
    assert _lock(root)["tools"]["jq"]["version"] == "1.7.1-3"


def test_a_program_from_the_security_archive_is_locked_and_runs(
        tmp_path: Path, archive: FakeArchive, archive_server: ArchiveServer, security: FakeArchive,
        nogpgv: Path) -> None:
    archive.publish()
    security.add(DebPackage("hello", "2.10-3+deb1u1", depends="libc6 (>= 2.34)",
                            files={"usr/bin/hello": '#!/bin/sh\necho "fixed hello $*"\n'}))
    security.publish()
    root = _project(tmp_path, '"deb:hello" = "latest"\n')
    env = {**_env(archive, nogpgv), "DEVSHELL_DEB_SECURITY_ARCHIVE": security.url}
    devshell("lock", cwd=root, env=env, check=True)
    text = (root / "devshell.lock").read_text()
    art = _lock(root)["tools"]["hello"]["platforms"]["x86_64-linux"]
    assert art["url"] == "deb-security:pool/main/h/hello/hello_2.10-3+deb1u1_amd64.deb"
    assert "127.0.0.1" not in text and "http" not in text
    proc = devshell("run", "--", "hello", "world", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "fixed hello world\n"
    assert archive_server.sent["/debian-security/pool/main/h/hello/hello_2.10-3+deb1u1_amd64.deb"] == 1


def test_a_repair_fetches_from_the_security_archive_it_was_realised_from(
        tmp_path: Path, archive: FakeArchive, archive_server: ArchiveServer, security: FakeArchive,
        nogpgv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import stat

    archive.publish()
    security.add(DebPackage("hello", "2.10-3+deb1u1", depends="libc6 (>= 2.34)",
                            files={"usr/bin/hello": '#!/bin/sh\necho "fixed hello $*"\n'}))
    security.publish()
    root = _project(tmp_path, '"deb:hello" = "latest"\n')
    env = {**_env(archive, nogpgv), "DEVSHELL_DEB_SECURITY_ARCHIVE": security.url}
    devshell("install", cwd=root, env=env, check=True)
    out = Path(devshell("store", "path", "hello", cwd=root, env=env, check=True).stdout.strip())
    program = out / "usr" / "bin" / "hello"
    os.chmod(program.parent, 0o755)
    os.chmod(program, 0o755)
    program.write_text("#!/bin/sh\necho damaged\n")
    for cached in (Path(os.environ["DEVSHELL_HOME"]) / "cache" / "downloads").iterdir():
        cached.unlink()  # the repair must go to the archives
    shutil.rmtree(root)  # and find them from what the output's manifest recorded
    monkeypatch.delenv("DEVSHELL_DEB_ARCHIVE")
    monkeypatch.delenv("DEVSHELL_DEB_SECURITY_ARCHIVE")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    deb = "/debian-security/pool/main/h/hello/hello_2.10-3+deb1u1_amd64.deb"
    before = archive_server.sent[deb]
    proc = devshell("verify", "--all", "--repair", cwd=elsewhere, env={"PATH": str(nogpgv)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert archive_server.sent[deb] == before + 1
    assert program.read_text() == '#!/bin/sh\necho "fixed hello $*"\n'
    assert not program.stat().st_mode & stat.S_IWUSR


def test_lock_errors_exit_with_their_family_code(tmp_path: Path, archive: FakeArchive, nogpgv: Path) -> None:
    archive.publish(tamper={"main/binary-amd64/Packages.xz": "1" * 64})
    root = _project(tmp_path, '"deb:jq" = "latest"\n')
    proc = devshell("lock", cwd=root, env=_env(archive, nogpgv))
    assert proc.returncode == 5 and "hash mismatch" in proc.stderr and "Traceback" not in proc.stderr
    archive.publish()
    root = _project(tmp_path, '"deb:jqq" = "latest"\n')
    proc = devshell("lock", cwd=root, env=_env(archive, nogpgv))
    assert proc.returncode == 3 and "did you mean 'jq'?" in proc.stderr


def test_a_locked_shell_script_program_runs(tmp_path: Path, archive: FakeArchive, nogpgv: Path) -> None:
    archive.publish()
    root = _project(tmp_path, '"deb:hello" = "latest"\n')
    devshell("lock", cwd=root, env=_env(archive, nogpgv), check=True)
    proc = devshell("run", "--", "hello", "world", cwd=root, env={"DEVSHELL_DEB_ARCHIVE": archive.url})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello from deb world\n"


def test_fetch_errors_name_the_archive(tmp_path: Path, archive: FakeArchive, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_RETRIES", "0")
    monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", "http://127.0.0.1:9/debian/")
    with pytest.raises(FetchError, match=r"127\.0\.0\.1:9/debian/dists/testing-fake/InRelease"):
        _resolve(tmp_path, '"deb:jq" = "latest"\n')
