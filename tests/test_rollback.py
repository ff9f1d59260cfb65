"""Generations and rollback: an upgrade is undone with one command, offline."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer


def _two_versions(tmp_path: Path, server: LoopbackServer) -> tuple[Path, str, str]:
    """A project at hello 1.0, with 2.0 also served; returns root and both spec lines."""
    url, sha1 = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0"')})
    _, sha2 = serve_tool(server, "hello", "2.0", {"bin/hello": script('echo "hello 2.0"')})
    v1 = url_tool("hello", "1.0", url, {"x86_64-linux": sha1})
    v2 = url_tool("hello", "2.0", url, {"x86_64-linux": sha2})
    root = tmp_path / "proj"
    write_spec(root, v1)
    return root, v1, v2


def _upgrade(root: Path, v1: str, v2: str) -> None:
    spec = root / "devshell.toml"
    spec.write_text(spec.read_text().replace(v1, v2))


def test_rollback_after_an_upgrade_works_offline(tmp_path: Path, server: LoopbackServer) -> None:
    root, v1, v2 = _two_versions(tmp_path, server)
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 1.0\n"
    _upgrade(root, v1, v2)
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 2.0\n"
    listing = devshell("generations", cwd=root, check=True).stdout.splitlines()
    assert len(listing) == 2
    assert "+ hello 1.0" in listing[0]
    assert "~ hello 1.0 → 2.0" in listing[1] and "(current)" in listing[1]
    assert "~ hello 1.0 → 2.0" in devshell("diff", "1", "2", cwd=root, check=True).stdout

    server.stop()  # no network from here on
    proc = devshell("rollback", cwd=root, check=True)
    assert "rolled back to generation 1" in proc.stderr and "hello 2.0 → 1.0" in proc.stderr
    assert 'version = "1.0"' in (root / "devshell.toml").read_text()
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 1.0\n"
    listing = devshell("generations", cwd=root, check=True).stdout.splitlines()
    assert len(listing) == 2 and "(current)" in listing[0]
    # And forward again, still offline.
    devshell("rollback", "2", cwd=root, check=True)
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 2.0\n"


def test_rollback_refuses_to_overwrite_unsaved_edits(tmp_path: Path, server: LoopbackServer) -> None:
    root, v1, v2 = _two_versions(tmp_path, server)
    devshell("install", cwd=root, check=True)
    _upgrade(root, v1, v2)
    devshell("install", cwd=root, check=True)
    spec = root / "devshell.toml"
    edited = spec.read_text() + "# my unsaved note\n"
    spec.write_text(edited)
    lock_before = (root / "devshell.lock").read_bytes()
    proc = devshell("rollback", cwd=root)
    assert proc.returncode == 2
    assert "no generation holds" in proc.stderr and "--force" in proc.stderr
    assert spec.read_text() == edited
    assert (root / "devshell.lock").read_bytes() == lock_before
    devshell("rollback", "--force", cwd=root, check=True)
    assert "my unsaved note" not in spec.read_text()
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 1.0\n"


def test_diff_shows_what_the_current_files_change(tmp_path: Path, server: LoopbackServer) -> None:
    root, v1, v2 = _two_versions(tmp_path, server)
    devshell("install", cwd=root, check=True)
    assert "no changes" in devshell("diff", cwd=root, check=True).stdout
    _upgrade(root, v1, v2)
    devshell("lock", cwd=root, check=True)
    out = devshell("diff", cwd=root, check=True).stdout
    assert "generation 1 → the current devshell.lock" in out
    assert "~ hello 1.0 → 2.0" in out and "devshell.toml differs" in out


def test_lock_update_and_add_record_generations_that_rollback_undoes(tmp_path: Path,
                                                                     server: LoopbackServer) -> None:
    from tests.pypi_index import FakeIndex, wheel

    index = FakeIndex(server)
    tag = "manylinux_2_17_x86_64"
    index.add("faketool", *wheel("faketool", "1.1.0", tag, {"faketool": "#!/bin/sh\necho faketool 1.1.0\n"}))
    env = {"PIP_INDEX_URL": index.url()}
    root = tmp_path / "proj"
    root.mkdir()
    (root / "devshell.toml").write_text('[shell]\nplatforms = ["x86_64-linux"]\n[tools]\n"pypi:faketool" = "1"\n')
    devshell("install", cwd=root, env=env, check=True)
    index.add("faketool", *wheel("faketool", "1.2.0", tag, {"faketool": "#!/bin/sh\necho faketool 1.2.0\n"}))
    proc = devshell("lock", "--update", cwd=root, env=env, check=True)
    assert "faketool: 1.1.0 → 1.2.0" in proc.stderr
    index.add("othertool", *wheel("othertool", "3.0.0", tag, {"othertool": "#!/bin/sh\necho other\n"}))
    devshell("add", "pypi:othertool@3", cwd=root, env=env, check=True)
    listing = devshell("generations", cwd=root, check=True).stdout.splitlines()
    assert len(listing) == 3
    assert "~ faketool 1.1.0 → 1.2.0" in listing[1] and "+ othertool 3.0.0" in listing[2]
    devshell("rollback", "1", cwd=root, env={"DEVSHELL_OFFLINE": "1"}, check=True)
    assert devshell("run", "--", "faketool", cwd=root, check=True).stdout == "faketool 1.1.0\n"
    assert "othertool" not in (root / "devshell.toml").read_text()


def test_generations_and_rollback_work_while_the_spec_is_broken(tmp_path: Path, server: LoopbackServer) -> None:
    root, v1, v2 = _two_versions(tmp_path, server)
    devshell("install", cwd=root, check=True)
    _upgrade(root, v1, v2)
    devshell("install", cwd=root, check=True)
    (root / "devshell.toml").write_text("[tools\nbroken = ")  # a bad edit
    listing = devshell("generations", cwd=root, check=True).stdout.splitlines()
    assert len(listing) == 2
    proc = devshell("rollback", "2", "--force", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert 'version = "2.0"' in (root / "devshell.toml").read_text()
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 2.0\n"
