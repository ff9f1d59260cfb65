"""The registry's credentials go to the registry only: not to an upload
location on another host or port, not to whoever answers a redirect with a
challenge, and a token realm must be HTTPS unless it is on this machine."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devshell.errors import FetchError
from devshell.oci import auth
from devshell.oci.registry import Registry

Reply = Callable[[BaseHTTPRequestHandler], None]


class _Server:
    """A loopback server answering every request with `reply`, and keeping
    each request's method, path and Authorization header."""

    def __init__(self, reply: Reply) -> None:
        seen = self.seen = []  # type: list[tuple[str, str, str | None]]

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                seen.append((self.command, self.path, self.headers.get("Authorization")))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                reply(self)

            do_GET = do_HEAD = do_POST = do_PUT = _any

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[list[_Server]]:
    made: list[_Server] = []
    yield made
    for server in made:
        server.close()


def _answer(status: int, **headers: str) -> Reply:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key.replace("_", "-"), value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return reply


def _registry(host: str) -> Registry:
    return Registry(host, "team/tools", credentials=lambda: auth.Credentials("team", "s3cret", "test"))


def test_an_upload_location_on_another_port_gets_no_credentials(servers: list[_Server]) -> None:
    elsewhere = _Server(_answer(201))
    servers.append(elsewhere)

    def registry_reply(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("Authorization") is None:
            return _answer(401, WWW_Authenticate='Basic realm="registry"')(handler)
        if handler.command == "HEAD":
            return _answer(404)(handler)
        return _answer(202, Location=f"http://{elsewhere.host}/upload/abc")(handler)

    registry = _Server(registry_reply)
    servers.append(registry)
    digest = "sha256:" + "0" * 64
    assert _registry(registry.host).upload_blob(digest, 3, b"abc") is True
    assert any(auth_ is not None for _, _, auth_ in registry.seen)  # the registry itself got them
    assert [(m, a) for m, _, a in elsewhere.seen] == [("PUT", None)]


def test_a_challenge_from_where_a_redirect_led_is_refused(servers: list[_Server]) -> None:
    elsewhere = _Server(_answer(401, WWW_Authenticate='Basic realm="elsewhere"'))
    servers.append(elsewhere)
    registry = _Server(_answer(307, Location=f"http://{elsewhere.host}/v2/"))
    servers.append(registry)
    with pytest.raises(FetchError, match="gives the registry's to the registry only"):
        _registry(registry.host).ping()
    assert [a for _, _, a in elsewhere.seen] == [None]


def test_a_plain_http_token_realm_off_this_machine_is_refused_before_it_is_asked(servers: list[_Server]) -> None:
    registry = _Server(_answer(401, WWW_Authenticate='Bearer realm="http://tokens.invalid/token",service="r"'))
    servers.append(registry)
    with pytest.raises(FetchError, match="not HTTPS"):
        _registry(registry.host).ping()


def test_a_registrys_words_reach_the_terminal_printable(servers: list[_Server]) -> None:
    body = json.dumps({"errors": [{"code": "DENIED", "message": "\x1b]0;pwned\x07 no"}]}).encode()

    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(403)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    registry = _Server(reply)
    servers.append(registry)
    with pytest.raises(FetchError) as caught:
        _registry(registry.host).ping()
    assert "pwned" in caught.value.message and "no)" in caught.value.message
    assert "\x1b" not in caught.value.message and "\x07" not in caught.value.message
