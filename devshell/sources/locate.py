"""Lock URLs that name an upstream rather than a host.

Artifacts from the Python package index, the npm registry and a Debian
archive are recorded as `pypi:<project>/<file>`, `npm:<path under the
registry>` and `deb:<path under the archive>` (pool/main/…), so a lock holds
no upstream host: it is realised against whatever index or registry the
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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from devshell import config
from devshell.errors import DevshellError, FetchError
from devshell.lock import UPSTREAM_FORMS

__all__ = ["Upstreams", "concrete"]


class Upstreams:
    """The upstreams of one project for one run: resolved on first use, once.

    `fallback` holds base URLs recorded when an output was realised; they
    serve a repair when the project's directory is gone, or the machine's
    configuration can no longer say (no npm to ask)."""

    def __init__(self, project_root: Path | None = None, deb_archive: str | None = None,
                 fallback: dict[str, str] | None = None) -> None:
        self.project_root = project_root
        self.deb_archive = deb_archive  # the project's `[sources.deb] archive`
        self.fallback = dict(fallback or {})
        self._bases: dict[str, str] = {}
        self._listed: dict[str, dict[str, str]] = {}  # pypi project -> file name -> URL
        self._lock = threading.Lock()

    @classmethod
    def from_record(cls, record: Any) -> Upstreams:
        """What a manifest recorded (see `record`); anything malformed counts as
        nothing recorded: the machine's own configuration is used then."""
        if not isinstance(record, dict):
            return cls()
        root, archive, bases = record.get("project"), record.get("deb-archive"), record.get("bases")
        return cls(
            Path(root) if isinstance(root, str) and root.startswith("/") else None,
            archive if isinstance(archive, str) else None,
            {k: v for k, v in bases.items() if isinstance(k, str) and isinstance(v, str)}
            if isinstance(bases, dict) else None,
        )

    @classmethod
    def from_cwd(cls) -> Upstreams:
        """The project of the current directory: only for the top of a run
        (a command, a script) that has no project in hand."""
        from devshell import spec

        root = spec.find_root(Path.cwd())
        archive = spec.load(root / spec.SPEC_NAME).deb.archive if root is not None else None
        return cls(root, archive)

    def record(self, urls: Iterable[str]) -> dict[str, Any] | None:
        """What a repair of an output fetched from `urls` needs to find the same
        upstreams: the project's own settings, and the base URLs resolved for
        them. None when no URL names an upstream (a plain http(s) URL)."""
        kinds = {u.partition(":")[0] for u in urls if u.startswith(UPSTREAM_FORMS)}
        if not kinds:
            return None
        with self._lock:
            bases = {k: v for k, v in self._bases.items() if k in kinds}
        return {
            "project": str(self.project_root) if self.project_root is not None else None,
            "deb-archive": self.deb_archive,
            "bases": bases,
        }

    def concrete(self, url: str) -> str:
        """The URL to download from, asking the configured upstream if needed."""
        if url.startswith("npm:"):
            return self._base("npm") + url[len("npm:"):]
        if url.startswith("deb:"):
            return self._base("deb") + url[len("deb:"):]
        if url.startswith("pypi:"):
            return self._pypi(url)
        return url

    def _base(self, kind: str) -> str:
        with self._lock:
            if kind not in self._bases:
                self._bases[kind] = self._resolve(kind)
            return self._bases[kind]

    def _resolve(self, kind: str) -> str:
        if kind in self.fallback and not (self.project_root and self.project_root.is_dir()):
            return self.fallback[kind]  # the project is gone: where it was realised from
        try:
            if kind == "npm":
                # The project's own .npmrc counts, as it did when locking.
                root = self.project_root if self.project_root and self.project_root.is_dir() else None
                return config.npm_registry(root).url
            return config.debian_archive(self.deb_archive).url
        except DevshellError:
            if kind in self.fallback:
                return self.fallback[kind]
            raise

    def _pypi(self, url: str) -> str:
        project, _, filename = url[len("pypi:"):].partition("/")
        with self._lock:
            listed = self._listed.get(project)
        if listed is None:
            from devshell.sources.pypi import read_index

            listed = {f.filename: f.url for f in read_index(project)}
            with self._lock:
                self._listed[project] = listed
        found = listed.get(filename)
        if found is None:
            raise FetchError(
                f"{filename} is not listed for {project} by the Python package index "
                f"({config.pypi_index().url})",
                hint="the index (or mirror) may have removed it; `devshell lock --update` picks another",
            )
        return found


def concrete(url: str, upstreams: Upstreams | None = None) -> str:
    """`upstreams.concrete(url)`; without `upstreams` (scripts such as the
    benches, run from a project directory), the current directory's project."""
    return (upstreams or Upstreams.from_cwd()).concrete(url)
