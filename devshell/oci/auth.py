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

In each file, as Docker reads its own: a registry named in `credHelpers` is
asked of that helper; else, when the file names a `credsStore`, that helper
(Docker then takes nothing from `auths`); else the `auths` entry. A helper is
the program `docker-credential-NAME` on PATH (NAME a plain word), run with
`get` and the registry (host, or host:port) on stdin, once per registry per
run; it prints the user name and secret as JSON, or says the credentials are
not found. Nothing from a project chooses it: the files are the user's, the
variables that move them need trust, and PATH entries inside devshell's store
(a project's tools, in an activated shell) are not searched. What a failing
helper printed on stdout is never shown: it may be a secret. Identity tokens
(`identitytoken`, or a helper's `<token>` user) are not used.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import subprocess
import threading
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
    """The credentials for `registry` (host, or host:port) and `repository`,
    if any file has them or names a helper that does."""
    env = os.environ if env is None else env
    for path in auth_files(env):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: cannot be read as a registry auth file: {exc}",
                             hint="fix or remove the file (it is JSON with an `auths` table)") from None
        if not isinstance(data, dict):
            continue
        helpers = data.get("credHelpers")
        own = next((name for key, name in helpers.items() if _normal(key) == registry),
                   None) if isinstance(helpers, dict) else None
        if isinstance(own, str) and own:
            return _from_helper(own, registry, path, "credHelpers", env)
        store = data.get("credsStore")
        if isinstance(store, str) and store:
            return _from_helper(store, registry, path, "credsStore", env)
        auths = data.get("auths")
        entry = _best(auths, registry, repository) if isinstance(auths, dict) else None
        if entry is not None:  # the first file with an entry for the registry decides
            return _decode(entry, path, registry)
    return None


_HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NOT_FOUND = "credentials not found"  # what every docker-credential helper says for an unknown server


_asked: dict[tuple[str, str], Credentials | None] = {}  # (helper, registry) -> its answer, this run
_asking = threading.Lock()  # one helper at a time: it may prompt for a keyring


def _outside_the_store(search: str) -> str:
    """PATH without the entries inside devshell's store (a project's tools)."""
    from devshell.home import home

    store = os.path.realpath(home().store)
    return os.pathsep.join(d for d in search.split(os.pathsep)
                           if d and not (os.path.realpath(d) + "/").startswith(store + "/"))


def _from_helper(name: str, registry: str, path: Path, key: str,
                 env: Mapping[str, str]) -> Credentials | None:
    """Ask `docker-credential-NAME get` for `registry`'s credentials, once per run."""
    if not _HELPER_NAME.fullmatch(name):
        raise UsageError(f"{path}: {key} names {name!r}, which is not a credential helper",
                         hint="a helper is named by a plain word: docker-credential-NAME is run")
    program = f"docker-credential-{name}"
    found = shutil.which(program, path=_outside_the_store(env.get("PATH", os.environ.get("PATH", ""))))
    if found is None:
        raise UsageError(f"{path}: {key} names the credential helper {program}, which is not on PATH",
                         hint=f"install {program}, or log in so that the file holds an `auth` entry "
                         "for the registry (or point REGISTRY_AUTH_FILE at one that does)")
    with _asking:
        if (found, registry) not in _asked:
            _asked[(found, registry)] = _ask(found, program, registry, path, key, env)
        return _asked[(found, registry)]


def _ask(found: str, program: str, registry: str, path: Path, key: str,
         env: Mapping[str, str]) -> Credentials | None:
    try:
        proc = subprocess.run([found, "get"], input=registry, capture_output=True, text=True, timeout=60,
                              encoding="utf-8", errors="replace", env={**os.environ, **env}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"{program} (from {path}) could not be run: {exc}") from None
    if proc.returncode != 0:
        if _NOT_FOUND in (proc.stdout + proc.stderr).lower():
            return None
        # Only stderr is shown: what went to stdout may be the secret itself.
        said = proc.stderr.strip().splitlines()
        why = "".join(c if c.isprintable() else "?" for c in (said[0] if said else "")[:200])
        raise UsageError(f"{program} (from {path}) failed for {registry}: {why or 'no message'} "
                         f"(exit {proc.returncode})",
                         hint=f"run `echo {registry} | {program} get` to see why")
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        answer = None
    user = answer.get("Username") if isinstance(answer, dict) else None
    secret = answer.get("Secret") if isinstance(answer, dict) else None
    if not isinstance(user, str) or not isinstance(secret, str):
        raise UsageError(f"{program} (from {path}) answered for {registry} without a Username and Secret")
    if user == "<token>" or not user:  # an identity token: not used
        return None
    return Credentials(user, secret, f"{path} ({key}: {program})")


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
