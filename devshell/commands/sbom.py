"""`devshell sbom [--format cyclonedx|spdx] [--output FILE] [--platform P]`:
the lock as a software bill of materials.

It lists every tool and every package of every closure the lock pins for one
platform (the host's by default), with its version, purl and hashes, and
which needs which: CycloneDX 1.6 JSON or SPDX 2.3 JSON, on stdout or written
atomically to FILE. It reads only the lock (no network, no store), so the
same lock gives the same bytes on any machine; SOURCE_DATE_EPOCH, when set,
is the document's time.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devshell import lock as lockfile
from devshell import platforms, project, say
from devshell.errors import DevshellError, LockStaleError, UsageError

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["register", "run"]

# devshell.sbom.FORMATS, written out so that parsing the command line imports
# no format library (test_sbom checks they agree).
FORMATS = ("cyclonedx", "spdx")


def register(sub: Any) -> None:
    p = sub.add_parser("sbom", help="describe the lock as an SBOM (CycloneDX or SPDX)")
    p.add_argument("--format", choices=FORMATS, default="cyclonedx",
                   help="cyclonedx: CycloneDX 1.6 JSON (default); spdx: SPDX 2.3 JSON")
    p.add_argument("--output", "-o", metavar="FILE", help="write it to FILE (default: stdout)")
    p.add_argument("--platform", metavar="PLATFORM",
                   help="the platform to describe, e.g. aarch64-darwin (default: this machine's)")
    p.set_defaults(func=run)


def _created() -> datetime | None:
    """SOURCE_DATE_EPOCH as a time, as reproducible builds define it; None when unset."""
    from datetime import UTC, datetime

    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    hint = "set it to a whole number, such as `git log -1 --format=%ct`, or unset it"
    if not value.isdigit() or len(value) > 12:
        raise UsageError(f"SOURCE_DATE_EPOCH={value[:40]!r} is not a number of seconds since 1970", hint=hint)
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        raise UsageError(f"SOURCE_DATE_EPOCH={value!r} is past any date an SBOM can state", hint=hint) from None


def run(args: argparse.Namespace) -> int:
    proj = project.find()
    lock = lockfile.load(proj.lock_path)
    if lock is None:
        raise LockStaleError(f"{proj.lock_path} is missing: the SBOM describes the lock",
                             hint="run `devshell lock` first")
    if lock.spec_hash != lockfile.spec_hash(proj.spec.resolution_inputs()):
        say.warn(f"{lockfile.LOCK_NAME} is out of date with devshell.toml; "
                 "this describes the lock as it is (`devshell lock` updates it)")
    from devshell import sbom
    from devshell.sbom.components import inventory, lock_platforms

    platform = args.platform or platforms.host()
    covered = lock_platforms(lock)
    if lock.tools and platform not in covered:
        raise UsageError(f"{lockfile.LOCK_NAME} has nothing for {platform}",
                         hint=f"it covers {', '.join(covered)}: pass one with --platform, "
                              "or add the platform to [shell] platforms and lock again")
    described = inventory(lock, proj.spec.shell.name, platform, _created())
    for tool, why in described.missing:
        say.note(f"{tool} is left out: not on {platform} ({why})")
    text = sbom.render(args.format, described)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    from devshell import atomic

    target = Path(args.output)
    try:
        atomic.write_text(target, text)
    except OSError as exc:
        raise DevshellError(f"cannot write the SBOM to {target}: {exc.strerror or exc}",
                            hint="name a file in a directory you can write to") from None
    say.note(f"wrote {target} ({args.format}, {len(described.components)} components, {platform})")
    return 0
