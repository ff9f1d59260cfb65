"""Lock URLs that name an upstream rather than a host.

Artifacts from the Python package index, the npm registry and a Debian
archive are recorded as `pypi:<project>/<file>`, `npm:<path under the
registry>` and `deb:<path under the archive>` (pool/main/…): each source
writes and `locate`s its own scheme. So a lock holds no upstream host: it is realised against whatever index or registry the
machine is configured for (a mirror included), and every byte is still
checked against the lock's hash.

Which upstream that is may depend on the project (its `.npmrc`, its
`[sources.deb] archive`), so the project's settings travel in an `Upstreams`
value built once per run by the command, never read from the current
directory here. The store records `record()` in each output's manifest, so
`verify --repair` finds the same upstreams from any directory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from devshell.errors import DevshellError, FetchError
from devshell.lock import upstream_scheme

if TYPE_CHECKING:
    from devshell.home import Home

__all__ = ["Upstreams", "concrete"]

T = TypeVar("T")


class Upstreams:
    """The upstreams of one project for one run: resolved on first use, once.

    Each source turns its own lock URLs into fetchable ones (`Source.locate`),
    asking `base` and `memo` here so that each answer is computed once per run.
    `settings` holds the spec's `[sources.NAME]` settings by source name.
    `fallback` holds base URLs recorded when an output was realised; they
    serve a repair when the project's directory is gone, or the machine's
    configuration can no longer say (no npm to ask). `home`, when given,
    keeps the index documents a lookup reads (`cache/http`, with their
    validators), so the next run asks "changed since?" instead of reading
    them again.

    The outputs of a run are realised in threads, and each answer is
    computed once: a thread asking for an answer being computed waits for
    it, while different answers (two projects' index pages, the npm
    registry's address) are computed at the same time."""

    def __init__(self, project_root: Path | None = None, settings: dict[str, Any] | None = None,
                 fallback: dict[str, str] | None = None, home: Home | None = None) -> None:
        self.project_root = project_root
        self.settings = dict(settings or {})
        self.fallback = dict(fallback or {})
        self.home = home
        self._bases: dict[str, str] = {}
        self._memo: dict[Any, Any] = {}
        self._lock = threading.Lock()  # guards the dicts only, never held while computing
        self._gates: dict[Any, threading.RLock] = {}

    @classmethod
    def from_record(cls, record: Any) -> Upstreams:
        """What a manifest recorded (see `record`); anything malformed counts as
        nothing recorded: the machine's own configuration is used then. The
        project's settings are read again from its own spec, when it is there
        and still parses."""
        if not isinstance(record, dict):
            return cls()
        root, bases = record.get("project"), record.get("bases")
        project = Path(root) if isinstance(root, str) and root.startswith("/") else None
        fallback = ({k: v for k, v in bases.items() if isinstance(k, str) and isinstance(v, str)}
                    if isinstance(bases, dict) else None)
        return cls(project, _settings_of(project), fallback)

    @classmethod
    def from_cwd(cls) -> Upstreams:
        """The project of the current directory: only for the top of a run
        (a script such as a bench) that has no project in hand."""
        from devshell import spec

        root = spec.find_root(Path.cwd())
        return cls(root, _settings_of(root))

    def record(self, urls: Iterable[str]) -> dict[str, Any] | None:
        """What a repair of an output fetched from `urls` needs to find the same
        upstreams: the project, and the base URLs resolved for them. None when
        no URL names an upstream (a plain http(s) URL)."""
        kinds = {k for k in map(upstream_scheme, urls) if k is not None}
        if not kinds:
            return None
        with self._lock:
            bases = {k: v for k, v in self._bases.items() if k in kinds}
        return {
            "project": str(self.project_root) if self.project_root is not None else None,
            "bases": bases,
        }

    def concrete(self, url: str) -> str:
        """The URL to download from, asking the source that wrote it."""
        scheme, sep, rest = url.partition(":")
        if not sep:
            return url
        if scheme in ("http", "https"):  # a vendor's URL, as the lock names it: through [mirrors]
            from devshell.config import rewrite

            return rewrite(url)
        from devshell import sources

        source = sources.for_scheme(scheme)
        if source is None:
            raise FetchError(f"{url}: no source of this devshell writes {scheme}: URLs",
                             hint="the lock names a source this installation does not have")
        return source.locate(rest, self, scheme)

    @property
    def project_there(self) -> bool:
        return self.project_root is not None and self.project_root.is_dir()

    def base(self, kind: str, compute: Callable[[], str]) -> str:
        """The base URL of upstream `kind`, computed once per run; a recorded
        one when the project is gone or the machine cannot say any more."""
        return self._once(self._bases, ("base", kind), kind, lambda: self._resolve(kind, compute))

    def _resolve(self, kind: str, compute: Callable[[], str]) -> str:
        if kind in self.fallback and not self.project_there:
            return self.fallback[kind]  # the project is gone: where it was realised from
        try:
            return compute()
        except DevshellError:
            if kind in self.fallback:
                return self.fallback[kind]
            raise

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """`compute()` once per run for `key` (an index's listing, say)."""
        return self._once(self._memo, ("memo", key), key, compute)

    def _once(self, table: dict[Any, Any], gate_key: Any, key: Any, compute: Callable[[], T]) -> T:
        """`table[key]`, computed by the first thread that asks while the
        others asking for it wait on its gate; a failure is not kept, so the
        next one to ask tries again."""
        with self._lock:
            if key in table:
                found: T = table[key]
                return found
            gate = self._gates.setdefault(gate_key, threading.RLock())
        with gate:
            with self._lock:
                if key in table:
                    done: T = table[key]
                    return done
            value = compute()
            with self._lock:
                table[key] = value
            return value


def _settings_of(root: Path | None) -> dict[str, Any]:
    """The `[sources.NAME]` settings of the spec at `root`; none when it is
    missing or does not parse (a repair must not fail on a broken spec)."""
    if root is None:
        return {}
    from devshell import spec
    from devshell.errors import SpecError

    try:
        return dict(spec.load(root / spec.SPEC_NAME).sources)
    except SpecError:
        return {}


def concrete(url: str, upstreams: Upstreams | None = None) -> str:
    """`upstreams.concrete(url)`; without `upstreams` (scripts such as the
    benches, run from a project directory), the current directory's project."""
    return (upstreams or Upstreams.from_cwd()).concrete(url)
