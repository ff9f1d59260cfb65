"""The wheel a user installs: a working `devshell` launcher, the licence,
the data files the shells and the catalogue read."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = out.glob("devshell-*.whl")
    return wheel


def test_a_built_wheel_installs_a_working_launcher(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert any(n.endswith(".data/scripts/devshell") for n in names)
    for data in ("devshell/shells/direnvrc", "devshell/shells/zsh/.zshrc", "devshell/catalog/tools.toml"):
        assert data in names

    prefix = tmp_path / "prefix"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                    "--prefix", str(prefix), str(wheel)], check=True, capture_output=True, timeout=300)
    launcher = prefix / "bin" / "devshell"
    (site,) = prefix.glob("lib/python3*/site-packages")
    # The installed package, not this checkout: run from elsewhere, with only
    # the installed copy and the dependencies already on this interpreter.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([str(launcher), "--version"], capture_output=True, text=True, timeout=60,
                          env=env, cwd=tmp_path, check=True)
    assert proc.stdout.startswith("devshell ")
    where = subprocess.run([str(launcher), "hook", "direnv"], capture_output=True, text=True,
                           timeout=60, env=env, cwd=tmp_path, check=True).stdout
    assert "use_devshell()" in where
    shebang = launcher.read_text().splitlines()[0]
    assert shebang.startswith("#!") and "python" in shebang
