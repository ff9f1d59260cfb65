"""`devshell completion bash|zsh|fish`: each real shell loads the script and
completes devshell's commands and options; printing it again imports no
command, and the hot path never imports it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.helpers import (
    DEVSHELL,
    devshell,
    script,
    serve_tool,
    terminal,
    url_tool,
    write_spec,
)
from tests.loopback import LoopbackServer

BIN = str(Path(DEVSHELL).parent)


def _script(shell: str, tmp_path: Path) -> Path:
    proc = devshell("completion", shell, cwd=tmp_path, check=True)
    assert proc.stderr == ""
    path = tmp_path / f"devshell.{shell}"
    path.write_text(proc.stdout)
    return path


def _imported(*args: str, cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    """The modules `python -m devshell ARGS` imports, read from -X importtime."""
    full = {**os.environ, "DEVSHELL_PLATFORM": "x86_64-linux", **(env or {})}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "devshell", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {m.group(1) for m in re.finditer(r"^import time:.*\|\s*(\S+)\s*$", proc.stderr, re.MULTILINE)}


def _bash_complete(path: Path, line: str, tmp_path: Path) -> list[str]:
    """What bash offers for `line` (the cursor at its end) through the function
    the script registers with `complete -F` for devshell, called as readline would."""
    words = line.split(" ")
    program = f"""
source {shlex.quote(str(path))}
spec=$(complete -p devshell) || exit 3
fn=${{spec##*-F }}; fn=${{fn%% *}}
COMP_WORDS=({" ".join(shlex.quote(w) for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE={shlex.quote(line)}
COMP_POINT=${{#COMP_LINE}}
"$fn" devshell {shlex.quote(words[-1])} {shlex.quote(words[-2])}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [w.strip() for w in proc.stdout.splitlines() if w.strip()]


CASES = [
    ("devshell sta", {"status"}),                   # a command
    ("devshell verify --rep", {"--repair"}),        # a command's option
    ("devshell -q gen", {"generations"}),           # a command after a global option
    ("devshell --verb", {"--verbose"}),             # a global option
    ("devshell store pi", {"pin"}),                 # a store action
    ("devshell completion f", {"fish"}),            # the shells
]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_bash_completes_commands_and_options(tmp_path: Path, line: str, expected: set[str]) -> None:
    assert set(_bash_complete(_script("bash", tmp_path), line, tmp_path)) == expected


def test_bash_offers_every_command(tmp_path: Path) -> None:
    offered = set(_bash_complete(_script("bash", tmp_path), "devshell ", tmp_path))
    assert {"status", "store", "verify", "generations", "completion", "run", "env"} <= offered


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_fish_completes_commands_and_options(tmp_path: Path, line: str, expected: set[str]) -> None:
    path = _script("fish", tmp_path)
    proc = subprocess.run(
        ["fish", "--no-config", "-c", f"source {shlex.quote(str(path))}; complete -C {shlex.quote(line)}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
        env={**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]})
    assert proc.returncode == 0, proc.stderr
    # fish prints "candidate<TAB>description"
    assert {row.split("\t")[0] for row in proc.stdout.splitlines()} == expected


def test_fish_shows_each_commands_description(tmp_path: Path) -> None:
    path = _script("fish", tmp_path)
    proc = subprocess.run(["fish", "--no-config", "-c", f"source {shlex.quote(str(path))}; complete -C 'devshell verif'"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.stdout.splitlines() == ["verify\tcheck store outputs against their manifests"]


@pytest.mark.parametrize("load", ["eval", "fpath"])
def test_zsh_completes_at_a_terminal(tmp_path: Path, load: str) -> None:
    """A person's zsh, loading the script either way its help says (the
    documented eval after compinit, or a file on $fpath before it), then TAB
    after a partial command, a partial option and a global option."""
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"], "TERM": "dumb",
           "PS1": "READY> ", "HOME": str(tmp_path)}
    (tmp_path / "zfunc").mkdir()
    (tmp_path / "zfunc" / "_devshell").write_text(_script("zsh", tmp_path).read_text())
    setup = {
        "eval": 'autoload -Uz compinit && compinit -u -d "$HOME/.zcompdump" && eval "$(devshell completion zsh)"',
        "fpath": 'fpath=("$HOME/zfunc" $fpath) && autoload -Uz compinit && compinit -u -d "$HOME/.zcompdump"',
    }[load]
    child = terminal("zsh", ["-f", "-i"], cwd=tmp_path, env=env, timeout=20)
    try:
        child.expect("READY> ")
        child.sendline(setup + " && echo LOADED-$((40+2))")
        child.expect("LOADED-42")
        child.expect("READY> ")
        child.send("devshell sta\t")
        child.expect("devshell status ")
        child.send("\x15")  # kill the line
        child.send("devshell verify --rep\t")
        child.expect("--repair ")
        child.send("\x15")
        child.send("devshell -v gen\t")
        child.expect("gen.*erations ")
        child.send("\x15")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_an_unknown_shell_is_refused(tmp_path: Path) -> None:
    proc = devshell("completion", "tcsh", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "invalid choice: 'tcsh'" in proc.stderr


HEAVY = {"shtab", "requests", "devshell.store", "devshell.lock", "devshell.commands.status"}


def test_printing_the_script_again_imports_no_command(tmp_path: Path) -> None:
    """An rc file evals it at every shell start: after the first time it is
    printed from the cache, without importing the commands or shtab."""
    first = devshell("completion", "zsh", cwd=tmp_path, check=True).stdout
    assert "devshell" in first
    assert HEAVY.isdisjoint(_imported("completion", "zsh", cwd=tmp_path))
    assert devshell("completion", "zsh", cwd=tmp_path, check=True).stdout == first


def test_a_fresh_home_generates_the_same_script(tmp_path: Path) -> None:
    first = devshell("completion", "bash", cwd=tmp_path, check=True).stdout
    other = devshell("completion", "bash", cwd=tmp_path, env={"DEVSHELL_HOME": str(tmp_path / "other")},
                     check=True).stdout
    assert other == first
    assert "shtab" in _imported("completion", "bash", cwd=tmp_path,
                                env={"DEVSHELL_HOME": str(tmp_path / "third")})


def test_run_and_env_never_import_it(tmp_path: Path, server: LoopbackServer) -> None:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0"')})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}))
    devshell("install", cwd=root, check=True)
    for hot in ({}, {"DEVSHELL_NO_HOT": "1"}):
        for args in (("env", "--format", "sh"), ("run", "hello")):
            imported = _imported(*args, cwd=root, env=hot)
            assert "devshell" in imported  # the log was read
            assert "shtab" not in imported and "devshell.commands.completion" not in imported, (args, hot)


def test_dash_c_completes_directories_only(tmp_path: Path) -> None:
    (tmp_path / "somedir").mkdir()
    (tmp_path / "somefile").write_text("")
    assert _bash_complete(_script("bash", tmp_path), "devshell -C so", tmp_path) == ["somedir"]
    path = _script("fish", tmp_path)
    proc = subprocess.run(["fish", "--no-config", "-c", f"source {shlex.quote(str(path))}; complete -C 'devshell -C so'"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert [row.split("\t")[0] for row in proc.stdout.splitlines()] == ["somedir/"]
