"""Benchmark devshell's two costs that users feel, side by side with baselines.

* The hot path: `devshell run -- true` and `devshell env` once a project is
  realised, against `/bin/true` (and `python -c pass` as a reference). Target
  (DESIGN.md, "The hot path"): under 25 ms of overhead over the bare command.
* A cold install (issue 16): `devshell install` of three ~40 MB tools from an
  empty $DEVSHELL_HOME, once per archive format (tar.gz, tar.xz, tar.zst,
  zip), against three `curl | tar -x` pipelines at once (three `curl -o` +
  `unzip` at once for zip), interleaved round by round. Target: at most
  1.15x the baseline, and under 100 MB peak RSS for devshell.

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
import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import zstandard
from common import (
    TIME,
    TIMEOUT,
    WORK,
    Contention,
    Report,
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
    under_time,
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
FORMATS = ("tar.gz", "tar.xz", "tar.zst", "zip")
ARCHIVE_RECIPE = f"v2-{PAYLOAD_BYTES}-{BLOCK}-{RANDOM_PART}-{SEED}"
HOT_TARGET_MS = 25.0
COLD_TARGET_RATIO = 1.15
RSS_TARGET_MB = 100.0
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


def _members(name: str, seed: int) -> list[tuple[str, bytes | None, int]]:
    """tool-1.0/, its directories, bin/<name> and share/<name>/data.bin."""
    top = f"{name}-{VERSION}"
    return [
        *((d, None, 0o755) for d in (top, f"{top}/bin", f"{top}/share", f"{top}/share/{name}")),
        (f"{top}/bin/{name}", f"#!/bin/sh\necho {name} {VERSION}\n".encode(), 0o755),
        (f"{top}/share/{name}/data.bin", _payload(random.Random(seed), PAYLOAD_BYTES), 0o644),
    ]


def _tar(members: list[tuple[str, bytes | None, int]]) -> bytes:
    """An uncompressed tar, fixed mtimes and owners: the same bytes every run."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path, data, mode in members:
            info = tarfile.TarInfo(path)
            info.mode, info.mtime = mode, 1
            if data is None:
                info.type = tarfile.DIRTYPE
            else:
                info.size = len(data)
            tar.addfile(info, None if data is None else io.BytesIO(data))
    return raw.getvalue()


def _zip(members: list[tuple[str, bytes | None, int]]) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path, data, mode in members:
            info = zipfile.ZipInfo(path + ("/" if data is None else ""), (1980, 1, 1, 0, 0, 0))
            info.create_system, info.compress_type = 3, zipfile.ZIP_DEFLATED
            info.external_attr = ((0o040000 if data is None else 0o100000) | mode) << 16
            zf.writestr(info, data or b"")
    return raw.getvalue()


def _compress(members: list[tuple[str, bytes | None, int]], fmt: str) -> bytes:
    """The archive as a release would ship it: gzip -6, xz -6, zstd -3, zip deflate -6."""
    if fmt == "zip":
        return _zip(members)
    raw = _tar(members)
    if fmt == "tar.gz":
        return gzip.compress(raw, 6, mtime=0)
    if fmt == "tar.xz":
        return lzma.compress(raw, preset=6)
    if fmt == "tar.bz2":
        return bz2.compress(raw, 9)
    return zstandard.ZstdCompressor(level=3).compress(raw)


@dataclass(frozen=True)
class Archive:
    tool: str
    path: Path
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def fmt(self) -> str:
        return next(f for f in (*FORMATS, "tar.bz2") if self.filename.endswith("." + f))


def ensure_archives(fmt: str = "tar.gz") -> list[Archive]:
    """The three archives in format `fmt`, generated once per recipe (every
    format from the same members) and kept in /tmp."""
    folder = WORK / f"archives-{ARCHIVE_RECIPE}"
    index = folder / f"index-{fmt}.json"
    if index.is_file():
        entries = json.loads(index.read_text())
        found = [Archive(e["tool"], folder / e["file"], e["sha256"], e["size"]) for e in entries]
        if all(a.path.is_file() and a.path.stat().st_size == a.size for a in found):
            return found
    print(f"bench: generating {len(TOOLS)} {fmt} archives in {folder}…", file=sys.stderr)
    for old in WORK.glob("archives-*"):  # other recipes' leftovers
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    archives = []
    for i, tool in enumerate(TOOLS):
        body = _compress(_members(tool, SEED + i), fmt)
        path = folder / f"{tool}-{VERSION}-{PLATFORM}.{fmt}"
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
        f'{a.tool} = {{ version = "{VERSION}", url = "{base_url}/{a.tool}-{{version}}-{{platform}}.{a.fmt}", '
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


_UNPACK = {"tar.gz": ["-z"], "tar.xz": ["-J"], "tar.zst": ["--zstd"], "tar.bz2": ["-j"]}
_BASELINE = {"tar.gz": "curl|tar -xz", "tar.xz": "curl|tar -xJ", "tar.zst": "curl|tar --zstd",
             "zip": "curl+unzip"}


def measured(cmd: Sequence[str], **kw: object) -> tuple[float, float, float]:
    """Wall-clock seconds, CPU seconds (user + system) and peak RSS in MB of
    one run of `cmd` (which must succeed)."""
    used = under_time(cmd, **kw)
    if used.code != 0:
        check(cmd, **kw)
        raise SystemExit(f"bench: {' '.join(cmd)} failed ({used.code})")
    return used.seconds, used.cpu, used.rss_mb


def baseline(base_url: str, archives: Sequence[Archive], scratch: Path) -> tuple[float, float]:
    """Every archive fetched and unpacked at once, as a shell user would:
    `curl | tar -x` pipelines (tar runs the decompressor as a third process),
    or `curl -o` then `unzip` for zip. (seconds, CPU seconds)."""
    wipe(scratch)
    scratch.mkdir(parents=True)
    for a in archives:
        (scratch / a.tool).mkdir()
    os.sync()
    cpu = children_cpu()
    start = time.perf_counter()
    procs = []
    curl = ["curl", "-sS", "--fail", "--noproxy", "127.0.0.1"]
    for a in archives:
        url, dest = f"{base_url}/{a.filename}", str(scratch / a.tool)
        if a.fmt == "zip":
            script = f'{" ".join(curl)} -o "$1" "$2" && unzip -q "$1" -d "$3"'
            procs.append(subprocess.Popen(["sh", "-c", script, "sh", str(scratch / a.filename), url, dest]))
            continue
        fetch = subprocess.Popen([*curl, url], stdout=subprocess.PIPE)
        tar = subprocess.Popen(["tar", *_UNPACK[a.fmt], "-xf", "-", "-C", dest], stdin=fetch.stdout)
        assert fetch.stdout is not None
        fetch.stdout.close()  # tar holds the pipe now
        procs += [fetch, tar]
    codes = [wait_exact(p) for p in procs]
    elapsed = time.perf_counter() - start
    if any(codes):
        raise SystemExit(f"bench: a baseline pipeline failed: exit codes {codes}")
    used = children_cpu() - cpu
    wipe(scratch)
    return elapsed, used


@dataclass
class Cold:
    """Per format, per round: devshell's (seconds, CPU, RSS MB) and the baseline's (seconds, CPU)."""

    ds: dict[str, list[tuple[float, float, float]]]
    base: dict[str, list[tuple[float, float]]]


def cold_installs(devshell: Path, projects: dict[str, Path], env: dict[str, str], home: Path,
                  base_url: str, archives: dict[str, list[Archive]], scratch: Path,
                  rounds: int) -> Cold:
    """Each round, each format: devshell's cold install and the baseline, the
    order alternating between rounds so drift hits both alike."""
    install = [str(devshell), "install", "--locked"]
    cold = Cold({f: [] for f in projects}, {f: [] for f in projects})
    for r in range(rounds):
        for fmt, proj in projects.items():
            steps = ["ds", "base"] if r % 2 == 0 else ["base", "ds"]
            for step in steps:
                if step == "ds":
                    wipe(home)
                    os.sync()  # no step pays for the write-back of the one before it
                    cold.ds[fmt].append(measured(install, cwd=proj, env=env))
                else:
                    cold.base[fmt].append(baseline(base_url, archives[fmt], scratch))
    wipe(home)
    return cold


def cold_rows(cold: Cold) -> list[Row]:
    rows = []
    for fmt in cold.ds:
        ds = [statistics.median(x[i] for x in cold.ds[fmt]) for i in range(3)]
        base = [statistics.median(x[i] for x in cold.base[fmt]) for i in range(2)]
        ratio = ds[0] / base[0]
        rss_max = max(x[2] for x in cold.ds[fmt])
        rows += [
            Row(f"cold install {fmt} vs {_BASELINE[fmt]}", secs(ds[0]), secs(base[0]), f"{ratio:.2f}x",
                f"<= {COLD_TARGET_RATIO}x", "ok" if ratio <= COLD_TARGET_RATIO else "MISS"),
            Row("  CPU user+sys", secs(ds[1]), secs(base[1]), f"{ds[1] / base[1]:.2f}x",
                f"({os.cpu_count()} CPUs)", ""),
            Row("  devshell peak RSS (max)", f"{rss_max:.0f} MB", "", "", f"< {RSS_TARGET_MB:.0f} MB",
                "ok" if rss_max < RSS_TARGET_MB else "MISS"),
        ]
    return rows


def cold_samples(cold: Cold) -> list[str]:
    lines = ["cold rounds (s), devshell / baseline:"]
    for fmt in cold.ds:
        ds = ", ".join(f"{x[0]:.2f}" for x in cold.ds[fmt])
        base = ", ".join(f"{x[0]:.2f}" for x in cold.base[fmt])
        lines.append(f"  {fmt:8} {ds}  /  {base}")
    return lines


_BREAKDOWN = r"""
import json, sys, time, tempfile, shutil, zipfile
from pathlib import Path
from devshell.store import build_manifest, digests
from devshell.store.streams import decompressed
from devshell.store.unpack import unpack
out = {}
for arg in sys.argv[1:]:
    fmt, path = arg.split("=", 1)
    archive = Path(path)
    t = time.perf_counter()
    if fmt == "zip":
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                with zf.open(info) as f:
                    while f.read(1 << 20):
                        pass
    else:
        with archive.open("rb") as raw:
            stream = decompressed(raw, fmt)
            while stream.read(1 << 20):
                pass
    decode = time.perf_counter() - t
    dest = Path(tempfile.mkdtemp(dir="."))
    try:
        t = time.perf_counter()
        known = digests.Digests()
        unpack(archive, fmt, dest, hashes=known)
        whole = time.perf_counter() - t
        t = time.perf_counter()
        build_manifest(dest, known)
        noted = time.perf_counter() - t
        t = time.perf_counter()
        build_manifest(dest)
        rehash = time.perf_counter() - t
    finally:
        shutil.rmtree(dest)
    out[fmt] = dict(decode=decode, unpack=whole, noted=noted, rehash=rehash)
print(json.dumps(out))
"""


def breakdown(devshell: Path, archives: dict[str, list[Archive]], scratch: Path) -> list[str]:
    """Where unpacking one archive goes, per format, in-process with devshell's
    own modules (devshell.store.unpack.unpack, devshell.store.streams,
    devshell.store.build_manifest and digests; if they move, this part says
    "breakdown unavailable" and the table still prints)."""
    scratch.mkdir(parents=True, exist_ok=True)
    python = str(devshell.with_name("python"))
    proc = subprocess.run([python, "-c", _BREAKDOWN, *(f"{f}={a[0].path}" for f, a in archives.items())],
                          capture_output=True, text=True, timeout=TIMEOUT, check=False, cwd=scratch)
    if proc.returncode != 0:
        return [f"breakdown unavailable: {proc.stderr.strip().splitlines()[-1:]}"]
    data = json.loads(proc.stdout)
    lines = ["unpacking one archive (44 MiB out), in-process, one thread:",
             "  format    decode only   unpack()   manifest: hashes noted / re-read"]
    for fmt, v in data.items():
        lines.append(f"  {fmt:8} {secs(v['decode']):>12} {secs(v['unpack']):>10}   "
                     f"{secs(v['noted'])} / {secs(v['rehash'])}")
    return lines


# ---------------------------------------------------------------- main


def measure(argv: Sequence[str] | None = None) -> Report:
    """Run the bench: its report, as printed, and its table's rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 hot runs, 1 cold round")
    parser.add_argument("--runs", type=int, help="hot-path runs per command (default 40)")
    parser.add_argument("--rounds", type=int, help="cold-install rounds per format (default 3)")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help=f"archive formats for the cold installs (default {','.join(FORMATS)})")
    args = parser.parse_args(argv)
    runs = args.runs or (10 if args.quick else 40)
    rounds = args.rounds or (1 if args.quick else 3)
    formats = [f for f in args.formats.split(",") if f]
    if not formats or any(f not in (*FORMATS, "tar.bz2") for f in formats):
        parser.error(f"--formats takes a comma-separated list of {', '.join((*FORMATS, 'tar.bz2'))}")
    needed = {"curl", "tar", TIME, *(("unzip",) if "zip" in formats else ()),
              *(("xz",) if "tar.xz" in formats else ()), *(("zstd",) if "tar.zst" in formats else ())}
    for tool in sorted(needed):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} is needed for the baseline")

    began = time.perf_counter()
    devshell = ensure_venv()
    archives = {fmt: ensure_archives(fmt) for fmt in formats}
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=WORK))
    home, scratch = run_dir / "home", run_dir / "scratch"
    projects = {fmt: run_dir / f"proj-{fmt}" for fmt in formats}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVSHELL_", "VIRTUAL_ENV"))}
    env.pop("CI", None)
    env.update(DEVSHELL_HOME=str(home), DEVSHELL_PLATFORM=PLATFORM, DEVSHELL_PROGRESS="0",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    rows: list[Row] = []
    notes: list[str] = []
    contention = Contention()
    try:
        with serve(WORK / f"archives-{ARCHIVE_RECIPE}") as base_url:
            for fmt, proj in projects.items():
                write_project(proj, base_url, archives[fmt])
                check([str(devshell), "lock"], cwd=proj, env=env)
                check([str(devshell), "install", "--locked"], cwd=proj, env=env)  # warm-up
            hot_proj = projects[formats[0]]
            with contention.phase("hot path"):
                rows += hot_path(devshell, hot_proj, env, runs)
            notes += hot_imports(devshell, hot_proj, env)
            with contention.phase("cold installs"):
                cold = cold_installs(devshell, projects, env, home, base_url, archives, scratch, rounds)
            rows += cold_rows(cold)
            notes += cold_samples(cold)
        notes += breakdown(devshell, archives, scratch)
    finally:
        wipe(run_dir)

    mib = sum(a.size for a in archives[formats[0]]) / 2**20
    out: list[str] = []
    out.append(f"devshell bench: {len(TOOLS)} tools of {PAYLOAD_BYTES / 2**20:.0f} MiB unpacked each "
          f"({mib:.0f} MiB as {formats[0]}); hot runs {runs}, cold rounds {rounds} per format; "
          f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}; load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    out.append(table(rows, widths=(40, 10, 16, 7, 12)))
    out.append("\n".join(contention.report()))
    out.append("")
    out.append("\n".join(notes))
    out.append(f"\n(bench took {time.perf_counter() - began:.0f} s)")
    return Report("\n".join(out), rows)


def main(argv: Sequence[str] | None = None) -> int:
    print(measure(argv).text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
