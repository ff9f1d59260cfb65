"""verify finds every kind of damage to an output; --repair rebuilds it from
the download cache, or from the upstream when the cache is damaged too."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer


def _installed(tmp_path: Path, server: LoopbackServer) -> tuple[Path, Path]:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0"'),
                                                   "share/data.txt": "some data\n"})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}))
    devshell("install", cwd=root, check=True)
    out = Path(devshell("store", "path", "hello", cwd=root, check=True).stdout.strip())
    return root, out


def _writable(path: Path) -> None:
    os.chmod(path.parent, 0o755)
    if path.exists():
        os.chmod(path, path.stat().st_mode | stat.S_IWUSR)


def _flip_byte(out: Path) -> None:
    target = out / "share" / "data.txt"
    _writable(target)
    data = bytearray(target.read_bytes())
    data[0] ^= 1
    target.write_bytes(bytes(data))
    os.chmod(target, 0o444)
    os.chmod(target.parent, 0o555)


def _delete_file(out: Path) -> None:
    target = out / "share" / "data.txt"
    _writable(target)
    target.unlink()
    os.chmod(target.parent, 0o555)


def _add_file(out: Path) -> None:
    os.chmod(out / "bin", 0o755)
    (out / "bin" / "intruder").write_text("x")
    os.chmod(out / "bin", 0o555)


def _chmod(out: Path) -> None:
    os.chmod(out / "share" / "data.txt", 0o755)


def _setuid(out: Path) -> None:
    os.chmod(out / "bin" / "hello", 0o4555)


def _setgid(out: Path) -> None:
    os.chmod(out / "share" / "data.txt", 0o2444)


def _sticky(out: Path) -> None:
    os.chmod(out / "share", 0o1555)


@pytest.mark.parametrize(("damage", "expected"), [
    (_flip_byte, "modified: share/data.txt"),
    (_delete_file, "missing: share/data.txt"),
    (_add_file, "extra: bin/intruder"),
    (_chmod, "mode: share/data.txt"),
    (_setuid, "setuid/setgid/sticky bit: bin/hello"),
    (_setgid, "setuid/setgid/sticky bit: share/data.txt"),
    (_sticky, "setuid/setgid/sticky bit: share"),
])
def test_verify_reports_damage_and_repair_restores(tmp_path: Path, server: LoopbackServer,
                                                   damage: object, expected: str) -> None:
    root, out = _installed(tmp_path, server)
    assert devshell("verify", cwd=root).returncode == 0
    damage(out)  # type: ignore[operator]
    proc = devshell("verify", cwd=root)
    assert proc.returncode == 1
    assert f"DAMAGED  {out.name}" in proc.stdout and expected in proc.stdout
    assert "--repair" in proc.stderr
    fixed = devshell("verify", "--repair", cwd=root)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "repaired" in fixed.stdout
    assert devshell("verify", "--all", cwd=root).returncode == 0
    assert (out / "share" / "data.txt").read_text() == "some data\n"
    assert not (out / "bin" / "intruder").exists()
    for path in (out, out / "bin", out / "bin" / "hello", out / "share", out / "share" / "data.txt"):
        assert not path.stat().st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 1.0\n"


def test_repair_from_upstream_when_the_cache_is_damaged_too(tmp_path: Path, server: LoopbackServer) -> None:
    root, out = _installed(tmp_path, server)
    hits_before = sum(server.hits.values())
    _delete_file(out)
    cache = Path(os.environ["DEVSHELL_HOME"]) / "cache" / "downloads"
    (cached,) = list(cache.iterdir())
    os.chmod(cached, 0o644)
    cached.write_bytes(b"rotten")
    assert devshell("verify", "--repair", cwd=root).returncode == 0
    assert sum(server.hits.values()) == hits_before + 1  # fetched again from the server
    assert devshell("verify", cwd=root).returncode == 0


def test_repair_from_cache_needs_no_network(tmp_path: Path, server: LoopbackServer) -> None:
    root, out = _installed(tmp_path, server)
    _flip_byte(out)
    server.stop()
    assert devshell("verify", "--repair", "hello", cwd=root).returncode == 0
    assert devshell("verify", "hello", cwd=root).returncode == 0


def test_status_warns_when_an_output_is_writable(tmp_path: Path, server: LoopbackServer) -> None:
    root, out = _installed(tmp_path, server)
    assert "not read-only" not in devshell("status", cwd=root, check=True).stdout
    os.chmod(out, 0o755)
    status = devshell("status", cwd=root, check=True).stdout
    assert "not read-only" in status and "devshell verify" in status


@pytest.mark.parametrize("project", ["still there", "gone"])
def test_repair_from_another_directory_fetches_from_the_projects_own_upstream(
        tmp_path: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, project: str) -> None:
    from tests.npm_registry import FakeRegistry
    from tests.test_npm import NATIVE

    FakeRegistry(server).publish(
        "@fake/tool-linux-x64", "1.4.2",
        {"bin/tool": script('echo "tool 1.4.2"'), "share/data.txt": "some data\n"}, **NATIVE)
    root = tmp_path / "proj"
    write_spec(root, 'tool = { version = "1.4", source = "npm", package = "@fake/tool-linux-x64", '
                     'bin = ["bin/tool"] }\n')
    (root / ".npmrc").write_text(f"registry={server.url}\n")  # only this project's
    user = tmp_path / "user-npmrc"
    user.write_text("registry=http://127.0.0.1:9/\n")  # elsewhere: nothing listens there
    for name in ("npm_config_registry", "NPM_CONFIG_REGISTRY", "NPM_CONFIG_GLOBALCONFIG",
                 "DEVSHELL_NPM_REGISTRY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NPM_CONFIG_USERCONFIG", str(user))
    devshell("install", cwd=root, check=True)
    out = Path(devshell("store", "path", "tool", cwd=root, check=True).stdout.strip())

    _flip_byte(out)
    downloads = Path(os.environ["DEVSHELL_HOME"]) / "cache" / "downloads"
    for cached in downloads.iterdir():  # the repair must go to the upstream
        cached.unlink()
    if project == "gone":  # its .npmrc with it: the manifest still says where it came from
        shutil.rmtree(root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "devshell.toml").write_text("[tools\nbroken = \n")
    tarball = "/@fake/tool-linux-x64/-/tool-linux-x64-1.4.2.tgz"
    before = server.hits[tarball]

    proc = devshell("verify", "--all", "--repair", cwd=elsewhere)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"DAMAGED  {out.name}" in proc.stdout and "repaired" in proc.stdout
    assert server.hits[tarball] == before + 1
    assert devshell("verify", "--all", cwd=elsewhere).returncode == 0
    assert (out / "share" / "data.txt").read_text() == "some data\n"
