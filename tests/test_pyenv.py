"""Python tools as environments on the spec's python, against a loopback
index of real wheels the tests build (pure and platform-specific, with
dependencies and markers) and a `python` tool that runs the host's CPython.

The lock records every wheel of each platform's closure, chosen by pip's
resolver for that platform; realising installs exactly those, offline once
they are cached, and the tool's script runs in a pure shell."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devshell import integrity
from devshell.python import layout, targets
from tests.helpers import devshell, sha256, tarball, url_tool, write_spec
from tests.loopback import LoopbackServer
from tests.pypi_index import FakeIndex, pywheel

ALL4 = '["x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"]'
HOST_PYTHON = Path("/usr/bin/python3")

CLI = '''
import sys

import fastdep
import helper

import mytool


def main():
    try:
        import macdep  # only darwin's closure has it
        mac = "with macdep"
    except ImportError:
        mac = "without macdep"
    print(f"mytool {mytool.VERSION} helper {helper.VERSION} fastdep {fastdep.VERSION} {mac}")
    print(f"prefix={sys.prefix}")
    print(f"executable={sys.executable}")
'''


def _host_release() -> tuple[int, int, int]:
    if not HOST_PYTHON.exists():
        pytest.skip(f"{HOST_PYTHON} is needed to run the environments' scripts")
    out = subprocess.run([str(HOST_PYTHON), "-c", "import sys; print(*sys.version_info[:3])"],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), int(out[1]), int(out[2])


class World:
    """The index, the python tool's spec line, and helpers to build a project."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.index = FakeIndex(server)
        self.release = _host_release()
        self.version = ".".join(map(str, self.release))
        self.abi = f"cp{self.release[0]}{self.release[1]}"
        self.bodies: dict[str, bytes] = {}
        self.python_line = self.python_tool()

    def python_tool(self, extra: str = "") -> str:
        """`python`, a url tool whose bin/python3 runs the host's CPython under
        the name it was started by, as a relocated interpreter would be found."""
        real = os.path.realpath(HOST_PYTHON)
        body = tarball({"bin/python3": f'#!/bin/bash\nexec -a "$0" {real} "$@"\n', "README": extra},
                       top=f"python-{self.version}")
        shas = {}
        for plat in ("x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"):
            self.server.add(f"/python{extra}-{self.version}-{plat}.tar.gz", body)
            shas[plat] = sha256(body)
        url = f"{self.server.url}/python{extra}-{{version}}-{{platform}}.tar.gz"
        return url_tool("python", self.version, url, shas, bin='["bin/python3"]')

    def add(self, project: str, wheel: tuple[str, bytes], yanked: bool = False) -> None:
        self.bodies[wheel[0]] = wheel[1]
        self.index.add(project, *wheel, yanked=yanked)

    def mytool(self, version: str = "1.0.0") -> None:
        self.add("mytool", pywheel(
            "mytool", version,
            requires=("helper>=1", "fastdep", 'macdep; sys_platform == "darwin"',
                      'oldpy; python_version < "3.0"'),
            scripts={"mytool": "mytool.cli:main"},
            modules={"mytool/__init__.py": f"VERSION = {version!r}\n", "mytool/cli.py": CLI}))

    def closure(self) -> None:
        self.add("helper", pywheel("helper", "0.9"))
        self.add("helper", pywheel("helper", "1.2"))
        self.add("macdep", pywheel("macdep", "1.0"))
        self.add("oldpy", pywheel("oldpy", "1.0"))
        # Compiled-looking wheels: one for Linux x86_64 on this Python, one for
        # Apple silicon; aarch64 Linux only past the glibc floor, Intel macOS none.
        self.add("fastdep", pywheel("fastdep", "3.0", tag=f"{self.abi}-{self.abi}-manylinux_2_17_x86_64.manylinux2014_x86_64"))
        self.add("fastdep", pywheel("fastdep", "3.0", tag="py3-none-macosx_11_0_arm64"))
        self.add("fastdep", pywheel("fastdep", "3.0", tag=f"{self.abi}-{self.abi}-manylinux_2_31_aarch64"))
        self.add("fastdep", pywheel("fastdep", "3.0", tag=f"{self.abi}-{self.abi}-musllinux_1_2_x86_64"))

    def project(self, tmp_path: Path, tools: str, platforms: str = '["x86_64-linux"]',
                name: str = "proj") -> Path:
        """The tools, then python: a tool is locked after what it runs on
        whatever the spec's order."""
        return write_spec(tmp_path / name, tools + self.python_line, platforms=platforms).parent

    def env(self) -> dict[str, str]:
        return {"PIP_INDEX_URL": self.index.url()}

    def sri(self, filename: str) -> str:
        return integrity.sri("sha256", hashlib.sha256(self.bodies[filename]).digest())


@pytest.fixture
def world(server: LoopbackServer) -> World:
    w = World(server)
    w.mytool()
    w.closure()
    return w


def _lock(root: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((root / "devshell.lock").read_text())["tools"]
    return data


def _home() -> Path:
    return Path(os.environ["DEVSHELL_HOME"])


def test_lock_records_each_platforms_closure_with_hashes(tmp_path: Path, world: World) -> None:
    root = world.project(tmp_path, '"pypi:mytool" = "1"\n', platforms=ALL4)
    proc = devshell("lock", cwd=root, env=world.env(), check=True)
    tools = _lock(root)
    tool, python = tools["mytool"], tools["python"]
    assert isinstance(tool, dict) and isinstance(python, dict)
    assert tool["version"] == "1.0.0" and tool["needs"] == ["python"]
    plats = tool["platforms"]
    linux = plats["x86_64-linux"]
    assert linux["url"] == "pypi:mytool/mytool-1.0.0-py3-none-any.whl"
    assert linux["integrity"] == world.sri("mytool-1.0.0-py3-none-any.whl")
    assert linux["unpack"] == {"format": "pyenv", "strip": 0}
    assert linux["bin"] == ["bin/mytool"]
    fast = f"fastdep-3.0-{world.abi}-{world.abi}-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    assert linux["closure"] == [
        {"name": "fastdep", "version": "3.0", "url": f"pypi:fastdep/{fast}",
         "integrity": world.sri(fast), "size": len(world.bodies[fast])},
        {"name": "helper", "version": "1.2", "url": "pypi:helper/helper-1.2-py3-none-any.whl",
         "integrity": world.sri("helper-1.2-py3-none-any.whl"),
         "size": len(world.bodies["helper-1.2-py3-none-any.whl"])},
    ]
    # Markers are evaluated for each platform: only macOS takes macdep, and
    # no platform takes oldpy (python_version < "3.0").
    mac = plats["aarch64-darwin"]
    assert [p["url"] for p in mac["closure"]] == [
        "pypi:fastdep/fastdep-3.0-py3-none-macosx_11_0_arm64.whl",
        "pypi:helper/helper-1.2-py3-none-any.whl",
        "pypi:macdep/macdep-1.0-py3-none-any.whl",
    ]
    # No wheel at or under the glibc floor for aarch64 Linux, none for Intel macOS.
    short = f"{world.release[0]}.{world.release[1]}"
    for plat in ("aarch64-linux", "x86_64-darwin"):
        assert plats[plat] == {"unavailable": f"fastdep (which mytool 1.0.0 needs) has no wheel "
                                              f"for {plat} on Python {short}"}
    assert "nothing for aarch64-linux" in proc.stderr
    # The interpreter is part of each environment's name.
    for plat in ("x86_64-linux", "aarch64-darwin"):
        py = python["platforms"][plat]
        assert plats[plat]["fixups"] == [
            "pyenv-1", f"python+{py['output']}", "python-bin+bin+python3",
            f"python-version+{world.version}"]
    assert "127.0.0.1" not in json.dumps(tool)
    text = (root / "devshell.lock").read_text()
    # Locking again changes nothing, byte for byte.
    devshell("lock", "--update", cwd=root, env=world.env(), check=True)
    assert (root / "devshell.lock").read_text() == text


def test_the_script_runs_in_a_pure_shell_and_realises_offline(tmp_path: Path, world: World) -> None:
    root = world.project(tmp_path, '"pypi:mytool" = "1.0"\n')
    leak = tmp_path / "leak"
    leak.mkdir()
    (leak / "helper.py").write_text('VERSION = "from the host"\n')
    env = {**world.env(), "PYTHONPATH": str(leak)}
    proc = devshell("run", "--", "mytool", cwd=root, env=env, check=True)
    out = devshell("store", "path", "mytool", cwd=root, env=world.env(), check=True).stdout.strip()
    python_out = devshell("store", "path", "python", cwd=root, env=world.env(), check=True).stdout.strip()
    assert proc.stdout.splitlines() == [
        "mytool 1.0.0 helper 1.2 fastdep 3.0 without macdep",
        f"prefix={out}",
        f"executable={out}/bin/python3",
    ]
    assert os.readlink(f"{out}/bin/python3") == f"{python_out}/bin/python3"
    assert Path(out, "pyvenv.cfg").read_text().startswith(f"home = {python_out}/bin\n")
    # Only the tool's own script is on PATH: the venv's pythons are not.
    shown = json.loads(devshell("env", "--format", "json", cwd=root, env=world.env(), check=True).stdout)
    profile = Path(shown["DEVSHELL_PROFILE"])
    assert sorted(os.listdir(profile / "bin")) == ["mytool", "python3"]
    assert os.path.realpath(profile / "bin" / "python3") == os.path.realpath(f"{python_out}/bin/python3")
    # Running wrote no bytecode into the store (it goes to devshell's cache).
    assert not [d for d, _, _ in os.walk(out) if d.endswith("__pycache__")]
    assert devshell("verify", "--all", cwd=root, env=world.env()).returncode == 0
    # Offline, with the index gone: the store rebuilt from the download cache.
    world.server.stop()
    for entry in (_home() / "store").iterdir():
        subprocess.run(["chmod", "-R", "u+w", str(entry)], check=True)
        shutil.rmtree(entry)
    shutil.rmtree(_home() / "meta")
    again = devshell("run", "--", "mytool", cwd=root, env={**world.env(), "DEVSHELL_OFFLINE": "1"},
                     check=True)
    assert again.stdout == proc.stdout


def test_a_project_with_no_console_scripts_is_one_clear_line(tmp_path: Path, world: World) -> None:
    world.add("libonly", pywheel("libonly", "1.0"))
    root = world.project(tmp_path, "")
    before = (root / "devshell.toml").read_text()
    proc = devshell("add", "pypi:libonly", cwd=root, env=world.env())
    assert proc.returncode == 3, proc.stderr
    assert "libonly 1.0 has no console scripts" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (root / "devshell.toml").read_text() == before
    assert not (root / "devshell.lock").exists()


def test_a_yanked_release_is_one_clear_line(tmp_path: Path, world: World) -> None:
    world.add("mytool", pywheel("mytool", "2.0.0", scripts={"mytool": "mytool:main"}), yanked=True)
    root = world.project(tmp_path, '"pypi:mytool" = "2.0.0"\n')
    proc = devshell("lock", cwd=root, env=world.env())
    assert proc.returncode == 3
    assert "mytool 2.0.0 was yanked from the Python package index" in proc.stderr
    assert "the newest is 1.0.0" in proc.stderr
    assert not (root / "devshell.lock").exists()
    # A range skips it silently, as pip does.
    (root / "devshell.toml").write_text((root / "devshell.toml").read_text().replace('"2.0.0"', '">=1"'))
    devshell("lock", cwd=root, env=world.env(), check=True)
    assert _lock(root)["mytool"]["version"] == "1.0.0"  # type: ignore[index]


def test_no_wheel_for_this_machine_is_a_clear_error(tmp_path: Path, world: World) -> None:
    world.add("maconly", pywheel("maconly", "1.0", scripts={"maconly": "maconly:main"},
                                 requires=("fastdep",), tag="py3-none-any"))
    world.index.files["fastdep"] = [f for f in world.index.files["fastdep"]
                                    if "manylinux_2_17" not in str(f["filename"])]
    world.index.publish("fastdep")
    root = world.project(tmp_path, '"pypi:maconly" = "1"\n', platforms=ALL4)
    proc = devshell("lock", cwd=root, env=world.env())
    assert proc.returncode == 3, proc.stderr
    assert ("maconly 1.0 cannot be installed on this machine (x86_64-linux): fastdep (which "
            "maconly 1.0 needs) has no wheel for x86_64-linux") in proc.stderr
    assert not (root / "devshell.lock").exists()


def test_a_python_tool_needs_a_pinned_python(tmp_path: Path, world: World) -> None:
    root = write_spec(tmp_path / "proj", '"pypi:mytool" = "1"\n').parent
    proc = devshell("lock", cwd=root, env=world.env())
    assert proc.returncode == 3
    assert "the spec pins no python" in proc.stderr and "devshell add python" in proc.stderr
    assert not (root / "devshell.lock").exists()


def test_add_update_and_a_new_python_relock_the_environment(tmp_path: Path, world: World) -> None:
    root = world.project(tmp_path, "")
    devshell("add", "pypi:mytool@1", cwd=root, env=world.env(), check=True)
    assert '"pypi:mytool" = "1"' in (root / "devshell.toml").read_text()
    world.mytool("1.1.0")
    devshell("lock", cwd=root, env=world.env(), check=True)
    assert _lock(root)["mytool"]["version"] == "1.0.0"  # type: ignore[index]
    proc = devshell("lock", "--update", "mytool", cwd=root, env=world.env(), check=True)
    assert "mytool: 1.0.0 → 1.1.0" in proc.stderr
    # Another python (the same release, other bytes): the environment is
    # locked again on it though its own entry did not change.
    spec = root / "devshell.toml"
    spec.write_text(spec.read_text().replace(world.python_line, world.python_tool(extra="-other")))
    devshell("lock", cwd=root, env=world.env(), check=True)
    tools = _lock(root)
    python_out = tools["python"]["platforms"]["x86_64-linux"]["output"]  # type: ignore[index]
    assert f"python+{python_out}" in tools["mytool"]["platforms"]["x86_64-linux"]["fixups"]  # type: ignore[index]
    assert devshell("run", "--", "mytool", cwd=root, env=world.env(), check=True).stdout.startswith(
        "mytool 1.1.0 ")


def test_gc_keeps_the_python_a_kept_environment_runs_on(tmp_path: Path, world: World) -> None:
    root = world.project(tmp_path, '"pypi:mytool" = "1"\n')
    devshell("install", cwd=root, env=world.env(), check=True)
    out = devshell("store", "path", "mytool", cwd=root, env=world.env(), check=True).stdout.strip()
    python_out = devshell("store", "path", "python", cwd=root, env=world.env(), check=True).stdout.strip()
    devshell("store", "pin", "mytool", cwd=root, env=world.env(), check=True)
    shutil.rmtree(root)  # the project is gone: only the pin roots anything
    devshell("gc", cwd=tmp_path, check=True)
    assert Path(out).is_dir() and Path(python_out).is_dir()
    ran = subprocess.run([f"{out}/bin/mytool"], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin"})
    assert ran.stdout.startswith("mytool 1.0.0 helper 1.2")


def test_a_hostile_wheel_in_the_closure_keeps_nothing(tmp_path: Path, world: World) -> None:
    name, body = pywheel("evil", "1.0", modules={"../../escape.py": "x = 1\n"})
    world.add("evil", (name, body))
    world.add("victim", pywheel("victim", "1.0", requires=("evil",), scripts={"victim": "victim:main"}))
    root = world.project(tmp_path, '"pypi:victim" = "1"\n')
    devshell("lock", cwd=root, env=world.env(), check=True)
    proc = devshell("install", cwd=root, env=world.env())
    assert proc.returncode == 6, proc.stderr
    assert "evil-1.0-py3-none-any.whl" in proc.stderr and "Traceback" not in proc.stderr
    store = _home() / "store"
    assert not [p for p in store.iterdir() if p.name.endswith("-victim-1.0")]
    assert not list(tmp_path.rglob("escape.py"))


def test_a_wheel_whose_record_lies_about_a_file_keeps_nothing(tmp_path: Path, world: World) -> None:
    world.add("liar", pywheel("liar", "1.0", modules={"liar/__init__.py": "x = 1\n"},
                              lying=("liar/__init__.py",)))
    world.add("trusting", pywheel("trusting", "1.0", requires=("liar",), scripts={"trusting": "liar:main"}))
    root = world.project(tmp_path, '"pypi:trusting" = "1"\n')
    devshell("lock", cwd=root, env=world.env(), check=True)
    proc = devshell("install", cwd=root, env=world.env())
    assert proc.returncode == 6, proc.stderr
    assert "liar-1.0-py3-none-any.whl" in proc.stderr and "liar/__init__.py" in proc.stderr
    assert "RECORD" in proc.stderr and "Traceback" not in proc.stderr
    assert not [p for p in (_home() / "store").iterdir() if p.name.endswith("-trusting-1.0")]


def test_targets_are_the_floor_not_this_machine() -> None:
    linux = targets.target("x86_64-linux", (3, 13, 1))
    assert linux is not None
    assert linux.platform_tags[0] == "manylinux_2_28_x86_64"
    assert {"manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"} <= set(linux.platform_tags)
    assert not [t for t in linux.platform_tags if "musllinux" in t or t == "manylinux_2_29_x86_64"]
    lowered = targets.target("x86_64-linux", (3, 13, 1), glibc=(2, 17))
    assert lowered is not None and lowered.platform_tags[0] == "manylinux_2_17_x86_64"
    arm = targets.target("aarch64-linux", (3, 13, 1))
    assert arm is not None and "manylinux1_aarch64" not in arm.platform_tags
    mac = targets.target("aarch64-darwin", (3, 13, 1))
    assert mac is not None and mac.platform_tags[:2] == ("macosx_11_0_arm64", "macosx_11_0_universal2")
    assert mac.markers()["platform_machine"] == "arm64" and mac.markers()["sys_platform"] == "darwin"
    assert mac.markers()["python_version"] == "3.13" and mac.abi == "cp313"
    assert targets.python_version("3.11.2-6+deb12u6") == (3, 11, 2)
    assert targets.python_version("3.14") == (3, 14, 0)
    assert targets.python_version("latest") is None


def test_an_environment_names_its_interpreter_in_its_fixups() -> None:
    python = layout.Interpreter("a" * 32 + "-python-3.13.1", "usr/bin/python3.13", (3, 13, 1))
    assert layout.interpreter(layout.fixups(python)) == python
    with pytest.raises(ValueError, match="pyenv-1"):
        layout.interpreter(("python+" + python.output,))
    with pytest.raises(ValueError, match="not a path inside"):
        layout.interpreter(("pyenv-1", "python+" + python.output, "python-bin+..+etc",
                            "python-version+3.13.1"))


def test_pip_is_the_resolver_and_ignores_the_machines_pip_config(
        tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pip.conf's extra index or find-links cannot put a file in the lock
    that the index does not list."""
    links = tmp_path / "links"
    links.mkdir()
    name, body = pywheel("helper", "9.0")
    (links / name).write_bytes(body)
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nfind-links = {links}\nextra-index-url = http://127.0.0.1:1/nowhere/\n")
    root = world.project(tmp_path, '"pypi:mytool" = "1"\n')
    devshell("lock", cwd=root, env={**world.env(), "PIP_CONFIG_FILE": str(conf),
                                    "PIP_FIND_LINKS": str(links)}, check=True)
    closure = _lock(root)["mytool"]["platforms"]["x86_64-linux"]["closure"]  # type: ignore[index]
    assert [p["version"] for p in closure if p["name"] == "helper"] == ["1.2"]
    assert sys.executable  # pip runs on devshell's own interpreter


def test_a_python_source_may_name_its_interpreter_behind_a_launcher(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A venv is found by the name its interpreter starts under, so an
    environment links the interpreter itself, not a launcher that execs it:
    a python tool's source says where it is when its programs are launchers."""
    from devshell import sources
    from devshell.lock import Artifact, LockedTool
    from devshell.python import envlock

    launcher = Artifact(url="https://127.0.0.1/py.tgz", integrity="sha256-" + "A" * 43 + "=", size=None,
                        format="tar.gz", strip=1, bin=("python3=launch/python3.13",), env=(),
                        output="a" * 32 + "-python-3.13.1")
    python = LockedTool(name="python", constraint="3.13", source="fakepy", version="3.13.1", inputs="",
                        platforms=(("x86_64-linux", launcher),))

    class Plain:
        pass

    class Launching:
        def interpreter(self, artifact: Artifact) -> str:
            return "bin/python3.13"

    monkeypatch.setattr(sources, "get", lambda name: Plain())
    assert envlock.program(python, launcher) == "launch/python3.13"
    monkeypatch.setattr(sources, "get", lambda name: Launching())
    assert envlock.program(python, launcher) == "bin/python3.13"
