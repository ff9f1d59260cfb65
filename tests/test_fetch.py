"""Downloads land in the cache verified, or not at all; the network fails clearly."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import socket
import sys
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import devshell
from devshell import integrity
from devshell.errors import FetchError, IntegrityError, UsageError
from devshell.home import Home, home
from devshell.net import http
from devshell.net.fetch import Download, cached_path, fetch, fetch_all
from tests.loopback import LoopbackServer, serve_in_background

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
    serve_in_background(httpd)
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


def _damage(path: Path, data: bytes) -> None:
    """What a crash while the cache was written could leave: other bytes under the name."""
    path.chmod(0o644)
    path.write_bytes(data)
    path.chmod(0o444)


@pytest.mark.parametrize("left", [b"", BODY[:1000], BODY[:-1] + b"x"], ids=["empty", "short", "changed"])
def test_a_damaged_cached_download_is_dropped_and_fetched_again(
    server: LoopbackServer, capsys: pytest.CaptureFixture[str], left: bytes
) -> None:
    url = server.add("/tool.tar.gz", BODY)
    h = home()
    path = fetch(h, download(url))
    _damage(path, left)
    assert fetch(h, download(url)) == path
    assert path.read_bytes() == BODY
    assert server.hits["/tool.tar.gz"] == 2
    assert "the cached download of tool 1.0 (x86_64-linux) is damaged" in capsys.readouterr().err


def test_a_damaged_cached_download_is_located_again(server: LoopbackServer) -> None:
    url = server.add("/tool.tar.gz", BODY)
    h = home()
    path = fetch(h, download(url))
    _damage(path, BODY[:10])
    asked: list[str] = []

    def locate(u: str) -> str:
        asked.append(u)
        return url

    assert fetch(h, download("pypi:tool/tool.tar.gz"), locate=locate) == path
    assert asked == ["pypi:tool/tool.tar.gz"] and path.read_bytes() == BODY


def test_offline_a_damaged_cached_download_is_not_used(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.add("/tool.tar.gz", BODY)
    h = home()
    path = fetch(h, download(url))
    _damage(path, BODY[:10])
    monkeypatch.setenv("DEVSHELL_OFFLINE", "1")
    with pytest.raises(FetchError, match="not in the download cache"):
        fetch(h, download(url))
    monkeypatch.delenv("DEVSHELL_OFFLINE")
    assert fetch(h, download(url)) == path and path.read_bytes() == BODY  # replaced whole, online


def test_something_that_is_not_a_file_in_the_cache_is_never_read(server: LoopbackServer) -> None:
    # A FIFO would block the check for ever, a link to /dev/zero feed it for ever.
    url = server.add("/tool.tar.gz", BODY)
    h = home()
    target = cached_path(h, sri(BODY))
    target.parent.mkdir(parents=True)
    os.mkfifo(target)
    assert fetch(h, download(url, size=len(BODY))) == target and target.read_bytes() == BODY
    target.unlink()
    target.symlink_to("/dev/zero")
    assert fetch(h, download(url)) == target and not target.is_symlink() and target.read_bytes() == BODY


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


def test_without_a_tty_one_plain_line_per_download(
    server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.add("/tool.tar.gz", BODY)
    fetch(home(), download(url))
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("devshell: fetched tool 1.0 (x86_64-linux) (") and err.count("\n") == 1
    assert "\r" not in err and "\x1b" not in err  # no bar drawn into a log
    fetch(home(), download(url))  # from the cache: nothing fetched, nothing said
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


# ---------------------------------------------------------------- limits and deadlines


def test_a_document_larger_than_the_limit_is_refused_naming_the_setting(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_MAX_DOCUMENT", "1M")
    url = server.add("/SHA256SUMS", b"x" * (1024 * 1024 + 1))
    with pytest.raises(FetchError) as info:
        http.get_text(url)
    assert url in info.value.message and "more than 1048576 bytes" in info.value.message
    assert info.value.hint is not None and "DEVSHELL_HTTP_MAX_DOCUMENT" in info.value.hint
    assert server.hits["/SHA256SUMS"] == 1  # not tried again
    server.add("/small", b"x" * (1024 * 1024))
    assert len(http.get_text(server.url + "/small")) == 1024 * 1024


def _peak_while(call: Any) -> int:
    tracemalloc.start()
    try:
        call()
    except FetchError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_an_endless_document_is_refused_as_soon_as_it_passes_the_limit(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_MAX_DOCUMENT", "2M")
    server.endless_limit = 64 * 1024 * 1024
    url = server.add("/index.json", b"{" * 65536, faults=["endless"])
    with pytest.raises(FetchError, match="more than 2097152 bytes"):
        http.get_text(url)
    server.routes["/index.json"].faults.append("endless")
    assert _peak_while(lambda: http.get_text(url)) < 12 * 1024 * 1024


def test_a_compressed_document_is_limited_by_what_it_unfolds_to(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_MAX_DOCUMENT", "1M")
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 KiB that unfold into 64 MiB
    url = server.add("/doc.json", bomb, headers={"Content-Encoding": "gzip"})
    assert len(bomb) < 1024 * 1024
    assert _peak_while(lambda: http.get_text(url)) < 12 * 1024 * 1024
    with pytest.raises(FetchError, match="more than 1048576 bytes"):
        http.get_text(url)


def test_an_artifact_without_a_size_is_capped_and_nothing_is_kept(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_MAX_DOWNLOAD", "2M")
    server.endless_limit = 256 * 1024 * 1024
    url = server.add("/endless.tgz", BODY, faults=["endless"])
    start = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(home(), download(url))
    assert time.monotonic() - start < 10
    assert "more than 2097152 bytes" in info.value.message and "nothing was kept" in info.value.message
    assert info.value.hint is not None and "DEVSHELL_HTTP_MAX_DOWNLOAD" in info.value.hint
    assert leftovers(home()) == []
    # Announced too large: refused before a byte of the body is read.
    big = server.add("/big.tgz", BODY * 5)
    with pytest.raises(FetchError, match="announced as more than 2097152 bytes"):
        fetch(home(), download(big, BODY * 5))
    assert leftovers(home()) == []


def test_a_size_the_lock_records_is_not_capped(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_MAX_DOWNLOAD", "1K")
    url = server.add("/tool.tar.gz", BODY)
    assert fetch(home(), download(url, size=len(BODY))).read_bytes() == BODY


def test_a_trickling_download_fails_at_its_deadline_and_keeps_nothing(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_DEADLINE", "0.5")
    server.trickle_seconds = 0.05  # 200 bytes take 10 s; each byte is well within the read timeout
    url = server.add("/slow.tgz", BODY[:200], faults=["trickle"])
    start = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(home(), download(url, BODY[:200]))
    assert time.monotonic() - start < 3
    assert "was too slow" in info.value.message and url in info.value.message
    assert info.value.hint is not None and "DEVSHELL_HTTP_DEADLINE" in info.value.hint
    assert server.hits["/slow.tgz"] == 1
    assert leftovers(home()) == []


def test_a_trickling_document_fails_at_its_deadline(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_DEADLINE", "0.5")
    url = server.add("/SHA256SUMS", b"a" * 200, faults=["trickle"])
    start = time.monotonic()
    with pytest.raises(FetchError, match="was too slow"):
        http.get_text(url)
    assert time.monotonic() - start < 3


def test_the_deadline_grows_with_the_size_at_the_minimum_rate(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No time at all beyond the size's: 500 KiB at 1 KiB/s may take 500 s.
    monkeypatch.setenv("DEVSHELL_HTTP_DEADLINE", "0")
    monkeypatch.setenv("DEVSHELL_HTTP_MIN_RATE", "1K")
    url = server.add("/tool.tar.gz", BODY)
    assert fetch(home(), download(url)).read_bytes() == BODY
    # At 1 MiB/s, 500 KiB sent a byte at a time cannot make it.
    monkeypatch.setenv("DEVSHELL_HTTP_MIN_RATE", "1M")
    server.trickle_seconds = 0.01
    slow = server.add("/slow", BODY[:300], faults=["trickle"])
    with pytest.raises(FetchError, match="was too slow"):
        fetch(home(), download(slow, BODY[:300]))


@pytest.mark.parametrize("name", ["DEVSHELL_HTTP_MAX_DOCUMENT", "DEVSHELL_HTTP_MAX_DOWNLOAD",
                                  "DEVSHELL_HTTP_MAX_UNPACKED", "DEVSHELL_HTTP_MIN_RATE"])
def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    read: dict[str, Any] = {
        "DEVSHELL_HTTP_MAX_DOCUMENT": http.max_document, "DEVSHELL_HTTP_MAX_DOWNLOAD": http.max_download,
        "DEVSHELL_HTTP_MAX_UNPACKED": http.max_unpacked, "DEVSHELL_HTTP_MIN_RATE": lambda: http.deadline()[1],
    }
    for value, expected in (("123", 123), ("64K", 65536), ("3MiB", 3 * 1024 * 1024), ("2g", 2 * 1024**3)):
        monkeypatch.setenv(name, value)
        assert read[name]() == expected
    for bad in ("lots", "0", "-1", "1T"):
        monkeypatch.setenv(name, bad)
        with pytest.raises(UsageError, match=name):
            read[name]()


def test_the_deadline_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSHELL_HTTP_DEADLINE", "2.5")
    assert http.deadline()[0] == 2.5
    monkeypatch.setenv("DEVSHELL_HTTP_DEADLINE", "soon")
    with pytest.raises(UsageError, match="DEVSHELL_HTTP_DEADLINE"):
        http.deadline()


def test_the_defaults_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DEVSHELL_HTTP_MAX_DOCUMENT", "DEVSHELL_HTTP_MAX_DOWNLOAD", "DEVSHELL_HTTP_MAX_UNPACKED",
                 "DEVSHELL_HTTP_DEADLINE", "DEVSHELL_HTTP_MIN_RATE"):
        monkeypatch.delenv(name, raising=False)
    assert (http.max_document(), http.max_unpacked(), http.max_download()) == (
        64 * 1024**2, 256 * 1024**2, 4 * 1024**3)
    assert http.deadline() == (120.0, 32 * 1024)


def test_a_chunked_gzip_document_is_read_whole() -> None:
    """The shape registries answer in: Transfer-Encoding chunked, gzip."""
    text = "".join(f'{{"v{i}": "{i:064x}"}}\n' for i in range(20000))
    packed = gzip.compress(text.encode())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(packed), 7000):
                piece = packed[start:start + 7000]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    serve_in_background(httpd)
    try:
        assert http.get_text(f"http://127.0.0.1:{httpd.server_address[1]}/doc") == text
    finally:
        httpd.shutdown()
        httpd.server_close()
