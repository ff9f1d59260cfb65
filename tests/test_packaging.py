"""The wheel a user installs: a working `devshell` launcher, the licence,
the data files the shells and the catalogue read."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
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
    for data in ("devshell/shell/rc/direnvrc", "devshell/shell/rc/zsh/.zshrc", "devshell/catalog/tools.toml"):
        assert data in names

    # A venv of its own: installing into this one would replace the checkout's
    # own (editable) devshell.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                    "--no-deps", "--no-index", "-q", str(wheel)], check=True, capture_output=True, timeout=300)
    launcher = venv / "bin" / "devshell"
    # The dependencies come from this interpreter's site-packages; its
    # editable devshell does not (a .pth is not read from PYTHONPATH).
    # The dependencies come from this interpreter's site-packages, but never
    # its own devshell (an editable or a normal install): links to everything
    # else there.
    deps = tmp_path / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(("devshell", "__editable__")):
            (deps / entry.name).symlink_to(entry)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.environ.get("PYTHONPATH", ""), str(deps)]))
    proc = subprocess.run([str(launcher), "--version"], capture_output=True, text=True, timeout=60,
                          env=env, cwd=tmp_path, check=True)
    assert proc.stdout.startswith("devshell ")
    origin = subprocess.run([str(venv / "bin" / "python"), "-c", "import devshell; print(devshell.__file__)"],
                            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
                            check=True).stdout
    assert origin.startswith(str(venv))
    where = subprocess.run([str(launcher), "hook", "direnv"], capture_output=True, text=True,
                           timeout=60, env=env, cwd=tmp_path, check=True).stdout
    assert "use_devshell()" in where
    shebang = launcher.read_text().splitlines()[0]
    assert shebang.startswith("#!") and "python" in shebang
