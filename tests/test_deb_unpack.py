"""Unpacking a Debian closure in one pass: each data.tar read once as it is
decompressed, several packages staged at once, placed in the closure's order,
and nothing kept (not even the staging) when any part is refused."""

from __future__ import annotations

import bz2
import io
import os
import tarfile
from pathlib import Path

import pytest

from devshell import store
from devshell.errors import StoreError, UnsafeArchiveError
from devshell.home import Home
from tests.loopback import LoopbackServer
from tests.test_deb_realise import Entry, handmade_deb, serve_artifact


def _home() -> Home:
    return Home(Path(os.environ["DEVSHELL_HOME"]))


def _nothing_kept(home: Home) -> None:
    """No output, no manifest, and no temp dir or staging left in the store."""
    assert not home.store.exists() or list(home.store.iterdir()) == []
    assert not home.meta.exists() or list(home.meta.iterdir()) == []


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = [b"!<arch>\n"]
    for name, data in members:
        out.append(f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode())
        out.append(data + (b"\n" if len(data) % 2 else b""))
    return b"".join(out)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _deb(data_name: str, data: bytes) -> bytes:
    control = _tar({"./control": b"Package: raw\nVersion: 1\n"})
    return _ar([("debian-binary", b"2.0\n"), ("control.tar", control), (data_name, data)])


def test_a_bzip2_data_tar_unpacks(server: LoopbackServer) -> None:
    deb = _deb("data.tar.bz2", bz2.compress(_tar({"./usr/share/doc/b/README": b"bzip2\n"})))
    out = store.add_artifact(_home(), serve_artifact(server, ("b", deb), []), "b 1.0")
    assert (out / "usr" / "share" / "doc" / "b" / "README").read_text() == "bzip2\n"


def test_a_data_tar_cut_inside_a_member_is_a_clear_error_and_nothing_is_kept(
        server: LoopbackServer) -> None:
    whole = _tar({"./usr/share/big": os.urandom(64 * 1024)})
    cut = whole[:512 + 1000]  # the header, and 1000 of the member's 65536 bytes
    ok = handmade_deb([Entry("./usr/share/fine", b"fine\n")], "fine")
    artifact = serve_artifact(server, ("fine", ok), [("cut", _deb("data.tar", cut))])
    with pytest.raises(StoreError, match=r"not a valid deb archive.*big"):
        store.add_artifact(_home(), artifact, "fine 1.0")
    _nothing_kept(_home())


def test_a_closure_of_many_packages_is_placed_in_its_order(server: LoopbackServer) -> None:
    # More packages than staging threads, sharing directories; files of a
    # later package land beside the earlier ones', through a directory link.
    parts = [("base", handmade_deb([Entry("./usr/lib/", kind=tarfile.DIRTYPE, mode=0o755),
                                    Entry("./lib", kind=tarfile.SYMTYPE, link="usr/lib")], "base"))]
    for i in range(12):
        parts.append((f"p{i}", handmade_deb([Entry(f"./lib/p{i}.so", f"{i}\n".encode()),
                                             Entry("./usr/share/common", b"same\n")], f"p{i}")))
    out = store.add_artifact(_home(), serve_artifact(server, parts[0], parts[1:]), "base 1.0")
    assert sorted(p.name for p in (out / "usr" / "lib").iterdir()) == sorted(
        f"p{i}.so" for i in range(12))
    assert (out / "usr" / "lib" / "p11.so").read_text() == "11\n"


def test_a_clash_names_the_first_package_in_closure_order(server: LoopbackServer) -> None:
    # p3 and p9 both differ from p0 at one path: p3 comes first, whatever
    # finished staging first.
    parts = [(f"p{i}", handmade_deb([Entry("./usr/share/thing", b"x\n" if i in (3, 9) else b"0\n"),
                                     Entry(f"./usr/share/p{i}", os.urandom(1000 * (12 - i)))],
                                    f"p{i}")) for i in range(12)]
    with pytest.raises(StoreError, match=r"^p3 1\.0.* and p0 1\.0.* both ship /usr/share/thing"):
        store.add_artifact(_home(), serve_artifact(server, parts[0], parts[1:]), "p0 1.0")
    _nothing_kept(_home())


def test_an_evil_package_late_in_the_closure_leaves_nothing(
        tmp_path: Path, server: LoopbackServer) -> None:
    parts = [(f"p{i}", handmade_deb([Entry(f"./usr/share/p{i}", b"fine\n")], f"p{i}"))
             for i in range(8)]
    parts.append(("evil", handmade_deb([Entry("./usr/ok", b"ok\n"), Entry("../evil", b"gotcha\n")])))
    with pytest.raises(UnsafeArchiveError, match=r"^evil 1\.0.*evil.*outside the output"):
        store.add_artifact(_home(), serve_artifact(server, parts[0], parts[1:]), "p0 1.0")
    _nothing_kept(_home())
    assert not list(tmp_path.rglob("evil"))
