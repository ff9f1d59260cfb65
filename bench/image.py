"""Benchmark `devshell image`: how long an OCI image of a typical shell takes.

The shell is offline and real: this machine's own bash, coreutils and git
(with git-core's helpers) packaged as .debs with the libraries they load and
their loader, served by a loopback Debian archive (tests/debian_archive.py),
locked as `deb:` tools. Timed, each in a fresh $DEVSHELL_HOME:

* `devshell install --locked`: the project's own store (for reference);
* the first `devshell image` after it: the lock realised again for
  /opt/devshell in the image store (downloads come from the shared cache),
  every layer written;
* the next `devshell image` into a new directory: built from the realised
  image store, layers linked from the layer cache (the figure DESIGN.md's
  "under a second for a typical shell" is about);
* the same as a docker-archive (one tar written whole).

    .venv/bin/python bench/image.py [--rounds N]

devshell runs from the venv running the script, else from the bench venv (a
non-editable install, see bench/common.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, WORK, bench_env, check, ensure_venv, secs, wipe

sys.path.insert(0, str(REPO))
from tests.debian_archive import ArchiveServer, DebPackage, FakeArchive


def _package_files(name: str) -> list[Path]:
    out = subprocess.run(["dpkg", "-L", name], capture_output=True, text=True, check=True).stdout
    return [Path(p) for p in out.splitlines() if Path(p).is_file() and not Path(p).is_symlink()
            and p.startswith(("/bin/", "/usr/bin/", "/usr/lib/git-core/"))]


def _libraries(programs: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for program in programs:
        proc = subprocess.run(["ldd", str(program)], capture_output=True, text=True, check=False)
        for line in proc.stdout.splitlines():
            words = line.split()
            if "=>" in words and len(words) >= 3 and words[2].startswith("/"):
                found[words[0]] = Path(os.path.realpath(words[2]))
            elif words and words[0].startswith("/"):
                found[words[0]] = Path(os.path.realpath(words[0]))
    return found


def _archive(server: ArchiveServer) -> tuple[FakeArchive, int]:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
    files = {name: _package_files(name) for name in ("bash", "coreutils", "git")}
    libs = _libraries([p for paths in files.values() for p in paths])
    interp = next(name for name in libs if name.startswith("/"))
    triplet = libs["libc.so.6"].parent.name
    archive = FakeArchive(server, suite="bench-fake", archs=(arch,))
    size = 0
    lib_files = {f"lib/{triplet}/{Path(name).name if name.startswith('/') else name}": path.read_bytes()
                 for name, path in libs.items()}
    size += sum(len(b) for b in lib_files.values())
    archive.add(DebPackage("libc6", "2.36-9", arch=arch, priority="required", files=lib_files,  # type: ignore[arg-type]
                           symlinks={interp.lstrip("/"): f"/lib/{triplet}/{Path(interp).name}"}))
    for name, paths in files.items():
        content = {str(p).lstrip("/"): p.read_bytes() for p in paths}
        size += sum(len(b) for b in content.values())
        archive.add(DebPackage(name, "1.0-1", arch=arch, depends="libc6 (>= 2.34)", files=content))  # type: ignore[arg-type]
    archive.publish()
    return archive, size


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    check(cmd, cwd=cwd, env=env)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("dpkg") is None or shutil.which("ldd") is None:
        print("bench: needs dpkg and ldd (a Debian-like machine)", file=sys.stderr)
        return 1
    # The running venv's devshell when there is one (the bench venv needs pip
    # to reach an index), else the bench venv's.
    beside = Path(sys.executable).with_name("devshell")
    devshell = beside if beside.is_file() else ensure_venv()
    server = ArchiveServer().start()
    try:
        archive, size = _archive(server)
        work = Path(tempfile.mkdtemp(prefix="image-", dir=WORK))
        proj = work / "proj"
        proj.mkdir()
        plat = {"x86_64": "x86_64-linux", "aarch64": "aarch64-linux"}[platform.machine()]
        (proj / "devshell.toml").write_text(
            f'[shell]\nname = "bench"\nplatforms = ["{plat}"]\n[sources.deb]\nsuite = "bench-fake"\n'
            'updates = false\nsecurity = false\n[tools]\n'
            '"deb:bash" = "latest"\n"deb:coreutils" = "latest"\n"deb:git" = "latest"\n')
        empty = work / "no-gpgv"
        empty.mkdir()
        base = bench_env(DEVSHELL_DEB_ARCHIVE=archive.url, PATH=f"{empty}")
        check([str(devshell), "lock"], cwd=proj, env={**base, "DEVSHELL_HOME": str(work / "lock-home")})
        times: dict[str, list[float]] = {}
        for i in range(args.rounds):
            home = work / f"home-{i}"
            env = {**base, "DEVSHELL_HOME": str(home)}
            check([str(devshell), "trust"], cwd=proj, env=env)  # git's GIT_EXEC_PATH
            rounds = [
                ("install --locked (the project's store)", [str(devshell), "install", "--locked"]),
                ("image, first (image store + layers)", [str(devshell), "image", "--locked", "-o", str(work / f"a{i}")]),
                ("image, from a realised image store", [str(devshell), "image", "--locked", "-o", str(work / f"b{i}")]),
                ("image, again into the same layout", [str(devshell), "image", "--locked", "-o", str(work / f"b{i}")]),
                ("image --format docker-archive", [str(devshell), "image", "--locked", "--format",
                                                   "docker-archive", "-o", str(work / f"c{i}.tar")]),
            ]
            for label, cmd in rounds:
                times.setdefault(label, []).append(_timed(cmd, proj, env))
        blobs = work / "b0" / "blobs" / "sha256"
        image_size = sum(p.stat().st_size for p in blobs.iterdir())
        print(f"devshell image bench: bash, coreutils, git from a loopback archive ({size / 2**20:.1f} MiB "
              f"of programs and libraries), image {image_size / 2**20:.1f} MiB in "
              f"{len(list(blobs.iterdir()))} blobs; rounds {args.rounds}; {os.cpu_count()} CPUs; "
              f"python {platform.python_version()}")
        for label, values in times.items():
            print(f"  {label:.<44} {secs(statistics.median(values))}   "
                  f"(min {secs(min(values))}, max {secs(max(values))})")
        wipe(work)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
