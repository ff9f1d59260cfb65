"""A pinned CPython (`python = "3.13"`): python-build-standalone's builds through
a loopback mirror laid out as the vendor's releases, Debian's python3.X from a
loopback archive, one version on every platform, each platform from the first
route that has it."""

from __future__ import annotations

import base64
import hashlib
import json
import marshal
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devshell import context, sources
from devshell.errors import FetchError, SpecError
from devshell.home import home
from devshell.lock import Artifact, LockedTool, Unavailable
from devshell.spec import parse
from tests.debian_archive import ArchiveServer, DebPackage, FakeArchive
from tests.helpers import devshell
from tests.loopback import LoopbackServer
from tests.pbs_mirror import (
    TARGETS,
    VENV_HOME_LINE,
    PbsMirror,
    fake_build,
    host_build,
)

ALL = '["x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"]'
TAG = "20241206"
NOWHERE = "http://127.0.0.1:9/"  # the discard port: nothing answers
MODULES = "ssl, sqlite3, ctypes, zlib, lzma, bz2, venv"


def _sri(body: bytes) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def _per_target(version: str) -> dict[str, bytes]:
    return {plat: fake_build(version, target) for plat, target in TARGETS.items()}


def _debian_python(minor: str, version: str) -> list[DebPackage]:
    """Debian's python3.X-venv → python3.X → python3.X-minimal (the interpreter)."""
    return [
        DebPackage(f"python{minor}-venv", version, arch="all", depends=f"python{minor} (= {version})",
                   files={f"usr/lib/python{minor}/ensurepip/__init__.py": "# ensurepip\n"}),
        DebPackage(f"python{minor}", version, arch="all", depends=f"python{minor}-minimal (= {version})"),
        DebPackage(f"python{minor}-minimal", version, arch="all",
                   files={f"usr/bin/python{minor}": f'#!/bin/sh\necho "debian CPython {version} $*"\n'}),
    ]


@pytest.fixture
def mirror(server: LoopbackServer) -> PbsMirror:
    pbs = PbsMirror(server)
    pbs.configure()
    return pbs


@pytest.fixture
def debian(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeArchive]:
    """An unsigned archive; no gpgv on PATH, so it is locked as index-verified: false."""
    srv = ArchiveServer().start()
    try:
        archive = FakeArchive(srv, archs=("amd64", "arm64"))
        monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", archive.url)
        (tmp_path / "no-gpgv").mkdir()
        monkeypatch.setenv("PATH", str(tmp_path / "no-gpgv"))
        yield archive
    finally:
        srv.stop()


def _spec(root: Path, version: str, platforms: str = ALL, more: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "devshell.toml"
    path.write_text(f'[shell]\nplatforms = {platforms}\n\n[sources.deb]\nsuite = "testing-fake"\n'
                    f'updates = false\nsecurity = false\n{more}\n'
                    f'[tools]\npython = "{version}"\n')
    return path


def _resolve(tmp_path: Path, version: str, platforms: str = ALL, more: str = "") -> LockedTool:
    spec = parse(_spec(tmp_path / "proj", version, platforms, more).read_text(), tmp_path / "proj" / "devshell.toml")
    tool = spec.tools[0]
    assert tool.source == "cpython"
    return sources.get("cpython").resolve(tool, spec.shell.platforms, context.for_spec(spec, home()))


def _artifact(locked: LockedTool, plat: str) -> Artifact:
    found = locked.artifact(plat)
    assert isinstance(found, Artifact), found
    return found


def _unavailable(locked: LockedTool, plat: str) -> str:
    found = locked.artifact(plat)
    assert isinstance(found, Unavailable), found
    return found.reason


def _lock(root: Path) -> dict[str, object]:
    data = json.loads((root / "devshell.lock").read_text())
    tool: dict[str, object] = data["tools"]["python"]
    return tool


# --- the vendor's builds --------------------------------------------------------------


def test_python_comes_from_the_vendor_release_on_every_platform_and_runs(
        tmp_path: Path, server: LoopbackServer, mirror: PbsMirror, debian: FakeArchive) -> None:
    builds = {"3.12.8": _per_target("3.12.8"), "3.13.0": _per_target("3.13.0"), "3.13.1": _per_target("3.13.1")}
    mirror.release(TAG, builds)  # type: ignore[arg-type]
    debian.add(*_debian_python("3.13", "3.13.1-2"))  # the same version: the vendor's route comes first
    debian.publish()
    root = tmp_path / "proj"
    _spec(root, "3.13")
    devshell("lock", cwd=root, check=True)
    locked = _lock(root)
    assert (locked["source"], locked["version"], locked["constraint"]) == ("cpython", "3.13.1", "3.13")
    entries = locked["platforms"]
    assert isinstance(entries, dict)
    for plat, target in TARGETS.items():
        entry = entries[plat]
        assert entry["url"] == f"cpython:{TAG}/cpython-3.13.1+{TAG}-{target}-install_only.tar.gz"
        assert entry["integrity"] == _sri(builds["3.13.1"][plat])
        assert entry["unpack"] == {"format": "cpython", "strip": 1}
        assert entry["bin"] == ["python=bin/python3.13", "python3=bin/python3.13", "python3.13=bin/python3.13"]
        assert entry["env"] == {"HATCH_PYTHON": "{out}/bin/python3.13",
                                "UV_PYTHON": "3.13.1", "UV_PYTHON_DOWNLOADS": "never",
                                "UV_PYTHON_PREFERENCE": "only-system"}
    assert "127.0.0.1" not in (root / "devshell.lock").read_text()  # the lock names no mirror

    for program in ("python", "python3", "python3.13"):
        proc = devshell("run", "--", program, "-V", cwd=root, check=True)
        assert proc.stdout == "fake CPython 3.13.1 x86_64-unknown-linux-gnu -V\n"
    # Only this machine's archive was fetched, asked for as the vendor names it (%2B).
    assert server.hits[mirror.asset_path(TAG, f"cpython-3.13.1+{TAG}-x86_64-unknown-linux-gnu-install_only.tar.gz")] == 1
    assert "%2B" in mirror.asset_path(TAG, "a+b")
    assert server.hits[mirror.asset_path(TAG, f"cpython-3.13.1+{TAG}-aarch64-apple-darwin-install_only.tar.gz")] == 0

    env = json.loads(devshell("env", "--format", "json", cwd=root, check=True).stdout)
    store = str(Path(os.environ["DEVSHELL_HOME"]) / "store") + "/"
    assert env["HATCH_PYTHON"].startswith(store) and env["HATCH_PYTHON"].endswith("/bin/python3.13")
    assert (env["UV_PYTHON"], env["UV_PYTHON_DOWNLOADS"]) == ("3.13.1", "never")


def test_the_newest_version_every_platform_has_is_the_one_pinned(tmp_path: Path, mirror: PbsMirror,
                                                               debian: FakeArchive) -> None:
    debian.publish()
    linux_only = {p: fake_build("3.13.2") for p in ("x86_64-linux", "aarch64-linux")}
    mirror.release(TAG, {"3.13.1": fake_build("3.13.1"), "3.13.2": linux_only})
    everywhere = _resolve(tmp_path, "3.13")
    assert everywhere.version == "3.13.1"
    assert all(isinstance(a, Artifact) for _, a in everywhere.platforms)
    assert _resolve(tmp_path, "3.13", '["x86_64-linux", "aarch64-linux"]').version == "3.13.2"


def test_a_version_only_debian_has_fills_linux_and_says_why_macos_has_none(
        tmp_path: Path, mirror: PbsMirror, debian: FakeArchive) -> None:
    mirror.release(TAG, {"3.13.1": fake_build("3.13.1")})
    debian.add(*_debian_python("3.13", "3.13.0-1"))
    debian.publish()
    locked = _resolve(tmp_path, "3.13.0")
    assert (locked.source, locked.version) == ("cpython", "3.13.0")
    linux = _artifact(locked, "x86_64-linux")
    assert linux.url == "deb:pool/main/p/python3.13-venv/python3.13-venv_3.13.0-1_all.deb"
    assert [p.name for p in linux.closure] == ["python3.13", "python3.13-minimal"]
    assert linux.bin == ("python=usr/bin/python3.13", "python3=usr/bin/python3.13", "python3.13=usr/bin/python3.13")
    assert dict(linux.env)["HATCH_PYTHON"] == "{out}/usr/bin/python3.13"
    assert "PYTHONHOME" not in dict(linux.env)  # a Debian Python finds its venvs' home itself
    assert linux.output.endswith("-python-3.13.0")
    assert isinstance(locked.artifact("aarch64-linux"), Artifact)
    reason = _unavailable(locked, "aarch64-darwin")
    assert reason.startswith("no route has CPython 3.13.0 for aarch64-darwin: ")
    assert f"python-build-standalone release {TAG} has 3.13.1 for aarch64-darwin" in reason
    assert "Debian: Debian packages run on Linux only" in reason


def test_debian_fills_linux_when_the_vendor_cannot_be_reached(tmp_path: Path, server: LoopbackServer,
                                                             debian: FakeArchive) -> None:
    mirror = PbsMirror(server)
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "devshell" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[mirrors]\n" + "".join(f'"{k}" = "{NOWHERE}"\n' for k in mirror.mirrors()))
    debian.add(*_debian_python("3.13", "3.13.1-2"), *_debian_python("3.11", "3.11.2-6+deb12u6"))
    debian.publish()
    root = tmp_path / "proj"
    _spec(root, "latest")
    proc = devshell("lock", cwd=root, env={"DEVSHELL_HTTP_RETRIES": "0"}, check=True)
    assert "devshell: note: tools.python: skipping python-build-standalone: its latest release cannot be read" \
        in proc.stderr
    locked = _lock(root)
    assert locked["version"] == "3.13.1"
    entries = locked["platforms"]
    assert isinstance(entries, dict)
    assert entries["x86_64-linux"]["url"].startswith("deb:pool/main/p/python3.13-venv/")
    assert entries["x86_64-darwin"]["unavailable"].startswith("no route has CPython 3.13.1 for x86_64-darwin: ")
    # The lock says which route was out of reach, never where it was nor how it failed.
    assert entries["x86_64-darwin"]["unavailable"] == (
        "no route has CPython 3.13.1 for x86_64-darwin: Debian: Debian packages run on Linux only; "
        "python-build-standalone could not be reached when this was locked")
    proc = devshell("run", "--", "python", "-V", cwd=root, check=True)
    assert proc.stdout == "debian CPython 3.13.1-2 -V\n"


def test_a_debian_suite_of_its_own_for_python(tmp_path: Path, mirror: PbsMirror, debian: FakeArchive) -> None:
    mirror.release(TAG, {"3.13.1": fake_build("3.13.1")})
    debian.publish()  # testing-fake: no Python at all
    other = FakeArchive(debian.server, suite="newer-fake", archs=("amd64",))
    other.add(*_debian_python("3.13", "3.13.0-1"))
    other.publish()
    locked = _resolve(tmp_path, "3.13.0", '["x86_64-linux"]', '[sources.cpython]\nsuite = "newer-fake"\n')
    assert _artifact(locked, "x86_64-linux").url.endswith("python3.13-venv_3.13.0-1_all.deb")
    plain = _resolve(tmp_path, "3.13", '["x86_64-linux"]')
    assert locked.inputs != plain.inputs  # the suite is part of what re-resolves python


def test_a_pinned_release_is_read_instead_of_the_latest(tmp_path: Path, server: LoopbackServer,
                                                       mirror: PbsMirror, debian: FakeArchive) -> None:
    debian.publish()
    mirror.release("20240814", {"3.12.5": fake_build("3.12.5")}, latest=False)
    mirror.release(TAG, {"3.12.8": fake_build("3.12.8")})
    latest = server.hits[mirror.prefix + "/latest-release/latest-release.json"]
    locked = _resolve(tmp_path, "3.12", more='[sources.cpython]\nrelease = "20240814"\n')
    assert locked.version == "3.12.5"
    assert _artifact(locked, "x86_64-darwin").url == \
        "cpython:20240814/cpython-3.12.5+20240814-x86_64-apple-darwin-install_only.tar.gz"
    assert server.hits[mirror.prefix + "/latest-release/latest-release.json"] == latest
    assert _resolve(tmp_path, "3.12").version == "3.12.8"


# --- bad input ------------------------------------------------------------------------


def test_an_interpreter_version_no_route_has_is_one_clear_line(tmp_path: Path, mirror: PbsMirror,
                                                               debian: FakeArchive) -> None:
    mirror.release(TAG, {"3.12.8": fake_build("3.12.8"), "3.13.1": fake_build("3.13.1")})
    debian.add(*_debian_python("3.11", "3.11.2-6+deb12u6"))
    debian.publish()
    root = tmp_path / "proj"
    _spec(root, "3.9")
    proc = devshell("lock", cwd=root)
    assert proc.returncode == 3, proc.stderr
    # The deb source's own warning (an unsigned test archive) aside, one line and its hint.
    first, *rest = [line for line in proc.stderr.splitlines() if not line.startswith("devshell: warning: ")]
    assert first == (f"devshell: error: tools.python: no route has a CPython matching '3.9': "
                     f"python-build-standalone release {TAG} has 3.12.8, 3.13.1; Debian has no python3.9-venv")
    assert len(rest) == 1 and rest[0].startswith("  hint: ") and "Traceback" not in proc.stderr
    assert not (root / "devshell.lock").exists()
    assert not (Path(os.environ["DEVSHELL_HOME"]) / "store").exists() or \
        not any((Path(os.environ["DEVSHELL_HOME"]) / "store").iterdir())


def test_bad_cpython_settings_are_spec_errors(tmp_path: Path) -> None:
    path = tmp_path / "devshell.toml"
    with pytest.raises(SpecError, match=r"sources\.cpython\.release: '\.\./x' is not a release tag"):
        parse('[sources.cpython]\nrelease = "../x"\n[tools]\npython = "3.13"\n', path)
    with pytest.raises(SpecError, match=r"sources\.cpython\.suite: 'a b' is not a Debian suite"):
        parse('[sources.cpython]\nsuite = "a b"\n', path)
    with pytest.raises(SpecError, match=r"sources\.cpython\.relase: unknown key") as err:
        parse('[sources.cpython]\nrelase = "20241206"\n', path)
    assert "did you mean 'release'?" in (err.value.hint or "")


@pytest.mark.parametrize(("doc", "what"), [
    ({"version": 2, "tag": TAG}, "not a latest-release.json of format version 1"),
    ({"version": 1, "tag": "../../etc"}, "is not a release tag"),
    ({"version": 1}, "None is not a release tag"),
    (["not", "an", "object"], "not a latest-release.json"),
])
def test_a_malformed_latest_release_is_a_fetch_error(tmp_path: Path, mirror: PbsMirror, debian: FakeArchive,
                                                     doc: object, what: str) -> None:
    debian.publish()
    mirror.release(TAG, {"3.13.1": fake_build("3.13.1")})
    mirror.latest(TAG, doc)
    with pytest.raises(FetchError, match=what) as err:
        _resolve(tmp_path, "3.13")
    assert mirror.latest_url in err.value.message


def test_a_sha256sums_naming_one_file_twice_is_refused(tmp_path: Path, mirror: PbsMirror,
                                                      debian: FakeArchive) -> None:
    debian.publish()
    name = f"cpython-3.13.1+{TAG}-x86_64-unknown-linux-gnu-install_only.tar.gz"
    mirror.release(TAG, {"3.13.1": fake_build("3.13.1")}, sums=f"{'a' * 64}  {name}\n{'b' * 64}  {name}\n")
    with pytest.raises(FetchError, match=r"names .* again"):
        _resolve(tmp_path, "3.13")


def test_an_edited_cpython_lock_url_is_refused(tmp_path: Path) -> None:
    from devshell.sources.locate import Upstreams

    with pytest.raises(FetchError, match="not a python-build-standalone release file"):
        sources.get("cpython").locate("../../etc/passwd", Upstreams(), "cpython")


# --- pins and mirrors -----------------------------------------------------------------


def test_a_pin_never_moves_when_a_newer_release_appears(tmp_path: Path, server: LoopbackServer,
                                                        mirror: PbsMirror, debian: FakeArchive) -> None:
    debian.publish()
    mirror.release(TAG, {"3.13.1": fake_build("3.13.1")})
    root = tmp_path / "proj"
    _spec(root, "3.13", '["x86_64-linux"]')
    devshell("lock", cwd=root, check=True)
    before = (root / "devshell.lock").read_bytes()
    mirror.release("20250101", {"3.13.2": fake_build("3.13.2")})
    asked = server.hits[mirror.prefix + "/latest-release/latest-release.json"]
    devshell("lock", cwd=root, check=True)
    assert (root / "devshell.lock").read_bytes() == before
    assert server.hits[mirror.prefix + "/latest-release/latest-release.json"] == asked
    proc = devshell("lock", "--update", "python", cwd=root, check=True)
    assert "python: 3.13.1 → 3.13.2" in proc.stderr
    assert _lock(root)["version"] == "3.13.2"


def test_a_lock_is_realised_through_this_machines_own_mirror(tmp_path: Path, mirror: PbsMirror,
                                                            debian: FakeArchive) -> None:
    debian.publish()
    mirror.release(TAG, {"3.13.1": fake_build("3.13.1")})
    root = tmp_path / "proj"
    _spec(root, "3.13", '["x86_64-linux"]')
    devshell("lock", cwd=root, check=True)
    other = LoopbackServer().start()
    try:
        second = PbsMirror(other, prefix="/elsewhere")
        second.release(TAG, {"3.13.1": fake_build("3.13.1")})
        second.configure()  # this machine now reaches the vendor through `other` only
        proc = devshell("run", "--locked", "--", "python3", "ok", cwd=root, check=True)
        assert proc.stdout == "fake CPython 3.13.1  ok\n"
        name = f"cpython-3.13.1+{TAG}-x86_64-unknown-linux-gnu-install_only.tar.gz"
        assert other.hits[second.asset_path(TAG, name)] == 1
    finally:
        other.stop()


# --- the cpython format, and a real interpreter ------------------------------------------


def test_the_cpython_format_has_venv_record_the_interpreters_real_home(
        tmp_path: Path, mirror: PbsMirror, debian: FakeArchive) -> None:
    debian.publish()
    mirror.release(TAG, {"3.13.1": fake_build("3.13.1")})
    root = tmp_path / "proj"
    _spec(root, "3.13", '["x86_64-linux"]')
    devshell("lock", cwd=root, check=True)
    entry = _lock(root)["platforms"]["x86_64-linux"]  # type: ignore[index]
    assert (entry["unpack"], entry["fixups"]) == ({"format": "cpython", "strip": 1},
                                                     ["venv-realpath-1", "python-bytecode-1"])
    assert entry["bin"] == ["python=bin/python3.13", "python3=bin/python3.13", "python3.13=bin/python3.13"]
    assert "PYTHONHOME" not in entry["env"]
    assert devshell("run", "--", "python", "-V", cwd=root, check=True).stdout == "fake CPython 3.13.1  -V\n"
    venv = Path(os.environ["DEVSHELL_HOME"]) / "store" / entry["output"] / "lib" / "python3.13" / "venv"
    assert (venv / "__init__.py").read_text() == VENV_HOME_LINE.replace("abspath", "realpath")


def _host_python_project(tmp_path: Path, mirror: PbsMirror) -> tuple[Path, str, str, dict[str, str]]:
    """A project pinning the host's own CPython, packed and served as a
    python-build-standalone build: (root, version, platform, env)."""
    built = host_build()
    assert built is not None
    version, archive = built
    plat = {"x86_64": "x86_64-linux", "aarch64": "aarch64-linux"}[platform.machine()]
    mirror.release(TAG, {version: {plat: archive}})
    root = tmp_path / "proj"
    _spec(root, version, f'["{plat}"]')
    return root, version, plat, {"DEVSHELL_PLATFORM": plat, "DEVSHELL_DEB_ARCHIVE": NOWHERE,
                                 "DEVSHELL_HTTP_RETRIES": "0"}


@pytest.mark.skipif(not Path("/usr/bin/python3").exists() or not sys.platform.startswith("linux"),
                    reason="needs the host's /usr/bin/python3 on Linux to pack as a python-build-standalone build")
def test_the_pinned_interpreter_makes_a_venv_in_a_pure_shell(tmp_path: Path, mirror: PbsMirror) -> None:
    root, version, _, env = _host_python_project(tmp_path, mirror)
    devshell("lock", cwd=root, env=env, check=True, timeout=300)
    probe = f"import sys, {MODULES}; print(sys.prefix); print(sys.base_prefix); print(sys.version.split()[0])"
    store = str(Path(os.environ["DEVSHELL_HOME"]) / "store") + "/"
    devshell("run", "--", "python", "-m", "venv", ".venv", cwd=root, env=env, check=True, timeout=300)
    cfg = dict(line.split(" = ", 1) for line in (root / ".venv" / "pyvenv.cfg").read_text().splitlines())
    assert cfg["home"].startswith(store) and "-profile-" not in cfg["home"]
    # The venv stands on its own: run outside devshell, nothing set.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = subprocess.run([str(root / ".venv" / "bin" / "python"), "-c", probe], env=clean, capture_output=True,
                         text=True, check=True, timeout=60).stdout.split()
    assert out[0] == str(root / ".venv") and out[1].startswith(store) and out[2] == version
    assert (root / ".venv" / "bin" / "pip").exists()  # ensurepip ran, on the pinned interpreter


@pytest.mark.skipif(not Path("/usr/bin/python3").exists() or not sys.platform.startswith("linux"),
                    reason="needs the host's /usr/bin/python3 on Linux to pack as a python-build-standalone build")
def test_the_standard_library_comes_compiled_and_running_python_changes_nothing(
        tmp_path: Path, mirror: PbsMirror) -> None:
    root, version, plat, env = _host_python_project(tmp_path, mirror)
    devshell("install", cwd=root, env=env, check=True, timeout=300)
    out = Path(os.environ["DEVSHELL_HOME"]) / "store" / _lock(root)["platforms"][plat]["output"]  # type: ignore[index]
    x = ".".join(version.split(".")[:2])
    pyc = out / "lib" / f"python{x}" / "__pycache__" / f"os.cpython-{x.replace('.', '')}.pyc"
    head = pyc.read_bytes()[:16]
    assert int.from_bytes(head[4:8], "little") == 0b01  # hash-based, never checked against the source
    code = marshal.loads(pyc.read_bytes()[16:])
    assert code.co_filename == str(out / "lib" / f"python{x}" / "os.py")  # the final path, not the temp dir
    # Run from the store (as root, nothing stops a write): it finds what it
    # needs compiled and writes nothing, so the output is as it was made.
    devshell("run", "--", "python", "-c", "import json, subprocess, email.parser", cwd=root, env=env, check=True)
    assert devshell("verify", cwd=root, env=env).returncode == 0


def test_devshell_add_python_pins_the_newest_minor_series(tmp_path: Path, mirror: PbsMirror,
                                                          debian: FakeArchive) -> None:
    debian.publish()
    mirror.release(TAG, {"3.12.8": fake_build("3.12.8"), "3.13.1": fake_build("3.13.1")})
    root = tmp_path / "proj"
    _spec(root, "3.12")
    text = (root / "devshell.toml").read_text().replace('python = "3.12"\n', "")
    (root / "devshell.toml").write_text(text)
    devshell("add", "python", cwd=root, check=True)
    assert 'python = "3.13"' in (root / "devshell.toml").read_text()
    assert _lock(root)["version"] == "3.13.1"
    assert devshell("run", "--", "python3.13", "ok", cwd=root, check=True).stdout.startswith("fake CPython 3.13.1")
