"""`shellenv`, `enter` and the user's own shell, together: a real bash, zsh and
fish on a pty, whose rc file holds `eval "$(devshell shellenv …)"` as the
README recommends, entering projects with `devshell enter` and leaving them."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest

from devshell.commands.shellenv import snippet
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
from tests.test_enter import Shell as Entered
from tests.test_shellenv import RC, Shell

SHELLS = ["bash", "zsh", "fish"]


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    home = tmp_path / "user-home"
    home.mkdir()
    return home


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    return tmp_path / "devshell-calls.log"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere"
    path.mkdir()
    return path


def user_env(home: Path) -> dict[str, str]:
    """The test's isolated directories, and nothing from the machine running
    the tests that could steer the shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("__DEVSHELL_", "DEVSHELL_"))}
    for name in ("ZDOTDIR", "PROMPT_COMMAND", "PS1", "BASH_ENV", "ENV", "fish_features", "HISTFILE"):
        env.pop(name, None)
    env.update({
        "DEVSHELL_HOME": os.environ["DEVSHELL_HOME"],
        "DEVSHELL_PLATFORM": "x86_64-linux",
        "HOME": str(home),
        "TERM": "dumb",
    })
    return env


@pytest.fixture
def start(tmp_path: Path, user_home: Path, calls: Path) -> Iterator[Callable[..., Shell]]:
    """The user's `kind` shell in `cwd`; its rc file evaluates the shellenv
    hook through a wrapper that logs every time the hook starts devshell."""
    children: list[pexpect.spawn] = []
    wrapper = tmp_path / "devshell-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\nexec "{DEVSHELL}" "$@"\n')
    wrapper.chmod(0o755)

    def spawn(kind: str, cwd: Path, rc_extra: str = "") -> Shell:
        hook = tmp_path / f"shellenv.{kind}"
        hook.write_text(snippet(kind, str(wrapper)))
        env = user_env(user_home)
        rc = RC[kind].format(snippet=hook) + rc_extra
        if kind == "bash":
            (user_home / ".bashrc").write_text(rc)
            argv = ["--noprofile", "--rcfile", str(user_home / ".bashrc"), "-i"]
        elif kind == "zsh":
            env["ZDOTDIR"] = str(user_home)
            (user_home / ".zshrc").write_text(rc)
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


def _calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def project(tmp_path: Path, server: LoopbackServer, shell: str = "", hooks: str = "",
            trusted: bool = True, name: str = "proj") -> Path:
    """A project pinning `hello`, with a variable of its own."""
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0 $*"')})
    root = tmp_path / name
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}),
               extra=f'{shell}\n[env]\nGREETING = "hi from $DEVSHELL_ROOT"\n{hooks}')
    if trusted:
        devshell("trust", cwd=root, check=True)
    else:
        devshell("install", cwd=root, check=True)
    return root


@pytest.mark.parametrize("kind", SHELLS)
def test_enter_from_a_shellenv_shell_keeps_its_environment_on_cd_out(
    kind: str, tmp_path: Path, server: LoopbackServer, outside: Path, calls: Path,
    start: Callable[..., Shell],
) -> None:
    root = project(tmp_path, server, shell='isolation = "inherit"')
    shell = start(kind, outside)
    user_path = shell.value("PATH")
    shell.run(f"cd {root}")
    profile = shell.value("DEVSHELL_PROFILE")
    assert _calls(calls) == 1

    # The entered shell re-reads the rc, and with it the hook.
    shell.run(f"{DEVSHELL} enter --shell {kind}")
    assert shell.value("DEVSHELL_ACTIVE") == "1"
    # The pinned tools once, in front of the user's own PATH.
    assert shell.value("PATH") == f"{profile}/bin:{user_path}"
    shell.run(f"cd {outside}")
    shell.run("hello out", r"hello 1\.0 out\r\n")
    assert shell.value("GREETING") == f"hi from {root}"
    assert shell.value("DEVSHELL_ROOT") == str(root)
    assert shell.value("PATH") == f"{profile}/bin:{user_path}"
    shell.run(f"cd {root}")
    assert shell.value("PATH") == f"{profile}/bin:{user_path}"

    # Entered again from inside: still once.
    shell.run(f"{DEVSHELL} enter --shell {kind}")
    assert shell.value("PATH") == f"{profile}/bin:{user_path}"
    shell.run("exit")
    shell.run("exit")
    # Back in the user's shell, whose hook still owns what it applied.
    assert shell.value("PATH") == f"{profile}/bin:{user_path}"
    shell.run(f"cd {outside}")
    assert shell.value("PATH") == user_path
    assert not shell.is_set("GREETING")
    assert _calls(calls) == 1


HOOK = """[hooks]\non-enter = 'echo "on-enter ran" >> "$DEVSHELL_ROOT/hook.log"'\n"""


def _hook_runs(root: Path) -> int:
    log = root / "hook.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.mark.parametrize("kind", SHELLS)
def test_shellenv_runs_a_trusted_on_enter_once_per_entering(
    kind: str, tmp_path: Path, server: LoopbackServer, outside: Path, calls: Path,
    start: Callable[..., Shell],
) -> None:
    root = project(tmp_path, server, hooks=HOOK)
    (root / "src").mkdir()
    shell = start(kind, outside)
    shell.run(f"cd {root}")
    assert _hook_runs(root) == 1
    shell.run("true")
    shell.run("cd src")
    shell.run("true")
    assert _hook_runs(root) == 1
    # A refresh re-applies the environment; it is no new entering.
    with (root / "devshell.toml").open("a") as f:
        f.write("# a comment\n")
    devshell("trust", cwd=root, check=True)
    shell.run("true")
    assert _calls(calls) == 2
    assert _hook_runs(root) == 1
    # A shell started inside (`exec $SHELL` to reload the rc) is no entering.
    rc = f" --noprofile --rcfile {tmp_path / 'user-home' / '.bashrc'}" if kind == "bash" else ""
    shell.run(f"exec {kind}{rc} -i")
    shell.run("hello", r"hello 1\.0 \r\n")
    assert _hook_runs(root) == 1
    shell.run(f"cd {outside}")
    shell.run(f"cd {root}")
    assert _hook_runs(root) == 2


@pytest.mark.parametrize("kind", SHELLS)
def test_shellenv_says_what_to_run_for_an_untrusted_on_enter(
    kind: str, tmp_path: Path, server: LoopbackServer, outside: Path, start: Callable[..., Shell],
) -> None:
    root = project(tmp_path, server, hooks=HOOK, trusted=False)
    shell = start(kind, outside)
    user_path = shell.value("PATH")
    shell.child.sendline(f"cd {root}")
    shell.child.expect(r"devshell: \S+ is not trusted, [^\r\n]*run `devshell trust` there\r\n")
    shell.prompt()
    shell.run("true")
    assert "not trusted" not in shell.child.before  # one line, once
    assert _hook_runs(root) == 0
    assert shell.value("PATH") == user_path
    devshell("trust", cwd=root, check=True)
    shell.run("true")
    assert _hook_runs(root) == 1
    shell.run("hello", r"hello 1\.0 \r\n")


@pytest.fixture
def enter(user_home: Path) -> Iterator[Callable[..., Entered]]:
    """`devshell enter --shell KIND` in a project, as a user at a terminal."""
    children: list[pexpect.spawn] = []

    def start(kind: str, root: Path) -> Entered:
        child = terminal(DEVSHELL, ["enter", "--shell", kind], cwd=root, env=user_env(user_home),
                         timeout=30)
        children.append(child)
        shell = Entered(child, "proj")
        shell.prompt()
        return shell

    yield start
    for child in children:
        child.close(force=True)


SUBST = {"bash": "$({})", "zsh": "$({})", "fish": '"({})"'}


@pytest.mark.parametrize("kind", SHELLS)
def test_a_pure_shell_knows_its_shell_and_reaches_devshell(
    kind: str, tmp_path: Path, server: LoopbackServer, enter: Callable[..., Entered],
) -> None:
    root = project(tmp_path, server, trusted=False)
    shell = enter(kind, root)
    match = shell.run('echo "shell=[$SHELL]"', r"shell=\[([^\]]*)\]\r\n")
    assert match.group(1) == shutil.which(kind)
    found = SUBST[kind].format("command -v devshell")
    match = shell.run(f'echo "found=[{found}]"', r"found=\[([^\]]*)\]\r\n")
    # A directory of its own on PATH, letting nothing else in.
    assert [p.name for p in Path(match.group(1)).parent.iterdir()] == ["devshell"]
    # The same devshell, with the same store, as outside.
    store = re.escape(os.environ["DEVSHELL_HOME"] + "/store/")
    shell.run("devshell status", rf"devshell proj at {re.escape(str(root))}\r\n[\s\S]*{store}\S+-hello-1\.0")
    shell.run("ls", LS_NOT_FOUND[kind])


LS_NOT_FOUND = {
    "bash": r"bash: ls: command not found",
    "zsh": r"zsh: command not found: ls",
    "fish": r"fish: Unknown command: ls",
}


def test_a_pure_zsh_saves_its_history_where_zsh_keeps_it(
    tmp_path: Path, server: LoopbackServer, user_home: Path, enter: Callable[..., Entered],
) -> None:
    root = project(tmp_path, server, trusted=False)
    shell = enter("zsh", root)
    shell.run("echo remembered-$((6 * 7))", r"remembered-42\r\n")
    assert shell.exit() == 0
    assert "echo remembered-$((6 * 7))" in (user_home / ".zsh_history").read_text()


def test_the_posix_preset_lets_the_hosts_basics_through(tmp_path: Path, server: LoopbackServer) -> None:
    from devshell import project as projects
    from devshell.home import home
    from devshell.lock import load
    from devshell.shell import hosttools

    root = project(tmp_path, server, trusted=False)
    proj = projects.find(root)
    shell = dataclasses.replace(proj.spec.shell, host_tools=("@posix", "no-such-program-here"))
    record = projects.realise(dataclasses.replace(proj, spec=dataclasses.replace(proj.spec, shell=shell)),
                              home(), load(proj.lock_path))  # type: ignore[arg-type]
    linked = {p.name: os.path.realpath(p) for p in Path(record.host_bin).iterdir()}
    for name in ("ls", "cat", "env", "sort", "head", "grep", "sed", "awk", "mkdir", "find", "xargs"):
        assert linked[name] == os.path.realpath(shutil.which(name) or "")
    # Only the preset's: nothing else from the host comes along.
    assert set(linked) <= set(hosttools.PRESETS["posix"])
    assert "fish" not in linked and "python3" not in linked
    with pytest.raises(ValueError, match=r"'@nope' is not a preset \(presets: @posix\)"):
        hosttools.check("@nope", "shell.host-tools entry")


def test_a_pure_shell_with_the_posix_preset_runs_scripts(tmp_path: Path, server: LoopbackServer) -> None:
    root = project(tmp_path, server, shell='host-tools = ["@posix"]', trusted=False)
    proc = devshell("run", "--", "sh", "-c", "ls -d . && printf 'b\\na\\n' | sort | head -n 1 && "
                    "! command -v fish", cwd=root, check=True)
    assert proc.stdout == ".\na\n"
    status = devshell("status", cwd=root, check=True).stdout
    assert "impure host tools (from this machine's PATH, not pinned): @posix" in status


REBUILDS_PROMPT = {
    "bash": """PROMPT_COMMAND='PS1="rebuilt> "'\n""",
    "zsh": "rebuild() { PROMPT='rebuilt> ' }\nprecmd_functions+=(rebuild)\n",
}


@pytest.mark.parametrize("kind", ["bash", "zsh"])
def test_the_marker_survives_a_prompt_rebuilt_before_each_prompt(
    kind: str, tmp_path: Path, server: LoopbackServer, user_home: Path, enter: Callable[..., Entered],
) -> None:
    """As starship's and powerlevel10k's prompts do."""
    (user_home / f".{kind}rc").write_text(REBUILDS_PROMPT[kind])
    root = project(tmp_path, server, shell='isolation = "inherit"', trusted=False)
    shell = enter(kind, root)
    for _ in range(2):
        shell.child.sendline("echo ran")
        shell.child.expect(r"ran\r\n")
        shell.child.expect_exact("(devshell:proj) rebuilt> ")
    match = shell.run('echo "name=[$DEVSHELL_NAME]"', r"name=\[([^\]]*)\]\r\n")
    assert match.group(1) == "proj"


def _move_on(server: LoopbackServer, root: Path) -> None:
    """Elsewhere, the project changes and is realised again: a new profile
    is current, and `gc --keep 1` drops every older generation."""
    url, sha = serve_tool(server, "world", "2.0", {"bin/world": script("echo world 2.0")})
    with (root / "devshell.toml").open("a") as f:
        f.write(url_tool("world", "2.0", url, {"x86_64-linux": sha}))
    devshell("install", cwd=root, check=True)
    devshell("gc", "--keep", "1", cwd=root, check=True)


@pytest.mark.parametrize("kind", SHELLS)
def test_gc_keeps_the_profile_a_shellenv_shell_has_applied(
    kind: str, tmp_path: Path, server: LoopbackServer, outside: Path, start: Callable[..., Shell],
) -> None:
    root = project(tmp_path, server)
    shell = start(kind, outside)
    shell.run(f"cd {root}")
    profile = Path(shell.value("DEVSHELL_PROFILE"))
    _move_on(server, root)
    assert profile.is_dir()
    shell.run("hello still", r"hello 1\.0 still\r\n")
    # Once no shell has it applied, it goes.
    shell.run(f"cd {outside}")
    devshell("gc", "--keep", "1", cwd=root, check=True)
    assert not profile.exists()


@pytest.mark.skipif(shutil.which("direnv") is None, reason="direnv is not installed")
def test_gc_keeps_the_profile_direnv_has_applied(
    tmp_path: Path, server: LoopbackServer, user_home: Path, outside: Path,
) -> None:
    from devshell.commands.hook import direnv_function

    root = project(tmp_path, server)
    (root / ".envrc").write_text("use devshell\n")
    env = user_env(user_home)
    lib = Path(env["XDG_CONFIG_HOME"]) / "direnv" / "lib" / "devshell.sh"
    lib.parent.mkdir(parents=True, exist_ok=True)
    lib.write_text(direnv_function(DEVSHELL))
    subprocess.run(["direnv", "allow"], cwd=root, env=env, check=True, capture_output=True, timeout=60)
    (user_home / ".bashrc").write_text('PS1="PROMPT> "\neval "$(direnv hook bash)"\n')
    child = terminal("bash", ["--noprofile", "--rcfile", str(user_home / ".bashrc"), "-i"],
                     cwd=outside, env=env, timeout=60, columns=500)
    try:
        shell = Shell("bash", child)
        shell.prompt()
        shell.run(f"cd {root}")
        profile = Path(shell.value("DEVSHELL_PROFILE"))
        _move_on(server, root)
        assert profile.is_dir()
        shell.run("hello still", r"hello 1\.0 still\r\n")
    finally:
        child.close(force=True)
    # Its shell has gone: so has the root.
    devshell("gc", "--keep", "1", cwd=root, check=True)
    assert not profile.exists()


def test_a_run_inside_an_inherit_shell_has_the_pinned_tools_once(
    tmp_path: Path, server: LoopbackServer,
) -> None:
    root = project(tmp_path, server, shell='isolation = "inherit"', trusted=False)
    outer = devshell("run", "--", "sh", "-c", 'printf %s "$PATH"', cwd=root, check=True).stdout
    inner = devshell("run", "--", "sh", "-c", 'printf %s "$PATH"', cwd=root, env={"PATH": outer},
                     check=True).stdout
    assert inner == outer
    assert outer.split(":").count(outer.split(":")[0]) == 1


def test_shell_roots_count_while_their_shell_lives_and_only_in_the_store(tmp_path: Path) -> None:
    from devshell.home import home
    from devshell.store import gcroots

    h = home()
    shells = h.roots / "shells"
    shells.mkdir(parents=True)
    mine = "0" * 32 + "-profile-mine"
    (shells / str(os.getpid())).write_text(f"{h.store}/{mine}\n{h.store}/../outside\n{h.store}/..\n/etc\n")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (shells / str(dead.pid)).write_text(f"{h.store}/{'1' * 32}-profile-gone\n")
    assert gcroots.shell_profiles(h) == {mine}
    assert gcroots.drop_dead_shells(h) == 1
    assert [p.name for p in shells.iterdir()] == [str(os.getpid())]
