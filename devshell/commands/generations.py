"""`devshell generations [--format text|json]`: every realised state of this
project, and what changed.

`--format json` prints one object (see `_json`); its field names are stable.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from devshell import say
from devshell.home import home
from devshell.spec import require_root
from devshell.state import generations

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("generations", help="list this project's generations and what changed in each")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: one object on stdout, for scripts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Not project.find(): generations must list even while the spec is broken.
    state = generations.project_state(home(), require_root(Path.cwd()))
    gens = generations.list_all(state)
    now = generations.current(state)
    if args.format == "json":
        import json

        sys.stdout.write(json.dumps(_json(gens, now), indent=2) + "\n")
        return 0
    if not gens:
        say.note("no generations yet: `devshell install` records the first")
        return 0
    previous: dict[str, str] = {}
    for gen in gens:
        versions = gen.versions()
        changes = generations.diff(previous, versions) or ["(devshell.toml changed; same tools)"]
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(gen.time))
        mark = "  (current)" if now is not None and gen.number == now.number else ""
        print(f"{gen.number:>4}  {when}  {'; '.join(changes)}{mark}")
        previous = versions
    return 0


def _json(gens: list[generations.Generation], now: generations.Generation | None) -> dict[str, Any]:
    """The `--format json` object: these field names are stable. A change
    names a tool and its version before and after (null: absent)."""
    listed = []
    previous: dict[str, str] = {}
    for gen in gens:
        versions = gen.versions()
        listed.append({
            "number": gen.number,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(gen.time)),
            "current": now is not None and gen.number == now.number,
            "profile": gen.profile,
            "tools": versions,
            "changes": [{"tool": name, "before": previous.get(name), "after": versions.get(name)}
                        for name in sorted(previous.keys() | versions.keys())
                        if previous.get(name) != versions.get(name)],
        })
        previous = versions
    return {"current": now.number if now is not None else None, "generations": listed}
