"""`--format json` on status, generations, verify and store: one JSON object on
stdout and nothing else, with the documented field names, read by a script."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer


def _data(*args: str, cwd: Path, code: int = 0) -> Any:
    proc = devshell(*args, "--format", "json", cwd=cwd)
    assert proc.returncode == code, proc.stderr
    return json.loads(proc.stdout)  # the whole of stdout is one document


def _hello(server: LoopbackServer, version: str) -> str:
    url, sha = serve_tool(server, "hello", version, {"bin/hello": script(f'echo "hello {version}"'),
                                                     "share/data.txt": "some data\n"})
    return url_tool("hello", version, url, {"x86_64-linux": sha})


@pytest.fixture
def project(tmp_path: Path, server: LoopbackServer) -> Path:
    root = tmp_path / "proj"
    write_spec(root, _hello(server, "1.0"))
    return root


def test_status_names_the_lock_state_and_each_tools_state(project: Path) -> None:
    before = _data("status", cwd=project)
    assert before["lock"] == "missing"
    assert before["tools"] == [{"name": "hello", "constraint": "1.0", "version": None, "state": "not-locked",
                                "output": None, "path": None, "environment": None, "warnings": []}]

    devshell("lock", cwd=project, check=True)
    locked = _data("status", cwd=project)["tools"][0]
    assert (locked["state"], locked["version"], locked["path"]) == ("not-fetched", "1.0", None)
    assert locked["output"].endswith("-hello-1.0")

    devshell("install", cwd=project, check=True)
    status = _data("status", cwd=project)
    tool = status["tools"][0]
    assert status["lock"] == "up-to-date"
    assert status["root"] == str(project)
    assert status["platform"] == "x86_64-linux"
    assert status["isolation"] in ("pure", "inherit")
    assert status["host_tools"] == []
    assert tool["state"] == "realised"
    assert tool["output"] == locked["output"]
    assert tool["path"] == devshell("store", "path", "hello", cwd=project, check=True).stdout.strip()
    assert os.path.isfile(os.path.join(tool["path"], "bin", "hello"))

    with (project / "devshell.toml").open("a") as spec:
        spec.write('other = { version = "1.0", url = "http://127.0.0.1:9/x", sha256 = { "x86_64-linux" = "'
                   + "0" * 64 + '" } }\n')
    stale = _data("status", cwd=project)
    assert stale["lock"] == "stale"
    assert [(t["name"], t["state"]) for t in stale["tools"]] == [("hello", "realised"), ("other", "not-locked")]


def test_status_json_warns_of_a_writable_output_by_code(project: Path) -> None:
    devshell("install", cwd=project, check=True)
    out = Path(_data("status", cwd=project)["tools"][0]["path"])
    os.chmod(out / "bin" / "hello", 0o755)
    assert _data("status", cwd=project)["tools"][0]["warnings"] == ["writable"]


def test_generations_list_each_change_per_tool(project: Path, server: LoopbackServer) -> None:
    assert _data("generations", cwd=project) == {"current": None, "generations": []}

    devshell("install", cwd=project, check=True)
    write_spec(project, _hello(server, "2.0"))
    devshell("install", cwd=project, check=True)
    data = _data("generations", cwd=project)
    assert data["current"] == 2
    first, second = data["generations"]
    assert (first["number"], first["current"], second["number"], second["current"]) == (1, False, 2, True)
    assert first["tools"] == {"hello": "1.0"} and second["tools"] == {"hello": "2.0"}
    assert first["changes"] == [{"tool": "hello", "before": None, "after": "1.0"}]
    assert second["changes"] == [{"tool": "hello", "before": "1.0", "after": "2.0"}]
    assert first["time"] <= second["time"] and first["time"].endswith("Z")
    assert second["profile"] != first["profile"]

    devshell("rollback", "1", cwd=project, check=True)
    assert _data("generations", cwd=project)["current"] == 1


def _flip_a_byte(out: Path) -> None:
    target = out / "share" / "data.txt"
    os.chmod(target.parent, 0o755)
    os.chmod(target, 0o644)
    target.write_text("Some data\n")
    os.chmod(target, 0o444)
    os.chmod(target.parent, 0o555)


def test_verify_names_each_output_and_its_problems(project: Path) -> None:
    devshell("install", cwd=project, check=True)
    out = Path(devshell("store", "path", "hello", cwd=project, check=True).stdout.strip())
    clean = _data("verify", cwd=project)
    assert clean["damaged"] == 0
    names = [o["name"] for o in clean["outputs"]]
    assert out.name in names and any("-profile-" in n for n in names)  # the tool's, then the profile's
    assert all(o["ok"] and o["problems"] == [] and not o["repaired"] for o in clean["outputs"])
    assert {o["path"] for o in clean["outputs"]} >= {str(out)}

    _flip_a_byte(out)
    damaged = _data("verify", cwd=project, code=1)
    entry = next(o for o in damaged["outputs"] if o["name"] == out.name)
    assert damaged["damaged"] == 1
    assert (entry["ok"], entry["repaired"]) == (False, False)
    assert entry["problems"] == [{"kind": "modified", "path": "share/data.txt"}]

    repaired = _data("verify", "--repair", cwd=project)
    entry = next(o for o in repaired["outputs"] if o["name"] == out.name)
    assert (repaired["damaged"], entry["ok"], entry["repaired"]) == (0, True, True)
    assert entry["problems"] == [{"kind": "modified", "path": "share/data.txt"}]  # what was found
    assert (out / "share" / "data.txt").read_text() == "some data\n"
    assert not stat.S_IMODE((out / "share" / "data.txt").stat().st_mode) & 0o222


def test_store_path_pin_and_unpin_say_where_and_whether_pinned(project: Path) -> None:
    devshell("install", cwd=project, check=True)
    path = _data("store", "path", "hello", cwd=project)
    assert path["tool"] == "hello" and path["version"] == "1.0" and path["pinned"] is False
    assert path["path"].endswith("/" + path["output"]) and os.path.isdir(path["path"])

    pinned = _data("store", "pin", "hello", cwd=project)
    assert pinned == {**path, "pinned": True}
    assert _data("store", "path", "hello", cwd=project)["pinned"] is True
    assert _data("store", "unpin", "hello", cwd=project) == path


def test_json_errors_stay_off_stdout(project: Path) -> None:
    proc = devshell("store", "path", "nosuch", "--format", "json", cwd=project)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "devshell: error: 'nosuch' is not a tool of this devshell" in proc.stderr
