"""Building blocks for tests: archives, projects, and the real console script."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pexpect

from tests.loopback import LoopbackServer

DEVSHELL = str(Path(sys.executable).with_name("devshell"))


def tarball(files: dict[str, str | bytes], top: str | None = "pkg", mode: str = "w:gz") -> bytes:
    """A tar archive of `files` (path → content; paths under bin/ are executable)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:  # type: ignore[call-overload]
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(f"{top}/{path}" if top else path)
            info.size = len(data)
            info.mode = 0o755 if path.startswith("bin/") or content_is_script(data) else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def content_is_script(data: bytes) -> bool:
    return data.startswith(b"#!")


def script(text: str) -> str:
    return "#!/bin/sh\n" + text + "\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def serve_tool(server: LoopbackServer, name: str, version: str, files: dict[str, str | bytes],
               platform: str = "x86_64-linux") -> tuple[str, str]:
    """Serve a tarball for `name` at /<name>-<version>-<platform>.tar.gz; return
    (url template, sha256 of the archive)."""
    body = tarball(files, top=f"{name}-{version}")
    server.add(f"/{name}-{version}-{platform}.tar.gz", body)
    return f"{server.url}/{name}-{{version}}-{{platform}}.tar.gz", sha256(body)


def url_tool(name: str, version: str, url: str, sha: dict[str, str], **extra: str) -> str:
    """One `[tools]` line for a url tool."""
    table = ", ".join(f'"{p}" = "{h}"' for p, h in sha.items())
    more = "".join(f", {k} = {v}" for k, v in extra.items())
    return f'{name} = {{ version = "{version}", url = "{url}", sha256 = {{ {table} }}{more} }}\n'


def write_spec(root: Path, tools: str, extra: str = "", platforms: str = '["x86_64-linux"]') -> Path:
    root.mkdir(parents=True, exist_ok=True)
    text = f"[shell]\nplatforms = {platforms}\n{extra}\n[tools]\n{tools}"
    path = root / "devshell.toml"
    path.write_text(text)
    return path


def devshell(*args: str, cwd: Path, env: dict[str, str] | None = None,
             timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the real console script, as a user would."""
    full = dict(os.environ)
    full["DEVSHELL_PLATFORM"] = "x86_64-linux"
    full.update(env or {})
    proc = subprocess.run([DEVSHELL, *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"devshell {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def installed_tool(root: Path) -> tuple[Path, dict[str, str]]:
    """Install `root`'s project, whose tool `tool` prints "tool works"; its
    store output and the sha256 its manifest records for each file."""
    devshell("install", cwd=root, check=True)
    assert devshell("run", "--", "tool", cwd=root, check=True).stdout == "tool works\n"
    out = Path(devshell("store", "path", "tool", cwd=root, check=True).stdout.strip())
    manifest = Path(os.environ["DEVSHELL_HOME"]) / "meta" / f"{out.name}.json"
    recorded = {e["path"]: e["sha256"] for e in json.loads(manifest.read_text())["files"]
                if e["type"] == "file"}
    return out, recorded


def terminal(command: str, args: list[str], *, cwd: Path, env: dict[str, str],
             timeout: float, columns: int = 250) -> pexpect.spawn:
    """`command` on a pty, as a person at a terminal runs it.

    pexpect pauses 50 ms before every send by default, for programs that turn
    echo off just after printing a prompt; the tests here always wait for the
    prompt (or the echoed line) before typing, so the pause only adds time,
    several seconds per shell test."""
    child = pexpect.spawn(command, args, cwd=str(cwd), env=env, encoding="utf-8",
                          timeout=timeout, dimensions=(24, columns))
    child.delaybeforesend = None
    return child


def unreachable(*upstreams: tuple[str, str]) -> str | None:
    """For a live test: None when every (what, url) answers, else why the
    test cannot run (its skip reason)."""
    import requests

    for what, url in upstreams:
        try:
            requests.head(url, timeout=10, allow_redirects=True).raise_for_status()
        except Exception as exc:
            return f"the configured {what} cannot be reached: {exc}"
    return None
