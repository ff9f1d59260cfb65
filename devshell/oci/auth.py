"""Registry credentials from where OCI users already keep them.

Searched in the order podman, skopeo and buildah use (containers-auth.json):
`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
`$XDG_CONFIG_HOME/containers/auth.json`, then Docker's
`$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`). The first file
with an entry for the registry wins. An entry is `auth` (base64 of
`user:password`) or `username` and `password`. A key names a registry
(`registry.example:5000`), or a namespace or repository in it
(`registry.example/team`): the most specific key that covers the repository is
used, as containers-auth.json says. Scheme prefixes and `/v1/`, `/v2/` tails
of older Docker keys are ignored.

Credential helpers (`credHelpers`, `credsStore`) are not run: a registry
only reachable through one needs an `auth` entry (or `REGISTRY_AUTH_FILE`).
Identity tokens (`identitytoken`) are not used either.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devshell.errors import UsageError

__all__ = ["Credentials", "auth_files", "credentials"]


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    origin: str  # the file it came from, for messages (never the secret)

    def __repr__(self) -> str:  # keep the password out of tracebacks and logs
        return f"Credentials(username={self.username!r}, origin={self.origin!r})"


def auth_files(env: Mapping[str, str] | None = None) -> list[Path]:
    """The files searched, in order."""
    env = os.environ if env is None else env
    if env.get("REGISTRY_AUTH_FILE"):
        return [Path(env["REGISTRY_AUTH_FILE"])]
    files = []
    if env.get("XDG_RUNTIME_DIR"):
        files.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    config = Path(env.get("XDG_CONFIG_HOME") or Path(env.get("HOME") or Path.home()) / ".config")
    files.append(config / "containers" / "auth.json")
    docker = Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME") or Path.home()) / ".docker")
    files.append(docker / "config.json")
    return files


def credentials(registry: str, repository: str = "",
                env: Mapping[str, str] | None = None) -> Credentials | None:
    """The credentials for `registry` (host, or host:port) and `repository`, if any file has them."""
    for path in auth_files(env):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: cannot be read as a registry auth file: {exc}",
                             hint="fix or remove the file (it is JSON with an `auths` table)") from None
        auths = data.get("auths") if isinstance(data, dict) else None
        if not isinstance(auths, dict):
            continue
        entry = _best(auths, registry, repository)
        if entry is not None:
            return _decode(entry, path, registry)
    return None


def _normal(key: str) -> str:
    for prefix in ("https://", "http://"):
        key = key.removeprefix(prefix)
    key = key.rstrip("/")
    for tail in ("/v1", "/v2"):
        key = key.removesuffix(tail)
    return key


def _best(auths: dict[str, object], registry: str, repository: str) -> dict[str, object] | None:
    """The entry of the most specific key covering registry/repository."""
    wanted = f"{registry}/{repository}" if repository else registry
    found: tuple[int, dict[str, object]] | None = None
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            continue
        scope = _normal(key)
        if (wanted == scope or wanted.startswith(scope + "/")) and (found is None or len(scope) > found[0]):
            found = (len(scope), entry)
    return found[1] if found else None


def _decode(entry: dict[str, object], path: Path, registry: str) -> Credentials | None:
    auth, user, password = entry.get("auth"), entry.get("username"), entry.get("password")
    if isinstance(auth, str) and auth:
        try:
            text = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            text = ""
        name, sep, secret = text.partition(":")
        if not sep or not name:
            raise UsageError(f"{path}: the `auth` entry for {registry} is not base64 of user:password",
                             hint="log in again (podman login, docker login) or fix the entry")
        return Credentials(name, secret, str(path))
    if isinstance(user, str) and user and isinstance(password, str):
        return Credentials(user, password, str(path))
    return None
