"""Offline bundles: a user writes everything the lock needs into one file on
a connected machine, and another machine with no network at all (a network
namespace of its own, under `unshare -n`) installs the project from it and
runs its tools, a relocated Debian closure among them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from devshell.integrity import to_hex
from tests.greet_archive import GREETING, greet_archive
from tests.helpers import DEVSHELL, devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer
from tests.registry import SKOPEO

UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"


def _offline_prefix() -> list[str]:
    """A command prefix that runs a program in a new network namespace (only
    its own, unconfigured loopback): as root `unshare -n`, else in a user
    namespace too (`-rn`). Skips when the kernel refuses."""
    prefix = [UNSHARE, "-n"] if os.geteuid() == 0 else [UNSHARE, "-rn"]
    try:
        proc = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        pytest.skip(f"cannot run unshare: {exc}")
    if proc.returncode != 0:
        pytest.skip(f"the kernel refuses a network namespace here ({' '.join(prefix)}: {proc.stderr.strip()})")
    return prefix


def _offline(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_offline_prefix(), DEVSHELL, *args], cwd=cwd, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _hello(tmp_path: Path, server: LoopbackServer, version: str = "1.0") -> Path:
    url, sha = serve_tool(server, "hello", version, {"bin/hello": script(f'echo "hello {version} $*"')})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", version, url, {"x86_64-linux": sha}))
    return root


def test_a_bundle_installs_and_runs_with_no_network_at_all(tmp_path: Path, server: LoopbackServer) -> None:
    greet = greet_archive(server, tmp_path / "greet")
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0 $*"')},
                          platform=greet.platform)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "devshell.toml").write_text(greet.spec(url_tool("hello", "1.0", url, {greet.platform: sha})))
    bundle = tmp_path / "shell.tar"
    made = devshell("bundle", "--output", str(bundle), cwd=root, env=greet.env, check=True)
    assert "bundled 2 outputs" in made.stderr
    server.stop()

    other = {**greet.env, "DEVSHELL_HOME": str(tmp_path / "air-gapped")}
    proc = _offline("install", "--locked", "--from", str(bundle), cwd=root, env=other)
    assert proc.returncode == 0, proc.stderr
    ran = _offline("run", "--", "greet", cwd=root, env=other)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == GREETING + "\n"
    assert _offline("run", "--", "hello", "x", cwd=root, env=other).stdout == "hello 1.0 x\n"


def test_a_bundle_is_an_oci_layout_other_tools_read(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello(tmp_path, server)
    bundle = tmp_path / "shell.tar"
    devshell("bundle", "-o", str(bundle), cwd=root, check=True)
    lock = json.loads((root / "devshell.lock").read_text())
    artifact = lock["tools"]["hello"]["platforms"]["x86_64-linux"]
    if not Path(SKOPEO).exists():
        pytest.skip("needs skopeo")
    raw = json.loads(subprocess.run([SKOPEO, "inspect", "--raw", f"oci-archive:{bundle}:{artifact['output']}"],
                                    capture_output=True, text=True, check=True, timeout=60).stdout)
    assert raw["annotations"] == {"dev.devshell.output": artifact["output"]}
    assert [layer["annotations"]["dev.devshell.integrity"] for layer in raw["layers"]] == [artifact["integrity"]]
    again = tmp_path / "again.tar"
    devshell("bundle", "-o", str(again), cwd=root, check=True)
    assert again.read_bytes() == bundle.read_bytes()  # the same lock and store: the same bytes


def test_what_the_bundle_lacks_is_an_error_not_a_download(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello(tmp_path, server)
    bundle = tmp_path / "old.tar"
    devshell("bundle", "-o", str(bundle), cwd=root, check=True)
    url, sha = serve_tool(server, "hello", "2.0", {"bin/hello": script('echo "hello 2.0"')})
    write_spec(root, url_tool("hello", "2.0", url, {"x86_64-linux": sha}))
    devshell("lock", cwd=root, check=True)
    proc = devshell("install", "--from", str(bundle), cwd=root, env={"DEVSHELL_HOME": str(tmp_path / "other")})
    assert proc.returncode == 6
    assert f"{bundle} does not hold hello 2.0 (x86_64-linux)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "other" / "store").exists() or not any(
        p for p in (tmp_path / "other" / "store").iterdir() if not p.name.startswith("."))


def test_a_damaged_bundle_is_refused_by_hash_and_nothing_is_kept(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello(tmp_path, server)
    bundle = tmp_path / "shell.tar"
    devshell("bundle", "-o", str(bundle), cwd=root, check=True)
    lock = json.loads((root / "devshell.lock").read_text())
    integrity = lock["tools"]["hello"]["platforms"]["x86_64-linux"]["integrity"]
    data = bytearray(bundle.read_bytes())
    with tarfile.open(bundle) as tar:  # the tool's tarball: a url tool's integrity is its sha256
        member = tar.getmember("blobs/sha256/" + to_hex(integrity).removeprefix("sha256-"))
    data[member.offset_data + member.size // 2] ^= 0xFF
    bundle.write_bytes(bytes(data))
    other = tmp_path / "other"
    proc = devshell("install", "--from", str(bundle), cwd=root, env={"DEVSHELL_HOME": str(other)})
    assert proc.returncode == 5
    assert f"expected {integrity}" in proc.stderr and "the bundle is damaged" in proc.stderr
    downloads = other / "cache" / "downloads"
    assert not downloads.exists() or not any(downloads.iterdir())


def test_a_file_that_is_not_a_bundle_is_one_clear_line(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello(tmp_path, server)
    devshell("lock", cwd=root, check=True)
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all")
    proc = devshell("install", "--from", str(junk), cwd=root)
    assert proc.returncode == 6
    assert "cannot be read as a bundle" in proc.stderr and "Traceback" not in proc.stderr


def test_a_bundle_replaces_a_cached_download_a_crash_left_short(tmp_path: Path, server: LoopbackServer) -> None:
    # Downloads are not fsync'd: a crash may leave a short file under the
    # right name. The bundle's bytes must stand in for it, with no network.
    root = _hello(tmp_path, server)
    bundle = tmp_path / "shell.tar"
    devshell("bundle", "--output", str(bundle), cwd=root, check=True)
    server.stop()
    artifact = json.loads((root / "devshell.lock").read_text())["tools"]["hello"]["platforms"]["x86_64-linux"]
    other = tmp_path / "air-gapped"
    cached = other / "cache" / "downloads" / to_hex(artifact["integrity"])
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"short")
    env = {"DEVSHELL_HOME": str(other), "DEVSHELL_PLATFORM": "x86_64-linux"}
    proc = _offline("install", "--locked", "--from", str(bundle), cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _offline("run", "--", "hello", "x", cwd=root, env=env).stdout == "hello 1.0 x\n"
