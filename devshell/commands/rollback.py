"""`devshell rollback [N]`: put a generation's spec and lock back, offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from devshell import atomic, project
from devshell.errors import UsageError
from devshell.home import home
from devshell.lock import LOCK_NAME
from devshell.spec import SPEC_NAME, require_root
from devshell.state import generations, trust

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("rollback", help="restore a generation's devshell.toml and devshell.lock")
    p.add_argument("number", nargs="?", type=int, help="the generation (default: the one before the current)")
    p.add_argument("--force", action="store_true", help="overwrite edits that no generation holds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    h = home()
    # Not project.find(): a spec that no longer parses is when rollback is needed.
    root = require_root(Path.cwd())
    spec_path, lock_path = root / SPEC_NAME, root / LOCK_NAME
    state = generations.project_state(h, root)
    gens = generations.list_all(state)
    now = generations.current(state)
    if not gens or now is None:
        raise UsageError("no generations to roll back to", hint="`devshell install` records the first")
    if args.number is None:
        older = [g for g in gens if g.number < now.number]
        if not older:
            raise UsageError(f"generation {now.number} is the oldest; nothing before it")
        target = older[-1]
    else:
        found = [g for g in gens if g.number == args.number]
        if not found:
            raise UsageError(f"no generation {args.number}", hint="`devshell generations` lists them")
        target = found[0]
    spec_now = spec_path.read_bytes()
    lock_now = lock_path.read_bytes() if lock_path.exists() else b""
    saved = any(g.spec_bytes == spec_now and g.lock_bytes == lock_now for g in gens)
    if not saved and not args.force:
        raise UsageError(
            f"{SPEC_NAME} or {LOCK_NAME} has edits that no generation holds; "
            "rolling back would lose them",
            hint="commit or copy them first, run `devshell install` to record them, or pass --force",
        )
    with trust.preserving(h, root):
        atomic.write_bytes(spec_path, target.spec_bytes)
        atomic.write_bytes(lock_path, target.lock_bytes)
    generations.set_current(state, target.number)
    # The outputs are still in the store: realising is instant and offline.
    project.prepare(locked=True, cwd=root)
    changes = generations.diff(now.versions(), target.versions())
    print(f"devshell: rolled back to generation {target.number}"
          + (": " + "; ".join(changes) if changes else ""), file=sys.stderr)
    return 0
