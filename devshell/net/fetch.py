"""Download artifacts into the download cache, verified against the lock.

Bytes are hashed while they stream into a private temp file under
`cache/tmp`; only bytes that match the lock's integrity (and size) are moved,
atomically, to `cache/downloads/<algo>-<hex>` and made read-only. A mismatch
keeps nothing. Imports requests (through devshell.net.http): not for the hot path.

Environment: DEVSHELL_OFFLINE=1 (cache only), DEVSHELL_PROGRESS=0 (no bars),
and the DEVSHELL_HTTP_* settings of devshell.net.http.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests

from devshell import integrity, say
from devshell.errors import FetchError, IntegrityError
from devshell.home import Home
from devshell.net import http

__all__ = ["CHUNK_SIZE", "Download", "Locate", "cached_path", "fetch", "fetch_all", "present", "progress_bar",
           "progress_lines", "save", "sweep_scratch"]

CHUNK_SIZE = 256 * 1024
#: Turns a lock's URL into one to download from (Upstreams.concrete).
Locate = Callable[[str], str]
# Ask for the bytes as stored, so the bytes hashed are the bytes served.
_HEADERS = {"Accept-Encoding": "identity"}


@dataclass(frozen=True)
class Download:
    """One artifact the lock names: where it is and what it must hash to."""

    url: str
    integrity: str  # SRI: "sha256-<base64>" or "sha512-<base64>"
    size: int | None  # expected size in bytes, if the upstream said
    label: str  # for progress bars and errors, e.g. "node 20.11.1 (x86_64-linux)"
    mismatch_hint: str | None = None  # what to do when the bytes do not match, if not the lock's advice

    def __post_init__(self) -> None:
        try:
            integrity.parse(self.integrity)
        except ValueError as exc:
            raise FetchError(
                f"{self.label}: {exc}",
                hint="the lock file looks damaged; run `devshell lock` again",
            ) from exc


def cached_path(home: Home, integrity_: str) -> Path:
    """Where verified bytes with this integrity live: downloads/<algo>-<hex>."""
    return home.downloads / integrity.to_hex(integrity_)


def fetch(home: Home, download: Download, *, refresh: bool = False,
          headers: dict[str, str] | None = None, locate: Locate | None = None) -> Path:
    """The cache path of verified bytes for `download`, downloading if needed.

    The cache is keyed by hash, so a hit says nothing about the URL: with
    `refresh`, the URL's bytes are fetched and checked even when bytes with
    that hash are cached (a hash written by hand may belong to another file).
    `headers` go with the request (a registry's Authorization). `locate`
    turns the download's URL (a lock's `pypi:…`) into one to fetch, asked
    only when the bytes are not cached, in the thread that fetches them.
    """
    target = cached_path(home, download.integrity)
    if not refresh and _kept(target, download):
        return target
    if locate is not None and not http.offline():
        download = dataclasses.replace(download, url=locate(download.url))
    if http.offline():
        if refresh:
            raise FetchError(
                f"{download.label}: checking {download.url} against its sha256 needs the network, "
                "and DEVSHELL_OFFLINE=1 forbids it",
                hint="unset DEVSHELL_OFFLINE: a sha256 written in devshell.toml is checked against "
                "the URL's own bytes when the lock is made",
            )
        raise FetchError(
            f"{download.label} ({download.url}) is not in the download cache "
            "and DEVSHELL_OFFLINE=1 forbids the network",
            hint="unset DEVSHELL_OFFLINE, or fetch it once on a connected machine",
        )
    fd, tmp = _scratch(home, target)
    bar = progress_bar(download.label)
    try:
        with os.fdopen(fd, "wb") as f:
            digest, count = http.read_body(
                download.url,
                lambda resp: _stream_to(f, resp, download, bar),
                headers={**_HEADERS, **(headers or {})},
                label=download.label,
            )
        _verify(download, digest, count)
        tmp.chmod(0o444)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Another process may have won the race: both wrote identical bytes.
        tmp.replace(target)
        if bar is None and progress_lines():
            size = f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count / 1e3:.1f} kB"
            say.line(f"devshell: fetched {download.label} ({size})")
    finally:
        if bar is not None:
            bar.close()
        tmp.unlink(missing_ok=True)
    return target


def save(home: Home, download: Download, chunks: Iterable[bytes]) -> Path:
    """Put the bytes `chunks` yields (from a bundle, not the network) into
    the download cache, checked exactly as `fetch` checks a download: hashed
    while written, more than the lock's size refused at once, nothing kept
    unless they match."""
    target = cached_path(home, download.integrity)
    if _kept(target, download):
        return target
    fd, tmp = _scratch(home, target)
    try:
        with os.fdopen(fd, "wb") as f:
            h = integrity.hasher(download.integrity)
            count = 0
            for chunk in chunks:
                count += len(chunk)
                if download.size is not None and count > download.size:
                    _size_mismatch(download, count, "more than that arrived:")
                h.update(chunk)
                f.write(chunk)
        _verify(download, h.digest(), count)
        tmp.chmod(0o444)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def present(home: Home, integrity_: str, size: int | None, label: str) -> bool:
    """Whether the cache holds these bytes, for deciding where they come
    from (a bundle, a team cache): a regular file of the right size when the
    size is known (cheap; `fetch` and `save` check the hash before any use),
    else the file's hash itself."""
    target = cached_path(home, integrity_)
    if size is None:
        return _kept(target, Download("", integrity_, None, label))
    try:
        st = os.lstat(target)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == size


def _kept(target: Path, download: Download) -> bool:
    """Whether the cache holds `download`'s bytes, checked against its hash.

    Downloads are not fsync'd: flushing every archive to the disk cost a
    cold install of three 36 MB archives 45 ms of 400, and a crash can only
    lose a cache entry, not corrupt a store output. What a crash left short
    or damaged under the name is caught here and fetched again, the new
    bytes replacing it whole. Only a regular file is read (never through a
    link, never a FIFO), and one of the wrong size is not read at all.
    (The hot path reads the store, never this cache.)"""
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # not there (the usual miss), a link, or unreadable: fetched anew
        return False
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return False
        algo, expected = integrity.parse(download.integrity)
        if (download.size is None or st.st_size == download.size) and \
                hashlib.file_digest(f, algo).digest() == expected:
            return True
    say.note(f"the cached download of {download.label} is damaged (its bytes no longer match the lock); "
             "it is not used")
    return False


def _scratch(home: Home, target: Path) -> tuple[int, Path]:
    """A private temp file under cache/tmp for bytes on their way to `target`."""
    tmpdir = home.cache / "tmp"
    if _first_look(tmpdir):
        tmpdir.mkdir(parents=True, exist_ok=True)
        sweep_scratch(tmpdir)
    prefix = f"{target.name[:24]}.{os.getpid()}."
    try:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=tmpdir)
    except FileNotFoundError:  # removed since this process first looked
        tmpdir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=tmpdir)
    return fd, Path(name)


_swept: set[Path] = set()
_swept_lock = threading.Lock()


def _first_look(tmpdir: Path) -> bool:
    """Whether this process has not looked at `tmpdir` yet. What killed
    processes left there is swept once per process, not before every
    download: with 16 downloads at once, listing the directory each time
    cost more than the downloads' own writes. (The set is read without the
    lock first: under a busy interpreter lock, taking it for every download
    made a convoy.)"""
    if tmpdir in _swept:
        return False
    with _swept_lock:
        if tmpdir in _swept:
            return False
        _swept.add(tmpdir)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_scratch(tmpdir: Path) -> None:
    """Remove what killed processes left in cache/tmp: names carry the
    writer's pid (`<key>.<pid>.<random>.part`, `inspect-<pid>-<random>`), and
    only files of processes that no longer run are touched."""
    import shutil

    for entry in os.scandir(tmpdir):
        if entry.name.endswith(".part"):
            parts = entry.name.split(".")
            pid_text = parts[1] if len(parts) >= 4 else ""
        elif entry.name.startswith("inspect-"):
            pid_text = entry.name.split("-")[1]
        else:
            continue
        if pid_text.isdigit() and not _alive(int(pid_text)):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                Path(entry.path).unlink(missing_ok=True)


def fetch_all(home: Home, downloads: Sequence[Download], jobs: int = 4,
              locate: Locate | None = None) -> dict[str, Path]:
    """Fetch every distinct integrity at most once, `jobs` at a time (each
    URL through `locate`, as `fetch` says).

    Returns integrity -> cache path. The first failure is raised once the
    downloads already running have finished; those not started are cancelled.
    """
    unique: dict[str, Download] = {}
    for d in downloads:
        unique.setdefault(d.integrity, d)
    if not unique:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(unique)))) as pool:
        futures: dict[Future[Path], str] = {
            pool.submit(fetch, home, d, locate=locate): key for key, d in unique.items()
        }
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            for f in pending:
                f.cancel()
            wait(pending)
            exc = failed[0].exception()
            assert exc is not None
            raise exc
    return {key: f.result() for f, key in futures.items()}


def _stream_to(
    f: IO[bytes], resp: requests.Response, download: Download, bar: Any
) -> tuple[bytes, int]:
    """Write the body to `f` from its start, hashing as it goes. With no size
    in the lock, DEVSHELL_HTTP_MAX_DOWNLOAD caps it: an endless body must not
    fill the disk before the hash could say it is wrong."""
    announced = http.content_length(resp)
    if download.size is not None and announced is not None and announced != download.size:
        _size_mismatch(download, announced, "the server announces")
    f.seek(0)
    f.truncate()
    if bar is not None:
        bar.reset(total=download.size if download.size is not None else announced)
    h = integrity.hasher(download.integrity)
    count = 0
    limit = http.max_download() if download.size is None else None  # a known size is checked below
    # Undecoded: never let requests decode what it was sent.
    for chunk in http.chunks(resp, limit=limit, setting="DEVSHELL_HTTP_MAX_DOWNLOAD",
                             expected=download.size, size=CHUNK_SIZE):
        count += len(chunk)
        if download.size is not None and count > download.size:
            _size_mismatch(download, count, "more than that arrived:")
        h.update(chunk)
        f.write(chunk)
        if bar is not None:
            bar.update(len(chunk))
    if announced is not None and count < announced:
        raise http.CutShort(f"{count} of {announced} bytes")
    return h.digest(), count


def _size_mismatch(download: Download, actual: int, what: str) -> None:
    raise IntegrityError(
        f"size mismatch for {download.label} from {download.url}: the lock expects "
        f"{download.size} bytes, {what} {actual}",
        hint="the upstream changed the file or the download was tampered with; nothing was kept",
    )


def _verify(download: Download, digest: bytes, count: int) -> None:
    if download.size is not None and count != download.size:
        _size_mismatch(download, count, "got")
    algo, expected = integrity.parse(download.integrity)
    if digest != expected:
        raise IntegrityError(
            f"hash mismatch for {download.label} from {download.url}: expected "
            f"{download.integrity}, got {integrity.sri(algo, digest)}",
            hint=download.mismatch_hint or "the upstream changed the file or the download was "
            "tampered with; nothing was kept. If you trust the change, run `devshell lock` again",
        )


def _progress(terminal: bool) -> bool:
    """Whether progress is shown at all (not with -q, nor DEVSHELL_PROGRESS=0),
    and stderr is (`terminal`) or is not a terminal."""
    from devshell import say

    stderr = sys.stderr
    return (stderr is not None and stderr.isatty() == terminal and os.environ.get("DEVSHELL_PROGRESS") != "0"
            and say.progress())


def progress_lines() -> bool:
    """Whether to say, one line each, what was fetched and realised: when no
    person watches a terminal (CI, a log)."""
    return _progress(terminal=False)


def progress_bar(label: str, unit: str = "B") -> Any:
    """A tqdm bar on stderr when a person is watching, else None."""
    if not _progress(terminal=True):
        return None
    from tqdm import tqdm  # only when a bar is drawn: it costs import time

    return tqdm(
        total=None, unit=unit, unit_scale=unit == "B", unit_divisor=1024,
        desc=label, leave=False, file=sys.stderr,
    )
