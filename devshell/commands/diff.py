"""`devshell diff [A] [B]`: what changed between generations, or between the
last generation and the project's files as they are now."""

from __future__ import annotations

import argparse
import json
from typing import Any

from devshell import lock as lockfile
from devshell import project
from devshell.errors import UsageError
from devshell.home import home
from devshell.state import generations

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("diff", help="compare two generations, or the current files with the last one")
    p.add_argument("a", nargs="?", type=int, help="a generation (default: the current one)")
    p.add_argument("b", nargs="?", type=int, help="another generation (default: the files as they are)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    proj = project.find()
    state = generations.project_state(home(), proj.root)
    gens = {g.number: g for g in generations.list_all(state)}

    def pick(number: int) -> generations.Generation:
        if number not in gens:
            raise UsageError(f"no generation {number}", hint="`devshell generations` lists them")
        return gens[number]

    base = pick(args.a) if args.a is not None else generations.current(state)
    if base is None:
        raise UsageError("no generations yet", hint="`devshell install` records the first")
    if args.b is not None:
        other = pick(args.b)
        after, spec_after, label = other.versions(), other.spec_bytes, f"generation {other.number}"
    else:
        lock_path = proj.lock_path
        after = {}
        if lock_path.exists():
            after = {n: str(t["version"]) for n, t in json.loads(lock_path.read_bytes())["tools"].items()}
        spec_after, label = proj.spec.path.read_bytes(), f"the current {lockfile.LOCK_NAME}"
    lines = generations.diff(base.versions(), after)
    if spec_after != base.spec_bytes:
        lines.append("  devshell.toml differs")
    print(f"generation {base.number} → {label}")
    for line in lines or ["  no changes"]:
        print(line if line.startswith("  ") else f"  {line}")
    return 0
