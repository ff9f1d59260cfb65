"""A tool's version is the tool's own: shfmt-py numbers its releases its own
way (4.2.0 carries shfmt v3.14.1), so the lock's version is read from the
program's Go build information and the package's is kept beside it, for the
constraint, the pin `add` writes, and the upstream."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devshell.sources import goversion
from tests.helpers import devshell, write_spec
from tests.loopback import LoopbackServer
from tests.pypi_index import FakeIndex


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def go_program(version: str, *, say: str, module: str = "mvdan.cc/sh/v3") -> bytes:
    """A shell script that prints `say`, followed (after it exits) by the
    build-information block Go 1.18+ links into every program."""
    text = f'#!/bin/sh\necho "{say}"\nexit 0\n'.encode()
    text += b"\0" * (-len(text) % 16)
    info = (b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
            + f"path\t{module}/cmd/shfmt\nmod\t{module}\t{version}\th1:x=\nbuild\t-compiler=gc\n".encode()
            + b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2")
    header = b"\xff Go buildinf:" + bytes([8, 2]) + b"\0" * 16
    return text + header + _uvarint(8) + b"go1.27.1" + _uvarint(len(info)) + info


def test_the_module_version_is_read_from_the_build_information() -> None:
    assert goversion.read(go_program("v3.14.1", say="x")) == "3.14.1"
    assert goversion.read(go_program("(devel)", say="x")) is None
    assert goversion.read(b"#!/bin/sh\necho no go here\n") is None
    unaligned = b"x" + go_program("v3.14.1", say="x")[:-1]  # the magic off its 16-byte alignment
    assert goversion.read(unaligned) is None
    truncated = go_program("v3.14.1", say="x")[:-40]
    assert goversion.read(truncated) is None


@pytest.fixture
def index(server: LoopbackServer) -> FakeIndex:
    idx = FakeIndex(server)
    for package, shfmt in (("4.1.0", "v3.13.1"), ("4.2.0", "v3.14.1")):
        name, body = _with_program(package, go_program(shfmt, say=f"{shfmt}"))
        idx.add("shfmt-py", name, body)
    return idx


def _with_program(version: str, program: bytes) -> tuple[str, bytes]:
    import io
    import zipfile

    filename = f"shfmt_py-{version}-py3-none-manylinux_2_17_x86_64.whl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(f"shfmt_py-{version}.data/scripts/shfmt")
        info.external_attr = 0o100755 << 16
        z.writestr(info, program)
        z.writestr(f"shfmt_py-{version}.dist-info/METADATA", f"Name: shfmt-py\nVersion: {version}\n")
    return filename, buf.getvalue()


def test_the_lock_names_shfmts_own_version_and_the_packages_beside_it(tmp_path: Path, index: FakeIndex) -> None:
    root = tmp_path / "proj"
    write_spec(root, "")
    env = {"PIP_INDEX_URL": index.url()}
    devshell("add", "shfmt", cwd=root, env=env, check=True)
    assert 'shfmt = "4.2"' in (root / "devshell.toml").read_text()  # the constraint speaks of shfmt-py
    entry = json.loads((root / "devshell.lock").read_text())["tools"]["shfmt"]
    assert (entry["version"], entry["package-version"], entry["package"]) == ("3.14.1", "4.2.0", "shfmt-py")
    assert entry["platforms"]["x86_64-linux"]["output"].endswith("-shfmt-4.2.0")
    assert devshell("run", "--", "shfmt", cwd=root, env=env, check=True).stdout.strip() == "v3.14.1"
    status = devshell("status", cwd=root, env=env, check=True).stdout
    assert "3.14.1" in status
    # A second lock keeps the pin as it is; an older release is asked for by the package's number.
    before = (root / "devshell.lock").read_bytes()
    devshell("lock", cwd=root, env=env, check=True)
    assert (root / "devshell.lock").read_bytes() == before
    devshell("add", "shfmt@4.1", cwd=root, env=env, check=True)
    entry = json.loads((root / "devshell.lock").read_text())["tools"]["shfmt"]
    assert (entry["version"], entry["package-version"]) == ("3.13.1", "4.1.0")


def test_a_program_that_does_not_say_keeps_the_packages_version(
        tmp_path: Path, server: LoopbackServer) -> None:
    idx = FakeIndex(server)
    idx.add("shfmt-py", *_with_program("4.2.0", b"#!/bin/sh\necho shfmt\n"))
    root = tmp_path / "proj"
    write_spec(root, 'shfmt = "4.2.0"\n')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": idx.url()}, check=True)
    assert "does not say its own version; the lock names the package's, 4.2.0" in proc.stderr
    entry = json.loads((root / "devshell.lock").read_text())["tools"]["shfmt"]
    assert entry["version"] == "4.2.0" and "package-version" not in entry
