"""A lock comes from a repository: every field is checked before it becomes a
path, an artifact's `output` must be the name its own fields give, and a
hand-edited lock can neither write outside $DEVSHELL_HOME nor pass its bytes
off under another output's name. Version 1 locks are migrated on read."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devshell import integrity, lock, store
from devshell.errors import LockStaleError, StoreError
from devshell.home import Home
from devshell.sources import common
from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer

PLAT = "x86_64-linux"
Data = dict[str, Any]


def _home() -> Home:
    return Home(Path(os.environ["DEVSHELL_HOME"]))


def _locked(tmp_path: Path, server: LoopbackServer) -> tuple[Path, Data]:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0"')})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {PLAT: sha}))
    devshell("lock", cwd=root, check=True)
    return root, json.loads((root / "devshell.lock").read_text())


def _artifact(data: Data) -> Data:
    art: Data = data["tools"]["hello"]["platforms"][PLAT]
    return art


def _rename(data: Data) -> None:
    """Give the artifact the name its (edited) fields give: only the edit is wrong."""
    art = _artifact(data)
    unchecked = lock.Artifact(
        url=art["url"], integrity=art["integrity"], size=None, format=art["unpack"]["format"],
        strip=art["unpack"]["strip"], bin=tuple(art["bin"]), env=(), output="")
    art["output"] = lock.output_name("hello", data["tools"]["hello"]["version"],
                                     lock.shape(unchecked))


def _write(root: Path, data: Data) -> None:
    (root / "devshell.lock").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _outside(tmp_path: Path) -> set[str]:
    """What exists in tmp_path besides the project and devshell's own directories."""
    return {p.name for p in tmp_path.iterdir()} - {"proj", "devshell-home", "xdg-config", "xdg-data"}


# --- writing outside the store -------------------------------------------------------


@pytest.mark.parametrize("output", ["../../escaped", "ABS", "../escaped", "x/../../escaped"])
def test_an_output_that_leads_outside_the_store_is_refused(
        tmp_path: Path, server: LoopbackServer, output: str) -> None:
    root, data = _locked(tmp_path, server)
    before = _outside(tmp_path)
    _artifact(data)["output"] = str(tmp_path / "escaped") if output == "ABS" else output
    _write(root, data)
    proc = devshell("install", "--locked", cwd=root)
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(root / "devshell.lock") in proc.stderr
    assert f"tools.hello.platforms.{PLAT}.output" in proc.stderr
    assert _outside(tmp_path) == before
    home = _home()
    assert not home.store.exists() or list(home.store.iterdir()) == []
    assert not home.meta.exists() or list(home.meta.iterdir()) == []


def test_an_output_under_another_name_than_its_fields_give_is_refused(
        tmp_path: Path, server: LoopbackServer) -> None:
    # A well-formed name, but not this artifact's: the bytes would be realised
    # under the name of some other, legitimate output and poison it.
    root, data = _locked(tmp_path, server)
    real = _artifact(data)["output"]
    _artifact(data)["output"] = "0" * 32 + "-node-22.0.0"
    _write(root, data)
    proc = devshell("install", "--locked", cwd=root)
    assert proc.returncode == 4, proc.stderr
    assert f"tools.hello.platforms.{PLAT}.output" in proc.stderr and real in proc.stderr
    assert not _home().store.exists() or list(_home().store.iterdir()) == []


@pytest.mark.parametrize("entry", ["../../../victim", "bin/../../../../victim", "/VICTIM"])
def test_a_locked_bin_path_outside_the_output_is_refused_and_nothing_is_chmodded(
        tmp_path: Path, server: LoopbackServer, entry: str) -> None:
    root, data = _locked(tmp_path, server)
    victim = tmp_path / "victim"
    victim.write_text("not a program\n")
    victim.chmod(0o644)
    _artifact(data)["bin"] = [entry.replace("/VICTIM", str(victim))]
    _rename(data)
    _write(root, data)
    proc = devshell("install", "--locked", cwd=root)
    assert proc.returncode == 4, proc.stderr
    assert f"tools.hello.platforms.{PLAT}.bin" in proc.stderr and "Traceback" not in proc.stderr
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644


@pytest.mark.parametrize("entry", ["../../planted=bin/hello", "a/b=bin/hello", ".=bin/hello"])
def test_a_locked_program_name_that_is_not_plain_is_refused(
        tmp_path: Path, server: LoopbackServer, entry: str) -> None:
    root, data = _locked(tmp_path, server)
    _artifact(data)["bin"] = [entry]
    _rename(data)
    _write(root, data)
    proc = devshell("install", "--locked", cwd=root)
    assert proc.returncode == 4, proc.stderr
    assert f"tools.hello.platforms.{PLAT}.bin" in proc.stderr
    assert not os.path.lexists(_home().store / "planted")


@pytest.mark.parametrize("bin_", ['["../../../victim"]', '["../../planted=bin/hello"]'])
def test_a_spec_whose_bin_leaves_the_output_changes_nothing_outside_it(
        tmp_path: Path, server: LoopbackServer, bin_: str) -> None:
    victim = tmp_path / "victim"
    victim.write_text("not a program\n")
    victim.chmod(0o644)
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0"')})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {PLAT: sha}, bin=bin_))
    proc = devshell("install", cwd=root)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "bin" in proc.stderr
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert not os.path.lexists(_home().store / "planted")
    assert not [n for n in os.listdir(_home().store) if not n.startswith(".")] \
        if _home().store.exists() else True


# --- every field, checked --------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[Data], None]:
    """An edit at `path` (dots; `@` stands for the artifact) to `value`."""

    def edit(data: Data) -> None:
        keys = path.split(".")
        node: Any = _artifact(data) if keys[0] == "@" else data
        for key in keys[1 if keys[0] == "@" else 0:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[keys[-1]] = value

    return edit


def _retool(name: str) -> Callable[[Data], None]:
    def edit(data: Data) -> None:
        data["tools"][name] = data["tools"].pop("hello")
    return edit


def _replat(name: str) -> Callable[[Data], None]:
    def edit(data: Data) -> None:
        plats = data["tools"]["hello"]["platforms"]
        plats[name] = plats.pop(PLAT)
    return edit


_PART: Data = {"name": "libx", "version": "1.0", "url": "deb:pool/main/l/libx.deb",
         "integrity": "sha256-" + "A" * 43 + "=", "size": 10}


@pytest.mark.parametrize(("edit", "where"), [
    (_set("@.unpack.strip", -1), "unpack.strip"),
    (_set("@.unpack.strip", "none"), "unpack.strip"),
    (_set("@.unpack.strip", True), "unpack.strip"),
    (_set("@.unpack.format", "rar"), "unpack.format"),
    (_set("@.size", -5), "size"),
    (_set("@.size", "12"), "size"),
    (_set("@.env", {"BAD-NAME": "x"}), "env"),
    (_set("@.env", {"OK": 1}), "env.OK"),
    (_set("@.integrity", "md5-abc"), "integrity"),
    (_set("@.url", "file:///etc/shadow"), "url"),
    (_set("@.url", "deb:../../etc/shadow"), "url"),
    (_set("@.url", "https://example.invalid/a b"), "url"),
    (_set("@.closure", [dict(_PART, name="../libx")]), "closure[0].name"),
    (_set("@.closure", [dict(_PART, version="1/0")]), "closure[0].version"),
    (_set("@.closure", [dict(_PART, size=-1)]), "closure[0].size"),
    (_set("@.closure", [dict(_PART, url="npm:/abs")]), "closure[0].url"),
    (_set("@.index-verified", "yes"), "index-verified"),
    (_set("@.fixups", ["../x"]), "fixups"),
    (_set("tools.hello.version", "1.0/../x"), "tools.hello.version"),
    (_set("tools.hello.version", "1.0\0"), "tools.hello.version"),
    (_set("tools.hello.needs", ["../node"]), "tools.hello.needs"),
    (_set("tools.hello.source", "a/b"), "tools.hello.source"),
    (_retool("../hello"), "tools.'../hello'"),
    (_replat("../x86_64-linux"), "platforms.'../x86_64-linux'"),
    (_set("lock-version", 3), "lock-version"),
    (_set("tools", []), "tools"),
])
def test_every_field_is_checked_with_the_file_and_field_named(
        tmp_path: Path, server: LoopbackServer, edit: Callable[[Data], None], where: str) -> None:
    root, data = _locked(tmp_path, server)
    edit(data)
    _write(root, data)
    with pytest.raises(LockStaleError) as info:
        lock.load(root / "devshell.lock")
    assert str(root / "devshell.lock") in info.value.message
    assert where in info.value.message
    assert info.value.exit_code == 4


def test_a_lock_devshell_writes_reads_back_unchanged(tmp_path: Path, server: LoopbackServer) -> None:
    root, data = _locked(tmp_path, server)
    assert data["lock-version"] == 2
    text = (root / "devshell.lock").read_text()
    loaded = lock.load(root / "devshell.lock")
    assert loaded is not None and lock.dumps(loaded) == text


# --- version 1 locks -------------------------------------------------------------------


def _v1(data: Data) -> Data:
    """The lock as devshell wrote it at lock-version 1: digests over the shape alone."""
    old: Data = json.loads(json.dumps(data))
    old["lock-version"] = 1
    for tool in old["tools"].values():
        for art in tool["platforms"].values():
            fixups = art.pop("fixups", [])
            shape: Data = {"integrity": art["integrity"], "format": art["unpack"]["format"],
                           "strip": art["unpack"]["strip"], "bin": art["bin"], "fixups": fixups}
            if art.get("closure"):
                shape["closure"] = [p["integrity"] for p in art["closure"]]
            rest = art["output"].split("-", 1)[1]
            art["output"] = f"{integrity.digest_of(shape)}-{rest}"
    return old


def test_a_v1_lock_installs_with_locked_under_the_names_a_v2_lock_gives(
        tmp_path: Path, server: LoopbackServer) -> None:
    root, data = _locked(tmp_path, server)
    v2_name = _artifact(data)["output"]
    old = _v1(data)
    assert _artifact(old)["output"] != v2_name
    _write(root, old)
    text = (root / "devshell.lock").read_text()
    devshell("install", "--locked", cwd=root, check=True)
    assert (root / "devshell.lock").read_text() == text  # --locked writes nothing
    out = devshell("store", "path", "hello", "--locked", cwd=root, check=True).stdout.strip()
    assert Path(out).name == v2_name
    assert devshell("run", "--locked", "--", "hello", cwd=root, check=True).stdout == "hello 1.0\n"
    loaded = lock.load(root / "devshell.lock")
    assert loaded is not None and loaded.lock_version == 1
    assert json.loads(lock.dumps(loaded)) == data  # the next write is the v2 lock, pins unmoved


def test_a_v1_deb_artifact_gets_the_fixups_it_was_realised_with() -> None:
    from devshell.sources.deb import FIXUPS

    sri = "sha256-" + "B" * 43 + "="
    fresh = common.artifact("jq", "1.6-2.1", url="deb:pool/main/j/jq/jq_1.6-2.1_amd64.deb",
                            integrity=sri, size=100, format="deb", strip=0, bin=("usr/bin/jq",),
                            env=(), closure=(lock.Part("libx", "1.0", _PART["url"], _PART["integrity"], 10),), fixups=FIXUPS)
    art = fresh.to_json()
    assert art["fixups"] == list(FIXUPS)  # a v2 lock records them
    del art["fixups"]
    art["output"] = "0" * 32 + "-jq-1.6-2.1"
    v1 = {"lock-version": 1, "spec-hash": "sha256-x", "tools": {"jq": {
        "constraint": "latest", "source": "deb", "version": "1.6-2.1", "inputs": "sha256-y",
        "package": "jq", "platforms": {PLAT: art}}}}
    loaded = lock._from_json(v1)
    migrated = loaded.tools[0].platforms[0][1]
    assert migrated == fresh  # the very name, and fix-ups, a re-lock gives


# --- defence in depth: the store and the profile check again ------------------------------


def test_a_program_reached_through_a_symlink_out_of_the_output_is_refused(
        tmp_path: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = tmp_path / "victim"
    victim.write_text("#!/bin/sh\n")
    victim.chmod(0o644)
    body = b"an archive"
    server.add("/tool.tar.gz", body)
    sri = integrity.sri("sha256", hashlib.sha256(body).digest())

    def unpack(archive: Path, fmt: str, dest: Path, **_: object) -> None:
        (dest / "bin").mkdir()
        (dest / "bin" / "tool").symlink_to(victim)

    from devshell.sources.locate import Upstreams

    monkeypatch.setattr("devshell.store.unpack.unpack", unpack)
    art = common.artifact("tool", "1.0", url=f"{server.url}/tool.tar.gz", integrity=sri, size=None,
                          format="tar.gz", strip=0, bin=("bin/tool",), env=())
    with pytest.raises(StoreError, match="outside the output"):
        store.add_artifact(_home(), art, "tool 1.0", Upstreams())
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert os.listdir(_home().store) == []


def test_the_profile_refuses_a_link_name_that_is_not_plain(tmp_path: Path) -> None:
    from devshell.store import profile

    art = lock.Artifact(url="https://example.invalid/x", integrity="sha256-" + "A" * 43 + "=",
                        size=None, format="tar.gz", strip=0, bin=("../../planted=bin/x",), env=(),
                        output="0" * 32 + "-x-1.0")
    with pytest.raises(StoreError, match="bin entry"):
        profile.build(_home(), "proj", [art])
    assert not os.path.lexists(_home().store / "planted")
    assert not os.path.lexists(_home().root / "planted")


@pytest.mark.parametrize("name", ["../escaped", "/abs", "", ".hidden", "a/b", "x\0y"])
def test_store_paths_are_confined_to_their_directories(name: str) -> None:
    home = _home()
    for build in (home.output, home.manifest, home.lock_file):
        with pytest.raises(StoreError):
            build(name)
