"""The per-project activation record: the hot path's only input.

It is keyed by the stat signature of devshell.toml and devshell.lock and
stored in a format `str.split` reads: NUL-separated `key=value` fields.
This module imports nothing heavy; `hot.py` reads it on every `run`.
"""

from __future__ import annotations

import os

from devshell.shell.environment import Record

__all__ = ["file_signature", "project_dir", "project_key", "read", "signature", "trust_file", "write"]

_MAGIC = "devshell-activation-1"


def project_key(root: str) -> str:
    """The one name of a project in devshell's state: its path with `%` spelled
    `%25` and `/` spelled `%`, readable and with no hashing on the hot path
    (hashlib alone costs it ~3 ms to import); a key over 200 bytes becomes
    `long-` and 40 hex digits of the path's sha256.

    The shell hooks (shells/direnvrc, shells/shellenv.*) spell the same rule
    in shell code; tests/test_trust_keys.py holds them to it."""
    key = root.replace("%", "%25").replace("/", "%")
    if len(key.encode("utf-8", "surrogateescape")) > 200:
        import hashlib

        key = "long-" + hashlib.sha256(root.encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return key


def project_dir(state_root: str, root: str) -> str:
    """`state/projects/<key>`: the project's activation record, caches, generations."""
    return os.path.join(state_root, "projects", project_key(root))


def trust_file(state_root: str, root: str) -> str:
    """`state/trust/<key>`: what the user trusted of this project (devshell.state.trust)."""
    return os.path.join(state_root, "trust", project_key(root))


def file_signature(path: str) -> str:
    """inode, size and mtime of one file; "" if it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def signature(root: str, spec_signature: str | None = None, state_root: str | None = None) -> str:
    """The spec's, the lock's and the trust file's signatures; "" if the spec
    or the lock is missing. A `devshell trust` or `--revoke` changes the last,
    so the record is made again under the new decision.

    Callers that read the spec pass the signature they took *before* reading
    it, so an edit made meanwhile can never be recorded as seen."""
    spec = file_signature(os.path.join(root, "devshell.toml")) if spec_signature is None else spec_signature
    lock = file_signature(os.path.join(root, "devshell.lock"))
    if state_root is None:
        from devshell.shell.locations import data_root

        state_root = os.path.join(data_root(), "state")
    trusted = file_signature(trust_file(state_root, root))
    return f"{spec}/{lock}/{trusted}" if spec and lock else ""


def encode(record: Record) -> str:
    fields = [
        _MAGIC,
        f"signature={record.signature}",
        f"root={record.root}",
        f"name={record.name}",
        f"isolation={record.isolation}",
        f"profile={record.profile}",
        f"host_bin={record.host_bin}",
    ]
    fields += [f"keep={k}" for k in record.keep_env]
    fields += [f"tool_env={k}={v}" for k, v in record.tool_env]
    fields += [f"spec_env={k}={v}" for k, v in record.spec_env]
    fields += [f"script={k}={v}" for k, v in record.scripts]
    if any("\0" in f for f in fields):
        # The spec and lock parsers refuse NUL; a NUL here would forge fields.
        raise ValueError("an activation record field holds a NUL character")
    return "\0".join(fields)


def decode(text: str) -> Record | None:
    fields = text.split("\0")
    if not fields or fields[0] != _MAGIC:
        return None
    one: dict[str, str] = {}
    lists: dict[str, list[str]] = {"keep": [], "tool_env": [], "spec_env": [], "script": []}
    for field in fields[1:]:
        key, _, value = field.partition("=")
        if key in lists:
            lists[key].append(value)
        else:
            one[key] = value

    def pairs(items: list[str]) -> tuple[tuple[str, str], ...]:
        return tuple((k, v) for k, _, v in (i.partition("=") for i in items))

    try:
        return Record(
            root=one["root"], name=one["name"], isolation=one["isolation"],
            profile=one["profile"], host_bin=one["host_bin"],
            keep_env=tuple(lists["keep"]), tool_env=pairs(lists["tool_env"]),
            spec_env=pairs(lists["spec_env"]), scripts=pairs(lists["script"]),
            signature=one["signature"],
        )
    except KeyError:
        return None


def read(state_root: str, root: str) -> Record | None:
    """The record if it is still valid: signature unchanged, profile present."""
    try:
        with open(os.path.join(project_dir(state_root, root), "activation"), encoding="utf-8") as f:
            record = decode(f.read())
    except OSError:
        return None
    if record is None or record.root != root:
        return None
    if not record.signature or record.signature != signature(root, state_root=state_root):
        return None
    if not os.path.isdir(record.profile):
        return None
    return record


def write(state_root: str, record: Record) -> None:
    from pathlib import Path

    from devshell import atomic

    atomic.write_text(Path(project_dir(state_root, record.root)) / "activation", encode(record))
