"""Ctrl-C during `install` stops within a second, says so, and leaves
nothing half-written: no output, no lock change; the next install sweeps what
the interrupted one left and succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.helpers import (
    DEVSHELL,
    devshell,
    script,
    sha256,
    tarball,
    url_tool,
    write_spec,
)
from tests.loopback import LoopbackServer, Route


def test_ctrl_c_during_a_slow_download_stops_at_once(tmp_path: Path, server: LoopbackServer) -> None:
    body = tarball({"bin/slow": script("echo slow"), "data": os.urandom(64 * 1024)}, top="slow-1.0")
    server.trickle_seconds = 0.05
    root = tmp_path / "proj"
    write_spec(root, url_tool("slow", "1.0", f"{server.url}/slow-{{version}}.tar.gz", {"x86_64-linux": sha256(body)}))
    server.routes["/slow-1.0.tar.gz"] = Route(body)
    devshell("lock", cwd=root, check=True)  # checks the spec's sha256: the bytes land in the download cache
    for cached in (Path(os.environ["DEVSHELL_HOME"]) / "cache" / "downloads").iterdir():
        cached.chmod(0o644)
        cached.unlink()
    server.routes["/slow-1.0.tar.gz"] = Route(body, faults=["trickle"] * 5)  # retries trickle too
    env = dict(os.environ, DEVSHELL_PLATFORM="x86_64-linux", DEVSHELL_PROGRESS="0")
    proc = subprocess.Popen([DEVSHELL, "install"], cwd=root, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while server.hits["/slow-1.0.tar.gz"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # well into the download
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    try:
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    took = time.monotonic() - sent
    assert proc.returncode == 130, err
    assert took < 1.0, f"took {took:.2f} s to stop"
    assert "interrupted" in err and "Traceback" not in err
    store = Path(os.environ["DEVSHELL_HOME"]) / "store"
    assert not [p for p in store.iterdir() if p.name.endswith("-slow-1.0") and not p.name.startswith(".tmp-")]
    # Nothing half-made survives the next run, which succeeds.
    server.routes["/slow-1.0.tar.gz"] = Route(body)
    devshell("install", cwd=root, check=True)
    assert not [p for p in store.iterdir() if p.name.startswith(".tmp-")]
    assert devshell("run", "--", "slow", cwd=root, check=True).stdout == "slow\n"
