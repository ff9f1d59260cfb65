"""JavaScript tools with dependency trees, resolved by the pinned node's own
npm against a loopback registry the tests fill: a tool with a dependency, a
dependency that needs another version of the first (a nested node_modules),
per-platform optional native packages, and a package with an install script.

The pinned `node` is a url tool whose programs run the host's node and npm,
as a store node would."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import devshell, sha256, tarball, url_tool, write_spec
from tests.loopback import LoopbackServer
from tests.npm_registry import FakeRegistry

pytestmark = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="needs the host's node and npm to stand in for a pinned node")

LINTER = """#!/usr/bin/env node
const helper = require("helper");
const wrapper = require("wrapper");
let native = "no native build";
for (const name of ["@linter/native-linux-x64", "@linter/native-darwin-arm64"]) {
  try { native = require(name); } catch (e) {}
}
console.log(`linter 1.0.0, ${helper}, ${wrapper}, ${native}, on ${process.execPath}`);
"""


def _module(name: str, version: str, body: str) -> dict[str, str | bytes]:
    return {"package.json": json.dumps({"name": name, "version": version, "main": "index.js"}),
            "index.js": body}


def _publish(registry: FakeRegistry, name: str, version: str, files: dict[str, str | bytes],
             **fields: Any) -> str:
    sri = registry.publish(name, version, files, **fields)
    if "/" in name:  # npm asks for `@scope%2fname`, lower case
        doc = json.dumps(registry.docs[name]).encode()
        registry.server.add("/" + name.replace("/", "%2f"), doc, content_type="application/json")
    return sri


@pytest.fixture
def tree(registry: FakeRegistry) -> dict[str, str]:
    """The registry's packages; their integrity by `name@version`."""
    sris = {}
    sris["helper@1.0.0"] = _publish(registry, "helper", "1.0.0", _module("helper", "1.0.0", 'module.exports = "helper 1";'))
    sris["helper@2.0.0"] = _publish(registry, "helper", "2.0.0", _module("helper", "2.0.0", 'module.exports = "helper 2";'))
    sris["wrapper@1.0.0"] = _publish(
        registry, "wrapper", "1.0.0",
        _module("wrapper", "1.0.0", 'module.exports = "wrapper with " + require("helper");'),
        dependencies={"helper": "^2.0.0"}, scripts={"postinstall": "node setup.js"}, hasInstallScript=True)
    for plat, os_, cpu in (("linux-x64", "linux", "x64"), ("darwin-arm64", "darwin", "arm64")):
        name = f"@linter/native-{plat}"
        sris[f"{name}@1.0.0"] = _publish(registry, name, "1.0.0",
                                         _module(name, "1.0.0", f'module.exports = "native {plat}";'),
                                         os=[os_], cpu=[cpu])
    linter: dict[str, str | bytes] = {"package.json": json.dumps({"name": "linter", "version": "1.0.0", "bin": {"linter": "bin/linter.js"}}),
              "bin/linter.js": LINTER}
    sris["linter@1.0.0"] = _publish(
        registry, "linter", "1.0.0", linter, bin={"linter": "bin/linter.js"},
        dependencies={"helper": "^1.0.0", "wrapper": "^1.0.0"},
        optionalDependencies={"@linter/native-linux-x64": "1.0.0", "@linter/native-darwin-arm64": "1.0.0"})
    return sris


def _node_tool(server: LoopbackServer) -> str:
    """`node`: bin/node runs the host's node; bin/npm-cli.js loads the host's npm."""
    node = os.path.realpath(shutil.which("node") or "")
    npm_cli = os.path.realpath(shutil.which("npm") or "")
    body = tarball({"bin/node": f'#!/bin/sh\nexec {node} "$@"\n',
                    "bin/npm-cli.js": f"require({json.dumps(npm_cli)});\n"}, top="node-20.0.0")
    server.add("/node-20.0.0.tar.gz", body)
    return url_tool("node", "20.0.0", f"{server.url}/node-{{version}}.tar.gz",
                    {"x86_64-linux": sha256(body), "aarch64-darwin": sha256(body)},
                    bin='["bin/node", "npm=bin/npm-cli.js"]')


def _project(tmp_path: Path, server: LoopbackServer, tools: str, platforms: str = '["x86_64-linux"]') -> Path:
    return write_spec(tmp_path / "proj", tools + _node_tool(server), platforms=platforms).parent


def test_the_lock_records_every_package_of_each_platforms_tree(tmp_path: Path, server: LoopbackServer,
                                                               tree: dict[str, str]) -> None:
    root = _project(tmp_path, server, '"npm:linter" = "1"\n', platforms='["x86_64-linux", "aarch64-darwin"]')
    proc = devshell("lock", cwd=root, check=True, timeout=300)
    assert "install scripts are never run" in proc.stderr and "wrapper 1.0.0" in proc.stderr
    locked = json.loads((root / "devshell.lock").read_text())["tools"]["linter"]
    assert locked["source"] == "npm" and locked["version"] == "1.0.0" and locked["needs"] == ["node"]
    for plat, native, other in (("x86_64-linux", "linux-x64", "darwin-arm64"),
                                ("aarch64-darwin", "darwin-arm64", "linux-x64")):
        art = locked["platforms"][plat]
        assert art["unpack"]["format"] == "npmtree"
        assert art["bin"] == ["linter=node_modules/linter/bin/linter.js"]
        assert art["integrity"] == tree["linter@1.0.0"]
        parts = {p["path"]: (f"{p['name']}@{p['version']}", p["integrity"], p["url"]) for p in art["closure"]}
        assert set(parts) == {"node_modules/linter", "node_modules/helper", "node_modules/wrapper",
                              "node_modules/wrapper/node_modules/helper", f"node_modules/@linter/native-{native}"}
        assert f"node_modules/@linter/native-{other}" not in parts
        for path, (spec, sri, url) in parts.items():
            assert sri == tree[spec], path  # the registry's own integrity
            assert url.startswith("npm:") and server.url not in url  # no host in the lock
        assert parts["node_modules/wrapper/node_modules/helper"][0] == "helper@2.0.0"
        assert parts["node_modules/helper"][0] == "helper@1.0.0"


def test_the_tool_runs_on_the_pinned_node_and_realises_without_the_registry(
        tmp_path: Path, server: LoopbackServer, tree: dict[str, str]) -> None:
    root = _project(tmp_path, server, '"npm:linter" = "1"\n')
    devshell("lock", cwd=root, check=True, timeout=300)
    ran = devshell("run", "--", "linter", cwd=root, check=True, timeout=120).stdout
    assert ran.startswith("linter 1.0.0, helper 1, wrapper with helper 2, native linux-x64, on ")
    home = Path(os.environ["DEVSHELL_HOME"])
    art = json.loads((root / "devshell.lock").read_text())["tools"]["linter"]["platforms"]["x86_64-linux"]
    out = home / "store" / art["output"]
    assert not (out / "node_modules" / "wrapper" / "setup.js").exists()  # nothing but the tarballs
    assert devshell("verify", cwd=root).returncode == 0
    # Again from nothing but the download cache: the registry is gone.
    shutil.rmtree(home / "store")
    shutil.rmtree(home / "meta", ignore_errors=True)
    dead = {"npm_config_registry": "http://127.0.0.1:9/"}
    devshell("install", "--locked", cwd=root, env=dead, check=True, timeout=300)
    again = devshell("run", "--", "linter", cwd=root, env=dead, check=True).stdout
    assert again.startswith("linter 1.0.0, helper 1, wrapper with helper 2, native linux-x64")


def test_a_tree_that_cannot_run_here_is_one_clear_line(tmp_path: Path, server: LoopbackServer,
                                                       registry: FakeRegistry) -> None:
    _publish(registry, "@only/mac", "1.0.0", _module("@only/mac", "1.0.0", ""), os=["darwin"], cpu=["arm64"])
    _publish(registry, "macky", "1.0.0", {"package.json": "{}", "cli.js": "#!/usr/bin/env node\n"},
             bin={"macky": "cli.js"}, dependencies={"@only/mac": "1.0.0"})
    root = _project(tmp_path, server, '"npm:macky" = "1"\n')
    proc = devshell("lock", cwd=root, timeout=300)
    assert proc.returncode == 5, proc.stderr  # npm's resolver refuses it for this machine, in its words
    assert "npm could not resolve macky@1.0.0: code EBADPLATFORM" in proc.stderr
    assert "Unsupported platform for @only/mac@1.0.0" in proc.stderr
    assert "Traceback" not in proc.stderr and not (root / "devshell.lock").exists()


def test_a_version_the_registry_lacks_is_npms_own_words(tmp_path: Path, server: LoopbackServer,
                                                        registry: FakeRegistry) -> None:
    _publish(registry, "broken", "1.0.0", {"package.json": "{}", "cli.js": ""}, bin={"broken": "cli.js"},
             dependencies={"missing-dep": "^3"})
    _publish(registry, "missing-dep", "1.0.0", _module("missing-dep", "1.0.0", ""))
    root = _project(tmp_path, server, '"npm:broken" = "1"\n')
    proc = devshell("lock", cwd=root, timeout=300)
    assert proc.returncode == 5, proc.stderr
    assert "npm could not resolve broken@1.0.0" in proc.stderr and "missing-dep" in proc.stderr
    assert "Traceback" not in proc.stderr and not (root / "devshell.lock").exists()


def test_a_package_that_must_build_a_native_addon_is_named(tmp_path: Path, server: LoopbackServer,
                                                           registry: FakeRegistry) -> None:
    _publish(registry, "addon", "1.0.0", {"package.json": "{}", "binding.gyp": "{}"},
             gypfile=True, hasInstallScript=True, scripts={"install": "node-gyp rebuild"})
    _publish(registry, "usesaddon", "1.0.0", {"package.json": "{}", "cli.js": "#!/usr/bin/env node\n"},
             bin={"usesaddon": "cli.js"}, dependencies={"addon": "1.0.0"})
    root = _project(tmp_path, server, '"npm:usesaddon" = "1"\n')
    proc = devshell("lock", cwd=root, timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert ("tools.usesaddon: addon 1.0.0 in its tree must build a native addon in its install script, "
            "and devshell runs no install script") in proc.stderr
    assert "Traceback" not in proc.stderr and not (root / "devshell.lock").exists()
