"""A real OCI registry for tests: Debian's `docker-registry` (the CNCF
distribution registry) on 127.0.0.1 with a free port, a temporary storage
directory and a config written here; optionally behind htpasswd basic auth.

`skopeo` is the independent client tests inspect what devshell pushed with.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

__all__ = ["Registry", "htpasswd_line", "registry_fixture", "skopeo_raw", "start_registry"]

DOCKER_REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    storage: Path
    process: subprocess.Popen[bytes]

    def url(self, repository: str) -> str:
        """The cache URL devshell reads: oci://HOST/REPOSITORY."""
        return f"oci://{self.host}/{repository}"

    def blob_file(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes on disk (to tamper with in tests)."""
        hexa = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hexa[:2] / hexa / "data"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def htpasswd_line(user: str, password: str) -> str | None:
    """A bcrypt htpasswd line made with the C library's crypt (the registry
    takes only bcrypt), or None when this Python or libc cannot make one."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            return None
        try:
            # The lowest cost bcrypt takes: the registry checks the password
            # on every request, and the default (2**12 rounds) costs 0.25 s each.
            hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        except (OSError, ValueError):
            return None
    return f"{user}:{hashed}" if hashed and hashed.startswith("$2") else None


def start_registry(base: Path, htpasswd: str | None = None) -> Registry:
    """Start a registry storing under `base`; with `htpasswd` (a file's text), basic auth."""
    storage = base / "storage"
    storage.mkdir(parents=True)
    host = f"127.0.0.1:{_free_port()}"
    auth = ""
    if htpasswd is not None:
        (base / "htpasswd").write_text(htpasswd + "\n")
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {base / 'htpasswd'}\n"
    config = base / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        # no cache of blob descriptors: a blob tampered with on disk is served as it is now
        f"http:\n  addr: {host}\n{auth}")
    with (base / "registry.log").open("wb") as log:
        process = subprocess.Popen([DOCKER_REGISTRY, "serve", str(config)], stdout=log, stderr=log)
    registry = Registry(host, storage, process)
    deadline = time.monotonic() + 20
    while True:
        try:
            answer = requests.get(f"http://{host}/v2/", timeout=2)
            if answer.status_code in (200, 401):
                return registry
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            registry.stop()
            raise RuntimeError(f"docker-registry did not start: {(base / 'registry.log').read_text()[-2000:]}")
        time.sleep(0.05)


def registry_fixture(base: Path, htpasswd: str | None = None) -> Iterator[Registry]:
    if not Path(DOCKER_REGISTRY).exists():
        pytest.skip("needs docker-registry (Debian package docker-registry)")
    registry = start_registry(base, htpasswd)
    try:
        yield registry
    finally:
        registry.stop()


def skopeo_raw(reference: str, *extra: str) -> dict[str, Any]:
    """`skopeo inspect --raw` of docker://REFERENCE: the manifest as the registry serves it."""
    if not Path(SKOPEO).exists():
        pytest.skip("needs skopeo (Debian package skopeo)")
    proc = subprocess.run([SKOPEO, "inspect", "--raw", "--tls-verify=false", *extra, f"docker://{reference}"],
                          capture_output=True, text=True, timeout=60, check=True)
    data: dict[str, Any] = json.loads(proc.stdout)
    return data
