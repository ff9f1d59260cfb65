"""The offline suite's network guard reaches the processes tests start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_a_subprocess_cannot_reach_past_loopback(tmp_path: Path) -> None:
    code = ("import socket\n"
            "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
            "except ConnectionRefusedError as e:\n    print('refused', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30).stdout
    assert out.startswith("refused test network guard")
    log = Path(os.environ["DEVSHELL_TEST_NETGUARD_LOG"])
    assert log.read_text().split()[1] == "192.0.2.1"
    log.unlink()  # the attempt was this test's own: not a failure


def test_loopback_stays_open_to_subprocesses(server: object, tmp_path: Path) -> None:
    url = server.url  # type: ignore[attr-defined]
    server.add("/x", b"ok")  # type: ignore[attr-defined]
    code = f"import urllib.request; print(urllib.request.urlopen({url + '/x'!r}).read().decode())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout == "ok\n", out.stderr
