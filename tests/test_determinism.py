"""The same inputs give the same bytes and the same names, on any machine.

DESIGN.md, "The lock": devshell.lock is byte-identical for the same inputs
(two-space indent, keys sorted, trailing newline), and `output` names are the
same on every machine, which is what makes a shared cache and `verify` work.
Two DEVSHELL_HOME roots stand in for two machines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer

_BOTH = '["x86_64-linux", "aarch64-darwin"]'


def _tool(server: LoopbackServer, name: str, version: str, bin_: str | None = None) -> str:
    """A url tool served for both platforms, as a `[tools]` line."""
    shas = {}
    for plat in ("x86_64-linux", "aarch64-darwin"):
        url, shas[plat] = serve_tool(
            server, name, version,
            {f"bin/{name}": script(f'echo "{name} {version} on {plat} $*"'),
             "share/doc/README": f"{name} {version}\n"},
            platform=plat,
        )
    extra = {"bin": bin_} if bin_ is not None else {}
    return url_tool(name, version, url, shas, **extra)


def _assert_canonical(text: str) -> None:
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_locking_the_same_spec_twice_gives_identical_bytes(
        tmp_path: Path, server: LoopbackServer) -> None:
    # Written out of order, one tool with bin discovered from its archive.
    tools = _tool(server, "zeta", "2.1", bin_='["bin/zeta"]') + _tool(server, "alpha", "0.3")
    first, second = tmp_path / "a" / "proj", tmp_path / "b" / "proj"
    write_spec(first, tools, platforms=_BOTH)
    write_spec(second, tools, platforms=_BOTH)

    devshell("lock", cwd=first, check=True)
    text = (first / "devshell.lock").read_bytes()
    (first / "devshell.lock").unlink()
    devshell("lock", cwd=first, check=True)
    assert (first / "devshell.lock").read_bytes() == text

    # Another project directory and another DEVSHELL_HOME: another machine.
    devshell("lock", cwd=second, env={"DEVSHELL_HOME": str(tmp_path / "other-home")}, check=True)
    assert (second / "devshell.lock").read_bytes() == text

    decoded = text.decode("utf-8")
    _assert_canonical(decoded)
    assert list(json.loads(decoded)["tools"]) == ["alpha", "zeta"]
    assert json.loads(decoded)["tools"]["alpha"]["platforms"]["x86_64-linux"]["bin"] == ["bin/alpha"]
    for local in (str(tmp_path), os.environ["DEVSHELL_HOME"]):
        assert local not in decoded


def test_two_homes_realise_a_lock_under_the_same_names(
        tmp_path: Path, server: LoopbackServer) -> None:
    root = tmp_path / "proj"
    write_spec(root, _tool(server, "hello", "1.0") + _tool(server, "world", "2.0"))
    devshell("lock", cwd=root, check=True)
    lock = (root / "devshell.lock").read_bytes()

    seen = []
    for home in (tmp_path / "home-one", tmp_path / "home-two"):
        env = {"DEVSHELL_HOME": str(home)}
        outputs = [
            Path(devshell("store", "path", name, cwd=root, env=env, check=True).stdout.strip())
            for name in ("hello", "world")
        ]
        assert all(out.parent == home / "store" for out in outputs)
        shown = json.loads(devshell("env", "--format", "json", cwd=root, env=env, check=True).stdout)
        profile = Path(shown["DEVSHELL_PROFILE"])
        assert profile.parent == home / "store"
        manifests = {p.name: p.read_bytes() for p in sorted((home / "meta").glob("*.json"))}
        hello_sha = json.loads(manifests[f"{outputs[0].name}.json"])["sha256"]
        seen.append(([o.name for o in outputs], profile.name, hello_sha, manifests))

    (names_a, profile_a, sha_a, manifests_a), (names_b, profile_b, sha_b, manifests_b) = seen
    assert names_a == names_b
    assert profile_a == profile_b and profile_a.endswith("-profile-proj")
    assert sha_a == sha_b
    assert manifests_a == manifests_b  # every output's manifest, byte for byte
    assert len(manifests_a) == 3  # two tools and the profile
    assert (root / "devshell.lock").read_bytes() == lock  # realising never re-locks


def test_adding_a_tool_keeps_the_other_pins_and_update_names_known_tools(
        tmp_path: Path, server: LoopbackServer) -> None:
    root = tmp_path / "proj"
    spec = write_spec(root, _tool(server, "hello", "1.0", bin_='["bin/hello"]'))
    devshell("lock", cwd=root, check=True)
    before = json.loads((root / "devshell.lock").read_text())["tools"]["hello"]

    with spec.open("a") as f:
        f.write(_tool(server, "world", "2.0", bin_='["bin/world"]'))
    proc = devshell("lock", cwd=root, check=True)
    assert "world: added 2.0" in proc.stderr
    assert "hello:" not in proc.stderr
    text = (root / "devshell.lock").read_text()
    _assert_canonical(text)
    after = json.loads(text)["tools"]
    assert json.dumps(after["hello"], sort_keys=True) == json.dumps(before, sort_keys=True)
    assert sorted(after) == ["hello", "world"]

    # Re-resolving an exact url tool lands on the very same pin.
    devshell("lock", "--update", "hello", cwd=root, check=True)
    assert (root / "devshell.lock").read_text() == text

    proc = devshell("lock", "--update", "nosuch", cwd=root)
    assert proc.returncode == 2, proc.stderr
    assert "nosuch" in proc.stderr
    assert "hello, world" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (root / "devshell.lock").read_text() == text
