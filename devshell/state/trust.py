"""Trust: what a cloned repository may do in the user's own shell.

A repository decides which programs come first on PATH (its lock), which
variables are set (its `[env]`) and what runs on entering (`[hooks]`).
Automatic activation (direnv's `use devshell`, `shellenv`) applies a project
only once the user has said `devshell trust` for its exact content: the bytes
of devshell.toml and devshell.lock, as direnv binds `allow` to an .envrc.
A change that arrives from outside (a pull, an unpacked tarball) asks again;
devshell's own edits (`add`, `remove`, `lock`, `rollback`, `init`) carry the
trust over to the content they write (`preserving`).

The user-level profile (devshell.state.userprofile) is the user's own file
in their own config directory: it is always trusted.

`enter` and `run` are explicit: they need no trust for tools, but hooks and
the variables that make shells or loaders run code (`RISKY`) still do.

    state/trust/<project key>   "sha256:<hex of the trusted content>", or "revoked"
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from devshell import atomic
from devshell.errors import SpecError
from devshell.home import Home
from devshell.shell import activation

__all__ = [
    "RISKY",
    "check_env",
    "content_digest",
    "hooks_skipped",
    "is_risky",
    "is_trusted",
    "not_trusted",
    "path",
    "preserving",
    "revoke",
    "risky",
    "trust",
]

#: Variables that make a shell, a dynamic loader or an interpreter run code
#: it was not asked to run: set by a repository, they would run its code in
#: the user's shell or in every program started there.
RISKY = frozenset({
    "PROMPT_COMMAND", "BASH_ENV", "ENV", "ZDOTDIR", "SHELLOPTS", "BASHOPTS",
    "PS0", "PS1", "PS2", "PS3", "PS4", "PROMPT", "RPROMPT", "RPS1", "RPS2", "PROMPT2", "PROMPT3",
    "PROMPT4", "fish_function_path", "fish_complete_path", "XDG_CONFIG_DIRS",
    "PERL5OPT", "PERL5DB", "PYTHONSTARTUP", "PYTHONINSPECT", "NODE_OPTIONS", "RUBYOPT",
    "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "GIT_EXEC_PATH",
    # Where fish reads its config and devshell its own (the user-level
    # profile, trusted as the user's, lives there); where credentials and the
    # team cache come from.
    "XDG_CONFIG_HOME", "XDG_DATA_DIRS", "DEVSHELL_HOME", "DEVSHELL_CACHE", "DEVSHELL_CACHE_INSECURE",
    "REGISTRY_AUTH_FILE", "DOCKER_CONFIG",
})
# The loaders' LD_PRELOAD/LD_AUDIT/DYLD_INSERT_LIBRARIES…; exported functions;
# git configuration, which prompts read on every `git status` (core.fsmonitor).
_RISKY_PREFIXES = ("LD_", "DYLD_", "BASH_FUNC_", "GIT_CONFIG")


def is_risky(name: str) -> bool:
    return name in RISKY or name.startswith(_RISKY_PREFIXES)


def risky(names: Iterable[str]) -> list[str]:
    """The names among `names` that make shells or loaders run code."""
    return sorted({n for n in names if is_risky(n)})


def path(home: Home, root: Path) -> Path:
    """The trust file; keyed by `activation.project_key`, the one naming rule
    the shell hooks spell too."""
    return Path(activation.trust_file(str(home.state), str(root)))


def content_digest(root: Path) -> str:
    """A hash over the bytes that decide what a project does: its spec and lock."""
    h = hashlib.sha256()
    for name in ("devshell.toml", "devshell.lock"):
        try:
            data = (root / name).read_bytes()
        except FileNotFoundError:
            data = None
        h.update(name.encode() + b"\0")
        h.update(b"-" if data is None else b"+%d\0" % len(data) + data)
    return "sha256:" + h.hexdigest()


def is_trusted(home: Home, root: Path) -> bool:
    """Whether `root`'s content as it is now was trusted; the user-level
    profile always is (it is the user's own, in their config directory)."""
    from devshell.state import userprofile

    if userprofile.is_profile(root):
        return True
    try:
        recorded = path(home, root).read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return recorded == content_digest(root)


def trust(home: Home, root: Path) -> None:
    atomic.write_text(path(home, root), content_digest(root) + "\n")


def revoke(home: Home, root: Path) -> None:
    # Written, not deleted: a newer file tells the hooks' caches to refresh.
    atomic.write_text(path(home, root), "revoked\n")


@contextmanager
def preserving(home: Home, root: Path) -> Iterator[None]:
    """Around one of devshell's own edits of the spec or the lock: a project
    trusted before the edit stays trusted after it; an untrusted one stays
    untrusted (a pull that changed the spec is not laundered by `lock`)."""
    from devshell.state import userprofile

    before = is_trusted(home, root)
    yield
    if before and not userprofile.is_profile(root):
        trust(home, root)


def not_trusted(root: Path) -> str:
    """The one line automatic activation shows for a project not yet trusted."""
    return (f"devshell: {root} is not trusted, so its tools, [env] and hooks stay out of "
            f"this shell; read its devshell.toml, then run `devshell trust` there")


def hooks_skipped() -> str:
    return ("[hooks] on-enter skipped: this project is not trusted; "
            "read its devshell.toml, then run `devshell trust`")


def check_env(home: Home, root: Path, names: Iterable[str], where: str) -> None:
    """Refuse variables that make shells or loaders run code, unless the
    project is trusted."""
    found = risky(names)
    if found and not is_trusted(home, root):
        raise SpecError(
            f"{where}: {', '.join(found)} would make shells or programs run code from this "
            "repository, and the project is not trusted",
            hint="read devshell.toml and devshell.lock, then run `devshell trust` to allow it",
        )
