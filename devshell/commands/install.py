"""`devshell install`: fetch and realise the lock without entering.

`--from FILE` takes every artifact from a bundle (`devshell bundle`) instead,
with no network: the lock must be fresh (as with --locked), and what the
bundle lacks is an error, never a download.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from devshell import project, say

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("install", help="fetch and realise every pinned tool")
    p.add_argument("--locked", action="store_true", help="fail if devshell.lock is missing or stale")
    p.add_argument("--from", dest="bundle", type=Path, metavar="FILE",
                   help="realise from a bundle written by `devshell bundle`, with no network (implies --locked)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.bundle is None:
        proj, record = project.prepare(args.locked)
    else:
        from devshell.oci.bundle import Bundle

        proj, record = project.prepare(True, prefill=Bundle(args.bundle).prefill)
    say.note(f"{proj.spec.shell.name} is ready ({record.profile})")
    return 0
