"""A team binary cache on a real OCI registry (Debian's docker-registry on
loopback): a user pushes a lock's outputs, and a fresh machine with the
upstreams gone realises them from the registry, every byte checked against
the lock; a tampered blob is refused and the upstream used instead."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devshell.debian import elf
from devshell.errors import UsageError
from devshell.oci.auth import credentials
from devshell.oci.cache import tag_for
from devshell.oci.layout import (
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_LAYER,
    Descriptor,
    Index,
    Layout,
    Manifest,
    Platform,
)
from devshell.oci.push import push_layout
from devshell.oci.registry import Reference, is_loopback
from tests.greet_archive import GREETING, greet_archive
from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer
from tests.registry import SKOPEO, Registry, registry_fixture, skopeo_raw

REPO = "team/devshell"


@pytest.fixture
def oci(tmp_path: Path) -> Iterator[Registry]:
    yield from registry_fixture(tmp_path / "registry")


def _hello(tmp_path: Path, server: LoopbackServer) -> Path:
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0 $*"')})
    root = tmp_path / "proj"
    write_spec(root, url_tool("hello", "1.0", url, {"x86_64-linux": sha}))
    return root


def _lock(root: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((root / "devshell.lock").read_text())
    return data


def _output(root: Path, tool: str, plat: str = "x86_64-linux") -> dict[str, object]:
    tools = _lock(root)["tools"]
    assert isinstance(tools, dict)
    artifact: dict[str, object] = tools[tool]["platforms"][plat]
    return artifact


def _fresh(tmp_path: Path, name: str, cache: str) -> dict[str, str]:
    """Another machine: its own empty DEVSHELL_HOME, the team cache configured."""
    return {"DEVSHELL_HOME": str(tmp_path / name), "DEVSHELL_CACHE": cache}


def test_pushed_outputs_realise_on_a_fresh_machine_with_the_upstream_gone(
        tmp_path: Path, server: LoopbackServer, oci: Registry) -> None:
    root = _hello(tmp_path, server)
    cache = {"DEVSHELL_CACHE": oci.url(REPO)}
    devshell("install", cwd=root, env=cache, check=True)
    pushed = devshell("cache", "push", cwd=root, env=cache, check=True)
    assert "1 output pushed" in pushed.stderr

    output = str(_output(root, "hello")["output"])
    manifest = skopeo_raw(f"{oci.host}/{REPO}:{tag_for(output)}")
    assert manifest["annotations"] == {"dev.devshell.output": output}
    layers = manifest["layers"]
    assert isinstance(layers, list) and len(layers) == 1
    assert layers[0]["annotations"]["dev.devshell.integrity"] == _output(root, "hello")["integrity"]

    server.stop()
    proc = devshell("run", "--", "hello", "there", cwd=root, env=_fresh(tmp_path, "other-home", oci.url(REPO)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello 1.0 there\n"
    assert "warning" not in proc.stderr


def test_a_debian_closure_travels_as_its_debs_and_is_relocated_on_the_way_in(
        tmp_path: Path, server: LoopbackServer, oci: Registry) -> None:
    greet = greet_archive(server, tmp_path / "greet")
    url, sha = serve_tool(server, "hello", "1.0", {"bin/hello": script('echo "hello 1.0 $*"')},
                          platform=greet.platform)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "devshell.toml").write_text(greet.spec(url_tool("hello", "1.0", url, {greet.platform: sha})))
    env = {**greet.env, "DEVSHELL_CACHE": oci.url(REPO)}
    devshell("install", cwd=root, env=env, check=True)
    pushed = devshell("cache", "push", cwd=root, env=env, check=True)
    assert "2 outputs pushed" in pushed.stderr
    deb = _output(root, "greet", greet.platform)
    layers = skopeo_raw(f"{oci.host}/{REPO}:{tag_for(str(deb['output']))}")["layers"]
    closure = deb["closure"]
    assert isinstance(closure, list)
    assert sorted(x["annotations"]["dev.devshell.integrity"] for x in layers) == sorted(
        [deb["integrity"], *(p["integrity"] for p in closure)])

    server.stop()
    fresh = {**greet.env, **_fresh(tmp_path, "elsewhere", oci.url(REPO))}
    proc = devshell("run", "--", "greet", cwd=root, env=fresh)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == GREETING + "\n"
    assert "warning" not in proc.stderr
    assert devshell("run", "--", "hello", cwd=root, env=fresh, check=True).stdout == "hello 1.0 \n"
    where = devshell("store", "path", "greet", cwd=root, env=fresh, check=True).stdout.strip()
    assert where.startswith(str(tmp_path / "elsewhere") + "/")
    with open(Path(where, "usr/bin/greet"), "rb") as f:
        info = elf.read(f)
    assert info is not None and info.interpreter is not None and info.interpreter.startswith(where + "/")


def test_a_second_push_uploads_nothing(tmp_path: Path, server: LoopbackServer, oci: Registry) -> None:
    root = _hello(tmp_path, server)
    cache = {"DEVSHELL_CACHE": oci.url(REPO)}
    devshell("cache", "push", cwd=root, env=cache, check=True)  # fetches what it pushes; nothing realised
    again = devshell("cache", "push", cwd=root, env=cache, check=True)
    assert "0 outputs pushed" in again.stderr and "1 already there" in again.stderr
    status = json.loads(devshell("cache", "status", "--format", "json", cwd=root, env=cache, check=True).stdout)
    assert [o["cached"] for o in status["outputs"]] == [True]


def test_a_tampered_blob_is_refused_and_the_upstream_used(
        tmp_path: Path, server: LoopbackServer, oci: Registry) -> None:
    root = _hello(tmp_path, server)
    cache = {"DEVSHELL_CACHE": oci.url(REPO)}
    devshell("cache", "push", cwd=root, env=cache, check=True)
    output = str(_output(root, "hello")["output"])
    layers = skopeo_raw(f"{oci.host}/{REPO}:{tag_for(output)}")["layers"]
    assert isinstance(layers, list) and len(layers) == 1
    blob = oci.blob_file(layers[0]["digest"])
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    blob.write_bytes(bytes(data))

    hits = server.hits[next(iter(server.routes))]
    proc = devshell("run", "--", "hello", cwd=root, env=_fresh(tmp_path, "other-home", oci.url(REPO)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello 1.0 \n"
    assert f"refused hello 1.0 (x86_64-linux) of {output} from the cache {oci.host}/{REPO}" in proc.stderr
    assert "hash mismatch" in proc.stderr
    assert server.hits[next(iter(server.routes))] == hits + 1  # the upstream served it


def test_an_unreachable_cache_falls_back_to_the_upstream(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello(tmp_path, server)
    gone = LoopbackServer().start()
    url = f"oci://127.0.0.1:{gone.url.rsplit(':', 1)[1]}/{REPO}"
    gone.stop()
    devshell("lock", cwd=root, check=True)
    proc = devshell("run", "--", "hello", cwd=root, env={**_fresh(tmp_path, "other-home", url),
                                                         "DEVSHELL_HTTP_RETRIES": "0"})
    assert proc.returncode == 0, proc.stderr
    assert "cannot be used" in proc.stderr and "fetching from the upstreams" in proc.stderr


def test_a_cache_miss_is_silent(tmp_path: Path, server: LoopbackServer, oci: Registry) -> None:
    root = _hello(tmp_path, server)
    devshell("lock", cwd=root, check=True)
    proc = devshell("run", "--", "hello", cwd=root, env=_fresh(tmp_path, "other-home", oci.url(REPO)))
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr


def test_the_cache_comes_from_devshells_config_file(tmp_path: Path, server: LoopbackServer, oci: Registry) -> None:
    root = _hello(tmp_path, server)
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "devshell" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[cache]\nurl = "{oci.url(REPO)}"\n')
    devshell("cache", "push", cwd=root, check=True)
    assert skopeo_raw(f"{oci.host}/{REPO}:{tag_for(str(_output(root, 'hello')['output']))}")
    off = devshell("cache", "push", cwd=root, env={"DEVSHELL_CACHE": "off"})
    assert off.returncode == 2 and "no team cache is configured" in off.stderr


def test_a_cache_url_that_is_not_oci_is_a_clear_error(tmp_path: Path, server: LoopbackServer) -> None:
    root = _hello(tmp_path, server)
    proc = devshell("install", cwd=root, env={"DEVSHELL_CACHE": "https://registry.example/team"})
    assert proc.returncode == 2
    assert "DEVSHELL_CACHE: 'https://registry.example/team' is not an oci:// URL" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- the pieces, one by one ------------------------------------------------------


def test_tags_keep_the_store_name_where_tags_allow() -> None:
    name = "0123456789abcdefghijklmnopqrstuv-gcc-12.2.0+ds-1"
    assert tag_for(name) == "0123456789abcdefghijklmnopqrstuv-gcc-12.2.0_ds-1"
    long = "0123456789abcdefghijklmnopqrstuv-" + "x" * 200
    assert len(tag_for(long)) == 128 and tag_for(long).startswith(long[:32])


def test_references_name_their_registry() -> None:
    ref = Reference.parse("127.0.0.1:5000/team/shell:v1")
    assert (ref.registry, ref.repository, ref.tag) == ("127.0.0.1:5000", "team/shell", "v1")
    assert Reference.parse("registry.example/a/b@sha256:" + "0" * 64).digest == "sha256:" + "0" * 64
    for bad in ("team/shell:v1", "registry.example/Team", "registry.example/a:-x", "registry.example/a@sha1:00"):
        with pytest.raises(UsageError):
            Reference.parse(bad)
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost") and is_loopback("[::1]:80")
    assert not is_loopback("registry.example:5000")


def test_credentials_come_from_the_most_specific_auth_entry(tmp_path: Path) -> None:
    auth_file = tmp_path / "auth.json"
    token = base64.b64encode(b"team:s3cret").decode()
    auth_file.write_text(json.dumps({"auths": {
        "https://registry.example": {"auth": base64.b64encode(b"any:one").decode()},
        "registry.example/team": {"auth": token},
        "other.example": {"username": "u", "password": "p"},
    }}))
    env = {"REGISTRY_AUTH_FILE": str(auth_file)}
    found = credentials("registry.example", "team/devshell", env)
    assert found is not None and (found.username, found.password) == ("team", "s3cret")
    other = credentials("registry.example", "elsewhere", env)
    assert other is not None and other.username == "any"
    assert credentials("unknown.example", "x", env) is None
    assert "s3cret" not in repr(found)
    docker = tmp_path / "docker"
    docker.mkdir()
    (docker / "config.json").write_text(json.dumps({"auths": {"other.example": {"username": "u", "password": "p"}}}))
    home_env = {"HOME": str(tmp_path / "nohome"), "DOCKER_CONFIG": str(docker)}
    in_docker = credentials("other.example", "r", home_env)
    assert in_docker is not None and in_docker.origin == str(docker / "config.json")


def test_a_registry_behind_basic_auth_takes_credentials_from_the_auth_file(
        tmp_path: Path, server: LoopbackServer, locked_registry: Registry) -> None:
    root = _hello(tmp_path, server)
    cache = {"DEVSHELL_CACHE": locked_registry.url(REPO)}
    denied = devshell("cache", "push", cwd=root, env=cache)
    assert denied.returncode == 5
    assert "asks for a user name and password" in denied.stderr
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps({"auths": {locked_registry.host: {
        "auth": base64.b64encode(b"team:s3cret").decode()}}}))
    devshell("cache", "push", cwd=root, env={**cache, "REGISTRY_AUTH_FILE": str(auth_file)}, check=True)
    output = str(_output(root, "hello")["output"])
    assert skopeo_raw(f"{locked_registry.host}/{REPO}:{tag_for(output)}", "--creds", "team:s3cret")
    server.stop()
    fresh = {**_fresh(tmp_path, "other-home", locked_registry.url(REPO)), "REGISTRY_AUTH_FILE": str(auth_file)}
    proc = devshell("run", "--", "hello", cwd=root, env=fresh)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr


# --- pushing a layout (what `devshell image --push` does) --------------------------


def _image_layout(root: Path) -> tuple[Layout, Descriptor]:
    """A two-platform image index whose images share one layer."""
    from tests.helpers import tarball

    layout = Layout.create(root)
    shared = layout.add_blob(tarball({"etc/motd": "hi\n"}, top=None, mode="w"), MEDIA_TYPE_LAYER)
    images = []
    for arch in ("amd64", "arm64"):
        config = layout.add_json({"architecture": arch, "os": "linux",
                                  "rootfs": {"type": "layers", "diff_ids": [shared.digest]}}, MEDIA_TYPE_CONFIG)
        entry = layout.add_manifest(Manifest(config, (shared,)))
        images.append(entry.with_platform(Platform(arch, "linux")))
    top = layout.add_index(Index(tuple(images)))
    layout.write_index([top.with_ref_name("v1")])
    return layout, top


def test_a_layout_is_pushed_whole_and_skopeo_copies_it_back(tmp_path: Path, oci: Registry) -> None:
    layout, top = _image_layout(tmp_path / "layout")
    digest = push_layout(tmp_path / "layout", f"{oci.host}/team/shell:v1")
    assert digest == top.digest
    raw = skopeo_raw(f"{oci.host}/team/shell:v1")
    assert [m["platform"]["architecture"] for m in raw["manifests"]] == ["amd64", "arm64"]
    subprocess.run([SKOPEO, "copy", "--all", "--preserve-digests", "--src-tls-verify=false", f"docker://{oci.host}/team/shell:v1",
                    f"oci:{tmp_path / 'copy'}:v1"], check=True, capture_output=True, timeout=60)
    assert Layout.open(tmp_path / "copy").blob_digests() == layout.blob_digests()
    again = push_layout(layout, f"{oci.host}/team/shell:v2")  # every blob there already
    assert again == digest


def test_pushing_needs_a_tag_and_a_registry(tmp_path: Path) -> None:
    _image_layout(tmp_path / "layout")
    for target in ("127.0.0.1:5000/team/shell", "team/shell:v1"):
        with pytest.raises(UsageError):
            push_layout(tmp_path / "layout", target)


def test_running_a_realised_project_never_asks_the_cache(tmp_path: Path, server: LoopbackServer) -> None:
    """Neither the hot path nor the full pipeline (DEVSHELL_NO_HOT) imports the
    cache or reaches the registry once every output is in the store."""
    import re
    import sys

    from tests.helpers import DEVSHELL

    root = _hello(tmp_path, server)
    devshell("install", cwd=root, check=True)
    gone = f"oci://127.0.0.1:{_closed_port()}/{REPO}"
    for extra in ({}, {"DEVSHELL_NO_HOT": "1"}):
        env = {**os.environ, "DEVSHELL_PLATFORM": "x86_64-linux", "DEVSHELL_CACHE": gone, **extra}
        proc = subprocess.run([sys.executable, "-X", "importtime", DEVSHELL, "run", "--", "hello"], cwd=root,
                              env=env, capture_output=True, text=True, timeout=60, check=True)
        modules = {m.group(1) for m in re.finditer(r"^import time:.*\|\s*(\S+)\s*$", proc.stderr, re.MULTILINE)}
        assert proc.stdout == "hello 1.0 \n"
        assert not {m for m in modules if m.startswith("devshell.oci")}, extra
        assert "devshell: warning" not in proc.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class _TokenRegistry:
    """A registry front that asks for a Bearer token from its own realm, as
    hosted registries do; the token is given for good credentials only."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from tests.loopback import serve_in_background

        self.scopes: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/token?"):
                    import urllib.parse

                    query = urllib.parse.parse_qs(self.path.split("?", 1)[1])
                    outer.scopes.append(query["scope"][0])
                    good = "Basic " + base64.b64encode(b"team:s3cret").decode()
                    ok = self.headers.get("Authorization") == good and query["service"] == ["test"]
                    self._answer(200 if ok else 401, b'{"token": "t0ken"}' if ok else b"{}")
                elif self.headers.get("Authorization") != "Bearer t0ken":
                    self._answer(401, b'{"errors": [{"code": "UNAUTHORIZED"}]}', {
                        "WWW-Authenticate": f'Bearer realm="{outer.url}/token",service="test"'})
                else:
                    self._answer(200, b"{}")

            do_HEAD = do_GET

            def _answer(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        serve_in_background(self.httpd)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_bearer_challenge_is_answered_with_a_token_for_the_repository(tmp_path: Path) -> None:
    from devshell.errors import FetchError
    from devshell.oci.auth import Credentials
    from devshell.oci.registry import Registry as Client

    front = _TokenRegistry()
    try:
        host = front.url.removeprefix("http://")
        client = Client(host, "team/devshell", credentials=lambda: Credentials("team", "s3cret", "test"))
        client.ping()
        assert client.has_blob("sha256:" + "0" * 64)
        assert front.scopes == ["repository:team/devshell:pull"]
        stranger = Client(host, "team/devshell", credentials=lambda: Credentials("team", "wrong", "test"))
        with pytest.raises(FetchError, match="HTTP 401"):
            stranger.ping()
    finally:
        front.stop()


def test_the_github_action_pushes_from_one_runner_and_the_next_takes_from_the_cache(
        tmp_path: Path, server: LoopbackServer, oci: Registry) -> None:
    from tests.helpers import DEVSHELL

    setup = Path(__file__).resolve().parent.parent / ".github" / "actions" / "setup-devshell" / "setup.sh"
    root = _hello(tmp_path, server)
    devshell("lock", cwd=root, check=True)

    def runner(name: str, push: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        work = tmp_path / name
        work.mkdir()
        env = {**os.environ, "CI": "true", "DEVSHELL_PLATFORM": "x86_64-linux", "DEVSHELL_SPEC": "",
               "PATH": f"{Path(DEVSHELL).parent}:{os.environ['PATH']}", "RUNNER_TEMP": str(work),
               "DEVSHELL_HOME": str(work / "devshell"), "DEVSHELL_CACHE": oci.url(REPO),
               "DEVSHELL_CACHE_PUSH": push}
        for var in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT"):
            (work / var).write_text("")
            env[var] = str(work / var)
        proc = subprocess.run(["bash", str(setup)], cwd=root, env=env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        return proc, work

    first, work = runner("first", "true")
    assert first.returncode == 0, first.stderr
    assert "1 output pushed" in first.stderr
    assert f"DEVSHELL_CACHE={oci.url(REPO)}" in (work / "GITHUB_ENV").read_text().splitlines()
    server.stop()
    second, _ = runner("second", "false")
    assert second.returncode == 0, second.stderr
    assert "(from the cache)" in second.stderr


def test_an_unreadable_auth_file_falls_back_to_the_upstream(
        tmp_path: Path, server: LoopbackServer, locked_registry: Registry) -> None:
    """A cache whose credentials cannot be read is a cache that cannot be
    used: one warning, and the upstream, never a failed `run`."""
    root = _hello(tmp_path, server)
    broken = tmp_path / "auth.json"
    broken.write_text("{not json")
    devshell("lock", cwd=root, check=True)
    env = {**_fresh(tmp_path, "other-home", locked_registry.url(REPO)), "REGISTRY_AUTH_FILE": str(broken)}
    proc = devshell("run", "--", "hello", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("warning:") == 1 and "cannot be used" in proc.stderr, proc.stderr
