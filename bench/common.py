"""What the benchmarks in bench/ share: the bench venv, a loopback server,
exact timing of child processes, statistics, a table, and the "machine busy"
report. Each bench script is run as a file (`python bench/NAME.py`), so this
module is imported as `common`.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = Path(tempfile.gettempdir()) / "devshell-bench"
VENV = WORK / "venv"
TIMEOUT = 300  # seconds, for any one command
TIME = "/usr/bin/time"  # GNU time (Debian package `time`): CPU and peak RSS of one command


# ---------------------------------------------------------------- set-up


def _source_files() -> list[Path]:
    """What `pip install` builds from: the package, its metadata and readme."""
    files = [REPO / "pyproject.toml", REPO / "README.md", REPO / "bin" / "devshell"]
    files += sorted(p for p in (REPO / "devshell").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts)
    return files


def _source_stamp(python: str) -> str:
    h = hashlib.sha256(python.encode())
    for path in _source_files():
        h.update(str(path.relative_to(REPO)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def ensure_venv() -> Path:
    """/tmp/devshell-bench/venv with devshell pip-installed (not editable);
    reused while the sources it was built from are unchanged."""
    python = getattr(sys, "_base_executable", None) or shutil.which("python3") or "python3"
    stamp = _source_stamp(python)
    stamp_file = VENV / ".bench-stamp"
    devshell = VENV / "bin" / "devshell"
    if devshell.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return devshell
    print(f"bench: building {VENV} (pip install {REPO}, not editable)…", file=sys.stderr)
    shutil.rmtree(VENV, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(VENV)], check=True, timeout=TIMEOUT)
    # Build from a copy, so setuptools' build/ and egg-info never land in the repo.
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        src = Path(tmp) / "src"
        for path in _source_files():
            dest = src / path.relative_to(REPO)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        check([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", str(src)])
    stamp_file.write_text(stamp)
    return devshell


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 (only) until the block ends; yield the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def wipe(path: Path) -> None:
    """rm -rf, including the store's read-only directories."""
    if not path.exists():
        return
    for dirpath, _, _ in os.walk(path):
        os.chmod(dirpath, 0o755)
    shutil.rmtree(path)


# ---------------------------------------------------------------- measuring


def check(cmd: Sequence[str], **kw: object) -> None:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=TIMEOUT, check=False, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")


def wait_exact(proc: subprocess.Popen[bytes], timeout: float = TIMEOUT) -> int:
    """Wait for `proc` and wake the moment it exits; kill it after `timeout`.

    Not `Popen.wait(timeout=…)`: that polls with doubling sleeps (0.5, 1, 2,
    4, 8, 16 ms…), which rounds a 12 ms process up to 15.5 ms and a 20 ms one
    to 31.5 ms. A pidfd becomes readable exactly when the child exits."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux ≥ 5.3: a watchdog thread instead
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            return proc.wait()
        finally:
            timer.cancel()
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(timeout * 1000):
            proc.kill()
    finally:
        os.close(pidfd)
    return proc.wait()


@dataclass
class Usage:
    """One run under GNU time: its exit code, seconds, CPU seconds (user +
    system) and peak RSS in MB, and the tail of what it wrote to stderr."""

    code: int
    seconds: float
    cpu: float
    rss_mb: float
    stderr: str


def under_time(cmd: Sequence[str], **kw: object) -> Usage:
    """Run `cmd` under GNU time, stdout discarded. GNU time reports CPU and
    RSS: a child forked from the bench would carry the bench's own
    high-water mark (the kernel keeps it across exec), so `os.wait4` here
    would not do. The command runs in a session of its own, killed whole
    after TIMEOUT (killing GNU time alone would leave it running)."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r", prefix="time-", dir=WORK) as report:
        start = time.perf_counter()
        proc = subprocess.Popen([TIME, "-f", "%U %S %M", "-o", report.name, *cmd],
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True, **kw)  # type: ignore[call-overload]
        try:
            code = wait_exact(proc)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        elapsed = time.perf_counter() - start
        fields = report.read().split()[-3:]
        err.seek(0)
        said = err.read().decode("utf-8", "replace").strip()
    user, system, rss_kib = fields if len(fields) == 3 and fields[2].isdigit() else ("0", "0", "0")
    return Usage(code, elapsed, float(user) + float(system), int(rss_kib) / 1024, said)


def timed(cmd: Sequence[str], **kw: object) -> float:
    """Wall-clock seconds of one run, start to exit, all output discarded; a
    non-zero exit stops the bench (after re-running the command to show why)."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    code = wait_exact(proc)
    elapsed = time.perf_counter() - start
    if code != 0:
        check(cmd, **kw)
        raise SystemExit(f"bench: {' '.join(cmd)} failed ({code})")
    return elapsed


def attempt(cmd: Sequence[str], **kw: object) -> tuple[float | None, str]:
    """Like `timed`, but a failure is an answer, not the end of the bench:
    (seconds, "") or (None, why). For commands that need the real network,
    where a bench skips a column instead of stopping. stderr goes to a file
    (read only on failure), stdout is discarded."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=err,
                                stdin=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
        code = wait_exact(proc)
        elapsed = time.perf_counter() - start
        if code == 0:
            return elapsed, ""
        err.seek(0)
        lines = err.read().decode("utf-8", "replace").strip().splitlines()
    why = lines[-1].strip() if lines else "no message"
    return None, hide_hosts(f"{Path(cmd[0]).name} exited with {code}: {why}")


def hide_hosts(text: str) -> str:
    """`text` with every URL's host replaced: bench output is pasted into
    bench/README.md, and devshell's sources never name an upstream host."""
    return re.sub(r"\b([a-z][a-z0-9+.-]*)://[^/\s'\"]+", r"\1://<host>", text)


def bench_env(**extra: str) -> dict[str, str]:
    """This process's environment minus devshell's own settings, a venv and
    CI (which would make every command --locked), plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEVSHELL_", "VIRTUAL_ENV"))}
    env.pop("CI", None)
    env.update(extra)
    return env


def children_cpu() -> float:
    """User + system CPU seconds of all waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Contention:
    """CPU that processes other than this bench and its children used during a
    phase (from /proc/stat), in CPUs: on a shared machine it inflates every
    figure, so the report says how much there was."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, float]] = []

    @staticmethod
    def _busy() -> float | None:
        try:
            fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        except (OSError, ValueError):
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        busy, own, start = self._busy(), self._own(), time.perf_counter()
        yield
        after = self._busy()
        if busy is not None and after is not None:
            others = (after - busy) - (self._own() - own)
            self.phases.append((name, max(0.0, others) / (time.perf_counter() - start)))

    def report(self) -> list[str]:
        if not self.phases:
            return []
        used = ", ".join(f"{cpus:.2f} during the {name}" for name, cpus in self.phases)
        lines = [f"other processes used (in CPUs, of {os.cpu_count()}): {used}"]
        if max(cpus for _, cpus in self.phases) > 0.15:
            lines.append("warning: other work shared the CPUs, so these figures are "
                         "inflated; compare ratios, or run again when the machine is idle")
        return lines


def p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


@dataclass
class Row:
    figure: str
    devshell: str
    baseline: str
    ratio: str
    target: str
    verdict: str = ""


@dataclass
class Report:
    """What one bench prints, and the rows of its table (bench/cold.py sums them up)."""

    text: str
    rows: list[Row]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def hot_imports(devshell: Path, proj: Path, env: dict[str, str]) -> list[str]:
    """What the hot path imports (python -X importtime), heaviest first."""
    python = str(devshell.with_name("python"))
    proc = subprocess.run([python, "-X", "importtime", str(devshell), "run", "--", "true"],
                          cwd=proj, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)
    top: list[tuple[int, str]] = []
    names = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|", 2)
        names.append(name.strip())
        if len(name) - len(name.lstrip()) == 1:  # " " + "  " per nesting level
            top.append((int(cumulative), name.strip()))
    top.sort(reverse=True)
    heavy = ", ".join(f"{n} {us / 1000:.1f}" for us, n in top[:6])
    lines = [f"hot path: {len(names)} modules imported (python -X importtime; ms cumulative,"
             f" inflated by the tracing): {heavy}"]
    if "re" in names:
        lines.append("  re: imported by pip's generated console-script wrapper, before devshell")
    leaks = [n for n in ("argparse", "json", "tomllib", "requests") if n in names]
    if leaks:
        lines.append(f"  note: the hot path imported {', '.join(leaks)}: it fell through "
                     "to the full CLI")
    return lines


def table(rows: Sequence[Row], widths: Sequence[int] = (34, 11, 16, 8, 20)) -> str:
    """Rows under a header, columns padded to `widths` (the last one is free)."""
    head = Row("figure", "devshell", "baseline", "ratio", "target", "result")
    cols = list(zip((*widths, 0), "<>>><<", strict=True))
    lines = []
    for r in (head, *rows):
        cells = (r.figure, r.devshell, r.baseline, r.ratio, r.target, r.verdict)
        lines.append("  ".join(f"{c:{a}{w}}" for c, (w, a) in zip(cells, cols, strict=True)).rstrip())
    return "\n".join(lines)


@dataclass
class Times:
    """Seconds per round; a key in `skipped` is a column that could not run."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, value: float | None, why: str = "") -> None:
        if value is None:
            self.skipped.setdefault(key, why)
        else:
            self.samples.setdefault(key, []).append(value)

    def med(self, key: str) -> float | None:
        values = self.samples.get(key)
        return statistics.median(values) if values and key not in self.skipped else None
