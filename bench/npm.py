"""Benchmark a JavaScript tool's dependency tree: eslint as a devshell
node_modules tree, against `npm ci` of the same package-lock.

Against the real npm registry and package index this machine is configured
for (so it is run by hand, never by the tests). A project pins node 22 and
eslint 9; it is locked once. Then, in the same run, side by side, each round
with empty caches:

- devshell: `devshell install --locked` with only node already in the store
  (every tarball of eslint's tree downloaded, verified and unpacked);
- npm (the anchor, target ≤ 1.0x): `npm ci --ignore-scripts` of a package.json
  and the package-lock the pinned node's npm writes for `eslint@<the pinned
  version>`, with an empty npm cache, run by that same pinned node.

Then a warm re-lock of a realised project: `devshell lock --update eslint`
with the registry's documents in devshell's HTTP cache and npm's cache warm
(its npm resolves the tree afresh in a scratch directory), against `npm install
--package-lock-only` beside an existing package-lock with a warm npm cache.

    .venv/bin/python bench/npm.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from common import (
    WORK,
    Contention,
    Row,
    Times,
    bench_env,
    check,
    ensure_venv,
    secs,
    table,
    timed,
    wipe,
)

TARGET = 1.0
SPEC = '[shell]\nname = "npmbench"\nplatforms = ["x86_64-linux"]\n\n[tools]\nnode = "22"\n'


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round")
    parser.add_argument("--rounds", type=int, help="rounds per column (default 3)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    began = time.perf_counter()
    devshell = ensure_venv()
    run_dir = Path(tempfile.mkdtemp(prefix="npm-", dir=WORK))
    times, contention = Times(), Contention()

    def ds_env(home: Path) -> dict[str, str]:
        return bench_env(DEVSHELL_HOME=str(home), DEVSHELL_PLATFORM="x86_64-linux", DEVSHELL_PROGRESS="0",
                         XDG_CONFIG_HOME=str(run_dir / "config"))

    try:
        proj, node_only = run_dir / "proj", run_dir / "node-only"
        for root, text in ((proj, SPEC + '"npm:eslint" = "9"\n'), (node_only, SPEC)):
            root.mkdir()
            (root / "devshell.toml").write_text(text)
        base = run_dir / "base-home"  # node alone, realised once
        check([str(devshell), "install"], cwd=node_only, env=ds_env(base))
        lock_home = run_dir / "lock-home"
        shutil.copytree(base, lock_home, symlinks=True)
        with contention.phase("locks"):
            locked = timed([str(devshell), "lock"], cwd=proj, env=ds_env(lock_home))
            check([str(devshell), "install", "--locked"], cwd=proj, env=ds_env(lock_home))  # not timed below
            warm = timed([str(devshell), "lock", "--update", "eslint"], cwd=proj, env=ds_env(lock_home))
        tools = json.loads((proj / "devshell.lock").read_text())["tools"]
        version = tools["eslint"]["version"]
        packages = len(tools["eslint"]["platforms"]["x86_64-linux"]["closure"])
        node_out = base / "store" / tools["node"]["platforms"]["x86_64-linux"]["output"]
        programs = dict(p.split("=", 1) if "=" in p else (Path(p).name, p)
                        for p in tools["node"]["platforms"]["x86_64-linux"]["bin"])
        node, npm = str(node_out / programs["node"]), str(node_out / programs["npm"])
        # npm's side: the same tree, as a project would commit it.
        npm_proj = run_dir / "npm-proj"
        npm_proj.mkdir()
        (npm_proj / "package.json").write_text(json.dumps({"name": "npmbench", "version": "0.0.0", "private": True,
                                                           "dependencies": {"eslint": version}}))
        npm_env = bench_env(npm_config_update_notifier="false", npm_config_fund="false", npm_config_audit="false")
        with contention.phase("locks"):
            npm_warm_cache = run_dir / "npm-cache-warm"
            check([node, npm, "install", "--package-lock-only", "--ignore-scripts", f"--cache={npm_warm_cache}"],
                  cwd=npm_proj, env=npm_env)
            npm_relock = timed([node, npm, "install", "--package-lock-only", "--ignore-scripts",
                                f"--cache={npm_warm_cache}", "--prefer-online"], cwd=npm_proj, env=npm_env)
        wipe(lock_home)

        home = run_dir / "home"
        with contention.phase("cold installs"):
            for _ in range(rounds):
                wipe(home)
                shutil.copytree(base, home, symlinks=True)
                wipe(home / "cache")
                os.sync()
                times.add("devshell", timed([str(devshell), "install", "--locked"], cwd=proj, env=ds_env(home)))
                wipe(npm_proj / "node_modules")
                cache = run_dir / "npm-cache"
                wipe(cache)
                os.sync()
                times.add("npm", timed([node, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                                        f"--cache={cache}"], cwd=npm_proj, env=npm_env))
        ran = subprocess.run([str(devshell), "run", "--", "eslint", "--version"], cwd=proj, env=ds_env(home),
                             capture_output=True, text=True, check=True).stdout.strip()
    finally:
        wipe(run_dir)

    cold, base_npm = times.med("devshell") or 0.0, times.med("npm") or 0.0
    ratio = cold / base_npm
    rows = [
        Row("cold eslint tree vs npm ci", secs(cold), f"{secs(base_npm)} npm", f"{ratio:.2f}x",
            f"≤ {TARGET:.1f}x npm", "ok" if ratio <= TARGET else "MISS"),
        Row("warm re-lock (lock --update)", secs(warm), f"{secs(npm_relock)} npm", f"{warm / npm_relock:.2f}x",
            "(reference)", ""),
        Row("devshell lock (resolve, once)", secs(locked), "", "", "(reference)", ""),
    ]
    print(f"devshell npm-tree bench: rounds {rounds}; {os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    print(table(rows, widths=(34, 9, 16, 7, 12)))
    print("\n".join(contention.report()))
    print(f"\neslint {version}: {packages} packages; devshell runs it as {ran!r}")
    print("baseline: the pinned node's own npm, `npm ci --ignore-scripts` with an empty cache; devshell starts "
          "with node in the store and empty download cache")
    print("cold rounds (s): devshell " + ", ".join(f"{v:.2f}" for v in times.samples["devshell"])
          + "; npm " + ", ".join(f"{v:.2f}" for v in times.samples["npm"]))
    print(f"\n(bench took {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
