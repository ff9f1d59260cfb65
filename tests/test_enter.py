"""A user enters a devshell: the real console script execs a real bash, zsh or
fish on a pty, and the user types at its prompt."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
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

SHELLS = ["bash", "zsh", "fish"]
# What `echo "x=$VAR"` printed, and never the echoed command line itself.
VALUE = r'([^\s"$]*)'
LAST_STATUS = {"bash": "$?", "zsh": "$?", "fish": "$status"}
OWN_PID = {"bash": "$$", "zsh": "$$", "fish": "$fish_pid"}
LS_NOT_FOUND = {
    "bash": r"bash: ls: command not found",
    "zsh": r"zsh: command not found: ls",
    "fish": r"fish: Unknown command: ls",
}

# The user's own start-up files: each says it was read, and puts a directory of
# its own first on PATH, holding an impostor `hello` and a tool of its own.
USER_RC = {
    ".bashrc": 'export RC_READ=yes\nexport PATH="$HOME/bin:$PATH"\n',
    ".zshrc": 'export RC_READ=yes\nexport PATH="$HOME/bin:$PATH"\nsetopt prompt_subst\n',
    ".config/fish/config.fish": "set -gx RC_READ yes\nset -gx PATH $HOME/bin $PATH\n",
    "bin/hello": script("echo impostor"),
    "bin/rc-tool": script('echo "rc-tool ran"'),
}


class Shell:
    """One interactive shell on a pty, started by `devshell enter`."""

    def __init__(self, child: pexpect.spawn, marker: str) -> None:
        self.child = child
        self.marker = re.escape(f"(devshell:{marker})")
        self.transcript = io.StringIO()
        child.logfile_read = self.transcript

    def prompt(self) -> None:
        self.child.expect(self.marker)

    def run(self, command: str, output: str) -> re.Match[str]:
        """Type `command`, wait for `output` (a regex the echoed command line
        cannot match), then for the next prompt."""
        self.child.sendline(command)
        self.child.expect(output)
        match: re.Match[str] = self.child.match
        self.prompt()
        return match

    def exit(self, command: str = "exit") -> int:
        """Leave with `command`; the status the shell process exited with."""
        self.child.sendline(command)
        self.child.expect(pexpect.EOF)
        self.child.close()
        status: int = self.child.exitstatus
        return status


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "user-home"
    for name, text in USER_RC.items():
        path = home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if name.startswith("bin/"):
            path.chmod(0o755)
    return home


@pytest.fixture
def enter(home: Path) -> Iterator[Callable[..., Shell]]:
    """Start `devshell enter --shell KIND` in a project, as a user at a terminal."""
    children: list[pexpect.spawn] = []

    def start(kind: str, root: Path, marker: str = "proj") -> Shell:
        env = dict(os.environ)
        # Nothing from the machine running the tests may steer the shell.
        for name in ("ZDOTDIR", "PROMPT_COMMAND", "PS1", "BASH_ENV", "ENV", "fish_features"):
            env.pop(name, None)
        env.update({
            "DEVSHELL_PLATFORM": "x86_64-linux",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "TERM": "dumb",
        })
        child = terminal(DEVSHELL, ["enter", "--shell", kind], cwd=root, env=env, timeout=15)
        children.append(child)
        shell = Shell(child, marker)
        shell.prompt()
        return shell

    yield start
    for child in children:
        child.close(force=True)


def _project(tmp_path: Path, server: LoopbackServer, extra: str = "") -> Path:
    """A project pinning `hello` 1.0, installed so that entering is fast."""
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0 $*"')})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}), extra=extra)
    devshell("install", cwd=root, check=True)
    return root


@pytest.mark.parametrize("kind", SHELLS)
def test_enter_shows_the_marker_and_runs_pinned_tools(
    kind: str, tmp_path: Path, server: LoopbackServer, enter: Callable[..., Shell]
) -> None:
    root = _project(tmp_path, server)
    shell = enter(kind, root)
    shell.run("hello from-the-prompt", r"hello 1\.0 from-the-prompt\r\n")
    # Starting up and drawing prompts needs no host program a pure PATH lacks.
    assert not re.search(r"(?i)error|unknown command|not found", shell.transcript.getvalue())
    match = shell.run('echo "active=$DEVSHELL_ACTIVE"', rf"active={VALUE}\r\n")
    assert match.group(1) == "1"
    match = shell.run('echo "root=$DEVSHELL_ROOT name=$DEVSHELL_NAME"', rf"root={VALUE} name={VALUE}\r\n")
    assert match.groups() == (str(root), "proj")


@pytest.mark.parametrize("kind", SHELLS)
def test_pure_shell_has_no_host_tools(
    kind: str, tmp_path: Path, server: LoopbackServer, enter: Callable[..., Shell]
) -> None:
    root = _project(tmp_path, server)
    shell = enter(kind, root)
    shell.run("ls", LS_NOT_FOUND[kind])
    match = shell.run(f'echo "status={LAST_STATUS[kind]}"', r"status=(\d+)\r\n")
    assert match.group(1) == "127"


@pytest.mark.parametrize("kind", SHELLS)
def test_exit_leaves_with_status_zero(
    kind: str, tmp_path: Path, server: LoopbackServer, enter: Callable[..., Shell]
) -> None:
    root = _project(tmp_path, server)
    shell = enter(kind, root)
    shell.run("hello", r"hello 1\.0")
    assert shell.exit() == 0


@pytest.mark.parametrize("kind", SHELLS)
def test_the_shell_is_execd_and_its_exit_status_is_the_users(
    kind: str, tmp_path: Path, server: LoopbackServer, enter: Callable[..., Shell]
) -> None:
    root = _project(tmp_path, server)
    shell = enter(kind, root)
    # The process devshell started is the shell: no Python stays in between.
    match = shell.run(f'echo "pid={OWN_PID[kind]}"', r"pid=(\d+)\r\n")
    assert int(match.group(1)) == shell.child.pid
    assert shell.exit("exit 3") == 3


@pytest.mark.parametrize("kind", SHELLS)
def test_pure_shell_does_not_read_the_users_rc_files(
    kind: str, tmp_path: Path, server: LoopbackServer, enter: Callable[..., Shell]
) -> None:
    root = _project(tmp_path, server)
    shell = enter(kind, root)
    match = shell.run('echo "rc=[$RC_READ]"', rf"rc=\[{VALUE}\]\r\n")
    assert match.group(1) == ""
    match = shell.run("hello", r"(hello 1\.0|impostor)")
    assert match.group(1) == "hello 1.0"


@pytest.mark.parametrize("kind", SHELLS)
def test_inherit_shell_reads_the_users_rc_files_and_pinned_tools_win(
    kind: str, tmp_path: Path, server: LoopbackServer, enter: Callable[..., Shell]
) -> None:
    root = _project(tmp_path, server, extra='isolation = "inherit"')
    shell = enter(kind, root)
    match = shell.run('echo "rc=[$RC_READ]"', rf"rc=\[{VALUE}\]\r\n")
    assert match.group(1) == "yes"
    # The rc's PATH is in effect: its own tool runs, and its `hello` would have
    # come first had devshell not put the pinned tools back in front.
    shell.run("rc-tool", r"rc-tool ran\r\n")
    match = shell.run("hello", r"(hello 1\.0|impostor)")
    assert match.group(1) == "hello 1.0"
    assert shell.exit() == 0


@pytest.mark.parametrize("isolation", ["pure", "inherit"])
@pytest.mark.parametrize("kind", SHELLS)
def test_the_shell_name_is_shown_never_run(
    kind: str, isolation: str, tmp_path: Path, server: LoopbackServer, enter: Callable[..., Shell]
) -> None:
    # A name from a cloned devshell.toml, full of what prompts expand (the
    # user's .zshrc turns on prompt_subst in the inherit case).
    name = r"x`echo a`$(echo b)${HOME}%~\w"
    root = _project(tmp_path, server, extra=f"name = '{name}'\nisolation = \"{isolation}\"")
    shell = enter(kind, root, marker=name)
    shell.run("hello", r"hello 1\.0")


def test_fish_users_prompt_still_sees_the_last_status(
    tmp_path: Path, server: LoopbackServer, home: Path, enter: Callable[..., Shell]
) -> None:
    with (home / ".config" / "fish" / "config.fish").open("a") as f:
        f.write("function fish_prompt\n    printf 'last=%s> ' $status\nend\n")
    root = _project(tmp_path, server, extra='isolation = "inherit"')
    shell = enter("fish", root)
    shell.child.sendline("echo ran; false")
    shell.child.expect(r"ran\r\n")
    shell.child.expect(r"last=(\d+)> ")
    assert shell.child.match.group(1) == "1"


def test_zsh_inherit_follows_a_zdotdir_the_users_zshenv_moves(
    tmp_path: Path, server: LoopbackServer, home: Path, enter: Callable[..., Shell]
) -> None:
    zdotdir = home / ".config" / "zsh"
    zdotdir.mkdir(parents=True)
    (home / ".zshenv").write_text('ZDOTDIR="$HOME/.config/zsh"\n')
    (home / ".zshrc").replace(zdotdir / ".zshrc")
    root = _project(tmp_path, server, extra='isolation = "inherit"')
    shell = enter("zsh", root)
    match = shell.run('echo "rc=[$RC_READ]"', rf"rc=\[{VALUE}\]\r\n")
    assert match.group(1) == "yes"
    match = shell.run("hello", r"(hello 1\.0|impostor)")
    assert match.group(1) == "hello 1.0"
    # A zsh started from here reads the user's files, as it would outside.
    match = shell.run('echo "zdotdir=[$ZDOTDIR]"', rf"zdotdir=\[{VALUE}\]\r\n")
    assert match.group(1) == str(zdotdir)


def test_an_unknown_shell_path_is_an_error_not_a_crash(tmp_path: Path, server: LoopbackServer) -> None:
    root = _project(tmp_path, server)
    proc = devshell("enter", "--shell", str(tmp_path / "no-such-shell"), cwd=root)
    assert proc.returncode == 2
    assert "no-such-shell" in proc.stderr and "internal error" not in proc.stderr
