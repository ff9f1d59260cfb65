"""Cold realisation of the ready shells from the real upstreams, against curl.

For each ready shell (shells/NAME with its real lock, this machine's
platform): `devshell install --locked` into an empty $DEVSHELL_HOME, against
the same files fetched with `curl` and unpacked (`unzip -q` for wheels,
`tar -x` for tarballs, `dpkg-deb -x` for .debs), all of them in parallel,
N at a time (issue 16: within 1.3x). The two alternate within each round, so
a slow spell of the network hits both; each side's CPU (user+sys of it and
its children) and devshell's peak RSS (issue 16: under 100 MB) are printed
beside the wall times.

No upstream is named here: devshell finds them in this machine's pip, npm
and apt configuration, and the curl baseline asks devshell (`Upstreams.concrete`)
for the URLs of the lock's `pypi:`/`npm:`/`deb:` files. An upstream that
cannot be reached skips its column with a note instead of stopping the bench.
With --relock, `devshell lock --update` with warm HTTP caches is also timed
against a cold one (issue 4).

    .venv/bin/python bench/upstreams.py [--quick] [--rounds N] [--shells python,node] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import common
from common import (
    REPO,
    TIMEOUT,
    WORK,
    Contention,
    Report,
    Row,
    Times,
    attempt,
    bench_env,
    children_cpu,
    ensure_venv,
    hide_hosts,
    secs,
    table,
    under_time,
    wipe,
)

SHELLS = ("python", "node", "go", "web")
TARGET = 1.3  # issue 16: cold realisation within 1.3x of parallel curl + unpack
RSS_TARGET_MB = 100  # issue 16: any shell under 100 MB RSS
JOBS = 8  # curl + unpack pipelines at once in the baseline
WIDTHS = (40, 11, 14, 8, 14)

# This bench's own venv: bench/core.py rebuilds the shared one whenever
# devshell/ changes, and may run at the same time.
common.VENV = WORK / "venv-upstreams"

# Run with the bench venv's python in the project: every file the lock
# names for this platform, with the URL devshell itself would download.
_ARTIFACTS = r"""
import json, sys, time
from devshell import platforms
from devshell.sources.locate import Upstreams
import devshell.net.http, devshell.sources.npm, devshell.sources.pypi, devshell.sources.deb  # not timed
lock = json.load(open("devshell.lock"))
plat = platforms.host()
ups = Upstreams.from_cwd()
out, start = [], time.perf_counter()
def add(tool, url, size, fmt, strip):
    out.append(dict(tool=tool, url=ups.concrete(url), size=size or 0, format=fmt,
                    strip=strip if isinstance(strip, int) else 0))
for name, tool in sorted(lock["tools"].items()):
    art = tool["platforms"].get(plat)
    if art is None or "unavailable" in art:
        sys.exit(f"{name}: the lock has no artifact for {plat}")
    fmt, parts = art["unpack"]["format"], art.get("closure", [])
    if fmt == "npmtree":  # the tool's own tarball is one of its closure's
        for p in parts:
            add(name, p["url"], p.get("size"), "tgz", 1)
    elif fmt in ("deb", "pyenv"):
        kind = "deb" if fmt == "deb" else "zip"
        for p in [art, *parts]:
            add(name, p["url"], p.get("size"), kind, 0)
    else:
        add(name, art["url"], art.get("size"), fmt, art["unpack"].get("strip", 0))
print(json.dumps(dict(artifacts=out, locate=time.perf_counter() - start)))
"""

# One `devshell install --locked` in-process, with devshell's steps wrapped in
# timers: where a cold install's time goes, summed over its threads. Steps
# that have moved inside devshell are left out (the rest still prints).
_PHASES = r"""
import functools, importlib, json, time
t0 = time.perf_counter()
import devshell.cli
imported = time.perf_counter() - t0
spans = []
def wrap(path, name, label):
    try:
        owner = importlib.import_module(path)
    except ImportError:
        owner = None
    if owner is None and "." in path:  # a class: module.Class
        mod, _, cls = path.rpartition(".")
        owner = getattr(importlib.import_module(mod), cls, None)
    orig = getattr(owner, name, None)
    if orig is None:
        return
    @functools.wraps(orig)
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return orig(*args, **kwargs)
        finally:
            spans.append((label, time.perf_counter() - start))
    setattr(owner, name, timed)
steps = [("devshell.sources.locate.Upstreams", "concrete", "locate URL"),
         ("devshell.sources.pypi", "read_index", "of which index pages"),
         ("devshell.net.fetch", "fetch", "download+verify"),
         ("devshell.store.unpack", "unpack", "unpack"),
         ("devshell.debian.unpack", "unpack_debs", "unpack .debs"),
         ("devshell.debian.relocate", "relocate", "relocate"),
         ("devshell.python.bytecode", "compile_stdlib", "compile stdlib"),
         ("devshell.store", "_seal", "normalise+manifest+read-only"),
         ("devshell.store", "_normalise", "normalise"),
         ("devshell.store", "build_manifest", "manifest"),
         ("devshell.store", "_read_only", "read-only"),
         ("devshell.store.profile", "build", "profile")]
for path, name, label in steps:
    wrap(path, name, label)
start = time.perf_counter()
code = devshell.cli.main(["install", "--locked"])
out = {"wall": time.perf_counter() - start, "imports": imported, "code": code, "phases": {}}
for _, _, label in steps:
    took = [t for name, t in spans if name == label]
    if took:
        out["phases"][label] = (sum(took), len(took))
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Artifact:
    tool: str
    url: str
    size: int
    format: str
    strip: int

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1].split("?", 1)[0]


def copy_shell(name: str, dest: Path) -> Path:
    """shells/NAME's spec and lock in a fresh directory (never the work tree)."""
    proj = dest / name
    proj.mkdir(parents=True)
    for file in ("devshell.toml", "devshell.lock"):
        shutil.copy2(REPO / "shells" / name / file, proj / file)
    return proj


def artifacts(python: str, proj: Path,
              env: dict[str, str]) -> tuple[list[Artifact], float, str]:
    """Every file of the lock for this platform, with concrete URLs from
    devshell, and how long devshell took to locate them."""
    proc = subprocess.run([python, "-c", _ARTIFACTS], cwd=proj, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return [], 0.0, hide_hosts(f"devshell could not give the artifacts' URLs: {last}")
    data = json.loads(proc.stdout)
    return [Artifact(**a) for a in data["artifacts"]], data["locate"], ""


def _sh(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def _job(a: Artifact, file: Path, dest: Path) -> str:
    """`curl -o FILE URL && unpack FILE` (a zip cannot be unpacked from a pipe;
    devshell keeps every download in its cache too)."""
    curl = ["curl", "-sS", "--fail", "--location", "-o", str(file), a.url]
    if a.format == "zip":
        unpack = ["unzip", "-q", "-o", str(file), "-d", str(dest)]
    elif a.format == "deb":
        unpack = ["dpkg-deb", "-x", str(file), str(dest)]
    elif a.format == "binary":
        unpack = ["cp", str(file), str(dest)]
    else:
        flag = {"tar.xz": "-J", "tar.bz2": "-j", "tar.zst": "--zstd"}.get(a.format, "-z")
        strip = [f"--strip-components={a.strip}"] if a.strip else []
        unpack = ["tar", flag, "-xf", str(file), "-C", str(dest), *strip]
    return " ".join(map(_sh, curl)) + " && " + " ".join(map(_sh, unpack))


_TRASH: list[Path] = []


def aside(path: Path) -> None:
    """Move `path` out of the way, to be deleted after the timings (`empty_trash`):
    ext4 slows the creation of files right after a big tree is deleted (it skips
    recently freed inodes), and a timed side must not pay for the other's rm."""
    if not os.path.lexists(path):
        return
    trash = path.parent / ".bench-trash"
    trash.mkdir(exist_ok=True)
    if trash not in _TRASH:
        _TRASH.append(trash)
    os.rename(path, trash / f"{len(list(trash.iterdir()))}-{os.getpid()}-{path.name}")


def empty_trash() -> None:
    for trash in _TRASH:
        wipe(trash)
    _TRASH.clear()


def baseline(arts: Sequence[Artifact], scratch: Path, env: dict[str, str],
             jobs: int) -> tuple[float | None, str]:
    """Every file's `curl && unpack`, `jobs` at a time."""
    aside(scratch)
    scratch.mkdir(parents=True)
    commands = []
    for i, a in enumerate(arts):
        dest = scratch / f"{i}-{a.tool}"
        dest.mkdir()
        commands.append(_job(a, scratch / f"{i}-{a.filename}", dest))

    def run(command: str) -> str:
        proc = subprocess.run(["sh", "-c", command], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=TIMEOUT,
                              check=False)
        return "" if proc.returncode == 0 else (proc.stderr.decode("utf-8", "replace").strip()
                                                 or f"exit status {proc.returncode}")

    try:
        os.sync()
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            errors = [e for e in pool.map(run, commands) if e]
        elapsed = time.perf_counter() - start
        if errors:
            return None, hide_hosts(f"curl/unpack failed: {errors[0].splitlines()[-1]}")
        return elapsed, ""
    finally:
        aside(scratch)


def install(devshell: Path, proj: Path, env: dict[str, str]) -> tuple[float | None, float, str]:
    """`devshell install --locked`: (seconds or None, peak RSS in MB of it,
    why it failed), measured as `common.under_time` says."""
    used = under_time([str(devshell), "install", "--locked"], cwd=proj, env=env)
    if used.code == 0:
        return used.seconds, used.rss_mb, ""
    lines = used.stderr.splitlines()
    return None, used.rss_mb, hide_hosts(f"devshell exited with {used.code}: "
                                         f"{lines[-1] if lines else 'no message'}")


def cold_round(devshell: Path, proj: Path, home: Path, arts: Sequence[Artifact], scratch: Path,
               env: dict[str, str], times: Times, jobs: int, curl_first: bool) -> None:
    """One of each; which goes first alternates between rounds."""
    def ours() -> None:
        if "ds" in times.skipped:
            return
        aside(home)
        os.sync()
        cpu = children_cpu()
        took, rss, why = install(devshell, proj, env)
        times.add("ds", took, why)
        times.add("ds-cpu", children_cpu() - cpu if took else None, why)
        times.add("ds-rss", rss if took else None, why)

    def theirs() -> None:
        if not arts or "par" in times.skipped:
            return
        cpu = children_cpu()
        took, why = baseline(arts, scratch, env, jobs)
        times.add("par", took, why)
        times.add("par-cpu", children_cpu() - cpu if took else None, why)

    for step in ((theirs, ours) if curl_first else (ours, theirs)):
        step()


def _bodies(home: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in (home / "cache" / "http").glob("*.body")}


def relock_round(devshell: Path, proj: Path, home: Path, env: dict[str, str],
                 times: Times, revalidated: list[tuple[int, int]]) -> None:
    """`lock --update` with no cached index documents, then again with them."""
    if "lock-cold" in times.skipped:
        return
    update = [str(devshell), "lock", "--update"]
    wipe(home / "cache" / "http")
    took, why = attempt(update, cwd=proj, env=env)
    times.add("lock-cold", took, why)
    if took is None:
        return
    before = _bodies(home)
    took, why = attempt(update, cwd=proj, env=env)
    times.add("lock-warm", took, why)
    after = _bodies(home)
    # A 304 leaves the cached body alone; a 200 rewrites it.
    kept = sum(1 for p, mtime in before.items() if after.get(p) == mtime)
    revalidated.append((kept, len(after)))


def phases(python: str, proj: Path, home: Path, env: dict[str, str]) -> str:
    """One cold install in-process, timed step by step (see _PHASES)."""
    wipe(home)
    proc = subprocess.run([python, "-c", _PHASES], cwd=proj, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return hide_hosts(f"phases unavailable: {last}")
    steps = ", ".join(f"{label} {secs(total)}" + (f" ({n}x)" if n > 1 else "")
                      for label, (total, n) in data["phases"].items())
    return (f"one install in-process: {secs(data['wall'])} wall after {secs(data['imports'])} "
            f"of imports; steps summed over its threads: {steps}")


def ratio_row(figure: str, ds: float | None, base: float | None, base_label: str,
              target: str, limit: float | None, skipped: str) -> Row:
    if ds is None or base is None:
        return Row(figure, secs(ds) if ds is not None else "skipped",
                   secs(base) + base_label if base is not None else "skipped", "", target,
                   f"skipped: {skipped}" if skipped else "")
    ratio = ds / base
    verdict = "" if limit is None else ("ok" if ratio <= limit else "MISS")
    return Row(figure, secs(ds), secs(base) + base_label, f"{ratio:.2f}x", target, verdict)


def shell_rows(name: str, times: Times, revalidated: Sequence[tuple[int, int]],
               jobs: int) -> list[Row]:
    med = times.med
    why = "; ".join(dict.fromkeys(times.skipped.values()))
    rounds = ", ".join(f"{d:.2f}/{c:.2f}" for d, c in zip(times.samples.get("ds", []),
                                                          times.samples.get("par", []), strict=False))
    rows = [
        ratio_row(f"{name}: cold install vs curl+unpack", med("ds"), med("par"), "", f"<= {TARGET}x",
                  TARGET, why),
        ratio_row("  CPU user+sys", med("ds-cpu"), med("par-cpu"), "", f"({os.cpu_count()} CPUs)",
                  None, ""),
    ]
    rss = max(times.samples.get("ds-rss", []), default=None)
    if rss is not None:
        rows.append(Row("  peak RSS (max over rounds)", f"{rss:.0f} MB", "", "",
                        f"< {RSS_TARGET_MB} MB", "ok" if rss < RSS_TARGET_MB else "MISS"))
    if rounds:
        rows.append(Row(f"  rounds, devshell/curl ({jobs} at once)", "", "", "", "", rounds))
    warm, cold = med("lock-warm"), med("lock-cold")
    if warm is not None or cold is not None or "lock-cold" in times.skipped:
        lock_why = times.skipped.get("lock-cold") or times.skipped.get("lock-warm", "")
        row = ratio_row(f"{name}: lock --update warm vs cold", warm, cold, " cold",
                        "warm < cold", 1.0, lock_why)
        if revalidated and warm is not None and cold is not None:
            kept, total = revalidated[-1]
            row.verdict = (("ok" if warm < cold else "MISS") + f", {kept}/{total} docs 304" if total
                           else "n/a: nothing cached (no validators)")
        rows.append(row)
    return rows


def measure(argv: Sequence[str] | None = None) -> Report:
    """Run the bench: its report, as printed, and its table's rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round instead of 3")
    parser.add_argument("--rounds", type=int, help="rounds of each measurement (default 3)")
    parser.add_argument("--shells", default=",".join(SHELLS),
                        help=f"ready shells from shells/ (default {','.join(SHELLS)})")
    parser.add_argument("--jobs", type=int, default=JOBS,
                        help=f"curl + unpack pipelines at once in the baseline (default {JOBS})")
    parser.add_argument("--relock", action="store_true",
                        help="also time lock --update with warm and cold HTTP caches")
    parser.add_argument("--no-phases", action="store_true", help="skip the in-process breakdown")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    names = [n for n in args.shells.split(",") if n]
    missing = [t for t in ("curl", "tar", "unzip", "dpkg-deb") if shutil.which(t) is None]

    began = time.perf_counter()
    load = os.getloadavg()
    devshell = ensure_venv()
    python = str(devshell.with_name("python"))
    run_dir = Path(tempfile.mkdtemp(prefix="upstreams-", dir=WORK))
    env = bench_env(DEVSHELL_PROGRESS="0")
    rows: list[Row] = []
    notes: list[str] = []
    contention = Contention()
    try:
        for name in names:
            home = run_dir / f"home-{name}"
            proj = copy_shell(name, run_dir / "projects")
            shell_env = {**env, "DEVSHELL_HOME": str(home)}
            arts, locate_s, why = artifacts(python, proj, shell_env)
            times = Times()
            if missing:
                why = f"{', '.join(missing)} not installed"
            if why:
                arts = []
                times.skipped["par"] = why
            revalidated: list[tuple[int, int]] = []
            with contention.phase(f"{name} shell"):
                for i in range(rounds):
                    cold_round(devshell, proj, home, arts, run_dir / "scratch", shell_env, times,
                               args.jobs, curl_first=i % 2 == 1)
                skip = args.no_phases or "ds" in times.skipped
                steps = "" if skip else phases(python, proj, home, shell_env)
                for _ in range(rounds if args.relock else 0):
                    relock_round(devshell, proj, home, shell_env, times, revalidated)
            rows += shell_rows(name, times, revalidated, args.jobs)
            if arts:
                mib = sum(a.size for a in arts) / 2**20
                kinds = sorted({a.format for a in arts})
                notes.append(f"{name}: {len(arts)} files for this platform, {mib:.0f} MiB "
                             f"({', '.join(kinds)}); locating their URLs took the bench "
                             f"{secs(locate_s)} (not counted in curl's time)")
            if steps:
                notes.append(f"{name}: {steps}")
            wipe(home)
            empty_trash()  # between shells, never inside a timed round
    finally:
        empty_trash()
        wipe(run_dir)

    out: list[str] = []
    out.append(f"devshell upstreams bench: shells {', '.join(names)}; rounds {rounds}; "
          f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}; load average at start "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    out.append(table(rows, WIDTHS))
    out.append("\n".join(contention.report()))
    out.append("")
    out.append("\n".join(textwrap.fill(note, width=100, subsequent_indent="    ") for note in notes))
    out.append(f"\n(bench took {time.perf_counter() - began:.0f} s)")
    return Report("\n".join(out), rows)


def main(argv: Sequence[str] | None = None) -> int:
    print(measure(argv).text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
