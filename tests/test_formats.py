"""Unpack formats are one table: each names the function that fills a store
output, the store's write path looks the format up there, and another module
(a third-party source) can add one with `register`. Everything registered goes
through the same write path: manifest, read-only, rename."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from devshell import integrity, lock, store
from devshell.errors import StoreError
from devshell.home import Home
from devshell.lock import Artifact
from devshell.sources.locate import Upstreams
from devshell.store import formats
from devshell.store import unpack as archives
from tests.loopback import LoopbackServer

#: What the test fillers were called with: (format seen, label, upstreams).
seen: list[tuple[str, str, Upstreams]] = []


def copy_fill(home: Home, artifact: Artifact, label: str, tmp: Path,
              upstreams: Upstreams) -> None:
    """A tiny format: the artifact is one file, kept as share/data.txt, with a
    program beside it (written group/other-writable, as a careless filler might)."""
    from devshell.net.fetch import Download, fetch

    seen.append((artifact.format, label, upstreams))
    path = fetch(home, Download(upstreams.concrete(artifact.url), artifact.integrity,
                                artifact.size, label))
    (tmp / "share").mkdir()
    (tmp / "share" / "data.txt").write_bytes(path.read_bytes())
    (tmp / "bin").mkdir()
    (tmp / "bin" / "show").write_text("#!/bin/sh\ncat share/data.txt\n")
    (tmp / "bin" / "show").chmod(0o777)


def spy_fill(home: Home, artifact: Artifact, label: str, tmp: Path,
             upstreams: Upstreams) -> None:
    seen.append((artifact.format, label, upstreams))
    (tmp / "filled-by-spy").write_text("spy\n")


@pytest.fixture(autouse=True)
def own_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test registers into its own copy of the table."""
    monkeypatch.setattr(formats, "REGISTRY", dict(formats.REGISTRY))
    seen.clear()
    yield
    seen.clear()


def _home() -> Home:
    return Home(Path(os.environ["DEVSHELL_HOME"]))


def _artifact(server: LoopbackServer, fmt: str, body: bytes = b"served bytes\n",
              bin: tuple[str, ...] = ()) -> Artifact:
    url = server.add("/thing.dat", body)
    sri = integrity.sri("sha256", hashlib.sha256(body).digest())
    shape = {"integrity": sri, "format": fmt, "bin": list(bin)}
    return Artifact(url=url, integrity=sri, size=len(body), format=fmt, strip=0, bin=bin,
                    env=(), output=lock.output_name("thing", "1.0", shape))


def _nothing_kept(home: Home) -> None:
    assert not home.store.exists() or [p.name for p in home.store.iterdir()] == []
    assert not home.meta.exists() or list(home.meta.iterdir()) == []


def test_a_registered_format_fills_an_output_through_the_store_write_path(
        server: LoopbackServer) -> None:
    formats.register("test-copy", "tests.test_formats:copy_fill")
    artifact = _artifact(server, "test-copy", bin=("bin/show",))
    upstreams = Upstreams()
    out = store.add_artifact(_home(), artifact, "thing 1.0", upstreams)

    assert seen == [("test-copy", "thing 1.0", upstreams)]
    assert out == _home().output(artifact.output)  # renamed into place
    assert (out / "share" / "data.txt").read_bytes() == b"served bytes\n"
    assert [p.name for p in _home().store.iterdir()] == [artifact.output]  # no temp dir left
    # Normalised, then read-only, like every output.
    assert stat.S_IMODE((out / "bin" / "show").stat().st_mode) == 0o555
    assert stat.S_IMODE((out / "share" / "data.txt").stat().st_mode) == 0o444
    assert stat.S_IMODE(out.stat().st_mode) == 0o555
    manifest = json.loads(_home().manifest(artifact.output).read_text())
    assert manifest["name"] == artifact.output
    assert manifest["artifact"]["unpack"]["format"] == "test-copy"
    entry = next(e for e in manifest["files"] if e["path"] == "share/data.txt")
    assert entry["sha256"] == hashlib.sha256(b"served bytes\n").hexdigest()
    # A second realisation finds the output and fills nothing.
    assert store.add_artifact(_home(), artifact, "thing 1.0", upstreams) == out
    assert len(seen) == 1


def test_a_filler_that_fails_leaves_nothing_in_the_store(server: LoopbackServer) -> None:
    formats.register("test-copy", "tests.test_formats:copy_fill")
    artifact = _artifact(server, "test-copy", bin=("bin/missing",))
    with pytest.raises(StoreError, match="bin entry 'bin/missing' is not in the archive"):
        store.add_artifact(_home(), artifact, "thing 1.0", Upstreams())
    _nothing_kept(_home())


def test_the_write_path_takes_every_format_from_the_table(server: LoopbackServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Even "deb" and "tar.gz": the store branches on no format's name.
    monkeypatch.setitem(formats.REGISTRY, "deb", "tests.test_formats:spy_fill")
    monkeypatch.setitem(formats.REGISTRY, "tar.gz", "tests.test_formats:spy_fill")
    for fmt in ("deb", "tar.gz"):
        out = store.add_artifact(_home(), _artifact(server, fmt), f"{fmt} 1.0", Upstreams())
        assert (out / "filled-by-spy").read_text() == "spy\n"
    assert [(fmt, label) for fmt, label, _ in seen] == [("deb", "deb 1.0"),
                                                          ("tar.gz", "tar.gz 1.0")]


def test_an_unknown_format_is_refused_before_anything_is_downloaded(
        server: LoopbackServer) -> None:
    artifact = _artifact(server, "rar")
    with pytest.raises(StoreError) as info:
        store.add_artifact(_home(), artifact, "thing 1.0", Upstreams())
    assert type(info.value) is StoreError
    assert "'rar'" in info.value.message and "thing 1.0" in info.value.message
    assert info.value.hint and "tar.gz" in info.value.hint
    assert server.hits["/thing.dat"] == 0
    _nothing_kept(_home())


def test_every_format_a_lock_may_name_has_a_filler() -> None:
    assert set(lock.FORMATS) <= set(formats.REGISTRY)
    assert set(archives.FORMATS) <= set(formats.REGISTRY)
    for fmt in lock.FORMATS:
        assert callable(formats.filler(fmt, "thing 1.0"))


@pytest.mark.parametrize("target", ["tests.no_such_module:fill", "tests.test_formats:no_such_fill",
                                    "tests.test_formats:seen"])
def test_a_registered_target_that_cannot_be_loaded_is_a_clear_error(
        server: LoopbackServer, target: str) -> None:
    formats.register("ghost", target)
    with pytest.raises(StoreError) as info:
        store.add_artifact(_home(), _artifact(server, "ghost"), "thing 1.0", Upstreams())
    assert "'ghost'" in info.value.message and target in info.value.message
    assert info.value.hint
    assert server.hits["/thing.dat"] == 0
    _nothing_kept(_home())


@pytest.mark.parametrize(("fmt", "target"), [
    ("", "tests.test_formats:copy_fill"),
    ("two words", "tests.test_formats:copy_fill"),
    ("../up", "tests.test_formats:copy_fill"),
    ("ok", "tests.test_formats"),
    ("ok", "tests.test_formats:"),
    ("ok", ":copy_fill"),
    ("ok", "tests..test_formats:copy_fill"),
    ("ok", "tests.test formats:copy_fill"),
    ("ok", "tests.test_formats:copy_fill:again"),
])
def test_register_refuses_a_malformed_format_or_target(fmt: str, target: str) -> None:
    before = dict(formats.REGISTRY)
    with pytest.raises(StoreError) as info:
        formats.register(fmt, target)
    assert info.value.hint
    assert dict(formats.REGISTRY) == before


def test_register_never_takes_over_a_format_already_taken() -> None:
    with pytest.raises(StoreError, match=r"'tar\.gz' is already"):
        formats.register("tar.gz", "tests.test_formats:spy_fill")
    assert formats.REGISTRY["tar.gz"] != "tests.test_formats:spy_fill"
    # The same registration again (a module imported twice) is harmless.
    formats.register("test-copy", "tests.test_formats:copy_fill")
    formats.register("test-copy", "tests.test_formats:copy_fill")
    assert formats.REGISTRY["test-copy"] == "tests.test_formats:copy_fill"


def _installed_plugin(root: Path, monkeypatch: pytest.MonkeyPatch, formats_: dict[str, str],
                      dist: str = "devshell_fmt_plug") -> None:
    """A distribution on sys.path whose `devshell.formats` entry points name `formats_`,
    as a third-party package installs one."""
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[devshell.formats]\n" + "".join(f"{k} = {v}\n" for k, v in formats_.items()))
    monkeypatch.syspath_prepend(str(root))


def test_a_format_installed_through_the_entry_point_group_fills_outputs(
        tmp_path: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Realising a lock imports no source, so a format its source registers at
    # import would be unknown then: an installed package declares it instead.
    _installed_plugin(tmp_path / "site", monkeypatch, {
        "test-plugged": "tests.test_formats:copy_fill",
        "tar.gz": "tests.test_formats:spy_fill",  # never takes over a built-in
    })
    assert "test-plugged" not in formats.REGISTRY
    out = store.add_artifact(_home(), _artifact(server, "test-plugged"), "thing 1.0", Upstreams())
    assert (out / "share" / "data.txt").read_bytes() == b"served bytes\n"
    assert formats.filler("tar.gz", "x") is archives.fill
    assert [fmt for fmt, _, _ in seen] == ["test-plugged"]


def test_a_format_two_installed_packages_claim_differently_is_a_clear_error(
        tmp_path: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _installed_plugin(tmp_path / "one", monkeypatch, {"test-plugged": "tests.test_formats:copy_fill"})
    _installed_plugin(tmp_path / "two", monkeypatch, {"test-plugged": "tests.test_formats:spy_fill"},
                      dist="devshell_other_plug")
    with pytest.raises(StoreError, match="'test-plugged' is claimed by several installed packages"):
        store.add_artifact(_home(), _artifact(server, "test-plugged"), "thing 1.0", Upstreams())
    assert seen == []
    _nothing_kept(_home())
