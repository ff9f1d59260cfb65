"""Garbage collection keeps every root (generations, pins, running shells)
and removes the rest, also while other devshell processes run."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.helpers import DEVSHELL, devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer


def _home() -> Path:
    return Path(os.environ["DEVSHELL_HOME"])


def _store() -> set[str]:
    return {p.name for p in (_home() / "store").iterdir()}


def _outputs(name: str) -> set[str]:
    return {n for n in _store() if n.endswith(name)}


def _project(tmp_path: Path, server: LoopbackServer, dirname: str, tool: str, version: str,
             extra: str = "") -> tuple[Path, str]:
    url, sha = serve_tool(server, tool, version, {f"bin/{tool}": script(f'echo "{tool} {version}"')})
    root = tmp_path / dirname
    line = url_tool(tool, version, url, {"x86_64-linux": sha})
    write_spec(root, line, extra=extra)
    return root, line


def _upgrade_hello(root: Path, server: LoopbackServer, line: str) -> None:
    url, sha = serve_tool(server, "hello", "2.0", {"bin/hello": script('echo "hello 2.0"')})
    spec = root / "devshell.toml"
    spec.write_text(spec.read_text().replace(line, url_tool("hello", "2.0", url, {"x86_64-linux": sha})))


def test_gc_keeps_roots_and_removes_the_rest(tmp_path: Path, server: LoopbackServer) -> None:
    root, line = _project(tmp_path, server, "proj", "hello", "1.0")
    devshell("install", cwd=root, check=True)
    _upgrade_hello(root, server, line)
    devshell("install", cwd=root, check=True)
    gone, _ = _project(tmp_path, server, "gone", "world", "1.0")
    devshell("install", cwd=gone, check=True)
    world = _outputs("-world-1.0")
    assert len(world) == 1
    shutil.rmtree(gone)

    before = _store()
    dry = devshell("gc", "--dry-run", cwd=tmp_path, check=True)
    assert "would remove" in dry.stdout and next(iter(world)) in dry.stdout
    assert _store() == before  # --dry-run deletes nothing

    proc = devshell("gc", cwd=tmp_path, check=True)
    assert "removed" in proc.stderr and "MB" in proc.stderr
    assert _outputs("-world-1.0") == set()
    assert len(_outputs("-hello-1.0")) == 1 and len(_outputs("-hello-2.0")) == 1  # both generations
    assert len(list((_home() / "cache" / "downloads").iterdir())) == 2
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 2.0\n"

    devshell("gc", "--keep", "1", cwd=tmp_path, check=True)
    assert _outputs("-hello-1.0") == set()
    assert len(_outputs("-hello-2.0")) == 1
    assert devshell("run", "--", "hello", cwd=root, check=True).stdout == "hello 2.0\n"


def test_pinned_outputs_survive(tmp_path: Path, server: LoopbackServer) -> None:
    root, line = _project(tmp_path, server, "proj", "hello", "1.0")
    devshell("store", "pin", "hello", cwd=root, check=True)
    _upgrade_hello(root, server, line)
    devshell("install", cwd=root, check=True)
    devshell("gc", "--keep", "1", cwd=tmp_path, check=True)
    assert len(_outputs("-hello-1.0")) == 1


def test_a_running_shell_keeps_its_outputs(tmp_path: Path, server: LoopbackServer) -> None:
    root, _ = _project(tmp_path, server, "proj", "hello", "1.0", extra='host-tools = ["sleep"]')
    devshell("install", cwd=root, check=True)
    env = dict(os.environ, DEVSHELL_PLATFORM="x86_64-linux")
    running = subprocess.Popen([DEVSHELL, "run", "--", "sleep", "30"], cwd=root, env=env)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until the exec'd sleep carries the profile
            try:
                if b"DEVSHELL_PROFILE" in Path(f"/proc/{running.pid}/environ").read_bytes():
                    break
            except OSError:
                pass
            time.sleep(0.05)
        shutil.rmtree(root)  # the project is gone: only the running process roots it
        devshell("gc", cwd=tmp_path, check=True)
        assert len(_outputs("-hello-1.0")) == 1
        assert any("-profile-" in n for n in _store())
    finally:
        running.kill()
        running.wait()
    devshell("gc", cwd=tmp_path, check=True)
    assert _outputs("-hello-1.0") == set()


def test_gc_while_four_runs_realise_loses_nothing(tmp_path: Path, server: LoopbackServer) -> None:
    roots = []
    for i in range(4):
        root, _ = _project(tmp_path, server, f"p{i}", f"tool{i}", "1.0")
        roots.append(root)
    env = dict(os.environ, DEVSHELL_PLATFORM="x86_64-linux")
    runs = [subprocess.Popen([DEVSHELL, "run", "--", f"tool{i}"], cwd=r, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i, r in enumerate(roots)]
    for _ in range(6):
        devshell("gc", "--keep", "1", cwd=tmp_path, check=True)
    results = [p.communicate(timeout=60) for p in runs]
    for i, (p, (out, err)) in enumerate(zip(runs, results, strict=True)):
        assert p.returncode == 0, err
        assert out == f"tool{i} 1.0\n"
    devshell("gc", cwd=tmp_path, check=True)
    for i, root in enumerate(roots):
        assert devshell("run", "--", f"tool{i}", cwd=root, env={"DEVSHELL_OFFLINE": "1"},
                        check=True).stdout == f"tool{i} 1.0\n"


def test_a_profile_name_from_outside_the_store_roots_nothing(tmp_path: Path) -> None:
    # DEVSHELL_PROFILE comes from any process's environment; "<store>/../x"
    # must not make gc read links outside the store.
    from devshell.home import Home
    from devshell.store import gcroots

    home = Home(_home())
    (home.root / "bin").mkdir(parents=True)
    (home.root / "bin" / "tool").symlink_to("../../" + "0" * 32 + "-kept-1.0/bin/tool")
    home.store.mkdir()
    assert gcroots.profile_outputs(home, "..") == set()


def test_gc_drops_the_bytecode_of_outputs_it_removes(tmp_path: Path, server: LoopbackServer) -> None:
    """Python environments keep their bytecode in cache/pycache, under each
    output's path: it goes with the output, and stays with a kept one."""
    root, _ = _project(tmp_path, server, "proj", "hello", "1.0")
    devshell("install", cwd=root, check=True)
    kept = next(iter(_outputs("-hello-1.0")))
    gone = "0" * 32 + "-old-1.0"
    pycache = _home() / "cache" / "pycache" / str(_home() / "store").lstrip("/")
    for name in (kept, gone):
        (pycache / name / "lib" / "__pycache__").mkdir(parents=True)
        (pycache / name / "lib" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"bytecode")
    proc = devshell("gc", cwd=root, check=True)
    assert not (pycache / gone).exists() and f"bytecode of {gone}" in proc.stdout
    assert (pycache / kept / "lib" / "__pycache__" / "m.cpython-311.pyc").exists()


def test_gc_tidies_the_root_files_of_shells_that_have_exited(tmp_path: Path, server: LoopbackServer) -> None:
    root, _ = _project(tmp_path, server, "proj", "hello", "1.0")
    devshell("install", cwd=root, check=True)
    shells = _home() / "roots" / "shells"
    shells.mkdir(parents=True, exist_ok=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    (shells / str(gone.pid)).write_text(str(_home() / "store" / "x-profile-gone") + "\n")
    (shells / str(os.getpid())).write_text(str(_home() / "store" / "x-profile-alive") + "\n")
    devshell("gc", "--dry-run", cwd=root, check=True)
    assert (shells / str(gone.pid)).exists()  # a dry run changes nothing
    devshell("gc", cwd=root, check=True)
    assert not (shells / str(gone.pid)).exists() and (shells / str(os.getpid())).exists()
