"""`devshell env --format …`: one small function per format.

Light on imports: `env` is on the hot path (json is imported only for json).
"""

from __future__ import annotations

import os

# Not `from typing import TYPE_CHECKING`: typing (and the re it imports)
# costs the hot path ~3 ms. Type checkers read the guarded imports anyway.
TYPE_CHECKING = False

if TYPE_CHECKING:  # collections.abc costs the hot path ~2 ms at run time
    from collections.abc import Callable, Mapping

__all__ = ["FORMATS", "render", "sh_quote", "write_github"]


def sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sh(env: Mapping[str, str]) -> str:
    return "".join(f"export {k}={sh_quote(v)}\n" for k, v in env.items())


def direnv(env: Mapping[str, str], pinned_path: list[str] | None = None) -> str:
    """For direnv's `use devshell`: like `sh`, but PATH is prepended to the
    user's own (direnv applies it to their shell, not a pure one)."""
    paths = pinned_path if pinned_path is not None else env.get("PATH", "").split(":")
    lines = [f"export {k}={sh_quote(v)}\n" for k, v in env.items() if k != "PATH"]
    lines.append("export PATH=" + sh_quote(":".join(paths)) + '"${PATH:+:$PATH}"\n')
    return "".join(lines)


def fish(env: Mapping[str, str]) -> str:
    lines = []
    for k, v in env.items():
        parts = v.split(":") if k == "PATH" else [v]
        lines.append(f"set -gx {k} " + " ".join(_fish_quote(p) for p in parts) + "\n")
    return "".join(lines)


def json_format(env: Mapping[str, str]) -> str:
    import json

    return json.dumps(dict(env), indent=2, sort_keys=True) + "\n"


def dotenv(env: Mapping[str, str]) -> str:
    """`NAME="value"`, escaped so that a shell sourcing the file (`set -a; .
    .env`) expands and runs nothing: backslash, quote, `$` and backtick."""

    def q(v: str) -> str:
        v = v.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
        return '"' + v.replace("\n", "\\n") + '"'

    return "".join(f"{k}={q(v)}\n" for k, v in env.items())


def _github_env_lines(env: Mapping[str, str]) -> str:
    out = []
    for k, v in env.items():
        if k == "PATH":
            continue
        if "\n" in v:
            delim = "DEVSHELL_EOF_" + os.urandom(8).hex()
            out.append(f"{k}<<{delim}\n{v}\n{delim}\n")
        else:
            out.append(f"{k}={v}\n")
    return "".join(out)


def github(env: Mapping[str, str], pinned_path: list[str] | None = None) -> str:
    """GitHub Actions' file formats: PATH entries for $GITHUB_PATH (the runner
    prepends them) and `NAME=value` / heredoc blocks for $GITHUB_ENV."""
    paths = pinned_path if pinned_path is not None else env.get("PATH", "").split(":")
    return "".join(f"{p}\n" for p in paths if p) + _github_env_lines(env)


def write_github(env: Mapping[str, str], pinned_path: list[str]) -> bool:
    """Append to $GITHUB_PATH and $GITHUB_ENV when the runner set them."""
    gh_path, gh_env = os.environ.get("GITHUB_PATH"), os.environ.get("GITHUB_ENV")
    if not gh_path or not gh_env:
        return False
    with open(gh_path, "a", encoding="utf-8") as f:
        # The runner prepends each line; write the first entry last so it wins.
        f.write("".join(f"{p}\n" for p in reversed(pinned_path)))
    with open(gh_env, "a", encoding="utf-8") as f:
        f.write(_github_env_lines(env))
    return True


FORMATS: dict[str, Callable[[Mapping[str, str]], str]] = {
    "sh": sh,
    "direnv": direnv,
    "fish": fish,
    "json": json_format,
    "dotenv": dotenv,
    "github": github,
}


def render(fmt: str, env: Mapping[str, str], pinned_path: list[str]) -> str:
    if fmt in ("direnv", "github"):
        return direnv(env, pinned_path) if fmt == "direnv" else github(env, pinned_path)
    return FORMATS[fmt](env)
