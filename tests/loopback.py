"""A loopback HTTP server for tests: serves bytes the tests build, and faults.

Routes map a path to a `Route`: the body, and optionally a list of faults to
play before serving it normally (`500`, `404`, `truncate`, `stall`, and two
hostile ones: `trickle` sends the body a byte every `trickle_seconds`,
`endless` repeats it with no Content-Length until `endless_limit` bytes or the
client hangs up). Every request is counted so tests can assert "downloaded once".
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseServer

__all__ = ["LoopbackServer", "Route", "serve_in_background"]

# How often a serving loop looks for shutdown(). socketserver's default, 0.5 s,
# is what every stop() then waits: a quarter of a second per test on average.
POLL_SECONDS = 0.02


def serve_in_background(httpd: BaseServer) -> threading.Thread:
    """Serve `httpd` on a daemon thread, stoppable by shutdown() at once."""
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": POLL_SECONDS},
                              daemon=True)
    thread.start()
    return thread


@dataclass
class Route:
    body: bytes
    faults: list[str] = field(default_factory=list)
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up is no error
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LoopbackServer:
    """ThreadingHTTPServer on 127.0.0.1 with an ephemeral port."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()  # 304s answered, by path
        self.stall_seconds = 5.0
        self.trickle_seconds = 0.05
        self.endless_limit = 1024 * 1024 * 1024
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                path = self.path.split("?", 1)[0]
                server.hits[path] += 1
                route = server.routes.get(path)
                if route is None:
                    self._status(404)
                    return
                fault = route.faults.pop(0) if route.faults and not head else None
                if fault in ("500", "503", "404", "429"):
                    self._status(int(fault))
                    return
                etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
                if fault is None and self.headers.get("If-None-Match") == etag:
                    server.not_modified[path] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault in ("trickle", "endless"):
                    self._hostile(fault, route)
                    return
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                for k, v in route.headers.items():
                    self.send_header(k, v)
                if fault in ("truncate", "stall"):
                    self.send_header("Connection", "close")
                self.end_headers()
                if head:
                    return
                if fault == "truncate":
                    self.wfile.write(route.body[: len(route.body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if fault == "stall":
                    self.wfile.write(route.body[:10])
                    self.wfile.flush()
                    time.sleep(server.stall_seconds)
                    self.close_connection = True
                    return
                try:
                    self.wfile.write(route.body)
                except OSError:  # the client hung up (refused a body too large): fine
                    self.close_connection = True

            def _hostile(self, fault: str, route: Route) -> None:
                """A body that never ends (bounded by endless_limit) or that
                trickles; either stops when the client hangs up."""
                self.send_response(200)
                self.send_header("Content-Type", route.content_type)
                if fault == "trickle":
                    self.send_header("Content-Length", str(len(route.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    if fault == "trickle":
                        for i in range(len(route.body)):
                            self.wfile.write(route.body[i:i + 1])
                            self.wfile.flush()
                            time.sleep(server.trickle_seconds)
                    else:
                        block = route.body or b"\0"
                        for _ in range(server.endless_limit // len(block) + 1):
                            self.wfile.write(block)
                except OSError:
                    pass  # the client gave up: that is what the test wants

            def _status(self, code: int) -> None:
                body = f"status {code}\n".encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, path: str, body: bytes, **kw: object) -> str:
        """Serve `body` at `path`; return its full URL."""
        self.routes[path] = Route(body, **kw)  # type: ignore[arg-type]
        return self.url + path

    def start(self) -> LoopbackServer:
        self.thread = serve_in_background(self.httpd)
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
