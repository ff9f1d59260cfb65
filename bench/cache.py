"""Benchmark the team binary cache: a cold install from an OCI registry
(Debian's docker-registry on loopback) against the same install from the
upstreams (core.py's loopback server and three ~40 MB archives).

In one run, side by side, each round into an empty DEVSHELL_HOME:

- from the upstreams: `devshell install --locked`, no cache configured;
- from the cache: the same with DEVSHELL_CACHE naming the registry, to which
  `devshell cache push` uploaded the lock's outputs once (timed as a
  reference). The upstream server stays up: the figure is the cache's own
  path (ping, manifest, blobs), each blob checked against the lock.

Both sides are loopback, so this measures devshell's overhead on each path,
not a network; on a real network the cache wins by where it is.

    .venv/bin/python bench/cache.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from common import (
    REPO,
    WORK,
    Contention,
    Row,
    Times,
    bench_env,
    check,
    ensure_venv,
    secs,
    serve,
    table,
    timed,
    wipe,
)
from core import PLATFORM, ensure_archives, write_project

TARGET = 1.2  # the cache path may cost at most this much more than the upstreams' on loopback
REPOSITORY = "bench/devshell"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round")
    parser.add_argument("--rounds", type=int, help="rounds per column (default 3)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    began = time.perf_counter()
    sys.path.insert(0, str(REPO))
    from tests.registry import DOCKER_REGISTRY, start_registry

    if not Path(DOCKER_REGISTRY).exists():
        print("bench: needs docker-registry (Debian package docker-registry)", file=sys.stderr)
        return 2
    devshell = ensure_venv()
    archives = ensure_archives()
    run_dir = Path(tempfile.mkdtemp(prefix="cache-", dir=WORK))
    registry = start_registry(run_dir / "registry")
    times, contention = Times(), Contention()
    cache_url = registry.url(REPOSITORY)

    def env(home: Path, cache: bool) -> dict[str, str]:
        extra = {"DEVSHELL_CACHE": cache_url} if cache else {}
        return bench_env(DEVSHELL_HOME=str(home), DEVSHELL_PLATFORM=PLATFORM, DEVSHELL_PROGRESS="0",
                         XDG_CONFIG_HOME=str(run_dir / "config"), **extra)

    try:
        with serve(archives[0].path.parent) as base_url:
            proj = run_dir / "proj"
            write_project(proj, base_url, archives)
            first = run_dir / "first-home"
            check([str(devshell), "install"], cwd=proj, env=env(first, cache=False))
            with contention.phase("push"):
                pushed = timed([str(devshell), "cache", "push", "--locked"], cwd=proj, env=env(first, cache=True))
            home = run_dir / "home"
            with contention.phase("cold installs"):
                for _ in range(rounds):
                    for key, cache in (("upstreams", False), ("cache", True)):
                        wipe(home)
                        os.sync()
                        times.add(key, timed([str(devshell), "install", "--locked"], cwd=proj,
                                             env=env(home, cache)))
            check([str(devshell), "run", "--", "tool1"], cwd=proj, env=env(home, cache=True))
    finally:
        registry.stop()
        wipe(run_dir)

    up, hit = times.med("upstreams") or 0.0, times.med("cache") or 0.0
    ratio = hit / up
    size = sum(a.size for a in archives) / 1e6
    rows = [
        Row("cold install from the cache", secs(hit), f"{secs(up)} upstr", f"{ratio:.2f}x",
            f"≤ {TARGET:.1f}x upstreams", "ok" if ratio <= TARGET else "MISS"),
        Row("cache push (once, 3 outputs)", secs(pushed), "", "", "(reference)", ""),
    ]
    print(f"devshell cache bench: rounds {rounds}; {os.cpu_count()} CPUs; python {sys.version.split()[0]}; "
          f"{len(archives)} archives, {size:.0f} MB")
    print(table(rows, widths=(34, 9, 16, 7, 20)))
    print("\n".join(contention.report()))
    print("baseline: the same install from the upstreams (a loopback HTTP server); the cache is "
          "docker-registry on loopback with filesystem storage")
    print("cold rounds (s): upstreams " + ", ".join(f"{v:.2f}" for v in times.samples["upstreams"])
          + "; cache " + ", ".join(f"{v:.2f}" for v in times.samples["cache"]))
    print(f"\n(bench took {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
