"""`devshell bundle --output FILE [--platform P…]`: everything the lock needs,
for this machine's platform (or those named), as one OCI image layout archive.

`devshell install --from FILE` realises the project from it on a machine with
no network at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from devshell import platforms, project, say

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("bundle", help="write everything the lock needs as one file, for offline machines")
    p.add_argument("--output", "-o", type=Path, required=True, metavar="FILE",
                   help="the archive to write (an OCI image layout, as a tar)")
    p.add_argument("--platform", action="append", metavar="PLATFORM",
                   help="a platform of the lock (repeatable; default: this machine's)")
    p.add_argument("--locked", action="store_true", help="fail if devshell.lock is missing or stale")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from devshell.home import home as get_home
    from devshell.oci import bundle
    from devshell.oci.cache import outputs_for
    from devshell.sources.locate import Upstreams

    proj = project.find()
    home = get_home()
    lock = project.fresh_lock(proj, home, args.locked)
    wanted = list(dict.fromkeys(args.platform or [platforms.host()]))
    outputs = outputs_for(lock, wanted)
    from devshell.store import gcroots

    with gcroots.guard(home, exclusive=False):  # gc keeps the downloads being bundled
        size = bundle.write(home, lock, outputs, Upstreams(proj.spec.root, dict(proj.spec.sources)),
                            args.output.absolute())
    say.note(f"bundled {len(outputs)} output{'s' if len(outputs) != 1 else ''} of {proj.spec.shell.name} "
             f"for {', '.join(wanted)} in {args.output} ({size / 1e6:.1f} MB); on the other machine: "
             f"devshell install --from {args.output.name}")
    return 0
