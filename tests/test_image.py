"""`devshell image`: OCI images of a project's shell, checked with independent
clients (skopeo inspects and copies them, umoci unpacks them) and run with
chroot on nothing but what the image holds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import devshell, script, serve_tool, url_tool, write_spec
from tests.loopback import LoopbackServer
from tests.registry import Registry, registry_fixture, skopeo_raw

pytestmark = pytest.mark.skipif(
    shutil.which("skopeo") is None or shutil.which("umoci") is None,
    reason="needs skopeo and umoci")

BOTH = '["x86_64-linux", "aarch64-linux"]'


def skopeo(*args: str) -> Any:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if args[0] == "inspect" else None


def hello_project(server: LoopbackServer, root: Path, platforms: str = BOTH) -> Path:
    """A project whose one tool, hello, is a script served for both platforms."""
    shas = {}
    for plat in json.loads(platforms):
        url, shas[plat] = serve_tool(server, "hello", "1.0", {"bin/hello": script(f"echo hello {plat}")},
                                     platform=plat)
    write_spec(root, url_tool("hello", "1.0", url, shas), platforms=platforms,
               extra='[env]\nGREETING = "hi from $DEVSHELL_ROOT"\n')
    return root


def image(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """`devshell image ARGS` in `root`; the digest it prints."""
    proc = devshell("image", *args, cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    digest = proc.stdout.strip()
    assert digest.startswith("sha256:"), proc.stdout
    return digest


def test_a_multi_platform_image_names_both_architectures(server: LoopbackServer, tmp_path: Path) -> None:
    root = hello_project(server, tmp_path / "proj")
    digest = image(root, "--output", "img", "--platform", "x86_64-linux", "--platform", "aarch64-linux")
    index = skopeo("inspect", "--raw", f"oci:{root / 'img'}:latest")
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert sorted(m["platform"]["architecture"] for m in index["manifests"]) == ["amd64", "arm64"]
    shown = json.loads((root / "img" / "index.json").read_text())
    assert shown["manifests"][0]["digest"] == digest
    arm = skopeo("inspect", "--override-arch", "arm64", f"oci:{root / 'img'}:latest")
    assert arm["Architecture"] == "arm64"
    env = dict(e.split("=", 1) for e in arm["Env"])
    assert env["PATH"].startswith("/opt/devshell/store/") and env["PATH"].endswith("/bin")
    assert env["GREETING"] == "hi from /workspace"
    assert arm["Labels"]["org.opencontainers.image.title"] == "proj"
    lock_hash = "sha256:" + __import__("hashlib").sha256((root / "devshell.lock").read_bytes()).hexdigest()
    assert arm["Labels"]["devshell.lock.sha256"] == lock_hash


# --- a shell of real programs: bash and cat with their libc, from a loopback Debian archive ---


def _host_platform() -> tuple[str, str]:
    plat, arch = {"x86_64": ("x86_64-linux", "amd64"),
                  "aarch64": ("aarch64-linux", "arm64")}.get(os.uname().machine, ("", ""))
    if not plat or not sys.platform.startswith("linux") or shutil.which("ldd") is None:
        pytest.skip("needs Linux on x86_64 or aarch64, with ldd")
    return plat, arch


def _libraries(program: str) -> dict[str, Path]:
    """soname → file of each library `program` loads (and its loader, by path)."""
    out = subprocess.run(["ldd", program], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        words = line.split()
        if "=>" in words and len(words) >= 3 and words[2].startswith("/"):
            found[words[0]] = Path(os.path.realpath(words[2]))
        elif words and words[0].startswith("/"):
            found[words[0]] = Path(os.path.realpath(words[0]))
    return found


@pytest.fixture(scope="module")
def bash_archive() -> Any:
    """A Debian archive on loopback serving this machine's own /bin/bash,
    /bin/cat and /usr/bin/env as packages, with their libraries and loader
    (libc6, libtinfo6)."""
    from tests.debian_archive import ArchiveServer, DebPackage, FakeArchive

    plat, arch = _host_platform()
    libs = {**_libraries("/bin/bash"), **_libraries("/bin/cat"), **_libraries("/usr/bin/env")}
    interp = next(name for name in libs if name.startswith("/"))
    libc = libs["libc.so.6"]
    triplet = libc.parent.name
    server = ArchiveServer().start()
    archive = FakeArchive(server, suite="testing-fake", archs=(arch,))
    archive.add(
        DebPackage("libc6", "2.36-9", arch=arch, priority="required",
                   files={f"lib/{triplet}/{Path(interp).name}": libs[interp].read_bytes(),
                          f"lib/{triplet}/libc.so.6": libc.read_bytes()},
                   symlinks={interp.lstrip("/"): f"/lib/{triplet}/{Path(interp).name}"}),
        DebPackage("libtinfo6", "6.4-4", arch=arch, depends="libc6 (>= 2.34)",
                   files={f"lib/{triplet}/{name}": path.read_bytes()
                          for name, path in libs.items() if name.startswith("libtinfo")}),
        DebPackage("bash", "5.2.15-2", arch=arch, depends="libtinfo6 (>= 6), libc6 (>= 2.34)",
                   files={"bin/bash": Path(os.path.realpath("/bin/bash")).read_bytes()}),
        DebPackage("minicore", "1.0-1", arch=arch, depends="libc6 (>= 2.34)",
                   files={"usr/bin/cat": Path(os.path.realpath("/bin/cat")).read_bytes(),
                          "usr/bin/env": Path(os.path.realpath("/usr/bin/env")).read_bytes()}),
    )
    archive.publish()
    yield plat, archive
    server.stop()


@pytest.fixture
def bash_project(bash_archive: Any, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A locked project pinning bash and cat from the archive; the environment
    the console script needs for it (no gpgv on PATH: the archive is unsigned)."""
    plat, archive = bash_archive
    root = tmp_path / "shell"
    root.mkdir()
    (root / "devshell.toml").write_text(
        f'[shell]\nname = "bashbox"\nplatforms = ["{plat}"]\n[sources.deb]\nsuite = "testing-fake"\n'
        '[tools]\n"deb:bash" = "latest"\n"deb:minicore" = "latest"\n')
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = {"DEVSHELL_DEB_ARCHIVE": archive.url, "DEVSHELL_PLATFORM": plat, "PATH": str(empty)}
    proc = devshell("lock", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    return root, env


def test_the_image_runs_its_pinned_bash_and_tools_under_chroot(
        bash_project: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = bash_project
    image(root, "--output", str(tmp_path / "img"), "--tag", "1.0", env=env)
    shown = skopeo("inspect", f"oci:{tmp_path / 'img'}:1.0")
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", *([] if os.geteuid() == 0 else ["--rootless"]),
                    "--image", f"{tmp_path / 'img'}:1.0", str(bundle)],
                   check=True, capture_output=True, timeout=120)
    rootfs = bundle / "rootfs"
    assert sorted(p.name for p in rootfs.iterdir()) == ["bin", "opt", "tmp", "usr", "workspace"]
    config = json.loads((bundle / "config.json").read_text())
    assert set(shown["Env"]) <= set(config["process"]["env"])  # umoci adds TERM
    argv = config["process"]["args"]
    assert argv[0].endswith("/bin/bash") and argv[0].startswith("/opt/devshell/store/")
    chroot_bin = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin")
    assert chroot_bin is not None
    # env -i: only the config's variables; chroot then finds programs on its PATH, inside.
    chroot = [chroot_bin, str(rootfs)]
    if os.geteuid() != 0:
        chroot = [shutil.which("unshare") or "unshare", "-r", *chroot]
    proc = subprocess.run(["env", "-i", *shown["Env"], *chroot, *argv, "-c",
                           'echo "$BASH_VERSION" > /tmp/said && cat /tmp/said && echo "$DEVSHELL_NAME"'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1] == "bashbox"
    assert proc.stdout.split(".")[0].isdigit()
    # By name, through the config's own PATH, as `docker run IMAGE cat …` would.
    proc = subprocess.run(["env", "-i", *shown["Env"], *chroot, "cat", "/tmp/said"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.split(".")[0].isdigit(), proc.stderr


def _unpacked(layout: Path, tag: str, bundle: Path) -> Path:
    subprocess.run(["umoci", "unpack", *([] if os.geteuid() == 0 else ["--rootless"]),
                    "--image", f"{layout}:{tag}", str(bundle)], check=True, capture_output=True, timeout=120)
    return bundle / "rootfs"


def test_scripts_that_start_with_usr_bin_env_or_call_bin_sh_run_in_the_image(
        bash_project: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    # Every npm tool starts `#!/usr/bin/env node`, and many scripts call
    # /bin/sh: as Nix's dockerTools.usrBinEnv and binSh give them, the image
    # links /usr/bin/env and /bin/sh to the shell's own env and sh (or bash).
    root, env = bash_project
    image(root, "--output", str(tmp_path / "img"), "--tag", "1.0", env=env)
    rootfs = _unpacked(tmp_path / "img", "1.0", tmp_path / "bundle")
    profile = next(p for p in (rootfs / "opt/devshell/store").iterdir() if "-profile-" in p.name)
    assert os.readlink(rootfs / "usr/bin/env") == f"/opt/devshell/store/{profile.name}/bin/env"
    assert os.readlink(rootfs / "bin/sh") == f"/opt/devshell/store/{profile.name}/bin/bash"
    tool = rootfs / "workspace" / "greet"
    tool.write_text("#!/usr/bin/env bash\necho \"greeted by $0 with ${BASH_VERSION%%.*}\"\n")
    tool.chmod(0o755)
    chroot_bin = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin")
    assert chroot_bin is not None
    chroot = [chroot_bin, str(rootfs)] if os.geteuid() == 0 else ["unshare", "-r", chroot_bin, str(rootfs)]
    shown = skopeo("inspect", f"oci:{tmp_path / 'img'}:1.0")
    proc = subprocess.run(["env", "-i", *shown["Env"], *chroot, "/workspace/greet"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("greeted by /workspace/greet with ") and proc.stdout.strip()[-1].isdigit()
    proc = subprocess.run(["env", "-i", *shown["Env"], *chroot, "/bin/sh", "-c", "cat /workspace/greet"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("#!/usr/bin/env bash"), proc.stderr


def test_an_image_without_env_or_sh_links_neither(server: LoopbackServer, tmp_path: Path) -> None:
    root = hello_project(server, tmp_path / "proj", platforms='["x86_64-linux"]')
    image(root, "--output", str(tmp_path / "img"), "--tag", "1.0", env={"DEVSHELL_PLATFORM": "x86_64-linux"})
    rootfs = _unpacked(tmp_path / "img", "1.0", tmp_path / "bundle")
    assert sorted(p.name for p in rootfs.iterdir()) == ["opt", "tmp", "workspace"]


def test_two_builds_from_scratch_give_the_same_digest(
        bash_project: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = bash_project
    first = image(root, "--locked", "--output", str(tmp_path / "a"),
                  env={**env, "DEVSHELL_HOME": str(tmp_path / "home-a")})
    # Another checkout, elsewhere, under another directory name.
    other = tmp_path / "elsewhere" / "teammate-clone"
    shutil.copytree(root, other)
    second = image(other, "--locked", "--output", str(tmp_path / "b"),
                   env={**env, "DEVSHELL_HOME": str(tmp_path / "home-b")})
    assert first == second
    assert sorted(os.listdir(tmp_path / "a" / "blobs" / "sha256")) == sorted(
        os.listdir(tmp_path / "b" / "blobs" / "sha256"))


def test_a_docker_archive_is_read_and_copied_by_skopeo(
        bash_project: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = bash_project
    image(root, "--format", "docker-archive", "--output", str(tmp_path / "img.tar"),
          "--tag", "team/bashbox:1.0", env=env)
    # skopeo finds the image by the tag the archive's manifest.json gives it.
    shown = skopeo("inspect", f"docker-archive:{tmp_path / 'img.tar'}:team/bashbox:1.0")
    assert len(shown["Layers"]) == 3  # bash (with libc6 and libtinfo6), minicore, the profile
    skopeo("copy", f"docker-archive:{tmp_path / 'img.tar'}", f"oci:{tmp_path / 'copy'}:1.0")
    copied = skopeo("inspect", f"oci:{tmp_path / 'copy'}:1.0")
    assert copied["Env"] == shown["Env"]


# --- refusals: each a clear error, with nothing written -------------------------


def test_a_platform_the_lock_cannot_give_is_refused(server: LoopbackServer, tmp_path: Path) -> None:
    root = hello_project(server, tmp_path / "proj", platforms='["x86_64-linux"]')
    for asked, why in (("sparc-linux", "it is not in shell.platforms"),
                       ("aarch64-linux", "it is not in shell.platforms"),
                       ("x86_64-darwin", "images are Linux images")):
        proc = devshell("image", "--output", "img", "--platform", asked, cwd=root)
        assert proc.returncode == 2, proc.stderr
        assert f"cannot build an image for {asked!r}: {why}" in proc.stderr
        assert "x86_64-linux" in proc.stderr  # what it can build for
        assert "Traceback" not in proc.stderr
    assert not (root / "img").exists()
    assert not (root / "devshell.lock").exists()  # refused before locking


def test_a_stale_lock_in_ci_is_refused_and_nothing_is_written(server: LoopbackServer, tmp_path: Path) -> None:
    root = hello_project(server, tmp_path / "proj", platforms='["x86_64-linux"]')
    devshell("lock", cwd=root, check=True)
    spec = root / "devshell.toml"
    spec.write_text(spec.read_text().replace('version = "1.0"', 'version = "1.1"'))
    proc = devshell("image", "--output", "img", cwd=root, env={"CI": "true"})
    assert proc.returncode == 4, proc.stderr
    assert "out of date" in proc.stderr and "devshell lock" in proc.stderr
    assert not (root / "img").exists()
    assert sorted(p.name for p in root.iterdir()) == ["devshell.lock", "devshell.toml"]


def test_an_output_that_is_a_file_is_refused_and_left_alone(server: LoopbackServer, tmp_path: Path) -> None:
    root = hello_project(server, tmp_path / "proj", platforms='["x86_64-linux"]')
    (root / "img").write_text("mine\n")
    proc = devshell("image", "--output", "img", cwd=root)
    assert proc.returncode == 2, proc.stderr
    assert "exists and is not a directory" in proc.stderr
    assert (root / "img").read_text() == "mine\n"
    (root / "notes").mkdir()
    (root / "notes" / "todo").write_text("keep\n")
    proc = devshell("image", "--output", "notes", cwd=root)
    assert proc.returncode == 2 and "did not write" in proc.stderr, proc.stderr
    assert (root / "notes" / "todo").read_text() == "keep\n"
    # Another tool's layout (skopeo's, holding an image of its own) is not replaced either.
    image(root, "--output", "theirs")
    index = root / "theirs" / "index.json"
    index.write_text(index.read_text().replace('"dev.devshell.written-by":"devshell image"', '"x":"y"'))
    before = index.read_bytes()
    proc = devshell("image", "--output", "theirs", cwd=root)
    assert proc.returncode == 2 and "did not write" in proc.stderr, proc.stderr
    assert index.read_bytes() == before
    assert not [p for p in root.iterdir() if p.name.startswith(".")]


def test_a_docker_archive_of_two_platforms_is_refused(server: LoopbackServer, tmp_path: Path) -> None:
    root = hello_project(server, tmp_path / "proj")
    proc = devshell("image", "--format", "docker-archive", "--output", "img.tar",
                    "--platform", "x86_64-linux", "--platform", "aarch64-linux", cwd=root)
    assert proc.returncode == 2, proc.stderr
    assert "one platform" in proc.stderr and "--format oci" in proc.stderr
    assert not (root / "img.tar").exists()


def test_an_image_is_replaced_whole_and_a_second_build_reuses_the_store(
        server: LoopbackServer, tmp_path: Path) -> None:
    root = hello_project(server, tmp_path / "proj", platforms='["x86_64-linux"]')
    first = image(root, "--output", "img")
    served = dict(server.hits)
    spec = root / "devshell.toml"
    spec.write_text(spec.read_text().replace("hi from", "hello from"))
    second = image(root, "--output", "img")
    assert first != second
    assert dict(server.hits) == served  # nothing fetched again: the image store kept the output
    entry = json.loads((root / "img" / "index.json").read_text())["manifests"]
    assert entry[0]["digest"] == second
    assert list(_sbom_referrers(root / "img")) == [second]  # the image and its SBOM, nothing of the first
    shown = skopeo("inspect", f"oci:{root / 'img'}:latest")
    assert "GREETING=hello from /workspace" in shown["Env"]
    assert not [p for p in root.iterdir() if p.name.startswith(".")]


def test_a_foreign_python_that_compiles_itself_is_refused_before_any_download(
        server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The vendor's CPython compiles its standard library with its own
    interpreter as it is stored: that cannot run for another architecture,
    and leaving it out would store other bytes than its name stands for."""
    from tests.debian_archive import ArchiveServer, FakeArchive
    from tests.pbs_mirror import PbsMirror, fake_build

    here = {"x86_64": "x86_64-linux", "aarch64": "aarch64-linux"}.get(os.uname().machine)
    if here is None:
        pytest.skip("needs an x86_64 or aarch64 machine")
    other = "aarch64-linux" if here == "x86_64-linux" else "x86_64-linux"
    mirror = PbsMirror(server)
    mirror.configure()
    mirror.release("20241206", {"3.13.1": fake_build("3.13.1")})
    debian = ArchiveServer().start()
    try:
        archive = FakeArchive(debian, archs=("amd64", "arm64"))
        archive.publish()
        monkeypatch.setenv("DEVSHELL_DEB_ARCHIVE", archive.url)
        (tmp_path / "no-gpgv").mkdir()
        monkeypatch.setenv("PATH", str(tmp_path / "no-gpgv"))
        root = tmp_path / "proj"
        root.mkdir()
        (root / "devshell.toml").write_text(
            f'[shell]\nplatforms = {BOTH}\n[sources.deb]\nsuite = "testing-fake"\n'
            'updates = false\nsecurity = false\n[tools]\npython = "3.13"\n')
        devshell("lock", cwd=root, check=True)
        before = dict(server.hits)
        proc = devshell("image", "--output", "img", "--platform", other, cwd=root)
    finally:
        debian.stop()
    assert proc.returncode == 6, proc.stderr
    assert f"cannot build the {other} image on this {here} machine" in proc.stderr
    assert "python 3.13.1" in proc.stderr and "compiles its own standard library" in proc.stderr
    assert f"on a {other} machine" in proc.stderr
    assert dict(server.hits) == before
    assert not (root / "img").exists()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    yield from registry_fixture(tmp_path / "registry")


def test_an_image_is_pushed_to_a_registry(server: LoopbackServer, tmp_path: Path,
                                          registry: Registry) -> None:
    root = hello_project(server, tmp_path / "proj")
    target = f"{registry.host}/team/hello:1.0"
    digest = image(root, "--push", target, "--output", "img",
                   "--platform", "x86_64-linux", "--platform", "aarch64-linux")
    index = skopeo_raw(target)
    assert sorted(m["platform"]["architecture"] for m in index["manifests"]) == ["amd64", "arm64"]
    served = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{target}"],
                            capture_output=True, text=True, check=True).stdout
    assert json.loads(served)["Digest"] == digest
    assert json.loads((root / "img" / "index.json").read_text())["manifests"][0]["digest"] == digest
    bad = devshell("image", "--push", "team/hello:1.0", cwd=root)
    assert bad.returncode == 2 and "registry host" in bad.stderr, bad.stderr


def _sbom_referrers(layout: Path) -> dict[str, dict[str, Any]]:
    """subject digest → the SBOM artifact manifest the layout lists for it."""
    found = {}
    for entry in json.loads((layout / "index.json").read_text())["manifests"][1:]:
        assert entry["artifactType"] == "application/vnd.cyclonedx+json"
        manifest = json.loads((layout / "blobs" / "sha256" / entry["digest"].split(":")[1]).read_bytes())
        found[manifest["subject"]["digest"]] = manifest
    return found


def test_each_platforms_image_carries_the_locks_sbom_as_a_referrer(
        server: LoopbackServer, tmp_path: Path, registry: Registry) -> None:
    root = hello_project(server, tmp_path / "proj")
    target = f"{registry.host}/team/hello:1.0"
    image(root, "--output", "img", "--push", target, "--platform", "x86_64-linux", "--platform", "aarch64-linux")
    index = skopeo("inspect", "--raw", f"oci:{root / 'img'}:latest")
    referrers = _sbom_referrers(root / "img")
    assert set(referrers) == {m["digest"] for m in index["manifests"]}
    for child in index["manifests"]:
        manifest = referrers[child["digest"]]
        assert manifest["artifactType"] == "application/vnd.cyclonedx+json"
        assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
        (layer,) = manifest["layers"]
        document = (root / "img" / "blobs" / "sha256" / layer["digest"].split(":")[1]).read_text()
        plat = {"amd64": "x86_64-linux", "arm64": "aarch64-linux"}[child["platform"]["architecture"]]
        printed = devshell("sbom", "--platform", plat, cwd=root, check=True).stdout
        assert document == printed  # the very SBOM `devshell sbom` prints for that platform
        assert any(c["name"] == "hello" for c in json.loads(document)["components"])
        # The registry holds it too, by digest, next to the image it describes.
        repo = target.rsplit(":", 1)[0]
        pushed = skopeo_raw(f"{repo}@{_digest_of(root / 'img', child['digest'])}")
        assert pushed["subject"]["digest"] == child["digest"]


def _digest_of(layout: Path, subject: str) -> str:
    for entry in json.loads((layout / "index.json").read_text())["manifests"][1:]:
        manifest = json.loads((layout / "blobs" / "sha256" / entry["digest"].split(":")[1]).read_bytes())
        if manifest["subject"]["digest"] == subject:
            return str(entry["digest"])
    raise AssertionError(f"no referrer of {subject}")


def test_gc_images_frees_the_image_store_and_a_later_build_makes_it_again(
        server: LoopbackServer, tmp_path: Path) -> None:
    root = hello_project(server, tmp_path / "proj", platforms='["x86_64-linux"]')
    first = image(root, "--output", "img")
    images = Path(os.environ["DEVSHELL_HOME"]) / "images"
    assert (images / "store").is_dir() and (images / "layers").is_dir()
    dry = devshell("gc", "--images", "--dry-run", cwd=root, check=True)
    assert "would remove the image store" in dry.stdout and (images / "store").is_dir()
    done = devshell("gc", "--images", cwd=root, check=True)
    assert "removed the image store" in done.stdout
    assert not (images / "store").exists() and not (images / "layers").exists()
    assert (root / "img" / "index.json").is_file()  # images already written are the user's, never touched
    assert image(root, "--output", "img2") == first
