"""`devshell generations`: every realised state of this project, and what changed."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from devshell.home import home
from devshell.spec import require_root
from devshell.state import generations

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("generations", help="list this project's generations and what changed in each")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Not project.find(): generations must list even while the spec is broken.
    state = generations.project_state(home(), require_root(Path.cwd()))
    gens = generations.list_all(state)
    if not gens:
        print("devshell: no generations yet: `devshell install` records the first", file=sys.stderr)
        return 0
    now = generations.current(state)
    previous: dict[str, str] = {}
    for gen in gens:
        versions = gen.versions()
        changes = generations.diff(previous, versions) or ["(devshell.toml changed; same tools)"]
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(gen.time))
        mark = "  (current)" if now is not None and gen.number == now.number else ""
        print(f"{gen.number:>4}  {when}  {'; '.join(changes)}{mark}")
        previous = versions
    return 0
