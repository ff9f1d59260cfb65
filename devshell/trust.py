"""Trust: `[hooks]` run code from a repository, so they run only once the
user has read them and said `devshell trust`. What is trusted is the hooks'
exact text: editing a hook revokes it.

    state/trust/<project key>   the sha256 of the trusted hooks, or "revoked"
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from devshell import activation, atomic
from devshell.home import Home
from devshell.spec import Spec

__all__ = ["hooks_digest", "is_trusted", "path", "revoke", "trust"]


def path(home: Home, root: Path) -> Path:
    """Keyed like the project's state (its path, `/` spelled `%`), so the
    direnv function can find it with shell builtins alone."""
    return home.state / "trust" / os.path.basename(activation.project_dir("", str(root)))


def hooks_digest(spec: Spec) -> str:
    canonical = json.dumps(dict(spec.hooks), sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_trusted(home: Home, spec: Spec) -> bool:
    try:
        recorded = path(home, spec.root).read_text().strip()
    except OSError:
        return False
    return recorded == hooks_digest(spec)


def trust(home: Home, spec: Spec) -> None:
    atomic.write_text(path(home, spec.root), hooks_digest(spec) + "\n")


def revoke(home: Home, root: Path) -> None:
    # Written, not deleted: a newer file tells the direnv cache to refresh.
    atomic.write_text(path(home, root), "revoked\n")
