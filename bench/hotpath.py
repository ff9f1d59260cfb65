"""Benchmark devshell's hot path against direnv alone and against mise.

* direnv: `direnv exec DIR true` in a project whose `.envrc` is `use devshell`
  (the function from `devshell hook direnv --install`, reading devshell's
  cached environment file), against a project whose `.envrc` exports the same
  variables statically. direnv evaluates `.envrc` on every exec, so the
  difference is what `use devshell` costs. Target (issue 5): within 5 ms.
* mise: `devshell run -- true` and `devshell env` with a valid activation
  record, against `mise x -- true` and `mise env` for the same tool (one
  archive served on 127.0.0.1, installed by both). Target: no worse than 2x
  mise. And the per-prompt cost of each shell integration: direnv with `use
  devshell` (and devshell's own `shellenv` hook, when this devshell has it)
  against mise's `hook-env`, on entering the project and at each later prompt.
  Goal: devshell's path faster than mise's.

mise is not installed on purpose: the bench takes its Linux binary from the
npm registry (`npm pack @jdxcode/mise-linux-x64`, kept in
/tmp/devshell-bench/mise) and skips the mise column, saying why, if it cannot.

    .venv/bin/python bench/hotpath.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    TIMEOUT,
    WORK,
    Contention,
    Report,
    Row,
    check,
    ensure_venv,
    hide_hosts,
    hot_imports,
    ms,
    p90,
    serve,
    table,
    timed,
    wipe,
)

DIRENV_TARGET_MS = 5.0
MISE_TARGET_RATIO = 2.0
MISE_PACKAGE = "@jdxcode/mise-linux-x64"
MISE_DIR = WORK / "mise"
TOOL, VERSION = "hello", "1.0"
WIDTHS = (47, 10, 18, 7, 22)
ENV_VARS = {"APP_ENV": "dev", "DATA_DIR": ".data"}  # DATA_DIR is under the project
PROMPTS_PER_LOOP = 50  # hook runs per timed loop inside one bash, nothing changing
CD_PER_LOOP = 20  # cd in + prompt + cd out + prompt, per timed loop

Case = tuple[list[str], Path, dict[str, str]]


@dataclass
class Bench:
    """Everything one run sets up: paths, environments, commands to time."""

    devshell: Path
    python: str
    run_dir: Path
    env: dict[str, str]
    mise: Path | None = None
    cases: dict[str, Case] = field(default_factory=dict)
    hooks: dict[str, tuple[str, str, dict[str, str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def proj(self) -> Path:
        return self.run_dir / "project"


# ---------------------------------------------------------------- set-up


def tool_archive(folder: Path) -> tuple[str, str]:
    """hello-1.0/bin/hello as a tar.gz (the same bytes every run): (name, sha256)."""
    script = f"#!/bin/sh\necho {TOOL} {VERSION}\n".encode()
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in ((f"{TOOL}-{VERSION}", None), (f"{TOOL}-{VERSION}/bin", None),
                           (f"{TOOL}-{VERSION}/bin/{TOOL}", script)):
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = 0o755, 1
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    body = raw.getvalue()
    name = f"{TOOL}-{VERSION}.tar.gz"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(body)
    return name, hashlib.sha256(body).hexdigest()


def write_devshell_project(proj: Path, url: str, sha256: str, plat: str) -> None:
    env = "".join(f'{k} = "{"$DEVSHELL_ROOT/" if k == "DATA_DIR" else ""}{v}"\n'
                  for k, v in ENV_VARS.items())
    (proj / "devshell.toml").write_text(
        f'[shell]\nname = "hot"\nplatforms = ["{plat}"]\nhost-tools = ["true"]\n\n'
        f'[tools]\n{TOOL} = {{ version = "{VERSION}", url = "{url}", '
        f'sha256 = {{ "{plat}" = "{sha256}" }}, bin = ["bin/{TOOL}"] }}\n\n'
        f"[env]\n{env}")


def write_mise_config(proj: Path, url: str, sha256: str, with_tool: bool) -> None:
    env = "".join(f'{k} = "{"{{config_root}}/" if k == "DATA_DIR" else ""}{v}"\n'
                  for k, v in ENV_VARS.items())
    tools = (f'[tools]\n"http:{TOOL}" = {{ version = "{VERSION}", url = "{url}", '
             f'checksum = "sha256:{sha256}" }}\n\n') if with_tool else ""
    (proj / "mise.toml").write_text(f"{tools}[env]\n{env}")


def fetch_mise() -> tuple[Path | None, str]:
    """mise's Linux binary from the npm registry npm is configured for: (path, why not)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None, (f"{MISE_PACKAGE} is a linux x86_64 binary; this is "
                      f"{sys.platform} {platform.machine()}")
    binary = MISE_DIR / "bin" / "mise"
    if binary.is_file():
        return binary, ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not installed, so mise could not be fetched"
    print(f"bench: fetching mise (npm pack {MISE_PACKAGE})…", file=sys.stderr)
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        proc = subprocess.run([npm, "pack", MISE_PACKAGE, "--silent"], cwd=tmp,
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)
        tgz = sorted(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tgz:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            return None, hide_hosts(f"npm pack {MISE_PACKAGE} failed: {last}")
        with tarfile.open(tgz[0]) as tar:
            try:
                member = tar.extractfile("package/bin/mise")
            except KeyError:
                member = None
            if member is None:
                return None, f"{tgz[0].name} has no package/bin/mise"
            staged = Path(tmp) / "mise"
            staged.write_bytes(member.read())
        staged.chmod(0o755)
        binary.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staged, binary)
    return binary, ""


def output(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, check=True).stdout


def _sh(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def settle(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """The environment after a bash prompt hook ran `cmd` once in `cwd` (what
    the user's shell holds at its next prompt)."""
    script = 'eval "$(' + " ".join(_sh(c) for c in cmd) + ')" && env -0'
    out = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], cwd=cwd, env=env,
                         capture_output=True, timeout=TIMEOUT, check=True).stdout
    pairs = (item.decode().partition("=") for item in out.split(b"\0") if item)
    return {k: v for k, _, v in pairs if k not in ("_", "SHLVL")}


def set_up_project(b: Bench, url: str, sha256: str) -> None:
    """The devshell project with the tool at `url`, locked and realised."""
    plat = output([b.python, "-c", "from devshell import platforms; print(platforms.host())"],
                  b.run_dir, b.env).strip()
    write_devshell_project(b.proj, url, sha256, plat)
    check([str(b.devshell), "lock"], cwd=b.proj, env=b.env)
    check([str(b.devshell), "install", "--locked"], cwd=b.proj, env=b.env)
    if output([str(b.devshell), "run", "--", TOOL], b.proj, b.env).strip() != f"{TOOL} {VERSION}":
        raise SystemExit(f"bench: `devshell run -- {TOOL}` did not run the tool")


def set_up_direnv(b: Bench) -> Path:
    """`use devshell` in the project; a static .envrc with the same exports; and,
    to see where `use devshell`'s time goes, the static one plus the process
    `use devshell` starts (`watch_file` runs `direnv watch`), then plus the
    subshell it forks (`$(direnv_layout_dir)`). Returns the cached environment
    file `use devshell` keeps."""
    env, proj = b.env, b.proj
    # Automatic activation applies only a project the user has trusted.
    check([str(b.devshell), "trust"], cwd=proj, env=env)
    check([str(b.devshell), "hook", "direnv", "--install"], cwd=proj, env=env)
    (proj / ".envrc").write_text("use devshell\n")
    exports = output([str(b.devshell), "env", "--format", "direnv"], proj, env)
    watch = "watch_file " + " ".join(_sh(str(proj / f))
                                     for f in ("devshell.toml", "devshell.lock")) + "\n"
    variants = {"static": exports, "watched": watch + exports,
                "forked": watch + ': "$(direnv_layout_dir)"\n' + exports}
    for name, text in variants.items():
        (b.run_dir / name).mkdir()
        (b.run_dir / name / ".envrc").write_text(text)
    for d in (proj, *(b.run_dir / name for name in variants)):
        check(["direnv", "allow", str(d)], cwd=b.run_dir, env=env)
    check(["direnv", "exec", str(proj), "true"], cwd=b.run_dir, env=env)  # fills the cache
    # Kept in devshell's state, never in the project tree.
    state = os.path.join(env["DEVSHELL_HOME"], "state")
    cached = Path(output([b.python, "-c", "import sys; from devshell.shell import activation; "
                          "print(activation.project_dir(sys.argv[1], sys.argv[2]))", state, str(proj)],
                         b.run_dir, env).strip()) / "direnv.env"
    if not cached.is_file():
        raise SystemExit(f"bench: `use devshell` left no cached environment at {cached}")
    for var in ENV_VARS:
        got = [output(["direnv", "exec", str(d), "printenv", var], b.run_dir, env)
        for d in (proj, b.run_dir / "static")]
        if got[0] != got[1] or not got[0].strip():
            raise SystemExit(f"bench: {var} differs under direnv: {got}")
    b.cases |= {f"direnv-{name}": (["direnv", "exec", str(b.run_dir / name), "true"],
                                   b.run_dir, env) for name in variants}
    b.cases |= {
        "direnv-ds": (["direnv", "exec", str(proj), "true"], b.run_dir, env),
        "enter-direnv": (["direnv", "export", "bash"], proj, env),
    }
    loaded = settle(["direnv", "export", "bash"], proj, env)
    if output(["direnv", "export", "bash"], proj, loaded).strip():
        b.notes.append("note: `direnv export bash` still had changes at the second prompt")
    b.hooks["direnv"] = ("", 'eval "$(direnv export bash)"', env)
    return cached


def set_up_shellenv(b: Bench) -> None:
    """devshell's own prompt hook (`shellenv`), if this devshell has it."""
    proc = subprocess.run([str(b.devshell), "shellenv", "bash"], cwd=b.proj, env=b.env,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if proc.returncode != 0 or "__devshell_hook" not in proc.stdout:
        b.notes.append("devshell shellenv: not in this devshell, so its row is left out")
        return
    hook_file = b.run_dir / "shellenv.bash"
    hook_file.write_text(proc.stdout)
    b.hooks["shellenv"] = (f". {_sh(str(hook_file))}", "__devshell_hook", b.env)


def set_up_mise(b: Bench, url: str, sha256: str) -> None:
    mise, why = fetch_mise()
    if mise is None:
        b.notes.append(f"mise columns skipped: {why}")
        return
    b.mise = mise
    env, proj = b.env, b.proj
    write_mise_config(proj, url, sha256, with_tool=True)
    installed = subprocess.run([str(mise), "install"], cwd=proj, env=env, capture_output=True,
                               text=True, timeout=TIMEOUT, check=False)
    says = subprocess.run([str(mise), "x", "--", TOOL], cwd=proj, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False).stdout.strip()
    version = output([str(mise), "--version"], proj, env).split()[0]
    if installed.returncode == 0 and says == f"{TOOL} {VERSION}":
        b.notes.append(f"mise {version}: `\"http:{TOOL}\"` in [tools] (the same archive, "
                       "installed from 127.0.0.1) and the same [env]")
    else:
        write_mise_config(proj, url, sha256, with_tool=False)
        last = (installed.stderr.strip().splitlines() or ["no message"])[-1]
        b.notes.append(f"mise {version}: could not install {TOOL} ({hide_hosts(last)}); "
                       "measured with the [env] variables only, no tool")
    hook = [str(mise), "hook-env", "-s", "bash"]
    # What `mise activate bash` exports before its first prompt.
    activated = {**env, "MISE_SHELL": "bash", "__MISE_ORIG_PATH": env["PATH"]}
    loaded = settle(hook, proj, activated)
    if output(hook, proj, loaded).strip():
        b.notes.append("note: `mise hook-env` still had changes at the second prompt")
    b.cases |= {
        "mise-x": ([str(mise), "x", "--", "true"], proj, env),
        "mise-env": ([str(mise), "env"], proj, env),
        "idle-mise": (hook, proj, loaded),
    }
    b.hooks["mise"] = ("", f'eval "$({_sh(str(mise))} hook-env -s bash)"', activated)


# ---------------------------------------------------------------- measuring


def sample(cases: dict[str, Case], runs: int) -> dict[str, list[float]]:
    """Interleaved runs (one of each per iteration, after 3 warm-ups), so
    drift on a shared machine hits every command alike."""
    for cmd, cwd, env in cases.values():
        for _ in range(3):
            timed(cmd, cwd=cwd, env=env)
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs):
        for key, (cmd, cwd, env) in cases.items():
            samples[key].append(timed(cmd, cwd=cwd, env=env))
    return samples


def prompt_loop(setup: str, hook: str, proj: Path, env: dict[str, str], cd: bool) -> float:
    """Seconds per loop step, timed inside one bash that runs `hook` the way a
    prompt hook does (its command substitution forks, as at a real prompt).
    Without `cd`: the project is entered once, then each step is one prompt
    with nothing changed. With `cd`: each step is `cd` into the project, a
    prompt, `cd` out (to its parent), a prompt."""
    inside, outside = _sh(str(proj)), _sh(str(proj.parent))
    if cd:
        step, count = f"cd {inside}; {hook}; cd {outside}; {hook}", CD_PER_LOOP
    else:
        step, count = hook, PROMPTS_PER_LOOP
    script = (f"{setup}\ncd {inside} || exit 1\n{hook}\n{step}\n"
              f"s=$EPOCHREALTIME; for ((i = 0; i < {count}; i++)); do {step}; done\n"
              'e=$EPOCHREALTIME; echo "$s $e"\n')
    out = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], env=env,
                         capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout
    start, end = (float(x.replace(",", ".")) for x in out.split())
    return (end - start) / count


def sample_prompts(hooks: dict[str, tuple[str, str, dict[str, str]]], proj: Path,
                   rounds: int) -> dict[str, list[float]]:
    """`idle-NAME` and `cd-NAME` per hook, interleaved over `rounds`."""
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        for key, (setup, hook, env) in hooks.items():
            for cd in (False, True):
                samples.setdefault(f"{'cd' if cd else 'idle'}-{key}", []).append(
                    prompt_loop(setup, hook, proj, env, cd))
    return samples


def compare(samples: dict[str, list[float]], figure: str, ours: str, theirs: str,
            label: str, target: str, verdict: Callable[[float, float], str],
            with_p90: bool = True) -> list[Row]:
    """A median row (with the verdict) and, unless told not to, a p90 row."""
    if ours not in samples or theirs not in samples:
        return []
    a, b = statistics.median(samples[ours]), statistics.median(samples[theirs])
    rows = [Row(figure, ms(a), f"{ms(b)} {label}", f"{a / b:.2f}x", target, verdict(a, b))]
    if with_p90:
        pa, pb = p90(samples[ours]), p90(samples[theirs])
        rows.append(Row("  p90", ms(pa), f"{ms(pb)} {label}", f"{pa / pb:.2f}x", "",
                        f"{(pa - pb) * 1000:+.1f} ms"))
    return rows


def within_ms(limit: float) -> Callable[[float, float], str]:
    def verdict(a: float, b: float) -> str:
        over = (a - b) * 1000
        return f"{over:+.1f} ms " + ("ok" if over <= limit else "MISS")
    return verdict


def at_most(ratio: float) -> Callable[[float, float], str]:
    return lambda a, b: "ok" if a <= ratio * b else f"MISS (2x = {ms(ratio * b)})"


def faster(a: float, b: float) -> str:
    return f"{(a - b) * 1000:+.2f} ms " + ("ok" if a < b else "MISS")


def reference(a: float, b: float) -> str:
    return f"{(a - b) * 1000:+.1f} ms"


# Scripts that stop the console script's start-up after each step: run as
# files, as the console script is, and left with os._exit, because the real
# run execs its command and never pays for the interpreter's shutdown.
STEPS = [
    ("step-empty", "", "start the interpreter and site"),
    ("step-cli", "from devshell.cli import main\n", "import devshell.cli (the launcher's only import)"),
    ("step-hot", "from devshell.cli import main\nimport devshell.shell.hot\n",
     "import devshell.shell.hot (activation, environment)"),
    ("ds-run", "", "find root, stat, read record, build env, exec true"),
]


def hot_modules(b: Bench) -> set[str]:
    """The modules `devshell run -- true` imports (python -X importtime)."""
    proc = subprocess.run([b.python, "-X", "importtime", str(b.devshell), "run", "--", "true"],
                          cwd=b.proj, env=b.env, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)
    return {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
            if line.startswith("import time:")}


def steps(b: Bench) -> list[tuple[str, str, str]]:
    """STEPS, without `import typing` if the hot path does not import it."""
    return [s for s in STEPS if s[0] != "step-typing" or "typing" in hot_modules(b)]


def steps_of_run(b: Bench, chosen: list[tuple[str, str, str]]) -> dict[str, Case]:
    cases: dict[str, Case] = {}
    folder = b.run_dir / "steps"
    folder.mkdir()
    for key, body, _ in chosen[:-1]:
        script = folder / key
        script.write_text(body + "import os\nos._exit(0)\n")
        cases[key] = ([b.python, str(script)], b.proj, b.env)
    return cases


def breakdown(samples: dict[str, list[float]], chosen: list[tuple[str, str, str]]) -> list[str]:
    """Where `devshell run -- true` spends its time: each step's median minus
    the one before."""
    steps = [(key, label) for key, _, label in chosen]
    med = {k: statistics.median(samples[k]) for k, _ in steps}
    lines = ["where `devshell run -- true` spends its time (medians, each step minus the one before):"]
    before = 0.0
    for key, label in steps:
        lines.append(f"  {label:56} {ms(med[key] - before):>8}")
        before = med[key]
    lines.append(f"  {'total':56} {ms(before):>8}")
    return lines


def rows_for(samples: dict[str, list[float]], prompts: dict[str, list[float]]) -> list[Row]:
    mise_target = f"<= {MISE_TARGET_RATIO:.0f}x mise"
    rows = compare(samples, "direnv exec: use devshell vs static .envrc", "direnv-ds",
                   "direnv-static", "static", f"overhead <= {DIRENV_TARGET_MS:.0f} ms",
                   within_ms(DIRENV_TARGET_MS))
    rows += compare(samples, "  static + watch_file (`direnv watch`)", "direnv-watched",
                    "direnv-static", "static", "(what it costs)", reference, with_p90=False)
    rows += compare(samples, "  ... + $(direnv_layout_dir) (a fork)", "direnv-forked",
                    "direnv-static", "static", "(what it costs)", reference, with_p90=False)
    rows += compare(samples, "run -- true vs mise x -- true", "ds-run", "mise-x", "mise",
                    mise_target, at_most(MISE_TARGET_RATIO))
    rows += compare(samples, "env vs mise env", "ds-env", "mise-env", "mise", mise_target,
                    at_most(MISE_TARGET_RATIO))
    for hook, label in (("direnv", "direnv+use devshell"), ("shellenv", "devshell shellenv")):
        rows += compare(prompts, f"prompt, cd in+out: {label} vs mise", f"cd-{hook}",
                        "cd-mise", "mise", "faster than mise", faster, with_p90=False)
        rows += compare(prompts, f"prompt, no change: {label} vs mise", f"idle-{hook}",
                        "idle-mise", "mise", "faster than mise", faster, with_p90=False)
    rows += compare(samples, "use devshell (direnv export) vs mise, idle", "enter-direnv",
                    "idle-mise", "mise", "(strictest pairing)", faster, with_p90=False)
    rows += compare(samples, "-q run -- true vs run -- true", "ds-run-q", "ds-run", "run",
                    "(the same path)", reference, with_p90=False)
    rows += compare(samples, "-C DIR run -- true vs run -- true", "ds-run-C", "ds-run", "run",
                    "(the same path)", reference, with_p90=False)
    rows += compare(samples, "run -- true vs /bin/true", "ds-run", "true", "true",
                    "(reference)", reference, with_p90=False)
    rows += compare(samples, "run -- true vs python -c pass", "ds-run", "py", "python",
                    "(reference)", reference, with_p90=False)
    rows += compare(samples, "mise x -- true vs /bin/true", "mise-x", "true", "true",
                    "(reference)", reference, with_p90=False)
    return rows


def wrap(text: str) -> str:
    return textwrap.fill(text, width=100, subsequent_indent="    ")


# ---------------------------------------------------------------- main


def measure(argv: Sequence[str] | None = None) -> Report:
    """Run the bench: its report, as printed, and its table's rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 runs per command")
    parser.add_argument("--runs", type=int, help="runs per command (default 40)")
    args = parser.parse_args(argv)
    runs = args.runs or (10 if args.quick else 40)
    if shutil.which("direnv") is None:
        raise SystemExit("bench: direnv is needed (apt-get install direnv)")

    began = time.perf_counter()
    devshell = ensure_venv()
    run_dir = Path(tempfile.mkdtemp(prefix="hotpath-", dir=WORK))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEVSHELL_", "VIRTUAL_ENV", "DIRENV_", "MISE_", "__MISE_"))}
    env.pop("CI", None)
    env.update(
        DEVSHELL_HOME=str(run_dir / "devshell-home"), DEVSHELL_PROGRESS="0",
        XDG_CONFIG_HOME=str(run_dir / "config"), XDG_DATA_HOME=str(run_dir / "data"),
        XDG_CACHE_HOME=str(run_dir / "cache"), XDG_STATE_HOME=str(run_dir / "state"),
        NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
        MISE_DATA_DIR=str(run_dir / "mise-data"), MISE_CONFIG_DIR=str(run_dir / "mise-config"),
        MISE_CACHE_DIR=str(run_dir / "mise-cache"), MISE_STATE_DIR=str(run_dir / "mise-state"),
        MISE_YES="1", MISE_TRUSTED_CONFIG_PATHS=str(run_dir / "project"),
    )
    b = Bench(devshell, str(devshell.with_name("python")), run_dir, env)
    b.proj.mkdir()
    contention = Contention()
    try:
        archive, sha256 = tool_archive(run_dir / "srv")
        with serve(run_dir / "srv") as base:
            url = f"{base}/{archive}"
            set_up_project(b, url, sha256)
            cached = set_up_direnv(b)
            set_up_shellenv(b)
            set_up_mise(b, url, sha256)
        chosen = steps(b)
        b.cases |= {
            "true": (["/bin/true"], b.proj, env),
            "py": ([b.python, "-c", "pass"], b.proj, env),
            **steps_of_run(b, chosen),
            "ds-run": ([str(devshell), "run", "--", "true"], b.proj, env),
            "ds-env": ([str(devshell), "env"], b.proj, env),
            # The global options the hot path serves too.
            "ds-run-q": ([str(devshell), "-q", "run", "--", "true"], b.proj, env),
            "ds-run-C": ([str(devshell), "-C", str(b.proj), "run", "--", "true"], run_dir, env),
        }
        stamp = cached.stat().st_mtime_ns
        with contention.phase("hot path"):
            samples = sample(b.cases, runs)
            prompts = sample_prompts(b.hooks, b.proj, max(3, runs // 8))
        if cached.stat().st_mtime_ns != stamp:
            b.notes.append("warning: `use devshell` ran devshell during the runs: its hot "
                           "path was not taken")
        b.notes += hot_imports(devshell, b.proj, env)
    finally:
        wipe(run_dir)

    direnv_version = output(["direnv", "version"], WORK, env).strip()
    out: list[str] = []
    out.append(f"devshell hot-path bench: {runs} runs per command, interleaved; prompt hooks "
          f"{max(3, runs // 8)} loops of {PROMPTS_PER_LOOP} prompts (cd: {CD_PER_LOOP} in+out); "
          f"{os.cpu_count()} CPUs; "
          f"python {sys.version.split()[0]}; direnv {direnv_version}")
    rows = rows_for(samples, prompts)
    out.append(table(rows, WIDTHS))
    out.append("\n".join(contention.report()))
    out.append("")
    out.append("\n".join(breakdown(samples, chosen)))
    out.append("\n".join(wrap(note) for note in b.notes))
    out.append(wrap("what each side does: `devshell run`/`env` stat devshell.toml and devshell.lock, read "
          "the activation record, build the pure environment, exec or print. `mise x`/`env` "
          "read mise.toml and mise's global config, find the installed tool under "
          "MISE_DATA_DIR, build PATH + [env] on top of the host environment, exec or print. "
          "`use devshell` compares its cached env file with devshell.toml and devshell.lock "
          "(`-nt`), registers them with `watch_file` and sources the file. A prompt hook "
          "with no change: direnv runs `direnv export bash` (it checks its watched files, "
          "evaluates nothing), mise runs `mise hook-env` (it checks its session), devshell's "
          "shellenv runs bash builtins only."))
    out.append(f"\n(bench took {time.perf_counter() - began:.0f} s)")
    return Report("\n".join(out), rows)


def main(argv: Sequence[str] | None = None) -> int:
    print(measure(argv).text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
