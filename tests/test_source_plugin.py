"""A source from another package, through the `devshell.sources` entry
point: its own [tools] key, its own [sources.NAME] settings and its own lock
URLs, locked, realised and run by the real console script."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import devshell, script, sha256, tarball
from tests.loopback import LoopbackServer

PLUGIN = Path(__file__).parent / "plugin_source"


@pytest.fixture
def env() -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([os.environ.get("PYTHONPATH", ""), str(PLUGIN)])}


def _serve(server: LoopbackServer) -> None:
    versions = {}
    for version in ("1.1", "1.2", "2.0"):
        body = tarball({"bin/hello": script(f"echo hello from plug {version}")}, top=f"hello-{version}")
        server.add(f"/files/hello-{version}.tar.gz", body)
        versions[version] = {"file": f"hello-{version}.tar.gz", "sha256": sha256(body)}
    server.add("/index.json", json.dumps({"versions": versions}).encode())


def test_a_plugged_in_source_locks_realises_and_runs(tmp_path: Path, server: LoopbackServer,
                                                    env: dict[str, str]) -> None:
    _serve(server)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "devshell.toml").write_text(
        '[shell]\nplatforms = ["x86_64-linux"]\n'
        f'[sources.plug]\nbase = "{server.url}/files/"\n'
        f'[tools]\n"plug:hello" = {{ version = "1", index = "{server.url}/index.json" }}\n'
    )
    devshell("lock", cwd=root, env=env, check=True)
    lock = json.loads((root / "devshell.lock").read_text())
    entry = lock["tools"]["hello"]
    assert entry["source"] == "plug" and entry["version"] == "1.2"
    assert entry["platforms"]["x86_64-linux"]["url"] == "plug:hello-1.2.tar.gz"  # no host
    proc = devshell("run", "--", "hello", cwd=root, env=env, check=True)
    assert proc.stdout == "hello from plug 1.2\n"


def test_its_own_keys_and_settings_are_checked_by_it(tmp_path: Path, env: dict[str, str]) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "devshell.toml").write_text('[tools]\n"plug:hello" = { version = "1", index = 3 }\n')
    proc = devshell("lock", cwd=root, env=env)
    assert proc.returncode == 3
    assert "tools.plug:hello.index: must be the http(s) URL of the tool's index" in proc.stderr
    # Without the plug-in installed, the same spec names a source nobody has.
    proc = devshell("lock", cwd=root)
    assert proc.returncode == 3
    assert "tools.plug:hello: 'plug:hello' is not a tool name" in proc.stderr
    assert '"pypi:NAME"' in proc.stderr and '"plug:NAME"' not in proc.stderr


def test_init_lists_its_way_of_naming_packages(tmp_path: Path, env: dict[str, str]) -> None:
    devshell("init", "--yes", cwd=tmp_path, env=env, check=True)
    assert '#   "plug:NAME" = "1.2"   a tool from a plug index' in (tmp_path / "devshell.toml").read_text()


def test_a_spec_of_built_in_sources_does_not_look_for_plug_ins(tmp_path: Path) -> None:
    # Reading the installed packages' entry points costs a cold install
    # about 15 ms; a spec that names only built-in sources never needs them.
    from devshell import sources, spec

    path = tmp_path / "devshell.toml"
    path.write_text('[shell]\nplatforms = ["x86_64-linux"]\n[sources.deb]\nsuite = "testing-fake"\n'
                    '[tools]\nruff = "0.6"\n"pypi:black" = "24"\n"npm:eslint" = "9"\n'
                    'hello = { version = "1.0", url = "http://127.0.0.1:9/h.tgz", sha256 = { "x86_64-linux" = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" } }\n')
    sources._entry_points.cache_clear()
    parsed = spec.load(path)
    assert [t.source for t in parsed.tools] == ["pypi", "pypi", "npm", "url"]
    assert sources.for_scheme("pypi") is not None
    assert sources._entry_points.cache_info().misses == 0
