"""verify finds every kind of damage to an output; --repair rebuilds it from
the download cache, or from the upstream when the cache is damaged too."""

from __future__ import annotations

import os
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


@pytest.mark.parametrize(("damage", "expected"), [
    (_flip_byte, "modified: share/data.txt"),
    (_delete_file, "missing: share/data.txt"),
    (_add_file, "extra: bin/intruder"),
    (_chmod, "mode: share/data.txt"),
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
