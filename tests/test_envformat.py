"""Every output format of `devshell env` is inert when its consumer evals or
sources it: values come back byte for byte and nothing in them runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from devshell.shell import formats as envformat

HOSTILE = [
    "plain",
    "`touch {m}`",
    "$(touch {m})",
    "${{HOME}} $HOME",
    "a'b\"c\\d",
    "new\nline `touch {m}`",
    "!history !! \\$(touch {m})",
]


def _values(marker: Path) -> dict[str, str]:
    return {f"V{i}": v.format(m=marker) for i, v in enumerate(HOSTILE)}


@pytest.mark.parametrize("fmt", ["sh", "dotenv", "direnv"])
def test_posix_formats_are_inert_when_sourced(fmt: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    values = _values(marker)
    env = {"PATH": "/usr/bin:/bin", **values}
    out = tmp_path / "env.sh"
    out.write_text(envformat.render(fmt, env, ["/usr/bin", "/bin"]))
    names = " ".join(values)
    code = f'set -a; . "{out}"; for n in {names}; do eval "printf \'%s\\\\0\' \\"\\${{$n}}\\""; done'
    proc = subprocess.run(["sh", "-c", code], capture_output=True, timeout=30, check=True)
    got = proc.stdout.decode().split("\0")[:-1]
    if fmt == "dotenv":  # dotenv spells a newline `\n`, for its own readers
        got = [g.replace("\\n", "\n") for g in got]
    assert got == list(values.values())
    assert not marker.exists()


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_format_is_inert_when_sourced(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    values = _values(marker)
    out = tmp_path / "env.fish"
    out.write_text(envformat.render("fish", values, []))
    code = f"source {out}; " + "; ".join(f"printf '%s\\0' \"${n}\"" for n in values)
    proc = subprocess.run(["fish", "--no-config", "-c", code], capture_output=True, timeout=30, check=True)
    assert proc.stdout.decode().split("\0")[:-1] == list(values.values())
    assert not marker.exists()
