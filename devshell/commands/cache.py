"""`devshell cache push|status [--platform P…]`: the team binary cache on an
OCI registry (`[cache] url = "oci://REGISTRY/REPOSITORY"` in devshell's
config, or DEVSHELL_CACHE).

`push` uploads each output of the lock (this machine's platform unless
`--platform` says) that the cache lacks: its locked artifacts, taken from the
download cache or fetched and verified first. `status --format json` prints
`{"cache": URL, "outputs": [{"tool", "platform", "output", "cached"}]}`.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from devshell import platforms, project, say
from devshell.errors import UsageError

if TYPE_CHECKING:
    from devshell.oci.cache import Output, RegistryCache

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("cache", help="push outputs to the team cache on an OCI registry, or check it")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (("push", "upload every output of the lock that the cache lacks"),
                       ("status", "say which outputs of the lock the cache has")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--platform", action="append", metavar="PLATFORM",
                            help="a platform of the lock (repeatable; default: this machine's)")
        action.add_argument("--locked", action="store_true", help="fail if devshell.lock is missing or stale")
        if name == "status":
            action.add_argument("--format", choices=("text", "json"), default="text",
                                help="json: one object on stdout, for scripts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from devshell.config import cache_setting
    from devshell.home import home as get_home
    from devshell.oci import cache as oci_cache
    from devshell.sources.locate import Upstreams

    setting = cache_setting()
    cache = oci_cache.configured(setting)
    if setting is None or cache is None:
        from devshell.config import devshell_config_path

        raise UsageError("no team cache is configured",
                         hint=f'set [cache] url = "oci://REGISTRY/REPOSITORY" in {devshell_config_path()}, '
                         "or DEVSHELL_CACHE")
    proj = project.find()
    home = get_home()
    lock = project.fresh_lock(proj, home, args.locked)
    outputs = oci_cache.outputs_for(lock, args.platform or [platforms.host()])
    cache.client.ping()  # a clear error now rather than one per output
    if args.action == "status":
        return _status(setting.url, cache, outputs, args.format)
    ups = Upstreams(proj.spec.root, dict(proj.spec.sources))
    from devshell.store import gcroots

    # gc keeps the downloads being pushed.
    with gcroots.guard(home, exclusive=False), ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda o: cache.push(home, o.artifact, o.label, ups), outputs))
    for out, uploaded in zip(outputs, results, strict=True):
        if uploaded is None:
            say.debug(f"{out.label}: {out.artifact.output} is in the cache already")
        else:
            say.note(f"pushed {out.label} ({uploaded} new blob{'s' if uploaded != 1 else ''})")
    pushed = sum(r is not None for r in results)
    say.note(f"{pushed} output{'s' if pushed != 1 else ''} pushed to {cache}, "
             f"{len(results) - pushed} already there")
    return 0


def _status(url: str, cache: RegistryCache, outputs: list[Output], fmt: str) -> int:
    with ThreadPoolExecutor(max_workers=8) as pool:
        have = list(pool.map(lambda o: cache.has(o.artifact), outputs))
    rows = [{"tool": o.tool, "platform": o.platform, "output": o.artifact.output, "cached": cached}
            for o, cached in zip(outputs, have, strict=True)]
    if fmt == "json":
        json.dump({"cache": url, "outputs": rows}, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        for row in rows:
            print(f"{'cached ' if row['cached'] else 'missing'}  {row['output']}")
    return 0
