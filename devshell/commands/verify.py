"""`devshell verify [TOOL…|--all] [--repair] [--format text|json]`: re-hash
outputs against their manifests.

`--format json` prints one object (see `run`); its field names are stable.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from devshell import lock as lockfile
from devshell import platforms, project, say
from devshell.errors import UsageError
from devshell.home import home
from devshell.lock import Unavailable
from devshell.store import verify

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("verify", help="check store outputs against their manifests")
    p.add_argument("tools", nargs="*", metavar="TOOL", help="tools of this project (default: all of them)")
    p.add_argument("--all", action="store_true", help="every output in the store")
    p.add_argument("--repair", action="store_true", help="rebuild damaged outputs, from the cache or upstream")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: one object on stdout, for scripts")
    p.set_defaults(func=run)


def _targets(args: argparse.Namespace) -> list[str]:
    h = home()
    if args.all:
        return sorted(p.name for p in h.store.iterdir() if not p.name.startswith(".")) if h.store.is_dir() else []
    proj = project.find()
    lock = lockfile.load(proj.lock_path)
    if lock is None:
        raise UsageError("this project has no devshell.lock to verify", hint="run `devshell install` first")
    names = []
    for tool in lock.tools:
        if args.tools and tool.name not in args.tools:
            continue
        artifact = tool.artifact(platforms.host())
        if artifact is not None and not isinstance(artifact, Unavailable):
            names.append(artifact.output)
    unknown = set(args.tools) - {t.name for t in lock.tools}
    if unknown:
        raise UsageError(f"not tools of this devshell: {', '.join(sorted(unknown))}")
    if not args.tools:
        record_profile = _profile(proj.root)
        if record_profile:
            names.append(record_profile)
    return names


def _profile(root: Any) -> str | None:
    from devshell.state import generations

    now = generations.current(generations.project_state(home(), root))
    return now.profile if now else None


def run(args: argparse.Namespace) -> int:
    h = home()
    text = args.format == "text"
    outputs: list[dict[str, Any]] = []
    damaged = 0
    for name in _targets(args):
        say.debug(f"verifying {h.output(name)}")
        problems = verify.check(h, name)
        entry: dict[str, Any] = {"name": name, "path": str(h.output(name)),
                                 "ok": not problems, "repaired": False,
                                 "problems": [{"kind": p.kind, "path": p.path} for p in problems]}
        outputs.append(entry)
        if not problems:
            if text:
                print(f"ok       {name}")
            continue
        damaged += 1
        if text:
            print(f"DAMAGED  {name}")
            for problem in problems[:20]:
                print(f"    {problem.describe()}")
            if len(problems) > 20:
                print(f"    … and {len(problems) - 20} more")
        if args.repair:
            verify.repair(h, name)
            after = verify.check(h, name)
            if text:
                print(f"    repaired{'' if not after else ' INCOMPLETELY'}")
            if not after:
                damaged -= 1
                entry.update(ok=True, repaired=True)
    if not text:
        import json

        # "problems" are what was found before any repair; "ok" is the state after it.
        sys.stdout.write(json.dumps({"outputs": outputs, "damaged": damaged}, indent=2) + "\n")
    if damaged:
        # The reason for the exit status: said even under -q.
        print(f"devshell: {damaged} damaged output(s)"
              + ("" if args.repair else "; `devshell verify --repair` rebuilds them"), file=sys.stderr)
        return 1
    return 0
