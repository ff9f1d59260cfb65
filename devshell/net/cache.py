"""Index documents (simple-API pages, npm package documents, Debian indexes)
cached with their HTTP validators: a re-lock asks "changed since?" and the
upstream answers 304 without sending the body again.

    cache/http/<key>.body   the last body
    cache/http/<key>.json   its ETag, Last-Modified and Content-Type
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from devshell import atomic
from devshell.home import Home
from devshell.net import http

__all__ = ["Document", "get"]


@dataclass(frozen=True)
class Document:
    body: bytes
    content_type: str
    fresh: bool  # False when served from the cache after a 304 (or offline)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def get(url: str, headers: dict[str, str] | None = None, *, home: Home | None) -> Document:
    """The document at `url`, revalidated against the copy under `home`'s
    cache (home None: no copy is kept, as when realising reads one listing)."""
    if home is None:
        resp = http.get(url, headers=headers)
        return Document(resp.content, resp.headers.get("Content-Type", ""), fresh=True)
    base = home.cache / "http"
    key = hashlib.sha256(f"{url}\n{sorted((headers or {}).items())}".encode()).hexdigest()[:40]
    body_path, meta_path = base / f"{key}.body", base / f"{key}.json"
    meta: dict[str, str] = {}
    if body_path.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            meta = {}
    send = dict(headers or {})
    if meta.get("etag"):
        send["If-None-Match"] = meta["etag"]
    if meta.get("last-modified"):
        send["If-Modified-Since"] = meta["last-modified"]
    if meta and http.offline():
        return Document(body_path.read_bytes(), meta.get("content-type", ""), fresh=False)
    resp = http.get(url, headers=send)
    if resp.status_code == 304 and meta:
        return Document(body_path.read_bytes(), meta.get("content-type", ""), fresh=False)
    body = resp.content
    new_meta = {
        "url": url,
        "etag": resp.headers.get("ETag", ""),
        "last-modified": resp.headers.get("Last-Modified", ""),
        "content-type": resp.headers.get("Content-Type", ""),
    }
    if new_meta["etag"] or new_meta["last-modified"]:
        atomic.write_bytes(body_path, body)
        atomic.write_text(meta_path, json.dumps(new_meta, sort_keys=True))
    return Document(body, new_meta["content-type"], fresh=True)
