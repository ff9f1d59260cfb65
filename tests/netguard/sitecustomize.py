"""Loaded by every Python a test starts (tests/conftest.py puts this folder on
PYTHONPATH): the real `devshell` console script included, so a subprocess that
reaches past loopback fails the test as the pytest process itself would.

Each refused address is appended to $DEVSHELL_TEST_NETGUARD_LOG, which the
autouse fixture reads after the test; the connection fails as refused."""

from __future__ import annotations

import os
import socket

_log = os.environ.get("DEVSHELL_TEST_NETGUARD_LOG", "")
if _log:
    _real_connect = socket.socket.connect
    _real_connect_ex = socket.socket.connect_ex

    def _refuse(address: object) -> bool:
        host = address[0] if isinstance(address, tuple) else address
        if not isinstance(host, str) or host.startswith("/"):
            return False
        if host in ("localhost", "::1") or host.startswith("127."):
            return False
        with open(_log, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {host}\n")
        return True

    def connect(self: socket.socket, address: object) -> None:
        if _refuse(address):
            raise ConnectionRefusedError(f"test network guard: {address!r} is not loopback")
        _real_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        if _refuse(address):
            return 111  # ECONNREFUSED
        return _real_connect_ex(self, address)  # type: ignore[arg-type]

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
