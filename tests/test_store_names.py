"""Store names cover the whole name, and everything keyed by an output uses
its whole name: two outputs that differ only by name (two projects' profiles
under different shell names; an archive pinned as 1.0.0 and again as 2.0.0)
never share a digest, a manifest, or a lock file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from devshell import lock, store
from devshell.home import Home
from tests.helpers import devshell, script, sha256, tarball, url_tool, write_spec
from tests.loopback import LoopbackServer


def _home() -> Home:
    return Home(Path(os.environ["DEVSHELL_HOME"]))


def _outputs() -> list[str]:
    return sorted(p.name for p in _home().store.iterdir() if not p.name.startswith("."))


def _hello(server: LoopbackServer) -> tuple[str, str]:
    """One archive, served under every version's URL: the same bytes, the same sha256."""
    body = tarball({"bin/hello": script('echo "hello"')}, top="hello")
    for version in ("1.0.0", "2.0.0"):
        server.add(f"/hello-{version}.tar.gz", body)
    return f"{server.url}/hello-{{version}}.tar.gz", sha256(body)


def test_two_projects_with_the_same_tools_under_different_names_verify_clean(
        tmp_path: Path, server: LoopbackServer) -> None:
    url, sha = _hello(server)
    line = url_tool("hello", "1.0.0", url, {"x86_64-linux": sha})
    for name in ("a", "b"):
        write_spec(tmp_path / name, line, extra=f'name = "{name}"')
        devshell("install", cwd=tmp_path / name, check=True)
    profiles = [n for n in _outputs() if "-profile-" in n]
    assert sorted(n.split("-profile-")[1] for n in profiles) == ["a", "b"]
    assert len({n.split("-", 1)[0] for n in profiles}) == 2  # the digest covers the name
    proc = devshell("verify", "--all", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DAMAGED" not in proc.stdout
    for name in _outputs():
        assert json.loads((_home().meta / f"{name}.json").read_text())["name"] == name


def test_a_url_tool_bumped_with_its_old_sha256_gets_its_own_output_and_manifest(
        tmp_path: Path, server: LoopbackServer) -> None:
    url, sha = _hello(server)
    root = tmp_path / "proj"
    spec = write_spec(root, url_tool("hello", "1.0.0", url, {"x86_64-linux": sha}))
    devshell("install", cwd=root, check=True)
    spec.write_text(spec.read_text().replace('"1.0.0"', '"2.0.0"'))
    devshell("install", cwd=root, check=True)
    tools = [n for n in _outputs() if "-hello-" in n]
    assert [n.split("-", 1)[1] for n in tools] in (["hello-1.0.0", "hello-2.0.0"],
                                                    ["hello-2.0.0", "hello-1.0.0"])
    assert tools[0].split("-", 1)[0] != tools[1].split("-", 1)[0]
    proc = devshell("verify", "--all", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok ") == len(_outputs())


def test_gc_removes_only_the_collected_outputs_manifest(tmp_path: Path, server: LoopbackServer) -> None:
    url, sha = _hello(server)
    line = url_tool("hello", "1.0.0", url, {"x86_64-linux": sha})
    for name in ("keep", "gone"):
        write_spec(tmp_path / name, line, extra=f'name = "{name}"')
        devshell("install", cwd=tmp_path / name, check=True)
    (tmp_path / "gone" / "devshell.toml").unlink()
    devshell("gc", cwd=tmp_path, check=True)
    assert not [n for n in _outputs() if n.endswith("-profile-gone")]
    kept = [n for n in _outputs() if n.endswith("-profile-keep")]
    assert kept and (_home().meta / f"{kept[0]}.json").is_file()
    assert sorted(p.name for p in _home().meta.iterdir()) == sorted(f"{n}.json" for n in _outputs())
    proc = devshell("verify", "--all", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_output_digest_covers_the_name_and_the_version() -> None:
    shape = {"integrity": "sha256-" + "A" * 43 + "=", "format": "tar.gz", "strip": "auto",
             "bin": ["bin/x"], "fixups": []}
    digests = {lock.output_name(name, version, shape).split("-", 1)[0]
               for name, version in (("x", "1.0"), ("x", "2.0"), ("y", "1.0"), ("x-1", "0"))}
    assert len(digests) == 4


def test_a_manifest_written_under_the_digest_alone_is_still_read_if_it_is_its_own() -> None:
    home = _home()
    home.meta.mkdir(parents=True)
    name = "0" * 32 + "-hello-1.0"
    other = "0" * 32 + "-hello-2.0"
    (home.meta / ("0" * 32 + ".json")).write_text(json.dumps({"name": name, "files": []}))
    assert store.read_manifest(home, name) == {"name": name, "files": []}
    assert store.read_manifest(home, other) is None  # the legacy file is another output's
    store.remove_manifest(home, other)
    assert (home.meta / ("0" * 32 + ".json")).is_file()
    store.remove_manifest(home, name)
    assert list(home.meta.iterdir()) == []
