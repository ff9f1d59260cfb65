"""Benchmark devshell against the real upstreams, side by side with curl.

* Cold realisation of the `node` and `python` ready shells (shells/NAME, with
  their real locks): `devshell install --locked` into an empty $DEVSHELL_HOME,
  against the same artifacts for this machine's platform fetched with `curl`
  and unpacked with `unzip -q` (wheels) or `tar -xzf` (npm tarballs), one
  after the other and all at once.
* A re-lock: `devshell lock --update` with warm HTTP caches (index documents
  kept under $DEVSHELL_HOME/cache/http with their ETag/Last-Modified, so the
  upstream answers 304) against a cold one (cache/http removed).

No upstream is named here: devshell finds them in this machine's pip and npm
configuration, and the curl baseline asks devshell (`locate.concrete`) for the
URLs of the lock's `pypi:`/`npm:` artifacts. An upstream that cannot be
reached skips its column with a note instead of stopping the bench.

    .venv/bin/python bench/upstreams.py [--quick] [--rounds N] [--shells node,python]
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
from dataclasses import dataclass
from pathlib import Path

from common import (
    REPO,
    TIMEOUT,
    WORK,
    Contention,
    Row,
    Times,
    attempt,
    bench_env,
    children_cpu,
    ensure_venv,
    hide_hosts,
    secs,
    table,
    wait_exact,
    wipe,
)

SHELLS = ("node", "python")
COLD_REFERENCE_RATIO = 1.5  # bench/core.py's cold-install target, shown for reference
WIDTHS = (38, 11, 16, 8, 20)

# Run with the bench venv's python in the project: each artifact of the lock
# for this platform, with the URL devshell itself would download.
_ARTIFACTS = r"""
import json, sys, time
from devshell import platforms
from devshell.sources import locate
import devshell.http, devshell.sources.npm, devshell.sources.pypi  # not part of the lookups
lock = json.load(open("devshell.lock"))
plat = platforms.host()
out, start = [], time.perf_counter()
for name, tool in sorted(lock["tools"].items()):
    art = tool["platforms"].get(plat)
    if art is None or "unavailable" in art:
        sys.exit(f"{name}: the lock has no artifact for {plat}")
    strip = art["unpack"].get("strip", 0)
    out.append(dict(tool=name, url=locate.concrete(art["url"]), size=art.get("size") or 0,
                    format=art["unpack"]["format"], strip=strip if isinstance(strip, int) else 0))
print(json.dumps(dict(artifacts=out, locate=time.perf_counter() - start)))
"""

# The index documents a re-lock reads (one per pypi project / npm package of
# the lock), asked for the way devshell asks: does the upstream send ETag or
# Last-Modified? Without them there is nothing to revalidate, and a warm
# re-lock downloads every document again.
_VALIDATORS = r"""
import json
from packaging.utils import canonicalize_name
from devshell import config
from devshell.net import http
from devshell.sources import npm, pypi
lock = json.load(open("devshell.lock"))
urls = set()
for tool in lock["tools"].values():
    for art in tool["platforms"].values():
        url = art.get("url", "")
        if url.startswith("pypi:"):
            project = url[len("pypi:"):].split("/", 1)[0]
            urls.add((config.pypi_index().url + canonicalize_name(project) + "/", pypi._ACCEPT))
        elif url.startswith("npm:"):
            package = url[len("npm:"):].split("/-/", 1)[0]
            urls.add((npm.document_url(config.npm_registry().url, package), npm.ACCEPT))
found = []
for url, accept in sorted(urls):
    try:
        headers = http.get(url, headers={"Accept": accept}).headers
    except Exception as exc:
        found.append(dict(ok=False, why=str(exc).splitlines()[0]))
        continue
    found.append(dict(ok=True, etag=bool(headers.get("ETag")),
                      modified=bool(headers.get("Last-Modified"))))
print(json.dumps(found))
"""


# One `devshell install --locked` in-process, with devshell's steps wrapped in
# timers: where a cold install's wall time goes. Steps that have moved inside
# devshell are left out (the rest still prints).
_PHASES = r"""
import functools, json, sys, threading, time
t0 = time.perf_counter()
import devshell.cli
from devshell import config, store
from devshell.net import fetch
from devshell.sources import locate
from devshell.store import profile
from devshell.store import unpack
imported = time.perf_counter() - t0
spans = []
def wrap(module, name, label):
    orig = getattr(module, name, None)
    if orig is None:
        return
    @functools.wraps(orig)
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return orig(*args, **kwargs)
        finally:
            spans.append((label, time.perf_counter() - start))
    setattr(module, name, timed)
steps = [(locate, "concrete", "locate URL"), (config, "_npm_default", "of which npm config"),
         (fetch, "fetch", "download+verify"), (unpack, "unpack", "unpack"),
         (store, "_normalise", "normalise"), (store, "build_manifest", "manifest"),
         (store, "_read_only", "read-only"), (profile, "build", "profile")]
order = [label for _, _, label in steps]
for module, name, label in steps:
    wrap(module, name, label)
start = time.perf_counter()
code = devshell.cli.main(["install", "--locked"])
out = {"wall": time.perf_counter() - start, "imports": imported, "code": code, "phases": {}}
for label in order:
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
    """The lock's artifacts for this platform, with concrete URLs from devshell,
    and how long devshell took to locate them (the index pages it reads)."""
    proc = subprocess.run([python, "-c", _ARTIFACTS], cwd=proj, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return [], 0.0, hide_hosts(f"devshell could not give the artifacts' URLs: {last}")
    data = json.loads(proc.stdout)
    return [Artifact(**a) for a in data["artifacts"]], data["locate"], ""


def validators(python: str, proj: Path, env: dict[str, str]) -> str:
    """One line: how many of the lock's index documents carry HTTP validators."""
    proc = subprocess.run([python, "-c", _VALIDATORS], cwd=proj, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return hide_hosts(f"validator probe failed: {last}")
    docs = json.loads(proc.stdout)
    answered = [d for d in docs if d["ok"]]
    tagged = sum(1 for d in answered if d["etag"] or d["modified"])
    line = (f"{len(answered)} index documents probed: {tagged} with ETag or Last-Modified, "
            f"{len(answered) - tagged} with neither")
    failed = [d["why"] for d in docs if not d["ok"]]
    if failed:
        line += hide_hosts(f"; {len(failed)} unreachable ({failed[0]})")
    return line


def _curl(a: Artifact, out: Path) -> list[str]:
    return ["curl", "-sS", "--fail", "--location", "-o", str(out), a.url]


def _unpack(a: Artifact, file: Path, dest: Path) -> list[str]:
    if a.format == "zip":
        return ["unzip", "-q", "-o", str(file), "-d", str(dest)]
    flag = {"tgz": "-xzf", "tar.gz": "-xzf", "tar.xz": "-xJf", "tar.bz2": "-xjf"}.get(a.format, "-xf")
    strip = [f"--strip-components={a.strip}"] if a.strip else []
    return ["tar", flag, str(file), "-C", str(dest), *strip]


def baseline_sequential(arts: Sequence[Artifact], scratch: Path,
                        env: dict[str, str]) -> tuple[float | None, float | None, str]:
    """curl then unpack each artifact in turn: (download s, unpack s, why not)."""
    wipe(scratch)
    scratch.mkdir(parents=True)
    download = unpack = 0.0
    try:
        for i, a in enumerate(arts):
            file, dest = scratch / f"{i}-{a.filename}", scratch / f"{i}-{a.tool}"
            dest.mkdir()
            os.sync()
            took, why = attempt(_curl(a, file), env=env)
            if took is None:
                return None, None, why
            download += took
            os.sync()
            took, why = attempt(_unpack(a, file, dest), env=env)
            if took is None:
                return download, None, why
            unpack += took
        return download, unpack, ""
    finally:
        wipe(scratch)


def baseline_parallel(arts: Sequence[Artifact], scratch: Path,
                      env: dict[str, str]) -> tuple[float | None, str]:
    """`curl -o F && unpack F` for every artifact at once (devshell fetches and
    unpacks in parallel too; a zip cannot be unpacked from a pipe)."""
    wipe(scratch)
    scratch.mkdir(parents=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        jobs = []
        for i, a in enumerate(arts):
            file, dest = scratch / f"{i}-{a.filename}", scratch / f"{i}-{a.tool}"
            dest.mkdir()
            jobs.append(" ".join(map(_sh, _curl(a, file))) + " && "
                        + " ".join(map(_sh, _unpack(a, file, dest))))
        os.sync()
        start = time.perf_counter()
        procs += [subprocess.Popen(["sh", "-c", job], env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                  for job in jobs]
        codes = [wait_exact(p) for p in procs]
        elapsed = time.perf_counter() - start
        if any(codes):
            errors = [p.stderr.read().decode("utf-8", "replace").strip()  # type: ignore[union-attr]
                      for p in procs]
            why = next((e.splitlines()[-1] for e in errors if e), f"exit codes {codes}")
            return None, hide_hosts(f"curl/unpack failed: {why}")
        return elapsed, ""
    finally:
        for p in procs:
            if p.stderr:
                p.stderr.close()
        wipe(scratch)


def _sh(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def cold_round(devshell: Path, proj: Path, home: Path, arts: Sequence[Artifact],
               scratch: Path, env: dict[str, str], times: Times) -> None:
    """One of each, interleaved, so a slow spell of the network hits both."""
    if "ds" not in times.skipped:
        wipe(home)
        os.sync()
        cpu = children_cpu()
        took, why = attempt([str(devshell), "install", "--locked"], cwd=proj, env=env)
        times.add("ds", took, why)
        times.add("ds-cpu", children_cpu() - cpu if took else None, why)
    if not arts or "seq" in times.skipped:
        return
    dl, unpack, why = baseline_sequential(arts, scratch, env)
    times.add("seq-dl", dl, why)
    times.add("seq-unpack", unpack, why)
    times.add("seq", dl + unpack if dl is not None and unpack is not None else None, why)
    if "seq" in times.skipped:
        return
    cpu = children_cpu()
    took, why = baseline_parallel(arts, scratch, env)
    times.add("par", took, why)
    times.add("par-cpu", children_cpu() - cpu if took else None, why)


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
    verdict = "" if limit is None else ("ok" if ratio <= limit else "over")
    return Row(figure, secs(ds), secs(base) + base_label, f"{ratio:.2f}x", target, verdict)


def shell_rows(name: str, arts: Sequence[Artifact], times: Times,
               revalidated: Sequence[tuple[int, int]]) -> list[Row]:
    med = times.med
    why = "; ".join(dict.fromkeys(times.skipped.values()))
    ref = f"(ref. <= {COLD_REFERENCE_RATIO}x)"
    n = len(times.samples.get("ds", []))
    rows = [
        ratio_row(f"{name}: cold install vs curl+unpack seq", med("ds"), med("seq"), "", ref,
                  COLD_REFERENCE_RATIO, why),
        ratio_row(f"{name}: cold install vs curl+unpack par", med("ds"), med("par"), "", ref,
                  COLD_REFERENCE_RATIO, why),
    ]
    if med("seq-dl") is not None and med("seq-unpack") is not None:
        rows.append(Row("  curl alone, seq", "", secs(med("seq-dl") or 0.0), "", "",
                        f"n={n}"))
        rows.append(Row("  unzip/tar alone, seq", "", secs(med("seq-unpack") or 0.0), "", "", ""))
    if med("ds-cpu") is not None and med("par-cpu") is not None:
        rows.append(ratio_row("  CPU user+sys vs curl+unpack par", med("ds-cpu"), med("par-cpu"),
                              "", f"({os.cpu_count()} CPUs)", None, ""))
    warm, cold = med("lock-warm"), med("lock-cold")
    lock_why = times.skipped.get("lock-cold") or times.skipped.get("lock-warm", "")
    row = ratio_row(f"{name}: lock --update warm vs cold", warm, cold, " cold",
                    "warm < cold", 1.0, lock_why)
    if revalidated and warm is not None and cold is not None:
        kept, total = revalidated[-1]
        row.verdict = (("ok" if warm < cold else "MISS") + f", {kept}/{total} docs 304" if total
                       else "n/a: nothing cached (no validators)")
    rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round instead of 3")
    parser.add_argument("--rounds", type=int, help="rounds of each measurement (default 3)")
    parser.add_argument("--shells", default=",".join(SHELLS),
                        help=f"ready shells from shells/ (default {','.join(SHELLS)})")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    names = [n for n in args.shells.split(",") if n]
    missing = [t for t in ("curl", "tar", "unzip") if shutil.which(t) is None]

    began = time.perf_counter()
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
                times.skipped["seq"] = times.skipped["par"] = why
            revalidated: list[tuple[int, int]] = []
            with contention.phase(f"{name} shell"):
                for _ in range(rounds):
                    cold_round(devshell, proj, home, arts, run_dir / "scratch", shell_env, times)
                # Before the re-locks, which may move the lock to newer versions.
                steps = phases(python, proj, home, shell_env) if "ds" not in times.skipped else ""
                for _ in range(rounds):
                    relock_round(devshell, proj, home, shell_env, times, revalidated)
            rows += shell_rows(name, arts, times, revalidated)
            if arts:
                mib = sum(a.size for a in arts) / 2**20
                kinds = sorted({a.format for a in arts})
                notes.append(f"{name}: {len(arts)} artifacts for this platform, {mib:.0f} MiB "
                             f"({', '.join(kinds)}); devshell locates their URLs in "
                             f"{secs(locate_s)} (part of its install, not of curl's)")
            if steps:
                notes.append(f"{name}: {steps}")
            if "lock-cold" not in times.skipped:
                notes.append(f"{name}: re-lock: {validators(python, proj, shell_env)}")
            moved = (proj / "devshell.lock").read_bytes() != \
                (REPO / "shells" / name / "devshell.lock").read_bytes()
            if moved and "lock-cold" not in times.skipped:
                notes.append(f"{name}: lock --update moved versions (shells/{name}/devshell.lock "
                             "is behind the upstream); both re-locks resolve the same")
            wipe(home)
    finally:
        wipe(run_dir)

    print(f"devshell upstreams bench: shells {', '.join(names)}; rounds {rounds}; "
          f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    print(table(rows, WIDTHS))
    print("\n".join(contention.report()))
    print()
    notes.append("devshell's cold install asks the Python package index for each wheel's URL "
                 "(the lock names pypi: files, not hosts); curl is given the URLs beforehand.")
    print("\n".join(textwrap.fill(note, width=100, subsequent_indent="    ") for note in notes))
    print(f"\n(bench took {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
