"""Downloads land in the cache verified, or not at all; the network fails clearly."""

from __future__ import annotations

import gzip
import hashlib
import io
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import devshell
from devshell import http, integrity
from devshell.errors import FetchError, IntegrityError, UsageError
from devshell.fetch import Download, cached_path, fetch, fetch_all
from devshell.home import Home, home
from tests.loopback import LoopbackServer

BODY = bytes(range(256)) * 2000  # ~500 KiB: more than one 256 KiB chunk


def sri(body: bytes, algo: str = "sha256") -> str:
    return integrity.sri(algo, hashlib.new(algo, body).digest())


def download(
    url: str, body: bytes = BODY, size: int | None = None, algo: str = "sha256"
) -> Download:
    return Download(url, sri(body, algo), size, "tool 1.0 (x86_64-linux)")


def leftovers(h: Home) -> list[Path]:
    """Every file in the download cache and its temp directory."""
    return [p for d in (h.downloads, h.cache / "tmp") if d.exists() for p in d.iterdir()]


@pytest.fixture(autouse=True)
def fast_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_TIMEOUT", "2,1")
    monkeypatch.setenv("DEVSHELL_HTTP_BACKOFF", "0")
    monkeypatch.setenv("DEVSHELL_HTTP_RETRIES", "3")
    monkeypatch.delenv("DEVSHELL_OFFLINE", raising=False)
    monkeypatch.delenv("DEVSHELL_PROGRESS", raising=False)


@pytest.fixture
def recording_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Serves BODY at any path and records each request's headers."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(dict(self.headers.items()))
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/a.tar.gz", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_lands_in_cache_and_second_fetch_makes_no_request(server: LoopbackServer) -> None:
    url = server.add("/tool.tar.gz", BODY)
    h = home()
    path = fetch(h, download(url, size=len(BODY)))
    assert path == cached_path(h, sri(BODY)) == h.downloads / integrity.to_hex(sri(BODY))
    assert path.read_bytes() == BODY
    assert path.stat().st_mode & 0o777 == 0o444
    assert fetch(h, download(url)) == path
    assert server.hits["/tool.tar.gz"] == 1
    assert list((h.cache / "tmp").iterdir()) == []


def test_sha512_integrity_is_verified_too(server: LoopbackServer) -> None:
    url = server.add("/tool.tgz", BODY)
    path = fetch(home(), download(url, algo="sha512"))
    assert path.name.startswith("sha512-") and path.read_bytes() == BODY


def test_bytes_hashed_are_the_bytes_served_even_if_labelled_gzip(server: LoopbackServer) -> None:
    served = gzip.compress(BODY)
    url = server.add("/tool.tar.gz", served, headers={"Content-Encoding": "gzip"})
    assert fetch(home(), download(url, served)).read_bytes() == served


def test_requests_ask_for_identity_encoding_and_name_devshell(
    recording_server: tuple[str, list[dict[str, str]]],
) -> None:
    url, seen = recording_server
    fetch(home(), download(url))
    assert seen[0]["Accept-Encoding"] == "identity"
    assert seen[0]["User-Agent"] == f"devshell/{devshell.__version__}"


def test_404_is_not_retried_and_names_the_url(server: LoopbackServer) -> None:
    url = server.url + "/missing.tar.gz"
    with pytest.raises(FetchError) as info:
        fetch(home(), download(url))
    assert "404" in info.value.message and url in info.value.message
    assert server.hits["/missing.tar.gz"] == 1
    assert leftovers(home()) == []


@pytest.mark.parametrize("fault", ["500", "503", "429"])
def test_server_error_then_success_is_retried(server: LoopbackServer, fault: str) -> None:
    url = server.add("/tool.tar.gz", BODY, faults=[fault])
    assert fetch(home(), download(url)).read_bytes() == BODY
    assert server.hits["/tool.tar.gz"] == 2


def test_server_failing_every_time_gives_up_after_the_retries(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_RETRIES", "2")
    url = server.add("/tool.tar.gz", BODY, faults=["503"] * 3)
    with pytest.raises(FetchError) as info:
        fetch(home(), download(url))
    assert "503" in info.value.message and url in info.value.message
    assert info.value.hint is not None and "try again later" in info.value.hint
    assert server.hits["/tool.tar.gz"] == 3
    assert leftovers(home()) == []


def test_truncated_body_is_fetched_again(server: LoopbackServer) -> None:
    url = server.add("/tool.tar.gz", BODY, faults=["truncate"])
    assert fetch(home(), download(url)).read_bytes() == BODY
    assert server.hits["/tool.tar.gz"] == 2


def test_body_cut_short_every_time_gives_up_and_keeps_nothing(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_RETRIES", "2")
    url = server.add("/tool.tar.gz", BODY, faults=["truncate"] * 3)
    with pytest.raises(FetchError) as info:
        fetch(home(), download(url))
    msg = info.value.message
    assert "download of tool 1.0 (x86_64-linux) from" in msg and url in msg
    assert "cut short after 3 attempts" in msg
    assert server.hits["/tool.tar.gz"] == 3
    assert leftovers(home()) == []


def test_stalled_read_times_out_and_is_fetched_again(server: LoopbackServer) -> None:
    server.stall_seconds = 5
    url = server.add("/tool.tar.gz", BODY, faults=["stall"])
    start = time.monotonic()
    assert fetch(home(), download(url)).read_bytes() == BODY
    assert server.hits["/tool.tar.gz"] == 2
    assert time.monotonic() - start < 4  # gave up on the stall after the 1 s read timeout


def test_read_stalling_every_time_gives_up_after_n_attempts(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_RETRIES", "1")
    server.stall_seconds = 3
    url = server.add("/tool.tar.gz", BODY, faults=["stall", "stall"])
    with pytest.raises(FetchError) as info:
        fetch(home(), download(url))
    assert "cut short after 2 attempts" in info.value.message
    assert "no data arrived for 1s" in info.value.message
    assert server.hits["/tool.tar.gz"] == 2
    assert leftovers(home()) == []


def test_connection_refused_is_a_clean_fetch_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tool.tar.gz"
    with pytest.raises(FetchError) as info:
        fetch(home(), download(url))
    msg = info.value.message
    assert url in msg and "connection refused" in msg.lower()
    for noise in ("HTTPConnectionPool", "Max retries", "object at 0x", "Traceback", "Errno"):
        assert noise not in msg
    assert info.value.hint is not None and "proxy" in info.value.hint
    assert leftovers(home()) == []


def test_hash_mismatch_names_both_hashes_and_keeps_nothing(server: LoopbackServer) -> None:
    url = server.add("/tool.tar.gz", BODY)
    expected = sri(b"what the lock says")
    with pytest.raises(IntegrityError) as info:
        fetch(home(), Download(url, expected, None, "tool 1.0 (x86_64-linux)"))
    msg = info.value.message
    assert expected in msg and sri(BODY) in msg
    assert "tool 1.0 (x86_64-linux)" in msg and url in msg
    assert info.value.hint is not None and "tampered" in info.value.hint
    assert leftovers(home()) == []


@pytest.mark.parametrize("delta", [1, -1])
def test_size_mismatch_is_an_integrity_error(server: LoopbackServer, delta: int) -> None:
    url = server.add("/tool.tar.gz", BODY)
    with pytest.raises(IntegrityError) as info:
        fetch(home(), download(url, size=len(BODY) + delta))
    assert "size mismatch" in info.value.message and str(len(BODY) + delta) in info.value.message
    assert leftovers(home()) == []


def test_fetch_all_fetches_each_integrity_once(server: LoopbackServer) -> None:
    bodies = [bytes([i]) * (1000 + i) for i in range(5)]
    downloads = [download(server.add(f"/t{i}", b), b) for i, b in enumerate(bodies)]
    # Same bytes at another URL: already covered by /t2, so never requested.
    downloads.append(download(server.add("/dup", bodies[2]), bodies[2]))
    result = fetch_all(home(), downloads, jobs=3)
    assert set(result) == {sri(b) for b in bodies}
    for b in bodies:
        assert result[sri(b)].read_bytes() == b
    assert [server.hits[f"/t{i}"] for i in range(5)] == [1] * 5
    assert server.hits["/dup"] == 0


def test_fetch_all_raises_the_failure(server: LoopbackServer) -> None:
    downloads = [download(server.add(f"/t{i}", bytes([i]) * 10), bytes([i]) * 10) for i in range(3)]
    downloads.append(download(server.url + "/gone"))
    with pytest.raises(FetchError, match="404"):
        fetch_all(home(), downloads, jobs=2)


def test_offline_without_cache_makes_no_request(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSHELL_OFFLINE", "1")
    url = server.add("/tool.tar.gz", BODY)
    forbidden = "not in the download cache and DEVSHELL_OFFLINE=1 forbids the network"
    with pytest.raises(FetchError, match=forbidden):
        fetch(home(), download(url))
    assert server.hits["/tool.tar.gz"] == 0


def test_offline_with_cache_still_works(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.add("/tool.tar.gz", BODY)
    path = fetch(home(), download(url))
    monkeypatch.setenv("DEVSHELL_OFFLINE", "1")
    assert fetch(home(), download(url)) == path
    with pytest.raises(FetchError, match="DEVSHELL_OFFLINE=1"):
        http.get_text(url)
    assert server.hits["/tool.tar.gz"] == 1


def test_no_progress_output_when_stderr_is_not_a_tty(
    server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.add("/tool.tar.gz", BODY)
    fetch(home(), download(url))
    assert capsys.readouterr() == ("", "")


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_tty_unless_disabled(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    fetch(home(), download(server.add("/a", BODY)))
    assert "tool 1.0 (x86_64-linux)" in tty.getvalue()
    quiet = FakeTTY()
    monkeypatch.setattr(sys, "stderr", quiet)
    monkeypatch.setenv("DEVSHELL_PROGRESS", "0")
    fetch(home(), download(server.add("/b", BODY + b"b"), BODY + b"b"))
    assert quiet.getvalue() == ""


def test_get_text_reads_a_small_document(server: LoopbackServer) -> None:
    url = server.add("/SHA256SUMS", "abc  tool-é.tar.gz\n".encode(), content_type="text/plain")
    assert http.get_text(url) == "abc  tool-é.tar.gz\n"


def test_timeouts_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEVSHELL_HTTP_TIMEOUT")
    assert http.timeouts() == (10.0, 60.0)
    monkeypatch.setenv("DEVSHELL_HTTP_TIMEOUT", "3, 7.5")
    assert http.timeouts() == (3.0, 7.5)
    monkeypatch.setenv("DEVSHELL_HTTP_TIMEOUT", "4")
    assert http.timeouts() == (4.0, 4.0)
    monkeypatch.setenv("DEVSHELL_HTTP_TIMEOUT", "soon")
    with pytest.raises(UsageError, match="DEVSHELL_HTTP_TIMEOUT"):
        http.timeouts()


def test_a_damaged_integrity_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match=r"tool 1\.0"):
        Download("http://127.0.0.1:9/x", "md5-AAAA", None, "tool 1.0")


def test_get_text_fetches_a_truncated_document_again(server: LoopbackServer) -> None:
    text = "".join(f"{i:064x}  tool-{i}.tar.gz\n" for i in range(200))
    url = server.add("/SHA256SUMS", text.encode(), faults=["truncate"])
    assert http.get_text(url) == text
    assert server.hits["/SHA256SUMS"] == 2
