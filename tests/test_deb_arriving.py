"""A Debian closure's .debs are unpacked as they arrive: the first packages
are ready while the last still download, and a failed download stops the
rest from being waited for."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path

import pytest

from devshell.debian.fill import Arriving
from devshell.errors import IntegrityError
from devshell.home import Home
from devshell.net.fetch import Download
from tests.loopback import LoopbackServer


def _download(server: LoopbackServer, name: str, body: bytes, served: bytes | None = None) -> Download:
    url = server.add(f"/pool/{name}.deb", body if served is None else served)
    sri = "sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    return Download(url, sri, len(body), f"{name} 1.0")


def _home() -> Home:
    return Home(Path(os.environ["DEVSHELL_HOME"]))


def test_the_first_package_is_ready_while_the_last_still_arrives(server: LoopbackServer) -> None:
    downloads = [_download(server, f"p{i}", f"package {i}".encode() * 10) for i in range(3)]
    server.routes["/pool/p2.deb"].faults.append("trickle")
    server.trickle_seconds = 0.02  # ~2 s for its 100 bytes
    with Arriving(_home(), downloads) as debs:
        start = time.monotonic()
        first, label = debs[0]
        ready = time.monotonic() - start
        assert first.read_bytes() == b"package 0" * 10 and label == "p0 1.0"
        last, _ = debs[2]
        arrived = time.monotonic() - start
    assert last.read_bytes() == b"package 2" * 10
    assert ready < 1.0 < arrived, (ready, arrived)
    assert len(debs) == 3 and [label for _, label in debs[:2]] == ["p0 1.0", "p1 1.0"]


def test_a_failed_download_is_raised_and_the_rest_not_waited_for(server: LoopbackServer) -> None:
    downloads = [_download(server, "good", b"good" * 10),
                 _download(server, "tampered", b"right" * 10, served=b"wrong" * 10),
                 _download(server, "slow", b"slow" * 25)]
    server.routes["/pool/slow.deb"].faults.append("trickle")
    server.trickle_seconds = 0.03  # ~3 s
    start = time.monotonic()
    with pytest.raises(IntegrityError, match=r"hash mismatch for tampered 1\.0"), Arriving(_home(), downloads) as debs:
        debs[0]
        try:
            debs[1]
        finally:
            with pytest.raises(IntegrityError):
                debs[2]  # the same error at once: the slow one is not waited for
            assert time.monotonic() - start < 2.0
