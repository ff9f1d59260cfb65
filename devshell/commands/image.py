"""`devshell image --output DIR`: an OCI image of the project's shell.

One layer per store output and a profile layer, a config whose `Env` is the
shell's environment, realised from the lock for /opt/devshell with no
container engine. `--format docker-archive --output FILE.tar` writes a tar
for `docker load`; `--platform` (repeatable) makes a multi-platform index;
`--push REGISTRY/REPO:TAG` sends the image to a registry. The digest of what
was written (the manifest, or the index) goes to stdout.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devshell import project, say

if TYPE_CHECKING:
    from devshell.oci.layout import Descriptor, Layout

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("image", help="write an OCI image of the shell (layout, docker-archive)")
    p.add_argument("--output", "-o", type=Path, metavar="PATH",
                   help="the layout directory (oci) or the .tar file (docker-archive) to write")
    p.add_argument("--format", choices=("oci", "docker-archive"), default="oci",
                   help="oci: an OCI image layout directory (default); docker-archive: a tar "
                   "for docker/podman load")
    p.add_argument("--platform", action="append", metavar="PLATFORM",
                   help="a platform of the lock to build for (repeatable: a multi-platform "
                   "image); default: this machine's")
    p.add_argument("--tag", default="latest",
                   help="the image's reference name in the layout (docker-archive: TAG or REPO:TAG)")
    p.add_argument("--push", metavar="REGISTRY/REPO:TAG",
                   help="push the image to a registry as well")
    p.add_argument("--locked", action="store_true", help="fail if devshell.lock is missing or stale")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from devshell import lock as lockfile
    from devshell import platforms as plat
    from devshell.errors import UsageError
    from devshell.home import home as get_home
    from devshell.oci import image, imagestore
    from devshell.oci.layout import Layout
    from devshell.oci.outputs import FORMATS
    from devshell.store import gcroots

    if args.output is None and args.push is None:
        raise UsageError("say where the image goes: --output PATH, --push REGISTRY/REPO:TAG, or both")
    proj = project.find()
    wanted = list(dict.fromkeys(args.platform or [plat.host()]))
    for platform in wanted:
        imagestore.check_platform(platform, proj.spec)
    fmt = FORMATS[args.format]
    dest = args.output.absolute() if args.output is not None else None
    if dest is not None:
        fmt.check(dest, wanted, args.tag, proj.spec.shell.name)
    pusher = _pusher(args.push)
    h = get_home()
    lock = project.fresh_lock(proj, h, args.locked)
    staging = imagestore.staging_home(h)
    scratch = (fmt.scratch(dest, staging.root) if dest is not None
               else _scratch_for_push(staging.root))
    try:
        # `gc` waits while an image is made: `gc --images` for the image
        # store and this scratch, `gc` for the downloads the two share.
        with gcroots.guard(h, exclusive=False), gcroots.guard(staging, exclusive=False):
            layout = Layout.create(scratch, durable=False)
            built = image.build(proj.spec, lock, lockfile.dumps(lock), h, wanted, layout)
            entry = image.top(layout, built, args.tag)
            if pusher is not None:
                pusher(layout, entry)
            if dest is not None:
                fmt.finish(layout, built, entry, dest, args.tag, proj.spec.shell.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    shown = f"{args.format} {dest}" if dest is not None else args.push
    say.note(f"image of {proj.spec.shell.name} for {', '.join(wanted)}: {shown}")
    print(entry.digest, file=sys.stdout)
    return 0


def _scratch_for_push(staging: Path) -> Path:
    import tempfile

    (staging / "tmp").mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="push-", dir=staging / "tmp"))


def _pusher(target: str | None) -> Callable[[Layout, Descriptor], object] | None:
    """What sends the built image to `target` (REGISTRY/REPO:TAG), checked
    before any work is done."""
    if target is None:
        return None
    from devshell.errors import UsageError
    from devshell.oci import push
    from devshell.oci.registry import Reference

    if Reference.parse(target, "--push").tag is None:
        raise UsageError(f"--push {target}: name a tag (REGISTRY/REPOSITORY:TAG)",
                         hint="e.g. registry.example:5000/team/shell:v1")
    return lambda layout, entry: push.push_layout(layout, target, entry)
