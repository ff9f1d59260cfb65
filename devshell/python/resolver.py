"""pip's resolver, asked what one requirement installs on one target.

devshell writes no resolver: `pip install --dry-run --report` with the
target's platform tags, Python version, implementation and ABI, wheels only,
does the work, and its report names every wheel of the closure. pip runs as
this interpreter's `-m pip` (through devshell.python.piprun, which gives it
the target's marker environment), with no configuration of its own: the
index is the one devshell resolved (pip's own index-url setting, or
devshell's `[upstreams] pypi`), and nothing else a pip.conf may add
(extra indexes, find-links, constraints) can put into a lock a file the
index does not list.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name

from devshell import names
from devshell.errors import DevshellError, FetchError
from devshell.python.targets import Target

__all__ = ["NoWheel", "Pinned", "closure"]

#: How long one pip run may take (a deep closure on a slow mirror takes minutes).
TIMEOUT = 900
_NO_MATCH = re.compile(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Pinned:
    """One wheel of a closure, as pip chose it."""

    name: str  # canonical project name
    version: str
    filename: str
    sha256: str | None  # what pip saw (the index's, or its own hash of the file)
    requested: bool  # the requirement itself, not a dependency


class NoWheel(Exception):
    """The target has no wheel of `package` that pip could use."""

    def __init__(self, package: str) -> None:
        super().__init__(package)
        self.package = package


def closure(target: Target, requirement: str, index: str, cache: Path, label: str) -> list[Pinned]:
    """Every wheel installing `requirement` on `target` takes, from `index`.

    NoWheel when some package of it has no wheel there; FetchError, with
    pip's own words, for anything else pip could not do."""
    with tempfile.TemporaryDirectory(prefix="devshell-pip-") as scratch:
        report = Path(scratch) / "report.json"
        proc = _run(target, requirement, index, cache, report, label)
        if proc.returncode != 0:
            found = _NO_MATCH.search(proc.stderr)
            if found:
                raise NoWheel(str(canonicalize_name(found.group(1))))
            raise FetchError(
                f"{label}: pip could not resolve {requirement} for {target.platform} "
                f"(Python {target.short}): {_errors(proc.stderr)}",
                hint="pip's words above say which package or index is at fault",
            )
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FetchError(f"{label}: pip wrote no readable report ({exc})",
                             hint="run again; check that pip works in devshell's environment") from None
    return _read(data, target, label)


def _run(target: Target, requirement: str, index: str, cache: Path, report: Path,
         label: str) -> subprocess.CompletedProcess[str]:
    args = [
        # -P: the project's directory (the current one) is not on sys.path.
        sys.executable, "-P", "-m", "devshell.python.piprun", json.dumps(target.markers()),
        "install", "--dry-run", "--ignore-installed", "--only-binary=:all:",
        "--report", str(report), "--quiet", "--isolated", "--no-input",
        "--disable-pip-version-check", "--progress-bar", "off",
        "--index-url", index, "--cache-dir", str(cache),
        "--implementation", "cp", "--python-version", target.full, "--abi", target.abi,
    ]
    for tag in target.platform_tags:
        args += ["--platform", tag]
    split = urlsplit(index)
    if split.scheme == "http" and split.hostname and split.hostname not in _LOOPBACK:
        args += ["--trusted-host", split.hostname]  # devshell reads it over http too
    # No pip.conf at all (os.devnull is pip's own word for that); --isolated
    # drops PIP_* variables. Proxies and CA settings still reach pip's session.
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull)
    try:
        return subprocess.run([*args, requirement], capture_output=True, text=True, cwd=report.parent,
                              timeout=TIMEOUT, env=env, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise FetchError(f"{label}: pip took more than {TIMEOUT} s to resolve {requirement} "
                         f"for {target.platform}",
                         hint="the index may be slow or unreachable; try again") from None
    except OSError as exc:
        raise DevshellError(f"{label}: cannot start pip ({exc})",
                            hint="devshell runs `python -m pip` with its own interpreter") from None


def _errors(stderr: str) -> str:
    """pip's ERROR lines (its last lines when it printed none), on one line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln.removeprefix("ERROR: ") for ln in lines if ln.startswith("ERROR:")]
    return "; ".join(errors or lines[-3:]) or "no message"


def _read(data: object, target: Target, label: str) -> list[Pinned]:
    """The report's install list, every field checked before it is used."""
    def bad(what: str) -> FetchError:
        return FetchError(f"{label}: pip's report for {target.platform}: {what}",
                          hint="pip may be too old or too new for devshell; pip 23 or newer writes it")

    if not isinstance(data, dict) or not isinstance(data.get("install"), list):
        raise bad("no install list")
    if data.get("environment") != target.markers():
        raise bad("pip evaluated environment markers for this machine, not for the target")
    pinned = []
    for i, item in enumerate(data["install"]):
        where = f"install[{i}]"
        meta = item.get("metadata") if isinstance(item, dict) else None
        info = item.get("download_info") if isinstance(item, dict) else None
        if not isinstance(meta, dict) or not isinstance(info, dict) or not isinstance(info.get("url"), str):
            raise bad(f"{where} has no metadata or download_info.url")
        filename = unquote(urlsplit(info["url"]).path.rsplit("/", 1)[-1])
        try:
            names.check_plain(filename, f"{where}: file")
            version = names.check_version(meta.get("version"), f"{where}: version")
            name = names.check_plain(str(canonicalize_name(str(meta.get("name", "")))), f"{where}: name")
        except ValueError as exc:
            raise bad(str(exc)) from None
        if not filename.endswith(".whl"):
            raise bad(f"{where}: {filename} is not a wheel")
        archive = info.get("archive_info")
        hashes = archive.get("hashes") if isinstance(archive, dict) else None
        sha = hashes.get("sha256") if isinstance(hashes, dict) else None
        pinned.append(Pinned(name, version, filename, sha if isinstance(sha, str) else None,
                             item.get("requested") is True))
    return pinned
