"""Benchmark devshell's two costs that users feel, side by side with baselines.

* The hot path: `devshell run -- true` and `devshell env` once a project is
  realised, against `/bin/true` (and `python -c pass` as a reference). Target
  (DESIGN.md, "The hot path"): under 25 ms of overhead over the bare command.
* A cold install: `devshell install` of three ~40 MB tar.gz tools from an empty
  $DEVSHELL_HOME, against `curl` + `tar -xzf` of the same files, one after the
  other and three at once. Target: at most 1.5x the baseline.

It is a script, not a test: it prints one table (and a short breakdown of where
a cold install spends its time). Run it with the project's venv:

    .venv/bin/python bench/core.py [--quick]

devshell is measured as a user gets it: a NON-editable `pip install` of this
repository into /tmp/devshell-bench/venv (rebuilt when the sources change),
its console script, a throwaway $DEVSHELL_HOME, and archives served by a
ThreadingHTTPServer on 127.0.0.1 only. Archives are generated deterministically
(random.Random with a fixed seed) and kept in /tmp/devshell-bench/ between runs.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import (
    TIMEOUT,
    WORK,
    Contention,
    Row,
    check,
    children_cpu,
    ensure_venv,
    hot_imports,
    ms,
    p90,
    secs,
    serve,
    table,
    timed,
    wait_exact,
    wipe,
)

PLATFORM = "x86_64-linux"
TOOLS = ("tool1", "tool2", "tool3")
VERSION = "1.0"
PAYLOAD_BYTES = 44 * 1024 * 1024  # per tool; gzip (level 6) takes it to ~40 MB
BLOCK = 64 * 1024
RANDOM_PART = 48 * 1024  # of each block: incompressible; the rest is text
SEED = 20240611
ARCHIVE_RECIPE = f"v1-{PAYLOAD_BYTES}-{BLOCK}-{RANDOM_PART}-{SEED}"
HOT_TARGET_MS = 25.0
COLD_TARGET_RATIO = 1.5


# ---------------------------------------------------------------- set-up


def _payload(rng: random.Random, size: int) -> bytes:
    """Blocks of random bytes followed by text lines from a small vocabulary:
    roughly how a binary with string tables compresses under gzip."""
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(3, 10)))
             for _ in range(300)]
    lines = [f"{rng.choice(words)}.{rng.choice(words)} = "
             + " ".join(rng.choice(words) for _ in range(rng.randint(2, 9)))
             + f" # {rng.randrange(10**6)}\n" for _ in range(6000)]
    pool = "".join(lines).encode()
    text_part = BLOCK - RANDOM_PART
    out = io.BytesIO()
    while out.tell() < size:
        out.write(rng.randbytes(RANDOM_PART))
        start = rng.randrange(len(pool) - text_part)
        out.write(pool[start:start + text_part])
    return out.getvalue()[:size]


def _archive(name: str, seed: int) -> bytes:
    """tool-1.0/bin/<name> and tool-1.0/share/<name>/data.bin, gzip level 6,
    fixed mtimes and owners: the same bytes on every run."""
    top = f"{name}-{VERSION}"
    members = [
        (f"{top}/bin/{name}", f"#!/bin/sh\necho {name} {VERSION}\n".encode(), 0o755),
        (f"{top}/share/{name}/data.bin", _payload(random.Random(seed), PAYLOAD_BYTES), 0o644),
    ]
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for dirname in (top, f"{top}/bin", f"{top}/share", f"{top}/share/{name}"):
            info = tarfile.TarInfo(dirname)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1
            tar.addfile(info)
        for path, data, mode in members:
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, 1
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


@dataclass(frozen=True)
class Archive:
    tool: str
    path: Path
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        return self.path.name


def ensure_archives() -> list[Archive]:
    """The three archives, generated once per recipe and kept in /tmp."""
    folder = WORK / f"archives-{ARCHIVE_RECIPE}"
    index = folder / "index.json"
    if index.is_file():
        entries = json.loads(index.read_text())
        found = [Archive(e["tool"], folder / e["file"], e["sha256"], e["size"]) for e in entries]
        if all(a.path.is_file() and a.path.stat().st_size == a.size for a in found):
            return found
    print(f"bench: generating {len(TOOLS)} archives in {folder}…", file=sys.stderr)
    for old in WORK.glob("archives-*"):  # other recipes' leftovers
        shutil.rmtree(old, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    archives = []
    for i, tool in enumerate(TOOLS):
        body = _archive(tool, SEED + i)
        path = folder / f"{tool}-{VERSION}-{PLATFORM}.tar.gz"
        tmp = path.with_suffix(".part")
        tmp.write_bytes(body)
        tmp.replace(path)
        archives.append(Archive(tool, path, hashlib.sha256(body).hexdigest(), len(body)))
    index.write_text(json.dumps([{"tool": a.tool, "file": a.filename, "sha256": a.sha256,
                                  "size": a.size} for a in archives], indent=2) + "\n")
    return archives


def write_project(root: Path, base_url: str, archives: Sequence[Archive]) -> None:
    root.mkdir(parents=True)
    tools = "".join(
        f'{a.tool} = {{ version = "{VERSION}", url = "{base_url}/{a.tool}-{{version}}-{{platform}}.tar.gz", '
        f'sha256 = {{ "{PLATFORM}" = "{a.sha256}" }}, bin = ["bin/{a.tool}"] }}\n'
        for a in archives)
    (root / "devshell.toml").write_text(
        f'[shell]\nname = "bench"\nplatforms = ["{PLATFORM}"]\nhost-tools = ["true"]\n\n'
        f"[tools]\n{tools}")


# ---------------------------------------------------------------- measuring


def hot_path(devshell: Path, proj: Path, env: dict[str, str], runs: int) -> list[Row]:
    """Interleaved runs of each command, so drift hits all of them alike."""
    python = str(devshell.with_name("python"))
    no_hot = {**env, "DEVSHELL_NO_HOT": "1"}
    cases: dict[str, tuple[list[str], dict[str, str], int]] = {
        "run": ([str(devshell), "run", "--", "true"], env, runs),
        "env": ([str(devshell), "env"], env, runs),
        "true": (["/bin/true"], env, runs),
        "python": ([python, "-c", "pass"], env, runs),
        "cold-run": ([str(devshell), "run", "--", "true"], no_hot, max(3, runs // 4)),
    }
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for cmd, case_env, _ in cases.values():  # warm-up: page cache, .pyc files
        for _ in range(3):
            timed(cmd, cwd=proj, env=case_env)
    for i in range(runs):
        for key, (cmd, case_env, count) in cases.items():
            if i < count:
                samples[key].append(timed(cmd, cwd=proj, env=case_env))
    med = {k: statistics.median(v) for k, v in samples.items()}
    rows = []
    for key, label in (("run", "hot run -- true"), ("env", "hot env")):
        over = med[key] - med["true"]
        ok = "ok" if over * 1000 < HOT_TARGET_MS else "MISS"
        rows.append(Row(f"{label} (median)", ms(med[key]), ms(med["true"]) + " true",
                        f"{med[key] / med['true']:.1f}x", f"overhead < {HOT_TARGET_MS:.0f} ms",
                        f"+{over * 1000:.1f} ms {ok}"))
        rows.append(Row(f"{label} (p90)", ms(p90(samples[key])), ms(p90(samples["true"])) + " true",
                        "", "", f"+{(p90(samples[key]) - p90(samples['true'])) * 1000:.1f} ms"))
    rows.append(Row("hot run -- true vs python", ms(med["run"]), ms(med["python"]) + " python",
                    f"{med['run'] / med['python']:.2f}x", "(reference)",
                    f"+{(med['run'] - med['python']) * 1000:.1f} ms"))
    rows.append(Row("run -- true, no record (median)", ms(med["cold-run"]),
                    ms(med["true"]) + " true", f"{med['cold-run'] / med['true']:.0f}x",
                    "(full pipeline)", f"n={len(samples['cold-run'])}"))
    return rows


def _curl(url: str, out: Path) -> list[str]:
    return ["curl", "-sS", "--fail", "--noproxy", "127.0.0.1", "-o", str(out), url]


def baseline_sequential(base_url: str, archives: Sequence[Archive], scratch: Path) -> tuple[float, float]:
    """curl each file, then tar -xzf each, one after the other: (download, unpack) s."""
    wipe(scratch)
    scratch.mkdir(parents=True)
    download = unpack = 0.0
    for a in archives:
        file = scratch / a.filename
        os.sync()
        download += timed(_curl(f"{base_url}/{a.filename}", file))
        dest = scratch / a.tool
        dest.mkdir()
        os.sync()
        unpack += timed(["tar", "-xzf", str(file), "-C", str(dest)])
    wipe(scratch)
    return download, unpack


def baseline_parallel(base_url: str, archives: Sequence[Archive], scratch: Path) -> float:
    """Three `curl | tar -xzf -` pipelines at once."""
    wipe(scratch)
    scratch.mkdir(parents=True)
    for a in archives:
        (scratch / a.tool).mkdir()
    os.sync()
    start = time.perf_counter()
    procs = []
    for a in archives:
        curl = subprocess.Popen(["curl", "-sS", "--fail", "--noproxy", "127.0.0.1",
                                 f"{base_url}/{a.filename}"], stdout=subprocess.PIPE)
        tar = subprocess.Popen(["tar", "-xzf", "-", "-C", str(scratch / a.tool)], stdin=curl.stdout)
        assert curl.stdout is not None
        curl.stdout.close()  # tar holds the pipe now
        procs += [curl, tar]
    codes = [wait_exact(p) for p in procs]
    elapsed = time.perf_counter() - start
    if any(codes):
        raise SystemExit(f"bench: a curl | tar pipeline failed: exit codes {codes}")
    wipe(scratch)
    return elapsed


def cold_install(devshell: Path, proj: Path, env: dict[str, str], home: Path, base_url: str,
                 archives: Sequence[Archive], scratch: Path, rounds: int) -> list[Row]:
    install = [str(devshell), "install", "--locked"]
    keys = ("ds", "ds-cached", "seq", "seq-dl", "seq-tar", "par", "ds-cpu", "par-cpu")
    times: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(rounds):
        wipe(home)
        os.sync()  # no step pays for the write-back of the one before it
        cpu = children_cpu()
        times["ds"].append(timed(install, cwd=proj, env=env))
        times["ds-cpu"].append(children_cpu() - cpu)
        # Same again with the downloads kept: unpack + manifest + profile only.
        for part in os.listdir(home):
            if part != "cache":
                wipe(home / part)
        os.sync()
        times["ds-cached"].append(timed(install, cwd=proj, env=env))
        dl, tar = baseline_sequential(base_url, archives, scratch)
        times["seq-dl"].append(dl)
        times["seq-tar"].append(tar)
        times["seq"].append(dl + tar)
        cpu = children_cpu()
        times["par"].append(baseline_parallel(base_url, archives, scratch))
        times["par-cpu"].append(children_cpu() - cpu)
    med = {k: statistics.median(v) for k, v in times.items()}

    def verdict(ratio: float) -> str:
        return "ok" if ratio <= COLD_TARGET_RATIO else "MISS"

    target = f"<= {COLD_TARGET_RATIO}x"
    seq, par = med["ds"] / med["seq"], med["ds"] / med["par"]
    cached = med["ds-cached"] / med["seq-tar"]
    cpu = med["ds-cpu"] / med["par-cpu"]
    return [
        Row("cold install vs curl+tar seq", secs(med["ds"]), secs(med["seq"]), f"{seq:.2f}x",
            target, verdict(seq)),
        Row("cold install vs curl|tar par", secs(med["ds"]), secs(med["par"]), f"{par:.2f}x",
            target, verdict(par)),
        Row("  of which: downloads cached", secs(med["ds-cached"]), secs(med["seq-tar"]) + " tar seq",
            f"{cached:.2f}x", "(unpack part)", ""),
        Row("  curl alone (3 files, seq)", "", secs(med["seq-dl"]), "", "", f"n={rounds}"),
        Row("  CPU user+sys vs curl|tar par", secs(med["ds-cpu"]), secs(med["par-cpu"]),
            f"{cpu:.2f}x", f"({os.cpu_count()} CPUs)", ""),
    ]


_BREAKDOWN = r"""
import json, sys, tarfile, time, zlib, tempfile, shutil, hashlib
from pathlib import Path
from devshell.store.unpack import unpack
from devshell.store import build_manifest
out = {}
for arg in sys.argv[1:]:
    archive = Path(arg)
    t = time.perf_counter()
    d = zlib.decompressobj(wbits=31)
    with archive.open("rb") as f:
        while chunk := f.read(1 << 20):
            d.decompress(chunk)
    inflate = time.perf_counter() - t
    t = time.perf_counter()
    with archive.open("rb") as f, tarfile.open(fileobj=f, mode="r|gz") as tar:
        for _ in tar:
            pass
    check = time.perf_counter() - t
    t = time.perf_counter()
    h = hashlib.sha256()
    with archive.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    sha = time.perf_counter() - t
    dest = Path(tempfile.mkdtemp(dir="."))
    try:
        t = time.perf_counter()
        unpack(archive, "tar.gz", dest)
        whole = time.perf_counter() - t
        t = time.perf_counter()
        build_manifest(dest)
        manifest = time.perf_counter() - t
    finally:
        shutil.rmtree(dest)
    out[archive.name] = dict(inflate=inflate, check=check, unpack=whole, manifest=manifest, sha256=sha)
print(json.dumps(out))
"""


def breakdown(devshell: Path, archives: Sequence[Archive], scratch: Path) -> list[str]:
    """Where a cold install's unpacking goes, one archive at a time, in-process
    with devshell's own modules (so this part leans on devshell.store.unpack.unpack and
    devshell.store.build_manifest staying importable)."""
    scratch.mkdir(parents=True, exist_ok=True)
    python = str(devshell.with_name("python"))
    proc = subprocess.run([python, "-c", _BREAKDOWN, *(str(a.path) for a in archives)],
                          capture_output=True, text=True, timeout=TIMEOUT, check=False,
                          cwd=scratch)
    if proc.returncode != 0:
        return [f"breakdown unavailable: {proc.stderr.strip().splitlines()[-1:]}"]
    data = json.loads(proc.stdout)
    total = {k: sum(v[k] for v in data.values()) for k in next(iter(data.values()))}
    return [
        "cold install breakdown (3 archives, one at a time, summed):",
        f"  zlib inflate only ........ {secs(total['inflate'])}",
        f"  tarfile check pass ....... {secs(total['check'])}   (read 1 of 2: decompress, list members)",
        f"  devshell unpack() ........ {secs(total['unpack'])}   (check pass + write pass)",
        f"    of which the 2nd read .. {secs(total['unpack'] - total['check'])}   (write pass)",
        f"  manifest (sha256 files) .. {secs(total['manifest'])}",
        f"  sha256 of the archives ... {secs(total['sha256'])}   (done while downloading)",
    ]


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 hot runs, 1 cold round")
    parser.add_argument("--runs", type=int, help="hot-path runs per command (default 40)")
    parser.add_argument("--rounds", type=int, help="cold-install rounds (default 3)")
    args = parser.parse_args(argv)
    runs = args.runs or (10 if args.quick else 40)
    rounds = args.rounds or (1 if args.quick else 3)
    for tool in ("curl", "tar"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} is needed for the baseline")

    began = time.perf_counter()
    devshell = ensure_venv()
    archives = ensure_archives()
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=WORK))
    home, proj, scratch = run_dir / "home", run_dir / "proj", run_dir / "scratch"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVSHELL_", "VIRTUAL_ENV"))}
    env.pop("CI", None)
    env.update(DEVSHELL_HOME=str(home), DEVSHELL_PLATFORM=PLATFORM, DEVSHELL_PROGRESS="0",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    rows: list[Row] = []
    notes: list[str] = []
    contention = Contention()
    try:
        with serve(archives[0].path.parent) as base_url:
            write_project(proj, base_url, archives)
            check([str(devshell), "lock"], cwd=proj, env=env)
            check([str(devshell), "install", "--locked"], cwd=proj, env=env)
            with contention.phase("hot path"):
                rows += hot_path(devshell, proj, env, runs)
            notes += hot_imports(devshell, proj, env)
            with contention.phase("cold install"):
                rows += cold_install(devshell, proj, env, home, base_url, archives, scratch,
                                     rounds)
        notes += breakdown(devshell, archives, scratch)
    finally:
        wipe(run_dir)

    mib = sum(a.size for a in archives) / 2**20
    print(f"devshell bench: {len(archives)} archives, {mib:.0f} MiB gzip "
          f"({len(archives) * PAYLOAD_BYTES / 2**20:.0f} MiB unpacked); hot runs {runs}, "
          f"cold rounds {rounds}; {os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    print(table(rows))
    print("\n".join(contention.report()))
    print()
    print("\n".join(notes))
    print(f"\n(bench took {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
