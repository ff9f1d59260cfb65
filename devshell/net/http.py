"""The one HTTP session: timeouts, bounded retries with backoff, clear errors.

Everything that touches the network goes through here, so proxy and CA
settings (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, …) are honoured in one
place and every failure becomes a `FetchError` that names the URL. Importing
this module costs ~90 ms (requests): the hot path must not import it.

Every body is read with limits, because upstreams are input too: a
document (an index, a registry document, a checksum file) may hold at most
DEVSHELL_HTTP_MAX_DOCUMENT bytes (default 64M), a Debian index at most
DEVSHELL_HTTP_MAX_UNPACKED once decompressed (default 256M), an artifact the
lock gives no size for at most DEVSHELL_HTTP_MAX_DOWNLOAD (default 4G). The
per-read timeout does not stop a body that trickles, so every transfer also
has a deadline: DEVSHELL_HTTP_DEADLINE seconds (default 120) plus the time its
bytes take at DEVSHELL_HTTP_MIN_RATE (default 32K a second). Sizes are bytes,
or a number with K, M or G (powers of 1024).

Environment: DEVSHELL_HTTP_TIMEOUT ("connect,read" or one number, seconds),
DEVSHELL_HTTP_RETRIES (default 3), DEVSHELL_HTTP_BACKOFF (default 0.2),
the limits above, DEVSHELL_OFFLINE=1 (no request is made at all).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

import requests
import urllib3.exceptions as u3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import devshell
from devshell.errors import FetchError, UsageError

__all__ = ["BODY_ERRORS", "Body", "CutShort", "TooBig", "TooSlow", "backoff", "chunks", "content_length"]
__all__ += ["deadline", "get", "get_text"]
__all__ += ["max_document", "max_download", "max_unpacked", "offline", "read_body", "retries"]
__all__ += ["session", "shown", "timeouts"]

T = TypeVar("T")

_NETWORK_HINT = "check the network and the proxy settings (HTTPS_PROXY, NO_PROXY)"
_RETRY_AFTER_CAP = 60.0  # a server asking us to wait an hour should not hang a CLI


class CutShort(Exception):
    """A body ended before the Content-Length the server announced."""


class TooBig(Exception):
    """A body is larger than its limit; `setting` is the variable that sets it."""

    def __init__(self, limit: int, setting: str, announced: bool) -> None:
        super().__init__(f"{'announced as ' if announced else ''}more than {limit} bytes")
        self.limit = limit
        self.setting = setting


class TooSlow(Exception):
    """A body did not arrive within its deadline."""

    def __init__(self, received: int, elapsed: float, allowed: float) -> None:
        super().__init__(f"only {received} bytes arrived in {elapsed:.1f}s; the deadline was {allowed:.1f}s")


#: Errors while reading a body that mean "start the transfer again".
BODY_ERRORS: tuple[type[BaseException], ...] = (
    CutShort, requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError,
    requests.exceptions.Timeout, u3.ProtocolError, u3.ReadTimeoutError, http.client.IncompleteRead,
)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    with contextlib.suppress(ValueError):
        if (value := float(raw)) >= 0:
            return value
    raise UsageError(f"{name}={raw!r} is not a number of at least 0", hint=f"unset {name}")


_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _env_size(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    match = re.fullmatch(r"([0-9]{1,15})\s*([kKmMgG]?)(?:i?[bB])?", raw)
    if match is None or int(match[1]) == 0:
        raise UsageError(f"{name}={raw!r} is not a size",
                         hint='give a number of bytes, or one with K, M or G (e.g. "64M"), or unset it')
    return int(match[1]) * _UNITS[match[2].lower()]


def max_document() -> int:
    """The most bytes an index or registry document may hold: DEVSHELL_HTTP_MAX_DOCUMENT."""
    return _env_size("DEVSHELL_HTTP_MAX_DOCUMENT", 64 * _UNITS["m"])


def max_unpacked() -> int:
    """The most bytes a compressed index may hold once decompressed: DEVSHELL_HTTP_MAX_UNPACKED."""
    return _env_size("DEVSHELL_HTTP_MAX_UNPACKED", 256 * _UNITS["m"])


def max_download() -> int:
    """The most bytes an artifact whose size the lock does not give may have:
    DEVSHELL_HTTP_MAX_DOWNLOAD."""
    return _env_size("DEVSHELL_HTTP_MAX_DOWNLOAD", 4 * _UNITS["g"])


def timeouts() -> tuple[float, float]:
    """(connect, read) seconds; DEVSHELL_HTTP_TIMEOUT="connect,read" or one number."""
    raw = os.environ.get("DEVSHELL_HTTP_TIMEOUT", "").strip()
    if not raw:
        return (10.0, 60.0)
    values: list[float] = []
    with contextlib.suppress(ValueError):
        values = [float(p) for p in raw.split(",")]
    if len(values) not in (1, 2) or min(values) <= 0:
        raise UsageError(
            f"DEVSHELL_HTTP_TIMEOUT={raw!r} is not a timeout",
            hint='give seconds as "connect,read" (e.g. "10,60") or one number for both',
        )
    return (values[0], values[-1])


def retries() -> int:
    """How often a failed request or transfer is tried again: DEVSHELL_HTTP_RETRIES."""
    return int(_env_float("DEVSHELL_HTTP_RETRIES", 3))


def backoff() -> float:
    """The backoff factor between retries, in seconds: DEVSHELL_HTTP_BACKOFF."""
    return _env_float("DEVSHELL_HTTP_BACKOFF", 0.2)


def offline() -> bool:
    """True when DEVSHELL_OFFLINE asks devshell never to touch the network."""
    value = os.environ.get("DEVSHELL_OFFLINE", "").strip().lower()
    return value in ("1", "true", "yes", "on")


class _Retry(Retry):
    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), _RETRY_AFTER_CAP)


_lock = threading.Lock()
_cached: tuple[tuple[int, float], requests.Session] | None = None


def session() -> requests.Session:
    """The process's one Session, built on first use (and again only if
    DEVSHELL_HTTP_RETRIES or DEVSHELL_HTTP_BACKOFF changed: tests do that)."""
    global _cached
    key = (retries(), backoff())
    with _lock:
        if _cached is None or _cached[0] != key:
            _cached = (key, _build(*key))
        return _cached[1]


class _Adapter(HTTPAdapter):
    """requests' adapter, but each CA bundle is loaded once per process, into
    one SSL context that every connection verifying against it shares:
    requests hands urllib3 the bundle's path, which loads it again for every
    new connection (~17 ms of a CPU each, holding the interpreter's lock;
    a cold install opens dozens). Which bundle is still requests' choice
    (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, or its default)."""

    def __init__(self, **kwargs: Any) -> None:
        self._contexts: dict[tuple[str | None, str | None], ssl.SSLContext] = {}
        self._contexts_lock = threading.Lock()
        super().__init__(**kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        where = (getattr(conn, "ca_certs", None), getattr(conn, "ca_cert_dir", None))
        kw = getattr(conn, "conn_kw", None)
        if where == (None, None) or not isinstance(kw, dict):
            return
        kw["ssl_context"] = self._context(*where)
        conn.ca_certs = conn.ca_cert_dir = None  # the context has them

    def _context(self, cafile: str | None, capath: str | None) -> ssl.SSLContext:
        with self._contexts_lock:
            found = self._contexts.get((cafile, capath))
            if found is None:
                from urllib3.util.ssl_ import create_urllib3_context

                found = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
                try:
                    found.load_verify_locations(cafile, capath)
                except OSError as exc:
                    raise requests.exceptions.SSLError(exc) from exc
                self._contexts[(cafile, capath)] = found
            return found


def _build(n: int, factor: float) -> requests.Session:
    retry = _Retry(
        total=n, connect=n, read=n, status=n, backoff_factor=factor,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False, respect_retry_after_header=True,
    )
    s = requests.Session()  # trust_env stays True: the user's proxies and CA bundles
    s.headers["User-Agent"] = f"devshell/{devshell.__version__}"
    adapter = _Adapter(max_retries=retry, pool_maxsize=32)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def shown(url: str) -> str:
    """The URL fit for a message (mirror URLs may carry credentials)."""
    from devshell.config import redacted

    return redacted(url)


def _reason(exc: BaseException) -> str:
    """A few words on what went wrong, from the chain of causes (through urllib3's
    MaxRetryError and requests' wrapping), without urllib3's pool reprs."""
    e: BaseException | None = exc
    for _ in range(32):  # chains are a handful long; the bound only guards a cycle
        if e is None:
            break
        if isinstance(e, u3.NameResolutionError):
            return "its host name could not be resolved"
        # NewConnectionError subclasses ConnectTimeoutError; its cause says more.
        if isinstance(e, u3.ConnectTimeoutError) and not isinstance(e, u3.NewConnectionError):
            return f"connecting timed out after {timeouts()[0]:g}s"
        if isinstance(e, u3.ReadTimeoutError | requests.exceptions.ReadTimeout):
            return f"no data arrived for {timeouts()[1]:g}s"
        if isinstance(e, u3.IncompleteRead | http.client.IncompleteRead | CutShort):
            return "the connection closed before the whole body arrived"
        if isinstance(e, OSError) and e.strerror:  # the socket's words: "Connection refused"
            return e.strerror[:1].lower() + e.strerror[1:]
        if isinstance(e, u3.MaxRetryError) and e.reason:
            e = e.reason
        elif e.__cause__ or e.__context__:
            e = e.__cause__ or e.__context__
        else:
            e = e.args[0] if e.args and isinstance(e.args[0], BaseException) else None
    return type(exc).__name__


_BAD_URL = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema)


def _connection_error(url: str, exc: requests.RequestException) -> FetchError:
    where = shown(url)
    if isinstance(exc, _BAD_URL):
        return FetchError(f"not a URL devshell can fetch: {where}",
                          hint="check the URL in devshell.toml or the catalogue")
    if isinstance(exc, requests.exceptions.SSLError):
        return FetchError(f"the TLS certificate of {where} could not be verified",
                          hint="if a proxy or a private CA sits in between, point "
                          "REQUESTS_CA_BUNDLE (or SSL_CERT_FILE) at its certificate")
    what = "through the proxy " if isinstance(exc, requests.exceptions.ProxyError) else ""
    tries = _plural(retries() + 1, "time")
    return FetchError(f"could not fetch {where} {what}({_reason(exc)}; tried {tries})",
                      hint=_NETWORK_HINT)


_GONE = "check the tool's name and version; the upstream may have removed this file"
_DENIED = "the server or a proxy refused the request; " + _NETWORK_HINT
_STATUS = {404: ("not found", _GONE), 410: ("gone", _GONE)}
_STATUS |= dict.fromkeys((401, 403, 407), ("access denied", _DENIED))
_STATUS[429] = ("rate limited", "the server asks for fewer requests; try again later")


def _status_error(url: str, code: int) -> FetchError:
    failed = ("the server failed", "the server failed; try again later")
    what, hint = _STATUS.get(code) or (failed if code >= 500 else ("HTTP error", _NETWORK_HINT))
    after = f" after {retries()} retries" if code == 429 or code >= 500 else ""
    return FetchError(f"{what} (HTTP {code}){after}: {shown(url)}", hint=hint, status=code)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _open(url: str, headers: dict[str, str] | None) -> requests.Response:
    """A streaming GET whose status is 2xx; the caller closes it."""
    if offline():
        raise FetchError(f"cannot fetch {shown(url)}: DEVSHELL_OFFLINE=1 forbids the network",
                         hint="unset DEVSHELL_OFFLINE to allow downloads")
    try:
        resp = session().get(url, stream=True, headers=headers, timeout=timeouts())
    except requests.RequestException as exc:
        raise _connection_error(url, exc) from exc
    conditional = bool(headers) and any(
        k in headers for k in ("If-None-Match", "If-Modified-Since")  # type: ignore[operator]
    )
    if not 200 <= resp.status_code < 300 and not (resp.status_code == 304 and conditional):
        resp.close()
        raise _status_error(url, resp.status_code)
    return resp


def read_body(url: str, consume: Callable[[requests.Response], T], *,
              headers: dict[str, str] | None = None, label: str | None = None) -> T:
    """GET `url` and hand the streaming response to `consume`.

    If the body is cut short (`consume` raises one of BODY_ERRORS) the whole
    transfer starts again, at most DEVSHELL_HTTP_RETRIES more times, so
    `consume` must start from scratch each time it is called. A body too
    large or too slow (TooBig, TooSlow from `chunks`) is not tried again.
    """
    attempts = retries() + 1
    what = f"{label} from {shown(url)}" if label else shown(url)
    for attempt in range(1, attempts + 1):
        with _open(url, headers) as resp:
            try:
                return consume(resp)
            except TooBig as exc:
                raise FetchError(
                    f"refusing {what}: it is {exc}; nothing was kept",
                    hint=f"if it really is that large, raise {exc.setting} (bytes, or with K, M, G)",
                ) from None
            except TooSlow as exc:
                raise FetchError(
                    f"download of {what} was too slow: {exc}; nothing was kept",
                    hint="every transfer gets DEVSHELL_HTTP_DEADLINE seconds (default 120) plus its "
                    "size at DEVSHELL_HTTP_MIN_RATE bytes a second (default 32K): on a slow link, raise them",
                ) from None
            except BODY_ERRORS as exc:
                if attempt == attempts:
                    raise FetchError(
                        f"download of {what} was cut short after "
                        f"{_plural(attempts, 'attempt')} ({_reason(exc)})",
                        hint="the connection kept dropping mid-transfer; " + _NETWORK_HINT,
                    ) from exc
        time.sleep(backoff() * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def deadline() -> tuple[float, float]:
    """(seconds every transfer gets, bytes a second it must average beyond them):
    DEVSHELL_HTTP_DEADLINE and DEVSHELL_HTTP_MIN_RATE."""
    return (_env_float("DEVSHELL_HTTP_DEADLINE", 120.0),
            float(_env_size("DEVSHELL_HTTP_MIN_RATE", 32 * _UNITS["k"])))


def content_length(resp: requests.Response) -> int | None:
    """The Content-Length the server announced, if it is a number."""
    value = resp.headers.get("Content-Length", "").strip()
    return int(value) if value.isdigit() else None


def chunks(resp: requests.Response, *, limit: int | None, setting: str = "",
           expected: int | None = None, decode: bool = False,
           size: int = 256 * 1024) -> Iterator[bytes]:
    """The body, as it arrives, within its limits: more than `limit` bytes
    (None: the caller keeps count) raises TooBig as soon as it is exceeded or
    announced, and a transfer slower than the deadline raises TooSlow.

    The deadline is checked whenever bytes arrive, so reads must return what
    has arrived rather than wait for a whole chunk (read1): a body sent one
    byte a second fails at the deadline, not after the last byte. Silence is
    the read timeout's business.
    """
    announced = content_length(resp)
    if limit is not None and announced is not None and announced > limit:
        raise TooBig(limit, setting, announced=True)
    base, rate = deadline()
    allowed_for = max(expected or 0, announced or 0)
    start = time.monotonic()
    received = 0
    raw = resp.raw
    read = getattr(raw, "read1", None) or raw.read  # urllib3 < 2 has no read1
    while True:
        chunk = read(size, decode_content=decode)
        if not chunk:
            return
        received += len(chunk)
        if limit is not None and received > limit:
            raise TooBig(limit, setting, announced=False)
        elapsed = time.monotonic() - start
        allowed = base + max(allowed_for, received) / rate
        if elapsed > allowed:
            raise TooSlow(received, elapsed, allowed)
        yield chunk


@dataclass(frozen=True)
class Body:
    """A document read whole, within DEVSHELL_HTTP_MAX_DOCUMENT."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive, as requests gives them
    content: bytes
    encoding: str | None


def _load(resp: requests.Response) -> Body:
    # Decoded (gzip is welcome for documents), counted after decoding: a
    # small compressed body may not unfold past the limit.
    content = b"".join(chunks(resp, limit=max_document(), setting="DEVSHELL_HTTP_MAX_DOCUMENT",
                              decode=True))
    return Body(resp.status_code, resp.headers, content, resp.encoding)


@overload
def get(url: str, *, stream: Literal[True], headers: dict[str, str] | None = None) -> requests.Response: ...
@overload
def get(url: str, *, stream: Literal[False] = False, headers: dict[str, str] | None = None) -> Body: ...
def get(url: str, *, stream: bool = False, headers: dict[str, str] | None = None) -> requests.Response | Body:
    """GET with timeouts and retries; a FetchError for anything but 2xx.

    With `stream=True` the body is left unread and the caller must close the
    response (use it as a context manager; read it with `chunks`); otherwise
    the body is read as a document, within its size limit and deadline, and
    fetched again if it was cut short.
    """
    if stream:
        return _open(url, headers)
    return read_body(url, _load, headers=headers)


def get_text(url: str) -> str:
    """A small document (a SHA256SUMS file, an index) as text: UTF-8 unless
    the server names a charset (requests would guess Latin-1)."""
    resp = get(url)
    named = "charset=" in resp.headers.get("Content-Type", "").lower()
    return resp.content.decode(resp.encoding if named and resp.encoding else "utf-8", "replace")
