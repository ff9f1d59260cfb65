"""Realising `pypi:` files: how often, and how, the package index is asked
for their URLs (a lock names files, not hosts)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from devshell.sources.locate import Upstreams
from tests.helpers import devshell
from tests.loopback import LoopbackServer
from tests.pypi_index import FakeIndex, wheel

TAG = "manylinux_2_17_x86_64"
PAGE = "/json/simple/twotool/"


@pytest.fixture
def index(server: LoopbackServer) -> FakeIndex:
    """One project, two releases with a program each; many other files listed."""
    idx = FakeIndex(server)
    for version, prog in (("1.0.0", "one"), ("2.0.0", "two")):
        idx.add("twotool", *wheel("twotool", version, TAG, {prog: f"#!/bin/sh\necho {prog}\n"}))
    return idx


def _project(root: Path, tools: str) -> Path:
    root.mkdir(parents=True)
    (root / "devshell.toml").write_text(f'[shell]\nplatforms = ["x86_64-linux"]\n\n[tools]\n{tools}')
    return root


def _tool(name: str, version: str) -> str:
    return f'{name} = {{ version = "{version}", source = "pypi", package = "twotool" }}\n'


def _locked(root: Path, index: FakeIndex) -> None:
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url()}, check=True)


def _install(root: Path, index: FakeIndex, home: Path) -> None:
    devshell("install", "--locked", cwd=root, check=True,
             env={"PIP_INDEX_URL": index.url(), "DEVSHELL_HOME": str(home)})


def test_a_cold_install_asks_the_index_once_per_project(tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path / "proj", _tool("one", "1.0.0") + _tool("two", "2.0.0"))
    _locked(root, index)
    before = dict(index.server.hits)
    _install(root, index, tmp_path / "fresh-home")
    asked = {p: n - before.get(p, 0) for p, n in index.server.hits.items() if n > before.get(p, 0)}
    # Two files of one project, realised side by side: one look at its page.
    assert asked == {PAGE: 1, **{f"/files/{f['filename']}": 1 for f in index.files["twotool"]}}
    for prog in ("one", "two"):
        out = devshell("run", "--", prog, cwd=root, check=True, env={"DEVSHELL_HOME": str(tmp_path / "fresh-home")})
        assert out.stdout == f"{prog}\n"


def test_the_next_cold_install_revalidates_the_page_and_gets_304(tmp_path: Path, index: FakeIndex) -> None:
    first = _project(tmp_path / "first", _tool("one", "1.0.0"))
    second = _project(tmp_path / "second", _tool("two", "2.0.0"))
    _locked(first, index)
    _locked(second, index)
    home = tmp_path / "home"
    hits, unchanged = index.server.hits[PAGE], index.server.not_modified[PAGE]
    _install(first, index, home)
    assert (index.server.hits[PAGE] - hits, index.server.not_modified[PAGE] - unchanged) == (1, 0)
    # Another file of the same project, in the same home: the page is asked
    # for with its validators, and not sent again.
    _install(second, index, home)
    assert (index.server.hits[PAGE] - hits, index.server.not_modified[PAGE] - unchanged) == (2, 1)


def test_a_cached_file_needs_no_index(tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path / "proj", _tool("one", "1.0.0"))
    _locked(root, index)
    home = tmp_path / "home"
    _install(root, index, home)
    other = tmp_path / "other-home"
    shutil.copytree(home / "cache" / "downloads", other / "cache" / "downloads")  # that, nothing else
    index.server.routes[PAGE].faults[:] = ["503"] * 20
    hits = index.server.hits[PAGE]
    _install(root, index, other)
    assert index.server.hits[PAGE] == hits


def test_only_the_file_realised_must_be_well_formed(tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path / "proj", _tool("one", "1.0.0"))
    _locked(root, index)
    page = json.loads(index.server.routes[PAGE].body)
    wanted = next(f for f in page["files"] if f["filename"].startswith("twotool-1.0.0"))
    other = next(f for f in page["files"] if f is not wanted)
    other["hashes"] = {"sha256": "not a hash"}
    index.server.add(PAGE, json.dumps(page).encode(), content_type="application/vnd.pypi.simple.v1+json")
    _install(root, index, tmp_path / "home-a")  # another file's entry is not this install's business

    wanted["url"] = ["not", "a", "url"]
    index.server.add(PAGE, json.dumps(page).encode(), content_type="application/vnd.pypi.simple.v1+json")
    proc = devshell("install", "--locked", cwd=root,
                    env={"PIP_INDEX_URL": index.url(), "DEVSHELL_HOME": str(tmp_path / "home-b")})
    assert proc.returncode == 5, proc.stderr
    assert "malformed page for twotool" in proc.stderr and "twotool-1.0.0-py3-none-manylinux_2_17_x86_64.whl: url" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_different_answers_are_computed_side_by_side() -> None:
    ups = Upstreams()
    second_started = threading.Event()

    def first() -> str:
        # Waits for the other key's computation: with one lock held while
        # computing, this would time out.
        return "first" if second_started.wait(10) else "serialised"

    def second() -> str:
        second_started.set()
        return "second"

    found: dict[str, str] = {}
    worker = threading.Thread(target=lambda: found.update(a=ups.memo("a", first)))
    worker.start()
    found["b"] = ups.memo("b", second)
    worker.join()
    assert found == {"a": "first", "b": "second"}


def test_one_answer_is_computed_once_however_many_ask() -> None:
    ups = Upstreams()
    calls: list[int] = []
    gate = threading.Event()

    def compute() -> int:
        calls.append(1)
        gate.wait(10)
        return len(calls)

    threads = [threading.Thread(target=ups.memo, args=("k", compute)) for _ in range(8)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert ups.memo("k", compute) == 1 and len(calls) == 1


def test_a_failed_answer_is_asked_again() -> None:
    ups = Upstreams()

    def fail() -> str:
        raise OSError("no")

    with pytest.raises(OSError):
        ups.base("npm", fail)
    assert ups.base("npm", lambda: "http://127.0.0.1:1/") == "http://127.0.0.1:1/"


def _republished(index: FakeIndex, edit: Callable[[str], str]) -> None:
    text = index.server.routes[PAGE].body.decode()
    index.server.add(PAGE, edit(text).encode(), content_type="application/vnd.pypi.simple.v1+json")


def test_a_file_named_in_escapes_or_quoted_in_a_string_is_still_found_right(
        tmp_path: Path, index: FakeIndex) -> None:
    root = _project(tmp_path / "proj", _tool("one", "1.0.0"))
    _locked(root, index)
    page = json.loads(index.server.routes[PAGE].body)
    wanted = next(f for f in page["files"] if f["filename"].startswith("twotool-1.0.0"))
    # A decoy: the same name and another URL, inside another entry's string.
    decoy = json.dumps({"filename": wanted["filename"], "url": "/files/nothing-here.whl"})
    page["files"].insert(0, {"filename": "other-0.1-py3-none-any.whl", "url": "/files/other.whl",
                             "hashes": {}, "yanked": decoy})
    index.server.add(PAGE, json.dumps(page).encode(), content_type="application/vnd.pypi.simple.v1+json")
    _install(root, index, tmp_path / "home-a")
    assert index.server.hits["/files/nothing-here.whl"] == 0

    # The name written with JSON escapes: found by reading the page whole.
    _republished(index, lambda text: text.replace('"twotool-1.0.0', '"\\u0074wotool-1.0.0'))
    _install(root, index, tmp_path / "home-b")
