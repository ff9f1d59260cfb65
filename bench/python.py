"""Benchmark Python tools: black, mypy and pre-commit as devshell environments
on a pinned Python, against `uv tool install` and `pipx install`.

Against the real package index and Debian archive this machine is configured
for (so it is run by hand, never by the tests). A project pins python 3.11
through the Debian route (`[sources.cpython] suite = "bookworm"`) and black
24.10.0, mypy 1.13.0 and pre-commit 4.0.1 on it; it is locked once. Then,
in the same run, side by side, each round with empty caches:

- devshell: `devshell install` into an empty DEVSHELL_HOME (every wheel and
  every .deb of the interpreter downloaded, verified and installed), and again
  with only the interpreter already in the store (the tools alone);
- uv (the anchor, target ≤ 1.5x): `uv tool install` of each at the same version
  on the host's python3.11 (Debian 12's, the same release), empty cache;
- pipx (target: faster than it): `pipx install` of each, likewise, with its
  pip backend (given uv in the same venv, pipx would otherwise use uv).

uv and pipx are pip-installed into the bench venv at pinned versions. Last, hot:
`devshell run -- black --version` against the uv-installed `black --version`.

    .venv/bin/python bench/python.py [--quick] [--rounds N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from common import (
    VENV,
    WORK,
    Contention,
    Row,
    Times,
    bench_env,
    check,
    ensure_venv,
    ms,
    p90,
    secs,
    table,
    timed,
    wipe,
)

TOOLS = (("black", "24.10.0"), ("mypy", "1.13.0"), ("pre-commit", "4.0.1"))
UV, PIPX = "0.13.10", "1.18.16"  # the baselines, pip-installed into the bench venv
HOST_PYTHON = "/usr/bin/python3.11"  # what uv and pipx install onto
UV_TARGET, PIPX_TARGET = 1.5, 1.0

PYTHON_LINE = '[sources.cpython]\nsuite = "bookworm"\n\n[tools]\npython = "3.11"\n'


def write_project(proj: Path, tools: bool) -> None:
    proj.mkdir(parents=True)
    entries = "".join(f'"pypi:{name}" = "{version}"\n' for name, version in TOOLS) if tools else ""
    (proj / "devshell.toml").write_text(
        f'[shell]\nname = "pybench"\nplatforms = ["x86_64-linux"]\n\n{PYTHON_LINE}{entries}')


def baselines() -> tuple[Path, Path]:
    """uv and pipx in the bench venv, at their pinned versions."""
    uv, pipx = VENV / "bin" / "uv", VENV / "bin" / "pipx"
    have = subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
                          capture_output=True, text=True, check=True).stdout
    versions = {p["name"].lower(): p["version"] for p in json.loads(have)}
    if versions.get("uv") != UV or versions.get("pipx") != PIPX:
        print(f"bench: pip install uv=={UV} pipx=={PIPX} into {VENV}…", file=sys.stderr)
        check([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
               f"uv=={UV}", f"pipx=={PIPX}"], env=_no_pip_config())
    return uv, pipx


def _no_pip_config(**extra: str) -> dict[str, str]:
    """The environment without this machine's pip settings (local find-links
    or extra indexes would make a "cold" install read wheels from disk)."""
    env = {k: v for k, v in bench_env().items() if not k.startswith(("PIP_", "UV_", "PIPX_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def uv_round(uv: Path, scratch: Path) -> tuple[float, Path]:
    """Seconds for `uv tool install` of the three, empty cache; its bin dir."""
    wipe(scratch)
    env = _no_pip_config(UV_CACHE_DIR=str(scratch / "cache"), UV_TOOL_DIR=str(scratch / "tools"),
                         UV_TOOL_BIN_DIR=str(scratch / "bin"), UV_PYTHON_DOWNLOADS="never",
                         UV_PYTHON_INSTALL_DIR=str(scratch / "pythons"), UV_NO_CONFIG="1",
                         XDG_DATA_HOME=str(scratch / "data"), XDG_CACHE_HOME=str(scratch / "xdg-cache"))
    total = 0.0
    for name, version in TOOLS:
        total += timed([str(uv), "tool", "install", "--python", HOST_PYTHON, f"{name}=={version}"],
                       env=env, cwd=scratch.parent)
    return total, scratch / "bin"


def pipx_round(pipx: Path, scratch: Path) -> float:
    """Seconds for `pipx install` of the three, empty caches, with pip (its
    classic backend: with uv beside it in the venv, pipx would pick uv's)."""
    wipe(scratch)
    env = _no_pip_config(PIPX_HOME=str(scratch / "home"), PIPX_BIN_DIR=str(scratch / "bin"),
                         PIPX_MAN_DIR=str(scratch / "man"), PIP_CACHE_DIR=str(scratch / "pip-cache"),
                         XDG_CACHE_HOME=str(scratch / "xdg-cache"), PIPX_DEFAULT_BACKEND="pip")
    total = 0.0
    for name, version in TOOLS:
        total += timed([str(pipx), "install", "--python", HOST_PYTHON, f"{name}=={version}"],
                       env=env, cwd=scratch.parent)
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 cold round, 10 hot runs")
    parser.add_argument("--rounds", type=int, help="cold rounds per column (default 3)")
    parser.add_argument("--runs", type=int, help="hot runs per command (default 30)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    runs = args.runs or (10 if args.quick else 30)
    if not Path(HOST_PYTHON).is_file():
        raise SystemExit(f"bench: uv and pipx install onto {HOST_PYTHON}, which this machine lacks")

    began = time.perf_counter()
    devshell = ensure_venv()
    uv, pipx = baselines()
    run_dir = Path(tempfile.mkdtemp(prefix="python-", dir=WORK))
    proj, proj_py = run_dir / "proj", run_dir / "python-only"
    times = Times()
    contention = Contention()
    notes: list[str] = []

    def ds_env(home: Path) -> dict[str, str]:
        return bench_env(DEVSHELL_HOME=str(home), DEVSHELL_PLATFORM="x86_64-linux",
                         DEVSHELL_PROGRESS="0", XDG_CONFIG_HOME=str(run_dir / "config"))

    try:
        write_project(proj, tools=True)
        write_project(proj_py, tools=False)
        lock_home = run_dir / "lock-home"
        with contention.phase("locks"):
            locked = timed([str(devshell), "lock"], cwd=proj, env=ds_env(lock_home))
            check([str(devshell), "lock"], cwd=proj_py, env=ds_env(lock_home))
        lock = json.loads((proj / "devshell.lock").read_text())["tools"]
        py_lock = json.loads((proj_py / "devshell.lock").read_text())["tools"]
        python = lock["python"]
        if py_lock["python"] != python:
            raise SystemExit("bench: the python-only project locked another python; run again")
        wheels = {n: 1 + len(lock[n]["platforms"]["x86_64-linux"].get("closure", ())) for n, _ in TOOLS}
        debs = 1 + len(python["platforms"]["x86_64-linux"].get("closure", ()))
        wipe(lock_home)

        home = run_dir / "home"
        uv_bin = run_dir / "uv" / "bin"
        with contention.phase("cold installs"):
            for _ in range(rounds):
                wipe(home)
                times.add("devshell", timed([str(devshell), "install", "--locked"], cwd=proj, env=ds_env(home)))
                wipe(home)
                check([str(devshell), "install", "--locked"], cwd=proj_py, env=ds_env(home))
                times.add("tools", timed([str(devshell), "install", "--locked"], cwd=proj, env=ds_env(home)))
                seconds, uv_bin = uv_round(uv, run_dir / "uv")
                times.add("uv", seconds)
                times.add("pipx", pipx_round(pipx, run_dir / "pipx"))
        wipe(run_dir / "pipx")

        shown = subprocess.run([str(devshell), "run", "--", "black", "--version"], cwd=proj, env=ds_env(home),
                               capture_output=True, text=True, check=True).stdout.split("\n", 1)[0]
        theirs = subprocess.run([str(uv_bin / "black"), "--version"], capture_output=True, text=True,
                                check=True).stdout.split("\n", 1)[0]
        hot = {"devshell": [str(devshell), "run", "--", "black", "--version"],
               "uv": [str(uv_bin / "black"), "--version"]}
        with contention.phase("hot runs"):
            for cmd in hot.values():  # warm-ups: page cache, bytecode
                for _ in range(2):
                    timed(cmd, cwd=proj, env=ds_env(home))
            for _ in range(runs):
                for key, cmd in hot.items():
                    times.add(f"hot-{key}", timed(cmd, cwd=proj, env=ds_env(home)))
    finally:
        wipe(run_dir)

    rows = []
    cold = times.med("devshell") or 0.0
    for key, label, target in (("uv", "uv tool install", UV_TARGET), ("pipx", "pipx install", PIPX_TARGET)):
        base = times.med(key) or 0.0
        ratio = cold / base
        bound = f"≤ {target:.1f}x {key}" if key == "uv" else f"< {key}"
        ok = ratio <= target if key == "uv" else ratio < target
        rows.append(Row(f"cold, all three, vs {label}", secs(cold), f"{secs(base)} {key}",
                        f"{ratio:.2f}x", bound, "ok" if ok else "MISS"))
    tools_only = times.med("tools") or 0.0
    uv_med = times.med("uv") or 0.0
    rows.append(Row("  python already in the store", secs(tools_only), f"{secs(uv_med)} uv",
                    f"{tools_only / uv_med:.2f}x", "(reference)", ""))
    rows.append(Row("devshell lock (resolve, once)", secs(locked), "", "", "(reference)", ""))
    hot_ds, hot_uv = statistics.median(times.samples["hot-devshell"]), statistics.median(times.samples["hot-uv"])
    rows.append(Row("hot: black --version", ms(hot_ds), f"{ms(hot_uv)} uv's",
                    f"{hot_ds / hot_uv:.2f}x", "(reference)", f"{'+' if hot_ds >= hot_uv else '-'}{ms(abs(hot_ds - hot_uv))}"))
    rows.append(Row("  p90", ms(p90(times.samples["hot-devshell"])),
                    f"{ms(p90(times.samples['hot-uv']))} uv's", "", "", ""))

    notes.append("tools: " + ", ".join(f"{n} {v} ({wheels[n]} wheels)" for n, v in TOOLS)
                 + f"; python {python['version']} from Debian (bookworm), {debs} .debs")
    notes.append(f"baselines: uv {UV}, pipx {PIPX} (pip backend), each on {HOST_PYTHON} (the host's, not fetched); "
                 "each round starts with empty caches and tool directories")
    notes.append(f"cold rounds (s): devshell {_list(times, 'devshell')}; tools only {_list(times, 'tools')}; "
                 f"uv {_list(times, 'uv')}; pipx {_list(times, 'pipx')}")
    notes.append(f"black --version: devshell {shown!r}; uv's {theirs!r}")
    print(f"devshell python-tools bench: cold rounds {rounds}, hot runs {runs}; "
          f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    print(table(rows, widths=(34, 9, 16, 7, 12)))
    print("\n".join(contention.report()))
    print()
    print("\n".join(notes))
    print(f"\n(bench took {time.perf_counter() - began:.0f} s)")
    return 0


def _list(times: Times, key: str) -> str:
    return ", ".join(f"{v:.1f}" for v in times.samples.get(key, []))


if __name__ == "__main__":
    sys.exit(main())
