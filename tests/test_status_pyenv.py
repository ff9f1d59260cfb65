"""`devshell status` for a Python tool environment: besides its version and
store path, the interpreter it runs on (the python tool's name and version)
and how many wheels it is made of; other tools' lines stay one line.

Served by the loopback index of tests/test_pyenv.py (its World builds the
wheels and a `python` tool running the host's CPython)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import devshell, sha256, tarball, url_tool
from tests.loopback import LoopbackServer
from tests.test_pyenv import World


@pytest.fixture
def world(server: LoopbackServer) -> World:
    w = World(server)
    w.mytool()
    w.closure()
    return w


def _block(status: str, name: str) -> list[str]:
    """The tool's line in `status`, and the indented lines under it."""
    lines = status.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith("      "):
            break
        block.append(line)
    return block


def _hello(server: LoopbackServer) -> str:
    body = tarball({"bin/hello": "#!/bin/sh\necho hello\n"}, top="hello-1.0")
    server.add("/hello-1.0.tar.gz", body)
    return url_tool("hello", "1.0", f"{server.url}/hello-{{version}}.tar.gz",
                    {"x86_64-linux": sha256(body)}, bin='["bin/hello"]')


def test_status_shows_the_interpreter_and_closure_size(tmp_path: Path, world: World) -> None:
    root = world.project(tmp_path, '"pypi:mytool" = "1"\n' + _hello(world.server))
    devshell("lock", cwd=root, env=world.env(), check=True)
    # mytool 1.0.0 with helper and fastdep on x86_64-linux: three wheels.
    before = devshell("status", cwd=root, env=world.env(), check=True).stdout
    tool = _block(before, "mytool")
    assert tool[0].split()[1:3] == ["1.0.0", "not"]
    assert tool[1:] == [f"      on python {world.version}, 3 wheels"]
    devshell("install", cwd=root, env=world.env(), check=True)
    after = devshell("status", cwd=root, env=world.env(), check=True).stdout
    out = devshell("store", "path", "mytool", cwd=root, env=world.env(), check=True).stdout.strip()
    tool = _block(after, "mytool")
    assert tool[0].split()[1:] == ["1.0.0", out]
    assert tool[1:] == [f"      on python {world.version}, 3 wheels"]
    # The python tool and a plain url tool keep their one line.
    assert len(_block(after, "python")) == 1
    assert len(_block(after, "hello")) == 1
    assert "wheels" not in "".join(_block(after, "python") + _block(after, "hello"))


def test_status_counts_the_closure_of_the_locked_release(tmp_path: Path, world: World) -> None:
    """A release with no dependencies is one wheel; the figure is the lock's."""
    from tests.pypi_index import pywheel

    world.add("solo", pywheel("solo", "2.0", scripts={"solo": "solo:main"}))
    root = world.project(tmp_path, '"pypi:solo" = "2"\n')
    devshell("lock", cwd=root, env=world.env(), check=True)
    status = devshell("status", cwd=root, env=world.env(), check=True).stdout
    assert _block(status, "solo")[1:] == [f"      on python {world.version}, 1 wheel"]
