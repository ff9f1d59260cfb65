"""Benchmark a no-op `devshell lock`: nothing changed, so nothing is asked.

A project on the four default platforms with several binary tool wheels,
served from a loopback package index the bench builds, is locked once; then
the index is switched to answer every request with 503 and counts them, and
`devshell lock` runs again and again beside two baselines in the same run:
`devshell --version` (devshell's start-up alone) and `python -c pass`. Every
no-op lock must leave devshell.lock byte for byte as it was and send the
index zero requests; either failing stops the bench. For reference, one row
times `lock --update` (every tool asked again) against the live index.

    .venv/bin/python bench/lock.py [--quick] [--runs N] [--tools N]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import (
    WORK,
    Contention,
    Row,
    bench_env,
    check,
    ensure_venv,
    ms,
    p90,
    table,
    timed,
    wipe,
)

PLATFORMS = ("x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin")
TAGS = ("manylinux_2_17_x86_64", "manylinux_2_17_aarch64", "macosx_10_12_x86_64", "macosx_11_0_arm64")
VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
TARGET = 1.0  # seconds: "well under a second"


@dataclass
class Index:
    """What the loopback index serves (path → (body, content type)), how many
    requests it answered, and whether it fails every one of them."""

    routes: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: int = 0
    failing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def build_index(tools: int) -> Index:
    """`tools` projects, each with VERSIONS x four platform wheels whose
    program is in `.data/scripts/`, listed as PEP 691 JSON."""
    index = Index()
    for n in range(tools):
        project = f"benchtool{n}"
        files = []
        for version in VERSIONS:
            for tag in TAGS:
                name, body = _wheel(project, version, tag)
                index.routes[f"/files/{name}"] = (body, "application/octet-stream")
                files.append({"filename": name, "url": f"/files/{name}", "size": len(body),
                              "hashes": {"sha256": hashlib.sha256(body).hexdigest()}})
        page = json.dumps({"meta": {"api-version": "1.1"}, "name": project, "files": files})
        index.routes[f"/simple/{project}/"] = (page.encode(), "application/vnd.pypi.simple.v1+json")
    return index


def _wheel(project: str, version: str, tag: str) -> tuple[str, bytes]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo(f"{project}-{version}.data/scripts/{project}")
        info.external_attr = 0o100755 << 16
        z.writestr(info, f'#!/bin/sh\necho "{project} {version}"\n')
        z.writestr(f"{project}-{version}.dist-info/METADATA", f"Name: {project}\nVersion: {version}\n")
    return f"{project}-{version}-py3-none-{tag}.whl", buf.getvalue()


@contextmanager
def serve(index: Index) -> Iterator[str]:
    """The index on 127.0.0.1 (only) until the block ends; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            with index.lock:
                index.requests += 1
            route = index.routes.get(self.path.split("?", 1)[0])
            status, body, kind = (503, b"failing\n", "text/plain") if index.failing else (
                (404, b"no\n", "text/plain") if route is None else (200, *route))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def write_project(proj: Path, tools: int) -> None:
    """Four platforms, `tools` tools at a prefix that the newest version
    would satisfy too: a lock that re-resolved would show it."""
    proj.mkdir(parents=True)
    plats = ", ".join(f'"{p}"' for p in PLATFORMS)
    entries = "".join(f'"pypi:benchtool{n}" = "1"\n' for n in range(tools))
    (proj / "devshell.toml").write_text(f'[shell]\nname = "bench"\nplatforms = [{plats}]\n\n[tools]\n{entries}')


@dataclass
class Samples:
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)

    def med(self, key: str) -> float:
        return statistics.median(self.values[key])

    def p90(self, key: str) -> float:
        return p90(self.values[key])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 runs per command")
    parser.add_argument("--runs", type=int, help="runs per command (default 20)")
    parser.add_argument("--tools", type=int, default=6, help="tools in the spec (default 6)")
    args = parser.parse_args(argv)
    runs = args.runs or (5 if args.quick else 20)

    began = time.perf_counter()
    devshell = ensure_venv()
    python = str(devshell.with_name("python"))
    run_dir = Path(tempfile.mkdtemp(prefix="lock-", dir=WORK))
    home, proj = run_dir / "home", run_dir / "proj"
    index = build_index(args.tools)
    rows: list[Row] = []
    notes: list[str] = []
    contention = Contention()
    try:
        with serve(index) as base_url:
            env = bench_env(DEVSHELL_HOME=str(home), DEVSHELL_PLATFORM="x86_64-linux",
                            DEVSHELL_HTTP_RETRIES="0", DEVSHELL_PROGRESS="0",
                            PIP_INDEX_URL=f"{base_url}/simple/", XDG_CONFIG_HOME=str(run_dir / "config"),
                            NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
            write_project(proj, args.tools)
            check([str(devshell), "lock"], cwd=proj, env=env)
            locked = (proj / "devshell.lock").read_bytes()
            versions = {t["version"] for t in json.loads(locked)["tools"].values()}

            samples = Samples()
            index.failing, index.requests = True, 0
            with contention.phase("no-op locks"):
                for _ in range(2):  # warm-ups: page cache, .pyc files
                    timed([str(devshell), "lock"], cwd=proj, env=env)
                for _ in range(runs):
                    samples.add("lock", timed([str(devshell), "lock"], cwd=proj, env=env))
                    samples.add("version", timed([str(devshell), "--version"], cwd=proj, env=env))
                    samples.add("python", timed([python, "-c", "pass"], cwd=proj, env=env))
            asked = index.requests
            if asked:
                raise SystemExit(f"bench: the no-op lock sent the index {asked} requests")
            if (proj / "devshell.lock").read_bytes() != locked:
                raise SystemExit("bench: the no-op lock changed devshell.lock")

            index.failing = False
            update = []
            with contention.phase("lock --update"):
                for _ in range(max(1, runs // 5)):
                    index.requests = 0
                    update.append(timed([str(devshell), "lock", "--update"], cwd=proj, env=env))
            update_requests = index.requests
    finally:
        wipe(run_dir)

    lock_med = samples.med("lock")
    for key, label, short in (("version", "devshell --version", "--version"),
                              ("python", "python -c pass", "python")):
        base = samples.med(key)
        verdict = ("ok" if lock_med < TARGET else "MISS") + f" +{ms(lock_med - base)}"
        rows.append(Row(f"no-op lock vs {label}", ms(lock_med), f"{ms(base)} {short}",
                        f"{lock_med / base:.1f}x", f"< {TARGET:.0f} s", verdict))
    rows.append(Row("  p90", ms(samples.p90("lock")), f"{ms(samples.p90('version'))} --version", "", "", ""))
    rows.append(Row("lock --update (every tool asked)", ms(statistics.median(update)),
                    "", "", "(reference)", f"{update_requests} requests"))
    notes.append(f"no-op locks: {runs + 2} runs, 0 requests to the index (it answered 503 to any), "
                 f"devshell.lock unchanged (versions {', '.join(sorted(versions))})")
    print(f"devshell lock bench: {args.tools} tools x {len(PLATFORMS)} platforms; runs {runs}; "
          f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    print(table(rows, widths=(36, 11, 18, 8, 12)))
    print("\n".join(contention.report()))
    print()
    print("\n".join(notes))
    print(f"\n(bench took {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
