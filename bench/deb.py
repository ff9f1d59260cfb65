"""Benchmark the `deb` source against apt, on the machine's Debian archive.

* Locking `"deb:git" = "latest"` (a ~50-package closure): cold, from a fresh
  $DEVSHELL_HOME (InRelease and the Packages index downloaded, git's .deb
  fetched to list its programs), and warm, `devshell lock --update` in the
  same home (index documents revalidated from cache/http when the archive
  sends validators). apt's reference: `apt-get update` into fresh private
  lists plus `apt-get install -s` of the same package from an empty dpkg
  status, then both again with the lists kept.
* Realising that lock cold: `devshell install --locked` into a fresh
  $DEVSHELL_HOME, against `apt-get download` of the same name=version list and
  `dpkg -x` of each .deb into one directory; then devshell with its download
  cache kept (unpack + relocate + manifest) against `dpkg -x` alone.

It is a script, not a test, and needs the network; if the archive cannot be
reached it says so and stops. Run it with the project's venv:

    .venv/bin/python bench/deb.py [--quick] [--rounds N]

No archive host is named here: devshell finds the archive in apt's sources (or
its own config), and apt is run with this machine's sources but private lists,
cache and status under the bench's temp dir, so the system's apt state is
neither used nor changed. devshell runs from the bench venv (a non-editable
install, see bench/common.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from common import (
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

PACKAGE = "git"
PLATFORMS = {"x86_64": "x86_64-linux", "aarch64": "aarch64-linux"}
COLD_REFERENCE_RATIO = 1.5  # bench/core.py's cold-install target, shown for reference
WIDTHS = (40, 11, 20, 8, 17)


# Run with the bench venv's python in the project: can the configured archive
# be reached? Prints nothing on success; the reason (host hidden by the caller)
# otherwise.
_REACHABLE = r"""
import sys
import requests
from devshell import config
try:
    url = config.debian_archive().url
    requests.head(url, timeout=10).raise_for_status()
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(1)
"""

# Run with the bench venv's python in the project, with a fresh $DEVSHELL_HOME:
# the steps of a lock and of a realisation one after the other, in-process,
# each timed. Leans on devshell's internals (debian_index, debian_closure,
# debunpack, relocate, store's write-path steps); if they move, the caller
# prints "breakdown unavailable" and the table still stands.
_BREAKDOWN = r"""
import json, sys, time
from pathlib import Path
from devshell import config, integrity, store
from devshell.debian import unpack as debunpack
from devshell.sources import locate
from devshell.debian import relocate
from devshell import lock as lockfile
from devshell.debian.closure import PackageIndex, closure, matching
from devshell.debian.index import HttpCache, debian_arch, default_suite, packages_index, read_release
from devshell.net.fetch import Download, fetch, fetch_all
from devshell.home import home
from devshell.sources.deb import programs

plat, package = sys.argv[1:3]
out, sizes = {}, {}
def clock(key, fn, *args):
    start = time.perf_counter()
    try:
        return fn(*args)
    finally:
        out[key] = time.perf_counter() - start

h = home()
upstream = config.debian_archive()
cache = HttpCache(h)
release = clock("release", read_release, cache, upstream.url, default_suite(), upstream.keyring)
arch = debian_arch(plat)
name = next(f"main/binary-{arch}/Packages{e}" for e in (".xz", ".gz", ".bz2", "")
            if f"main/binary-{arch}/Packages{e}" in release.files)
body = clock("index download", cache.get, f"{upstream.url}dists/{release.suite}/{name}",
             release.files[name])
# Served from the HttpCache's memory now: its sha256 check again, then decompression.
text = clock("index decompress", packages_index, cache, upstream.url, release, "main", arch)
index = clock("index split", PackageIndex, [text], arch)
root = matching(index.packages(package), "latest")
pkgs = clock("closure", closure, index, root)
deb = clock("main deb fetch", fetch, h, Download(upstream.url + root.filename,
            integrity.from_hex("sha256", root.sha256), root.size, root.label))
clock("main deb programs", programs, deb)
deb.unlink()  # so that "download all" below fetches every .deb
sizes.update(index_compressed=len(body), index_text=len(text), closure=len(pkgs),
             signed=release.verified)

tool = lockfile.load(Path("devshell.lock")).tool(package)
art = tool.artifact(plat)
parts = [(art.url, art.integrity, art.size, package)] + [
    (p.url, p.integrity, p.size, p.name) for p in art.closure]
downloads = clock("concrete URLs", lambda: [Download(locate.concrete(u), sri, size, label)
                                            for u, sri, size, label in parts])
debs = clock("download all", fetch_all, h, downloads)

def decompress_all():
    # The floor for any unpacker: each data.tar decompressed, one after another.
    import lzma, zstandard
    from debian.arfile import ArFile
    for path in debs.values():
        with open(path, "rb") as f:
            ar = ArFile(fileobj=f)
            member = next(n for n in ar.getnames() if n.startswith("data.tar"))
            data = ar.getmember(member).read()
        if member.endswith(".xz"):
            lzma.decompress(data)
        elif member.endswith(".zst"):
            zstandard.ZstdDecompressor().decompressobj().decompress(data)
clock("decompress alone", decompress_all)
h.store.mkdir(parents=True, exist_ok=True)
tmp = h.store / ".tmp-bench"
tmp.mkdir()
clock("unpack", debunpack.unpack_debs, [(debs[d.integrity], d.label) for d in downloads], tmp)
runs = []
patch = relocate._patch
def counted(tool_, top, fix):
    start = time.perf_counter()
    try:
        return patch(tool_, top, fix)
    finally:
        runs.append(time.perf_counter() - start)
relocate._patch = counted
clock("relocate", relocate.relocate, tmp, h.store / art.output,
      [entry for _, entry in art.programs()], package)
sizes.update(patchelf_runs=len(runs), patchelf_sum=sum(runs))
clock("normalise", store._normalise, tmp)
manifest = clock("manifest", store.build_manifest, tmp)
clock("read-only", store._read_only, tmp)
sizes.update(files=len(manifest["files"]))
store.remove_tree(tmp)
print(json.dumps({"times": out, "sizes": sizes}))
"""


@dataclass(frozen=True)
class Closure:
    """The lock's package and its closure, as apt names them."""

    pins: tuple[str, ...]  # name=version, the package first
    deb_bytes: int

    @property
    def names(self) -> set[str]:
        return {p.split("=", 1)[0] for p in self.pins}




# ---------------------------------------------------------------- set-up


def reachable(python: str, proj: Path, env: dict[str, str]) -> str:
    """"" when devshell's configured Debian archive answers, else why not."""
    proc = subprocess.run([python, "-c", _REACHABLE], cwd=proj, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    if proc.returncode == 0:
        return ""
    last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
    return hide_hosts(last)


def write_project(proj: Path, plat: str) -> None:
    proj.mkdir(parents=True)
    (proj / "devshell.toml").write_text(
        f'[shell]\nname = "debbench"\nplatforms = ["{plat}"]\n\n'
        f'[tools]\n"deb:{PACKAGE}" = "latest"\n')


def read_closure(proj: Path, plat: str) -> Closure:
    data = json.loads((proj / "devshell.lock").read_text())
    tool = next(t for t in data["tools"].values() if t.get("package", PACKAGE) == PACKAGE)
    art = tool["platforms"][plat]
    pins = [f"{tool['package']}={tool['version']}"]
    pins += [f"{p['name']}={p['version']}" for p in art["closure"]]
    size = art.get("size", 0) + sum(p.get("size", 0) for p in art["closure"])
    return Closure(tuple(pins), size)


def apt_options(state: Path) -> list[str]:
    """This machine's apt sources and config, but private lists, cache and an
    empty dpkg status: apt resolves as on a bare system, and the system's
    apt state is left alone."""
    opts = {
        "Dir::State::Lists": f"{state}/lists",
        "Dir::Cache": f"{state}/cache",
        "Dir::State::status": f"{state}/status",
        "Acquire::Languages": "none",  # devshell reads no Translation files either
        "Debug::NoLocking": "1",  # the private dirs need no lock; the system's are not taken
    }
    if os.geteuid() == 0:
        opts["APT::Sandbox::User"] = "root"  # _apt could not write to the bench's 0700 temp dirs
    return [arg for key, value in opts.items() for arg in ("-o", f"{key}={value}")]


def fresh_apt_state(state: Path) -> None:
    wipe(state)
    (state / "lists" / "partial").mkdir(parents=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True)
    (state / "status").touch()


def apt_resolves(state: Path, env: dict[str, str]) -> tuple[set[str], str]:
    """The packages `apt-get install -s` would install from nothing."""
    proc = subprocess.run(["apt-get", *apt_options(state), "install", "-s", "-q",
                           "--no-install-recommends", PACKAGE], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    if proc.returncode != 0:
        return set(), hide_hosts((proc.stderr.strip().splitlines() or ["no message"])[-1])
    return {line.split()[1] for line in proc.stdout.splitlines() if line.startswith("Inst ")}, ""


# ---------------------------------------------------------------- measuring


def _devshell(cmd: list[str], proj: Path, env: dict[str, str]) -> float:
    """devshell is what is measured: its failure ends the bench."""
    took, why = attempt(cmd, cwd=proj, env=env)
    if took is None:
        raise SystemExit(f"bench: {' '.join(cmd[1:])} failed: {why}")
    return took


def _apt_lock(state: Path, env: dict[str, str]) -> tuple[float | None, str]:
    """apt-get update then a simulated install: apt's equivalent of a lock."""
    update, why = attempt(["apt-get", *apt_options(state), "-q", "update"], env=env)
    if update is None:
        return None, why
    resolve, why = attempt(["apt-get", *apt_options(state), "install", "-s", "-q",
                            "--no-install-recommends", PACKAGE], env=env)
    return (update + resolve, "") if resolve is not None else (None, why)


def lock_round(devshell: Path, proj: Path, home: Path, state: Path, env: dict[str, str],
               times: Times, apt: bool) -> None:
    wipe(home)
    (proj / "devshell.lock").unlink(missing_ok=True)
    os.sync()
    times.add("lock-cold", _devshell([str(devshell), "lock"], proj, env))
    os.sync()
    times.add("lock-warm", _devshell([str(devshell), "lock", "--update"], proj, env))
    if not apt or "apt-cold" in times.skipped:
        return
    fresh_apt_state(state)
    os.sync()
    took, why = _apt_lock(state, env)
    times.add("apt-cold", took, why)
    if took is not None:
        os.sync()
        took, why = _apt_lock(state, env)
        times.add("apt-warm", took, why)


def dpkg_x(debs: Sequence[Path], dest: Path, jobs: int) -> float:
    """`dpkg -x` of every .deb into `dest`, `jobs` at a time (1: in order)."""
    wipe(dest)
    dest.mkdir(parents=True)
    os.sync()

    def one(deb: Path) -> int:
        return wait_exact(subprocess.Popen(["dpkg", "-x", str(deb), str(dest)],
                                           stdin=subprocess.DEVNULL))

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        codes = list(pool.map(one, debs))
    elapsed = time.perf_counter() - start
    if any(codes):
        raise SystemExit(f"bench: dpkg -x failed: exit codes {sorted(set(codes))}")
    return elapsed


def tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def realise_round(devshell: Path, proj: Path, home: Path, state: Path, scratch: Path,
                  env: dict[str, str], pins: Sequence[str], times: Times, apt: bool) -> int:
    """One of each, interleaved, so a slow spell of the network hits both.
    Returns the bytes dpkg -x wrote (0 without apt)."""
    install = [str(devshell), "install", "--locked"]
    wipe(home)
    os.sync()
    cpu = children_cpu()
    times.add("ds", _devshell(install, proj, env))
    times.add("ds-cpu", children_cpu() - cpu)
    for part in os.listdir(home):  # keep the download cache only
        if part != "cache":
            wipe(home / part)
    os.sync()
    cpu = children_cpu()
    times.add("ds-cached", _devshell(install, proj, env))
    times.add("ds-cached-cpu", children_cpu() - cpu)
    if not apt or "apt" in times.skipped or "apt-cold" in times.skipped:
        return 0
    downloads = scratch / "debs"
    wipe(downloads)
    downloads.mkdir(parents=True)
    os.sync()
    cpu = children_cpu()
    took, why = attempt(["apt-get", *apt_options(state), "-q", "download", *pins],
                        cwd=downloads, env=env)
    times.add("apt-dl", took, why)
    if took is None:
        times.skipped["apt"] = why
        return 0
    debs = sorted(downloads.glob("*.deb"))
    if len(debs) != len(pins):
        times.skipped["apt"] = f"apt-get download gave {len(debs)} .debs for {len(pins)} pins"
        return 0
    unpacked = scratch / "root"
    times.add("dpkg-x", dpkg_x(debs, unpacked, 1))
    times.add("apt-cpu", children_cpu() - cpu)
    written = tree_bytes(unpacked)
    times.add("dpkg-x-par", dpkg_x(debs, unpacked, os.cpu_count() or 1))
    times.add("apt", (times.samples["apt-dl"][-1] + times.samples["dpkg-x"][-1]))
    wipe(scratch)
    return written


def breakdown(python: str, proj: Path, env: dict[str, str], plat: str) -> list[str]:
    """Where a lock and a realisation spend their time, step by step, in-process."""
    proc = subprocess.run([python, "-c", _BREAKDOWN, plat, PACKAGE], cwd=proj, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return [hide_hosts(f"breakdown unavailable: {last}")]
    t, s = data["times"], data["sizes"]
    lock_sum = sum(t[k] for k in ("release", "index download", "index decompress", "index split",
                                  "closure", "main deb fetch", "main deb programs"))
    real_sum = sum(t[k] for k in ("concrete URLs", "download all", "unpack", "relocate",
                                  "normalise", "manifest", "read-only"))
    signed = "signature checked" if s["signed"] else "signature NOT checked"

    def line(label: str, seconds: float, note: str = "") -> str:
        return f"  {label} {'.' * max(2, 26 - len(label))} {secs(seconds)}" + (
            f"   ({note})" if note else "")

    return [
        f"lock, step by step (in-process, cold; {secs(lock_sum)} in all):",
        line("InRelease + gpgv", t["release"], signed),
        line("Packages index download", t["index download"],
             f"{s['index_compressed'] / 2**20:.1f} MiB, sha256 checked"),
        line("decompress", t["index decompress"], f"{s['index_text'] / 2**20:.0f} MiB of text"),
        line("split into stanzas", t["index split"]),
        line("closure", t["closure"],
             f"{s['closure']} packages, parsing only the stanzas it visits"),
        line(f"{PACKAGE}'s .deb fetch", t["main deb fetch"],
             "to list its programs; kept for realising"),
        line("list its programs", t["main deb programs"], "decompresses its data.tar"),
        f"realise, step by step (in-process, cold downloads; {secs(real_sum)} in all):",
        line("deb: URLs made concrete", t["concrete URLs"]),
        line("download all (4 at once)", t["download all"], "hash while streaming, fsync"),
        line("unpack_debs", t["unpack"], f"decompress, check, write; {s['files']} entries"),
        line("relocate", t["relocate"],
             f"{s['patchelf_runs']} patchelf runs, {secs(s['patchelf_sum'])} summed over threads"),
        line("normalise + read-only", t["normalise"] + t["read-only"]),
        line("manifest (sha256 files)", t["manifest"]),
        line("data.tar decompression", t["decompress alone"],
             "alone, one after another; not in the sum: what any unpacker pays"),
    ]


# ---------------------------------------------------------------- report


def ratio_row(figure: str, ds: float | None, base: float | None, base_label: str,
              target: str, limit: float | None, skipped: str = "") -> Row:
    if ds is None or base is None:
        return Row(figure, secs(ds) if ds is not None else "skipped",
                   secs(base) + base_label if base is not None else "skipped", "", target,
                   f"skipped: {skipped}" if skipped else "")
    ratio = ds / base
    verdict = "" if limit is None else ("ok" if ratio <= limit else "over")
    return Row(figure, secs(ds), secs(base) + base_label, f"{ratio:.2f}x", target, verdict)


def rows(times: Times, rounds: int) -> list[Row]:
    med = times.med
    apt_why = "; ".join(dict.fromkeys(times.skipped.values()))
    ref = f"(ref. <= {COLD_REFERENCE_RATIO}x)"
    out = [
        ratio_row("lock cold vs apt update + resolve", med("lock-cold"), med("apt-cold"), " apt",
                  "(apt: all suites)", None, apt_why),
        ratio_row("lock warm (--update) vs apt again", med("lock-warm"), med("apt-warm"), " apt",
                  "(apt: all suites)", None, apt_why),
        ratio_row("  warm vs cold lock", med("lock-warm"), med("lock-cold"), " cold",
                  "warm < cold", 1.0),
        ratio_row("realise cold vs apt-get download+dpkg -x", med("ds"), med("apt"), "", ref,
                  COLD_REFERENCE_RATIO, apt_why),
        ratio_row("  downloads cached vs dpkg -x only", med("ds-cached"), med("dpkg-x"),
                  " dpkg -x", "(local work)", None, apt_why),
        ratio_row(f"  downloads cached vs dpkg -x {os.cpu_count()} at once", med("ds-cached"),
                  med("dpkg-x-par"), " par", "(local work)", None, apt_why),
    ]
    ds, cached, dl = med("ds"), med("ds-cached"), med("apt-dl")
    if ds is not None and cached is not None:
        out.append(Row("  download part (cold - cached)", secs(ds - cached),
                       secs(dl) + " apt-get" if dl is not None else "",
                       f"{(ds - cached) / dl:.2f}x" if dl else "", "(network)", f"n={rounds}"))
    out.append(ratio_row("  CPU user+sys, cold", med("ds-cpu"), med("apt-cpu"), "",
                         f"({os.cpu_count()} CPUs)", None, apt_why))
    return out


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round instead of 3")
    parser.add_argument("--rounds", type=int, help="rounds of each measurement (default 3)")
    args = parser.parse_args(argv)
    rounds = max(1, args.rounds or (1 if args.quick else 3))
    plat = PLATFORMS.get(platform.machine())
    if plat is None or not sys.platform.startswith("linux"):
        print(f"bench: skipped: the deb source runs on {', '.join(PLATFORMS.values())}, "
              f"not {platform.machine()} {sys.platform}")
        return 0
    missing = [t for t in ("apt-get", "dpkg") if shutil.which(t) is None]

    began = time.perf_counter()
    devshell = ensure_venv()
    python = str(devshell.with_name("python"))
    run_dir = Path(tempfile.mkdtemp(prefix="deb-", dir=WORK))
    proj, home, state = run_dir / "proj", run_dir / "home", run_dir / "apt"
    env = bench_env(DEVSHELL_HOME=str(home), DEVSHELL_PLATFORM=plat, DEVSHELL_PROGRESS="0")
    times = Times()
    if missing:
        times.skipped["apt"] = times.skipped["apt-cold"] = f"{', '.join(missing)} not installed"
    apt = not missing
    notes: list[str] = []
    contention = Contention()
    written = 0
    try:
        write_project(proj, plat)
        why = reachable(python, proj, env)
        if why:
            print(f"bench: skipped: the Debian archive devshell is configured for cannot be "
                  f"reached ({why})")
            return 0
        with contention.phase("locks"):
            for _ in range(rounds):
                lock_round(devshell, proj, home, state, env, times, apt)
        bodies = list((home / "cache" / "http").glob("*.body"))
        closure = read_closure(proj, plat)
        if apt and "apt-cold" not in times.skipped:
            resolved, why = apt_resolves(state, env)
            if resolved:
                notes.append(f"apt would install {len(resolved)} packages from nothing; the "
                             f"lock holds {len(closure.pins)}, {len(resolved & closure.names)} "
                             "of them the same")
            else:
                notes.append(f"apt's resolution could not be read: {why}")
        with contention.phase("realisations"):
            for _ in range(rounds):
                written = max(written, realise_round(devshell, proj, home, state,
                                                     run_dir / "scratch", env,
                                                     closure.pins, times, apt))
        wipe(home)
        notes += breakdown(python, proj, env, plat)
    finally:
        wipe(run_dir)

    if bodies:
        notes.insert(0, f"warm lock: cache/http kept {len(bodies)} index documents after the "
                     "cold lock; --update revalidates them (304 when unchanged)")
    else:
        notes.insert(0, "warm lock: the archive sent no ETag or Last-Modified, so cache/http kept "
                     "nothing and --update downloads InRelease and the Packages index again")
    unpacked = f", {written / 2**20:.0f} MiB unpacked" if written else ""
    print(f"devshell deb bench: deb:{PACKAGE} on {plat}, {len(closure.pins)} packages, "
          f"{closure.deb_bytes / 2**20:.1f} MiB of .debs{unpacked}; rounds {rounds}; "
          f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    print(table(rows(times, rounds), WIDTHS))
    print("\n".join(contention.report()))
    print()
    print("\n".join(notes))
    print(f"\n(bench took {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
