"""Unpacking: every format extracts, strip works, and every evil archive is refused
before anything is written. Archives are built here, in tmp_path."""

from __future__ import annotations

import ast
import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

import devshell.store.unpack as unpack_module
from devshell.errors import StoreError, UnsafeArchiveError, UsageError
from devshell.store.members import DEFAULT_MAX_BYTES, DEFAULT_MAX_MEMBERS, auto_strip
from devshell.store.unpack import FORMATS, detect_format, unpack
from tests.helpers import devshell, sha256, url_tool, write_spec
from tests.loopback import LoopbackServer

TAR_FORMATS = ["tar.gz", "tgz", "tar.xz", "tar.bz2", "tar.zst"]
MiB = 1024 * 1024

Member = tuple[tarfile.TarInfo, bytes]


# --- archive builders -------------------------------------------------------


def reg(name: str, data: bytes = b"", mode: int = 0o644) -> Member:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def tdir(name: str, mode: int = 0o755) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    return info, b""


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


def special(name: str, kind: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = kind, 1, 3
    return info, b""


def build_tar(path: Path, members: list[Member], fmt: str = "tar.gz") -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = buf.getvalue()
    compressors: dict[str, Callable[[bytes], bytes]] = {
        "tar.gz": gzip.compress, "tgz": gzip.compress, "tar.xz": lzma.compress,
        "tar.bz2": bz2.compress, "tar.zst": zstandard.ZstdCompressor().compress,
    }
    compress = compressors[fmt]
    path.write_bytes(compress(raw))
    return path


def build_zip(path: Path, entries: list[tuple[str, bytes, int | None]]) -> Path:
    """Entries are (name, data, unix mode with file type, or None for no unix mode)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.create_system, info.external_attr = 3, mode << 16
            else:  # as a Windows tool writes it: MS-DOS attributes only
                info.create_system = 0
                info.external_attr = 0x10 if name.endswith("/") else 0x20
            zf.writestr(info, data)
    return path


def zfile(name: str, data: bytes = b"", mode: int = 0o644) -> tuple[str, bytes, int]:
    return name, data, stat.S_IFREG | mode


def zlink(name: str, target: str) -> tuple[str, bytes, int]:
    return name, target.encode(), stat.S_IFLNK | 0o777


def evil_tar(tmp_path: Path, *members: Member) -> Path:
    """A tar.gz whose first member is harmless, so "nothing written" means checked first."""
    return build_tar(tmp_path / "evil.tar.gz", [reg("pkg/ok", b"fine"), *members])


def evil_zip(tmp_path: Path, *entries: tuple[str, bytes, int | None]) -> Path:
    return build_zip(tmp_path / "evil.zip", [zfile("pkg/ok", b"fine"), *entries])


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out


def refused(archive: Path, fmt: str, dest: Path, rule: str, **kwargs: int) -> str:
    """Unpack must refuse naming `rule`, and leave `dest` empty; returns the message."""
    with pytest.raises(UnsafeArchiveError) as info:
        unpack(archive, fmt, dest, **kwargs)  # type: ignore[arg-type]
    assert rule in info.value.message
    assert info.value.hint
    assert list(dest.iterdir()) == []
    return info.value.message


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# --- detect_format and auto_strip ---------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("node-v20.11.1-linux-x64.tar.gz", "tar.gz"),
        ("https://example.org/dl/tool-1.0.tgz?token=abc", "tgz"),
        ("go1.22.linux-amd64.tar.xz", "tar.xz"),
        ("thing.txz", "tar.xz"),
        ("thing.tar.bz2", "tar.bz2"),
        ("THING.TBZ2", "tar.bz2"),
        ("thing.tar.zst", "tar.zst"),
        ("thing.tzst", "tar.zst"),
        ("https://example.org/ruff.zip#frag", "zip"),
        ("https://example.org/jq-linux64", "binary"),
        ("https://example.org/get?file=x.tar.gz", "binary"),
        ("tool-1.0.gz", "binary"),
    ],
)
def test_format_is_detected_from_the_name_ignoring_the_query(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt
    assert detect_format(name) in FORMATS


@pytest.mark.parametrize(
    ("names", "strip"),
    [
        (["pkg/", "pkg/bin/tool", "pkg/README"], 1),
        (["./pkg/bin/tool", "./pkg/README", "./"], 1),
        (["pkg/bin/tool", "other/README"], 0),
        (["tool"], 0),
        (["pkg", "README"], 0),
        ([], 0),
    ],
)
def test_auto_strip_counts_one_only_for_a_single_top_directory(
    names: list[str], strip: int
) -> None:
    assert auto_strip(names) == strip


def test_default_size_limit_is_four_gibibytes() -> None:
    assert DEFAULT_MAX_BYTES == 4 * 1024**3


# --- every format extracts ------------------------------------------------------


@pytest.mark.parametrize("fmt", TAR_FORMATS)
def test_tar_formats_extract_files_links_and_modes(tmp_path: Path, dest: Path, fmt: str) -> None:
    archive = build_tar(tmp_path / f"a.{fmt}", [
        tdir("pkg-1.0/"), tdir("pkg-1.0/bin/", 0o700),
        reg("pkg-1.0/bin/tool", b"#!/bin/sh\necho hi\n", 0o775),
        reg("pkg-1.0/README", b"read me", 0o444),
        link("pkg-1.0/bin/alias", "tool"),
        link("pkg-1.0/bin/tool2", "pkg-1.0/bin/tool", tarfile.LNKTYPE),
    ], fmt)
    unpack(archive, fmt, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["README", "bin"]
    assert (dest / "bin/tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert mode_of(dest / "bin/tool") == 0o755
    assert mode_of(dest / "README") == 0o644
    assert mode_of(dest / "bin") == 0o755
    assert os.readlink(dest / "bin/alias") == "tool"
    assert (dest / "bin/tool2").stat().st_ino == (dest / "bin/tool").stat().st_ino


def test_tar_zst_made_of_several_frames_extracts(tmp_path: Path, dest: Path) -> None:
    plain = build_tar(tmp_path / "a.tar.gz", [reg("pkg/a", b"a" * 5000), reg("pkg/b", b"b")])
    raw = gzip.decompress(plain.read_bytes())
    zstd = zstandard.ZstdCompressor()
    archive = tmp_path / "a.tar.zst"
    archive.write_bytes(zstd.compress(raw[:1024]) + zstd.compress(raw[1024:]))
    unpack(archive, "tar.zst", dest)
    assert (dest / "a").read_bytes() == b"a" * 5000
    assert (dest / "b").read_bytes() == b"b"


def test_zip_extracts_files_symlinks_and_keeps_the_exec_bit(tmp_path: Path, dest: Path) -> None:
    archive = build_zip(tmp_path / "a.zip", [
        ("ruff-0.6/", b"", stat.S_IFDIR | 0o700),
        zfile("ruff-0.6/ruff", b"\x7fELF", 0o755),
        zfile("ruff-0.6/LICENSE", b"MIT", 0o664),
        zlink("ruff-0.6/bin", "ruff"),
    ])
    unpack(archive, "zip", dest)
    assert (dest / "ruff").read_bytes() == b"\x7fELF"
    assert mode_of(dest / "ruff") == 0o755
    assert mode_of(dest / "LICENSE") == 0o644
    assert os.readlink(dest / "bin") == "ruff"


def test_zip_entries_without_a_unix_mode_get_default_modes(tmp_path: Path, dest: Path) -> None:
    archive = build_zip(tmp_path / "a.zip", [
        ("docs/", b"", None), ("docs/a.txt", b"a", None), ("top.txt", b"t", None),
    ])
    unpack(archive, "zip", dest)
    assert mode_of(dest / "docs") == 0o755
    assert mode_of(dest / "docs/a.txt") == 0o644
    assert (dest / "top.txt").read_bytes() == b"t"


def test_binary_is_copied_under_its_name_and_made_executable(tmp_path: Path, dest: Path) -> None:
    archive = tmp_path / "jq-linux64"
    archive.write_bytes(b"\x7fELF binary")
    archive.chmod(0o600)
    unpack(archive, "binary", dest, binary_name="jq")
    assert [p.name for p in dest.iterdir()] == ["jq"]
    assert (dest / "jq").read_bytes() == b"\x7fELF binary"
    assert mode_of(dest / "jq") == 0o755


@pytest.mark.parametrize("name", [None, "", "../jq", "bin/jq", ".."])
def test_binary_needs_a_plain_file_name(tmp_path: Path, dest: Path, name: str | None) -> None:
    archive = tmp_path / "jq-linux64"
    archive.write_bytes(b"x")
    with pytest.raises(StoreError, match="plain file name"):
        unpack(archive, "binary", dest, binary_name=name)
    assert list(dest.iterdir()) == []


# --- strip ---------------------------------------------------------------------


def test_two_top_directories_are_not_stripped(tmp_path: Path, dest: Path) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", [reg("bin/tool", b"x"), reg("share/doc", b"y")])
    unpack(archive, "tar.gz", dest)
    assert (dest / "bin/tool").read_bytes() == b"x"
    assert (dest / "share/doc").read_bytes() == b"y"
    assert mode_of(dest / "bin") == 0o755  # made implicitly, still normalised


def test_single_file_archive_is_not_stripped_away(tmp_path: Path, dest: Path) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", [reg("tool", b"x", 0o755)])
    unpack(archive, "tar.gz", dest)
    assert (dest / "tool").read_bytes() == b"x"


def test_explicit_strip_drops_leading_components_and_applies_to_hardlinks(
    tmp_path: Path, dest: Path
) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", [
        tdir("a/"), tdir("a/b/"), reg("a/b/tool", b"x"), reg("a/top-level", b"skipped"),
        link("a/b/same", "a/b/tool", tarfile.LNKTYPE),
    ])
    unpack(archive, "tar.gz", dest, strip=2)
    assert sorted(p.name for p in dest.iterdir()) == ["same", "tool"]
    assert (dest / "same").stat().st_ino == (dest / "tool").stat().st_ino


def test_strip_zero_keeps_the_top_directory(tmp_path: Path, dest: Path) -> None:
    archive = build_zip(tmp_path / "a.zip", [zfile("pkg/tool", b"x")])
    unpack(archive, "zip", dest, strip=0)
    assert (dest / "pkg/tool").read_bytes() == b"x"


def test_strip_that_leaves_nothing_is_an_error(tmp_path: Path, dest: Path) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", [reg("tool", b"x")])
    with pytest.raises(StoreError, match="nothing left"):
        unpack(archive, "tar.gz", dest, strip=1)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("strip", [-1, "two", True])
def test_invalid_strip_is_an_error(tmp_path: Path, dest: Path, strip: int | str) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", [reg("pkg/tool", b"x")])
    with pytest.raises(StoreError, match="invalid strip"):
        unpack(archive, "tar.gz", dest, strip=strip)


# --- evil archives: each rule, tar and zip ----------------------------------------


def test_tar_absolute_path_is_refused_and_nothing_is_written(tmp_path: Path, dest: Path) -> None:
    archive = evil_tar(tmp_path, reg(str(tmp_path / "evil"), b"pwned"))
    refused(archive, "tar.gz", dest, "absolute path")
    assert not (tmp_path / "evil").exists()


def test_zip_absolute_path_is_refused_and_nothing_is_written(tmp_path: Path, dest: Path) -> None:
    archive = evil_zip(tmp_path, zfile(str(tmp_path / "evil"), b"pwned"))
    refused(archive, "zip", dest, "absolute path")
    assert not (tmp_path / "evil").exists()


def test_tar_slip_is_refused_and_nothing_is_written(tmp_path: Path, dest: Path) -> None:
    archive = evil_tar(tmp_path, reg("pkg/../../evil", b"pwned"))
    message = refused(archive, "tar.gz", dest, "path traversal")
    assert "'pkg/../../evil' would be written outside the output" in message
    assert not (tmp_path / "evil").exists()


def test_zip_slip_is_refused_and_nothing_is_written(tmp_path: Path, dest: Path) -> None:
    archive = evil_zip(tmp_path, zfile("pkg/../../evil", b"pwned"))
    refused(archive, "zip", dest, "path traversal")
    assert not (tmp_path / "evil").exists()


def test_zip_slip_with_backslashes_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = evil_zip(tmp_path, zfile("pkg\\..\\..\\evil", b"pwned"))
    refused(archive, "zip", dest, "path traversal")


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside", "../.."])
def test_tar_symlink_escaping_the_output_is_refused(
    tmp_path: Path, dest: Path, target: str
) -> None:
    archive = evil_tar(tmp_path, link("pkg/bin/escape", target))
    refused(archive, "tar.gz", dest, "symlink escape")


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside"])
def test_zip_symlink_escaping_the_output_is_refused(
    tmp_path: Path, dest: Path, target: str
) -> None:
    archive = evil_zip(tmp_path, zlink("pkg/bin/escape", target))
    refused(archive, "zip", dest, "symlink escape")


def test_symlink_escaping_through_another_symlink_is_refused(tmp_path: Path, dest: Path) -> None:
    # pkg/a/up -> .. stays inside, but pkg/a/esc -> up/.. climbs out through it.
    archive = evil_tar(tmp_path, link("pkg/a/up", ".."), link("pkg/a/esc", "up/.."))
    refused(archive, "tar.gz", dest, "symlink escape")


def test_symlink_loop_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = evil_tar(tmp_path, link("pkg/a", "b"), link("pkg/b", "a/x"))
    refused(archive, "tar.gz", dest, "symlink escape")


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_member_written_through_a_symlink_is_refused(tmp_path: Path, dest: Path, fmt: str) -> None:
    if fmt == "zip":
        archive = evil_zip(tmp_path, zlink("pkg/lib", "."), zfile("pkg/lib/x", b"x"))
    else:
        archive = evil_tar(tmp_path, link("pkg/lib", "."), reg("pkg/lib/x", b"x"))
    refused(archive, fmt, dest, "write through link")


@pytest.mark.parametrize(
    ("target", "rule"),
    [
        ("/etc/passwd", "absolute path"),
        ("pkg/../../etc/passwd", "path traversal"),
        ("pkg/not-in-archive", "hard link escape"),
        ("pkg/later", "hard link escape"),
        ("pkg/dir", "hard link escape"),
        ("pkg/sym", "hard link escape"),
    ],
)
def test_tar_hardlink_escaping_the_output_is_refused(
    tmp_path: Path, dest: Path, target: str, rule: str
) -> None:
    archive = evil_tar(
        tmp_path, tdir("pkg/dir/"), link("pkg/sym", "ok"),
        link("pkg/hard", target, tarfile.LNKTYPE), reg("pkg/later", b"x"),
    )
    refused(archive, "tar.gz", dest, rule)


def test_hardlink_whose_target_is_stripped_away_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", [
        reg("top", b"x"), reg("pkg/ok", b"y"), link("pkg/hard", "top", tarfile.LNKTYPE),
    ])
    refused(archive, "tar.gz", dest, "hard link escape", strip=1)


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE])
def test_tar_device_file_is_refused(tmp_path: Path, dest: Path, kind: bytes) -> None:
    archive = evil_tar(tmp_path, special("pkg/dev/null", kind))
    refused(archive, "tar.gz", dest, "device file")


@pytest.mark.parametrize("kind", [stat.S_IFCHR, stat.S_IFBLK])
def test_zip_device_file_is_refused(tmp_path: Path, dest: Path, kind: int) -> None:
    archive = evil_zip(tmp_path, ("pkg/dev/null", b"", kind | 0o666))
    refused(archive, "zip", dest, "device file")


def test_tar_fifo_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = evil_tar(tmp_path, special("pkg/pipe", tarfile.FIFOTYPE))
    refused(archive, "tar.gz", dest, "FIFO")


def test_zip_fifo_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = evil_zip(tmp_path, ("pkg/pipe", b"", stat.S_IFIFO | 0o644))
    refused(archive, "zip", dest, "FIFO")


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_duplicate_member_is_refused(tmp_path: Path, dest: Path, fmt: str) -> None:
    if fmt == "zip":
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive = evil_zip(tmp_path, zfile("pkg/x", b"a"), zlink("pkg/x", "ok"))
    else:
        archive = evil_tar(tmp_path, reg("pkg/x", b"a"), link("pkg/x", "ok"))
    refused(archive, fmt, dest, "duplicate member")


def test_tar_setuid_setgid_sticky_and_group_write_bits_are_dropped(
    tmp_path: Path, dest: Path
) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", [
        tdir("pkg/", 0o1777), reg("pkg/suid", b"x", 0o6755), reg("pkg/shared", b"y", 0o666),
        reg("pkg/group-x", b"z", 0o610),
    ])
    unpack(archive, "tar.gz", dest, strip=0)
    suid = (dest / "pkg/suid").lstat().st_mode
    assert not suid & (stat.S_ISUID | stat.S_ISGID)
    assert mode_of(dest / "pkg/suid") == 0o755
    assert mode_of(dest / "pkg/shared") == 0o644
    assert mode_of(dest / "pkg/group-x") == 0o710
    assert mode_of(dest / "pkg") == 0o755


def test_zip_setuid_setgid_bits_are_dropped(tmp_path: Path, dest: Path) -> None:
    archive = build_zip(tmp_path / "a.zip", [zfile("pkg/suid", b"x", 0o6777)])
    unpack(archive, "zip", dest)
    assert (dest / "suid").read_bytes() == b"x"
    assert not (dest / "suid").lstat().st_mode & (stat.S_ISUID | stat.S_ISGID)
    assert mode_of(dest / "suid") == 0o755


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.zst", "zip"])
def test_expansion_bomb_is_refused_before_anything_is_written(
    tmp_path: Path, dest: Path, fmt: str
) -> None:
    zeros = bytes(2 * MiB)
    if fmt == "zip":
        archive = evil_zip(tmp_path, zfile("pkg/bomb", zeros))
    else:
        archive = build_tar(tmp_path / f"bomb.{fmt}", [reg("pkg/ok", b"x"), reg("pkg/bomb", zeros)], fmt)
    assert archive.stat().st_size < 64 * 1024
    message = refused(archive, fmt, dest, "size limit", max_bytes=MiB)
    assert f"over the limit of {MiB}" in message


def test_binary_over_the_limit_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = tmp_path / "big"
    archive.write_bytes(bytes(2 * MiB))
    with pytest.raises(UnsafeArchiveError, match="size limit"):
        unpack(archive, "binary", dest, binary_name="big", max_bytes=MiB)
    assert list(dest.iterdir()) == []


def test_member_yielding_more_than_its_header_says_is_stopped_at_the_limit(
    tmp_path: Path, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", [reg("pkg/a", b"small"), reg("pkg/b", b"tiny")])
    # A header that lies: the reader hands over far more than the size it declared.
    monkeypatch.setattr(tarfile.TarFile, "extractfile", lambda self, info: io.BytesIO(bytes(2 * MiB)))
    refused(archive, "tar.gz", dest, "size limit", max_bytes=MiB)


def test_member_yielding_less_than_its_header_says_is_a_store_error(
    tmp_path: Path, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", [reg("pkg/a", b"a" * 100), reg("pkg/b", b"b")])
    monkeypatch.setattr(tarfile.TarFile, "extractfile", lambda self, info: io.BytesIO(b"a"))
    with pytest.raises(StoreError, match="holds 1 bytes, its header says 100") as info:
        unpack(archive, "tar.gz", dest)
    assert type(info.value) is StoreError
    assert list(dest.iterdir()) == []


# --- member limits ---------------------------------------------------------------


def flood(path: Path, count: int) -> Path:
    """A tar.gz of `count` empty members, about 9 bytes each once compressed
    (headers built from one template, so even 200,000 take a second)."""
    template = tarfile.TarInfo("f0000000").tobuf(format=tarfile.USTAR_FORMAT)
    base = int(template[148:154], 8) - sum(b"f0000000")
    headers = []
    for i in range(count):
        name = b"f%07d" % i
        header = bytearray(template)
        header[0:8] = name
        header[148:155] = b"%06o\0" % (base + sum(name))
        headers.append(bytes(header))
    path.write_bytes(gzip.compress(b"".join(headers) + bytes(1024), 1))
    return path


@pytest.mark.parametrize("fmt", [*TAR_FORMATS, "zip"])
def test_an_archive_of_more_members_than_the_limit_is_refused(
    tmp_path: Path, dest: Path, fmt: str
) -> None:
    if fmt == "zip":
        archive = build_zip(tmp_path / "many.zip", [zfile(f"pkg/f{i}") for i in range(11)])
    else:
        archive = build_tar(tmp_path / f"many.{fmt}", [reg(f"pkg/f{i}") for i in range(11)], fmt)
    message = refused(archive, fmt, dest, "member limit", member_limit=10)
    assert "more than 10 members" in message and "DEVSHELL_UNPACK_MAX_MEMBERS" in message
    unpack(archive, fmt, dest, member_limit=11)
    assert len(list(dest.iterdir())) == 11


def test_a_flood_of_members_is_refused_as_it_is_read_not_after(
    tmp_path: Path, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = flood(tmp_path / "flood.tar.gz", 200_000)
    assert archive.stat().st_size < 2 * MiB
    read = 0
    real_next = tarfile.TarFile.next

    def counted(self: tarfile.TarFile) -> tarfile.TarInfo | None:
        nonlocal read
        read += 1
        return real_next(self)

    monkeypatch.setattr(tarfile.TarFile, "next", counted)
    refused(archive, "tar.gz", dest, "member limit", member_limit=1000)
    assert read <= 1002  # stopped at the first member over the limit


def test_the_member_limit_defaults_to_100000_and_the_environment_changes_it(
    tmp_path: Path, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert DEFAULT_MAX_MEMBERS == 100_000
    archive = build_tar(tmp_path / "six.tar.gz", [reg(f"pkg/f{i}") for i in range(6)])
    monkeypatch.setenv("DEVSHELL_UNPACK_MAX_MEMBERS", "5")
    refused(archive, "tar.gz", dest, "member limit")
    for bad in ("lots", "0", "-3"):
        monkeypatch.setenv("DEVSHELL_UNPACK_MAX_MEMBERS", bad)
        with pytest.raises(UsageError, match="DEVSHELL_UNPACK_MAX_MEMBERS"):
            unpack(archive, "tar.gz", dest)
    monkeypatch.setenv("DEVSHELL_UNPACK_MAX_MEMBERS", "6")
    unpack(archive, "tar.gz", dest)
    assert len(list(dest.iterdir())) == 6


def test_a_zip_announcing_too_many_entries_is_refused_before_zipfile_reads_them(
    tmp_path: Path, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Over 65,535 entries: the count is in the zip64 end-of-central-directory record.
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(70_000):
            zf.writestr(f"f{i}", b"")

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("zipfile read the central directory")

    monkeypatch.setattr(zipfile, "ZipFile", never)
    refused(archive, "zip", dest, "member limit", member_limit=65_536)


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_every_member_costs_against_the_size_limit_even_when_empty(
    tmp_path: Path, dest: Path, fmt: str
) -> None:
    if fmt == "zip":
        archive = build_zip(tmp_path / "a.zip", [zfile(f"pkg/f{i}") for i in range(1000)])
    else:
        archive = build_tar(tmp_path / "a.tar.gz", [reg(f"pkg/f{i}") for i in range(1000)])
    refused(archive, fmt, dest, "size limit", max_bytes=100_000)
    unpack(archive, fmt, dest, max_bytes=1_000_000)


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_a_member_name_longer_than_any_path_is_refused(tmp_path: Path, dest: Path, fmt: str) -> None:
    name = "pkg/" + "/".join(["d" * 200] * 25)
    if fmt == "zip":
        archive = evil_zip(tmp_path, zfile(name, b"x"))
    else:
        archive = evil_tar(tmp_path, reg(name, b"x"))
    refused(archive, fmt, dest, "long name")


# --- one public set of member rules ------------------------------------------------


def private_imports(source: str) -> list[str]:
    """Every `from devshell… import _name` in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("devshell"):
            found += [f"{node.module}.{a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
    return found


@pytest.mark.parametrize("package", ["store", "debian"])
def test_the_archive_readers_share_the_public_member_rules_not_each_others_privates(
    package: str,
) -> None:
    root = Path(unpack_module.__file__).parent.parent / package
    found = {p.name: private_imports(p.read_text(encoding="utf-8")) for p in root.glob("*.py")}
    assert {name: names for name, names in found.items() if names} == {}
    assert private_imports("from devshell.store.unpack import _Member, tar_members") == [
        "devshell.store.unpack._Member"]


# --- an interpreter older than tarfile's filters ------------------------------------


@pytest.fixture
def tarfile_before_3_11_4(monkeypatch: pytest.MonkeyPatch) -> None:
    """tarfile as Python 3.11.0-3.11.3 ship it (Debian 12's own python3 is
    3.11.2, where this changes nothing): no extraction filters, no TarInfo.replace."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.delattr(tarfile, "FilterError", raising=False)
    monkeypatch.delattr(tarfile.TarInfo, "replace", raising=False)


OLD_TARFILE_REFUSALS: dict[str, tuple[list[Member], str]] = {
    "absolute path": ([reg("/tmp/evil", b"x")], "absolute path"),
    "slip": ([reg("pkg/../../evil", b"x")], "path traversal"),
    "absolute symlink": ([link("pkg/esc", "/etc/passwd")], "symlink escape"),
    "relative symlink": ([link("pkg/esc", "../../x")], "symlink escape"),
    "symlink through a symlink": ([link("pkg/a/up", ".."), link("pkg/a/esc", "up/..")],
                                  "symlink escape"),
    "write through a symlink": ([link("pkg/lib", "."), reg("pkg/lib/x", b"x")],
                                "write through link"),
    "hard link outside": ([link("pkg/h", "/etc/passwd", tarfile.LNKTYPE)], "absolute path"),
    "hard link to nothing": ([link("pkg/h", "pkg/missing", tarfile.LNKTYPE)],
                             "hard link escape"),
    "device": ([special("pkg/null", tarfile.CHRTYPE)], "device file"),
    "fifo": ([special("pkg/pipe", tarfile.FIFOTYPE)], "FIFO"),
    "duplicate": ([reg("pkg/x", b"a"), link("pkg/x", "ok")], "duplicate member"),
}


@pytest.mark.usefixtures("tarfile_before_3_11_4")
@pytest.mark.parametrize("case", sorted(OLD_TARFILE_REFUSALS))
def test_without_tarfiles_data_filter_every_rule_still_refuses(
    tmp_path: Path, dest: Path, case: str
) -> None:
    members, rule = OLD_TARFILE_REFUSALS[case]
    refused(evil_tar(tmp_path, *members), "tar.gz", dest, rule)
    assert not (tmp_path / "evil").exists()


@pytest.mark.usefixtures("tarfile_before_3_11_4")
@pytest.mark.parametrize("fmt", TAR_FORMATS)
def test_without_tarfiles_data_filter_archives_unpack_with_the_same_modes(
    tmp_path: Path, dest: Path, fmt: str
) -> None:
    archive = build_tar(tmp_path / f"a.{fmt}", [
        tdir("pkg/", 0o1777), reg("pkg/bin/tool", b"#!/bin/sh\n", 0o6775),
        reg("pkg/README", b"r", 0o666), link("pkg/bin/alias", "tool"),
        link("pkg/bin/tool2", "pkg/bin/tool", tarfile.LNKTYPE),
    ], fmt)
    unpack(archive, fmt, dest)
    assert mode_of(dest / "bin/tool") == 0o755
    assert mode_of(dest / "README") == 0o644
    assert os.readlink(dest / "bin/alias") == "tool"
    assert (dest / "bin/tool2").stat().st_ino == (dest / "bin/tool").stat().st_ino


# --- corrupt and unknown -------------------------------------------------------


@pytest.mark.parametrize("fmt", [*TAR_FORMATS, "zip"])
def test_corrupt_archive_is_a_store_error(tmp_path: Path, dest: Path, fmt: str) -> None:
    archive = tmp_path / f"bad.{fmt}"
    archive.write_bytes(b"this is not an archive at all" * 40)
    with pytest.raises(StoreError) as info:
        unpack(archive, fmt, dest)
    assert type(info.value) is StoreError
    assert f"is not a valid {fmt} archive" in info.value.message
    assert list(dest.iterdir()) == []


def test_truncated_archive_is_a_store_error_and_leaves_nothing(tmp_path: Path, dest: Path) -> None:
    noise = os.urandom(256 * 1024)
    whole = build_tar(tmp_path / "a.tar.gz", [reg("pkg/ok", b"x"), reg("pkg/noise", noise)])
    whole.write_bytes(whole.read_bytes()[: 128 * 1024])
    with pytest.raises(StoreError) as info:
        unpack(whole, "tar.gz", dest)
    assert type(info.value) is StoreError
    assert list(dest.iterdir()) == []


def test_unknown_format_is_a_store_error(tmp_path: Path, dest: Path) -> None:
    archive = tmp_path / "a.rar"
    archive.write_bytes(b"Rar!")
    with pytest.raises(StoreError, match="unknown archive format 'rar'"):
        unpack(archive, "rar", dest)


def test_unpacking_into_a_non_empty_directory_is_an_error(tmp_path: Path, dest: Path) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", [reg("pkg/tool", b"x")])
    (dest / "already-here").write_text("x")
    with pytest.raises(StoreError, match="empty directory"):
        unpack(archive, "tar.gz", dest)
    assert [p.name for p in dest.iterdir()] == ["already-here"]


EVIL_CASES: dict[str, Callable[[Path], tuple[Path, str]]] = {
    "tar slip": lambda t: (evil_tar(t, reg("pkg/../../evil", b"x")), "tar.gz"),
    "zip slip": lambda t: (evil_zip(t, zfile("pkg/../../evil", b"x")), "zip"),
    "zip symlink escape": lambda t: (evil_zip(t, zlink("pkg/esc", "../../x")), "zip"),
    "tar write through symlink": lambda t: (
        evil_tar(t, link("pkg/lib", "."), reg("pkg/lib/x", b"x")), "tar.gz"),
    "tar fifo": lambda t: (evil_tar(t, special("pkg/pipe", tarfile.FIFOTYPE)), "tar.gz"),
    "zip device": lambda t: (evil_zip(t, ("pkg/null", b"", stat.S_IFCHR | 0o666)), "zip"),
    "tar hardlink": lambda t: (
        evil_tar(t, link("pkg/h", "pkg/missing", tarfile.LNKTYPE)), "tar.gz"),
}


@pytest.mark.parametrize("case", sorted(EVIL_CASES))
def test_evil_archive_is_refused_before_the_first_write(
    tmp_path: Path, dest: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    # Emptying dest after a failed write would also leave it empty; this proves
    # the refusal came from the check pass, with not one member written first.
    archive, fmt = EVIL_CASES[case](tmp_path)
    writes: list[str] = []
    monkeypatch.setattr(unpack_module._Writer, "write", lambda self, m, opener: writes.append(m.name))
    with pytest.raises(UnsafeArchiveError):
        unpack(archive, fmt, dest)
    assert writes == []


def test_installing_a_flood_of_200000_members_is_refused_with_a_clear_error(
    tmp_path: Path, server: LoopbackServer
) -> None:
    archive = flood(tmp_path / "flood.tar.gz", 200_000)
    server.add("/flood-1.0.tar.gz", archive.read_bytes())
    root = tmp_path / "proj"
    write_spec(root, url_tool("flood", "1.0", f"{server.url}/flood-{{version}}.tar.gz",
                              {"x86_64-linux": sha256(archive.read_bytes())}, bin='["f0000000"]'))
    proc = devshell("install", cwd=root, timeout=60)
    assert proc.returncode == 6, proc.stderr
    assert "more than 100000 members" in proc.stderr and "DEVSHELL_UNPACK_MAX_MEMBERS" in proc.stderr
    assert "Traceback" not in proc.stderr
    store = Path(os.environ["DEVSHELL_HOME"]) / "store"
    assert [n for n in os.listdir(store) if not n.startswith(".")] == []


def test_tarfiles_data_filter_judges_every_link_and_no_plain_file(
    tmp_path: Path, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second opinion is asked where it can differ from devshell's own:
    # links. A plain relative file or directory in an empty root it could only
    # pass, and asking costs a realpath per member (0.3 s for 10,000 files).
    if not hasattr(tarfile, "data_filter"):
        pytest.skip("this interpreter's tarfile has no data filter")
    asked: list[str] = []
    real = tarfile.data_filter

    def spy(member: tarfile.TarInfo, dest_path: str) -> tarfile.TarInfo | None:
        asked.append(member.name)
        return real(member, dest_path)

    monkeypatch.setattr(tarfile, "data_filter", spy)
    archive = build_tar(tmp_path / "a.tar.gz", [
        tdir("pkg/"), tdir("pkg/bin/"), reg("pkg/bin/tool", b"#!/bin/sh\n", 0o755),
        link("pkg/bin/alias", "tool"), link("pkg/bin/tool2", "pkg/bin/tool", tarfile.LNKTYPE),
    ])
    unpack(archive, "tar.gz", dest)
    assert sorted(asked) == ["bin/alias", "bin/tool2"]
    assert os.readlink(dest / "bin/alias") == "tool"
