"""url tools pin "latest" and prefixes by the vendor's own index, read
through [mirrors] from loopback sites laid out as the vendors lay theirs out:
never by writing "latest" into a URL."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import devshell, write_spec
from tests.loopback import LoopbackServer
from tests.url_vendor_mirrors import Hashicorp, Helm, Kubernetes


def _configure(*sites: Hashicorp | Kubernetes | Helm) -> None:
    table: dict[str, str] = {}
    for site in sites:
        table |= site.mirrors()
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "devshell" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[mirrors]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in table.items()))


def _lock(tmp_path: Path, tools: str) -> tuple[Path, dict[str, dict[str, object]]]:
    root = tmp_path / "proj"
    write_spec(root, tools)
    devshell("lock", cwd=root, check=True)
    return root, json.loads((root / "devshell.lock").read_text())["tools"]


def test_terraform_latest_is_the_newest_stable_release_of_its_index(
        tmp_path: Path, server: LoopbackServer) -> None:
    site = Hashicorp(server)
    for version in ("1.8.5", "1.9.5", "1.10.0-alpha20240606"):
        site.release(version)
    _configure(site)
    root, tools = _lock(tmp_path, 'terraform = "latest"\n')
    assert tools["terraform"]["version"] == "1.9.5" and tools["terraform"]["constraint"] == "latest"
    assert tools["terraform"]["platforms"]["x86_64-linux"]["url"].endswith(  # type: ignore[index]
        "/terraform/1.9.5/terraform_1.9.5_linux_amd64.zip")
    # The lock names the vendor's URL, as the catalogue does, never the mirror it came through.
    from devshell import catalog

    vendor = catalog.get("terraform").package.split("{version}")[0]  # type: ignore[union-attr]
    assert tools["terraform"]["platforms"]["x86_64-linux"]["url"].startswith(vendor)  # type: ignore[index]
    assert server.url not in (root / "devshell.lock").read_text()
    assert not [p for p in site.requested() if "latest" in p]
    said = devshell("run", "--", "terraform", "version", cwd=root, check=True).stdout
    assert said == "Terraform v1.9.5\n"


def test_terraform_prefix_takes_the_newest_of_that_series(tmp_path: Path, server: LoopbackServer) -> None:
    site = Hashicorp(server)
    for version in ("1.8.4", "1.8.5", "1.9.5"):
        site.release(version)
    _configure(site)
    _, tools = _lock(tmp_path, 'terraform = "1.8"\n')
    assert tools["terraform"]["version"] == "1.8.5"


def test_a_version_the_index_lacks_is_one_clear_error(tmp_path: Path, server: LoopbackServer) -> None:
    site = Hashicorp(server)
    site.release("1.9.5")
    _configure(site)
    root = tmp_path / "proj"
    write_spec(root, 'terraform = "2"\n')
    proc = devshell("lock", cwd=root)
    assert proc.returncode == 3, proc.stderr
    first, *rest = proc.stderr.splitlines()
    assert first.startswith("devshell: error: tools.terraform: no version of terraform's index")
    assert "'2'" in first and rest[0].startswith("  hint: the newest it has is 1.9.5")
    assert not (root / "devshell.lock").exists()


def test_kubectl_latest_reads_stable_txt_and_a_minor_its_own(tmp_path: Path, server: LoopbackServer) -> None:
    site = Kubernetes(server)
    site.release("1.30.6", stable=("stable-1.30.txt",))
    site.release("1.31.2", stable=("stable.txt", "stable-1.31.txt"))
    _configure(site)
    root, tools = _lock(tmp_path, 'kubectl = "latest"\n')
    assert tools["kubectl"]["version"] == "1.31.2"
    assert devshell("run", "--", "kubectl", cwd=root, check=True).stdout == "Client Version: v1.31.2\n"
    (root / "devshell.toml").write_text('[shell]\nplatforms = ["x86_64-linux"]\n[tools]\nkubectl = "1.30"\n')
    devshell("lock", cwd=root, check=True)
    assert json.loads((root / "devshell.lock").read_text())["tools"]["kubectl"]["version"] == "1.30.6"


def test_an_exact_kubectl_reads_no_index(tmp_path: Path, server: LoopbackServer) -> None:
    site = Kubernetes(server)
    site.release("1.30.6")
    _configure(site)
    _, tools = _lock(tmp_path, 'kubectl = "1.30.6"\n')
    assert tools["kubectl"]["version"] == "1.30.6"
    assert not [p for p in site.requested() if p.endswith(".txt")]


def test_helm_latest_reads_its_latest_version_file_and_refuses_a_prefix(
        tmp_path: Path, server: LoopbackServer) -> None:
    site = Helm(server)
    site.release("3.15.4", latest=False)
    site.release("3.16.2")
    _configure(site)
    root, tools = _lock(tmp_path, 'helm = "latest"\n')
    assert tools["helm"]["version"] == "3.16.2"
    (root / "devshell.toml").write_text('[shell]\nplatforms = ["x86_64-linux"]\n[tools]\nhelm = "3.15"\n')
    proc = devshell("lock", cwd=root)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("devshell: error: tools.helm: '3.15': helm's vendor names only its newest")
    assert "\n  hint: " in proc.stderr and "Traceback" not in proc.stderr


def test_a_mirror_serving_other_bytes_than_the_sha256sums_writes_nothing(
        tmp_path: Path, server: LoopbackServer) -> None:
    site = Hashicorp(server)
    site.release("1.9.5", tamper=True)
    _configure(site)
    root = tmp_path / "proj"
    write_spec(root, "")
    devshell("lock", cwd=root, check=True)
    before = (root / "devshell.toml").read_bytes(), (root / "devshell.lock").read_bytes()
    proc = devshell("add", "terraform@latest", cwd=root)
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr.startswith("devshell: error: ") and "\n  hint: " in proc.stderr
    assert "Traceback" not in proc.stderr
    assert ((root / "devshell.toml").read_bytes(), (root / "devshell.lock").read_bytes()) == before


def test_an_exact_terraform_reads_no_index_and_locks_as_before(tmp_path: Path, server: LoopbackServer) -> None:
    """An exact pin needs no index: a mirror of the downloads alone serves it."""
    site = Hashicorp(server)
    site.release("1.9.5")
    del server.routes[site.prefix + "terraform/index.json"]
    _configure(site)
    _, tools = _lock(tmp_path, 'terraform = "1.9.5"\n')
    assert tools["terraform"]["version"] == tools["terraform"]["constraint"] == "1.9.5"
    assert site.prefix + "terraform/index.json" not in site.requested()
