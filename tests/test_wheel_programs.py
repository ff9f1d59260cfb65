"""A binary tool wheel's programs, read from the wheel itself: its
`.data/scripts/`, its data directories (an older ninja wheel keeps its
program at ninja/data/bin/ninja), never a console_scripts entry point alone
(those need Python). Every name and path read from a wheel is checked."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from devshell.sources import wheels
from tests.helpers import devshell
from tests.loopback import LoopbackServer
from tests.pypi_index import FakeIndex

LINUX = "manylinux_2_17_x86_64.manylinux2014_x86_64"


def _wheel(dist: str, version: str, files: dict[str, str], modes: dict[str, int] | None = None,
           console_scripts: dict[str, str] | None = None) -> tuple[str, bytes]:
    """A wheel laid out as given: path → text, with Unix modes where told
    (0o755 for anything under a bin/ or scripts/ directory otherwise)."""
    buf = io.BytesIO()
    info_dir = f"{dist}-{version}.dist-info"
    with zipfile.ZipFile(buf, "w") as z:
        for path, text in files.items():
            info = zipfile.ZipInfo(path)
            info.create_system = 3
            default = 0o755 if "/bin/" in path or "/scripts/" in path else 0o644
            info.external_attr = (0o100000 | (modes or {}).get(path, default)) << 16
            z.writestr(info, text)
        if console_scripts:
            z.writestr(f"{info_dir}/entry_points.txt", "[console_scripts]\n" + "".join(
                f"{name} = {target}\n" for name, target in console_scripts.items()))
        z.writestr(f"{info_dir}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        z.writestr(f"{info_dir}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: py3-none-any\n")
        z.writestr(f"{info_dir}/RECORD", "".join(f"{p},,\n" for p in files) + f"{info_dir}/RECORD,,\n")
    return f"{dist}-{version}-py3-none-{LINUX}.whl", buf.getvalue()


def _echo(text: str) -> str:
    return f'#!/bin/sh\necho "{text} $*"\n'


def _project(tmp_path: Path, tools: str) -> Path:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "devshell.toml").write_text(f'[shell]\nplatforms = ["x86_64-linux"]\n\n[tools]\n{tools}')
    return root


def _bin(root: Path, tool: str) -> list[str]:
    data = json.loads((root / "devshell.lock").read_text())
    entries: list[str] = data["tools"][tool]["platforms"]["x86_64-linux"]["bin"]
    return entries


def test_an_older_ninja_wheel_runs_the_program_it_keeps_in_its_package(tmp_path: Path,
                                                                      server: LoopbackServer) -> None:
    idx = FakeIndex(server)
    idx.add("ninja", *_wheel("ninja", "1.10.2.4", {
        "ninja/__init__.py": "def ninja(): ...\n",
        "ninja/data/bin/ninja": _echo("ninja 1.10.2"),
    }, console_scripts={"ninja": "ninja:ninja"}))
    root = _project(tmp_path, 'ninja = "1.10"\n')
    proc = devshell("run", "--", "ninja", "--version", cwd=root, env={"PIP_INDEX_URL": idx.url()}, check=True)
    assert proc.stdout == "ninja 1.10.2 --version\n"
    assert _bin(root, "ninja") == ["ninja/data/bin/ninja"]


def test_a_newer_ninja_wheel_runs_its_data_script(tmp_path: Path, server: LoopbackServer) -> None:
    idx = FakeIndex(server)
    idx.add("ninja", *_wheel("ninja", "1.11.1.1", {"ninja-1.11.1.1.data/scripts/ninja": _echo("ninja 1.11.1")}))
    root = _project(tmp_path, 'ninja = "1.11"\n')
    proc = devshell("run", "--", "ninja", cwd=root, env={"PIP_INDEX_URL": idx.url()}, check=True)
    assert proc.stdout == "ninja 1.11.1 \n"
    assert _bin(root, "ninja") == ["ninja-1.11.1.1.data/scripts/ninja"]


def test_data_directory_programs_are_the_ones_its_entry_points_name(tmp_path: Path,
                                                                     server: LoopbackServer) -> None:
    idx = FakeIndex(server)
    idx.add("fakecmake", *_wheel("fakecmake", "3.0.0", {
        "fakecmake/__init__.py": "",
        "fakecmake/data/bin/fakecmake": _echo("fakecmake"),
        "fakecmake/data/bin/fakectest": _echo("fakectest"),
        "fakecmake/data/bin/helper-not-a-command": _echo("helper"),
        "fakecmake/data/share/readme.txt": "not a program",
    }, console_scripts={"fakecmake": "fakecmake:cmake", "fakectest": "fakecmake:ctest"}))
    root = _project(tmp_path, '"pypi:fakecmake" = "3"\n')
    devshell("lock", cwd=root, env={"PIP_INDEX_URL": idx.url()}, check=True)
    assert _bin(root, "fakecmake") == ["fakecmake/data/bin/fakecmake", "fakecmake/data/bin/fakectest"]


def test_python_entry_points_alone_are_not_programs(tmp_path: Path, server: LoopbackServer) -> None:
    idx = FakeIndex(server)
    idx.add("pyonly", *_wheel("pyonly", "1.0.0", {"pyonly/__init__.py": "def main(): ...\n"},
                              console_scripts={"pyonly": "pyonly:main"}))
    root = _project(tmp_path, '"pypi:pyonly" = "1"\n')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": idx.url()})
    assert proc.returncode == 3, proc.stderr
    assert "ships no programs" in proc.stderr
    assert "pyonly" in proc.stderr and "console_scripts" in proc.stderr and "need Python" in proc.stderr
    assert not (root / "devshell.lock").exists()


@pytest.mark.parametrize(("member", "what"), [
    ("hostile-1.0.0.data/scripts/-rf", "'-rf'"),
    ("hostile-1.0.0.data/scripts/two words", "'two words'"),
    ("hostile/data/bin/$(reboot)", "'$(reboot)'"),
])
def test_a_program_name_read_from_a_wheel_must_be_plain(tmp_path: Path, server: LoopbackServer,
                                                        member: str, what: str) -> None:
    idx = FakeIndex(server)
    idx.add("hostile", *_wheel("hostile", "1.0.0", {member: _echo("x")}))
    root = _project(tmp_path, '"pypi:hostile" = "1"\n')
    proc = devshell("lock", cwd=root, env={"PIP_INDEX_URL": idx.url()})
    assert proc.returncode == 5, proc.stderr
    assert what in proc.stderr and "hostile-1.0.0-py3-none-" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (root / "devshell.lock").exists()


# The pure function behind it.

def _zip(files: dict[str, str], modes: dict[str, int] | None = None,
         console_scripts: dict[str, str] | None = None) -> tuple[zipfile.ZipFile, str]:
    name, body = _wheel("tool", "1.0", files, modes, console_scripts)
    return zipfile.ZipFile(io.BytesIO(body)), name


def test_programs_found_in_a_wheel() -> None:
    z, name = _zip({
        "tool-1.0.data/scripts/tool": _echo("tool"),
        "tool-1.0.data/scripts/pyscript": "#!python\nimport tool\n",  # rewritten by pip; needs Python
        "tool-1.0.data/data/bin/tool-extra": _echo("extra"),
        "tool/data/bin/tool": _echo("same name as the script: the script wins"),
        "tool/data/bin/notes.txt": "no x bit",
        "tool/data/bin/sub/deeper": _echo("not directly in bin/"),
    }, modes={"tool/data/bin/notes.txt": 0o644})
    assert wheels.programs(z, name) == (
        "{data}/scripts/tool", "{data}/data/bin/tool-extra")


def test_program_paths_read_from_a_wheel_stay_inside_it() -> None:
    z, name = _zip({"../data/bin/evil": _echo("x")})
    with pytest.raises(ValueError, match="not a path inside"):
        wheels.programs(z, name)
