"""Realising a `deb` artifact: a package and its closure, verified, unpacked
safely into one output, and relocated so its programs run from the store with
the closure's own loader and libraries, whatever the host has."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from devshell import store
from devshell.debian import elf
from devshell.errors import IntegrityError, StoreError, UnsafeArchiveError
from devshell.home import Home
from devshell.lock import Artifact, Part, output_name
from tests.helpers import DEVSHELL
from tests.loopback import LoopbackServer

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("cc") is None
    or shutil.which("dpkg-deb") is None or shutil.which("readelf") is None,
    reason="needs Linux with cc, dpkg-deb and readelf",
)

GREETING = "hello from libgreet"


# --- building packages --------------------------------------------------------


def _host_libc() -> tuple[str, Path, Path]:
    """(the host's PT_INTERP, its loader file, its libc.so.6): what a fake libc6 copies."""
    with open(sys.executable, "rb") as f:
        info = elf.read(f)
    assert info is not None and info.interpreter, "python is not a dynamic ELF program"
    maps = Path("/proc/self/maps").read_text().split()
    libc = next(Path(w) for w in maps if w.endswith("/libc.so.6"))
    return info.interpreter, Path(os.path.realpath(info.interpreter)), Path(os.path.realpath(libc))


def _triplet() -> str:
    return _host_libc()[2].parent.name  # e.g. x86_64-linux-gnu


def dpkg_deb(root: Path, name: str, version: str, out: Path, compression: str = "xz",
             scripts: dict[str, str] | None = None) -> bytes:
    """Build a real .deb from the tree at `root` with dpkg-deb."""
    debian = root / "DEBIAN"
    debian.mkdir(parents=True, exist_ok=True)
    (debian / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Test <test@example.org>\nDescription: test package\n")
    for script_name, text in (scripts or {}).items():
        (debian / script_name).write_text(text)
        (debian / script_name).chmod(0o755)
    deb = out / f"{name}_{version}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build",
                    str(root), str(deb)], check=True, capture_output=True)
    return deb.read_bytes()


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = [b"!<arch>\n"]
    for name, data in members:
        out.append(f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode())
        out.append(data + (b"\n" if len(data) % 2 else b""))
    return b"".join(out)


@dataclass
class Entry:
    """One data.tar member of a hand-made .deb."""

    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    mode: int = 0o644
    link: str = ""


def handmade_deb(entries: list[Entry], name: str = "evil") -> bytes:
    """A .deb built byte by byte, so it can hold what dpkg-deb would refuse."""

    def tar(items: list[Entry]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as t:
            for e in items:
                info = tarfile.TarInfo(e.name)
                info.type, info.mode, info.linkname = e.kind, e.mode, e.link
                info.size = len(e.data) if e.kind == tarfile.REGTYPE else 0
                t.addfile(info, io.BytesIO(e.data) if e.kind == tarfile.REGTYPE else None)
        return buf.getvalue()

    control = tar([Entry("./control", f"Package: {name}\nVersion: 1\n".encode())])
    return _ar([("debian-binary", b"2.0\n"), ("control.tar.gz", control),
                ("data.tar.gz", tar(entries))])


@pytest.fixture(scope="module")
def greet_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """libgreet.so.1.0.0 (a shared library) and greet (a program linked
    against it), compiled with the host's cc."""
    work = tmp_path_factory.mktemp("greet-build")
    (work / "greet.c").write_text(f'const char *greeting(void) {{ return "{GREETING}"; }}\n')
    (work / "main.c").write_text(
        "#include <stdio.h>\nconst char *greeting(void);\n"
        "int main(void) { puts(greeting()); return 0; }\n")
    build = work / "build"
    build.mkdir()
    subprocess.run(["cc", "-shared", "-fPIC", "-Wl,-soname,libgreet.so.1", "-o",
                    str(build / "libgreet.so.1.0.0"), str(work / "greet.c")], check=True)
    (build / "libgreet.so").symlink_to("libgreet.so.1.0.0")
    subprocess.run(["cc", "-o", str(build / "greet"), str(work / "main.c"), f"-L{build}",
                    "-lgreet"], check=True)
    return build


@pytest.fixture(scope="module")
def greet_debs(tmp_path_factory: pytest.TempPathFactory, greet_build: Path) -> dict[str, bytes]:
    """greet (a program, in usr/bin), libgreet1 (the shared library it links
    against) and libc6 (the host's own loader and libc, in Debian's layout),
    built with dpkg-deb."""
    work = tmp_path_factory.mktemp("greet-debs")
    triplet = _triplet()
    build = greet_build
    debs = {}
    lib = work / "libgreet1" / "usr" / "lib" / triplet
    lib.mkdir(parents=True)
    shutil.copy(build / "libgreet.so.1.0.0", lib)
    (lib / "libgreet.so.1.0.0").chmod(0o444)  # read-only, as some packages ship them
    (lib / "libgreet.so.1").symlink_to("libgreet.so.1.0.0")
    debs["libgreet1"] = dpkg_deb(work / "libgreet1", "libgreet1", "1.0", work, "gzip")

    bindir = work / "greet" / "usr" / "bin"
    bindir.mkdir(parents=True)
    shutil.copy(build / "greet", bindir)
    (work / "greet" / "usr" / "libexec").mkdir()
    os.link(bindir / "greet", work / "greet" / "usr" / "libexec" / "greet-again")  # a hard link
    debs["greet"] = dpkg_deb(work / "greet", "greet", "1.0", work, "xz")

    interp, loader, libc = _host_libc()
    root = work / "libc6"
    libdir = root / "lib" / triplet
    libdir.mkdir(parents=True)
    shutil.copy(loader, libdir / Path(interp).name)
    shutil.copy(libc, libdir / "libc.so.6")
    link = root / interp.lstrip("/")
    if not link.exists():  # /lib64/ld-linux-x86-64.so.2 -> /lib/<triplet>/…, as in Debian
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(f"/lib/{triplet}/{Path(interp).name}")
    debs["libc6"] = dpkg_deb(root, "libc6", "2.0", work, "zstd")
    return debs


def _sri(data: bytes) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()


def serve_artifact(server: LoopbackServer, main: tuple[str, bytes],
                   closure: list[tuple[str, bytes]], bin: tuple[str, ...] = (),
                   fixups: tuple[str, ...] = ()) -> Artifact:
    """Serve the .debs and build the Artifact the deb source would lock for them."""
    urls = {name: server.add(f"/pool/{name}.deb", data) for name, data in [main, *closure]}
    parts = tuple(Part(name, "1.0", urls[name], _sri(data), len(data)) for name, data in closure)
    name, data = main
    shape = {"integrity": _sri(data), "closure": [p.to_json() for p in parts], "bin": list(bin),
             "fixups": list(fixups)}
    return Artifact(url=urls[name], integrity=_sri(data), size=len(data), format="deb",
                    strip=0, bin=bin, env=(), output=output_name(name, "1.0", shape),
                    closure=parts, fixups=fixups)


def _home() -> Home:
    return Home(Path(os.environ["DEVSHELL_HOME"]))


def _nothing_kept(home: Home) -> None:
    assert not home.store.exists() or list(home.store.iterdir()) == []
    assert not home.meta.exists() or list(home.meta.iterdir()) == []


# --- relocation -----------------------------------------------------------------


def test_program_runs_from_the_store_with_the_closures_loader_and_libraries(
        server: LoopbackServer, greet_debs: dict[str, bytes]) -> None:
    artifact = serve_artifact(
        server, ("greet", greet_debs["greet"]),
        [("libgreet1", greet_debs["libgreet1"]), ("libc6", greet_debs["libc6"])],
        bin=("usr/bin/greet",))
    out = store.add_artifact(_home(), artifact, "greet 1.0 (x86_64-linux)")
    assert out == _home().store / artifact.output

    # A pure environment: nothing but the output's bin directory.
    proc = subprocess.run(["greet"], env={"PATH": str(out / "usr/bin")}, capture_output=True,
                          text=True, check=True)
    assert proc.stdout == GREETING + "\n"

    program = out / "usr" / "bin" / "greet"
    headers = subprocess.run(["readelf", "-lW", str(program)], capture_output=True, text=True,
                             check=True).stdout
    interp = re.search(r"Requesting program interpreter: (\S+)\]", headers)
    assert interp is not None and interp.group(1).startswith(str(out) + "/")
    assert Path(interp.group(1)).is_file()
    dynamic = subprocess.run(["readelf", "-dW", str(program)], capture_output=True, text=True,
                             check=True).stdout
    runpath = re.search(r"\(RUNPATH\)\s+Library runpath: \[(.*)\]", dynamic)
    assert runpath is not None, dynamic
    assert f"{out}/usr/lib/{_triplet()}" in runpath.group(1).split(":")
    assert "(RPATH)" not in dynamic and "NODEFLIB" in dynamic

    # The loader the program asks for loads libc and libgreet from the output,
    # never the host's (libgreet never existed on the host anyway).
    traced = subprocess.run([str(program)], env={"LD_DEBUG": "libs"}, capture_output=True,
                            text=True, check=True)
    inits = re.findall(r"calling init: (\S+)", traced.stderr)
    assert any(p.endswith("/libgreet.so.1") for p in inits)
    assert any(p.endswith("/libc.so.6") for p in inits)
    assert all(p.startswith(str(out) + "/") for p in inits), inits

    # The library got an $ORIGIN-relative RUNPATH: it works wherever it is found.
    lib = subprocess.run(["readelf", "-dW", str(out / "usr" / "lib" / _triplet() / "libgreet.so.1")],
                         capture_output=True, text=True, check=True).stdout
    assert "$ORIGIN" in lib
    # The hard-linked second name is the same, relocated file.
    again = out / "usr" / "libexec" / "greet-again"
    assert os.path.samefile(again, program)
    assert subprocess.run([str(again)], env={}, capture_output=True, text=True,
                          check=True).stdout == GREETING + "\n"
    # The loader itself is never patched.
    loader = Path(interp.group(1))
    assert loader.read_bytes() == _host_libc()[1].read_bytes()
    # Debian's absolute symlink now points inside the output.
    interp_link = out / _host_libc()[0].lstrip("/")
    assert not os.readlink(interp_link).startswith("/")
    assert os.path.samefile(interp_link, loader)


@pytest.fixture(scope="module")
def usrmerged_libc6() -> bytes:
    """libc6 as Debian 13 ships it: the loader and libc under usr/lib/<triplet>,
    and the loader's ABI path only as usr/lib64/ld-linux-x86-64.so.2 (a link);
    /lib64 -> usr/lib64 is base-files' doing, and base-files is in no closure."""
    from tests.debian_archive import DebPackage, build_deb

    interp, loader, libc = _host_libc()
    triplet, name = _triplet(), Path(interp).name
    alias = "usr" + interp  # usr/lib64/ld-linux-x86-64.so.2 (usr/lib/ld-linux-aarch64.so.1)
    target = os.path.relpath(f"usr/lib/{triplet}/{name}", os.path.dirname(alias))
    return build_deb(DebPackage(
        "libc6", "2.41-12", priority="required",
        files={f"usr/lib/{triplet}/{name}": loader.read_bytes(),
               f"usr/lib/{triplet}/libc.so.6": libc.read_bytes()},
        symlinks={alias: target}))


def test_a_usrmerged_libc6_gives_its_loader_to_the_program(
        server: LoopbackServer, greet_debs: dict[str, bytes], usrmerged_libc6: bytes) -> None:
    artifact = serve_artifact(
        server, ("greet", greet_debs["greet"]),
        [("libgreet1", greet_debs["libgreet1"]), ("libc6", usrmerged_libc6)],
        bin=("usr/bin/greet",))
    out = store.add_artifact(_home(), artifact, "greet 1.0 (x86_64-linux)")
    proc = subprocess.run(["greet"], env={"PATH": str(out / "usr" / "bin")}, capture_output=True,
                          text=True, check=True)
    assert proc.stdout == GREETING + "\n"
    with open(out / "usr" / "bin" / "greet", "rb") as f:
        info = elf.read(f)
    assert info is not None and info.interpreter == f"{out}/usr/lib/{_triplet()}/{Path(_host_libc()[0]).name}"


SYSCONFIG = "usr/lib/python3.11/_sysconfigdata__linux_x86_64-linux-gnu.py"
VENV = "usr/lib/python3.11/venv/__init__.py"


@pytest.mark.parametrize("fixed", [True, False])
def test_a_pythons_paths_name_the_output(server: LoopbackServer, fixed: bool) -> None:
    """ensurepip (so `python -m venv`) reads its wheels from the directory the
    build configuration names, and a venv finds its standard library from the
    home it records; relocated, both are the output's, never the host's."""
    from devshell.debian.pyconfig import FIXUP
    from tests.debian_archive import DebPackage, build_deb

    text = ("# system configuration generated and used by the sysconfig module\n"
            "build_time_vars = {'BINDIR': '/usr/bin',\n"
            " 'CONFIG_ARGS': \"'--prefix=/usr' '--enable-shared'\",\n"
            " 'LDFLAGS': ('-L/usr/lib '\n '-Wl,-z,relro'),\n"
            " 'SIZEOF_INT': 4,\n"
            " 'WHEEL_PKG_DIR': '/usr/share/python-wheels/',\n"
            " 'prefix': '/usr'}\n")
    venv = ("        executable = sys._base_executable\n"
            "        dirname, exename = os.path.split(os.path.abspath(executable))\n")
    deb = build_deb(DebPackage("libpython3.11-stdlib", "3.11.2-6",
                               files={SYSCONFIG: text, VENV: venv},
                               symlinks={SYSCONFIG.replace("_linux_", ""): SYSCONFIG.rpartition("/")[2]}))
    artifact = serve_artifact(server, ("libpython3.11-stdlib", deb), [],
                              fixups=("relocate-elf-1", FIXUP) if fixed else ("relocate-elf-1",))
    out = store.add_artifact(_home(), artifact, "libpython3.11-stdlib 3.11.2-6")
    written = (out / SYSCONFIG).read_text()
    if not fixed:  # a lock from before this fix-up keeps the bytes it named
        assert written == text and (out / VENV).read_text() == venv
        return
    # A venv's home is the interpreter's own directory in the store, where its
    # standard library is found, not the profile's bin/ it was started from.
    assert (out / VENV).read_text() == venv.replace("os.path.abspath(executable)",
                                                    "os.path.realpath(executable)")
    found: dict[str, dict[str, object]] = {}
    exec(written, found)
    assert found["build_time_vars"] == {
        "BINDIR": f"{out}/usr/bin", "CONFIG_ARGS": "'--prefix=/usr' '--enable-shared'",
        "LDFLAGS": "-L/usr/lib -Wl,-z,relro", "SIZEOF_INT": 4,
        "WHEEL_PKG_DIR": f"{out}/usr/share/python-wheels/", "prefix": f"{out}/usr",
    }
    assert os.path.islink(out / SYSCONFIG.replace("_linux_", ""))


def test_a_program_without_its_loader_in_the_closure_is_refused(
        server: LoopbackServer, greet_debs: dict[str, bytes]) -> None:
    artifact = serve_artifact(server, ("greet", greet_debs["greet"]),
                              [("libgreet1", greet_debs["libgreet1"])], bin=("usr/bin/greet",))
    with pytest.raises(StoreError, match=r"usr/bin/greet cannot be relocated.*not in the closure"):
        store.add_artifact(_home(), artifact, "greet 1.0 (x86_64-linux)")
    _nothing_kept(_home())


def test_maintainer_scripts_are_never_run(tmp_path: Path, server: LoopbackServer) -> None:
    marker = tmp_path / "maintainer-script-ran"
    root = tmp_path / "pkg"
    (root / "usr" / "share" / "hooked").mkdir(parents=True)
    (root / "usr" / "share" / "hooked" / "data").write_text("data\n")
    scripts = dict.fromkeys(("preinst", "postinst"), f"#!/bin/sh\ntouch {marker}\n")
    deb = dpkg_deb(root, "hooked", "1.0", tmp_path, "none", scripts=scripts)
    out = store.add_artifact(_home(), serve_artifact(server, ("hooked", deb), []), "hooked 1.0")
    assert (out / "usr" / "share" / "hooked" / "data").read_text() == "data\n"
    assert not marker.exists()
    assert sorted(p.name for p in out.iterdir()) == ["usr"]  # no DEBIAN/, no control files


# --- safety ---------------------------------------------------------------------


def test_a_member_outside_the_output_is_refused_and_nothing_is_kept(
        tmp_path: Path, server: LoopbackServer) -> None:
    deb = handmade_deb([Entry("./usr/", kind=tarfile.DIRTYPE, mode=0o755),
                        Entry("./usr/ok", b"fine\n"), Entry("../evil", b"gotcha\n")])
    with pytest.raises(UnsafeArchiveError, match=r"evil.*outside the output"):
        store.add_artifact(_home(), serve_artifact(server, ("evil", deb), []), "evil 1.0")
    _nothing_kept(_home())
    assert not list(tmp_path.rglob("evil"))


def test_setuid_bits_are_dropped(server: LoopbackServer) -> None:
    deb = handmade_deb([Entry("./usr/bin/su-ish", b"#!/bin/sh\necho hi\n", mode=0o4755),
                        Entry("./usr/bin/sg-ish", b"#!/bin/sh\necho hi\n", mode=0o2755)])
    out = store.add_artifact(_home(), serve_artifact(server, ("setuid", deb), []), "setuid 1.0")
    for name in ("su-ish", "sg-ish"):
        mode = (out / "usr" / "bin" / name).stat().st_mode
        assert mode & 0o7000 == 0 and mode & 0o111


def test_two_packages_with_different_files_at_one_path_are_refused(
        server: LoopbackServer) -> None:
    one = handmade_deb([Entry("./usr/share/thing", b"one\n")], "one")
    two = handmade_deb([Entry("./usr/share/thing", b"two\n")], "two")
    with pytest.raises(StoreError, match=r"two 1\.0.* and one 1\.0.* both ship /usr/share/thing"):
        store.add_artifact(_home(), serve_artifact(server, ("one", one), [("two", two)]), "one 1.0")
    _nothing_kept(_home())


def test_packages_may_ship_identical_files_and_share_directories(
        server: LoopbackServer) -> None:
    one = handmade_deb([Entry("./usr/share/common", b"same\n"),
                        Entry("./usr/share/link", kind=tarfile.SYMTYPE, link="common"),
                        Entry("./usr/share/one", b"1\n")], "one")
    two = handmade_deb([Entry("./usr/share/common", b"same\n"),
                        Entry("./usr/share/link", kind=tarfile.SYMTYPE, link="common"),
                        Entry("./usr/share/two", b"2\n")], "two")
    out = store.add_artifact(_home(), serve_artifact(server, ("one", one), [("two", two)]), "one 1.0")
    assert sorted(p.name for p in (out / "usr" / "share").iterdir()) == ["common", "link", "one", "two"]


def test_absolute_links_are_kept_inside_the_output(server: LoopbackServer) -> None:
    deb = handmade_deb([Entry("./etc/real", b"conf\n"),
                        Entry("./usr/share/conf", kind=tarfile.SYMTYPE, link="/etc/real"),
                        Entry("./usr/share/root", kind=tarfile.SYMTYPE, link="/../..")])
    out = store.add_artifact(_home(), serve_artifact(server, ("abs", deb), []), "abs 1.0")
    assert os.readlink(out / "usr" / "share" / "conf") == "../../etc/real"
    assert (out / "usr" / "share" / "conf").read_text() == "conf\n"
    assert os.readlink(out / "usr" / "share" / "root") == "../.."


def test_a_later_package_writes_through_an_earlier_ones_directory_link(
        server: LoopbackServer) -> None:
    # Merged /usr, as newer Debian releases ship it: base-files makes lib -> usr/lib.
    base = handmade_deb([Entry("./usr/lib/", kind=tarfile.DIRTYPE, mode=0o755),
                         Entry("./lib", kind=tarfile.SYMTYPE, link="usr/lib")], "base")
    lib = handmade_deb([Entry("./lib/", kind=tarfile.DIRTYPE, mode=0o755),
                        Entry("./lib/libx.so.1", b"x\n")], "libx")
    out = store.add_artifact(_home(), serve_artifact(server, ("base", base), [("libx", lib)]), "base 1")
    assert os.readlink(out / "lib") == "usr/lib"
    assert (out / "usr" / "lib" / "libx.so.1").read_text() == "x\n"


def test_a_link_that_escapes_through_another_packages_link_is_refused(
        tmp_path: Path, server: LoopbackServer) -> None:
    # Each package alone stays inside; together, x/y/z is the root, so
    # x/y/z/w/up (four levels up from w) leaves it.
    a = handmade_deb([Entry("./x/y/z", kind=tarfile.SYMTYPE, link="../..")], "a")
    b = handmade_deb([Entry("./x/y/z/w/up", kind=tarfile.SYMTYPE, link="../../../..")], "b")
    c = handmade_deb([Entry("./x/y/z/w/up/evil", b"gotcha\n")], "c")
    with pytest.raises(UnsafeArchiveError, match=r"outside the output"):
        store.add_artifact(_home(), serve_artifact(server, ("a", a), [("b", b)]), "a 1.0")
    with pytest.raises(UnsafeArchiveError, match=r"outside the output"):
        store.add_artifact(_home(), serve_artifact(server, ("a", a), [("b", b), ("c", c)]), "a 1.0")
    _nothing_kept(_home())
    assert not list(tmp_path.rglob("evil"))


def test_device_files_are_refused(server: LoopbackServer) -> None:
    deb = handmade_deb([Entry("./dev/null", kind=tarfile.CHRTYPE)])
    with pytest.raises(UnsafeArchiveError, match=r"device file"):
        store.add_artifact(_home(), serve_artifact(server, ("dev", deb), []), "dev 1.0")
    _nothing_kept(_home())


@pytest.fixture
def tarfile_before_3_11_4(monkeypatch: pytest.MonkeyPatch) -> None:
    """tarfile as Python 3.11.0-3.11.3 ship it (Debian 12's own python3 is
    3.11.2, where this changes nothing): no extraction filters, no TarInfo.replace."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.delattr(tarfile, "FilterError", raising=False)
    monkeypatch.delattr(tarfile.TarInfo, "replace", raising=False)


@pytest.mark.usefixtures("tarfile_before_3_11_4")
def test_without_tarfiles_data_filter_packages_unpack_and_evil_ones_are_refused(
        tmp_path: Path, server: LoopbackServer) -> None:
    good = handmade_deb([Entry("./usr/bin/tool", b"#!/bin/sh\necho hi\n", mode=0o4775),
                         Entry("./etc/real", b"conf\n"),
                         Entry("./usr/share/conf", kind=tarfile.SYMTYPE, link="/etc/real")], "good")
    out = store.add_artifact(_home(), serve_artifact(server, ("good", good), []), "good 1.0")
    assert stat.S_IMODE((out / "usr" / "bin" / "tool").stat().st_mode) == 0o555
    assert (out / "usr" / "share" / "conf").read_text() == "conf\n"

    evil = {
        "slip": (Entry("../evil", b"gotcha\n"), r"outside the output"),
        "device": (Entry("./dev/null", kind=tarfile.CHRTYPE), r"device file"),
        "hardlink": (Entry("./usr/h", kind=tarfile.LNKTYPE, link="/etc/passwd"), r"hard link"),
    }
    for name, (entry, message) in evil.items():
        deb = handmade_deb([Entry("./usr/ok", b"fine\n"), entry], name)
        with pytest.raises(UnsafeArchiveError, match=message):
            store.add_artifact(_home(), serve_artifact(server, (name, deb), []), f"{name} 1.0")
    assert [p.name for p in _home().store.iterdir()] == [out.name]
    assert not list(tmp_path.rglob("evil"))


def test_files_that_are_not_well_formed_elf_are_left_alone(tmp_path: Path) -> None:
    ident = elf.MAGIC + bytes([2, 1, 1]) + bytes(9)  # 64-bit, little-endian
    # Program headers said to lie far past the end of the file.
    truncated = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 4096, 0, 0, 64, 56, 3, 0, 0, 0)
    for name, data in {"short": elf.MAGIC, "text": b"hello" * 20, "truncated": truncated}.items():
        (tmp_path / name).write_bytes(data)
        with open(tmp_path / name, "rb") as f:
            assert elf.read(f) is None, name


def test_a_damaged_deb_is_a_clear_error(server: LoopbackServer) -> None:
    with pytest.raises(StoreError, match=r"not a valid \.deb: no ar archive header"):
        store.add_artifact(_home(), serve_artifact(server, ("junk", b"not a deb"), []), "junk 1.0")
    _nothing_kept(_home())


def test_a_tampered_closure_part_is_refused_before_unpacking(
        server: LoopbackServer, greet_debs: dict[str, bytes]) -> None:
    artifact = serve_artifact(server, ("greet", greet_debs["greet"]),
                              [("libgreet1", greet_debs["libgreet1"]), ("libc6", greet_debs["libc6"])],
                              bin=("usr/bin/greet",))
    server.add("/pool/libgreet1.deb", greet_debs["libgreet1"][:-1] + b"X")
    with pytest.raises(IntegrityError, match=r"hash mismatch for libgreet1 1\.0, for greet"):
        store.add_artifact(_home(), artifact, "greet 1.0 (x86_64-linux)")
    _nothing_kept(_home())


def test_repairing_a_deb_output_relocates_it_again(
        server: LoopbackServer, greet_debs: dict[str, bytes]) -> None:
    artifact = serve_artifact(
        server, ("greet", greet_debs["greet"]),
        [("libgreet1", greet_debs["libgreet1"]), ("libc6", greet_debs["libc6"])],
        bin=("usr/bin/greet",))
    home = _home()
    out = store.add_artifact(home, artifact, "greet 1.0")
    before = store.build_manifest(out)
    store.replace(home, artifact.output, store.artifact_populator(home, artifact, "greet 1.0"))
    assert store.build_manifest(out) == before  # same bytes: relocation is deterministic


def test_an_output_whose_path_holds_a_colon_still_finds_its_libraries(
        server: LoopbackServer, greet_debs: dict[str, bytes]) -> None:
    # Debian versions may carry an epoch ("1:2.39.5-1"); RUNPATH is split on ':'.
    artifact = serve_artifact(
        server, ("greet", greet_debs["greet"]),
        [("libgreet1", greet_debs["libgreet1"]), ("libc6", greet_debs["libc6"])],
        bin=("usr/bin/greet",))
    epoch = replace(artifact, output=artifact.output + "-1:1.0")
    out = store.add_artifact(_home(), epoch, "greet 1:1.0")
    assert subprocess.run([str(out / "usr/bin/greet")], env={}, capture_output=True, text=True,
                          check=True).stdout == GREETING + "\n"


# --- through the real console script ----------------------------------------------


def test_a_spec_with_a_deb_tool_runs_it_in_a_pure_shell(
        tmp_path: Path, server: LoopbackServer, greet_build: Path) -> None:
    """Lock from a loopback archive, realise, and run the relocated program
    with nothing from the host on PATH."""
    from tests.debian_archive import DebPackage, FakeArchive

    plat, arch = {"x86_64": ("x86_64-linux", "amd64"),
                  "aarch64": ("aarch64-linux", "arm64")}.get(os.uname().machine, ("", ""))
    if not plat:
        pytest.skip(f"no Debian architecture for {os.uname().machine} in this test")
    triplet = _triplet()
    interp, loader, libc = _host_libc()
    archive = FakeArchive(server, suite="testing-fake", archs=(arch,))
    archive.add(
        DebPackage("libc6", "2.36-9", arch=arch, priority="required",
                   files={f"lib/{triplet}/{Path(interp).name}": loader.read_bytes(),
                          f"lib/{triplet}/libc.so.6": libc.read_bytes()},
                   symlinks={interp.lstrip("/"): f"/lib/{triplet}/{Path(interp).name}"}),
        DebPackage("libgreet1", "1.0-1", arch=arch, depends="libc6 (>= 2.34)",
                   files={f"usr/lib/{triplet}/libgreet.so.1.0.0": (build_lib := greet_build /
                                                                   "libgreet.so.1.0.0").read_bytes()},
                   symlinks={f"usr/lib/{triplet}/libgreet.so.1": build_lib.name}),
        DebPackage("greet", "1.0-1", arch=arch, depends="libgreet1 (= 1.0-1), libc6 (>= 2.34)",
                   files={"usr/bin/greet": (greet_build / "greet").read_bytes()}),
    )
    archive.publish()
    root = tmp_path / "proj"
    root.mkdir()
    (root / "devshell.toml").write_text(
        f'[shell]\nplatforms = ["{plat}"]\n[sources.deb]\nsuite = "testing-fake"\n'
        '[tools]\n"deb:greet" = "latest"\n')
    no_gpgv = tmp_path / "empty-path"  # an unsigned test archive: nothing to verify it with
    no_gpgv.mkdir()
    env = {**os.environ, "DEVSHELL_DEB_ARCHIVE": archive.url, "DEVSHELL_PLATFORM": plat,
           "PATH": str(no_gpgv)}
    proc = subprocess.run([DEVSHELL, "run", "--", "greet"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == GREETING + "\n"
    where = subprocess.run([DEVSHELL, "store", "path", "greet"], cwd=root, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    with open(Path(where, "usr/bin/greet"), "rb") as f:
        info = elf.read(f)
    assert info is not None and info.interpreter is not None
    assert info.interpreter.startswith(where + "/")
