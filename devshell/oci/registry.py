"""A small client for the OCI distribution API, over devshell's one HTTP session.

The handful of endpoints a binary cache and `image --push` need: ping `/v2/`,
manifests by tag or digest (HEAD, GET, PUT), blobs (HEAD, GET, and monolithic
upload: POST, then PUT with `?digest=`). Authentication follows the
registry's challenge: a `Bearer` realm hands out a token for the repository's
scope (asked with the user's credentials when there are any, anonymously
otherwise), a `Basic` challenge takes the credentials themselves (see
devshell.oci.auth). Every request has devshell's timeouts; documents are read
within DEVSHELL_HTTP_MAX_DOCUMENT and checked against their digest.

Plain HTTP is used only for a loopback registry (127.0.0.0/8, ::1,
localhost) or when the caller says `insecure`; every other registry is
spoken to over HTTPS. Credentials go only where the registry is (its scheme,
host and port: an upload location elsewhere, or a redirect, gets none, and a
challenge answered from elsewhere is refused) and to the token realm its
own challenge names, which must be HTTPS unless it is on this machine.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests

from devshell.errors import FetchError, UsageError
from devshell.net import http
from devshell.oci import auth
from devshell.oci.layout import (
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST,
    LayoutError,
    validate_digest,
)

__all__ = ["ACCEPT", "Reference", "Registry", "is_loopback"]

#: Manifest media types asked for: OCI's, and Docker's v2 schema 2 (what
#: many registries still serve for images pushed by Docker).
ACCEPT = ", ".join((MEDIA_TYPE_MANIFEST, MEDIA_TYPE_INDEX,
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json"))

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?")
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def is_loopback(host: str) -> bool:
    """Whether `host` (a host[:port]) names this machine."""
    if host.startswith("["):
        name = host[1:].partition("]")[0]
    else:
        name = host.partition(":")[0] if host.count(":") == 1 else host  # more colons: bare IPv6
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Reference:
    """`REGISTRY/REPOSITORY[:TAG][@DIGEST]`: where something is (or goes) in a registry."""

    registry: str  # host, or host:port
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str, where: str = "the reference") -> Reference:
        """Parse `text`; `where` names its origin in errors. The registry is
        never implied: a name without a host is refused."""
        hint = "write REGISTRY/REPOSITORY:TAG, e.g. registry.example:5000/team/shell:v1"
        rest, _, digest = text.partition("@")
        host, slash, path = rest.partition("/")
        if not slash or not _HOST.fullmatch(host) or not ("." in host or ":" in host or host == "localhost"):
            raise UsageError(f"{where}: {text!r} does not start with a registry host", hint=hint)
        tag = None
        last = path.rsplit("/", 1)[-1]
        if ":" in last:
            path, _, tag = path.rpartition(":")
            if not _TAG.fullmatch(tag):
                raise UsageError(f"{where}: {tag!r} is not a valid tag",
                                 hint="a tag is up to 128 of A-Z a-z 0-9 _ . - and does not start with . or -")
        if not _REPOSITORY.fullmatch(path) or len(path) > 255:
            raise UsageError(f"{where}: {path!r} is not a valid repository name",
                             hint="lowercase letters, digits and separators (. _ __ -), in /-separated parts")
        if digest:
            try:
                validate_digest(digest, where)
            except LayoutError as exc:
                raise UsageError(exc.message, hint=exc.hint) from None
        return cls(host, path, tag, digest or None)

    def __str__(self) -> str:
        return (f"{self.registry}/{self.repository}" + (f":{self.tag}" if self.tag else "")
                + (f"@{self.digest}" if self.digest else ""))


Body = bytes | Callable[[], IO[bytes]] | None


class Registry:
    """One repository in one registry, with this run's authentication."""

    def __init__(self, registry: str, repository: str, *, insecure: bool = False,
                 credentials: Callable[[], auth.Credentials | None] | None = None) -> None:
        self.registry = registry
        self.repository = repository
        self.plain = insecure or is_loopback(registry)
        self.base = f"{'http' if self.plain else 'https'}://{registry}/v2/"
        self._credentials = credentials or (lambda: auth.credentials(registry, repository))
        self._authorization: dict[bool, str] = {}  # push? -> Authorization header

    @classmethod
    def at(cls, ref: Reference, *, insecure: bool = False) -> Registry:
        return cls(ref.registry, ref.repository, insecure=insecure)

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}"

    # Endpoints.

    def ping(self) -> None:
        """Check that the registry answers the distribution API (authenticating if it asks)."""
        with self._send("GET", self.base) as resp:
            if resp.status_code != 200:
                raise self._failed(resp, "ping")

    def manifest_digest(self, ref: str) -> str | None:
        """The digest of manifest `ref` (a tag or digest), or None when there is none."""
        with self._send("HEAD", self._url("manifests", ref), headers={"Accept": ACCEPT}) as resp:
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise self._failed(resp, f"manifest {ref}")
            digest = resp.headers.get("Docker-Content-Digest", "")
            return digest if digest.startswith("sha256:") else ref

    def manifest(self, ref: str) -> tuple[bytes, str, str] | None:
        """(body, media type, digest) of manifest `ref`, or None when there is
        none. A manifest asked for by digest must hash to it."""
        headers = {"Accept": ACCEPT, "Accept-Encoding": "identity"}
        with self._send("GET", self._url("manifests", ref), headers=headers, stream=True) as resp:
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise self._failed(resp, f"manifest {ref}")
            body = self._read(resp, f"manifest {ref}")
            media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if ref.startswith("sha256:") and digest != ref:
            raise FetchError(f"{self}: manifest {ref} does not hash to its digest (got {digest})",
                             hint="the registry served other bytes than it was asked for; nothing was used")
        return body, media_type, digest

    def put_manifest(self, ref: str, body: bytes, media_type: str) -> str:
        """Store `body` as manifest `ref` (a tag or its digest); its digest."""
        with self._send("PUT", self._url("manifests", ref), push=True,
                        headers={"Content-Type": media_type}, body=body) as resp:
            if resp.status_code not in (200, 201):
                raise self._failed(resp, f"pushing manifest {ref}")
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def has_blob(self, digest: str, *, push: bool = False) -> bool:
        with self._send("HEAD", self._url("blobs", digest), push=push) as resp:
            if resp.status_code == 404:
                return False
            if resp.status_code != 200:
                raise self._failed(resp, f"blob {digest}")
            return True

    def blob_url(self, digest: str) -> str:
        return self._url("blobs", validate_digest(digest, str(self)))

    def read_blob(self, digest: str) -> bytes:
        """A small blob (a config), within DEVSHELL_HTTP_MAX_DOCUMENT, checked against `digest`."""
        headers = {"Accept-Encoding": "identity"}
        with self._send("GET", self.blob_url(digest), headers=headers, stream=True) as resp:
            if resp.status_code != 200:
                raise self._failed(resp, f"blob {digest}")
            data = self._read(resp, f"blob {digest}")
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise FetchError(f"{self}: blob {digest} does not hash to its digest",
                             hint="the registry's copy is damaged; nothing was used")
        return data

    def upload_blob(self, digest: str, size: int, source: Path | bytes) -> bool:
        """Upload one blob unless the repository has it; False when it did."""
        if self.has_blob(digest, push=True):
            return False
        with self._send("POST", self._url("blobs", "uploads/"), push=True,
                        headers={"Content-Length": "0"}) as resp:
            if resp.status_code not in (201, 202):
                raise self._failed(resp, f"starting the upload of {digest}")
            location = resp.headers.get("Location", "")
            if not location:
                raise FetchError(f"{self}: the registry gave no upload location for {digest}")
            url = urllib.parse.urljoin(resp.url, location)
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        body: Body = source if isinstance(source, bytes) else (lambda: source.open("rb"))
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        with self._send("PUT", url, push=True, headers=headers, body=body) as resp:
            if resp.status_code not in (201, 204):
                raise self._failed(resp, f"uploading {digest}")
        return True

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header for pulling, once a request has earned one."""
        value = self._authorization.get(False) or self._authorization.get(True)
        return {"Authorization": value} if value else {}

    # Plumbing.

    def _url(self, kind: str, ref: str) -> str:
        return f"{self.base}{self.repository}/{kind}/{ref}"

    def _send(self, method: str, url: str, *, push: bool = False, headers: dict[str, str] | None = None,
              body: Body = None, stream: bool = False) -> requests.Response:
        """The response to one request, authenticated (once more after a 401
        challenge); the caller closes it."""
        resp = self._request(method, url, push, headers, body, stream)
        if resp.status_code == 401:
            challenge = resp.headers.get("WWW-Authenticate", "")
            answered_by = urllib.parse.urlsplit(resp.url)
            resp.close()
            if not self._ours(answered_by):
                raise FetchError(f"{self.registry}: a request was sent on to {_shown(answered_by.netloc)}, "
                                 "which asks for credentials; devshell gives the registry's to the registry only",
                                 hint="check the registry's address", status=401)
            self._authenticate(challenge, push)
            resp = self._request(method, url, push, headers, body, stream)
            if resp.status_code == 401:
                resp.close()
                who = self._credentials()
                raise FetchError(
                    f"{self.registry} refused "
                    + (f"the credentials of {who.username} from {who.origin}" if who else "anonymous access")
                    + f" to {self.repository}",
                    hint="log in (podman login, docker login) or point REGISTRY_AUTH_FILE at an auth file "
                    "with access to it", status=401)
        return resp

    def _request(self, method: str, url: str, push: bool, headers: dict[str, str] | None,
                 body: Body, stream: bool) -> requests.Response:
        if http.offline():
            raise FetchError(f"cannot reach {self.registry}: DEVSHELL_OFFLINE=1 forbids the network",
                             hint="unset DEVSHELL_OFFLINE to use the registry")
        send = dict(headers or {})
        where = urllib.parse.urlsplit(url)
        if self.base.startswith("https:") and where.scheme != "https":
            raise FetchError(f"{self.registry} sent devshell on to {_shown(url)}, which is not HTTPS",
                             hint="a registry spoken to over HTTPS must stay on HTTPS")
        if self._authorization.get(push) and self._ours(where):
            send["Authorization"] = self._authorization[push]
        data = body() if callable(body) else body
        try:
            return http.session().request(method, url, headers=send, data=data, stream=stream,
                                          timeout=http.timeouts(), allow_redirects=True)
        except requests.RequestException as exc:
            raise FetchError(f"the registry {self.registry} cannot be reached ({_why(exc)})",
                             hint="check the registry's address, the network and the proxy settings") from None
        finally:
            if data is not None and not isinstance(data, bytes):
                data.close()

    def _ours(self, where: urllib.parse.SplitResult) -> bool:
        """Whether a URL is the registry's own: its scheme, host and port."""
        base = urllib.parse.urlsplit(self.base)
        return (where.scheme, where.netloc.lower()) == (base.scheme, base.netloc.lower())

    def _authenticate(self, challenge: str, push: bool) -> None:
        scheme, _, rest = challenge.strip().partition(" ")
        params = {m[1].lower(): m[2] if m[2] is not None and m[3] is None else (m[3] or "")
                  for m in _CHALLENGE_PARAM.finditer(rest)}
        creds = self._credentials()
        if scheme.lower() == "basic":
            if creds is None:
                raise FetchError(f"{self.registry} asks for a user name and password, and none is known for it",
                                 hint="log in (podman login, docker login) or set REGISTRY_AUTH_FILE", status=401)
            token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
            self._authorization[push] = f"Basic {token}"
        elif scheme.lower() == "bearer" and params.get("realm"):
            self._authorization[push] = f"Bearer {self._token(params, push, creds)}"
        else:
            raise FetchError(f"{self.registry} asks for authentication devshell does not speak: "
                             f"{_shown(challenge)!r}",
                             hint="devshell speaks Basic and Bearer token authentication", status=401)

    def _token(self, params: dict[str, str], push: bool, creds: auth.Credentials | None) -> str:
        realm = params["realm"]
        where = urllib.parse.urlsplit(realm)
        if where.scheme != "https" and not (where.scheme == "http" and is_loopback(where.netloc)):
            raise FetchError(f"{self.registry} sends devshell for a token to {_shown(realm)}, which is not HTTPS",
                             hint="a registry's token service must be HTTPS unless it is on this machine")
        query = {"scope": f"repository:{self.repository}:{'pull,push' if push else 'pull'}"}
        if params.get("service"):
            query["service"] = params["service"]
        basic = (creds.username, creds.password) if creds else None
        try:
            resp = http.session().get(realm, params=query, auth=basic, timeout=http.timeouts(), stream=True)
        except requests.RequestException as exc:
            raise FetchError(f"the token service of {self.registry} cannot be reached ({_why(exc)})",
                             hint="check the network and the proxy settings") from None
        with resp:
            if resp.status_code != 200:
                raise self._failed(resp, "asking for a token")
            body = self._read(resp, "its token")
        try:
            data = json.loads(body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise FetchError(f"the token service of {self.registry} answered with no token")
        return token

    def _read(self, resp: requests.Response, what: str) -> bytes:
        try:
            return b"".join(http.chunks(resp, limit=http.max_document(), setting="DEVSHELL_HTTP_MAX_DOCUMENT"))
        except (http.TooBig, http.TooSlow) as exc:
            raise FetchError(f"{self}: reading {what} failed ({exc})",
                             hint="raise DEVSHELL_HTTP_MAX_DOCUMENT or the deadline if it is really that large") from None
        except http.BODY_ERRORS as exc:
            raise FetchError(f"{self}: reading {what} failed ({_why(exc)})",
                             hint="try again; if it keeps failing, check the registry") from None

    def _failed(self, resp: requests.Response, what: str) -> FetchError:
        detail = ""
        if resp.request.method != "HEAD":
            try:
                errors = resp.json().get("errors") or []
                detail = "; ".join(str(e.get("message") or e.get("code")) for e in errors if isinstance(e, dict))
            except (ValueError, AttributeError, requests.RequestException):
                detail = ""
        return FetchError(f"{self}: {what}: the registry answered HTTP {resp.status_code}"
                          + (f" ({_shown(detail)})" if detail else ""),
                          hint="check the registry's address and your access to the repository",
                          status=resp.status_code)


def _shown(text: str, limit: int = 200) -> str:
    """A registry's words fit for a terminal: printable, and not too many."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def _why(exc: BaseException) -> str:
    """A few words from the chain of causes (the socket's own, when there is one)."""
    e: BaseException | None = exc
    for _ in range(16):
        if e is None:
            break
        if isinstance(e, OSError) and e.strerror:
            return e.strerror[:1].lower() + e.strerror[1:]
        e = e.__cause__ or e.__context__ or (e.args[0] if e.args and isinstance(e.args[0], BaseException) else None)
    return type(exc).__name__
