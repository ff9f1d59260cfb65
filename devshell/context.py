"""One run's context: where devshell keeps things, which project, where its
upstreams are, and what this run has already read.

Commands build it once (`for_spec`) and pass it down; nothing deeper reads
the current directory or `DEVSHELL_HOME`, and per-run caches (registry
documents, opened Debian archives) live here rather than in modules, so two
runs in one process (tests, a long-lived caller) never share them, and the
threads of one run fill them side by side, each key once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from devshell.home import Home
from devshell.sources.locate import Upstreams

if TYPE_CHECKING:
    from devshell.lock import LockedTool
    from devshell.spec import Spec

__all__ = ["Context", "for_spec"]

T = TypeVar("T")


class Context:
    """Home, project and upstream settings, and this run's caches."""

    def __init__(self, home: Home, upstreams: Upstreams) -> None:
        self.home = home
        self.upstreams = upstreams
        self._memo: dict[Hashable, Any] = {}
        self._lock = threading.Lock()  # guards _memo and _gates, never held while computing
        # key -> held while it is computed; re-entrant, so a computation that
        # asks for its own key recurses into a clear RecursionError, not a hang.
        self._gates: dict[Hashable, threading.RLock] = {}
        self._locker: Callable[[str], LockedTool | None] | None = None

    @property
    def root(self) -> Path | None:
        """The project's directory (None: no project, e.g. `devshell search`)."""
        return self.upstreams.project_root

    def settings(self, source: str) -> Any:
        """The spec's `[sources.NAME]` settings for `source` (None: none)."""
        return self.upstreams.settings.get(source)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()` once per run for `key`; later calls get the same value.
        A thread asking for a key being computed waits for it rather than
        racing; keys of their own are computed at once (two projects' index
        pages are read side by side). A computation that fails is tried
        again by the next caller. Keys must not wait on each other in a cycle."""
        with self._lock:
            if key in self._memo:
                return cast(T, self._memo[key])
            gate = self._gates.setdefault(key, threading.RLock())
        with gate:
            with self._lock:
                if key in self._memo:
                    return cast(T, self._memo[key])
            computed = compute()
            with self._lock:
                self._memo[key] = computed
                self._gates.pop(key, None)
            return computed

    def lock_with(self, locker: Callable[[str], LockedTool | None]) -> None:
        """Let `locked` ask `locker` (devshell.sources.resolve sets it while it
        locks a spec)."""
        self._locker = locker

    def locked(self, name: str) -> LockedTool | None:
        """The spec's tool `name` as this run locks it, resolved first if it
        has not been yet: what a tool that runs on another (a Python tool on
        the spec's python) reads. None when the spec has no such tool, or
        this run locks no spec."""
        return self._locker(name) if self._locker is not None else None


def for_spec(spec: Spec | None, home: Home, root: Path | None = None) -> Context:
    """The context of a run on `spec`'s project (or on none, at `root`)."""
    if spec is None:
        return Context(home, Upstreams(root))
    return Context(home, Upstreams(spec.root, dict(spec.sources)))
