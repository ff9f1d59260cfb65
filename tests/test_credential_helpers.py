"""Registry credentials from Docker's credential helpers (`credHelpers`,
`credsStore`), as docker, podman and skopeo read them: the helper
`docker-credential-NAME` on PATH, asked `get` with the registry on stdin."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devshell.errors import UsageError
from devshell.oci.auth import credentials
from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer
from tests.registry import Registry

REPO = "team/devshell"

# A helper as the real ones behave: `get`, the server on stdin, JSON out; an
# unknown server is "credentials not found in native keychain" and exit 1.
# It logs what it was asked, so the tests see the protocol, not just a result.
HELPER = """#!{python}
import json, os, sys
server = sys.stdin.read().strip()
with open(os.environ["HELPER_LOG"], "a") as log:
    log.write(json.dumps([sys.argv[1:], server]) + "\\n")
known = json.loads(os.environ["HELPER_KNOWS"])
if sys.argv[1:] != ["get"] or server not in known:
    print("credentials not found in native keychain")
    sys.exit(1)
user, secret = known[server]
print(json.dumps({{"ServerURL": server, "Username": user, "Secret": secret}}))
"""


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`docker-credential-devshelltest` on PATH; returns its log."""
    bin_dir = tmp_path / "helper-bin"
    bin_dir.mkdir()
    program = bin_dir / "docker-credential-devshelltest"
    program.write_text(HELPER.format(python=sys.executable))
    program.chmod(0o755)
    log = tmp_path / "helper.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HELPER_LOG", str(log))
    monkeypatch.setenv("HELPER_KNOWS", json.dumps({"registry.example": ["team", "s3cret"]}))
    yield log


def _docker_config(tmp_path: Path, config: dict[str, object]) -> dict[str, str]:
    docker = tmp_path / "docker"
    docker.mkdir(exist_ok=True)
    (docker / "config.json").write_text(json.dumps(config))
    return {"HOME": str(tmp_path / "nohome"), "DOCKER_CONFIG": str(docker)}


def _asked(log: Path) -> list[list[object]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_registrys_own_helper_gives_its_credentials(tmp_path: Path, helper: Path) -> None:
    env = _docker_config(tmp_path, {"credHelpers": {"registry.example": "devshelltest"},
                                    "auths": {"other.example": {"username": "u", "password": "p"}}})
    found = credentials("registry.example", REPO, env)
    assert found is not None and (found.username, found.password) == ("team", "s3cret")
    assert "devshelltest" in found.origin and "s3cret" not in repr(found)
    assert _asked(helper) == [[["get"], "registry.example"]]
    # Another registry in the same file still takes its `auths` entry, and no helper.
    other = credentials("other.example", "r", env)
    assert other is not None and other.username == "u"
    assert len(_asked(helper)) == 1


def test_a_credentials_store_serves_every_registry_of_the_file(tmp_path: Path, helper: Path) -> None:
    # What `docker login` leaves with a store: an empty `auths` entry, the secret in the store.
    env = _docker_config(tmp_path, {"auths": {"registry.example": {}}, "credsStore": "devshelltest"})
    found = credentials("registry.example", REPO, env)
    assert found is not None and (found.username, found.password) == ("team", "s3cret")
    # A registry the store does not know: none, as the helper says (exit 1, "not found").
    assert credentials("unknown.example", REPO, env) is None
    assert _asked(helper) == [[["get"], "registry.example"], [["get"], "unknown.example"]]


def test_with_a_store_the_store_is_asked_as_docker_asks_it(tmp_path: Path, helper: Path) -> None:
    # Docker takes a file's `auths` entry only when it names no store.
    env = _docker_config(tmp_path, {"auths": {"registry.example": {"username": "in", "password": "file"}},
                                    "credsStore": "devshelltest"})
    found = credentials("registry.example", REPO, env)
    assert found is not None and found.username == "team"
    assert _asked(helper) == [[["get"], "registry.example"]]
    without = _docker_config(tmp_path, {"auths": {"registry.example": {"username": "in", "password": "file"}}})
    found = credentials("registry.example", REPO, without)
    assert found is not None and found.username == "in"


def test_a_helper_is_asked_once_per_registry_per_run(tmp_path: Path, helper: Path) -> None:
    env = _docker_config(tmp_path, {"credsStore": "devshelltest"})
    for _ in range(3):
        found = credentials("registry.example", REPO, env)
        assert found is not None and found.username == "team"
    assert len(_asked(helper)) == 1


def test_a_helper_in_the_store_is_never_run(tmp_path: Path, helper: Path) -> None:
    # Inside an activated shell PATH holds the project's tools: a project
    # cannot choose the helper by shipping one.
    home = Path(os.environ["DEVSHELL_HOME"])
    shipped = home / "store" / ("0" * 32 + "-profile-evil") / "bin"
    shipped.mkdir(parents=True)
    (shipped / "docker-credential-shipped").write_text("#!/bin/sh\necho pwned > \"$HELPER_LOG\"\n")
    (shipped / "docker-credential-shipped").chmod(0o755)
    env = {**_docker_config(tmp_path, {"credsStore": "shipped"}), "PATH": f"{shipped}{os.pathsep}{os.environ['PATH']}"}
    with pytest.raises(UsageError, match="docker-credential-shipped, which is not on PATH"):
        credentials("registry.example", REPO, env)
    assert not helper.exists()


def test_a_helper_that_is_not_installed_is_a_clear_error(tmp_path: Path, helper: Path) -> None:
    env = _docker_config(tmp_path, {"credsStore": "desktop"})
    with pytest.raises(UsageError, match=r"docker-credential-desktop.*not on PATH") as caught:
        credentials("registry.example", REPO, env)
    assert "config.json" in str(caught.value)


@pytest.mark.parametrize("name", ["../../bin/sh", "a b", "-rf", ""])
def test_a_helper_name_that_is_not_a_plain_word_is_refused_unrun(tmp_path: Path, helper: Path, name: str) -> None:
    env = _docker_config(tmp_path, {"credHelpers": {"registry.example": name}})
    if name == "":
        assert credentials("registry.example", REPO, env) is None  # no helper named: none asked
    else:
        with pytest.raises(UsageError, match="not a credential helper"):
            credentials("registry.example", REPO, env)
    assert _asked(helper) == []


@pytest.mark.parametrize("said", [
    '{"Username": "u", "Secret": "TOPSECRET"}',  # an answer, then a failing exit
    "\\377\\376 not text",
])
def test_what_a_failing_helper_printed_on_stdout_is_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               said: str) -> None:
    bin_dir = tmp_path / "leaky-bin"
    bin_dir.mkdir()
    leaky = bin_dir / "docker-credential-leaky"
    leaky.write_text(f"#!/bin/sh\nprintf '{said}'\nexit 1\n")
    leaky.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    env = _docker_config(tmp_path, {"credHelpers": {"registry.example": "leaky"}})
    with pytest.raises(UsageError) as caught:
        credentials("registry.example", REPO, env)
    assert "TOPSECRET" not in str(caught.value) and "exit 1" in str(caught.value)


def test_a_failing_helper_is_a_clear_error_with_its_complaint(tmp_path: Path, helper: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "broken-bin"
    bin_dir.mkdir()
    broken = bin_dir / "docker-credential-broken"
    broken.write_text("#!/bin/sh\necho 'the keyring is locked' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    env = _docker_config(tmp_path, {"credHelpers": {"registry.example": "broken"}})
    with pytest.raises(UsageError, match=r"docker-credential-broken \(from .*config.json\) failed for registry.example: the keyring is locked"):
        credentials("registry.example", REPO, env)


def test_a_team_cache_behind_basic_auth_is_pushed_with_a_helpers_credentials(
        tmp_path: Path, server: LoopbackServer, locked_registry: Registry, helper: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0"')})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}))
    monkeypatch.setenv("HELPER_KNOWS", json.dumps({locked_registry.host: ["team", "s3cret"]}))
    env = {**_docker_config(tmp_path, {"credHelpers": {locked_registry.host: "devshelltest"}}),
           "DEVSHELL_CACHE": locked_registry.url(REPO)}
    pushed = devshell("cache", "push", cwd=root, env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert [["get"], locked_registry.host] in _asked(helper)
    status = devshell("cache", "status", cwd=root, env=env, check=True)
    assert "hello" in status.stdout
