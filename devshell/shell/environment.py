"""The shell's environment, computed from an activation record and the host's.

This module is on the hot path: it imports nothing but `os`.
"""

from __future__ import annotations

import os

# Not `from typing import TYPE_CHECKING`: typing (and the re it imports)
# costs the hot path ~3 ms. Type checkers read the guarded imports anyway.
TYPE_CHECKING = False

if TYPE_CHECKING:  # collections.abc costs the hot path ~2 ms at run time
    from collections.abc import Mapping

__all__ = ["ALLOWED", "Record", "compute", "expand", "is_allowed"]

ALLOWED = frozenset({
    "HOME", "USER", "LOGNAME", "TERM", "COLORTERM", "LANG", "TZ", "TMPDIR",
    "SHLVL", "DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR",
    "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
})


def is_allowed(name: str) -> bool:
    return name in ALLOWED or name.startswith("LC_")


class Record:
    """What realising a project leaves for every later `run`/`env`/`enter`.

    A plain class, not a dataclass: `dataclasses` imports `inspect`, which
    alone costs the hot path several milliseconds.
    """

    __slots__ = (
        "host_bin", "isolation", "keep_env", "name", "profile", "root",
        "scripts", "signature", "spec_env", "tool_env",
    )

    def __init__(
        self,
        *,
        root: str,
        name: str,
        isolation: str,
        profile: str,
        host_bin: str,  # "" when the spec lets no host tool through
        keep_env: tuple[str, ...] = (),
        tool_env: tuple[tuple[str, str], ...] = (),  # already pointing into the store
        spec_env: tuple[tuple[str, str], ...] = (),  # as written; `$VAR` expanded at use
        scripts: tuple[tuple[str, str], ...] = (),
        signature: str = "",
    ) -> None:
        self.root = root
        self.name = name
        self.isolation = isolation
        self.profile = profile
        self.host_bin = host_bin
        self.keep_env = keep_env
        self.tool_env = tool_env
        self.spec_env = spec_env
        self.scripts = scripts
        self.signature = signature

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    @property
    def path_entries(self) -> list[str]:
        entries = [os.path.join(self.profile, "bin")]
        if self.host_bin:
            entries.append(self.host_bin)
        return entries


def expand(value: str, env: Mapping[str, str]) -> str:
    """Shell-style `$VAR` and `${VAR}` against `env`; unset is empty; `$$` is `$`."""
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c != "$" or i + 1 == n:
            out.append(c)
            i += 1
            continue
        nxt = value[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = value.find("}", i + 2)
            if end < 0:
                out.append(value[i:])
                break
            out.append(env.get(value[i + 2 : end], ""))
            i = end + 1
        elif nxt == "_" or nxt.isalpha():
            j = i + 1
            while j < n and (value[j] == "_" or value[j].isalnum()):
                j += 1
            out.append(env.get(value[i + 1 : j], ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def compute(record: Record, host: Mapping[str, str]) -> dict[str, str]:
    """The full environment a command or shell starts with."""
    if record.isolation == "pure":
        keep = set(record.keep_env)
        env = {k: v for k, v in host.items() if is_allowed(k) or k in keep}
        path = record.path_entries
    else:
        env = dict(host)
        path = record.path_entries
        # A devshell started inside this one (`enter` again, `run`): each
        # pinned directory once, in front.
        path = path + [p for p in host.get("PATH", "").split(":") if p and p not in path]
    env["PATH"] = ":".join(path)
    env.update(devshell_vars(record))
    for key, value in record.tool_env:
        env[key] = value
    for key, value in record.spec_env:
        env[key] = expand(value, env)
    return env


def devshell_vars(record: Record) -> dict[str, str]:
    return {
        "DEVSHELL_ACTIVE": "1",
        "DEVSHELL_ROOT": record.root,
        "DEVSHELL_NAME": record.name,
        "DEVSHELL_PROFILE": record.profile,
    }


def exported(record: Record, full: Mapping[str, str]) -> dict[str, str]:
    """The variables devshell itself sets: what `env` prints for scripts."""
    names = ["PATH", *devshell_vars(record)]
    names += [k for k, _ in record.tool_env] + [k for k, _ in record.spec_env]
    return {k: full[k] for k in dict.fromkeys(names) if k in full}
