"""`devshell shellenv` in a user's own bash, zsh and fish: a real interactive
shell on a pty cds into a project, edits it, and leaves, with no direnv."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest

from devshell.commands.shellenv import HEADER, snippet
from devshell.shell import activation
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
STATUS = {"bash": "$?", "zsh": "$?", "fish": "$status"}
# What `echo "v=[…]"` printed, and never the echoed command line itself.
VALUE = r"v=\[([^\]$]*)\]\r\n"
PROMPT = "PROMPT> "
# How an echoed command line ends (zsh and fish turn bracketed paste off).
ECHO_END = r"(?:\x1b\[\?2004l)?\r*\n"

# The user's own start-up file: strict about unset variables (which the hook
# must not trip over), a prompt, prompt code of their own that records the last
# status, and devshell's hook.
RC = {
    "bash": "set -u\nPS1='PROMPT> '\nPROMPT_COMMAND='PC_LAST=$?'\n. {snippet}\n",
    "zsh": "setopt nounset\nPS1='PROMPT> '\nPROMPT_EOL_MARK=''\nuser_precmd() {{ PC_LAST=$?; }}\n"
    "precmd_functions=(user_precmd)\n. {snippet}\n",
    "fish": "function fish_prompt\n    set -g PC_LAST $status\n    printf 'PROMPT> '\nend\n"
    "source {snippet}\n",
}


class Shell:
    """The user's interactive shell on a pty, with devshell's hook in its rc."""

    def __init__(self, kind: str, child: pexpect.spawn) -> None:
        self.kind = kind
        self.child = child

    def prompt(self) -> None:
        self.child.expect_exact(PROMPT)

    def run(self, command: str, output: str | None = None) -> re.Match[str] | None:
        """Type `command`; wait for `output`, then for the next prompt.

        The shell echoes the line first (fish redraws its prompt with it), so
        that is waited for before anything else."""
        self.child.sendline(command)
        self.child.expect(re.escape(command) + ECHO_END)
        match = None
        if output is not None:
            self.child.expect(output)
            match = self.child.match
        self.prompt()
        return match

    def value(self, name: str) -> str:
        match = self.run(f'echo "v=[${name}]"', VALUE)
        assert match is not None
        return match.group(1)

    def is_set(self, name: str) -> bool:
        test = f"set -q {name}" if self.kind == "fish" else f'[ -n "${{{name}+x}}" ]'
        return self.status(test) == 0

    def status(self, command: str) -> int:
        match = self.run(f'{command}; echo "s=[{STATUS[self.kind]}]"', r"s=\[(\d+)\]\r\n")
        assert match is not None
        return int(match.group(1))

    def has(self, tool: str) -> bool:
        return self.status(f"command -v {tool} >/dev/null 2>&1") == 0

    def setenv(self, name: str, value: str) -> None:
        self.run(f"set -gx {name} {value}" if self.kind == "fish" else f"export {name}={value}")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "devshell-calls.log"


@pytest.fixture
def start(tmp_path: Path, log: Path) -> Iterator[Callable[..., Shell]]:
    """Start the user's `kind` shell in `cwd`, its rc file evaluating the hook
    through a wrapper that logs every time the hook starts devshell."""
    children: list[pexpect.spawn] = []
    home = tmp_path / "user-home"
    home.mkdir()
    wrapper = tmp_path / "devshell-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{DEVSHELL}" "$@"\n')
    wrapper.chmod(0o755)

    def spawn(kind: str, cwd: Path) -> Shell:
        hook = tmp_path / f"shellenv.{kind}"
        hook.write_text(snippet(kind, str(wrapper)))
        env = _user_env(home)
        rc = RC[kind].format(snippet=hook)
        if kind == "bash":
            (home / ".bashrc").write_text(rc)
            argv = ["--noprofile", "--rcfile", str(home / ".bashrc"), "-i"]
        elif kind == "zsh":
            env["ZDOTDIR"] = str(home)
            (home / ".zshrc").write_text(rc)
            argv = ["-i"]
        else:
            config = Path(env["XDG_CONFIG_HOME"]) / "fish" / "config.fish"
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(rc)
            argv = ["-i"]
        child = terminal(kind, argv, cwd=cwd, env=env, timeout=30, columns=500)
        children.append(child)
        shell = Shell(kind, child)
        shell.prompt()
        return shell

    yield spawn
    for child in children:
        child.close(force=True)


def _user_env(home: Path) -> dict[str, str]:
    """The test's isolated directories, and nothing from the machine running
    the tests that could steer the shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("__DEVSHELL_SE_", "DEVSHELL_"))}
    for name in ("ZDOTDIR", "PROMPT_COMMAND", "PS1", "BASH_ENV", "ENV", "fish_features"):
        env.pop(name, None)
    env.update({
        "DEVSHELL_HOME": os.environ["DEVSHELL_HOME"],
        "DEVSHELL_PLATFORM": "x86_64-linux",
        "HOME": str(home),
        "TERM": "dumb",
    })
    return env


def _calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _project(tmp_path: Path, server: LoopbackServer, name: str = "proj", tool: str = "hello",
             env: str = 'GREETING = "hi from $DEVSHELL_ROOT"\nPROJECT_ONLY = "yes"\n') -> Path:
    url, sha = serve_tool(server, tool, "1.0", {f"bin/{tool}": script(f'echo "{tool} 1.0 $*"')})
    root = tmp_path / name
    write_spec(root, url_tool(tool, "1.0", url, {"x86_64-linux": sha}), extra=f"[env]\n{env}")
    devshell("trust", cwd=root, check=True)  # the user read it and let it in
    return root


def _add_world(server: LoopbackServer, root: Path) -> None:
    """The user adds a tool by hand, then trusts the new content."""
    url, sha = serve_tool(server, "world", "2.0", {"bin/world": script("echo world 2.0")})
    with (root / "devshell.toml").open("a") as f:
        f.write(url_tool("world", "2.0", url, {"x86_64-linux": sha}))
    devshell("trust", cwd=root, check=True)


def _trust_as_is(root: Path) -> None:
    """Trust the project's files exactly as they are, even a spec that does not
    parse (which `devshell trust` refuses): the state a refresh can fail in."""
    from devshell.home import home
    from devshell.state import trust

    trust.trust(home(), root)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere"
    path.mkdir()
    return path


@pytest.mark.parametrize("kind", SHELLS)
def test_cd_in_edit_and_out_restores_the_users_environment(
    kind: str, tmp_path: Path, server: LoopbackServer, outside: Path, log: Path,
    start: Callable[..., Shell],
) -> None:
    root = _project(tmp_path, server)
    (root / "src").mkdir()
    shell = start(kind, outside)
    user_path = shell.value("PATH")
    assert not shell.has("hello")
    shell.setenv("GREETING", "orig")
    assert not shell.is_set("PROJECT_ONLY")

    shell.run(f"cd {root}")
    shell.run("hello inside", r"hello 1\.0 inside\r\n")
    assert shell.value("GREETING") == f"hi from {root}"
    assert shell.value("PROJECT_ONLY") == "yes"
    profile = shell.value("DEVSHELL_PROFILE")
    assert profile.startswith(os.environ["DEVSHELL_HOME"])
    # Prepended, as direnv's `use devshell` does: the user's PATH follows.
    assert shell.value("PATH") == f"{profile}/bin:{user_path}"
    assert _calls(log) == 1

    # Staying in the project, even in a subdirectory, does nothing: no
    # devshell starts, and what the user changes meanwhile stays changed.
    shell.run("cd src")
    shell.setenv("GREETING", "mine")
    shell.run("true")
    shell.run("hello again", r"hello 1\.0 again\r\n")
    assert shell.value("GREETING") == "mine"
    assert shell.value("PATH") == f"{profile}/bin:{user_path}"
    assert _calls(log) == 1

    # A second tool in the spec: the next prompt picks it up, once.
    _add_world(server, root)
    shell.run("true")
    shell.run("world", r"world 2\.0\r\n")
    assert shell.has("hello")
    new_profile = shell.value("DEVSHELL_PROFILE")
    assert new_profile != profile
    assert shell.value("PATH") == f"{new_profile}/bin:{user_path}"
    shell.run("true")
    assert _calls(log) == 2

    shell.run(f"cd {outside}")
    assert not shell.has("hello")
    assert not shell.has("world")
    assert shell.value("GREETING") == "orig"
    assert not shell.is_set("PROJECT_ONLY")
    assert not shell.is_set("DEVSHELL_ACTIVE")
    assert shell.value("PATH") == user_path
    assert _calls(log) == 2
    # The user's own prompt code ran, after the hook, and saw the last status.
    shell.run("false")
    assert shell.value("PC_LAST") == "1"


@pytest.mark.parametrize("kind", SHELLS)
def test_a_failed_refresh_keeps_the_last_good_environment(
    kind: str, tmp_path: Path, server: LoopbackServer, outside: Path, log: Path,
    start: Callable[..., Shell],
) -> None:
    root = _project(tmp_path, server)
    spec = root / "devshell.toml"
    good = spec.read_text()
    shell = start(kind, outside)
    user_path = shell.value("PATH")
    shell.run(f"cd {root}")
    profile = shell.value("DEVSHELL_PROFILE")

    spec.write_text("[tools\nbroken = ")
    _trust_as_is(root)
    shell.child.sendline("true")
    shell.child.expect(r"invalid TOML")
    shell.child.expect(r"devshell: could not refresh the environment of \S+; keeping the last good one\r\n")
    shell.prompt()
    shell.run("hello", r"hello 1\.0 \r\n")
    assert shell.value("PATH") == f"{profile}/bin:{user_path}"
    # Not retried at every prompt while nothing changed.
    shell.run("true")
    assert _calls(log) == 2

    spec.write_text(good)
    _trust_as_is(root)
    shell.run("true")
    assert _calls(log) == 3
    assert shell.value("PATH") == f"{profile}/bin:{user_path}"
    assert "could not refresh" not in shell.child.before

    shell.run(f"cd {outside}")
    assert shell.value("PATH") == user_path


@pytest.mark.parametrize("kind", SHELLS)
def test_a_project_that_never_worked_leaves_the_users_path(
    kind: str, tmp_path: Path, server: LoopbackServer, outside: Path, log: Path,
    start: Callable[..., Shell],
) -> None:
    root = tmp_path / "broken"
    root.mkdir()
    (root / "devshell.toml").write_text("[tools\nbroken = ")
    _trust_as_is(root)
    shell = start(kind, outside)
    user_path = shell.value("PATH")
    shell.child.sendline(f"cd {root}")
    shell.child.expect(r"devshell: no environment for \S+ yet")
    shell.prompt()
    assert shell.value("PATH") == user_path
    assert shell.has("ls")
    shell.run("true")
    assert _calls(log) == 1


@pytest.mark.parametrize("kind", SHELLS)
def test_switching_projects_takes_the_first_ones_environment_back(
    kind: str, tmp_path: Path, server: LoopbackServer, outside: Path, start: Callable[..., Shell],
) -> None:
    first = _project(tmp_path, server)
    second = _project(tmp_path, server, name="other", tool="ciao", env='GREETING = "from other"\n')
    shell = start(kind, outside)
    user_path = shell.value("PATH")
    shell.run(f"cd {first}")
    assert shell.has("hello")
    shell.run(f"cd {second}")
    assert not shell.has("hello")
    shell.run("ciao", r"ciao 1\.0 \r\n")
    assert shell.value("GREETING") == "from other"
    assert not shell.is_set("PROJECT_ONLY")
    profile = shell.value("DEVSHELL_PROFILE")
    assert shell.value("PATH") == f"{profile}/bin:{user_path}"
    shell.run(f"cd {outside}")
    assert not shell.is_set("GREETING")
    assert shell.value("PATH") == user_path


@pytest.mark.parametrize("kind", SHELLS)
def test_a_refresh_by_one_shell_serves_the_others_without_devshell(
    kind: str, tmp_path: Path, server: LoopbackServer, outside: Path, log: Path,
    start: Callable[..., Shell],
) -> None:
    root = _project(tmp_path, server)
    first, second = start(kind, outside), start(kind, outside)
    user_path = second.value("PATH")
    first.run(f"cd {root}")
    second.run(f"cd {root}")
    assert _calls(log) == 1
    _add_world(server, root)
    first.run("true")
    first.run("world", r"world 2\.0\r\n")
    assert _calls(log) == 2
    # The cache is current again, but not what the second shell applied.
    second.run("true")
    match = second.run("world", r"(world 2\.0|not found|Unknown command)")
    assert match is not None and match.group(1) == "world 2.0"
    profile = second.value("DEVSHELL_PROFILE")
    assert profile == first.value("DEVSHELL_PROFILE")
    assert second.value("PATH") == f"{profile}/bin:{user_path}"
    assert _calls(log) == 2


@pytest.mark.parametrize("kind", SHELLS)
def test_a_shell_started_inside_takes_the_environment_back_on_leaving(
    kind: str, tmp_path: Path, server: LoopbackServer, outside: Path, log: Path,
    start: Callable[..., Shell],
) -> None:
    root = _project(tmp_path, server)
    shell = start(kind, outside)
    user_path = shell.value("PATH")
    shell.run(f"cd {root}")
    profile = shell.value("DEVSHELL_PROFILE")
    # `exec $SHELL` to reload the rc: the new shell inherits the project's
    # environment and knows what it replaced.
    rc = f" --noprofile --rcfile {tmp_path / 'user-home' / '.bashrc'}" if kind == "bash" else ""
    # Through run(): fish redraws "PROMPT> " with the echoed line, which the
    # new shell's first prompt must not be mistaken for.
    shell.run(f"exec {kind}{rc} -i")
    assert shell.value("PATH") == f"{profile}/bin:{user_path}"
    shell.run("hello", r"hello 1\.0 \r\n")
    assert _calls(log) == 1
    shell.run(f"cd {outside}")
    assert shell.value("PATH") == user_path
    assert not shell.is_set("GREETING")


def _own_tools(server: LoopbackServer) -> tuple[Path, str, str]:
    """The user's own profile, as they wrote it: their own hello (a project
    pinning one shadows it) and gtool 1.0, installed; gtool 2.0 is served too.
    Returns the profile's spec and gtool's two [tools] lines."""
    url, sha = serve_tool(server, "hello", "9.0", {"bin/hello": script('echo "hello 9.0 (mine)"')})
    mine = url_tool("hello", "9.0", url, {"x86_64-linux": sha})
    lines = []
    for version in ("1.0", "2.0"):
        url, sha = serve_tool(server, "gtool", version, {"bin/gtool": script(f'echo "gtool {version}"')})
        lines.append(url_tool("gtool", version, url, {"x86_64-linux": sha}))
    profile = Path(os.environ["XDG_CONFIG_HOME"]) / "devshell" / "global"
    spec = write_spec(profile, mine + lines[0])
    devshell("global", "install", cwd=profile.parent, check=True)
    return spec, lines[0], lines[1]


@pytest.mark.parametrize("kind", SHELLS)
def test_own_tools_apply_outside_projects_and_after_a_projects_tools_inside(
    kind: str, tmp_path: Path, server: LoopbackServer, outside: Path, log: Path,
    start: Callable[..., Shell],
) -> None:
    spec, gtool1, gtool2 = _own_tools(server)
    root = _project(tmp_path, server)
    shell = start(kind, outside)
    shell.run("hello", r"hello 9\.0 \(mine\)\r\n")
    shell.run("gtool", r"gtool 1\.0\r\n")
    own = shell.value("DEVSHELL_PROFILE")
    path = shell.value("PATH")
    assert path.startswith(f"{own}/bin:")
    user_path = path.removeprefix(f"{own}/bin:")
    assert not shell.is_set("DEVSHELL_NAME")  # no project applies

    # Inside a project its tools come first: its hello shadows the user's.
    shell.run(f"cd {root}")
    shell.run("hello", r"hello 1\.0 \r\n")
    shell.run("gtool", r"gtool 1\.0\r\n")
    profile = shell.value("DEVSHELL_PROFILE")
    assert shell.value("PATH") == f"{profile}/bin:{own}/bin:{user_path}"
    assert shell.value("DEVSHELL_NAME") == "proj"
    shell.run(f"cd {outside}")
    assert shell.value("PATH") == f"{own}/bin:{user_path}"
    assert not shell.is_set("GREETING")
    # Nothing changed: coming and going starts no devshell.
    calls = _calls(log)
    shell.run(f"cd {root}")
    shell.run(f"cd {outside}")
    shell.run("true")
    assert _calls(log) == calls

    # The user upgrades their own gtool: outside and inside, the next prompt has it.
    spec.write_text(spec.read_text().replace(gtool1, gtool2))
    devshell("global", "install", cwd=outside, check=True)
    shell.run("true")
    shell.run("gtool", r"gtool 2\.0\r\n")
    shell.run(f"cd {root}")
    shell.run("gtool", r"gtool 2\.0\r\n")
    shell.run("hello", r"hello 1\.0 \r\n")

    # And takes it back, offline, after a gc: the profile's generations are roots.
    server.stop()
    devshell("gc", cwd=outside, check=True)
    devshell("global", "rollback", cwd=outside, check=True)
    shell.run("true")
    shell.run("gtool", r"gtool 1\.0\r\n")
    shell.run(f"cd {outside}")
    shell.run("gtool", r"gtool 1\.0\r\n")
    assert shell.value("PATH") == f"{own}/bin:{user_path}"


@pytest.mark.parametrize(("kind", "before", "show", "expected"), [
    ("bash", "", '"${PROMPT_COMMAND[@]}"', "__devshell_hook|"),
    ("bash", "PROMPT_COMMAND='history -a'", '"${PROMPT_COMMAND[@]}"',
     "__devshell_hook\nhistory -a|"),
    ("bash", "PROMPT_COMMAND=(one 'two; three')", '"${PROMPT_COMMAND[@]}"',
     "__devshell_hook|one|two; three|"),
    ("zsh", "precmd_functions=(mine)", '"${precmd_functions[@]}"', "__devshell_hook|mine|"),
])
def test_the_hook_goes_first_once_and_keeps_the_users_prompt_code(
    kind: str, before: str, show: str, expected: str, tmp_path: Path,
) -> None:
    hook = tmp_path / "hook"
    hook.write_text(snippet(kind, "devshell"))
    code = f"{before}\n. {hook}\n. {hook}\nprintf '%s|' {show}"
    proc = subprocess.run([kind, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert proc.stdout == expected
    assert proc.stderr == ""


def test_shellenv_prints_a_hook_calling_this_devshell(tmp_path: Path) -> None:
    for kind in SHELLS:
        text = devshell("shellenv", kind, cwd=tmp_path, check=True).stdout
        assert text == snippet(kind, shlex.quote(DEVSHELL))
        quoted = f"'{DEVSHELL}'" if kind == "fish" else shlex.quote(DEVSHELL)
        assert f"{quoted} shellenv {kind} --env" in text


def test_env_prints_a_header_then_path_prepended(tmp_path: Path, server: LoopbackServer) -> None:
    root = _project(tmp_path, server)
    bash = devshell("shellenv", "bash", "--env", "--root", str(root), cwd=tmp_path, check=True).stdout
    header, *lines = bash.splitlines()
    tag, stamp, *names = header.split(" ")
    assert tag == HEADER and len(stamp) == 16
    assert names == ["PATH", "DEVSHELL_ACTIVE", "DEVSHELL_ROOT", "DEVSHELL_NAME",
                     "DEVSHELL_PROFILE", "GREETING", "PROJECT_ONLY"]
    assert f"export GREETING='hi from {root}'" in lines
    assert re.fullmatch(r"""export PATH='/\S+-profile-proj/bin'"\$\{PATH:\+:\$PATH\}\"""", lines[-1])
    fish = devshell("shellenv", "fish", "--env", cwd=root, check=True).stdout
    header2, *lines = fish.splitlines()
    assert header2.split(" ")[2:] == names and header2.split(" ")[1] != stamp
    assert f"set -gx GREETING 'hi from {root}'" in lines
    assert re.fullmatch(r"set -gx PATH '/\S+-profile-proj/bin' \$PATH", lines[-1])


def test_the_hook_runs_in_a_shell_whose_path_has_no_devshell(
    tmp_path: Path, server: LoopbackServer, outside: Path,
) -> None:
    """The rc line users write, with the real console script by absolute path."""
    root = _project(tmp_path, server)
    home = tmp_path / "user-home"
    home.mkdir()
    (home / ".bashrc").write_text(f"PS1='PROMPT> '\neval \"$({DEVSHELL} shellenv bash)\"\n")
    env = {**_user_env(home), "PATH": "/usr/bin:/bin"}
    assert shutil.which("devshell", path=env["PATH"]) is None
    child = terminal("bash", ["--noprofile", "--rcfile", str(home / ".bashrc"), "-i"],
                     cwd=outside, env=env, timeout=30, columns=500)
    try:
        shell = Shell("bash", child)
        shell.prompt()
        shell.run(f"cd {root}")
        shell.run("hello", r"hello 1\.0 \r\n")
        shell.run(f"cd {outside}")
        assert shell.value("PATH") == "/usr/bin:/bin"
    finally:
        child.close(force=True)
    # The cache is in devshell's state, never in the project tree.
    cache = Path(activation.project_dir(os.environ["DEVSHELL_HOME"] + "/state", str(root)))
    assert (cache / "shellenv.bash").read_text().startswith(HEADER + " ")
    assert not any(p.name.startswith("shellenv") for p in root.rglob("*"))


def test_unknown_shell_is_a_usage_error(tmp_path: Path) -> None:
    proc = devshell("shellenv", "tcsh", cwd=tmp_path)
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
